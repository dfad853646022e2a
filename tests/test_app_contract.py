"""The app's environment contract and the database connection string."""

from __future__ import annotations

from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest

from components.app_contract import contract_for, image_repository, seed_dbhost
from components.azure_data import connection_string_for_database
from components.todo_app import web_url

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
        ("ghcr.io/example/todo", "ghcr.io/example/todo"),
    ],
)
def test_image_repository(image: str, repository: str) -> None:
    assert image_repository(image) == repository


def test_the_seed_image_reads_dbhost_and_others_read_db() -> None:
    assert contract_for("janakiramm/todo:latest").database_variable == "DBHOST"
    assert contract_for("docker.io/janakiramm/todo").database_variable == "DBHOST"
    other = contract_for("ghcr.io/example/todo:1")
    assert other.database_variable == "DB"
    assert other.database_value("mongodb://x/y?z=1") == "mongodb://x/y?z=1"


def test_seed_dbhost_keeps_every_option_when_the_seed_appends_its_path() -> None:
    uri = connection_string_for_database(PRIMARY, "todo")
    dbhost = seed_dbhost(uri)
    assert dbhost.endswith("&appName=")
    # What the seed app connects to: DBHOST + '/express-todo' (janakiramm/todo-app app/db.js).
    connected = urlsplit(dbhost + "/express-todo")
    assert connected.path == "/todo"
    assert connected.password == quote_plus(KEY)
    options = parse_qs(connected.query)
    assert options["ssl"] == ["true"]
    assert options["replicaSet"] == ["globaldb"]
    assert options["retrywrites"] == ["false"]
    assert options["maxIdleTimeMS"] == ["120000"]
    assert options["appName"] == ["/express-todo"]


def test_seed_dbhost_without_options() -> None:
    assert seed_dbhost("mongodb://u:p@h:1/db") == "mongodb://u:p@h:1/db?appName="


def test_web_url_names_the_port_unless_it_is_80() -> None:
    assert web_url("todo-app", "westus", 80) == "http://todo-app.westus.azurecontainer.io"
    assert web_url("todo-app", "eastus", 8080) == "http://todo-app.eastus.azurecontainer.io:8080"
