"""DB and PORT: good values parse; bad ones stop the process with one clear line and no secret."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote_plus, unquote, unquote_plus

import pytest
from pymongo.errors import InvalidURI

import todo.config
from todo.config import (
    EXIT_CONFIG_ERROR,
    ConfigError,
    load_config,
    load_config_or_exit,
)

KEY = "s3cr3t+k/ey=="
QUOTED = quote_plus(KEY)
COSMOS = (
    f"mongodb://acct:{QUOTED}@acct.mongo.cosmos.azure.com:10255/todo?ssl=true"
    "&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName=@acct@"
)


def test_a_cosmos_connection_string_gives_database_hosts_and_port() -> None:
    config = load_config({"DB": COSMOS, "PORT": "8080"})
    assert config.database == "todo"
    assert config.hosts == ("acct.mongo.cosmos.azure.com:10255",)
    assert config.port == 8080
    assert config.database_uri == COSMOS
    assert KEY not in repr(config)
    assert QUOTED not in repr(config)


def test_the_connection_string_can_come_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "DB"
    secret_file.write_text(COSMOS + "\n")
    config = load_config({"DB_FILE": str(secret_file)})
    assert config.database_uri == COSMOS
    assert config.database == "todo"


def test_db_file_problems_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config({"DB_FILE": str(tmp_path / "missing")})
    (tmp_path / "DB").write_text(COSMOS)
    with pytest.raises(ConfigError, match="both set"):
        load_config({"DB_FILE": str(tmp_path / "DB"), "DB": COSMOS})
    (tmp_path / "empty").write_text("")
    with pytest.raises(ConfigError, match="DB is not set"):
        load_config({"DB_FILE": str(tmp_path / "empty")})


def test_port_defaults_to_8080_and_is_read_when_set() -> None:
    assert load_config({"DB": "mongodb://localhost:27017/todo"}).port == 8080
    assert load_config({"DB": "mongodb://localhost:27017/todo", "PORT": " 3000 "}).port == 3000
    # Both ends of the range are ports.
    for port in ("1", "65535"):
        assert load_config({"DB": "mongodb://localhost:27017/todo", "PORT": port}).port == int(port)


def test_srv_and_multi_host_uris_are_accepted_without_network() -> None:
    srv = load_config(
        {"DB": f"mongodb+srv://u:{QUOTED}@cluster0.example.net/app?retryWrites=false"}
    )
    assert (srv.database, srv.hosts) == ("app", ("cluster0.example.net",))
    multi = load_config({"DB": "mongodb://h1:27017,h2:27018/db1?replicaSet=rs"})
    assert multi.hosts == ("h1:27017", "h2:27018")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "DB is not set"),
        ({"DB": "   "}, "DB is not set"),
        ({"DB": f"postgres://acct:{QUOTED}@host/todo"}, "not a mongodb:// or mongodb+srv://"),
        ({"DB": f"acct:{QUOTED}@host:10255/todo"}, "not a mongodb:// or mongodb+srv://"),
        ({"DB": COSMOS.replace("10255/todo?", "10255/?")}, "no database name in its path"),
        ({"DB": COSMOS.replace("10255/todo?", "10255?")}, "no database name in its path"),
        ({"DB": f"mongodb://acct:{QUOTED}@/todo"}, "DB names no host"),
        ({"DB": COSMOS.replace("/todo?", "/to.do?")}, "not a valid MongoDB database name"),
        ({"DB": COSMOS.replace("/todo?", f"/{'d' * 64}?")}, "not a valid MongoDB database name"),
        # The key left unquoted: its '/' ends the host list early.
        ({"DB": COSMOS.replace(QUOTED, KEY)}, "host list is malformed"),
        ({"DB": "mongodb://acct:123/s3cr3t@host:10255/todo"}, "percent-quote"),
        ({"DB": COSMOS.replace(":10255", ":notaport")}, "host list is malformed"),
        ({"DB": COSMOS.replace("ssl=true", "ssl=maybe")}, "not a valid MongoDB connection string"),
        ({"DB": COSMOS + "&sll=true"}, "not a valid MongoDB connection string"),
        ({"DB": COSMOS, "PORT": "eighty"}, "PORT must be a whole number from 1 to 65535"),
        ({"DB": COSMOS, "PORT": "0"}, "PORT must be a whole number from 1 to 65535"),
        ({"DB": COSMOS, "PORT": "65536"}, "PORT must be a whole number from 1 to 65535"),
        ({"DB": COSMOS, "PORT": "-1"}, "PORT must be a whole number from 1 to 65535"),
        ({"DB": COSMOS, "PORT": "\uff18\uff10"}, "PORT must be a whole number from 1 to 65535"),
    ],
)
def test_bad_configuration_exits_with_one_line_and_no_secret(
    environ: dict[str, str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        load_config_or_exit(environ)
    assert exit_info.value.code == EXIT_CONFIG_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("todo: configuration error: ")
    assert expected in lines[0]
    assert "Traceback" not in captured.err
    for secret in (KEY, QUOTED, "s3cr3t"):
        assert secret not in captured.err


# A key as it can sit in a URI: a literal '+' and percent-escapes. The driver may quote it back
# raw, percent-decoded ('+' kept) or form-decoded ('+' as a space), depending on where it fails.
RAW_KEY = "k3y+v%2Fa1%3D"
KEY_FORMS = {
    "raw": RAW_KEY,
    "percent-decoded": unquote(RAW_KEY),
    "plus-decoded": unquote_plus(RAW_KEY),
}


@pytest.mark.parametrize("form", list(KEY_FORMS))
def test_a_driver_error_that_quotes_the_key_is_redacted(
    form: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Older drivers echoed parts of the URI in their errors; ours passes none of the key on."""
    key = KEY_FORMS[form]
    assert len(set(KEY_FORMS.values())) == 3  # three distinct strings, so each is tested

    def driver_that_echoes(uri: str, warn: bool = False) -> None:
        assert RAW_KEY in uri  # the driver is handed the URI as configured
        raise InvalidURI(f"authSource is wrong near '{key}' (see the driver's docs)")

    monkeypatch.setattr(todo.config, "parse_uri", driver_that_echoes)
    uri = f"mongodb://acct:{RAW_KEY}@acct.mongo.cosmos.azure.com:10255/todo?ssl=true"

    with pytest.raises(ConfigError) as error:
        load_config({"DB": uri})
    message = str(error.value)
    assert key not in message
    # The rest of the driver's words are passed on, with the key cut out.
    assert message == (
        "DB is not a valid MongoDB connection string: "
        "authSource is wrong near '***' (see the driver's docs)"
    )
    with pytest.raises(SystemExit):
        load_config_or_exit({"DB": uri})
    stderr = capsys.readouterr().err
    assert all(shown not in stderr for shown in KEY_FORMS.values())


