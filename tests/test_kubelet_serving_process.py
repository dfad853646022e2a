"""The serving-certificate step and its approver as real processes: the very script the program
ships, run as the pods run it, with the real ``openssl``, against a loopback Kubernetes API over
HTTPS (tests/fake_kubernetes_api.py) that stores the requests, records the approvals and signs
approved ones with a test CA standing in for GKE's kubelet-serving signer (tests/cluster_ca.py).
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_ca import ClusterCa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fake_kubernetes_api import FakeKubernetesApi
from guard_python import GUARD_PYTHON, IMAGE_PYTHON
from loopback_http import Authority

from settings import DEFAULT_KUBELET_SERVING_IMAGE
from specs.connector_pod import PYTHON_FLAGS, SCRIPT

NODE = "aci-connector"
NAMESPACE = "aci-connector"
ACCOUNT = "virtual-kubelet"
POD_NAME = "aci-connector-6d4f-abcde"
UID = "0b6c1c9e-3f0e-4d5e-9a57-1f0b7c7f2a11"
CONNECTOR_TOKEN, APPROVER_TOKEN = "connector-token", "approver-token"
YEAR = 365 * 24 * 3600
WAIT = 15.0
CSRS_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
RENEW_AFTER = 30 * 24 * 3600


def wait_until(condition: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def test_these_tests_run_the_script_on_the_python_of_its_image() -> None:
    """The interpreter tests/guard_python.py picks is the node guard image's, which is also the
    default kubeletServingImage: CI runs these on that Python."""
    assert f"/python:{IMAGE_PYTHON}." in DEFAULT_KUBELET_SERVING_IMAGE


def connector_user(pod_name: str = POD_NAME, uid: str = UID) -> dict[str, Any]:
    """Who a bound token of the connector's pod authenticates as."""
    return {
        "username": f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}",
        "extra": {
            "authentication.kubernetes.io/pod-name": [pod_name],
            "authentication.kubernetes.io/pod-uid": [uid],
        },
    }


def connector_pod(ip: str, uid: str = UID, name: str = POD_NAME) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": uid},
        "spec": {"serviceAccountName": ACCOUNT},
        "status": {"phase": "Pending", "podIP": ip},
    }


@pytest.fixture
def cluster_ca() -> ClusterCa:
    return ClusterCa()


@pytest.fixture
def authority() -> Authority:
    return Authority()


@pytest.fixture
def api(authority: Authority, cluster_ca: ClusterCa) -> Iterator[FakeKubernetesApi]:
    fake = FakeKubernetesApi(authority, sign=cluster_ca.sign)
    fake.users[CONNECTOR_TOKEN] = connector_user()
    fake.users[APPROVER_TOKEN] = {
        "username": f"system:serviceaccount:{NAMESPACE}:kubelet-serving-approver"
    }
    with fake.serve() as server:
        yield server


