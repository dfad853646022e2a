"""The app's environment contract and the database connection string."""

from __future__ import annotations

from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest

from app.todo import mutual_tls
from components.azure_data import connection_string_for_database
from core.app_contract import (
    TLS_CA_FILE,
    TLS_CERT_FILE,
    TLS_KEY_FILE,
    contract_for,
    image_repository,
    seed_dbhost,
)
from specs.web_workload import web_url

KEY = "abc+def/ghi=="
PRIMARY = (
    f"mongodb://acct:{KEY}@acct.mongo.cosmos.azure.com:10255/?ssl=true&replicaSet=globaldb"
    "&retrywrites=false&maxIdleTimeMS=120000&appName=@acct@"
)


def test_the_database_goes_in_the_path_and_the_key_is_quoted() -> None:
    uri = connection_string_for_database(PRIMARY, "todo")
    assert uri == (
        f"mongodb://acct:{quote_plus(KEY)}@acct.mongo.cosmos.azure.com:10255/todo"
        "?ssl=true&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName=@acct@"
    )
    parts = urlsplit(uri)
    assert parts.path == "/todo"
    assert parts.password is not None
    assert parts.password == quote_plus(KEY)


def test_an_already_quoted_key_is_not_quoted_twice() -> None:
    quoted = PRIMARY.replace(KEY, quote_plus(KEY).replace("%2B", "%2b"))
    assert connection_string_for_database(quoted, "todo") == connection_string_for_database(
        PRIMARY, "todo"
    )


def test_an_existing_path_is_replaced() -> None:
    uri = connection_string_for_database(PRIMARY.replace("10255/?", "10255/admin?"), "todo")
    assert urlsplit(uri).path == "/todo"


@pytest.mark.parametrize("broken", [None, "", "mongodb://host:10255/?ssl=true", "not a uri"])
def test_a_missing_or_odd_primary_string_fails_clearly(broken: str | None) -> None:
    with pytest.raises(ValueError, match="Cosmos DB"):
        connection_string_for_database(broken, "todo")


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("janakiramm/todo", "janakiramm/todo"),
        ("janakiramm/todo:latest", "janakiramm/todo"),
        ("docker.io/janakiramm/todo:v1@sha256:" + "a" * 64, "janakiramm/todo"),
        ("localhost:5000/todo:1", "localhost:5000/todo"),
        ("localhost:5000/todo", "localhost:5000/todo"),  # a port is not a tag
        ("index.docker.io/janakiramm/todo", "janakiramm/todo"),
        ("registry-1.docker.io/janakiramm/todo:1", "janakiramm/todo"),
        ("ghcr.io/example/todo", "ghcr.io/example/todo"),
    ],
)
def test_image_repository(image: str, repository: str) -> None:
    assert image_repository(image) == repository


def test_each_image_gets_the_contract_it_reads() -> None:
    own = contract_for(None)
    assert (own.database_variable, own.readiness_path, own.liveness_path) == (
        "DB",
        "/healthz",
        "/livez",
    )
    assert own.database_value("mongodb://x/y?z=1") == "mongodb://x/y?z=1"
    seed = contract_for("janakiramm/todo:latest")
    assert (seed.database_variable, seed.readiness_path) == ("DBHOST", None)
    assert contract_for("docker.io/janakiramm/todo").database_variable == "DBHOST"
    other = contract_for("ghcr.io/example/todo:1")
    assert (other.database_variable, other.readiness_path) == ("DB", None)
    assert other.database_value("mongodb://x/y?z=1") == "mongodb://x/y?z=1"


def seed_parser(uri: str) -> dict[str, object]:
    """How the seed's URI parser (muri 1.1.0 under mongoose 4.4) reads a URI, as documented.

    Everything before the first ``?`` is split at ``@`` into user info and host; the user info at
    ``:`` into user and password, taken verbatim (no percent-decoding before muri 1.2.0); the
    database is what follows the host's first ``/``; options are a query string.
    """
    before_query, _, query = uri.removeprefix("mongodb://").partition("?")
    user_info, _, host_and_db = before_query.partition("@")
    user, _, password = user_info.partition(":")
    host, _, database = host_and_db.partition("/")
    return {
        "user": user,
        "password": password,
        "host": host,
        "database": database,
        "options": parse_qs(query),
    }


def test_seed_dbhost_keeps_every_option_when_the_seed_appends_its_path() -> None:
    uri = connection_string_for_database(PRIMARY, "todo")
    dbhost = seed_dbhost(uri)
    assert dbhost.endswith("&appName=")
    # What the seed app connects to: DBHOST + '/express-todo' (janakiramm/todo-app app/db.js).
    parsed = seed_parser(dbhost + "/express-todo")
    assert parsed["user"] == "acct"
    assert parsed["password"] == KEY  # raw: the seed's parser does not unquote it
    assert parsed["host"] == "acct.mongo.cosmos.azure.com:10255"
    assert parsed["database"] == "todo"
    assert parsed["options"] == {
        "ssl": ["true"],
        "replicaSet": ["globaldb"],
        "retrywrites": ["false"],
        "maxIdleTimeMS": ["120000"],
        "appName": ["/express-todo"],
    }


def test_seed_dbhost_without_options() -> None:
    assert seed_dbhost("mongodb://u:p%2Bq@h:1/db") == "mongodb://u:p+q@h:1/db?appName="


def test_seed_dbhost_without_credentials_keeps_blank_options() -> None:
    assert seed_dbhost("mongodb://h:1/db?x=&ssl=true&appName=@a@") == (
        "mongodb://h:1/db?x=&ssl=true&appName="
    )


def test_web_url_names_the_port_unless_it_is_80() -> None:
    assert web_url("todo-app.westus.azurecontainer.io", 80) == (
        "http://todo-app.westus.azurecontainer.io"
    )
    assert web_url("20.1.2.3", 8080) == "http://20.1.2.3:8080"


def test_the_app_reads_the_tls_files_the_stack_mounts() -> None:
    """The app's image is built from app/ alone, so it keeps its own copy of the names."""
    assert (mutual_tls.CERT_FILE, mutual_tls.KEY_FILE, mutual_tls.CA_FILE) == (
        TLS_CERT_FILE,
        TLS_KEY_FILE,
        TLS_CA_FILE,
    )
    assert contract_for(None).serves_mutual_tls
    assert not contract_for("janakiramm/todo").serves_mutual_tls
