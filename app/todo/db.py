"""The MongoDB client, set up for Cosmos DB's MongoDB API, and the narrow store the web layer uses.

Why these client options:

- ``retryWrites=False``: Cosmos DB does not support retryable writes, and PyMongo 4 turns them on
  by default. The primary connection string says ``retrywrites=false`` too; this makes it certain.
- ``maxIdleTimeMS=120000``: Cosmos DB cuts idle connections after about four minutes; closing them
  sooner on our side avoids using a connection the server has already dropped.
- Short server-selection, connect and socket timeouts: when the database is unreachable a request
  fails in seconds with a clear 503 instead of hanging until gunicorn kills the worker.
- TLS, the replica set and the database come from the URI (``ssl=true``, ``replicaSet=globaldb``,
  ``/todo``). The URI is passed as it is: the stack has already percent-quoted the key in it.

No write concern or sessions are relied on (Cosmos DB ignores the first and lacks server sessions),
and the app creates no indexes (with key-based metadata writes disabled that would fail). Lists are
sorted by ``_id``, which Cosmos DB always indexes; sorting by another field needs an index there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import DESCENDING, MongoClient, ReturnDocument
from pymongo.collection import Collection

from todo.model import Todo

COLLECTION = "todos"
LIST_LIMIT = 1000
SERVER_SELECTION_TIMEOUT_MS = 5_000
CONNECT_TIMEOUT_MS = 5_000
SOCKET_TIMEOUT_MS = 10_000
MAX_IDLE_TIME_MS = 120_000

Document = dict[str, Any]


def make_client(
    uri: str,
    *,
    connect: bool = True,
    server_selection_timeout_ms: int = SERVER_SELECTION_TIMEOUT_MS,
) -> MongoClient[Document]:
    """A client for ``uri`` with the options Cosmos DB needs (see the module docstring)."""
    return MongoClient(
        uri,
        connect=connect,
        retryWrites=False,
        maxIdleTimeMS=MAX_IDLE_TIME_MS,
        serverSelectionTimeoutMS=server_selection_timeout_ms,
        connectTimeoutMS=CONNECT_TIMEOUT_MS,
        socketTimeoutMS=SOCKET_TIMEOUT_MS,
        tz_aware=True,
    )


def todo_collection(client: MongoClient[Document]) -> Collection[Document]:
    """The ``todos`` collection of the database named in the connection string's path."""
    return client.get_default_database()[COLLECTION]


class TodoStore:
    """List, get, create, update and delete todos; any driver error propagates as PyMongoError.

    An id that is not a valid ObjectId is treated like an unknown one (``None``/``False``), so the
    web layer answers 404 for both.
    """

    def __init__(self, collection: Collection[Document]) -> None:
        self._collection = collection

    def close(self) -> None:
        """Close the client behind the collection (its pools and monitor threads)."""
        self._collection.database.client.close()

    def ping(self) -> None:
        """Round-trip to the server; raises PyMongoError when it cannot be reached."""
        self._collection.database.command("ping")

    def list_all(self) -> list[Todo]:
        """The newest todos first (at most LIST_LIMIT of them)."""
        cursor = self._collection.find().sort("_id", DESCENDING).limit(LIST_LIMIT)
        return [Todo.from_document(document) for document in cursor]

    def get(self, todo_id: str) -> Todo | None:
        oid = _object_id(todo_id)
        document = None if oid is None else self._collection.find_one({"_id": oid})
        return None if document is None else Todo.from_document(document)

    def create(self, text: str) -> Todo:
        now = _now()
        document: Document = {"_id": ObjectId(), "text": text, "created_at": now, "updated_at": now}
        self._collection.insert_one(document)
        return Todo.from_document(document)

    def update(self, todo_id: str, text: str) -> Todo | None:
        oid = _object_id(todo_id)
        if oid is None:
            return None
        document = self._collection.find_one_and_update(
            {"_id": oid},
            {"$set": {"text": text, "updated_at": _now()}},
            return_document=ReturnDocument.AFTER,
        )
        return None if document is None else Todo.from_document(document)

    def delete(self, todo_id: str) -> bool:
        oid = _object_id(todo_id)
        return oid is not None and self._collection.delete_one({"_id": oid}).deleted_count == 1


def _object_id(todo_id: str) -> ObjectId | None:
    """The ObjectId a 24-hex-digit id names, or None for anything else."""
    return ObjectId(todo_id) if ObjectId.is_valid(todo_id) else None


def _now() -> datetime:
    """Now in UTC, cut to milliseconds as BSON stores it: a new todo equals its stored copy."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