def account_folder(tmp_path: Path, name: str, token: str, *cas: bytes) -> Path:
    """What Kubernetes mounts at /var/run/secrets/kubernetes.io/serviceaccount."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "token").write_text(token)
    # The cluster CA signs the API server's certificate and the kubelet-serving certificates;
    # here two test CAs stand for it, in one bundle.
    (folder / "ca.crt").write_bytes(b"".join(cas))
    return folder


@pytest.fixture
def run_step(
    api: FakeKubernetesApi, authority: Authority, cluster_ca: ClusterCa, tmp_path: Path
) -> Callable[..., tuple[subprocess.CompletedProcess[str], Path, float]]:
    folder = account_folder(
        tmp_path, "connector-account", CONNECTOR_TOKEN, authority.ca_pem, cluster_ca.ca_pem
    )

    def run(ip: str, wait: float = WAIT) -> tuple[subprocess.CompletedProcess[str], Path, float]:
        out = tmp_path / "kubelet-tls"
        out.mkdir(exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(api.port),
            "KUBELET_SERVING_SERVICE_ACCOUNT_DIR": str(folder),
            "NODE_NAME": NODE,
            "POD_NAME": POD_NAME,
            "POD_UID": UID,
            "POD_IP": ip,
            "SERVING_CERT_DIR": str(out),
            "SERVING_CERT_LIFETIME_SECONDS": str(YEAR),
            "SERVING_CERT_WAIT_SECONDS": str(wait),
            "SERVING_CERT_POLL_SECONDS": "0.1",
        }
        started = time.monotonic()
        done = subprocess.run(
            [GUARD_PYTHON, *PYTHON_FLAGS, str(SCRIPT), "request"],
            env=env,
            capture_output=True,
            text=True,
            timeout=wait + 30,
            check=False,
        )
        return done, out, time.monotonic() - started

    return run


@pytest.fixture
def approver(
    api: FakeKubernetesApi, authority: Authority, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    folder = account_folder(tmp_path, "approver-account", APPROVER_TOKEN, authority.ca_pem)
    started: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(api.port),
            "KUBELET_SERVING_SERVICE_ACCOUNT_DIR": str(folder),
            "NODE_NAME": NODE,
            "CONNECTOR_NAMESPACE": NAMESPACE,
            "CONNECTOR_SERVICE_ACCOUNT": ACCOUNT,
            "SERVING_CERT_MAX_LIFETIME_SECONDS": str(YEAR),
            "APPROVER_INTERVAL_SECONDS": "0.1",
            "CONNECTOR_DEPLOYMENT": "aci-connector",
            "SERVING_CERT_RENEW_AFTER_SECONDS": str(RENEW_AFTER),
        }
        process = subprocess.Popen(
            [GUARD_PYTHON, *PYTHON_FLAGS, str(SCRIPT), "approve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()
        try:
            # SIGTERM ends it cleanly, as the kubelet's does.
            assert process.wait(timeout=5) == 0
        finally:
            if process.poll() is None:
                process.kill()


def certificate(folder: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((folder / "tls.crt").read_bytes())


def ips_of(cert: x509.Certificate) -> list[str]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


def key_matches(folder: Path, cert: x509.Certificate) -> bool:
    key = serialization.load_pem_private_key((folder / "tls.key").read_bytes(), None)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    return key.public_key().public_bytes(encoding, public) == cert.public_key().public_bytes(
        encoding, public
    )


def test_the_connectors_start_gets_a_certificate_from_the_cluster_signer_for_its_ip(
    api: FakeKubernetesApi, cluster_ca: ClusterCa, run_step: Callable[..., Any], approver: Any
) -> None:
    api.pods[f"{NAMESPACE}/{POD_NAME}"] = connector_pod("127.0.0.1")
    approver()
    done, out, _ = run_step("127.0.0.1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "issued by the cluster's kubelet-serving signer for 127.0.0.1" in done.stdout
    cert = certificate(out)
    cert.verify_directly_issued_by(cluster_ca.cert)
    assert ips_of(cert) == ["127.0.0.1"]
    assert cert.subject.rfc4514_string() == f"CN=system:node:{NODE},O=system:nodes"
    assert key_matches(out, cert)
    # The key never left the pod's volume, readable by its owner alone.
    assert (out / "tls.key").stat().st_mode & 0o077 == 0
    stored = api.csrs[UID]
    assert stored["spec"]["signerName"] == "kubernetes.io/kubelet-serving"
    assert stored["spec"]["usages"] == ["digital signature", "server auth"]
    assert stored["spec"]["expirationSeconds"] == YEAR
    [approved] = stored["status"]["conditions"]
    assert (approved["type"], approved["status"]) == ("Approved", "True")
    assert POD_NAME in approved["message"]
    assert "PRIVATE KEY" not in str(api.requests)

    # The API server's kubelet client, holding a certificate from the cluster CA, verifies the
    # served certificate by IP against that CA; a client without a certificate is refused, as
    # the connector's --client-verify-ca refuses it.
    client_cert, client_key = cluster_ca.client("kube-apiserver-kubelet-client")
    (out / "client.crt").write_text(client_cert)
    (out / "client.key").write_text(client_key)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(out / "tls.crt", out / "tls.key")
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(cadata=cluster_ca.ca_pem.decode())
    with serving_tls(server) as port:
        client = ssl.create_default_context(cadata=cluster_ca.ca_pem.decode())
        client.load_cert_chain(out / "client.crt", out / "client.key")
        assert exchange(client, port) == b"ok"
        anonymous = ssl.create_default_context(cadata=cluster_ca.ca_pem.decode())
        with pytest.raises((ssl.SSLError, ConnectionError)):
            exchange(anonymous, port)


class serving_tls:  # noqa: N801 - a context manager used like a function
    """A TLS server on 127.0.0.1 that answers b"ok" to each client it accepts."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.context = context
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        return self.listener.getsockname()[1]

    def __exit__(self, *_: object) -> None:
        self.listener.close()
        self.thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            connection.settimeout(5)
            try:
                with self.context.wrap_socket(connection, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                connection.close()


def exchange(context: ssl.SSLContext, port: int) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.recv(2)


def test_a_step_run_again_in_the_same_pod_keeps_the_certificate_it_obtained(
    api: FakeKubernetesApi, cluster_ca: ClusterCa, run_step: Callable[..., Any], approver: Any
) -> None:
    """An init container runs again when its pod's sandbox is re-created; the in-memory
    volume, the pod's UID and its IP stay, and a second request by that name would clash."""
    api.pods[f"{NAMESPACE}/{POD_NAME}"] = connector_pod("10.4.0.7")
    approver()
    first, out, _ = run_step("10.4.0.7")
    assert first.returncode == 0, first.stdout + first.stderr
    issued = (out / "tls.crt").read_bytes()
    again, _, _ = run_step("10.4.0.7")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "keeping the certificate this pod obtained before" in again.stdout
    assert (out / "tls.crt").read_bytes() == issued
    assert [r.method for r in api.requests if r.path.endswith(CSRS_PATH)] == ["POST"]


def test_errors_while_waiting_are_asked_again_within_the_bound(
    api: FakeKubernetesApi, cluster_ca: ClusterCa, run_step: Callable[..., Any]
) -> None:
    def approve() -> None:
        """Approved and issued before the first read, which fails, as do the next two."""
        stored = api.csrs[UID]
        stored["status"]["conditions"] = [{"type": "Approved", "status": "True"}]
        certificate_pem = cluster_ca.sign(stored).encode()
        stored["status"]["certificate"] = base64.b64encode(certificate_pem).decode()

    api.before("GET", approve)
    api.fail("GET", 503, "the server is currently unable to handle the request", times=3)
    done, out, _ = run_step("10.4.0.7")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("asking again") == 3
    assert "issued by the cluster's kubelet-serving signer for 10.4.0.7" in done.stdout
    certificate(out).verify_directly_issued_by(cluster_ca.cert)


def test_a_denied_request_leads_to_the_self_signed_fallback_at_once(
    api: FakeKubernetesApi, run_step: Callable[..., Any], approver: Any
) -> None:
    # The pod has another IP than the one the step asks for: the approver denies.
    api.pods[f"{NAMESPACE}/{POD_NAME}"] = connector_pod("10.4.0.8")
    approver()
    done, out, seconds = run_step("10.4.0.7")
    assert done.returncode == 0, done.stdout + done.stderr
    assert seconds < WAIT
    assert "no certificate from the cluster's signer (denied: the request asks for IPs" in (
        done.stdout
    )
    assert "serving a self-signed certificate" in done.stdout
    [denied] = api.csrs[UID]["status"]["conditions"]
    assert denied["type"] == "Denied"
    assert "certificate" not in api.csrs[UID]["status"]
    fallback = certificate(out)
    assert fallback.issuer == fallback.subject
    assert ips_of(fallback) == ["10.4.0.7"]
    assert key_matches(out, fallback)


def test_a_request_never_approved_leads_to_the_fallback_within_the_bound(
    api: FakeKubernetesApi, run_step: Callable[..., Any]
) -> None:
    done, out, seconds = run_step("10.4.0.7", wait=1.0)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 1.0 <= seconds < 1.0 + 15
    assert "no certificate issued within 1s" in done.stdout
    assert api.csrs[UID]["status"] == {}
    assert certificate(out).issuer == certificate(out).subject


def wrong_key(csr: dict[str, Any], ca: ClusterCa) -> str:
    request = x509.load_pem_x509_csr(base64.b64decode(csr["spec"]["request"]))
    names = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    return ca.issue(request.subject, other, names, 3600)


def wrong_ip(csr: dict[str, Any], ca: ClusterCa) -> str:
    request = x509.load_pem_x509_csr(base64.b64decode(csr["spec"]["request"]))
    names = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("10.9.9.9"))])
    return ca.issue(request.subject, request.public_key(), names, 3600)  # pyright: ignore[reportArgumentType]


