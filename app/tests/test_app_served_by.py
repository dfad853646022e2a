"""X-Served-By and the footer: every response names the pod and node that served it."""

from __future__ import annotations

import socket
from typing import Any, cast

import pytest
from flask import Flask
from pymongo.errors import ServerSelectionTimeoutError

from todo.config import ConfigError, load_config
from todo.db import TodoStore
from todo.served_by import HEADER, ServedBy, served_by_from
from todo.web import create_app

DB = "mongodb://localhost:27017/todo"
BURST = ServedBy(pod="web-7d9f8b6c5d-x2x4k", node="aci-connector")


class DownCollection:
    """A collection (and database) whose every call fails as an unreachable server does."""

    @property
    def database(self) -> DownCollection:
        return self

    def __getattr__(self, _name: str) -> Any:
        def fail(*_args: object, **_kwargs: object) -> Any:
            raise ServerSelectionTimeoutError("No servers found")

        return fail


@pytest.fixture
def named_app(store: TodoStore) -> Flask:
    return create_app(store, BURST)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/api/todos", 200),
        ("POST", "/api/todos", 400),
        ("GET", "/api/todos/nope", 404),
        ("GET", "/healthz", 200),
        ("GET", "/livez", 200),
        ("GET", "/missing", 404),
        ("DELETE", "/healthz", 405),
    ],
)
def test_every_response_names_pod_and_node(
    named_app: Flask, method: str, path: str, status: int
) -> None:
    response = named_app.test_client().open(path, method=method)
    assert response.status_code == status
    assert response.headers[HEADER] == "pod=web-7d9f8b6c5d-x2x4k; node=aci-connector"


def test_a_database_outage_still_names_the_pod() -> None:
    app = create_app(TodoStore(cast(Any, DownCollection())), BURST)
    for path in ("/healthz", "/", "/api/todos"):
        response = app.test_client().get(path)
        assert response.status_code == 503
        assert response.headers[HEADER] == BURST.header_value()


def test_the_footer_names_pod_and_node(named_app: Flask) -> None:
    page = named_app.test_client().get("/").get_data(as_text=True)
    assert "Served by pod web-7d9f8b6c5d-x2x4k on node aci-connector" in page


def test_without_a_node_the_node_part_is_left_out(store: TodoStore) -> None:
    app = create_app(store, ServedBy(pod="web"))
    response = app.test_client().get("/")
    assert response.headers[HEADER] == "pod=web"
    page = response.get_data(as_text=True)
    assert "Served by pod web</footer>" in page
    assert "on node" not in page


def test_the_names_come_from_pod_name_and_node_name() -> None:
    config = load_config({"DB": DB, "POD_NAME": " web ", "NODE_NAME": "gke-pool-1-abcd"})
    assert config.served_by == ServedBy(pod="web", node="gke-pool-1-abcd")


def test_unset_names_fall_back_to_the_host_name_without_a_node() -> None:
    served_by = served_by_from({"NODE_NAME": ""})
    assert served_by.node is None
    assert served_by.pod == socket.gethostname()  # a plain name on this machine
    assert create_app(cast(Any, None)).test_client().get("/livez").headers[HEADER] == (
        f"pod={served_by.pod}"
    )


@pytest.mark.parametrize("variable", ["POD_NAME", "NODE_NAME"])
@pytest.mark.parametrize("value", ["web\r\nSet-Cookie: x=1", "web;node=x", "a" * 254])
def test_a_name_that_is_not_a_name_is_one_clear_error(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable} must be a pod or node name"):
        load_config({"DB": DB, variable: value})
