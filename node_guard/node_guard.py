"""The node guard: keeps GKE from deleting the ACI connector's virtual node, and brings the node
back when it is deleted all the same.

GKE's cloud node-lifecycle controller deletes a NotReady node whose VM it cannot find. With an
empty ``spec.providerID`` it looks the VM up by the node's name, finds none, and deletes the
virtual node about 40-50 s after the connector stops (on every upgrade or repair of its host).
A providerID outside the ``gce://`` scheme makes that lookup fail with an error, and the
controller then skips the node; newer controllers also skip a node labelled
``components.gke.io/gke-unmanaged-node=true``. See docs/decisions/0010-node-guard.md.

This process runs in a pod of its own, under a service account of its own, beside the
connector's. It polls the one node it may read and sets both whenever they are missing: after
the connector first registers the node, and after it registers it again following a deletion.
``spec.providerID`` can be set only once, from empty (the API server refuses any other change),
so a node that carries another providerID is reported and left as it is; it still gets the label.

The connector creates its node only when it starts, so a node deleted while it runs stays gone.
When the API server has answered that the node does not exist (a 404 naming it) for
``NODE_GUARD_RESTART_AFTER_SECONDS`` without a break, the guard restarts the connector's
Deployment as ``kubectl rollout restart`` does, and the new connector registers the node again;
a node still missing waits twice as long before the next restart. An error or a timeout is never
taken for absence. See docs/decisions/0017-virtual-node-self-healing.md.

Standard library only, so it runs in an official Python image as it is. It reads what every
in-cluster client reads: ``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT``, and the
service account's ``token`` and ``ca.crt`` (in ``NODE_GUARD_SERVICE_ACCOUNT_DIR``, by default
where Kubernetes mounts them). Other settings: ``NODE_NAME``, ``CONNECTOR_NAMESPACE`` and
``CONNECTOR_DEPLOYMENT`` (required), ``NODE_GUARD_INTERVAL_SECONDS`` (10),
``NODE_GUARD_MAX_BACKOFF_SECONDS`` (60), ``NODE_GUARD_RESTART_AFTER_SECONDS`` (60) and
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
# The annotation `kubectl rollout restart` sets on the pod template (kubernetes v1.36
# staging/src/k8s.io/kubectl/pkg/polymorphichelpers/objectrestarter.go): a new value rolls the
# Deployment, and the connector's Recreate strategy stops the old pod before the new one starts.
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# Seconds for each socket operation of one request.
REQUEST_TIMEOUT = 10.0
# The most requests one pass makes: read the node, then patch it or restart the connector.
REQUESTS_PER_PASS = 2
# The longest wait between two restarts of a connector that does not bring its node back.
MAX_RESTART_WAIT = 600.0
MERGE_PATCH = "application/merge-patch+json"

log = logging.getLogger("node-guard")

Node = dict[str, Any]


class ApiError(Exception):
    """The API server could not be reached, or answered with an unexpected status."""


@dataclass(frozen=True)
class Config:
    node_name: str
    connector_namespace: str
    connector_deployment: str
    host: str
    port: int
    service_account_dir: Path
    interval: float
    max_backoff: float
    restart_after: float
    health_port: int

    @property
    def provider_id(self) -> str:
        return PROVIDER_ID_SCHEME + self.node_name

    @property
    def connector(self) -> str:
        return f"{self.connector_namespace}/{self.connector_deployment}"

    @property
    def stale_after(self) -> float:
        """How long without a finished pass means the loop is stuck (a pass, a backoff)."""
        return 3 * (self.max_backoff + REQUESTS_PER_PASS * REQUEST_TIMEOUT)

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Config:
        required = ("NODE_NAME", "CONNECTOR_NAMESPACE", "CONNECTOR_DEPLOYMENT")
        missing = [n for n in (*required, "KUBERNETES_SERVICE_HOST") if not env.get(n)]
        if missing:
            raise ValueError(f"{' and '.join(missing)} must be set")
        try:
            config = cls(
                node_name=env["NODE_NAME"],
                connector_namespace=env["CONNECTOR_NAMESPACE"],
                connector_deployment=env["CONNECTOR_DEPLOYMENT"],
                host=env["KUBERNETES_SERVICE_HOST"],
                port=int(env.get("KUBERNETES_SERVICE_PORT", "443")),
                service_account_dir=Path(
                    env.get("NODE_GUARD_SERVICE_ACCOUNT_DIR", SERVICE_ACCOUNT_DIR)
                ),
                interval=float(env.get("NODE_GUARD_INTERVAL_SECONDS", "10")),
                max_backoff=float(env.get("NODE_GUARD_MAX_BACKOFF_SECONDS", "60")),
                restart_after=float(env.get("NODE_GUARD_RESTART_AFTER_SECONDS", "60")),
                health_port=int(env.get("NODE_GUARD_HEALTH_PORT", "8081")),
            )
        except ValueError as error:
            raise ValueError(f"a numeric setting is not a number: {error}") from None
        if config.interval <= 0 or config.max_backoff < config.interval:
            raise ValueError(
                "need 0 < NODE_GUARD_INTERVAL_SECONDS <= NODE_GUARD_MAX_BACKOFF_SECONDS"
            )
        if config.restart_after <= 0:
            raise ValueError("need 0 < NODE_GUARD_RESTART_AFTER_SECONDS")
        return config


class KubernetesApi:
    """The guard's calls, as its own service account: GET and merge-PATCH of its one node, and
    a merge-PATCH of the connector's Deployment that restarts it."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._node_path = f"/api/v1/nodes/{quote(config.node_name, safe='')}"
        self._deployment_path = (
            f"/apis/apps/v1/namespaces/{quote(config.connector_namespace, safe='')}"
            f"/deployments/{quote(config.connector_deployment, safe='')}"
        )

    def get_node(self) -> Node | None:
        """The node, or None when the API server says it does not exist."""
        return self._node("GET", None)

    def patch_node(self, patch: Node) -> Node | None:
        """The node after a JSON merge patch, or None when it does not exist (any more)."""
        return self._node("PATCH", patch)

    def restart_connector(self, at: str) -> None:
        """Rolls the connector's Deployment, as ``kubectl rollout restart`` does."""
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}}
        what = f"PATCH deployment {self._config.connector}"
        status, payload = self._call("PATCH", self._deployment_path, patch, what)
        if status != 200:
            raise ApiError(f"{what}: {_describe(status, payload, 'patch on this one deployment')}")

    def _node(self, method: str, patch: Node | None) -> Node | None:
        what = f"{method} node {self._config.node_name}"
        status, payload = self._call(method, self._node_path, patch, what)
        if status == 200:
            try:
                return json.loads(payload)
            except ValueError:
                raise ApiError(f"{what}: not JSON") from None
        if _names_a_missing(payload, status, "nodes", self._config.node_name):
            return None
        raise ApiError(f"{what}: {_describe(status, payload, 'get and patch on this one node')}")

    def _call(self, method: str, path: str, patch: Node | None, what: str) -> tuple[int, bytes]:
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
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            raise ApiError(
                f"{what}: cannot reach the API server at "
                f"{self._config.host}:{self._config.port}: {error}"
            ) from None
        finally:
            connection.close()


