"""Mutual TLS between the entry point and a replica, with the real binaries on loopback.

The real app under gunicorn, started as the image starts it (``todo.gunicorn_conf``, with the
``TLS_DIR`` and ``PROBE_PORT`` the pod spec gives it), serves TLS with certificates made the way
the program makes them (tests/replica_certs.py). Only its store is in memory (mongomock), so
that ``/healthz`` answers without a database. In front of it, the real Envoy with the rendered
configuration (the harness of tests/test_entry_proxy.py), its TLS files in a temporary folder
instead of the mounted Secret.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from loopback_dns import LoopbackDns
from replica_certs import Issued, issue, make_ca, write_tls_dir
from test_entry_proxy import FAST, REPLICAS_NAME, Proxy

from core.app_contract import (
    PROBE_PORT_VARIABLE,
    REPLICA_SERVER_NAME,
    TLS_CA_FILE,
    TLS_CERT_FILE,
    TLS_DIR_VARIABLE,
    TLS_KEY_FILE,
)
from specs.envoy_config import UpstreamTls, envoy_bootstrap
from specs.replica_tls import ENTRY_CLIENT, REPLICA_SERVER, LeafProfile

APP_DIR = Path(__file__).resolve().parent.parent / "app"
REPLICA_IP = "127.0.0.2"
HEALTH_PATH = "/healthz"
# The app as the image runs it, over an in-memory store instead of a MongoClient.
LOOPBACK_WSGI = """
import mongomock
from todo.config import load_config_or_exit
from todo.db import TodoStore
from todo.web import create_app

_config = load_config_or_exit()
app = create_app(TodoStore(mongomock.MongoClient()["todo"]["todos"]), _config.served_by)
"""
START_SECONDS = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Pki:
    """The stack's CA and its two leaves, and a CA the stack does not own."""

    ca: Issued
    server: Issued
    client: Issued
    other_ca: Issued


@pytest.fixture
def pki() -> Pki:
    ca = make_ca()
    return Pki(
        ca=ca,
        server=issue(ca, REPLICA_SERVER),
        client=issue(ca, ENTRY_CLIENT),
        other_ca=make_ca("another CA"),
    )


class Replica:
    """Gunicorn serving the app with the replica's TLS files and a probe port."""

    def __init__(self, tmp_path: Path, tls_dir: Path) -> None:
        self.port = _free_port()
        self.probe_port = _free_port()
        (tmp_path / "loopback_wsgi.py").write_text(LOOPBACK_WSGI)
        self.log_path = tmp_path / "gunicorn.log"
        self._log = self.log_path.open("w")
        base = {k: v for k, v in os.environ.items() if k not in ("DB", "DB_FILE", "PORT")}
        env = {
            **base,
            "DB": "mongodb://127.0.0.1:9/todo",
            "PORT": str(self.port),
            TLS_DIR_VARIABLE: str(tls_dir),
            PROBE_PORT_VARIABLE: str(self.probe_port),
            "PYTHONPATH": os.pathsep.join([str(APP_DIR), str(tmp_path)]),
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "python:todo.gunicorn_conf",
                "loopback_wsgi:app",
            ],
            cwd=tmp_path,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_SECONDS
        while not self._alive():
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.1)

    def _alive(self) -> bool:
        try:
            return plain_get(self.probe_port, "/livez")[0] == 200
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text()

    def requests_logged(self) -> list[str]:
        """The access log's request lines: what reached the app."""
        return [line for line in self.log().splitlines() if '"GET ' in line or '"POST ' in line]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self._log.close()


@contextlib.contextmanager
def _replica(tmp_path: Path, tls_dir: Path) -> Iterator[Replica]:
    replica = Replica(tmp_path, tls_dir)
    try:
        yield replica
    finally:
        replica.stop()


def plain_get(port: int, path: str, host: str = "127.0.0.1") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _client_context(pki: Pki, client: Issued | None, folder: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=None)
    context.load_verify_locations(cadata=pki.ca.cert_pem().decode())
    if client is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "client.crt").write_bytes(client.cert_pem())
        (folder / "client.key").write_bytes(client.key_pem())
        context.load_cert_chain(folder / "client.crt", folder / "client.key")
    return context


