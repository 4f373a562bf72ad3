"""A tokend client: one gRPC channel, the three service stubs, the API key."""

from __future__ import annotations

from typing import Any, Callable, Optional

import grpc

from .v1 import app_pb2_grpc, caller_pb2_grpc, token_pb2_grpc

DEFAULT_TIMEOUT_SECONDS = 10.0


class _Metadata(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds the authorization header and a default deadline to every call."""

    def __init__(self, api_key: Optional[str], timeout: Optional[float]) -> None:
        self._auth = (("authorization", f"Bearer {api_key}"),) if api_key else ()
        self._timeout = timeout

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _CallDetails(
            method=details.method,
            timeout=details.timeout if details.timeout is not None else self._timeout,
            metadata=tuple(details.metadata or ()) + self._auth,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
            compression=details.compression,
        )

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(details), request)


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, *, method, timeout, metadata, credentials, wait_for_ready, compression):  # noqa: ANN001
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression


class TokendClient:
    """Connects to tokend over gRPC.

    ``target`` is host:port. Without ``credentials`` the channel is plaintext
    (a local or sidecar deployment); pass ``grpc.ssl_channel_credentials(...)``
    for TLS or mTLS. ``api_key`` is sent as ``authorization: Bearer <key>``.
    Every call gets ``timeout`` seconds unless it sets its own.
    """

    def __init__(
        self,
        target: str,
        *,
        api_key: Optional[str] = None,
        credentials: Optional[grpc.ChannelCredentials] = None,
        timeout: Optional[float] = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        channel = grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
        self._channel = channel
        intercepted = grpc.intercept_channel(channel, _Metadata(api_key, timeout))
        self.tokens = token_pb2_grpc.TokenServiceStub(intercepted)
        self.apps = app_pb2_grpc.AppServiceStub(intercepted)
        self.callers = caller_pb2_grpc.CallerServiceStub(intercepted)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "TokendClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
