"""The adversarial token corpus (testdata/adversarial/corpus.json) through the
generated Python client: every row must get the same answer here as from the
Go server test, token.Validator and the TypeScript client. The server is the
real server package on the seeded fixture with the fixture's clock
(bin/adversarial-server, built by `make test-python`)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any, Iterator, Optional

import grpc
import pytest
from google.protobuf.internal import encoder

from tokend_client import ERROR_DOMAIN, TokendClient, error_info
from tokend_client.v1 import token_pb2

REPO_ROOT = Path(__file__).resolve().parents[3]
ADVERSARIAL_DIR = Path(os.environ.get("TOKEND_ADVERSARIAL_DIR", REPO_ROOT / "testdata" / "adversarial"))
CORPUS = json.loads((ADVERSARIAL_DIR / "corpus.json").read_text(encoding="utf-8"))
ROWS = [pytest.param(row, id=row["name"]) for row in CORPUS["rows"]]
VALIDATE = "/{}/{}".format(
    token_pb2.DESCRIPTOR.services_by_name["TokenService"].full_name,
    token_pb2.DESCRIPTOR.services_by_name["TokenService"].methods_by_name["ValidateToken"].name,
)


@pytest.fixture(scope="module")
def adv_client(adversarial_server: Any) -> Iterator[TokendClient]:
    with TokendClient(adversarial_server.grpc_addr, api_key=adversarial_server.admin_key) as c:
        yield c


def _string_field(number: int, value: bytes) -> bytes:
    """A length-delimited field as protobuf encodes a string."""
    return encoder.TagBytes(number, 2) + encoder._VarintBytes(len(value)) + value


def _validate_raw(server: Any, row: dict, token: bytes) -> token_pb2.ValidateTokenResponse:
    """A Python str field cannot hold bytes that are not UTF-8 (the generated
    message refuses them), so such a token goes out as hand-encoded request
    bytes on the same method: the same bytes on the wire."""
    body = _string_field(1, token)
    for number, key in ((2, "audience"), (3, "app_id")):
        if row.get(key):
            body += _string_field(number, row[key].encode())
    with grpc.insecure_channel(server.grpc_addr) as channel:
        call = channel.unary_unary(VALIDATE, request_serializer=lambda b: b,
                                   response_deserializer=token_pb2.ValidateTokenResponse.FromString)
        return call(body, metadata=(("authorization", f"Bearer {server.admin_key}"),), timeout=10)


def _describe(w: dict) -> str:
    if w.get("error"):
        return f"error {w['error']['code']}/{w['error']['reason']}"
    return "valid" if w.get("valid") else f"invalid {w.get('reason')}"


def _agree(got: dict, want: dict) -> bool:
    if want.get("error") or got.get("error"):
        return want.get("error") == got.get("error")
    if want.get("valid"):
        return bool(got.get("valid")) and all(not want.get(k) or got.get(k) == want[k] for k in ("subject", "key_id"))
    return not got.get("valid") and got.get("reason") == want.get("reason")


def test_corpus_has_rows() -> None:
    assert len(CORPUS["rows"]) > 50


@pytest.mark.parametrize("row", ROWS)
def test_adversarial_row(adversarial_server: Any, adv_client: TokendClient, row: dict) -> None:
    got: dict
    try:
        if "token_base64" in row:
            v = _validate_raw(adversarial_server, row, base64.b64decode(row["token_base64"]))
        else:
            v = adv_client.tokens.ValidateToken(token_pb2.ValidateTokenRequest(
                token=row.get("token", ""), audience=row.get("audience", ""), app_id=row.get("app_id", "")))
        if v.valid:
            got = {"valid": True, "subject": v.claims.subject, "key_id": v.key_id}
        else:
            got = {"valid": False, "reason": token_pb2.InvalidReason.Name(v.reason).removeprefix("INVALID_REASON_")}
    except grpc.RpcError as err:
        info: Optional[object] = error_info(err)
        assert info is not None and info.domain == ERROR_DOMAIN, f"error without a tokend ErrorInfo: {err}"
        got = {"valid": False, "error": {"code": err.code().name, "reason": info.reason}}
    assert _agree(got, row["want"]), f"got {_describe(got)}, want {_describe(row['want'])}"
