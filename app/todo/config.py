"""The app's configuration, read from the environment only: ``DB`` (or ``DB_FILE``), ``PORT``,
``POD_NAME``/``NODE_NAME`` (optional; see ``todo.served_by``), and ``TLS_DIR`` and ``PROBE_PORT``
(optional; see ``todo.mutual_tls``).

``DB_FILE`` names a file that holds the connection string, for platforms where environment
variables are visible to whoever can read the deployment (ACI shows plain variables in the
container group's properties; a mounted secret file is not shown).

A bad value stops the process at start with one line on stderr that names the variable and what is
wrong with it. The line never repeats ``DB``'s value, because that value carries the database key.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload
from urllib.parse import unquote, unquote_plus

from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from todo.mutual_tls import TlsFiles, TlsFilesError, tls_files_in
from todo.served_by import ServedBy, ServedByError, served_by_from

DEFAULT_PORT = 8080
EXIT_CONFIG_ERROR = 2

_SCHEMES = ("mongodb://", "mongodb+srv://")
# MongoDB database names: none of /\. "$*<>:|? or NUL, and shorter than 64 bytes.
_DATABASE_NAME = re.compile(r'[^/\\. "$*<>:|?\x00]+')
# A host name or an IPv4 or [IPv6] address, with an optional port.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._%-]+)(:[0-9]{1,5})?")


class ConfigError(ValueError):
    """A configuration problem, worded for the operator and free of secrets."""


@dataclass(frozen=True)
class Config:
    """What the app needs to start; ``repr`` leaves out the connection string."""

    database_uri: str = field(repr=False)
    database: str
    hosts: tuple[str, ...]
    port: int
    served_by: ServedBy = field(default_factory=ServedBy.of_this_host)
    # Set: the app's port serves TLS only to clients with a certificate from the files' CA.
    tls: TlsFiles | None = None
    # Set: a plain HTTP port that answers liveness and nothing else (todo.probe).
    probe_port: int | None = None


def load_config(environ: Mapping[str, str]) -> Config:
    """Read ``DB`` or ``DB_FILE``, ``PORT``, the served-by names, ``TLS_DIR`` and ``PROBE_PORT``;
    raise ConfigError naming the first problem."""
    uri = read_database_uri(environ)
    database, hosts = parse_database_uri(uri)
    try:
        served_by = served_by_from(environ)
        tls = tls_files_in(environ.get("TLS_DIR", "").strip())
    except (ServedByError, TlsFilesError) as error:
        raise ConfigError(str(error)) from None
    port = parse_port(environ)
    probe_port = parse_port(environ, "PROBE_PORT", default=None)
    if probe_port == port:
        raise ConfigError(f"PROBE_PORT must differ from PORT ({port})")
    return Config(
        database_uri=uri,
        database=database,
        hosts=hosts,
        port=port,
        served_by=served_by,
        tls=tls,
        probe_port=probe_port,
    )


def read_database_uri(environ: Mapping[str, str]) -> str:
    """The connection string from ``DB``, or from the file ``DB_FILE`` names (one, not both)."""
    path = environ.get("DB_FILE", "").strip()
    if not path:
        return environ.get("DB", "").strip()
    if environ.get("DB", "").strip():
        raise ConfigError("DB and DB_FILE are both set: give the connection string one way")
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"DB_FILE {path[:200]!r} cannot be read: {error.strerror}") from None


def parse_database_uri(uri: str) -> tuple[str, tuple[str, ...]]:
    """The database name (from the URI path) and the hosts of a MongoDB connection string."""
    if not uri:
        raise ConfigError(
            "DB is not set: give the MongoDB connection string, with the database name in its path"
        )
    scheme = next((s for s in _SCHEMES if uri.startswith(s)), None)
    if scheme is None:
        raise ConfigError("DB is not a mongodb:// or mongodb+srv:// connection string")
    # As the driver does: the host list ends at the first '/', the path at the '?'.
    rest = uri[len(scheme) :].partition("?")[0]
    authority, slash, path = rest.partition("/")
    userinfo, _, host_list = authority.rpartition("@")
    hosts = tuple(host_list.split(",")) if host_list else ()
    if not hosts:
        raise ConfigError("DB names no host")
    if not all(_HOST.fullmatch(host) for host in hosts):
        raise ConfigError("DB's host list is malformed (are the user name and key percent-quoted?)")
    database = unquote(path)
    if not slash or not database:
        raise ConfigError(
            "DB has no database name in its path (mongodb://HOST:PORT/DATABASE?OPTIONS)"
        )
    if "@" in database:
        # Legal in a database name, but here it means a '/' in the key was left unquoted.
        raise ConfigError("DB's path holds an '@': percent-quote the user name and key")
    if not _DATABASE_NAME.fullmatch(database) or len(database.encode()) >= 64:
        raise ConfigError("DB's database name is not a valid MongoDB database name")
    if scheme == "mongodb://":
        # The driver's own parser catches what the checks above do not: an unquoted ':' in the
        # key, an unknown option, a bad option value. Strictly: MongoClient would only warn and
        # drop a bad value, and a dropped ssl=... means no TLS. Parsing a mongodb+srv:// URI
        # would need a DNS lookup, so those get the checks above only.
        try:
            parse_uri(uri, warn=False)
        except (PyMongoError, ValueError) as error:
            raise ConfigError(
                f"DB is not a valid MongoDB connection string: {_redact(str(error), userinfo)}"
            ) from None
    return database, hosts


@overload
def parse_port(environ: Mapping[str, str], variable: str = "PORT") -> int: ...
@overload
def parse_port(environ: Mapping[str, str], variable: str, default: None) -> int | None: ...
def parse_port(
    environ: Mapping[str, str], variable: str = "PORT", default: int | None = DEFAULT_PORT
) -> int | None:
    """``variable``, a TCP port number; unset or empty means ``default`` (8080 for ``PORT``)."""
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"{variable} must be a whole number from 1 to 65535, not {raw[:20]!r}")
    return int(raw)


def load_config_or_exit(
    environ: Mapping[str, str] | None = None, *, exit_status: int = EXIT_CONFIG_ERROR
) -> Config:
    """The configuration, or one line on stderr and SystemExit: a traceback would help nobody."""
    try:
        return load_config(os.environ if environ is None else environ)
    except ConfigError as error:
        print(f"todo: configuration error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(exit_status) from None


def configure_logging() -> None:
    """One log format on stderr for the entry points (library modules only get loggers)."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
    )


def _redact(message: str, userinfo: str) -> str:
    """Remove the password, raw or unquoted, from a driver error message."""
    password = userinfo.partition(":")[2]
    secrets = {password, unquote(password), unquote_plus(password)}
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        message = message.replace(secret, "***")
    return message
