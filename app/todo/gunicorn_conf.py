"""Gunicorn settings, read by the master process: ``--config python:todo.gunicorn_conf``.

Reading the configuration here, before any worker forks, makes a bad ``DB`` or ``PORT`` stop the
server at once with one line on stderr. The app listens on all interfaces on ``PORT`` (8080 by
default): ACI has no port mapping and a non-root process cannot bind port 80 there.
"""

from __future__ import annotations

from todo.config import load_config_or_exit
from todo.keepalive import APP_KEEPALIVE_SECONDS

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
