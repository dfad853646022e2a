"""The driver is set up as Cosmos DB needs; TodoStore keeps todos in the ``todos`` collection."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast
from urllib.parse import quote_plus

import pytest
from bson import ObjectId
from pymongo.uri_parser import parse_uri

import todo.db as todo_db
from todo.db import (
    CONNECT_TIMEOUT_MS,
    MAX_IDLE_TIME_MS,
    SERVER_SELECTION_TIMEOUT_MS,
    SOCKET_TIMEOUT_MS,
    TodoStore,
    make_client,
    todo_collection,
)
from todo.model import Todo

KEY = "aB3+xY/zQ9==w+/="
COSMOS = (
    f"mongodb://acct:{quote_plus(KEY)}@acct.mongo.cosmos.azure.com:10255/todo?ssl=true"
    "&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName=@acct@"
)


def test_the_quoted_key_parses_back_to_the_raw_key() -> None:
    assert "+" not in quote_plus(KEY)
    assert "/" not in quote_plus(KEY)
    parsed = parse_uri(COSMOS)
    assert parsed["username"] == "acct"
    assert parsed["password"] == KEY
    assert parsed["database"] == "todo"
    assert parsed["nodelist"] == [("acct.mongo.cosmos.azure.com", 10255)]


COSMOS_WARNING = "ignore:You appear to be connected to a CosmosDB cluster"


@pytest.mark.filterwarnings(COSMOS_WARNING)
def test_the_client_has_the_options_cosmos_db_needs() -> None:
    client = make_client(COSMOS, connect=False)
    try:
        options = client.options
        assert options.retry_writes is False
        assert options.server_selection_timeout == SERVER_SELECTION_TIMEOUT_MS / 1000
        assert options.replica_set_name == "globaldb"
        pool = options.pool_options
        assert pool.max_idle_time_seconds == MAX_IDLE_TIME_MS / 1000 == 120
        assert pool.connect_timeout == CONNECT_TIMEOUT_MS / 1000
        assert pool.socket_timeout == SOCKET_TIMEOUT_MS / 1000
        assert pool._ssl_context is not None  # TLS, because the URI says ssl=true
        assert client.codec_options.tz_aware is True
        assert pool.tls_allow_invalid_hostnames is False
        assert client.get_default_database().name == "todo"
        collection = todo_collection(client)
        # The collection the stack declares (components/azure_data.py).
        assert (collection.database.name, collection.name) == ("todo", "todos")
        assert KEY not in repr(client)
        assert quote_plus(KEY) not in repr(client)
    finally:
        client.close()


@pytest.mark.filterwarnings(COSMOS_WARNING)
def test_retry_writes_stays_off_even_if_the_uri_asks_for_it() -> None:
    client = make_client(COSMOS.replace("retrywrites=false", "retrywrites=true"), connect=False)
    try:
        assert client.options.retry_writes is False
    finally:
        client.close()


def test_tls_is_off_when_the_uri_does_not_ask_for_it() -> None:
    client = make_client("mongodb://localhost:27017/todo", connect=False)
    try:
        assert client.options.pool_options._ssl_context is None
        assert client.get_default_database().name == "todo"
        # The Cosmos DB options hold whatever the URI says.
        assert client.options.pool_options.max_idle_time_seconds == MAX_IDLE_TIME_MS / 1000
        assert client.options.retry_writes is False
    finally:
        client.close()


def test_create_get_list_update_delete(store: TodoStore, collection: Any) -> None:
    first = store.create("buy milk")
    second = store.create("walk the dog")
    assert ObjectId.is_valid(first.id)
    assert first.created_at == first.updated_at
    assert first.created_at.tzinfo is not None

    stored = collection.find_one({"_id": ObjectId(first.id)})
    assert stored["text"] == "buy milk"
    assert isinstance(stored["created_at"], datetime)
    assert set(stored) == {"_id", "text", "created_at", "updated_at"}

    assert store.get(first.id) == first
    assert [todo.id for todo in store.list_all()] == [second.id, first.id]  # newest first

    updated = store.update(first.id, "buy oat milk")
    assert updated is not None
    assert updated.text == "buy oat milk"
    assert updated.created_at == first.created_at
    assert updated.updated_at >= first.updated_at
    assert store.get(first.id) == updated

    assert store.delete(first.id) is True
    assert store.get(first.id) is None
    assert store.delete(first.id) is False
    assert [todo.id for todo in store.list_all()] == [second.id]


@pytest.mark.parametrize("todo_id", ["nope", "", "0" * 23, "g" * 24, "0" * 24])
def test_unknown_or_malformed_ids_are_not_found(store: TodoStore, todo_id: str) -> None:
    store.create("something")
    assert store.get(todo_id) is None
    assert store.update(todo_id, "x") is None
    assert store.delete(todo_id) is False
    assert len(store.list_all()) == 1


@pytest.fixture
def away_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is not UTC (as on a developer's machine)."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("away_from_utc")
def test_naive_stored_times_are_read_as_utc(store: TodoStore, collection: Any) -> None:
    oid = collection.insert_one({"text": "old", "created_at": datetime(2020, 1, 2, 3, 4, 5)})
    todo = store.get(str(oid.inserted_id))
    assert todo is not None
    assert todo.created_at == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert todo.created_at.utcoffset() == timedelta(0)
    assert todo.updated_at == todo.created_at


@pytest.mark.usefixtures("away_from_utc")
def test_stored_times_are_shown_in_utc_whatever_their_zone(
    store: TodoStore, collection: Any
) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    created = datetime(2020, 1, 2, 9, 0, tzinfo=india)
    oid = collection.insert_one(
        {"text": "t", "created_at": created, "updated_at": datetime(2021, 6, 7, 8, 9, 10)}
    )
    todo = store.get(str(oid.inserted_id))
    assert todo is not None
    assert todo.to_json()["created_at"] == "2020-01-02T03:30:00+00:00"
    assert todo.to_json()["updated_at"] == "2021-06-07T08:09:10+00:00"
    # A document without dates (not one of ours) still gets valid ones.
    bare = collection.insert_one({"text": "bare"}).inserted_id
    todo = store.get(str(bare))
    assert todo is not None
    assert todo.created_at == todo.updated_at == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.usefixtures("away_from_utc")
def test_new_and_updated_todos_carry_the_current_utc_time(
    store: TodoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = datetime.now(UTC)
    todo = store.create("x")
    assert timedelta(0) <= todo.created_at - before.replace(microsecond=0) < timedelta(minutes=1)
    assert todo.created_at.microsecond % 1000 == 0  # milliseconds, as BSON keeps them
    later = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    monkeypatch.setattr(todo_db, "datetime", FrozenClock(later))
    updated = store.update(todo.id, "y")
    assert updated is not None
    assert updated.updated_at == later.replace(microsecond=123000)
    assert updated.created_at == todo.created_at
    assert store.get(todo.id) == updated


@pytest.mark.usefixtures("away_from_utc")
def test_aware_times_from_the_driver_are_converted_not_relabelled() -> None:
    # The real client is tz_aware: it hands back aware datetimes, in any zone.
    india = timezone(timedelta(hours=5, minutes=30))
    document = {
        "_id": ObjectId(),
        "text": "t",
        "created_at": datetime(2020, 1, 2, 9, 0, tzinfo=india),
    }
    todo = Todo.from_document(document)
    assert todo.created_at == datetime(2020, 1, 2, 3, 30, tzinfo=UTC)
    assert todo.created_at.utcoffset() == timedelta(0)
    assert todo.to_json()["created_at"] == "2020-01-02T03:30:00+00:00"


class FrozenClock:
    """Stands in for ``datetime`` in todo.db: ``now`` is always ``moment``."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self, tz: Any = None) -> datetime:
        assert tz is UTC
        return self.moment


