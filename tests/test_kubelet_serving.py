"""The approver's decision over CSR fixtures: the connector pod's own request is approved, each
way of breaking a rule is denied with its reason, and what is not ours is left alone.

The CSRs are made with the ``cryptography`` package, independently of the DER reader under test.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from kubelet_serving.kubelet_serving import (
    Decision,
    MalformedRequestError,
    Policy,
    decide,
    read_request,
    renewal_due,
)

NODE = "aci-connector"
NAMESPACE = "aci-connector"
ACCOUNT = "virtual-kubelet"
REQUESTER = f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
POD_NAME = "aci-connector-6d4f-abcde"
UID = "0b6c1c9e-3f0e-4d5e-9a57-1f0b7c7f2a11"
POD_IP = "10.4.0.7"
YEAR = 365 * 24 * 3600
POLICY = Policy(NAMESPACE, ACCOUNT, NODE, max_lifetime_seconds=YEAR)
KEY = ec.generate_private_key(ec.SECP256R1())

Csr = dict[str, Any]
Pod = dict[str, Any]


def request_pem(
    subject: list[tuple[x509.ObjectIdentifier, str]] | None = None,
    names: list[x509.GeneralName] | None = None,
    extensions: list[x509.ExtensionType] = (),  # pyright: ignore[reportArgumentType]
) -> str:
    """A PEM CSR; by default the one the connector's step makes."""
    attributes = subject or [
        (NameOID.ORGANIZATION_NAME, "system:nodes"),
        (NameOID.COMMON_NAME, f"system:node:{NODE}"),
    ]
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])
    )
    if names is None:
        names = [x509.IPAddress(ipaddress.ip_address(POD_IP))]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    csr = builder.sign(KEY, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def csr(pem: str | None = None, **spec: Any) -> Csr:
    """A CSR object as the API server stores it, with the requester it recorded."""
    return {
        "metadata": {"name": UID},
        "spec": {
            "request": base64.b64encode((pem or request_pem()).encode()).decode(),
            "signerName": "kubernetes.io/kubelet-serving",
            "usages": ["digital signature", "server auth"],
            "expirationSeconds": YEAR,
            "username": REQUESTER,
            "extra": {
                "authentication.kubernetes.io/pod-name": [POD_NAME],
                "authentication.kubernetes.io/pod-uid": [UID],
            },
            **spec,
        },
    }


def pod(**changes: Any) -> Pod:
    """The connector's pod, its init step running (phase Pending)."""
    pod: Pod = {
        "metadata": {"name": POD_NAME, "namespace": NAMESPACE, "uid": UID},
        "spec": {"serviceAccountName": ACCOUNT, "nodeName": "gke-node-1"},
        "status": {"phase": "Pending", "podIP": POD_IP},
    }
    for path, value in changes.items():
        section, field = path.split("__")
        pod[section][field] = value
    return pod


def test_the_connector_pods_own_request_is_approved() -> None:
    decision = decide(csr(), pod(), POLICY)
    assert decision == Decision("approve", f"the serving certificate of connector pod {POD_NAME}")
    # Also once the pod runs, and whatever order the usages come in.
    running = pod(status__phase="Running")
    assert decide(csr(usages=["server auth", "digital signature"]), running, POLICY).action == (
        "approve"
    )
    # A shorter lifetime is within the cap.
    assert decide(csr(expirationSeconds=3600), pod(), POLICY).action == "approve"


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (csr(signerName="kubernetes.io/kube-apiserver-client"), "another signer"),
        (csr(username="system:node:aci-connector"), "a node's own request (GKE's approver's)"),
        (csr(username="system:serviceaccount:aci-connector:node-guard"), "another account"),
        (csr(username="system:serviceaccount:other:virtual-kubelet"), "another namespace"),
    ],
)
def test_what_is_not_the_connectors_is_left_alone(request_: Csr, reason: str) -> None:
    assert decide(request_, pod(), POLICY).action == "ignore", reason


def without_extra(key: str) -> Csr:
    request_ = csr()
    del request_["spec"]["extra"][f"authentication.kubernetes.io/{key}"]
    return request_


ORG, CN, OU = NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME
IP = x509.IPAddress(ipaddress.ip_address(POD_IP))

