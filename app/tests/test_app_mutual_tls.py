"""TLS_DIR and PROBE_PORT: the files mutual TLS needs, and a plain port that answers liveness only.

The TLS handshake itself, with real certificates, gunicorn and the entry point's Envoy, is tested
in the project's tests/test_replica_mtls.py.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from todo.config import ConfigError, load_config
from todo.mutual_tls import CA_FILE, CERT_FILE, KEY_FILE, tls_files_in
from todo.probe import LIVENESS_PATH, ProbeServer

DB = "mongodb://db.example:27017/todo"


def _tls_dir(tmp_path: Path, *names: str) -> Path:
    for name in names:
        (tmp_path / name).write_text("pem")
    return tmp_path


def test_without_tls_dir_the_app_serves_plain_http() -> None:
    config = load_config({"DB": DB})
    assert config.tls is None
    assert config.probe_port is None


def test_tls_dir_names_the_certificate_key_and_ca(tmp_path: Path) -> None:
    folder = _tls_dir(tmp_path, CERT_FILE, KEY_FILE, CA_FILE)
    config = load_config({"DB": DB, "TLS_DIR": str(folder), "PROBE_PORT": "8081"})
    assert config.tls is not None
    assert (config.tls.cert, config.tls.key, config.tls.ca) == (
        folder / "tls.crt",
        folder / "tls.key",
        folder / "ca.crt",
    )
    assert config.probe_port == 8081


def test_a_tls_dir_without_its_files_stops_the_app_naming_them(tmp_path: Path) -> None:
    folder = _tls_dir(tmp_path, CERT_FILE)
    with pytest.raises(ConfigError) as raised:
        load_config({"DB": DB, "TLS_DIR": str(folder)})
    assert str(raised.value) == f"TLS_DIR {str(folder)!r} lacks tls.key, ca.crt"
    assert tls_files_in("") is None


@pytest.mark.parametrize(
    ("probe_port", "message"),
    [
        ("8080", "PROBE_PORT must differ from PORT (8080)"),
        ("0", "PROBE_PORT must be a whole number from 1 to 65535, not '0'"),
        ("http", "PROBE_PORT must be a whole number from 1 to 65535, not 'http'"),
    ],
)
def test_a_bad_probe_port_stops_the_app(probe_port: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"DB": DB, "PORT": "8080", "PROBE_PORT": probe_port})
    assert str(raised.value) == message


@pytest.fixture
def probe() -> Iterator[ProbeServer]:
    server = ProbeServer(0, host="127.0.0.1")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_probe_port_answers_liveness_and_nothing_else(probe: ProbeServer) -> None:
    status, body = _get(probe.port, LIVENESS_PATH)
    assert (status, json.loads(body)) == (200, {"status": "alive"})
    for path in ("/healthz", "/", "/api/todos", "/livez/"):
        assert _get(probe.port, path)[0] == 404, path
