"""A plain HTTP port that answers liveness and nothing else, for probes that carry no certificate.

With mutual TLS on the app's port (todo.mutual_tls), neither the kubelet nor ACI can probe it:
neither presents a client certificate. This listener, in gunicorn's master process, answers
``GET /livez`` with 200 while the master runs, and 404 to anything else; it never reaches the
app or its database. ACI publishes only a pod's declared ``containerPorts`` (azure-aci v1.6.4
``pkg/provider/aci.go``), and this port is not one, so only the probes reach it there; on GKE
the replicas' NetworkPolicy admits only the entry point to the app's port, and the node's
probes are always admitted.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIVENESS_PATH = "/livez"
_ALIVE = json.dumps({"status": "alive"}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A probe's request is one short line; anything slower is not a probe.
    timeout = 5

    def do_GET(self) -> None:
        status, body = (200, _ALIVE) if self.path == LIVENESS_PATH else (404, b"{}")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # a probe every few seconds would drown the access log


class ProbeServer:
    """The liveness listener, served by a daemon thread of the process that starts it."""

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, name="probe", daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def close_listener(self) -> None:
        """In a forked worker: drop the inherited socket, which only the master serves."""
        self._server.socket.close()