def tls_exchange(port: int, context: ssl.SSLContext, path: str) -> bytes:
    """Sends a GET over TLS and returns what came back; raises on a refused handshake."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=REPLICA_SERVER_NAME) as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: replica\r\n\r\n".encode())
        return tls.recv(65536)


@pytest.fixture
def replica(tmp_path: Path, pki: Pki) -> Iterator[Replica]:
    tls_dir = write_tls_dir(tmp_path / "replica-tls", pki.server, pki.ca)
    with _replica(tmp_path, tls_dir) as running:
        yield running


def test_a_client_with_the_entry_points_certificate_gets_the_apps_answer(
    replica: Replica, pki: Pki, tmp_path: Path
) -> None:
    answer = tls_exchange(replica.port, _client_context(pki, pki.client, tmp_path), "/api/todos")
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    # The access log, which the other tests read for what reached the app, shows it.
    _eventually(
        lambda: any("/api/todos" in line for line in replica.requests_logged()), "it is logged"
    )


@pytest.mark.parametrize(
    ("client", "alert"),
    [("none", "CERTIFICATE_REQUIRED"), ("another CA's", "UNKNOWN_CA")],
)
def test_a_client_without_the_stacks_certificate_is_refused_in_the_handshake(
    replica: Replica, pki: Pki, tmp_path: Path, client: str, alert: str
) -> None:
    certificate = None if client == "none" else issue(pki.other_ca, ENTRY_CLIENT)
    context = _client_context(pki, certificate, tmp_path / "client")
    # TLS 1.3: the server's refusal may arrive after the client's side of the handshake, so it
    # shows on the first read at the latest; no byte of an HTTP answer ever comes.
    with pytest.raises(ssl.SSLError) as refused:
        tls_exchange(replica.port, context, "/api/todos?from=outside")
    # The server's TLS alert: refused by the TLS layer, before gunicorn parsed a request.
    assert f"TLSV13_ALERT_{alert}" in str(refused.value) or f"TLSV1_ALERT_{alert}" in str(
        refused.value
    ), refused.value
    assert not [line for line in replica.requests_logged() if "from=outside" in line]


def test_a_plain_http_request_to_the_app_port_gets_no_answer_from_the_app(
    replica: Replica,
) -> None:
    with socket.create_connection(("127.0.0.1", replica.port), timeout=5) as raw:
        raw.sendall(b"GET /api/todos?from=plain HTTP/1.1\r\nHost: replica\r\n\r\n")
        received = b""
        with contextlib.suppress(OSError):
            while chunk := raw.recv(65536):
                received += chunk
    # Not even an HTTP error: the TLS layer drops the connection.
    assert received == b"", received
    assert not [line for line in replica.requests_logged() if "from=plain" in line]


def test_the_probe_port_answers_liveness_and_nothing_else(replica: Replica) -> None:
    assert plain_get(replica.probe_port, "/livez") == (200, b'{"status": "alive"}')
    for path in ("/healthz", "/", "/api/todos"):
        assert plain_get(replica.probe_port, path)[0] == 404, path
    assert not [line for line in replica.requests_logged() if "/healthz" in line]


@contextlib.contextmanager
def _proxy_in_front(tmp_path: Path, pki: Pki, port: int) -> Iterator[Proxy]:
    client_dir = write_tls_dir(tmp_path / "entry-tls", pki.client, pki.ca)
    upstream_tls = UpstreamTls(
        cert_file=str(client_dir / TLS_CERT_FILE),
        key_file=str(client_dir / TLS_KEY_FILE),
        ca_file=str(client_dir / TLS_CA_FILE),
        server_name=REPLICA_SERVER_NAME,
    )
    config = envoy_bootstrap(
        upstream_host=REPLICAS_NAME,
        upstream_port=port,
        health_path=HEALTH_PATH,
        timing=FAST,
        upstream_tls=upstream_tls,
    )
    with LoopbackDns(REPLICAS_NAME, [REPLICA_IP]) as dns:
        proxy = Proxy(tmp_path, "envoy", config, dns.port)
        try:
            yield proxy
        finally:
            proxy.stop()


def _eventually(check: object, what: str, seconds: float = 10) -> None:
    assert callable(check)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"within {seconds} s: {what}")


def test_through_the_proxy_requests_and_health_checks_go_over_mutual_tls(
    replica: Replica, pki: Pki, tmp_path: Path
) -> None:
    with _proxy_in_front(tmp_path, pki, replica.port) as proxy:
        _eventually(
            lambda: plain_get(proxy.port, "/api/todos")[0] == 200, "the proxy serves the app"
        )
        status, body = plain_get(proxy.port, "/api/todos")
        assert (status, body.strip()) == (200, b'{"todos":[]}')
        assert proxy.stat("cluster.web.health_check.success") >= 1
        assert proxy.stat("cluster.web.ssl.handshake") >= 1
    logged = replica.requests_logged()
    assert any(f"GET {HEALTH_PATH}" in line for line in logged), logged
    # No warning from Envoy about the TLS settings (a deprecated field would be one); the one
    # for the SIGTERM that stopped it is expected.
    warnings = [
        line
        for line in proxy.log_path.read_text().splitlines()
        if "][warning]" in line and "ENVOY_SIGTERM" not in line
    ]
    assert warnings == []


@pytest.mark.parametrize("wrong", ["another CA", "another name"])
def test_a_replica_with_a_certificate_from_another_ca_or_for_another_name_gets_no_traffic(
    tmp_path: Path, pki: Pki, wrong: str
) -> None:
    if wrong == "another CA":
        server = issue(pki.other_ca, REPLICA_SERVER)
    else:
        other_name = LeafProfile("web.example", ("web.example",), REPLICA_SERVER.allowed_uses)
        server = issue(pki.ca, other_name)
    # The impostor trusts the stack's CA, so it would accept the proxy's certificate: what stops
    # the traffic is the proxy's check of the replica's certificate.
    tls_dir = write_tls_dir(tmp_path / "impostor-tls", server, pki.ca)
    with (
        _replica(tmp_path, tls_dir) as impostor,
        _proxy_in_front(tmp_path, pki, impostor.port) as proxy,
    ):
        _eventually(
            lambda: (
                proxy.stat("cluster.web.ssl.fail_verify_san")
                + proxy.stat("cluster.web.ssl.fail_verify_error")
                >= 2
            ),
            "the proxy refuses its certificate",
        )
        assert [plain_get(proxy.port, "/api/todos")[0] for _ in range(5)] == [503] * 5
        assert proxy.stat("cluster.web.health_check.success") == 0
    assert impostor.requests_logged() == []


def test_after_a_rotation_old_and_new_certificates_from_the_same_ca_still_talk(
    tmp_path: Path, pki: Pki
) -> None:
    """credentialRotation replaces both leaves under the same CA, and the two Deployments roll
    one at a time: an old proxy meets new replicas, and a new proxy old replicas. Each end
    checks only the CA and the name, so both pairs talk."""
    new_server, new_client = issue(pki.ca, REPLICA_SERVER), issue(pki.ca, ENTRY_CLIENT)
    new_replica_dir = write_tls_dir(tmp_path / "new-replica-tls", new_server, pki.ca)
    (tmp_path / "new").mkdir()
    with (
        _replica(tmp_path / "new", new_replica_dir) as new_replica,
        _proxy_in_front(tmp_path, pki, new_replica.port) as old_proxy,
    ):
        _eventually(
            lambda: plain_get(old_proxy.port, "/api/todos")[0] == 200,
            "the old proxy serves from a new replica",
        )
    old_replica_dir = write_tls_dir(tmp_path / "old-replica-tls", pki.server, pki.ca)
    (tmp_path / "old").mkdir()
    with _replica(tmp_path / "old", old_replica_dir) as old_replica:
        context = _client_context(pki, new_client, tmp_path / "new-client")
        answer = tls_exchange(old_replica.port, context, "/api/todos")
    assert answer.startswith(b"HTTP/1.1 200 "), answer
