"""The JSON API over the same store: ``/api/todos`` and ``/api/todos/<id>``.

Bodies are JSON objects with a ``text`` string. Errors are ``{"error": "..."}`` with 400 (bad
body or text), 404 (unknown or malformed id) or 503 (database unreachable).
"""

from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from flask.typing import ResponseReturnValue

from todo.extension import store
from todo.model import InvalidTextError, clean_text

api = Blueprint("api", __name__, url_prefix="/api")

NOT_FOUND = "There is no such todo."


@api.get("/todos")
def list_todos() -> ResponseReturnValue:
    return {"todos": [todo.to_json() for todo in store().list_all()]}


@api.post("/todos")
def create_todo() -> ResponseReturnValue:
    todo = store().create(_text_from_body())
    return todo.to_json(), 201, {"Location": url_for("api.get_todo", todo_id=todo.id)}


@api.get("/todos/<todo_id>")
def get_todo(todo_id: str) -> ResponseReturnValue:
    todo = store().get(todo_id)
    if todo is None:
        abort(404, description=NOT_FOUND)
    return todo.to_json()


@api.put("/todos/<todo_id>")
def update_todo(todo_id: str) -> ResponseReturnValue:
    todo = store().update(todo_id, _text_from_body())
    if todo is None:
        abort(404, description=NOT_FOUND)
    return todo.to_json()


@api.delete("/todos/<todo_id>")
def delete_todo(todo_id: str) -> ResponseReturnValue:
    if not store().delete(todo_id):
        abort(404, description=NOT_FOUND)
    return "", 204


def _text_from_body() -> str:
    """The cleaned ``text`` of the JSON body, or a 400 saying what is wrong."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "text" not in body:
        abort(400, description='Send a JSON object with a "text" string.')
    try:
        return clean_text(body["text"])
    except InvalidTextError as error:
        abort(400, description=str(error))
