"""The processes the image and a developer start: gunicorn with todo.gunicorn_conf, python -m todo.

They run as subprocesses on loopback only, with the database pointed at a closed local port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus

import pytest

APP_DIR = Path(__file__).resolve().parent.parent
KEY = "cXV4+dXV4/eA==y"
GUNICORN = [sys.executable, "-m", "gunicorn", "--config", "python:todo.gunicorn_conf"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DB", "PORT")}
    return subprocess.run(
        args, cwd=APP_DIR, env={**base, **env}, capture_output=True, text=True, timeout=30
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def get(url: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ([sys.executable, "-m", "todo"], 2),
        ([sys.executable, "-c", "import todo.wsgi"], 3),  # gunicorn's "worker failed to boot"
        ([*GUNICORN, "todo.wsgi:app"], 2),
    ],
)
def test_a_bad_db_stops_each_entry_point_with_one_line(args: list[str], status: int) -> None:
    result = run(args, {"DB": f"mongodb://acct:{KEY}@host:10255/todo", "PORT": "8080"})
    assert result.returncode == status
    [line] = result.stderr.splitlines()
    assert line.startswith("todo: configuration error: DB")
    assert KEY not in result.stderr + result.stdout


def test_a_bad_port_stops_gunicorn_with_one_line() -> None:
    result = run([*GUNICORN, "todo.wsgi:app"], {"DB": "mongodb://localhost/todo", "PORT": "80a"})
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("todo: configuration error: PORT")
    assert "'80a'" in line


def test_gunicorn_serves_on_port_and_reports_the_database_down(closed_port: int) -> None:
    port = free_port()
    db = f"mongodb://acct:{quote_plus(KEY)}@127.0.0.1:{closed_port}/todo?retrywrites=false"
    base = {k: v for k, v in os.environ.items() if k not in ("DB", "PORT")}
    server = subprocess.Popen(
        [*GUNICORN, "todo.wsgi:app"],
        cwd=APP_DIR,
        env={**base, "DB": db, "PORT": str(port), "POD_NAME": "web-abc", "NODE_NAME": "node-1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                assert get(f"http://127.0.0.1:{port}/livez") == (200, {"status": "alive"})
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, "gunicorn exited"
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=10) as response:
            assert response.headers["X-Served-By"] == "pod=web-abc; node=node-1"
        start = time.monotonic()
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        assert time.monotonic() - start < 8  # the 5 s server selection timeout, not a hang
        assert status == 503
        assert body["reason"] == "The database is unreachable (ServerSelectionTimeoutError)"
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=30)
    # On every interface (ACI reaches the container on its public IP), on PORT.
    assert f"0.0.0.0:{port}" in stderr
    assert f"Using database 'todo' on 127.0.0.1:{closed_port}" in stderr
    # The access log has the request and its status.
    assert any("GET /healthz" in line and " 503 " in line for line in stdout.splitlines())
    assert KEY not in stdout + stderr
    assert quote_plus(KEY) not in stdout + stderr
