"""The node guard: keeps GKE from deleting the ACI connector's virtual node.

GKE's cloud node-lifecycle controller deletes a NotReady node whose VM it cannot find. With an
empty ``spec.providerID`` it looks the VM up by the node's name, finds none, and deletes the
virtual node about 40-50 s after the connector stops (on every upgrade or repair of its host).
A providerID outside the ``gce://`` scheme makes that lookup fail with an error, and the
controller then skips the node; newer controllers also skip a node labelled
``components.gke.io/gke-unmanaged-node=true``. See docs/decisions/0010-node-guard.md.

This process runs beside the connector, in its pod. It polls the one node it may read and sets
both whenever they are missing: after the connector first registers the node, and after it
registers it again following a deletion. ``spec.providerID`` can be set only once, from empty
(the API server refuses any other change), so a node that carries another providerID is
reported and left as it is; it still gets the label.

Standard library only, so it runs in an official Python image as it is. It reads what every
in-cluster client reads: ``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT``, and the
service account's ``token`` and ``ca.crt`` (in ``NODE_GUARD_SERVICE_ACCOUNT_DIR``, by default
where Kubernetes mounts them). Other settings: ``NODE_NAME`` (required),
``NODE_GUARD_INTERVAL_SECONDS`` (10), ``NODE_GUARD_MAX_BACKOFF_SECONDS`` (60) and
``NODE_GUARD_HEALTH_PORT`` (8081; 0 picks a free port). ``GET /healthz`` answers 200 while the
loop runs; ``GET /readyz`` answers 200 while the node carries our providerID and the label.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import logging
import os
import select
import signal
import ssl
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

PROVIDER_ID_SCHEME = "azure-aci:///"
UNMANAGED_LABEL = "components.gke.io/gke-unmanaged-node"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Seconds for each socket operation of one request.
REQUEST_TIMEOUT = 10.0
MERGE_PATCH = "application/merge-patch+json"

log = logging.getLogger("node-guard")

Node = dict[str, Any]


class ApiError(Exception):
    """The API server could not be reached, or answered with an unexpected status."""


@dataclass(frozen=True)
class Config:
    node_name: str
    host: str
    port: int
    service_account_dir: Path
    interval: float
    max_backoff: float
    health_port: int

    @property
    def provider_id(self) -> str:
        return PROVIDER_ID_SCHEME + self.node_name

    @property
    def stale_after(self) -> float:
        """How long without a finished pass means the loop is stuck (two requests, a backoff)."""
        return 3 * (self.max_backoff + 2 * REQUEST_TIMEOUT)

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Config:
        missing = [n for n in ("NODE_NAME", "KUBERNETES_SERVICE_HOST") if not env.get(n)]
        if missing:
            raise ValueError(f"{' and '.join(missing)} must be set")
        try:
            config = cls(
                node_name=env["NODE_NAME"],
                host=env["KUBERNETES_SERVICE_HOST"],
                port=int(env.get("KUBERNETES_SERVICE_PORT", "443")),
                service_account_dir=Path(
                    env.get("NODE_GUARD_SERVICE_ACCOUNT_DIR", SERVICE_ACCOUNT_DIR)
                ),
                interval=float(env.get("NODE_GUARD_INTERVAL_SECONDS", "10")),
                max_backoff=float(env.get("NODE_GUARD_MAX_BACKOFF_SECONDS", "60")),
                health_port=int(env.get("NODE_GUARD_HEALTH_PORT", "8081")),
            )
        except ValueError as error:
            raise ValueError(f"a numeric setting is not a number: {error}") from None
        if config.interval <= 0 or config.max_backoff < config.interval:
            raise ValueError(
                "need 0 < NODE_GUARD_INTERVAL_SECONDS <= NODE_GUARD_MAX_BACKOFF_SECONDS"
            )
        return config


class NodeApi:
    """GET and merge-PATCH of one node, as the pod's service account."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._path = f"/api/v1/nodes/{quote(config.node_name, safe='')}"

    def get(self) -> Node | None:
        """The node, or None when it does not exist."""
        return self._call("GET", None)

    def patch(self, patch: Node) -> Node | None:
        """The node after a JSON merge patch, or None when it does not exist (any more)."""
        return self._call("PATCH", patch)

    def _call(self, method: str, patch: Node | None) -> Node | None:
        folder = self._config.service_account_dir
        try:
            # Read on every call: the kubelet rotates the projected token and CA in place.
            token = (folder / "token").read_text().strip()
            context = ssl.create_default_context(cafile=str(folder / "ca.crt"))
        except (OSError, ssl.SSLError) as error:
            raise ApiError(f"cannot read the service account's token or CA: {error}") from None
        # Python 3.13+ adds RFC 5280 strictness that some cluster CAs fail; the chain and the
        # host name are still verified, as Kubernetes' own Go clients verify them.
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": "gke-aci-node-guard",
        }
        body = None
        if patch is not None:
            body = json.dumps(patch, separators=(",", ":"), sort_keys=True).encode()
            headers["Content-Type"] = MERGE_PATCH
        connection = http.client.HTTPSConnection(
            self._config.host, self._config.port, timeout=REQUEST_TIMEOUT, context=context
        )
        try:
            connection.request(method, self._path, body=body, headers=headers)
            response = connection.getresponse()
            status, payload = response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            raise ApiError(
                f"{method} node {self._config.node_name}: cannot reach the API server at "
                f"{self._config.host}:{self._config.port}: {error}"
            ) from None
        finally:
            connection.close()
        if status == 404:
            return None
        if status != 200:
            raise ApiError(f"{method} node {self._config.node_name}: {_describe(status, payload)}")
        try:
            return json.loads(payload)
        except ValueError:
            raise ApiError(f"{method} node {self._config.node_name}: not JSON") from None


