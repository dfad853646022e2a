"""Makes the app's ``todo`` package importable; offers an app over an in-memory mongomock store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mongomock
import pytest

APP_DIR = Path(__file__).resolve().parent.parent
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from todo.db import TodoStore  # noqa: E402
from todo.web import create_app  # noqa: E402


@pytest.fixture
def collection() -> Iterator[Any]:
    """A fresh in-memory ``todos`` collection."""
    client: Any = mongomock.MongoClient()
    yield client["todo"]["todos"]
    client.close()


@pytest.fixture
def store(collection: Any) -> TodoStore:
    return TodoStore(collection)


@pytest.fixture
def app(store: TodoStore) -> Flask:
    return create_app(store)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
