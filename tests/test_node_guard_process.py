"""The node guard as a real process: the very script the program ships, run as the pod runs it,
against a loopback Kubernetes API over HTTPS (tests/fake_kubernetes_api.py).

The process gets its API server, token and CA the way it gets them in a pod: the service's host
and port in ``KUBERNETES_SERVICE_HOST``/``PORT``, and ``token`` and ``ca.crt`` in a folder
(``NODE_GUARD_SERVICE_ACCOUNT_DIR``, which in the pod is the default mount path).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_kubernetes_api import FakeKubernetesApi, virtual_node
from guard_python import GUARD_PYTHON, IMAGE_PYTHON, minor_version
from loopback_http import Authority

from components.node_guard import PYTHON_FLAGS, SCRIPT

NAME = "aci-connector"
OURS = f"azure-aci:///{NAME}"
LABEL = "components.gke.io/gke-unmanaged-node"
NODE_PATH = f"/api/v1/nodes/{NAME}"
CONNECTOR = ("aci-connector", "aci-connector")
DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/aci-connector/deployments/aci-connector"
# How much later than the guard sent it a loaded test machine may deliver a request to the fake API.
REQUEST_LATENCY = 0.1
BOTH = {"metadata": {"labels": {LABEL: "true"}}, "spec": {"providerID": OURS}}
LABEL_ONLY = {"metadata": {"labels": {LABEL: "true"}}}
# Short enough for tests; the pod uses the script's defaults (10 s, 60 s).
INTERVAL, MAX_BACKOFF = 0.1, 0.4


def wait_until(condition: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


class Guard:
    """The script in a subprocess, its log lines, and its health endpoints."""

    def __init__(self, env: dict[str, str], command: list[str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            command,
            env={"PATH": os.environ.get("PATH", ""), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def logged(self, text: str) -> list[str]:
        return [line for line in list(self.lines) if text in line]

    def wait_for_log(self, text: str) -> str:
        wait_until(lambda: self.logged(text))
        return self.logged(text)[0]

    @property
    def health_port(self) -> int:
        line = self.wait_for_log("health on port")
        match = re.search(r"health on port (\d+)$", line)
        assert match, line
        return int(match.group(1))

    def probe(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=5):
                return 200
        except urllib.error.HTTPError as error:
            return error.code

    def stop(self) -> int:
        """SIGTERM, as the kubelet sends it; the exit status. One that hangs is killed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"still running 5 s after SIGTERM: {self.lines[-3:]}") from None


@pytest.fixture
def authority() -> Authority:
    return Authority()


@pytest.fixture
def service_account(tmp_path: Path, authority: Authority) -> Path:
    """What Kubernetes mounts at /var/run/secrets/kubernetes.io/serviceaccount."""
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "token").write_text("token-1")
    authority.write_ca(folder / "ca.crt")
    (folder / "namespace").write_text("aci-connector")
    return folder


@pytest.fixture
def api(authority: Authority) -> Iterator[FakeKubernetesApi]:
    with FakeKubernetesApi(authority).serve() as server:
        server.put_deployment(*CONNECTOR)
        yield server


@pytest.fixture
def start(api: FakeKubernetesApi, service_account: Path) -> Iterator[Callable[..., Guard]]:
    started: list[Guard] = []

    def launch(*, command: list[str] | None = None, **overrides: str) -> Guard:
        env = {
            "NODE_NAME": NAME,
            "CONNECTOR_NAMESPACE": CONNECTOR[0],
            "CONNECTOR_DEPLOYMENT": CONNECTOR[1],
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(api.port),
            "NODE_GUARD_SERVICE_ACCOUNT_DIR": str(service_account),
            "NODE_GUARD_INTERVAL_SECONDS": str(INTERVAL),
            "NODE_GUARD_MAX_BACKOFF_SECONDS": str(MAX_BACKOFF),
            "NODE_GUARD_HEALTH_PORT": "0",
            **overrides,
        }
        guard = Guard(env, command or [GUARD_PYTHON, *PYTHON_FLAGS, str(SCRIPT)])
        started.append(guard)
        return guard

    yield launch
    # Every running guard ends the way a pod's does, and must end cleanly.
    problems = []
    for guard in [guard for guard in started if guard.process.poll() is None]:
        try:
            code = guard.stop()
        except AssertionError as error:
            problems.append(str(error))
            continue
        if code != 0:
            problems.append(f"exit status {code}: {guard.lines[-3:]}")
    assert problems == []


