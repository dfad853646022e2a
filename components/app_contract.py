"""What the todo app reads from its environment: the one place that knows each image's contract.

Two images are supported:

- the seed's ``janakiramm/todo`` (source: janakiramm/todo-app, ``app/db.js``), which reads
  ``DBHOST``, connects to ``DBHOST + '/express-todo'`` and listens on ``PORT``;
- any other image, which gets the full connection string (database in the path) in ``DB`` and
  its port in ``PORT``. Our own app (``app/``) follows this contract.

See docs/decisions/0003-seed-image-dbhost.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from settings import SEED_APP_IMAGE

PORT_VARIABLE = "PORT"


@dataclass(frozen=True)
class AppContract:
    """The name of the variable that carries the database location, and how to fill it."""

    database_variable: str
    database_value: Callable[[str], str]


def contract_for(image: str) -> AppContract:
    if image_repository(image) == SEED_APP_IMAGE:
        return AppContract(database_variable="DBHOST", database_value=seed_dbhost)
    return AppContract(database_variable="DB", database_value=lambda uri: uri)


def image_repository(image: str) -> str:
    """``docker.io/janakiramm/todo:latest@sha256:...`` -> ``janakiramm/todo``."""
    name = image.split("@", 1)[0]
    last_slash = name.rfind("/")
    if ":" in name[last_slash + 1 :]:
        name = name[: name.rfind(":")]
    for registry in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        name = name.removeprefix(registry)
    return name


def seed_dbhost(connection_string: str) -> str:
    """A ``DBHOST`` value that survives the seed image appending ``/express-todo`` to it.

    The seed app connects to ``DBHOST + '/express-todo'``. Appending a path after a query string
    would corrupt the last option (``replicaSet=globaldb/express-todo``), and dropping the query
    would drop TLS, which Cosmos DB requires. So the connection string is given with its
    ``appName`` option moved last and left empty: the appended ``/express-todo`` becomes the
    application name, every other option survives, and the data lands in the database the
    connection string names.
    """
    base, _, query = connection_string.partition("?")
    options = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "appName"]
    encoded = urlencode(options, safe="@")
    return f"{base}?{encoded}{'&' if encoded else ''}appName="
