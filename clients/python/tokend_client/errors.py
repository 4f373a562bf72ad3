"""Reading the google.rpc.ErrorInfo of tokend errors.

Every error tokend returns carries, in the ``grpc-status-details-bin``
trailer, a ``google.rpc.Status`` whose details hold a ``google.rpc.ErrorInfo``
with domain ``"tokend"`` and a stable reason: the name of an ``ErrorReason``
value without its ``ERROR_REASON_`` prefix (``"APP_NOT_FOUND"``).
"""

from __future__ import annotations

from typing import Optional

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from .v1 import errors_pb2

ERROR_DOMAIN = "tokend"


def error_info(err: grpc.RpcError) -> Optional[error_details_pb2.ErrorInfo]:
    """Returns the tokend ErrorInfo of a failed call, or None when it has none."""
    if not isinstance(err, grpc.Call):
        return None
    status = rpc_status.from_call(err)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == ERROR_DOMAIN:
                return info
    return None


def error_reason(err: grpc.RpcError) -> int:
    """Returns the ErrorReason of a failed call (an ``errors_pb2.ErrorReason`` value).

    ERROR_REASON_UNSPECIFIED when the error has no tokend ErrorInfo or a
    reason newer than this generated code.
    """
    info = error_info(err)
    if info is None:
        return errors_pb2.ERROR_REASON_UNSPECIFIED
    try:
        return errors_pb2.ErrorReason.Value("ERROR_REASON_" + info.reason)
    except ValueError:
        return errors_pb2.ERROR_REASON_UNSPECIFIED