VIOLATIONS: dict[str, tuple[Callable[[], tuple[Csr, Pod | None]], str]] = {
    "no pod extras (a legacy token)": (
        lambda: (csr(extra={}), pod()),
        "exactly one pod name and pod uid",
    ),
    "no pod-uid extra": (lambda: (without_extra("pod-uid"), pod()), "exactly one pod name"),
    "no pod-name extra": (lambda: (without_extra("pod-name"), pod()), "exactly one pod name"),
    "two pod uids": (
        lambda: (
            csr(
                extra={
                    "authentication.kubernetes.io/pod-name": [POD_NAME],
                    "authentication.kubernetes.io/pod-uid": [UID, "other"],
                }
            ),
            pod(),
        ),
        "exactly one pod name",
    ),
    "named after another uid": (
        lambda: ({**csr(), "metadata": {"name": "another-uid"}}, pod()),
        "not named after the uid",
    ),
    "the pod is gone": (lambda: (csr(), None), "does not exist"),
    "a different pod of that name": (
        lambda: (csr(), pod(metadata__uid="another-uid")),
        "another pod than the one",
    ),
    "the pod runs as another account": (
        lambda: (csr(), pod(spec__serviceAccountName="default")),
        "does not run as virtual-kubelet",
    ),
    "the pod is in another namespace": (
        lambda: (csr(), pod(metadata__namespace="default")),
        "is not in aci-connector",
    ),
    "the pod is terminating": (
        lambda: (csr(), pod(metadata__deletionTimestamp="2026-12-02T11:00:00Z")),
        "is terminating",
    ),
    "the pod has finished": (lambda: (csr(), pod(status__phase="Failed")), "has finished"),
    "the pod has no IP": (lambda: (csr(), pod(status__podIP="")), "has no IP yet"),
    "wrong CN": (
        lambda: (csr(request_pem([(ORG, "system:nodes"), (CN, "system:node:other")])), pod()),
        "the subject is not exactly",
    ),
    "wrong O": (
        lambda: (csr(request_pem([(ORG, "system:masters"), (CN, f"system:node:{NODE}")])), pod()),
        "the subject is not exactly",
    ),
    "an extra subject attribute": (
        lambda: (
            csr(request_pem([(ORG, "system:nodes"), (CN, f"system:node:{NODE}"), (OU, "x")])),
            pod(),
        ),
        "the subject is not exactly",
    ),
    "another IP": (
        lambda: (csr(request_pem(names=[x509.IPAddress(ipaddress.ip_address("10.4.0.8"))])), pod()),
        "not exactly the pod's 10.4.0.7",
    ),
    "an extra IP": (
        lambda: (
            csr(request_pem(names=[IP, x509.IPAddress(ipaddress.ip_address("10.0.0.1"))])),
            pod(),
        ),
        "not exactly the pod's",
    ),
    "no IP": (lambda: (csr(request_pem(names=[])), pod()), "not exactly the pod's"),
    "an extra DNS name": (
        lambda: (csr(request_pem(names=[IP, x509.DNSName("kubernetes.default")])), pod()),
        "a name besides the pod's IP",
    ),
    "an email": (
        lambda: (csr(request_pem(names=[IP, x509.RFC822Name("a@example.com")])), pod()),
        "a name besides the pod's IP",
    ),
    "a URI": (
        lambda: (csr(request_pem(names=[IP, x509.UniformResourceIdentifier("spiffe://x")])), pod()),
        "a name besides the pod's IP",
    ),
    "another extension": (
        lambda: (
            csr(request_pem(extensions=[x509.BasicConstraints(ca=True, path_length=None)])),
            pod(),
        ),
        "extensions besides subjectAltName",
    ),
    "client auth too": (
        lambda: (csr(usages=["digital signature", "server auth", "client auth"]), pod()),
        "usages are",
    ),
    "key encipherment too": (
        lambda: (csr(usages=["digital signature", "key encipherment", "server auth"]), pod()),
        "usages are",
    ),
    "no server auth": (lambda: (csr(usages=["digital signature"]), pod()), "usages are"),
    "too long a lifetime": (
        lambda: (csr(expirationSeconds=YEAR + 1), pod()),
        f"not at most {YEAR}",
    ),
    "no lifetime (the signer's default)": (
        lambda: (csr(expirationSeconds=None), pod()),
        f"not at most {YEAR}",
    ),
    "not a certificate request": (
        lambda: (csr("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"), pod()),
        "cannot be read",
    ),
}


