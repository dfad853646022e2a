"""The HTML pages: list, create, edit, update and delete todos with plain forms.

State changes are POSTs answered with a 303 redirect to the list, so reloading a page never
repeats them. Invalid text re-renders the form with the message and status 400.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from todo.extension import store
from todo.model import InvalidTextError, clean_text

pages = Blueprint("pages", __name__)


@pages.get("/")
def index() -> ResponseReturnValue:
    return render_template("index.html", todos=store().list_all(), text="", error=None)


@pages.post("/todos")
def create() -> ResponseReturnValue:
    raw = request.form.get("text", "")
    try:
        text = clean_text(raw)
    except InvalidTextError as error:
        todos = store().list_all()
        return render_template("index.html", todos=todos, text=raw, error=str(error)), 400
    store().create(text)
    return redirect(url_for("pages.index"), 303)


@pages.get("/todos/<todo_id>/edit")
def edit(todo_id: str) -> ResponseReturnValue:
    todo = store().get(todo_id)
    if todo is None:
        abort(404, description="There is no such todo.")
    return render_template("edit.html", todo=todo, text=todo.text, error=None)


@pages.post("/todos/<todo_id>")
def update(todo_id: str) -> ResponseReturnValue:
    raw = request.form.get("text", "")
    try:
        text = clean_text(raw)
    except InvalidTextError as error:
        todo = store().get(todo_id)
        if todo is None:
            abort(404, description="There is no such todo.")
        return render_template("edit.html", todo=todo, text=raw, error=str(error)), 400
    if store().update(todo_id, text) is None:
        abort(404, description="There is no such todo.")
    return redirect(url_for("pages.index"), 303)


@pages.post("/todos/<todo_id>/delete")
def delete(todo_id: str) -> ResponseReturnValue:
    if not store().delete(todo_id):
        abort(404, description="There is no such todo.")
    return redirect(url_for("pages.index"), 303)
