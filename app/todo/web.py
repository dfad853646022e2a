"""The Flask application: the factory, the health endpoints and the error pages.

Every error is answered on purpose: a database error is a 503 that says the database is
unreachable (JSON under /api/, an HTML page elsewhere), an HTTP error keeps its status, and anything
else is a plain 500 without a traceback. No response or log line carries the connection string.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from pymongo.errors import ConnectionFailure, PyMongoError
from werkzeug.exceptions import HTTPException

from todo.api import api
from todo.config import Config
from todo.db import SERVER_SELECTION_TIMEOUT_MS, TodoStore, make_client, todo_collection
from todo.extension import install_store
from todo.extension import store as current_store
from todo.model import MAX_TEXT_LENGTH
from todo.pages import pages
from todo.served_by import ServedBy, install_served_by

logger = logging.getLogger(__name__)

UNREACHABLE = "The database is unreachable"
DATABASE_ERROR = "The database could not complete the request"


def create_app(store: TodoStore, served_by: ServedBy | None = None) -> Flask:
    """The app, serving the todos in ``store`` and naming ``served_by`` (default: this host)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.jinja_env.globals["max_text_length"] = MAX_TEXT_LENGTH
    install_store(app, store)
    install_served_by(app, served_by or ServedBy.of_this_host())
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/livez", "livez", livez)
    app.register_error_handler(PyMongoError, database_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
    return app


def create_app_from_config(
    config: Config, *, server_selection_timeout_ms: int = SERVER_SELECTION_TIMEOUT_MS
) -> Flask:
    """The app over a real MongoClient; it connects in the background, so start-up never blocks."""
    client = make_client(
        config.database_uri, server_selection_timeout_ms=server_selection_timeout_ms
    )
    logger.info("Using database %r on %s", config.database, ", ".join(config.hosts))
    return create_app(TodoStore(todo_collection(client)), config.served_by)


def healthz() -> ResponseReturnValue:
    """Readiness: 200 when the database answers a ping, else 503 with a reason free of secrets."""
    try:
        current_store().ping()
    except PyMongoError as error:
        logger.warning("Health check failed: %s: %s", type(error).__name__, error)
        reason = f"{describe(error)} ({type(error).__name__})"
        return {"status": "unavailable", "reason": reason}, 503
    return {"status": "ok"}


def livez() -> ResponseReturnValue:
    """Liveness: the process serves requests; the database is not consulted."""
    return {"status": "alive"}


def describe(error: PyMongoError) -> str:
    return UNREACHABLE if isinstance(error, ConnectionFailure) else DATABASE_ERROR


def wants_json() -> bool:
    return request.path.startswith("/api/")


def database_error(error: PyMongoError) -> ResponseReturnValue:
    logger.warning(
        "Database error on %s %s: %s: %s", request.method, request.path, type(error).__name__, error
    )
    message = describe(error)
    if wants_json():
        return {"error": message}, 503
    return render_template("error.html", title="Service unavailable", message=message), 503


def http_error(error: HTTPException) -> ResponseReturnValue:
    """The error's status and extra headers (405's Allow, for one) with our own body."""
    code = error.code or 500
    message = error.description or error.name
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    if wants_json():
        return {"error": message}, code, headers
    return render_template("error.html", title=error.name, message=message), code, headers


def unexpected_error(error: Exception) -> ResponseReturnValue:
    logger.exception("Unexpected error on %s %s", request.method, request.path)
    message = "Something went wrong on our side."
    if wants_json():
        return {"error": message}, 500
    return render_template("error.html", title="Internal server error", message=message), 500