def _names_a_missing(payload: bytes, status: int, resource: str, name: str) -> bool:
    """Whether the answer is the API server's own NotFound for exactly this object.

    Only that is taken for absence: kubernetes apimachinery ``pkg/api/errors/errors.go``
    ``NewNotFound`` names the resource and the object in ``details``. A 404 from anything else
    on the way (a wrong path, a proxy) names neither.
    """
    if status != 404:
        return False
    try:
        answer = json.loads(payload)
        details = answer.get("details") or {}
    except (ValueError, AttributeError):
        return False
    return (
        answer.get("kind") == "Status"
        and answer.get("reason") == "NotFound"
        and details.get("kind") == resource
        and details.get("name") == name
    )


def _describe(status: int, payload: bytes, needs: str) -> str:
    """The API server's own message for a failed call, on one line."""
    try:
        message = json.loads(payload).get("message", "")
    except (ValueError, AttributeError):
        message = payload[:200].decode(errors="replace")
    text = f"HTTP {status} {' '.join(str(message).split())}".rstrip()
    if status in (401, 403):
        text += f" (the guard's service account needs {needs})"
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


class Guard:
    """One pass at a time: read the node, patch it if it needs it, remember what was seen, and
    restart the connector when the node has been absent for too long.

    Each change of state is logged once, as one line, so the log reads as a history of the
    node rather than a heartbeat.
    """

    def __init__(self, config: Config, api: KubernetesApi) -> None:
        self._config = config
        self._api = api
        self.guarded = threading.Event()
        self.last_pass = time.monotonic()
        self._uid: str | None = None
        self._foreign: str | None = None
        # Whether this node's state was logged already: each change is logged once.
        self._settled = False
        self._absence = Absence(config.restart_after)

    def run_once(self) -> None:
        name = self._config.node_name
        node = self._api.get_node()
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
        patched = self._api.patch_node(patch)
        if patched is None:
            self._absent()
            return
        log.info("patched node %s: %s", name, _summary(patch))
        self._observe(patched)
        self._mark_guarded(patched)

    def interrupted(self) -> None:
        """A pass failed: whether the node is there is unknown, so absence starts over."""
        self._absence.unknown()

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
        name, now = self._config.node_name, time.monotonic()
        if self._absence.seen_absent(now):
            log.info("node %s does not exist; waiting for the connector to register it", name)
        if not self._absence.restart_due(now):
            return
        seconds = self._absence.duration(now)
        self._api.restart_connector(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self._absence.restarted(now)
        log.warning(
            "node %s has not existed for %.0fs; restarted deployment %s so that the connector "
            "registers it again (the next restart, if it is still missing, in %.0fs)",
            name,
            seconds,
            self._config.connector,
            self._absence.wait,
        )

    def _observe(self, node: Node) -> None:
        name = self._config.node_name
        self._absence.present()
        uid = (node.get("metadata") or {}).get("uid")
        if uid != self._uid:
            if self._uid is not None:
                log.info("node %s was re-created (uid %s, before %s)", name, uid, self._uid)
            self._uid = uid
            self._foreign = None
            self._settled = False
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


class Absence:
    """How long the API server has said, answer after answer, that the node does not exist,
    and when that is long enough to restart the connector.

    The first restart is due ``restart_after`` seconds into an absence; each one that does not
    bring the node back doubles the wait for the next, up to ``MAX_RESTART_WAIT``, so a
    connector that cannot register (bad credentials, a slow start) is not kept from trying.
    """

    def __init__(self, restart_after: float) -> None:
        self._restart_after = restart_after
        self._since: float | None = None
        self._due = 0.0
        self.wait = restart_after
        self._reported = False

    def seen_absent(self, now: float) -> bool:
        """Counts one more answer of absence; whether it is the first since the node was seen."""
        if self._since is None:
            self._since = now
            self._due = now + self.wait
        first = not self._reported
        self._reported = True
        return first

    def restart_due(self, now: float) -> bool:
        return self._since is not None and now >= self._due

    def duration(self, now: float) -> float:
        return 0.0 if self._since is None else now - self._since

    def restarted(self, now: float) -> None:
        self.wait = min(max(self._restart_after, MAX_RESTART_WAIT), 2 * self.wait)
        self._due = now + self.wait

    def unknown(self) -> None:
        """An error is no answer: the count of absence starts again at the next one."""
        self._since = None

    def present(self) -> None:
        self._since = None
        self._reported = False
        self.wait = self._restart_after


def _summary(patch: Node) -> str:
    parts = []
    if "spec" in patch:
        parts.append(f"spec.providerID={patch['spec']['providerID']}")
    if "metadata" in patch:
        parts.append(f"label {UNMANAGED_LABEL}=true")
    return " and ".join(parts)


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
            guard.interrupted()
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
    guard = Guard(config, KubernetesApi(config))
    server = serve_health(guard, config)
    log.info(
        "guarding node %s (providerID %s, label %s=true; restarting deployment %s after %gs "
        "without it) through %s:%d; health on port %d",
        config.node_name,
        config.provider_id,
        UNMANAGED_LABEL,
        config.connector,
        config.restart_after,
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