def other_ca(csr: dict[str, Any], _ca: ClusterCa) -> str:
    return ClusterCa("another CA").sign(csr)


@pytest.mark.parametrize("issue", [wrong_key, wrong_ip, other_ca])
def test_the_step_refuses_a_certificate_that_does_not_fit_and_falls_back(
    api: FakeKubernetesApi,
    cluster_ca: ClusterCa,
    run_step: Callable[..., Any],
    approver: Any,
    issue: Callable[[dict[str, Any], ClusterCa], str],
) -> None:
    api.sign = lambda csr: issue(csr, cluster_ca)
    api.pods[f"{NAMESPACE}/{POD_NAME}"] = connector_pod("10.4.0.7")
    approver()
    done, out, _ = run_step("10.4.0.7")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "serving a self-signed certificate" in done.stdout
    fallback = certificate(out)
    assert fallback.issuer == fallback.subject
    assert key_matches(out, fallback)


def request_object(
    name: str, subject_cn: str, ips: list[str], dns: list[str] | None = None
) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    names += [x509.DNSName(d) for d in dns or []]
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                    x509.NameAttribute(NameOID.COMMON_NAME, subject_cn),
                ]
            )
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    return {
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode(),
            "signerName": "kubernetes.io/kubelet-serving",
            "usages": ["digital signature", "server auth"],
            "expirationSeconds": 3600,
        },
    }


