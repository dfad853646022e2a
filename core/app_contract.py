"""What the todo app reads from its environment: the one place that knows each image's contract.

Three cases:

- our own app (``app/``, built and shipped by the stack): the full connection string, database in
  the path, in a mounted secret file named by ``DB_FILE`` (ACI shows plain environment variables
  in the container group's properties, so the key stays out of them); its port in ``PORT``;
  ``/healthz`` answers 200 only when the database answers, ``/livez`` whenever the process serves;
- the seed's ``janakiramm/todo`` (source: janakiramm/todo-app, ``app/db.js``), which reads
  ``DBHOST``, connects to ``DBHOST + '/express-todo'`` and listens on ``PORT``;
- any other image, which is given ``DB`` and ``PORT`` as our app is, and no probes (its health
  endpoints are unknown).

See docs/decisions/0003-seed-image-dbhost.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, unquote, urlencode

# The seed tutorial's image (janakiramm/todo), run with the seed's contract.
SEED_APP_IMAGE: Final = "janakiramm/todo"

# Where the app runs and how its pods are labelled: the program deploys it so, verify finds it so.
NAMESPACE: Final = "todo"
WEB: Final = "web"
APP_LABELS: Final = {"app": "todoapp"}
WEB_LABELS: Final = {**APP_LABELS, "name": WEB}
# Our app (app/todo): the header naming the pod and node that answered, and its page's title. The
# app keeps its own copy (its image is built from app/ alone); a test holds the two equal.
SERVED_BY_HEADER: Final = "X-Served-By"
PAGE_MARKER: Final = "<title>Todos</title>"

PORT_VARIABLE = "PORT"

# Mutual TLS between the entry point and the replicas
# (docs/decisions/0022-mutual-tls-to-replicas.md).
# Our app reads the directory of its TLS files from TLS_DIR and serves only liveness, in plain
# HTTP, on PROBE_PORT, which is no declared containerPort, so ACI does not publish it. The file
# names are those of a ``kubernetes.io/tls`` Secret; the app keeps its own copy of them (its
# image is built from app/ alone) and a test holds the two equal.
TLS_DIR_VARIABLE: Final = "TLS_DIR"
PROBE_PORT_VARIABLE: Final = "PROBE_PORT"
PROBE_PORT: Final = 8081
TLS_CERT_FILE: Final = "tls.crt"
TLS_KEY_FILE: Final = "tls.key"
TLS_CA_FILE: Final = "ca.crt"
# The one name every replica's certificate carries and the entry point checks: an ACI replica's
# IP changes with each container group, so its address cannot be what is checked.
REPLICA_SERVER_NAME: Final = "web-replicas.todo.gke-aci.internal"
# Where every supported app keeps its todos (our app's TodoStore; the seed's mongoose model Todo).
COLLECTION = "todos"


@dataclass(frozen=True)
class AppContract:
    """The variable that carries the database location, how to fill it, and health paths."""

    database_variable: str
    database_value: Callable[[str], str]
    # GET path that answers 200 only when the app can reach its database.
    readiness_path: str | None = None
    # GET path that answers 200 whenever the process serves.
    liveness_path: str | None = None
    # Whether the app creates its collections through the driver (needs metadata writes).
    creates_collections: bool = False
    # Where the app reads the database location from a mounted file, named in
    # ``<database_variable>_FILE``; None: the variable itself carries it.
    database_file: str | None = None
    # The image's non-root user, when known: replicas on GKE then run as it, with a read-only
    # root file system (a writable /tmp is mounted). None: the image's own user, unknown here.
    run_as_user: int | None = None
    # Whether the image serves mutual TLS on its port (TLS_DIR) and liveness on PROBE_PORT, so
    # that behind the entry point only the entry point reaches it.
    serves_mutual_tls: bool = False

    @property
    def database_file_variable(self) -> str:
        return f"{self.database_variable}_FILE"


def _unchanged(connection_string: str) -> str:
    return connection_string


OWN_APP = AppContract(
    database_variable="DB",
    database_value=_unchanged,
    database_file="/run/secrets/todo/DB",
    readiness_path="/healthz",
    liveness_path="/livez",
    # app/Dockerfile: USER 10001:10001.
    run_as_user=10001,
    serves_mutual_tls=True,
)


def contract_for(image: str | None) -> AppContract:
    """The contract of ``image``; ``None`` is our own app, built from ``app/``."""
    if image is None:
        return OWN_APP
    if image_repository(image) == SEED_APP_IMAGE:
        return AppContract(
            database_variable="DBHOST", database_value=seed_dbhost, creates_collections=True
        )
    return AppContract(database_variable="DB", database_value=_unchanged)


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

    The seed's URI parser (muri 1.1.0, under mongoose 4.4) takes the password as written, without
    percent-decoding, so the account key goes in raw. It splits the user info at ``@`` and ``:``,
    which a base64 key never contains.
    """
    base, _, query = connection_string.partition("?")
    scheme, _, rest = base.partition("://")
    user_info, _, location = rest.partition("@")
    user, _, key = user_info.partition(":")
    raw_base = f"{scheme}://{unquote(user)}:{unquote(key)}@{location}" if location else base
    options = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "appName"]
    encoded = urlencode(options, safe="@")
    return f"{raw_base}?{encoded}{'&' if encoded else ''}appName="
