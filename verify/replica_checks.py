"""Behind the entry point, an ACI replica's public IP answers nobody but the entry point.

- ``replicas answer only the entry point``: in the modes behind the entry point, with our app
  (its pods carry ``TLS_DIR``: mutual TLS, docs/decisions/0022-mutual-tls-to-replicas.md), each
  running replica on the virtual node is asked at its public IP and port, as anyone on the
  internet could: a plain HTTP request, and an HTTPS request without a client certificate. Neither
  may get an HTTP answer (the TLS handshake refuses them before any app code runs), while the
  entry point answers ``GET /livez`` with 200.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from kubernetes.client import V1Pod

from core.app_contract import TLS_DIR_VARIABLE
from verify import contract
from verify.context import (
    Check,
    Context,
    Skip,
    Verdict,
    app_pods,
    ip_of,
    is_running,
    name_of,
    node_of,
)

MAX_READ_BYTES = 4096
LIVENESS_PATH = "/livez"


@dataclass(frozen=True)
class Exposure:
    """What a stranger got from one replica: ``answer`` is the HTTP status line, if any."""

    how: str
    answer: str | None
    refused: str


def _request(host: str) -> bytes:
    return f"GET {LIVENESS_PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


def _status_line(received: bytes) -> str | None:
    if not received.startswith(b"HTTP/"):
        return None
    return received.split(b"\r\n", 1)[0].decode("latin-1")


def _read(connection: socket.socket) -> bytes:
    received = b""
    while len(received) < MAX_READ_BYTES:
        chunk = connection.recv(MAX_READ_BYTES)
        if not chunk:
            break
        received += chunk
    return received


def plain_http(host: str, port: int, timeouts: tuple[float, float]) -> Exposure:
    """A plain HTTP GET, as a scanner would send it."""
    connect, read = timeouts
    try:
        with socket.create_connection((host, port), timeout=connect) as raw:
            raw.settimeout(read)
            raw.sendall(_request(host))
            received = _read(raw)
    except TimeoutError:
        return Exposure("plain HTTP", None, "no answer in time")
    except OSError as error:
        return Exposure("plain HTTP", None, _closed(error))
    answer = _status_line(received)
    return Exposure("plain HTTP", answer, "closed without an answer" if answer is None else "")


def tls_without_certificate(host: str, port: int, timeouts: tuple[float, float]) -> Exposure:
    """An HTTPS GET that presents no client certificate (and trusts any server)."""
    connect, read = timeouts
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Not a check of the replica's certificate: only whether it answers a stranger.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=connect) as raw:
            raw.settimeout(read)
            with context.wrap_socket(raw, server_hostname=None) as tls:
                tls.sendall(_request(host))
                received = _read(tls)
    except ssl.SSLError as error:
        return Exposure("HTTPS without a client certificate", None, f"TLS: {error.reason}")
    except TimeoutError:
        return Exposure("HTTPS without a client certificate", None, "no answer in time")
    except OSError as error:
        return Exposure("HTTPS without a client certificate", None, _closed(error))
    answer = _status_line(received)
    refused = "closed without an answer" if answer is None else ""
    return Exposure("HTTPS without a client certificate", answer, refused)


def _closed(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    return type(error).__name__


def _serves_mutual_tls(pod: V1Pod) -> bool:
    containers = pod.spec.containers if pod.spec else []
    return any(v.name == TLS_DIR_VARIABLE for c in containers for v in c.env or [])


def _app_port(pod: V1Pod) -> int | None:
    for container in pod.spec.containers if pod.spec else []:
        for port in container.ports or []:
            return port.container_port
    return None


def replicas_answer_only_the_entry_point(ctx: Context) -> Verdict:
    outputs = ctx.outputs
    if outputs.workload.kind == contract.POD:
        raise Skip("not run: the single pod is public and plain HTTP by design")
    on_aci = [
        p
        for p in app_pods(ctx)
        if is_running(p) and node_of(p) == outputs.virtual_node and ip_of(p)
    ]
    if not on_aci:
        raise Skip("not run: no replica runs on ACI with a public IP (see app)")
    if not all(_serves_mutual_tls(p) for p in on_aci):
        raise Skip("not run: the replicas serve plain HTTP (an appImage: see docs/security.md)")
    exposed: list[str] = []
    refused: list[str] = []
    for pod in on_aci:
        ip, port = ip_of(pod) or "", _app_port(pod)
        if port is None:
            exposed.append(f"{name_of(pod)} declares no port")
            continue
        for probe in (plain_http, tls_without_certificate):
            seen = probe(ip, port, ctx.budget.timeouts())
            if seen.answer is not None:
                exposed.append(f"{name_of(pod)} at {ip}:{port} answered {seen.how}: {seen.answer}")
            else:
                refused.append(f"{seen.how} to {ip}:{port}: {seen.refused}")
    entry = ctx.app.get(LIVENESS_PATH)
    entry_seen = f"the entry point: GET {LIVENESS_PATH} {entry.describe()}"
    if exposed or entry.status != 200:
        return Verdict(
            False,
            "; ".join([*exposed, entry_seen]),
            "a replica that answers a stranger serves without mutual TLS: check its TLS_DIR "
            f"and the app's logs (`kubectl -n {outputs.app_namespace} logs <pod>`)"
            if exposed
            else f"the entry point: `kubectl -n {outputs.app_namespace} logs deploy/web-entry`",
        )
    return Verdict(True, "; ".join([*refused, entry_seen]))


CHECKS = [
    Check(
        "replicas-private",
        "replicas answer only the entry point",
        lambda _o: (
            "each ACI replica's public IP gives no HTTP answer to plain HTTP or to HTTPS "
            f"without a client certificate; the entry point answers GET {LIVENESS_PATH} 200"
        ),
        replicas_answer_only_the_entry_point,
    ),
]
