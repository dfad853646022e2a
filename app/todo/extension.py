"""Where the app keeps its TodoStore, so the blueprints reach it without importing the factory."""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app

from todo.db import TodoStore

_KEY = "todo.store"


def install_store(app: Flask, store: TodoStore) -> None:
    app.extensions[_KEY] = store


def store() -> TodoStore:
    """The store of the app handling the current request."""
    return cast(TodoStore, current_app.extensions[_KEY])
