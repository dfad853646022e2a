"""A database outage: /healthz and the API answer 503 JSON, pages a 503 page; fast, no secret."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any, cast
from urllib.parse import quote_plus

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pymongo.errors import (
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from todo.config import load_config
from todo.db import TodoStore
from todo.extension import store
from todo.web import create_app, create_app_from_config

KEY = "Zm9v+YmFy/YmF6==x"
TODO_ID = "0123456789abcdef01234567"

# Every route that reads or writes todos, with what a healthy request would send.
PAGE_REQUESTS: list[Callable[[FlaskClient], Any]] = [
    lambda c: c.get("/"),
    lambda c: c.post("/todos", data={"text": "a"}),
    lambda c: c.get(f"/todos/{TODO_ID}/edit"),
    lambda c: c.post(f"/todos/{TODO_ID}", data={"text": "a"}),
    lambda c: c.post(f"/todos/{TODO_ID}/delete"),
]
API_REQUESTS: list[Callable[[FlaskClient], Any]] = [
    lambda c: c.get("/api/todos"),
    lambda c: c.post("/api/todos", json={"text": "a"}),
    lambda c: c.get(f"/api/todos/{TODO_ID}"),
    lambda c: c.put(f"/api/todos/{TODO_ID}", json={"text": "a"}),
    lambda c: c.delete(f"/api/todos/{TODO_ID}"),
]


class FailingCollection:
    """Stands in for a pymongo Collection (and its Database) whose every call raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    @property
    def database(self) -> FailingCollection:
        return self

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def fail(*_args: object, **_kwargs: object) -> Any:
            raise self._error

        return fail


def app_over(error: PyMongoError) -> Flask:
    return create_app(TodoStore(cast(Any, FailingCollection(error))))


@pytest.mark.parametrize(
    "error", [ServerSelectionTimeoutError("No servers found"), ConnectionFailure("reset")]
)
def test_an_unreachable_database_gives_503_everywhere(error: PyMongoError) -> None:
    client = app_over(error).test_client()

    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json() == {
        "status": "unavailable",
        "reason": f"The database is unreachable ({type(error).__name__})",
    }

    for request in PAGE_REQUESTS:
        response = request(client)
        assert response.status_code == 503
        assert response.mimetype == "text/html"
        assert "The database is unreachable" in response.get_data(as_text=True)
        assert "Traceback" not in response.get_data(as_text=True)

    for request in API_REQUESTS:
        response = request(client)
        assert response.status_code == 503
        assert response.get_json() == {"error": "The database is unreachable"}

    assert client.get("/livez").status_code == 200


def test_other_database_errors_are_503_too() -> None:
    client = app_over(OperationFailure("Request rate is large", code=16500)).test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "OperationFailure" in health.get_json()["reason"]
    api = client.get("/api/todos")
    assert api.status_code == 503
    assert api.get_json() == {"error": "The database could not complete the request"}
    assert client.get("/").status_code == 503


def test_validation_still_answers_400_during_an_outage() -> None:
    client = app_over(ServerSelectionTimeoutError("down")).test_client()
    response = client.post("/api/todos", json={"text": ""})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("request_", "mimetype"),
    [(lambda c: c.get("/"), "text/html"), (lambda c: c.get("/api/todos"), "application/json")],
    ids=["page", "api"],
)
def test_an_unexpected_error_is_a_plain_500_without_a_traceback(
    request_: Callable[[FlaskClient], Any], mimetype: str, caplog: pytest.LogCaptureFixture
) -> None:
    # An error that is not the database's: a bug.
    app = create_app(TodoStore(cast(Any, FailingCollection(RuntimeError("bug at x.py")))))
    response = request_(app.test_client())
    assert response.status_code == 500
    assert response.mimetype == mimetype
    body = response.get_data(as_text=True)
    assert "Something went wrong on our side." in body
    if mimetype == "application/json":
        assert set(response.get_json()) == {"error"}  # the API's error shape
    assert "Traceback" not in body
    assert "bug at x.py" not in body
    # The traceback goes to the log, for the operator.
    assert "RuntimeError: bug at x.py" in caplog.text


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, so nobody else takes it, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_a_real_client_fails_fast_and_logs_no_secret(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    uri = (
        f"mongodb://acct:{quote_plus(KEY)}@127.0.0.1:{closed_port}/todo?ssl=true"
        "&retrywrites=false&maxIdleTimeMS=120000&appName=@acct@"
    )
    app = create_app_from_config(
        load_config({"DB": uri, "PORT": "8080"}), server_selection_timeout_ms=200
    )
    client = app.test_client()
    bodies: list[str] = []
    try:
        for request, expected_type in (
            (lambda c: c.get("/healthz"), "application/json"),
            (PAGE_REQUESTS[0], "text/html"),
            (API_REQUESTS[1], "application/json"),
        ):
            start = time.monotonic()
            response = request(client)
            assert time.monotonic() - start < 3
            assert response.status_code == 503
            assert response.mimetype == expected_type
            bodies.append(response.get_data(as_text=True))
    finally:
        with app.app_context():
            store().close()

    assert "The database is unreachable" in bodies[1]
    assert f"Using database 'todo' on 127.0.0.1:{closed_port}" in caplog.text
    assert "Health check failed: ServerSelectionTimeoutError" in caplog.text
    for secret in (KEY, quote_plus(KEY), "Zm9v"):
        assert secret not in caplog.text
        assert all(secret not in body for body in bodies)
        for record in caplog.records:
            assert secret not in record.getMessage()