def test_these_tests_run_the_script_on_the_python_of_its_image() -> None:
    running = minor_version(GUARD_PYTHON)
    assert running == IMAGE_PYTHON, (
        f"the guard ran on Python {running}, its image runs {IMAGE_PYTHON}: run the tests on "
        f"Python {IMAGE_PYTHON}, or set NODE_GUARD_PYTHON to one"
    )


def test_a_node_registered_later_gets_the_provider_id_and_the_label(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    guard = start()
    wait_until(lambda: api.count("GET") >= 3)
    assert api.patches() == []
    assert guard.probe("/readyz") == 503
    assert guard.probe("/healthz") == 200
    assert len(guard.logged("does not exist; waiting for the connector to register it")) == 1

    api.put_node(virtual_node(NAME, "uid-1"))
    wait_until(lambda: guard.probe("/readyz") == 200)
    [patch] = api.patches()
    assert patch.path == NODE_PATH
    assert patch.body == BOTH
    assert patch.headers["Content-Type"] == "application/merge-patch+json"
    assert patch.headers["Authorization"] == "Bearer token-1"
    node = api.node(NAME)
    assert node["spec"]["providerID"] == OURS
    assert node["metadata"]["labels"][LABEL] == "true"
    # Nothing else is touched: the connector's labels and taint stay as it registered them.
    assert node["metadata"]["labels"]["kubernetes.io/os"] == "linux"
    assert node["metadata"]["labels"]["type"] == "virtual-kubelet"
    assert node["spec"]["taints"] == virtual_node(NAME, "x")["spec"]["taints"]
    assert guard.logged(f"patched node {NAME}: spec.providerID={OURS} and label {LABEL}=true")

    # Once guarded, it only reads.
    gets = api.count("GET")
    wait_until(lambda: api.count("GET") >= gets + 3)
    assert len(api.patches()) == 1


def test_a_node_re_created_without_the_provider_id_is_patched_again(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    api.put_node(virtual_node(NAME, "uid-1", OURS, {LABEL: "true"}))
    guard = start()
    guard.wait_for_log(f"node {NAME} needs nothing: providerID {OURS}")
    assert guard.probe("/readyz") == 200

    # Deleted, then registered again by a restarting connector, without either.
    api.delete_node(NAME)
    wait_until(lambda: guard.probe("/readyz") == 503)
    guard.wait_for_log("does not exist; waiting")
    api.put_node(virtual_node(NAME, "uid-2"))
    wait_until(lambda: len(api.patches()) == 1)
    assert api.patches()[0].body == BOTH
    assert guard.logged(f"node {NAME} was re-created (uid uid-2, before uid-1)")
    wait_until(lambda: guard.probe("/readyz") == 200)

    # Replaced between two polls: the new uid gives it away, and it is patched all the same.
    api.put_node(virtual_node(NAME, "uid-3"))
    wait_until(lambda: len(api.patches()) == 2)
    assert api.patches()[1].body == BOTH
    assert guard.logged("was re-created (uid uid-3, before uid-2)")
    assert api.node(NAME)["spec"]["providerID"] == OURS


def test_a_node_that_is_already_guarded_is_left_alone(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    api.put_node(virtual_node(NAME, "uid-1", OURS, {LABEL: "true"}))
    guard = start()
    wait_until(lambda: api.count("GET") >= 5)
    assert api.patches() == []
    assert guard.probe("/readyz") == 200
    assert len(guard.logged("needs nothing")) == 1


def test_our_provider_id_without_the_label_gets_only_the_label(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    api.put_node(virtual_node(NAME, "uid-1", OURS))
    guard = start()
    wait_until(lambda: guard.probe("/readyz") == 200)
    [patch] = api.patches()
    assert patch.body == LABEL_ONLY
    assert guard.logged(f"patched node {NAME}: label {LABEL}=true")


def test_a_foreign_provider_id_is_reported_not_fought_and_the_label_still_set(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    foreign = "gce://some-project/us-west1-a/some-vm"
    api.put_node(virtual_node(NAME, "uid-1", foreign))
    guard = start()
    wait_until(lambda: api.patches() != [])
    wait_until(lambda: api.count("GET") >= 5)
    [patch] = api.patches()
    assert patch.body == LABEL_ONLY
    assert api.node(NAME)["spec"]["providerID"] == foreign
    # Not ready: the node is exactly as unprotected as the other value makes it.
    assert guard.probe("/readyz") == 503
    [warning] = guard.logged("WARNING")
    assert f"node {NAME} has providerID {foreign}, not {OURS}" in warning
    assert "left as it is" in warning


def test_transient_500_and_403_answers_back_off_then_recover(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    api.put_node(virtual_node(NAME, "uid-1"))
    api.fail("GET", 500, "etcdserver: request timed out", times=2)
    forbidden = (
        'nodes "aci-connector" is forbidden: User "system:serviceaccount:aci-connector:'
        'virtual-kubelet" cannot get resource "nodes" in API group "" at the cluster scope'
    )
    api.fail("GET", 403, forbidden)
    api.fail("PATCH", 500, "Internal error occurred: resource quota evaluation timed out")
    guard = start()
    wait_until(lambda: guard.probe("/readyz") == 200)

    assert [p.body for p in api.patches()] == [BOTH, BOTH]
    errors = guard.logged("ERROR")
    assert errors[0].endswith(
        f"GET node {NAME}: HTTP 500 etcdserver: request timed out; retrying in 0.2s"
    )
    assert errors[1].endswith("; retrying in 0.4s")
    assert errors[2].endswith(
        f"GET node {NAME}: HTTP 403 {forbidden} (the guard's service account needs get and "
        "patch on this one node); retrying in 0.4s"
    )
    assert errors[3].endswith(
        f"PATCH node {NAME}: HTTP 500 Internal error occurred: resource quota evaluation timed "
        "out; retrying in 0.4s"
    )
    assert len(errors) == 4
    # Each wait at least as long as announced: doubling from the interval, up to the bound.
    times = [r.at for r in api.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps[0] >= 0.2
    assert gaps[1] >= 0.4
    assert gaps[2] >= 0.4


def test_an_api_server_that_keeps_failing_is_polled_slowly_and_never_crashes(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    api.put_node(virtual_node(NAME, "uid-1"))
    api.fail("GET", 500, "etcdserver: leader changed", times=1000)
    guard = start()
    guard.wait_for_log("health on port")
    time.sleep(2.0)
    # 2 s of waits of 0.2 s, then 0.4 s each: a handful of calls, not a tight loop.
    assert 3 <= api.count("GET") <= 8
    assert guard.process.poll() is None
    assert guard.probe("/healthz") == 200
    assert guard.probe("/readyz") == 503


def test_more_failures_in_a_row_than_a_float_can_double_never_crash_it(
    start: Callable[..., Guard],
) -> None:
    """2**1024 times the interval is no float: the wait must stay at its bound however long the
    API server is gone (here 1,100 refused connections, a millisecond apart)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    guard = start(
        KUBERNETES_SERVICE_PORT=str(port),
        NODE_GUARD_INTERVAL_SECONDS="0.001",
        NODE_GUARD_MAX_BACKOFF_SECONDS="0.001",
    )
    wait_until(lambda: len(guard.logged("cannot reach")) >= 1100 or guard.process.poll(), 60)
    assert guard.process.poll() is None, guard.lines[-5:]
    assert guard.probe("/healthz") == 200


# --- self-healing: a node deleted while the connector runs ------------------------------------

RESTART_AFTER = 0.6


def test_a_node_deleted_while_the_connector_runs_is_registered_and_marked_again_in_time(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    api.put_node(virtual_node(NAME, "uid-1", OURS, {LABEL: "true"}))
    # The Deployment controller replaces the connector's pod, and the new connector registers its
    # node as it starts, without providerID or label (virtual-kubelet v1.11.0 node/node.go).
    api.on_restart = lambda _: api.put_node(virtual_node(NAME, "uid-2"))
    guard = start(NODE_GUARD_RESTART_AFTER_SECONDS=str(RESTART_AFTER))
    guard.wait_for_log("needs nothing")

    api.delete_node(NAME)
    deleted = time.monotonic()
    wait_until(lambda: (api.node_or_none(NAME) or {}).get("spec", {}).get("providerID") == OURS)
    marked = time.monotonic()
    wait_until(lambda: guard.probe("/readyz") == 200)

    [restart] = api.restarts()
    assert restart.method == "PATCH"
    assert restart.path == DEPLOYMENT_PATH
    assert restart.headers["Content-Type"] == "application/merge-patch+json"
    assert restart.headers["Authorization"] == "Bearer token-1"
    [(key, value)] = restart.body["spec"]["template"]["metadata"]["annotations"].items()
    assert key == "kubectl.kubernetes.io/restartedAt"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value)
    assert set(restart.body) == {"spec"}
    # Not before the node had been absent for the whole wait; the bound: that wait, a poll to
    # notice, one to mark, and the requests themselves.
    assert restart.at - deleted >= RESTART_AFTER
    assert marked - deleted < RESTART_AFTER + 2 * INTERVAL + 1.0
    assert [p.body for p in api.patches()] == [BOTH]
    node = api.node(NAME)
    assert node["metadata"]["uid"] == "uid-2"
    assert node["metadata"]["labels"][LABEL] == "true"
    [warning] = guard.logged("restarted deployment")
    assert f"restarted deployment {CONNECTOR[0]}/{CONNECTOR[1]} so that the connector" in warning
    assert guard.logged("was re-created (uid uid-2, before uid-1)")


def test_a_node_absent_for_less_than_the_wait_restarts_nothing(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    guard = start(NODE_GUARD_RESTART_AFTER_SECONDS="1.5")
    wait_until(lambda: api.count("GET") >= 3)
    # A connector that registers its node in time, as at every start.
    api.put_node(virtual_node(NAME, "uid-1"))
    wait_until(lambda: guard.probe("/readyz") == 200)
    # And a deletion the connector's own restart mends in time.
    api.delete_node(NAME)
    wait_until(lambda: guard.probe("/readyz") == 503)
    api.put_node(virtual_node(NAME, "uid-2"))
    wait_until(lambda: guard.probe("/readyz") == 200)
    gets = api.count("GET")
    # Past the wait as counted from the first absence: it started again when the node came back.
    time.sleep(1.0)
    assert api.count("GET") > gets
    assert api.restarts() == []


@pytest.mark.parametrize(
    ("status", "message", "details"),
    [
        # What the API server answers for a path it does not serve: NotFound, naming nothing.
        (404, "the server could not find the requested resource", {}),
        (404, 'nodes "other" not found', {"kind": "nodes", "name": "other"}),
        (500, "etcdserver: request timed out", None),
        (403, "forbidden", None),
    ],
    ids=["404 naming no node", "404 naming another node", "500", "403"],
)
def test_errors_are_never_taken_for_a_missing_node(
    api: FakeKubernetesApi,
    start: Callable[..., Guard],
    status: int,
    message: str,
    details: dict[str, str] | None,
) -> None:
    api.fail("GET", status, message, times=1000, details=details)
    guard = start(NODE_GUARD_RESTART_AFTER_SECONDS="0.2", NODE_GUARD_MAX_BACKOFF_SECONDS="0.1")
    wait_until(lambda: api.count("GET") >= 12)
    assert api.restarts() == []
    assert not guard.logged("does not exist")
    assert guard.logged(f"GET node {NAME}: HTTP {status} {message}")


def test_errors_between_answers_of_absence_start_the_count_again(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    guard = start(NODE_GUARD_RESTART_AFTER_SECONDS="0.5")
    guard.wait_for_log("does not exist")
    # Every third answer an error: never 0.5 s of absence in a row.
    for _ in range(6):
        api.fail("GET", 500, "etcdserver: leader changed")
        time.sleep(0.25)
    assert api.restarts() == []
    wait_until(lambda: len(api.restarts()) == 1)


def test_a_node_still_missing_after_a_restart_waits_twice_as_long_for_the_next(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    # A connector that cannot register (bad credentials): restarts are spaced out, not a loop.
    guard = start(NODE_GUARD_RESTART_AFTER_SECONDS="0.3")
    wait_until(lambda: len(api.restarts()) == 3, timeout=20)
    first, second, third = (r.at for r in api.restarts())
    # The guard spaces its decisions; the fake API sees its requests a little later each, more
    # so on a busy machine, so a gap may look shorter by up to one request's latency.
    assert second - first >= 0.6 - REQUEST_LATENCY
    assert third - second >= 1.2 - REQUEST_LATENCY
    assert guard.logged("the next restart, if it is still missing, in 1s")
    assert guard.process.poll() is None


def test_a_missing_connector_deployment_is_reported_and_retried(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    api.deployments.clear()
    guard = start(NODE_GUARD_RESTART_AFTER_SECONDS="0.2")
    line = guard.wait_for_log(f"PATCH deployment {CONNECTOR[0]}/{CONNECTOR[1]}: HTTP 404")
    assert 'deployments.apps "aci-connector" not found' in line
    wait_until(lambda: len(api.restarts()) >= 2)
    assert guard.process.poll() is None


# --- races with other writers ------------------------------------------------------------------


def test_a_provider_id_set_by_someone_else_first_gets_a_422_and_then_only_the_label(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    foreign = "gce://some-project/us-west1-a/some-vm"
    api.put_node(virtual_node(NAME, "uid-1"))
    # Between the guard's GET and its PATCH, another writer sets a providerID.
    api.before("PATCH", lambda: api.put_node(virtual_node(NAME, "uid-1", foreign)))
    guard = start()
    wait_until(lambda: len(api.patches()) == 2)
    first, second = api.patches()
    assert first.body == BOTH
    assert second.body == LABEL_ONLY
    error = guard.wait_for_log("HTTP 422")
    assert "spec.providerID: Forbidden" in error
    assert api.node(NAME)["spec"]["providerID"] == foreign
    assert guard.logged(f"node {NAME} has providerID {foreign}, not {OURS}")
    assert guard.probe("/readyz") == 503
    assert guard.process.poll() is None


def test_a_409_conflict_is_retried(api: FakeKubernetesApi, start: Callable[..., Guard]) -> None:
    api.put_node(virtual_node(NAME, "uid-1"))
    conflict = (
        'Operation cannot be fulfilled on nodes "aci-connector": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    api.fail("PATCH", 409, conflict)
    guard = start()
    wait_until(lambda: guard.probe("/readyz") == 200)
    assert [p.body for p in api.patches()] == [BOTH, BOTH]
    [error] = guard.logged("ERROR")
    assert f"PATCH node {NAME}: HTTP 409 {conflict}; retrying in 0.2s" in error


def test_an_unreachable_api_server_is_retried(start: Callable[..., Guard]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    guard = start(KUBERNETES_SERVICE_PORT=str(port))
    line = guard.wait_for_log("cannot reach the API server")
    assert f"GET node {NAME}: cannot reach the API server at 127.0.0.1:{port}" in line
    wait_until(lambda: len(guard.logged("cannot reach")) >= 3)
    assert guard.process.poll() is None
    assert guard.probe("/healthz") == 200


def test_an_api_server_the_cluster_ca_did_not_sign_gets_no_request(
    api: FakeKubernetesApi, start: Callable[..., Guard], service_account: Path
) -> None:
    Authority().write_ca(service_account / "ca.crt")
    guard = start()
    guard.wait_for_log("CERTIFICATE_VERIFY_FAILED")
    # The handshake failed, so no request (and no token) ever reached the server.
    assert api.requests == []
    assert guard.process.poll() is None


def test_a_rotated_token_is_read_again(
    api: FakeKubernetesApi, start: Callable[..., Guard], service_account: Path
) -> None:
    guard = start()
    wait_until(lambda: api.count("GET") >= 2)
    # The kubelet replaces the projected token in place.
    api.token = "token-2"
    (service_account / "token").write_text("token-2")
    api.put_node(virtual_node(NAME, "uid-1"))
    wait_until(lambda: guard.probe("/readyz") == 200)
    [patch] = api.patches()
    assert patch.headers["Authorization"] == "Bearer token-2"


def test_sigterm_stops_it_at_once_even_during_a_long_wait(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    api.fail("GET", 500, "etcdserver: leader changed", times=10)
    guard = start(NODE_GUARD_INTERVAL_SECONDS="30", NODE_GUARD_MAX_BACKOFF_SECONDS="60")
    guard.wait_for_log("retrying in 60s")
    began = time.monotonic()
    assert guard.stop() == 0
    # The connector's Recreate rollout waits for this pod: it must not sit out a grace period.
    assert time.monotonic() - began < 3
    assert guard.lines[-1].endswith("stopped")


# Runs the shipped script with SIGTERM delivered the moment the main thread enters a timed wait
# of the threading module (holding the wait's lock), the few bytecodes where a handler that takes
# that lock again deadlocks. Timing alone lands there too rarely to test.
SIGNAL_IN_A_WAIT = """
import os, runpy, signal, sys, threading
script = sys.argv[1]
original = threading.Condition.wait
def wait(self, timeout=None):
    if timeout is not None and threading.current_thread() is threading.main_thread():
        threading.Condition.wait = original
        os.kill(os.getpid(), signal.SIGTERM)
    return original(self, timeout)
threading.Condition.wait = wait
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"""


def test_sigterm_in_the_middle_of_a_wait_stops_it_at_once(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    api.put_node(virtual_node(NAME, "uid-1", OURS, {LABEL: "true"}))
    guard = start(command=[GUARD_PYTHON, *PYTHON_FLAGS, "-c", SIGNAL_IN_A_WAIT, str(SCRIPT)])
    guard.wait_for_log("needs nothing")
    began = time.monotonic()
    # The signal above may have stopped it already; if not, the kubelet's own SIGTERM must.
    assert guard.stop() == 0, guard.lines
    assert time.monotonic() - began < 3
    assert guard.lines[-1].endswith("stopped")


def test_it_fits_well_inside_its_memory_limit(
    api: FakeKubernetesApi, start: Callable[..., Guard]
) -> None:
    api.put_node(virtual_node(NAME, "uid-1"))
    guard = start()
    wait_until(lambda: guard.probe("/readyz") == 200)
    status = Path(f"/proc/{guard.process.pid}/status").read_text()
    peak_kib = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    # The container's limit is 64Mi (components/node_guard.py); half of it leaves the margin
    # for a newer interpreter.
    assert peak_kib < 32 * 1024


def test_it_refuses_to_start_without_its_node_name(start: Callable[..., Guard]) -> None:
    guard = start(NODE_NAME="")
    assert guard.process.wait(timeout=10) == 2
    wait_until(lambda: guard.logged("cannot start"))
    assert guard.logged("cannot start: NODE_NAME must be set")


def test_it_refuses_to_start_without_the_connector_it_restarts(
    start: Callable[..., Guard],
) -> None:
    guard = start(CONNECTOR_NAMESPACE="", CONNECTOR_DEPLOYMENT="")
    assert guard.process.wait(timeout=10) == 2
    wait_until(lambda: guard.logged("cannot start"))
    assert guard.logged("cannot start: CONNECTOR_NAMESPACE and CONNECTOR_DEPLOYMENT must be set")


def test_it_refuses_a_restart_wait_that_is_not_positive(start: Callable[..., Guard]) -> None:
    guard = start(NODE_GUARD_RESTART_AFTER_SECONDS="0")
    assert guard.process.wait(timeout=10) == 2
    wait_until(lambda: guard.logged("cannot start"))
    assert guard.logged("cannot start: need 0 < NODE_GUARD_RESTART_AFTER_SECONDS")
