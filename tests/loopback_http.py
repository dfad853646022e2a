"""Loopback HTTP(S) servers for the fake APIs the tests start: one way to make and stop them.

- ``Authority``: a throwaway CA (trustme) and a serving certificate for 127.0.0.1 signed by it.
- ``serving``: a request handler on a free port of 127.0.0.1, over HTTPS when given an
  ``Authority``, in a daemon thread, shut down and closed when the block ends.
- ``running``: the same for a server made elsewhere (werkzeug's WSGI server).
- ``JsonHandler``: a quiet handler that answers JSON, as both clouds' APIs do.

What each fake answers stays with the fake (tests/fake_kubernetes_api.py, tests/verify_servers.py).
"""

from __future__ import annotations

import json
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

LOOPBACK = "127.0.0.1"


class Authority:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it; each one is a new CA, so a
    client that trusts another ``Authority`` refuses this one's server."""

    def __init__(self) -> None:
        self._ca = trustme.CA()
        self._server = self._ca.issue_cert(LOOPBACK)

    @property
    def ca_pem(self) -> bytes:
        return self._ca.cert_pem.bytes()

    def write_ca(self, path: Path) -> Path:
        path.write_bytes(self.ca_pem)
        return path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server.configure_cert(context)
        return context


class JsonHandler(BaseHTTPRequestHandler):
    """Answers with a JSON body and logs nothing (the fakes record what a test reads)."""

    def send_json(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def serving(
    handler: type[BaseHTTPRequestHandler], authority: Authority | None = None
) -> Iterator[int]:
    """Serves ``handler`` on a free port of 127.0.0.1 (HTTPS with ``authority``'s certificate if
    given); yields the port."""
    server = ThreadingHTTPServer((LOOPBACK, 0), handler)
    try:
        if authority is not None:
            context = authority.server_context()
            server.socket = context.wrap_socket(server.socket, server_side=True)
    except BaseException:
        server.server_close()
        raise
    with running(server):
        yield server.server_address[1]


@contextmanager
def running(server: socketserver.BaseServer) -> Iterator[None]:
    """Runs ``server`` in a daemon thread for the block; then stops it and closes its socket."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
