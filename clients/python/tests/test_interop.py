"""Interop test: the generated Python client against the real tokend binary,
over gRPC; tokens verified independently with PyJWT from the HTTP JWKS.
Run with `make test-python` (builds bin/tokend first)."""

from __future__ import annotations

import base64
import json

import grpc
import jwt
import pytest
from google.protobuf import duration_pb2

from tokend_client import ERROR_DOMAIN, TokendClient, error_info, error_reason
from tokend_client.v1 import errors_pb2, token_pb2

TTL_SECONDS = 900


def _b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _b64url_encode(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _alter_claims(jws: str) -> str:
    header, payload, signature = jws.split(".")
    claims = json.loads(_b64url_decode(payload))
    claims["sub"] = "mallory"
    return ".".join([header, _b64url_encode(json.dumps(claims).encode()), signature])


def _alter_signature(jws: str) -> str:
    header, payload, signature = jws.split(".")
    sig = bytearray(_b64url_decode(signature))
    sig[len(sig) // 2] ^= 0x01
    return ".".join([header, payload, _b64url_encode(bytes(sig))])


TAMPERINGS = [pytest.param(_alter_claims, id="claims-altered"), pytest.param(_alter_signature, id="signature-altered")]


def _issue(client: TokendClient, app_id: str, **kw) -> token_pb2.IssueTokenResponse:
    return client.tokens.IssueToken(token_pb2.IssueTokenRequest(app_id=app_id, **kw))


def test_issue_then_validate(client: TokendClient, app_id: str) -> None:
    req = token_pb2.IssueTokenRequest(
        app_id=app_id, subject="alice", ttl=duration_pb2.Duration(seconds=TTL_SECONDS), audience=["api"]
    )
    req.claims.update({"plan": "pro"})
    issued = client.tokens.IssueToken(req)
    assert len(issued.access_token.split(".")) == 3
    assert issued.token_id and issued.key_id

    v = client.tokens.ValidateToken(token_pb2.ValidateTokenRequest(token=issued.access_token, audience="api", app_id=app_id))
    assert v.valid, f"{token_pb2.InvalidReason.Name(v.reason)}: {v.detail}"
    assert v.reason == token_pb2.INVALID_REASON_UNSPECIFIED
    assert v.key_id == issued.key_id
    assert v.claims.subject == "alice"
    assert v.claims.app_id == app_id
    assert list(v.claims.audience) == ["api"]
    assert v.claims.token_id == issued.token_id
    assert dict(v.claims.extra) == {"plan": "pro"}
    assert v.claims.expires_at.seconds - v.claims.issued_at.seconds == TTL_SECONDS


@pytest.mark.parametrize("tamper", TAMPERINGS)
def test_validate_tampered_token_is_an_answer(client: TokendClient, app_id: str, tamper) -> None:
    issued = _issue(client, app_id, subject="alice")
    v = client.tokens.ValidateToken(token_pb2.ValidateTokenRequest(token=tamper(issued.access_token)))
    assert not v.valid
    assert token_pb2.InvalidReason.Name(v.reason) == "INVALID_REASON_BAD_SIGNATURE"
    assert not v.HasField("claims")


def test_refresh_rotates_and_detects_reuse(client: TokendClient, app_id: str) -> None:
    issued = _issue(client, app_id, subject="bob", issue_refresh_token=True)
    assert issued.refresh_token

    refreshed = client.tokens.RefreshToken(token_pb2.RefreshTokenRequest(refresh_token=issued.refresh_token))
    assert refreshed.access_token and refreshed.refresh_token
    assert refreshed.refresh_token != issued.refresh_token
    assert refreshed.token_id != issued.token_id
    v = client.tokens.ValidateToken(token_pb2.ValidateTokenRequest(token=refreshed.access_token))
    assert v.valid
    assert v.claims.subject == "bob"

    # Presenting the rotated-out token again is reuse.
    with pytest.raises(grpc.RpcError) as exc:
        client.tokens.RefreshToken(token_pb2.RefreshTokenRequest(refresh_token=issued.refresh_token))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(exc.value) == errors_pb2.ERROR_REASON_REFRESH_TOKEN_REUSED


def _issue_with_unknown_key(grpc_addr: str, app_id: str) -> None:
    with TokendClient(grpc_addr, api_key="tkd_not-a-real-key-0000000000") as stranger:
        stranger.tokens.IssueToken(token_pb2.IssueTokenRequest(app_id=app_id, subject="alice"))


ERROR_CASES = [
    pytest.param(
        lambda c, app_id, _: c.tokens.IssueToken(token_pb2.IssueTokenRequest(app_id="app_doesnotexist", subject="alice")),
        grpc.StatusCode.NOT_FOUND,
        errors_pb2.ERROR_REASON_APP_NOT_FOUND,
        id="issue-unknown-app",
    ),
    pytest.param(
        lambda c, app_id, _: c.tokens.IssueToken(
            token_pb2.IssueTokenRequest(app_id=app_id, subject="alice", ttl=duration_pb2.Duration(seconds=60))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        errors_pb2.ERROR_REASON_TTL_OUT_OF_RANGE,
        id="issue-ttl-under-10-minutes",
    ),
    pytest.param(
        lambda c, app_id, _: c.tokens.ValidateToken(token_pb2.ValidateTokenRequest(token="")),
        grpc.StatusCode.INVALID_ARGUMENT,
        errors_pb2.ERROR_REASON_TOKEN_EMPTY,
        id="validate-empty-token",
    ),
    pytest.param(
        lambda c, app_id, server: _issue_with_unknown_key(server.grpc_addr, app_id),
        grpc.StatusCode.UNAUTHENTICATED,
        errors_pb2.ERROR_REASON_CREDENTIALS_INVALID,
        id="unknown-api-key",
    ),
]


@pytest.mark.parametrize("call,code,reason", ERROR_CASES)
def test_error_info_reason(client: TokendClient, app_id: str, tokend, call, code, reason) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        call(client, app_id, tokend)
    err = exc.value
    assert err.code() == code
    info = error_info(err)
    assert info is not None, "the error carries a google.rpc.ErrorInfo"
    assert info.domain == ERROR_DOMAIN
    assert "ERROR_REASON_" + info.reason == errors_pb2.ErrorReason.Name(reason)
    assert error_reason(err) == reason


def test_pyjwt_verifies_from_http_jwks(client: TokendClient, app_id: str, tokend) -> None:
    issued = _issue(client, app_id, subject="carol", audience=["api"], ttl=duration_pb2.Duration(seconds=TTL_SECONDS))
    v = client.tokens.ValidateToken(token_pb2.ValidateTokenRequest(token=issued.access_token))
    assert v.valid

    jwks = jwt.PyJWKClient(f"http://{tokend.http_addr}/v1/apps/{app_id}/jwks.json")
    key = jwks.get_signing_key_from_jwt(issued.access_token)
    assert key.key_id == issued.key_id
    claims = jwt.decode(
        issued.access_token,
        key,
        algorithms=["ES256"],
        audience="api",
        issuer=v.claims.issuer,
        options={"require": ["iss", "sub", "aid", "iat", "nbf", "exp", "jti"]},
    )
    assert jwt.get_unverified_header(issued.access_token)["typ"] == "JWT"
    assert claims["sub"] == "carol"
    assert claims["aid"] == app_id
    assert claims["jti"] == issued.token_id
    assert claims["exp"] - claims["iat"] == TTL_SECONDS

    for tamper in (_alter_claims, _alter_signature):
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(tamper(issued.access_token), key, algorithms=["ES256"], audience="api")
