"""Loopback servers that stand in for the clouds at their API boundary, for the verify tests.

- ``KubernetesApi``: HTTPS, the read paths verify uses, objects as the API server returns them,
  a bearer token required; every request recorded.
- ``ResourceManager``: HTTPS, Azure Resource Manager's container group GET, a bearer token
  required; every request recorded.
- ``serve_app``: our real app (app/todo) over HTTP, one or more instances behind a round-robin
  dispatcher (the entry point of the burst mode), on one store.
- ``Silent``: accepts connections and never answers.

TLS uses a throwaway CA (tests/loopback_http.py): the kubeconfig carries it as
certificate-authority-data, the Azure SDK trusts it through REQUESTS_CA_BUNDLE, as it would a
corporate CA.
"""

from __future__ import annotations

import itertools
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loopback_http import Authority, JsonHandler, running, serving
from werkzeug.serving import WSGIRequestHandler, make_server

APP_DIR = Path(__file__).resolve().parent.parent / "app"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

from todo.db import TodoStore  # noqa: E402
from todo.served_by import ServedBy  # noqa: E402
from todo.web import create_app  # noqa: E402

KUBE_TOKEN = "kube-token-from-the-plugin"
AZURE_TOKEN = "azure-token-from-az"

Json = dict[str, Any]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None


def _handler(
    answer: Callable[[str, str, dict[str, list[str]]], tuple[int, Any]],
    record: list[Recorded],
    token: str,
) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            authorization = self.headers.get("Authorization")
            record.append(Recorded(self.command, parts.path, query, authorization))
            if authorization != f"Bearer {token}":
                status, body = 401, {"kind": "Status", "code": 401, "reason": "Unauthorized"}
            else:
                status, body = answer(self.command, parts.path, query)
            self.send_json(status, body)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

    return Handler


# --- Kubernetes ------------------------------------------------------------------------------


@dataclass
class Cluster:
    """The objects the fake API server holds (JSON as the API server returns them)."""

    nodes: list[Json] = field(default_factory=list)
    pods: list[Json] = field(default_factory=list)
    deployments: list[Json] = field(default_factory=list)
    daemon_sets: list[Json] = field(default_factory=list)
    events: list[Json] = field(default_factory=list)
    # "<namespace>/<pod>" -> (status, body) of a log read, when not the default: a line of log
    # for a pod that exists (the API server got it from the pod's kubelet API).
    logs: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def node(self, name: str) -> Json:
        return next(n for n in self.nodes if n["metadata"]["name"] == name)

    def pod(self, name: str) -> Json:
        return next(p for p in self.pods if p["metadata"]["name"] == name)


def _not_found(what: str) -> tuple[int, Json]:
    return 404, {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": f"{what} not found",
        "reason": "NotFound",
        "code": 404,
    }


def _selected(objects: list[Json], query: dict[str, list[str]]) -> list[Json]:
    """Equality label and field selectors, the kinds verify sends; anything else is a bug."""
    chosen = objects
    for term in ",".join(query.get("labelSelector", [])).split(","):
        if term:
            key, _, value = term.partition("=")
            chosen = [o for o in chosen if o["metadata"].get("labels", {}).get(key) == value]
    fields = {
        "spec.nodeName": lambda o: o.get("spec", {}).get("nodeName"),
        "involvedObject.kind": lambda o: o.get("involvedObject", {}).get("kind"),
        "involvedObject.name": lambda o: o.get("involvedObject", {}).get("name"),
    }
    for term in ",".join(query.get("fieldSelector", [])).split(","):
        if term:
            key, _, value = term.partition("=")
            read = fields[key]  # KeyError: a selector the fake does not know
            chosen = [o for o in chosen if read(o) == value]
    return chosen


def _list(kind: str, items: list[Json]) -> tuple[int, Json]:
    return 200, {"apiVersion": "v1", "kind": f"{kind}List", "metadata": {}, "items": items}