def submit(api: FakeKubernetesApi, token: str, csr: dict[str, Any]) -> None:
    """Creates the CSR over HTTPS as the token's owner, as the API server records it."""
    context = ssl.create_default_context(cadata=api.authority.ca_pem.decode())
    connection = http.client.HTTPSConnection("127.0.0.1", api.port, context=context, timeout=5)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request(
        "POST",
        CSRS_PATH,
        json.dumps(csr),
        headers,
    )
    assert connection.getresponse().status == 201
    connection.close()


def test_the_approver_approves_exactly_the_right_request_and_refuses_variants(
    api: FakeKubernetesApi, approver: Any
) -> None:
    ip, other_uid = "10.4.0.7", "9d2c7e11-0000-4000-8000-000000000001"
    api.pods[f"{NAMESPACE}/{POD_NAME}"] = connector_pod(ip)
    api.users["node-token"] = {"username": f"system:node:{NODE}"}
    api.users["other-pod-token"] = connector_user("aci-connector-old", other_uid)
    cn = f"system:node:{NODE}"
    submit(api, CONNECTOR_TOKEN, request_object(UID, cn, [ip]))
    variants = {
        "other-cn": (CONNECTOR_TOKEN, request_object("other-cn", "system:node:other", [ip])),
        "extra-san": (CONNECTOR_TOKEN, request_object("extra-san", cn, [ip], ["evil.example"])),
        "other-ip": (CONNECTOR_TOKEN, request_object("other-ip", cn, ["10.4.0.9"])),
        # A pod that no longer exists, with its own uid.
        other_uid: ("other-pod-token", request_object(other_uid, cn, [ip])),
    }
    for token, csr in variants.values():
        submit(api, token, csr)
    # Another requester: a node's own request, GKE's approver's to decide.
    submit(api, "node-token", request_object("node-own", cn, [ip]))
    approver()
    wait_until(lambda: all(api.csrs[name]["status"].get("conditions") for name in [UID, *variants]))
    time.sleep(0.5)  # a few more passes: nothing else changes

    def verdict(name: str) -> str | None:
        conditions = api.csrs[name]["status"].get("conditions") or []
        return conditions[0]["type"] if conditions else None

    assert verdict(UID) == "Approved"
    assert api.csrs[UID]["status"]["certificate"]
    for name in variants:
        assert verdict(name) == "Denied", name
        assert "certificate" not in api.csrs[name]["status"], name
    assert verdict("node-own") is None
    # Each decision is made once.
    approvals = [r for r in api.requests if r.path.endswith("/approval")]
    assert len(approvals) == 1 + len(variants)


def test_the_approver_restarts_a_connector_whose_certificate_is_due_once(
    api: FakeKubernetesApi, approver: Any
) -> None:
    api.put_deployment(NAMESPACE, "aci-connector")
    due = connector_pod("10.4.0.7")
    due["status"] |= {"phase": "Running", "startTime": "2020-01-01T00:00:00Z"}
    young = connector_pod("10.4.0.8", uid="young-uid", name="aci-connector-young")
    young["status"] |= {"phase": "Running", "startTime": "2999-01-01T00:00:00Z"}
    api.pods[f"{NAMESPACE}/{POD_NAME}"] = due
    api.pods[f"{NAMESPACE}/aci-connector-young"] = young
    approver()
    wait_until(lambda: api.restarts())
    lists = sum(1 for r in api.requests if r.path.endswith("/pods"))
    wait_until(lambda: sum(1 for r in api.requests if r.path.endswith("/pods")) >= lists + 3)
    [restart] = api.restarts()
    assert restart.path == f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/aci-connector"
    assert restart.headers["Content-Type"] == "application/merge-patch+json"
    assert restart.headers["Authorization"] == f"Bearer {APPROVER_TOKEN}"
    annotations = restart.body["spec"]["template"]["metadata"]["annotations"]
    assert list(annotations) == ["kubectl.kubernetes.io/restartedAt"]