def test_a_driver_error_that_quotes_every_form_of_the_key_is_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def driver_that_echoes(_uri: str, warn: bool = False) -> None:
        raise InvalidURI(" / ".join(KEY_FORMS.values()))

    monkeypatch.setattr(todo.config, "parse_uri", driver_that_echoes)
    with pytest.raises(ConfigError) as error:
        load_config({"DB": f"mongodb://acct:{RAW_KEY}@host:10255/todo"})
    assert str(error.value).endswith(": *** / *** / ***")


def test_a_key_with_an_unquoted_colon_is_cut_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # The driver refuses it; everything after the user name's ':' is the key.
    def driver_that_echoes(uri: str, warn: bool = False) -> None:
        raise InvalidURI(f"<{uri.split('@')[0].partition(':')[2].partition(':')[2]}>")

    monkeypatch.setattr(todo.config, "parse_uri", driver_that_echoes)
    with pytest.raises(ConfigError) as error:
        load_config({"DB": "mongodb://acct:k3y:more@host:10255/todo"})
    assert "k3y" not in str(error.value)
    assert str(error.value).endswith(": <***>")


def test_a_key_whose_decoded_form_is_part_of_it_is_cut_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 's3cr3t%25' decodes to 's3cr3t%', its own prefix: cutting that first would leave '25'.
    def driver_that_echoes(uri: str, warn: bool = False) -> None:
        raise InvalidURI(f"<{uri.split('@')[0].rpartition(':')[2]}>")

    monkeypatch.setattr(todo.config, "parse_uri", driver_that_echoes)
    with pytest.raises(ConfigError) as error:
        load_config({"DB": "mongodb://acct:s3cr3t%25@host:10255/todo"})
    assert str(error.value).endswith(": <***>")


def test_the_real_drivers_error_is_passed_on_without_the_key() -> None:
    # An unquoted ':' in the password makes the driver refuse the URI.
    with pytest.raises(ConfigError, match="not a valid MongoDB connection string") as error:
        load_config({"DB": "mongodb://acct:s3cr3t:x@host:10255/todo"})
    assert "s3cr3t" not in str(error.value)
    assert "escaped according to RFC 3986" in str(error.value)


def test_the_exit_status_can_be_chosen(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        load_config_or_exit({}, exit_status=3)
    assert exit_info.value.code == 3
    assert "DB is not set" in capsys.readouterr().err
