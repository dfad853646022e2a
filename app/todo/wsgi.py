"""The WSGI app gunicorn serves: ``gunicorn --config python:todo.gunicorn_conf todo.wsgi:app``.

Gunicorn imports this module in each worker after the fork, so each worker builds its own
MongoClient (a client must not cross a fork). The configuration has already been checked in the
master by ``todo.gunicorn_conf``; should this module still meet a bad one (gunicorn started without
that config), it exits with status 3, gunicorn's "worker failed to boot", so gunicorn stops instead
of restarting a worker that can never start.
"""

from __future__ import annotations

from todo.config import configure_logging, load_config_or_exit
from todo.web import create_app_from_config

GUNICORN_WORKER_BOOT_ERROR = 3

configure_logging()
app = create_app_from_config(load_config_or_exit(exit_status=GUNICORN_WORKER_BOOT_ERROR))
