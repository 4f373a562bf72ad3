"""Fixtures: the real tokend binary on 127.0.0.1 and a client of it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tokend_client import TokendClient
from tokend_client.v1 import app_pb2

REPO_ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_SECONDS = 20


@dataclass
class Tokend:
    grpc_addr: str
    http_addr: str
    admin_key: str


def _binary() -> Path:
    path = Path(os.environ.get("TOKEND_BIN", REPO_ROOT / "bin" / "tokend"))
    if not path.exists():
        pytest.fail(f"tokend binary not found at {path}: run 'make build' (or set TOKEND_BIN)")
    return path


@contextlib.contextmanager
def _serve(argv: list[str], prefix: str) -> Iterator[Tokend]:
    """Runs a server binary with a temp data dir (appended to argv) and an admin
    key, waits for its "tokend serving" line, and stops it on exit."""
    admin_key = "tkd_" + secrets.token_hex(24)
    # The server must not pick up a developer's own TOKEND_* settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKEND_")}
    env["TOKEND_ADMIN_KEY"] = admin_key
    with tempfile.TemporaryDirectory(prefix=prefix) as data_dir:
        proc = subprocess.Popen(
            [*argv, "--data-dir", data_dir],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            addrs = _wait_serving(proc)
            yield Tokend(grpc_addr=addrs["grpc"], http_addr=addrs["http"], admin_key=admin_key)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def tokend() -> Iterator[Tokend]:
    """Runs `tokend serve` with free ports, an admin key and a temp data dir."""
    with _serve([str(_binary()), "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"], "tokend-py-") as t:
        yield t


def _wait_serving(proc: subprocess.Popen) -> dict:
    """Reads stderr until the "tokend serving" JSON line; keeps draining it after."""
    found: dict = {}
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if not ready.is_set():
                lines.append(line.rstrip())
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("msg") == "tokend serving" and entry.get("grpc") and entry.get("http"):
                    found.update(grpc=entry["grpc"], http=entry["http"])
                    ready.set()
        ready.set()  # EOF: the process is gone

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(START_TIMEOUT_SECONDS) or not found:
        proc.kill()
        pytest.fail("tokend did not start:\n" + "\n".join(lines))
    return found


@pytest.fixture(scope="session")
def client(tokend: Tokend) -> Iterator[TokendClient]:
    with TokendClient(tokend.grpc_addr, api_key=tokend.admin_key) as c:
        yield c


@pytest.fixture(scope="session")
def app_id(client: TokendClient) -> str:
    created = client.apps.CreateApp(app_pb2.CreateAppRequest(name="py-interop", description="Python interop test"))
    assert created.app.app_id
    assert "-----BEGIN PRIVATE KEY-----" in created.private_key_pem
    return created.app.app_id


ADVERSARIAL_DIR = Path(os.environ.get("TOKEND_ADVERSARIAL_DIR", REPO_ROOT / "testdata" / "adversarial"))


@pytest.fixture(scope="session")
def adversarial_server() -> Iterator[Tokend]:
    """Runs the adversarial-corpus fixture server: the real server package on a
    data dir seeded with testdata/adversarial/fixture.json, its clock at the
    fixture's "now" (bin/adversarial-server, built by `make test-python`)."""
    path = Path(os.environ.get("ADVERSARIAL_SERVER_BIN", REPO_ROOT / "bin" / "adversarial-server"))
    if not path.exists():
        pytest.fail(f"adversarial-server not found at {path}: run 'make adversarial-server' (or set ADVERSARIAL_SERVER_BIN)")
    with _serve([str(path), "--corpus", str(ADVERSARIAL_DIR)], "tokend-py-adv-") as t:
        yield t