def _describe(status: int, payload: bytes) -> str:
    """The API server's own message for a failed call, on one line."""
    try:
        message = json.loads(payload).get("message", "")
    except (ValueError, AttributeError):
        message = payload[:200].decode(errors="replace")
    text = f"HTTP {status} {' '.join(str(message).split())}".rstrip()
    if status in (401, 403):
        text += " (the pod's service account needs get and patch on this one node)"
    return text


def needed_patch(node: Node, provider_id: str) -> Node | None:
    """The merge patch that guards ``node``, or None when it is guarded already.

    A providerID is written only where there is none: the API server allows no other change.
    """
    metadata = node.get("metadata") or {}
    labels = metadata.get("labels") or {}
    current = (node.get("spec") or {}).get("providerID", "")
    patch: Node = {}
    if not current:
        patch["spec"] = {"providerID": provider_id}
    if labels.get(UNMANAGED_LABEL) != "true":
        patch["metadata"] = {"labels": {UNMANAGED_LABEL: "true"}}
    return patch or None


def _summary(patch: Node) -> str:
    parts = []
    if "spec" in patch:
        parts.append(f"spec.providerID={patch['spec']['providerID']}")
    if "metadata" in patch:
        parts.append(f"label {UNMANAGED_LABEL}=true")
    return " and ".join(parts)


class Guard:
    """One pass at a time: read the node, patch it if it needs it, remember what was seen.

    Each change of state is logged once, as one line, so the log reads as a history of the
    node rather than a heartbeat.
    """

    def __init__(self, config: Config, api: NodeApi) -> None:
        self._config = config
        self._api = api
        self.guarded = threading.Event()
        self.last_pass = time.monotonic()
        self._uid: str | None = None
        self._waiting = False
        self._foreign: str | None = None
        # Whether this node's state was logged already: each change is logged once.
        self._settled = False

    def run_once(self) -> None:
        name = self._config.node_name
        node = self._api.get()
        if node is None:
            self._absent()
            return
        self._observe(node)
        patch = needed_patch(node, self._config.provider_id)
        if patch is None:
            if not self._settled:
                log.info("node %s needs nothing: %s", name, self._state(node))
                self._settled = True
            self._mark_guarded(node)
            return
        self.guarded.clear()
        self._settled = True
        patched = self._api.patch(patch)
        if patched is None:
            self._absent()
            return
        log.info("patched node %s: %s", name, _summary(patch))
        self._observe(patched)
        self._mark_guarded(patched)

    def _mark_guarded(self, node: Node) -> None:
        """Ready only with our providerID and the label: another providerID may be ``gce://``."""
        ours = (node.get("spec") or {}).get("providerID") == self._config.provider_id
        if ours and needed_patch(node, self._config.provider_id) is None:
            self.guarded.set()
        else:
            self.guarded.clear()

    def _absent(self) -> None:
        self.guarded.clear()
        self._settled = False
        if not self._waiting:
            name = self._config.node_name
            log.info("node %s does not exist; waiting for the connector to register it", name)
            self._waiting = True

    def _observe(self, node: Node) -> None:
        name = self._config.node_name
        uid = (node.get("metadata") or {}).get("uid")
        if uid != self._uid:
            if self._uid is not None:
                log.info("node %s was re-created (uid %s, before %s)", name, uid, self._uid)
            self._uid = uid
            self._foreign = None
            self._settled = False
        self._waiting = False
        current = (node.get("spec") or {}).get("providerID", "")
        if current and current != self._config.provider_id and current != self._foreign:
            log.warning(
                "node %s has providerID %s, not %s: it can be set only once, so it is left "
                "as it is; if it starts with gce:// GKE may still delete this node",
                name,
                current,
                self._config.provider_id,
            )
            self._foreign = current

    def _state(self, node: Node) -> str:
        current = (node.get("spec") or {}).get("providerID", "")
        return f"providerID {current}, label {UNMANAGED_LABEL}=true"


