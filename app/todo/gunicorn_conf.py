"""Gunicorn settings, read by the master process: ``--config python:todo.gunicorn_conf``.

Reading the configuration here, before any worker forks, makes a bad ``DB``, ``PORT``,
``TLS_DIR`` or ``PROBE_PORT`` stop the server at once with one line on stderr. The app listens on
all interfaces on ``PORT`` (8080 by default): ACI has no port mapping and a non-root process
cannot bind port 80 there. With ``TLS_DIR`` that port serves mutual TLS only (todo.mutual_tls);
with ``PROBE_PORT`` the master also answers liveness there in plain HTTP (todo.probe).
"""

from __future__ import annotations

import ssl
from typing import Any

from todo.config import load_config_or_exit
from todo.keepalive import APP_KEEPALIVE_SECONDS
from todo.mutual_tls import server_context
from todo.probe import ProbeServer

_config = load_config_or_exit()

bind = [f"0.0.0.0:{_config.port}"]
# Two processes with four threads each: PyMongo releases the GIL while it waits on the network.
workers = 2
threads = 4
# Longer than the driver's timeouts (5 s server selection, 10 s socket), so a slow database gives
# the request a 503 before gunicorn would kill the worker.
timeout = 30
graceful_timeout = 20
# The proxy in front closes idle connections to the app first (todo.keepalive).
keepalive = APP_KEEPALIVE_SECONDS
accesslog = "-"
errorlog = "-"
loglevel = "info"
# Gunicorn 25.1+ opens a control socket under $HOME; the container needs no runtime control.
control_socket_disable = True

if _config.tls is not None:
    # Gunicorn serves TLS when certfile is set; ca_certs and cert_reqs are its own names for the
    # client check, and ssl_context below builds the same context once per worker (gunicorn's
    # default builds it, reading the files, for every connection).
    certfile = str(_config.tls.cert)
    keyfile = str(_config.tls.key)
    ca_certs = str(_config.tls.ca)
    cert_reqs = ssl.CERT_REQUIRED
    _tls_files = _config.tls
    _contexts: dict[str, ssl.SSLContext] = {}

    def ssl_context(conf: Any, default_ssl_context_factory: Any) -> ssl.SSLContext:
        """TLS 1.3, a client certificate from the CA required (todo.mutual_tls)."""
        del conf, default_ssl_context_factory
        if "server" not in _contexts:
            _contexts["server"] = server_context(_tls_files)
        return _contexts["server"]


_probe = ProbeServer(_config.probe_port) if _config.probe_port is not None else None


def when_ready(server: Any) -> None:
    """The master answers liveness once its listeners are bound."""
    del server
    if _probe is not None:
        _probe.start()


def post_fork(server: Any, worker: Any) -> None:
    """A worker drops the probe's socket it inherited: only the master serves it."""
    del server, worker
    if _probe is not None:
        _probe.close_listener()
