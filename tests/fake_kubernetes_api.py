"""A loopback Kubernetes API over HTTPS: the node endpoints the node guard calls, nothing more.

It serves ``GET`` and ``PATCH`` (JSON merge patch) of ``/api/v1/nodes/<name>`` as the real API
server does for them: a bearer token is required, a missing node is a 404 ``Status``, and
``spec.providerID`` may change only from empty (``ValidateNodeUpdate`` answers 422 otherwise).
Tests queue failures to answer the next requests with, and read every request it received.
The certificate chain is made fresh for each server with ``cryptography``.
"""

from __future__ import annotations

import copy
import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NODES = "/api/v1/nodes/"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    # time.monotonic() when it arrived.
    at: float


@dataclass(frozen=True)
class Authority:
    """A throwaway CA and a serving certificate for 127.0.0.1 signed by it."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def create(cls, common_name: str = "test-cluster-ca") -> Authority:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(ca_key, hashes.SHA256())
        )
        return cls(
            ca_pem=ca.public_bytes(serialization.Encoding.PEM),
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )


@dataclass
class FakeKubernetesApi:
    """The node API; ``nodes`` maps a name to the stored Node object."""

    authority: Authority
    folder: Path
    token: str = "token-1"
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    # (method, status, message): the next request with that method gets that answer instead.
    failures: list[tuple[str, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: http.server.ThreadingHTTPServer | None = None
    _version: int = 1

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def start(self) -> FakeKubernetesApi:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api._handle(self, None)

            def do_PATCH(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                api._handle(self, json.loads(self.rfile.read(length)))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "cert.pem").write_bytes(self.authority.cert_pem)
        (self.folder / "key.pem").write_bytes(self.authority.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.folder / "cert.pem", self.folder / "key.pem")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def fail(self, method: str, status: int, message: str, times: int = 1) -> None:
        """Answers the next ``times`` requests with ``method`` with an error ``Status``."""
        with self.lock:
            self.failures.extend([(method, status, message)] * times)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

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

    def _handle(self, handler: http.server.BaseHTTPRequestHandler, body: Any) -> None:
        with self.lock:
            headers = dict(handler.headers.items())
            request = Request(handler.command, handler.path, headers, body, time.monotonic())
            self.requests.append(request)
            status, payload = self._answer(request)
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

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