@pytest.mark.parametrize("case", sorted(VIOLATIONS))
def test_each_violation_from_the_connectors_account_is_denied_with_its_reason(case: str) -> None:
    make, reason = VIOLATIONS[case]
    request_, the_pod = make()
    decision = decide(request_, the_pod, POLICY)
    assert decision.action == "deny"
    assert reason in decision.reason


def test_the_reader_reads_what_cryptography_wrote() -> None:
    names = [
        IP,
        x509.IPAddress(ipaddress.ip_address("fd00::7")),
        x509.DNSName("node.example"),
        x509.RFC822Name("a@example.com"),
        x509.UniformResourceIdentifier("spiffe://x"),
        x509.DirectoryName(x509.Name([x509.NameAttribute(CN, "x")])),
    ]
    asked = read_request(request_pem(names=names))
    assert asked.subject == (("2.5.4.10", "system:nodes"), ("2.5.4.3", f"system:node:{NODE}"))
    assert asked.ips == (POD_IP, "fd00::7")
    assert asked.dns_names == ("node.example",)
    assert asked.emails == ("a@example.com",)
    assert asked.uris == ("spiffe://x",)
    assert asked.other_names == 1
    assert asked.other_extensions == ()
    with pytest.raises(MalformedRequestError):
        read_request("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----")


ips = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)


@settings(max_examples=50, deadline=None)
@given(asked=ips, actual=ips)
def test_only_the_pods_own_ip_is_approved(asked: str, actual: str) -> None:
    request_ = csr(request_pem(names=[x509.IPAddress(ipaddress.ip_address(asked))]))
    decision = decide(request_, pod(status__podIP=actual), POLICY)
    assert decision.action == ("approve" if asked == actual else "deny")


@settings(max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=300))
def test_any_bytes_as_a_request_are_denied_never_approved_and_never_crash(garbage: bytes) -> None:
    pem = (
        "-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.b64encode(garbage).decode()
        + "\n-----END CERTIFICATE REQUEST-----"
    )
    assert decide(csr(pem), pod(), POLICY).action == "deny"


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=1, max_value=400))
def test_a_truncated_request_is_denied(cut: int) -> None:
    der = base64.b64decode("".join(request_pem().strip().splitlines()[1:-1]))
    pem = (
        "-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.b64encode(der[: max(0, len(der) - cut)]).decode()
        + "\n-----END CERTIFICATE REQUEST-----"
    )
    assert decide(csr(pem), pod(), POLICY).action == "deny"


NOW = datetime.datetime(2027, 6, 1, 12, 0, tzinfo=datetime.UTC)
DAY = 24 * 3600.0


@pytest.mark.parametrize(
    ("changes", "due"),
    [
        ({"status__phase": "Running", "status__startTime": "2027-05-01T12:00:00Z"}, True),
        ({"status__phase": "Running", "status__startTime": "2027-05-01T12:00:01Z"}, False),
        ({"status__phase": "Pending", "status__startTime": "2026-01-01T00:00:00Z"}, False),
        (
            {
                "status__phase": "Running",
                "status__startTime": "2026-01-01T00:00:00Z",
                "metadata__deletionTimestamp": "2027-06-01T11:59:00Z",
            },
            False,
        ),
        (
            {
                "status__phase": "Running",
                "status__startTime": "2026-01-01T00:00:00Z",
                "spec__serviceAccountName": "node-guard",
            },
            False,
        ),
        ({"status__phase": "Running", "status__startTime": "not a time"}, False),
        ({"status__phase": "Running", "status__startTime": "2026-01-01T00:00:00"}, False),
        ({"status__phase": "Running"}, False),
    ],
)
def test_a_running_connector_pod_is_due_for_renewal_once_it_is_old_enough(
    changes: dict[str, Any], due: bool
) -> None:
    assert renewal_due(pod(**changes), POLICY, 31 * DAY, NOW) is due
