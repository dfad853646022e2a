"""The HTML pages: list, create, edit, update and delete, with validation and 404s."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from todo.db import TodoStore

UNKNOWN = "0" * 24  # a valid ObjectId (of 1970) no test creates; fixed, so test ids are stable


def test_the_empty_list_has_a_form(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'action="/todos"' in page
    assert 'maxlength="500"' in page
    assert "Nothing to do yet." in page


def test_create_then_list(client: FlaskClient, store: TodoStore) -> None:
    response = client.post("/todos", data={"text": "  buy milk  "})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    [todo] = store.list_all()
    assert todo.text == "buy milk"
    page = client.get("/").get_data(as_text=True)
    assert "buy milk" in page
    assert f'href="/todos/{todo.id}/edit"' in page
    assert f'action="/todos/{todo.id}/delete"' in page


def test_text_is_escaped(client: FlaskClient, store: TodoStore) -> None:
    client.post("/todos", data={"text": "<script>alert(1)</script>"})
    page = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    todo = store.create('say "hi"><b>')
    edit = client.get(f"/todos/{todo.id}/edit").get_data(as_text=True)
    assert 'value="say &#34;hi&#34;&gt;&lt;b&gt;"' in edit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must not be empty"),
        ("   \t ", "must not be empty"),
        ("x" * 501, "at most 500 characters"),
    ],
)
def test_invalid_text_re_renders_the_form_with_400(
    client: FlaskClient, store: TodoStore, text: str, message: str
) -> None:
    response = client.post("/todos", data={"text": text})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert store.list_all() == []


def test_a_missing_field_is_a_400(client: FlaskClient, store: TodoStore) -> None:
    assert client.post("/todos", data={}).status_code == 400
    assert store.list_all() == []


def test_500_characters_are_accepted(client: FlaskClient, store: TodoStore) -> None:
    assert client.post("/todos", data={"text": "x" * 500}).status_code == 303
    assert store.list_all()[0].text == "x" * 500


def test_edit_and_update(client: FlaskClient, store: TodoStore) -> None:
    todo = store.create("buy milk")
    edit = client.get(f"/todos/{todo.id}/edit")
    assert edit.status_code == 200
    page = edit.get_data(as_text=True)
    assert 'value="buy milk"' in page
    assert f'action="/todos/{todo.id}"' in page

    response = client.post(f"/todos/{todo.id}", data={"text": "buy oat milk"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    updated = store.get(todo.id)
    assert updated is not None
    assert updated.text == "buy oat milk"


def test_an_invalid_update_re_renders_the_edit_form(client: FlaskClient, store: TodoStore) -> None:
    todo = store.create("buy milk")
    response = client.post(f"/todos/{todo.id}", data={"text": " "})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "must not be empty" in page
    assert f'action="/todos/{todo.id}"' in page
    assert store.get(todo.id) == todo


def test_delete(client: FlaskClient, store: TodoStore) -> None:
    todo = store.create("buy milk")
    response = client.post(f"/todos/{todo.id}/delete")
    assert response.status_code == 303
    assert store.list_all() == []


def test_state_changes_need_post(client: FlaskClient, store: TodoStore) -> None:
    todo = store.create("buy milk")
    response = client.get(f"/todos/{todo.id}/delete")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert store.get(todo.id) == todo


@pytest.mark.parametrize("todo_id", [UNKNOWN, "not-an-id", "0" * 25])
def test_unknown_or_invalid_ids_are_404(client: FlaskClient, todo_id: str) -> None:
    for response in (
        client.get(f"/todos/{todo_id}/edit"),
        client.post(f"/todos/{todo_id}", data={"text": "x"}),
        client.post(f"/todos/{todo_id}", data={"text": ""}),
        client.post(f"/todos/{todo_id}/delete"),
    ):
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "There is no such todo." in response.get_data(as_text=True)


def test_an_unknown_page_is_an_html_404(client: FlaskClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not Found" in response.get_data(as_text=True)


def test_livez_does_not_touch_the_database(client: FlaskClient) -> None:
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive"}


def test_healthz_is_ok_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
