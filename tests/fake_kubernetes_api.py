"""A loopback Kubernetes API over HTTPS: the node endpoints the node guard calls, nothing more.

It serves ``GET`` and ``PATCH`` (JSON merge patch) of ``/api/v1/nodes/<name>`` as the real API
server does for them: a bearer token is required, a missing node is a 404 ``Status``, and
``spec.providerID`` may change only from empty (``ValidateNodeUpdate`` answers 422 otherwise).
Tests queue failures to answer the next requests with, and read every request it received.
Its certificate is signed by a throwaway CA the test makes (tests/loopback_http.py).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from loopback_http import Authority, JsonHandler, serving

NODES = "/api/v1/nodes/"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    # time.monotonic() when it arrived.
    at: float


@dataclass
class FakeKubernetesApi:
    """The node API; ``nodes`` maps a name to the stored Node object."""

    authority: Authority
    token: str = "token-1"
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    # (method, status, message): the next request with that method gets that answer instead.
    failures: list[tuple[str, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    _version: int = 1

    @contextmanager
    def serve(self) -> Iterator[FakeKubernetesApi]:
        """Serves the API on a free loopback port (``port``) for the block."""
        api = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                api._handle(self, None)

            def do_PATCH(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                api._handle(self, json.loads(self.rfile.read(length)))

        with serving(Handler, self.authority) as port:
            self.port = port
            yield self

    def fail(self, method: str, status: int, message: str, times: int = 1) -> None:
        """Answers the next ``times`` requests with ``method`` with an error ``Status``."""
        with self.lock:
            self.failures.extend([(method, status, message)] * times)

    def put_node(self, node: dict[str, Any]) -> None:
        """Creates or replaces a node, as the connector registers it."""
        with self.lock:
            stored = copy.deepcopy(node)
            stored["metadata"]["resourceVersion"] = str(self._next_version())
            self.nodes[node["metadata"]["name"]] = stored

    def delete_node(self, name: str) -> None:
        with self.lock:
            del self.nodes[name]

    def node(self, name: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.nodes[name])

    def patches(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == "PATCH"]

    def count(self, method: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.method == method)

    def _next_version(self) -> int:
        self._version += 1
        return self._version

    def _handle(self, handler: JsonHandler, body: Any) -> None:
        with self.lock:
            headers = dict(handler.headers.items())
            request = Request(handler.command, handler.path, headers, body, time.monotonic())
            self.requests.append(request)
            status, payload = self._answer(request)
        handler.send_json(status, payload)

    def _answer(self, request: Request) -> tuple[int, dict[str, Any]]:
        for failure in self.failures:
            if failure[0] == request.method:
                self.failures.remove(failure)
                return _status(failure[1], failure[2])
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized")
        if not request.path.startswith(NODES):
            return _status(404, "the server could not find the requested resource")
        name = request.path.removeprefix(NODES)
        node = self.nodes.get(name)
        if node is None:
            return _status(404, f'nodes "{name}" not found')
        if request.method == "GET":
            return 200, node
        if request.headers.get("Content-Type") != "application/merge-patch+json":
            return _status(415, "unsupported patch type")
        patched = _merge(copy.deepcopy(node), request.body)
        before = node.get("spec", {}).get("providerID", "")
        after = patched.get("spec", {}).get("providerID", "")
        if before and after != before:
            return _status(
                422,
                f'Node "{name}" is invalid: spec.providerID: Forbidden: node updates may not '
                'change providerID except from "" to valid',
            )
        patched["metadata"]["resourceVersion"] = str(self._next_version())
        self.nodes[name] = patched
        return 200, patched


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _status(code: int, message: str) -> tuple[int, dict[str, Any]]:
    return code, {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "code": code,
    }


def virtual_node(
    name: str, uid: str, provider_id: str | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """A node as azure-aci v1.6.4 registers it (pkg/provider/vk_node.go ConfigureNode)."""
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": uid,
            "labels": {
                "type": "virtual-kubelet",
                "kubernetes.io/role": "agent",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "beta.kubernetes.io/os": "linux",
                "alpha.service-controller.kubernetes.io/exclude-balancer": "true",
                "node.kubernetes.io/exclude-from-external-load-balancers": "true",
                "kubernetes.azure.com/managed": "false",
                **(labels or {}),
            },
        },
        "spec": {
            "taints": [
                {"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"}
            ]
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    if provider_id is not None:
        node["spec"]["providerID"] = provider_id
    return node
