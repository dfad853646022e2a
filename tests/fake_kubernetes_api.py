"""A loopback Kubernetes API over HTTPS: the endpoints the node guard and the serving-certificate
step and approver call, nothing more.

It serves ``GET`` and ``PATCH`` (JSON merge patch) of ``/api/v1/nodes/<name>`` and ``PATCH`` of
``/apis/apps/v1/namespaces/<namespace>/deployments/<name>`` as the real API server does for
them: a bearer token is required; a missing object is the 404 ``Status`` that names it
(apimachinery ``NewNotFound``: reason ``NotFound``, ``details`` with the resource and the name),
any other path the 404 that names nothing; ``spec.providerID`` may change only from empty
(``ValidateNodeUpdate`` answers 422 otherwise). A patched Deployment template calls
``on_restart``, where a test plays the Deployment controller and the new connector. Tests queue
failures to answer the next requests with, run a change just before the next request of a
method (``before``), and read every request it received. Its certificate is signed by a
throwaway CA the test makes (tests/loopback_http.py).

For the kubelet serving certificate it stores CertificateSigningRequests as the API server does
(``POST`` records the requester from the token: ``users``; ``GET`` one or the list, by signer;
``PUT .../approval`` records the conditions) and answers ``GET`` of the pods in ``pods``. When a
request is approved, ``sign`` (the stand-in for GKE's signer) issues its certificate.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from loopback_http import Authority, JsonHandler, serving

NODES = "/api/v1/nodes/"
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


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
    # "<namespace>/<name>" -> the Deployment's pod template annotations.
    deployments: dict[str, dict[str, str]] = field(default_factory=dict)
    # Called (outside the lock) after a patch of a Deployment's template, with its key.
    on_restart: Callable[[str], None] | None = None
    requests: list[Request] = field(default_factory=list)
    # (method, status, message, details): the next request with that method gets that answer.
    failures: list[tuple[str, int, str, dict[str, str] | None]] = field(default_factory=list)
    # (method, change): the change runs just before the next request with that method is answered.
    changes: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    # Other tokens than ``token``: who they authenticate, {"username": ..., "extra": {...}}.
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    csrs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # "<namespace>/<name>" -> the Pod.
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Issues the PEM certificate of an approved CSR (given the CSR object), as a signer does.
    sign: Callable[[dict[str, Any]], str] | None = None
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

            do_POST = do_PATCH
            do_PUT = do_PATCH

        with serving(Handler, self.authority) as port:
            self.port = port
            yield self

    def fail(
        self,
        method: str,
        status: int,
        message: str,
        times: int = 1,
        details: dict[str, str] | None = None,
    ) -> None:
        """Answers the next ``times`` requests with ``method`` with an error ``Status`` (with
        reason NotFound and these ``details`` when given)."""
        with self.lock:
            self.failures.extend([(method, status, message, details)] * times)

    def before(self, method: str, change: Callable[[], None]) -> None:
        """Runs ``change`` just before the next request with ``method`` is answered."""
        with self.lock:
            self.changes.append((method, change))

    def put_deployment(self, namespace: str, name: str) -> None:
        with self.lock:
            self.deployments[f"{namespace}/{name}"] = {}

    def restarts(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if "/deployments/" in r.path]

    def node_or_none(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            return copy.deepcopy(self.nodes.get(name))

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
        """The patches of nodes."""
        with self.lock:
            return [r for r in self.requests if r.method == "PATCH" and r.path.startswith(NODES)]

    def count(self, method: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.method == method)

    def _next_version(self) -> int:
        self._version += 1
        return self._version

    def _handle(self, handler: JsonHandler, body: Any) -> None:
        with self.lock:
            change = next((c for c in self.changes if c[0] == handler.command), None)
            if change is not None:
                self.changes.remove(change)
        if change is not None:
            change[1]()
        restarted = None
        with self.lock:
            headers = dict(handler.headers.items())
            request = Request(handler.command, handler.path, headers, body, time.monotonic())
            self.requests.append(request)
            status, payload = self._answer(request)
            if status == 200 and "/deployments/" in request.path:
                restarted = _deployment_key(request.path)
        handler.send_json(status, payload)
        if restarted is not None and self.on_restart is not None:
            self.on_restart(restarted)

    def _answer(self, request: Request) -> tuple[int, dict[str, Any]]:
        for failure in self.failures:
            if failure[0] == request.method:
                self.failures.remove(failure)
                return _status(failure[1], failure[2], failure[3])
        authorization = request.headers.get("Authorization", "")
        user = self.users.get(authorization.removeprefix("Bearer "))
        if authorization != f"Bearer {self.token}" and user is None:
            return _status(401, "Unauthorized")
        if request.path.startswith(CSRS):
            return self._csr(request, user or {})
        if request.path.startswith("/api/v1/namespaces/") and request.path.endswith("/pods"):
            namespace = request.path.split("/")[4]
            items = [p for key, p in self.pods.items() if key.startswith(f"{namespace}/")]
            return 200, {"kind": "PodList", "items": copy.deepcopy(items)}
        if request.path.startswith("/api/v1/namespaces/") and "/pods/" in request.path:
            parts = request.path.split("/")
            pod = self.pods.get(f"{parts[4]}/{parts[6]}")
            return (200, pod) if pod is not None else _not_found("pods", "", parts[6])
        if "/deployments/" in request.path and request.method == "PATCH":
            return self._patch_deployment(request)
        if not request.path.startswith(NODES):
            return _status(404, "the server could not find the requested resource", {})
        name = request.path.removeprefix(NODES)
        node = self.nodes.get(name)
        if node is None:
            return _not_found("nodes", "", name)
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

    def _csr(self, request: Request, user: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Create, read, list and approve CertificateSigningRequests (certificates.k8s.io/v1)."""
        rest = request.path.removeprefix(CSRS).split("?")[0].strip("/")
        if request.method == "POST" and not rest:
            name = request.body["metadata"]["name"]
            if name in self.csrs:
                return _status(409, f'certificatesigningrequests "{name}" already exists')
            stored = copy.deepcopy(request.body)
            # The API server records who asked; what the client sent there is overwritten.
            stored["spec"]["username"] = user.get("username", "")
            stored["spec"]["extra"] = copy.deepcopy(user.get("extra", {}))
            stored["metadata"]["resourceVersion"] = str(self._next_version())
            stored["status"] = {}
            self.csrs[name] = stored
            return 201, stored
        if request.method == "GET" and not rest:
            selector = request.path.partition("fieldSelector=")[2].replace("%3D", "=")
            signer = selector.replace("%2F", "/").removeprefix("spec.signerName=")
            items = [
                c for c in self.csrs.values() if not signer or c["spec"]["signerName"] == signer
            ]
            return 200, {"kind": "CertificateSigningRequestList", "items": copy.deepcopy(items)}
        name, _, sub = rest.partition("/")
        stored = self.csrs.get(name)
        if stored is None:
            return _not_found("certificatesigningrequests", "certificates.k8s.io", name)
        if request.method == "GET" and not sub:
            return 200, stored
        if request.method == "PUT" and sub == "approval":
            stored["status"]["conditions"] = request.body["status"]["conditions"]
            approved = any(c["type"] == "Approved" for c in stored["status"]["conditions"])
            if approved and self.sign is not None:
                certificate = self.sign(copy.deepcopy(stored))
                stored["status"]["certificate"] = base64.b64encode(certificate.encode()).decode()
            stored["metadata"]["resourceVersion"] = str(self._next_version())
            return 200, stored
        return _status(405, "method not allowed")

    def _patch_deployment(self, request: Request) -> tuple[int, dict[str, Any]]:
        key = _deployment_key(request.path)
        if key not in self.deployments:
            return _not_found("deployments", "apps", key.split("/")[1])
        if request.headers.get("Content-Type") != "application/merge-patch+json":
            return _status(415, "unsupported patch type")
        annotations = request.body["spec"]["template"]["metadata"]["annotations"]
        self.deployments[key].update(annotations)
        namespace, name = key.split("/")
        metadata = {"name": name, "namespace": namespace}
        template = {"metadata": {"annotations": dict(self.deployments[key])}}
        return 200, {"kind": "Deployment", "metadata": metadata, "spec": {"template": template}}


def _deployment_key(path: str) -> str:
    """``<namespace>/<name>`` of a Deployment's path."""
    parts = path.split("/")
    return f"{parts[5]}/{parts[7]}"


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


def _status(
    code: int, message: str, details: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """A failure ``Status``; with ``details`` (even empty), reason NotFound, as a 404's has."""
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "code": code,
    }
    if details is not None:
        status.update(reason="NotFound", details=details)
    return code, status


def _not_found(resource: str, group: str, name: str) -> tuple[int, dict[str, Any]]:
    """apimachinery ``pkg/api/errors`` ``NewNotFound``: the resource and the name in details."""
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "kind": resource, **({"group": group} if group else {})}
    return _status(404, f'{qualified} "{name}" not found', details)


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