class Stop:
    """A stop request that a signal handler may make.

    The handler only writes a byte to a pipe: it takes no lock. ``threading.Event.set`` would
    take the lock that the main thread may be holding inside ``Event.wait`` when the signal
    arrives, and the process would hang until the kubelet kills it.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    def request(self, *_: object) -> None:
        # A full pipe holds earlier requests: stopping already.
        with contextlib.suppress(BlockingIOError):
            os.write(self._write, b"\0")

    def wait(self, timeout: float) -> bool:
        """Whether a stop was requested, waiting up to ``timeout`` seconds for one."""
        readable, _, _ = select.select([self._read], [], [], timeout)
        return bool(readable)

    def is_set(self) -> bool:
        return self.wait(0)


def backoff(config: Config, failures: int) -> float:
    """The interval, doubled per failure in a row, up to the bound, for any number of them.

    The exponent is capped: ``interval * 2**1024`` is no float, and would raise.
    """
    return min(config.max_backoff, config.interval * 2.0 ** min(failures, 64))


def run(guard: Guard, config: Config, stop: Stop) -> None:
    """Passes every interval; after a failure, waits twice as long each time, up to a bound."""
    failures = 0
    problem = ""
    while not stop.is_set():
        try:
            guard.run_once()
            failures = 0
        except Exception as error:
            # An unexpected error (a bug, a malformed answer) must not become a tight crash loop.
            failures += 1
            problem = str(error) if isinstance(error, ApiError) else repr(error)
        guard.last_pass = time.monotonic()
        delay = backoff(config, failures)
        if failures:
            log.error("%s; retrying in %gs", problem, delay)
        stop.wait(delay)


def serve_health(guard: Guard, config: Config) -> http.server.ThreadingHTTPServer:
    """/healthz for the liveness probe, /readyz for the readiness probe."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                ok = time.monotonic() - guard.last_pass < config.stale_after
            elif self.path == "/readyz":
                ok = guard.guarded.is_set()
            else:
                self.send_error(404)
                return
            body = b"ok\n" if ok else b"not ok\n"
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Probes come every few seconds; they are not worth a log line each."""

    server = http.server.ThreadingHTTPServer(("", config.health_port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def main() -> int:
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        config = Config.from_environment(os.environ)
    except ValueError as error:
        log.error("cannot start: %s", error)
        return 2
    stop = Stop()
    # As PID 1 a process gets no default signal handling: without these, SIGTERM is ignored and
    # the pod waits out its grace period.
    signal.signal(signal.SIGTERM, stop.request)
    signal.signal(signal.SIGINT, stop.request)
    guard = Guard(config, NodeApi(config))
    server = serve_health(guard, config)
    log.info(
        "guarding node %s (providerID %s, label %s=true) through %s:%d; health on port %d",
        config.node_name,
        config.provider_id,
        UNMANAGED_LABEL,
        config.host,
        config.port,
        server.server_address[1],
    )
    run(guard, config, stop)
    server.shutdown()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