class KubernetesApi:
    """The Kubernetes API's read paths, over HTTPS, for the objects in ``cluster``."""

    def __init__(self, cluster: Cluster, tls: Authority) -> None:
        self.cluster = cluster
        self.tls = tls
        self.requests: list[Recorded] = []

    def answer(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if method != "GET":
            return 405, {"kind": "Status", "code": 405}
        c = self.cluster
        parts = path.strip("/").split("/")
        if parts == ["api", "v1", "pods"]:
            return _list("Pod", _selected(c.pods, query))
        if parts == ["api", "v1", "events"]:
            return _list("Event", _selected(c.events, query))
        if parts[:3] == ["api", "v1", "nodes"] and len(parts) == 4:
            return self._one(c.nodes, None, parts[3])
        kinds = {
            ("api", "v1", "pods"): ("Pod", c.pods),
            ("apis", "apps", "v1", "deployments"): ("Deployment", c.deployments),
            ("apis", "apps", "v1", "daemonsets"): ("DaemonSet", c.daemon_sets),
        }
        if "namespaces" in parts:
            i = parts.index("namespaces")
            if len(parts) == i + 5 and parts[i + 2] == "pods" and parts[i + 4] == "log":
                return self._log(parts[i + 1], parts[i + 3], query)
            if len(parts) in (i + 3, i + 4):
                kind, objects = kinds.get((*parts[:i], parts[i + 2]), ("", []))
                namespace = parts[i + 1]
                if len(parts) == i + 3:
                    in_ns = [o for o in objects if o["metadata"].get("namespace") == namespace]
                    return _list(kind, _selected(in_ns, query))
                return self._one(objects, namespace, parts[i + 3])
        return _not_found(path)

    def _log(self, namespace: str, name: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        """A pod's log, as the API server relays it from the kubelet: JSON-quoted text."""
        assert query.get("tailLines") == ["1"], query
        key = f"{namespace}/{name}"
        if key in self.cluster.logs:
            return self.cluster.logs[key]
        status, _ = self._one(self.cluster.pods, namespace, name)
        return (200, "todo app listening on :8080\n") if status == 200 else _not_found(name)

    @staticmethod
    def _one(objects: list[Json], namespace: str | None, name: str) -> tuple[int, Json]:
        for o in objects:
            if o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace:
                return 200, o
        return _not_found(name)

    @contextmanager
    def serve(self) -> Iterator[str]:
        handler = _handler(self.answer, self.requests, KUBE_TOKEN)
        with serving(handler, self.tls) as port:
            yield f"127.0.0.1:{port}"


# --- Azure Resource Manager -------------------------------------------------------------------


@dataclass
class Azure:
    """Container groups by name, in one subscription and resource group."""

    subscription: str
    resource_group: str
    groups: dict[str, Json] = field(default_factory=dict)
    # Answer every request with 409 MissingSubscriptionRegistration (an unregistered provider).
    unregistered: bool = False


def container_group(name: str, ip: str, state: str = "Running") -> Json:
    """A container group as ARM returns it (api-version 2023-05-01)."""
    return {
        "id": f"/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerInstance/"
        f"containerGroups/{name}",
        "name": name,
        "type": "Microsoft.ContainerInstance/containerGroups",
        "location": "westus",
        "properties": {
            "provisioningState": "Succeeded",
            "containers": [{"name": "web", "properties": {"image": "app", "resources": {}}}],
            "osType": "Linux",
            "ipAddress": {"ip": ip, "type": "Public", "ports": [{"port": 8080, "protocol": "TCP"}]},
            "instanceView": {"state": state, "events": []},
        },
    }


class ResourceManager:
    def __init__(self, azure: Azure, tls: Authority) -> None:
        self.azure = azure
        self.tls = tls
        self.requests: list[Recorded] = []

    def answer(self, method: str, path: str, _query: dict[str, list[str]]) -> tuple[int, Json]:
        a = self.azure
        if a.unregistered:
            return 409, {
                "error": {
                    "code": "MissingSubscriptionRegistration",
                    "message": "The subscription is not registered to use namespace "
                    "'Microsoft.ContainerInstance'.",
                }
            }
        prefix = (
            f"/subscriptions/{a.subscription}/resourceGroups/{a.resource_group}"
            "/providers/Microsoft.ContainerInstance/containerGroups/"
        )
        name = path.removeprefix(prefix)
        if method == "GET" and path.startswith(prefix) and name in a.groups:
            return 200, a.groups[name]
        return 404, {
            "error": {
                "code": "ResourceNotFound",
                "message": f"The Resource '{path}' was not found.",
            }
        }

    @contextmanager
    def serve(self) -> Iterator[str]:
        handler = _handler(self.answer, self.requests, AZURE_TOKEN)
        with serving(handler, self.tls) as port:
            yield f"https://127.0.0.1:{port}"


# --- The app and a silent server ---------------------------------------------------------------


class RoundRobin:
    """A WSGI app that hands each request to the next app in turn: the burst entry point."""

    def __init__(self, apps: list[Any]) -> None:
        self._apps = itertools.cycle(apps)
        self._lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        with self._lock:
            app = next(self._apps)
        return app(environ, start_response)


@contextmanager
def serve_app(store: TodoStore, served_by: list[ServedBy]) -> Iterator[str]:
    """Our app over HTTP on loopback, one instance per ``served_by`` on the same store."""
    with serve_wsgi(RoundRobin([create_app(store, who) for who in served_by])) as url:
        yield url


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    with running(server):
        yield f"http://127.0.0.1:{server.server_port}"


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        return None


class Silent:
    """Accepts TCP connections and never answers (nor closes them) until stopped."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                continue
            self._held.append(connection)

    def close(self) -> None:
        self._stopped.set()
        for connection in self._held:
            connection.close()
        self._listener.close()
