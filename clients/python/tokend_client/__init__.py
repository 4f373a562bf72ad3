"""Python client for tokend, generated from proto/ with grpcio-tools.

The generated messages and stubs live in :mod:`tokend_client.v1`
(``token_pb2``, ``token_pb2_grpc``, ``app_pb2``, ...). This package adds a
channel factory that sends the API key and helpers that read the
``google.rpc.ErrorInfo`` every tokend error carries::

    from tokend_client import TokendClient, error_reason
    from tokend_client.v1 import errors_pb2, token_pb2

    with TokendClient("127.0.0.1:7443", api_key=key) as c:
        try:
            c.tokens.IssueToken(token_pb2.IssueTokenRequest(app_id=app, subject="alice"))
        except grpc.RpcError as err:
            if error_reason(err) == errors_pb2.ERROR_REASON_APP_NOT_FOUND: ...
"""

from .client import TokendClient
from .errors import ERROR_DOMAIN, error_info, error_reason

__all__ = ["ERROR_DOMAIN", "TokendClient", "error_info", "error_reason"]
