"""The JSON API: /api/todos and /api/todos/<id>, with JSON errors."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from todo.db import TodoStore

UNKNOWN = "0" * 24  # a valid ObjectId (of 1970) no test creates; fixed, so test ids are stable


def test_list_is_empty_then_holds_created_todos(client: FlaskClient) -> None:
    assert client.get("/api/todos").get_json() == {"todos": []}
    created = client.post("/api/todos", json={"text": "buy milk"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["text"] == "buy milk"
    assert set(body) == {"id", "text", "created_at", "updated_at"}
    assert created.headers["Location"] == f"/api/todos/{body['id']}"
    assert client.get("/api/todos").get_json() == {"todos": [body]}


def test_get_update_delete(client: FlaskClient, store: TodoStore) -> None:
    todo = store.create("buy milk")
    got = client.get(f"/api/todos/{todo.id}")
    assert got.status_code == 200
    assert got.get_json() == todo.to_json()

    put = client.put(f"/api/todos/{todo.id}", json={"text": " buy oat milk "})
    assert put.status_code == 200
    assert put.get_json()["text"] == "buy oat milk"
    assert put.get_json()["created_at"] == todo.to_json()["created_at"]
    stored = store.get(todo.id)
    assert stored is not None
    assert stored.text == "buy oat milk"

    deleted = client.delete(f"/api/todos/{todo.id}")
    assert deleted.status_code == 204
    assert deleted.get_data() == b""
    assert store.get(todo.id) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": ""}, "must not be empty"),
        ({"text": "  \n "}, "must not be empty"),
        ({"text": "x" * 501}, "at most 500 characters"),
        ({"text": 42}, "must be a string"),
        ({"text": None}, "must be a string"),
        ({"txt": "a"}, '"text"'),
        (["text"], '"text"'),
        ("text", '"text"'),
    ],
)
def test_invalid_bodies_are_400(
    client: FlaskClient, store: TodoStore, body: object, message: str
) -> None:
    todo = store.create("keep me")
    for response in (
        client.post("/api/todos", json=body),
        client.put(f"/api/todos/{todo.id}", json=body),
    ):
        assert response.status_code == 400
        assert response.is_json
        assert message in response.get_json()["error"]
    assert [t.text for t in store.list_all()] == ["keep me"]


def test_a_body_that_is_not_json_is_400(client: FlaskClient) -> None:
    for response in (
        client.post("/api/todos", data="text=a", content_type="application/x-www-form-urlencoded"),
        client.post("/api/todos", data="{not json", content_type="application/json"),
    ):
        assert response.status_code == 400
        assert '"text"' in response.get_json()["error"]


@pytest.mark.parametrize("todo_id", [UNKNOWN, "not-an-id", "f" * 23])
def test_unknown_or_invalid_ids_are_404(client: FlaskClient, todo_id: str) -> None:
    for response in (
        client.get(f"/api/todos/{todo_id}"),
        client.put(f"/api/todos/{todo_id}", json={"text": "x"}),
        client.delete(f"/api/todos/{todo_id}"),
    ):
        assert response.status_code == 404
        assert response.get_json() == {"error": "There is no such todo."}


def test_api_errors_from_routing_are_json(client: FlaskClient) -> None:
    missing = client.get("/api/nowhere")
    assert missing.status_code == 404
    assert "error" in missing.get_json()
    wrong_method = client.patch("/api/todos")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.get_json()
    assert "POST" in wrong_method.headers["Allow"]


def test_an_oversized_body_is_413(client: FlaskClient) -> None:
    response = client.post("/api/todos", json={"text": "x" * 100_000})
    assert response.status_code == 413
    assert "error" in response.get_json()
