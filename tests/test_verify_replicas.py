"""verify's check that an ACI replica's public IP answers nobody but the entry point.

Against loopback servers: the real app under gunicorn serving mutual TLS (the harness of
tests/test_replica_mtls.py), a plain HTTP server, a TLS server that asks no client certificate
and a closed port; then the whole check in a burst world whose ACI replica is one of them.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from replica_certs import issue, make_ca, write_tls_dir
from test_replica_mtls import Replica
from verify_world import BURST_PODS, burst, run

from core.app_contract import TLS_DIR_VARIABLE
from specs.replica_tls import REPLICA_SERVER
from verify.replica_checks import plain_http, tls_without_certificate

TIMEOUTS = (3.0, 3.0)
TITLE = "replicas answer only the entry point"


@pytest.fixture
def mutual_tls_replica(tmp_path: Path) -> Iterator[Replica]:
    ca = make_ca()
    replica = Replica(tmp_path, write_tls_dir(tmp_path / "tls", issue(ca, REPLICA_SERVER), ca))
    try:
        yield replica
    finally:
        replica.stop()


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@contextlib.contextmanager
def _open_server(tmp_path: Path, *, tls: bool) -> Iterator[int]:
    """A server that answers anyone: in plain HTTP, or over TLS without asking a certificate."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    if tls:
        ca = make_ca()
        folder = write_tls_dir(tmp_path / "open-tls", issue(ca, REPLICA_SERVER), ca)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "tls.crt", folder / "tls.key")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_app_serving_mutual_tls_gives_a_stranger_no_answer(
    mutual_tls_replica: Replica,
) -> None:
    plain = plain_http("127.0.0.1", mutual_tls_replica.port, TIMEOUTS)
    assert plain.answer is None
    assert plain.refused in ("closed without an answer", "connection reset")
    stranger = tls_without_certificate("127.0.0.1", mutual_tls_replica.port, TIMEOUTS)
    assert stranger.answer is None
    assert stranger.refused == "TLS: TLSV13_ALERT_CERTIFICATE_REQUIRED"


def test_a_plain_server_and_a_tls_server_without_client_check_are_seen_answering(
    tmp_path: Path,
) -> None:
    with _open_server(tmp_path, tls=False) as port:
        assert (plain_http("127.0.0.1", port, TIMEOUTS).answer or "").startswith("HTTP/1.0 200")
    with _open_server(tmp_path, tls=True) as port:
        seen = tls_without_certificate("127.0.0.1", port, TIMEOUTS)
        assert (seen.answer or "").startswith("HTTP/1.0 200")


def test_a_closed_port_is_no_answer() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        assert plain_http("127.0.0.1", port, TIMEOUTS).refused == "connection refused"


def _world_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "world"
    folder.mkdir()
    return folder


def _burst_with_aci_replica_at(port: int, *, mutual_tls: bool = True) -> Any:
    world = burst()
    aci_name = BURST_PODS[2][0]
    [aci_pod] = [p for p in world.cluster.pods if p["metadata"]["name"] == aci_name]
    aci_pod["status"]["podIP"] = "127.0.0.1"
    container: dict[str, Any] = {
        "name": "web",
        "image": "image",
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
    }
    if mutual_tls:
        container["env"] = [{"name": TLS_DIR_VARIABLE, "value": "/run/secrets/todo-tls"}]
    aci_pod["spec"]["containers"] = [container]
    return world


def test_verify_passes_when_the_aci_replica_refuses_strangers_and_the_entry_point_serves(
    tmp_path: Path, mutual_tls_replica: Replica
) -> None:
    outcome = run(_burst_with_aci_replica_at(mutual_tls_replica.port), _world_folder(tmp_path))
    line = outcome.line(TITLE)
    assert line.startswith(f"✓ {TITLE}:"), line
    assert f"plain HTTP to 127.0.0.1:{mutual_tls_replica.port}" in line
    assert "HTTPS without a client certificate" in line
    assert "the entry point: GET /livez HTTP 200" in line


def test_verify_fails_when_an_aci_replica_answers_plain_http(tmp_path: Path) -> None:
    with _open_server(tmp_path, tls=False) as port:
        outcome = run(_burst_with_aci_replica_at(port), _world_folder(tmp_path))
    line = outcome.line(TITLE)
    assert line.startswith(f"✗ {TITLE}:"), line
    assert "answered plain HTTP: HTTP/1.0 200 OK" in line
    assert outcome.code == 1


def test_verify_skips_replicas_that_serve_plain_http_by_design(tmp_path: Path) -> None:
    with _open_server(tmp_path, tls=False) as port:
        outcome = run(_burst_with_aci_replica_at(port, mutual_tls=False), _world_folder(tmp_path))
    assert outcome.line(TITLE).startswith(f"- {TITLE}:")