def test_the_driver_gives_up_before_gunicorn_kills_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slow database gives the request a 503, not a killed worker (see todo.gunicorn_conf)."""
    monkeypatch.setenv("DB", "mongodb://localhost:27017/todo")
    monkeypatch.delenv("DB_FILE", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delitem(sys.modules, "todo.gunicorn_conf", raising=False)
    gunicorn_conf = importlib.import_module("todo.gunicorn_conf")
    # Worst case for one operation: find a server, connect, wait for the answer.
    longest_ms = SERVER_SELECTION_TIMEOUT_MS + CONNECT_TIMEOUT_MS + SOCKET_TIMEOUT_MS
    assert longest_ms / 1000 < gunicorn_conf.timeout
    # Long enough for a healthy Cosmos DB across regions (judged: a second at least).
    assert min(SERVER_SELECTION_TIMEOUT_MS, CONNECT_TIMEOUT_MS, SOCKET_TIMEOUT_MS) >= 1_000


class RecordingDatabase:
    """Stands in for a collection and its database; records the commands it is sent."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    @property
    def database(self) -> RecordingDatabase:
        return self

    def command(self, name: str) -> dict[str, int]:
        self.commands.append(name)
        return {"ok": 1}


def test_ping_asks_the_server() -> None:
    database = RecordingDatabase()
    TodoStore(cast(Any, database)).ping()
    assert database.commands == ["ping"]
