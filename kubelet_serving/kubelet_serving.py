"""The connector's kubelet serving certificate from the cluster's ``kubernetes.io/kubelet-serving``
signer: the request, made in the connector's pod before it starts, and the approval, made by a
process of its own. Why: docs/decisions/0021-kubelet-serving-certificate.md.

``request`` (the connector pod's init container, as the connector's service account): makes a
fresh P-256 key with ``openssl`` in the pod's in-memory volume, a CSR for
``CN=system:node:<node>, O=system:nodes`` with the pod's IP as its only name, and submits it as a
CertificateSigningRequest named after the pod's UID (usages digital signature and server auth,
a requested lifetime). It waits for the certificate up to a bound, checks that it matches the key
and that a TLS client trusting the service account's ``ca.crt`` accepts it for the pod's IP, and
writes ``tls.crt`` beside ``tls.key``. Denied, refused, not issued in time, or unreachable: it
writes a self-signed certificate instead and says so, so the virtual node never depends on the
approver (only ``kubectl logs``/``exec`` do). The connector reads both files once, when it starts
(azure-aci v1.6.4 ``cmd/virtual-kubelet/main.go``): a new pod is a new certificate.

``approve`` (a Deployment of its own, as its own service account): every interval, lists the
kubelet-serving CSRs that no one has decided and passes each to ``decide``, a pure function that
approves only the request of one live connector pod, exactly as ``request`` makes it, denies with
a reason any other request from the connector's account, and leaves every other CSR alone.
``approve`` on the signer cannot be narrowed to one request in RBAC, so ``decide`` is the
boundary: keep it small. It also renews: the connector reads its certificate only when it starts,
so when the connector's pod has run for ``SERVING_CERT_RENEW_AFTER_SECONDS`` the approver restarts
its Deployment, and the new pod obtains a new certificate.

Standard library and the ``openssl`` command only, so both run in an official Python image:
docker-library/python's ``slim-trixie`` Dockerfile installs ``ca-certificates``, which depends on
Debian's ``openssl`` package (seen on bookworm's). An image without ``openssl`` cannot make a
key at all: the step then fails with a log naming it, and the connector does not start.

The CSR is read with a small DER reader (``read_request``): it reads names and verifies no
signature, which approval does not need: a request for a key the requester does not hold gets a
certificate the requester cannot serve with.

Both read the API server and their token as in-cluster clients do: ``KUBERNETES_SERVICE_HOST``/
``PORT`` and ``token``/``ca.crt`` in ``KUBELET_SERVING_SERVICE_ACCOUNT_DIR`` (by default where
Kubernetes mounts them).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import http.client
import ipaddress
import json
import logging
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

SIGNER = "kubernetes.io/kubelet-serving"
USAGES = ("digital signature", "server auth")
NODES_GROUP = "system:nodes"
NODE_PREFIX = "system:node:"
POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name"
POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
REQUEST_TIMEOUT = 10.0
MERGE_PATCH = "application/merge-patch+json"
# The annotation `kubectl rollout restart` sets on the pod template (kubernetes v1.36
# staging/src/k8s.io/kubectl/pkg/polymorphichelpers/objectrestarter.go).
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# The self-signed fallback's lifetime: the connector keeps it until its pod is replaced.
FALLBACK_DAYS = 365

log = logging.getLogger("kubelet-serving")

Object = dict[str, Any]


class ApiError(Exception):
    """The API server could not be reached, or answered with an unexpected status."""


# --- the API server -------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    """Calls to the API server as the pod's service account."""

    host: str
    port: int
    service_account_dir: Path

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Api:
        if not env.get("KUBERNETES_SERVICE_HOST"):
            raise ValueError("KUBERNETES_SERVICE_HOST must be set")
        return cls(
            host=env["KUBERNETES_SERVICE_HOST"],
            port=int(env.get("KUBERNETES_SERVICE_PORT", "443")),
            service_account_dir=Path(
                env.get("KUBELET_SERVING_SERVICE_ACCOUNT_DIR", SERVICE_ACCOUNT_DIR)
            ),
        )

    @property
    def ca_file(self) -> Path:
        return self.service_account_dir / "ca.crt"

    def call(
        self,
        method: str,
        path: str,
        body: Object | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, Object]:
        folder = self.service_account_dir
        try:
            token = (folder / "token").read_text().strip()
            context = ssl.create_default_context(cafile=str(self.ca_file))
        except (OSError, ssl.SSLError) as error:
            raise ApiError(f"cannot read the service account's token or CA: {error}") from None
        # Python 3.13+ adds RFC 5280 strictness that some cluster CAs fail; chain and host name
        # are still verified, as Kubernetes' own Go clients verify them.
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
            headers["Content-Type"] = content_type
        connection = http.client.HTTPSConnection(
            self.host, self.port, timeout=REQUEST_TIMEOUT, context=context
        )
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            raise ApiError(f"{method} {path}: cannot reach the API server: {error}") from None
        finally:
            connection.close()
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            raise ApiError(f"{method} {path}: HTTP {status}, not JSON") from None
        return status, answer if isinstance(answer, dict) else {}


def _message(status: int, answer: Object) -> str:
    return f"HTTP {status} {' '.join(str(answer.get('message', '')).split())}".rstrip()


# --- reading a CSR (PKCS #10, RFC 2986) ------------------------------------------------------

_SEQUENCE, _SET, _OID, _OCTETS, _CONTEXT_0 = 0x30, 0x31, 0x06, 0x04, 0xA0
_STRINGS = {0x0C, 0x13, 0x16}  # UTF8String, PrintableString, IA5String
_CN, _O = "2.5.4.3", "2.5.4.10"
_EXTENSION_REQUEST = "1.2.840.113549.1.9.14"
_SUBJECT_ALT_NAME = "2.5.29.17"
# GeneralName tags (RFC 5280 4.2.1.6) by the name ``Request`` files them under.
_NAME_KINDS = {0x81: "emails", 0x82: "dns_names", 0x86: "uris", 0x87: "ips"}


class MalformedRequestError(ValueError):
    """The CSR is not the DER this reader expects."""


@dataclass(frozen=True)
class Request:
    """What a CSR asks for: its subject's attributes and its subject alternative names."""

    subject: tuple[tuple[str, str], ...]
    ips: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    # Names of kinds this reader does not spell out (otherName, directoryName, ...).
    other_names: int = 0
    # Extensions asked for besides subjectAltName, by OID.
    other_extensions: tuple[str, ...] = ()


def _tlv(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """One DER element at ``offset``: its tag, its content, and the offset after it."""
    if offset + 2 > len(data):
        raise MalformedRequestError("truncated")
    tag, length, offset = data[offset], data[offset + 1], offset + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or offset + count > len(data):
            raise MalformedRequestError("bad length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise MalformedRequestError("truncated")
    return tag, data[offset : offset + length], offset + length


def _elements(data: bytes) -> list[tuple[int, bytes]]:
    items, offset = [], 0
    while offset < len(data):
        tag, content, offset = _tlv(data, offset)
        items.append((tag, content))
    return items


def _expect(element: tuple[int, bytes], tag: int) -> bytes:
    if element[0] != tag:
        raise MalformedRequestError(f"expected tag {tag:#x}, found {element[0]:#x}")
    return element[1]


def _oid(content: bytes) -> str:
    if not content:
        raise MalformedRequestError("empty OID")
    parts, value = [*divmod(content[0], 40)] if content[0] < 80 else [2, content[0] - 80], 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def read_request(pem: str) -> Request:
    """The subject and names a PEM CSR asks for; ``MalformedRequestError`` if it is not one."""
    lines = pem.strip().splitlines()
    if len(lines) < 3 or lines[0] != "-----BEGIN CERTIFICATE REQUEST-----":
        raise MalformedRequestError("not a PEM certificate request")
    if lines[-1] != "-----END CERTIFICATE REQUEST-----":
        raise MalformedRequestError("not a PEM certificate request")
    try:
        der = base64.b64decode("".join(lines[1:-1]), validate=True)
    except binascii.Error:
        raise MalformedRequestError("bad base64") from None
    try:
        return _read(der)
    except MalformedRequestError:
        raise
    except (IndexError, ValueError) as error:
        raise MalformedRequestError(f"unexpected structure: {error!r}") from None


def _read(der: bytes) -> Request:
    tag, outer, end = _tlv(der)
    if tag != _SEQUENCE or end != len(der):
        raise MalformedRequestError("not one SEQUENCE")
    info = _elements(_expect(_elements(outer)[0], _SEQUENCE))
    if len(info) not in (3, 4):
        raise MalformedRequestError("certificationRequestInfo has the wrong shape")
    subject = tuple(
        _attribute(_elements(_expect(pair, _SEQUENCE)))
        for rdn in _elements(_expect(info[1], _SEQUENCE))
        for pair in _elements(_expect(rdn, _SET))
    )
    names: dict[str, list[str]] = {kind: [] for kind in _NAME_KINDS.values()}
    other_names, other_extensions = 0, []
    for attribute in _elements(_expect(info[3], _CONTEXT_0)) if len(info) == 4 else []:
        oid_element, values = _elements(_expect(attribute, _SEQUENCE))
        if _oid(_expect(oid_element, _OID)) != _EXTENSION_REQUEST:
            other_extensions.append(_oid(oid_element[1]))
            continue
        for extensions in _elements(_expect(values, _SET)):
            for extension in _elements(_expect(extensions, _SEQUENCE)):
                parts = _elements(_expect(extension, _SEQUENCE))
                oid = _oid(_expect(parts[0], _OID))
                if oid != _SUBJECT_ALT_NAME:
                    other_extensions.append(oid)
                    continue
                for name_tag, value in _general_names(_expect(parts[-1], _OCTETS)):
                    kind = _NAME_KINDS.get(name_tag)
                    if kind is None:
                        other_names += 1
                    elif kind == "ips":
                        names[kind].append(_ip(value))
                    else:
                        names[kind].append(value.decode("ascii", errors="replace"))
    return Request(
        subject=subject,
        other_names=other_names,
        other_extensions=tuple(other_extensions),
        **{kind: tuple(values) for kind, values in names.items()},
    )


def _general_names(octets: bytes) -> list[tuple[int, bytes]]:
    tag, content, end = _tlv(octets)
    if tag != _SEQUENCE or end != len(octets):
        raise MalformedRequestError("subjectAltName is not one SEQUENCE")
    return _elements(content)


def _attribute(pair: list[tuple[int, bytes]]) -> tuple[str, str]:
    if len(pair) != 2 or pair[1][0] not in _STRINGS:
        raise MalformedRequestError("a subject attribute is not an OID and a string")
    return _oid(_expect(pair[0], _OID)), pair[1][1].decode("utf-8", errors="replace")


def _ip(value: bytes) -> str:
    if len(value) not in (4, 16):
        raise MalformedRequestError("an IP address is neither 4 nor 16 bytes")
    return str(ipaddress.ip_address(value))


# --- the decision ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """Whose request is approved, for which node, and for how long at most."""

    namespace: str
    service_account: str
    node_name: str
    max_lifetime_seconds: int

    @property
    def requester(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


@dataclass(frozen=True)
class Decision:
    """``approve``, ``deny`` or ``ignore``, and why."""

    action: str
    reason: str


def decide(csr: Object, pod: Object | None, policy: Policy) -> Decision:
    """Approves only the request ``request`` makes for the live connector pod that sent it.

    ``pod`` is the connector namespace's pod named in the CSR's ``pod-name`` extra, or None. A
    CSR for another signer or from another requester is none of ours: left alone.
    """
    spec = csr.get("spec") or {}
    if spec.get("signerName") != SIGNER or spec.get("username") != policy.requester:
        return Decision("ignore", "not a kubelet-serving request from the connector's account")
    problem = _pod_problem(csr, pod, policy) or _request_problem(spec, pod or {}, policy)
    if problem:
        return Decision("deny", problem)
    return Decision("approve", f"the serving certificate of connector pod {pod_name(csr)}")


def pod_name(csr: Object) -> str | None:
    """The pod the CSR's token was bound to, if exactly one."""
    names = ((csr.get("spec") or {}).get("extra") or {}).get(POD_NAME_EXTRA) or []
    return names[0] if isinstance(names, list) and len(names) == 1 else None


def _pod_problem(csr: Object, pod: Object | None, policy: Policy) -> str | None:
    extra = (csr.get("spec") or {}).get("extra") or {}
    uids = extra.get(POD_UID_EXTRA) or []
    if pod_name(csr) is None or not isinstance(uids, list) or len(uids) != 1:
        return "the request does not carry exactly one pod name and pod uid of a pod's token"
    if (csr.get("metadata") or {}).get("name") != uids[0]:
        return "the request is not named after the uid of the pod that sent it"
    if pod is None:
        return f"pod {pod_name(csr)} does not exist in {policy.namespace}"
    metadata, pod_spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if metadata.get("uid") != uids[0] or metadata.get("name") != pod_name(csr):
        return f"pod {pod_name(csr)} is another pod than the one that sent the request"
    if metadata.get("namespace") != policy.namespace:
        return f"pod {pod_name(csr)} is not in {policy.namespace}"
    if pod_spec.get("serviceAccountName") != policy.service_account:
        return f"pod {pod_name(csr)} does not run as {policy.service_account}"
    if metadata.get("deletionTimestamp"):
        return f"pod {pod_name(csr)} is terminating"
    if (pod.get("status") or {}).get("phase") not in ("Pending", "Running"):
        return f"pod {pod_name(csr)} has finished"
    if not (pod.get("status") or {}).get("podIP"):
        return f"pod {pod_name(csr)} has no IP yet"
    return None


def _request_problem(spec: Object, pod: Object, policy: Policy) -> str | None:
    if sorted(spec.get("usages") or []) != sorted(USAGES):
        return f"usages are {spec.get('usages')}, not exactly {list(USAGES)}"
    lifetime = spec.get("expirationSeconds")
    if not isinstance(lifetime, int) or not 0 < lifetime <= policy.max_lifetime_seconds:
        return f"expirationSeconds is {lifetime}, not at most {policy.max_lifetime_seconds}"
    try:
        asked = read_request(base64.b64decode(spec.get("request") or "").decode())
    except (MalformedRequestError, ValueError) as error:
        return f"the certificate request cannot be read: {error}"
    subject = {(_O, NODES_GROUP), (_CN, NODE_PREFIX + policy.node_name)}
    if len(asked.subject) != 2 or set(asked.subject) != subject:
        return f"the subject is not exactly O={NODES_GROUP}, CN={NODE_PREFIX}{policy.node_name}"
    if asked.dns_names or asked.emails or asked.uris or asked.other_names:
        return "the request asks for a name besides the pod's IP"
    if asked.other_extensions:
        return f"the request asks for extensions besides subjectAltName: {asked.other_extensions}"
    pod_ip = (pod.get("status") or {}).get("podIP")
    if list(asked.ips) != [pod_ip]:
        return f"the request asks for IPs {list(asked.ips)}, not exactly the pod's {pod_ip}"
    return None


# --- approve ----------------------------------------------------------------------------------


def renewal_due(pod: Object, policy: Policy, renew_after: float, now: datetime.datetime) -> bool:
    """Whether a live connector pod has served its certificate long enough to need a new one.

    The certificate is obtained when the pod starts, so the pod's age is the certificate's; the
    connector reads it once (azure-aci v1.6.4), so a new certificate is a new pod.
    """
    metadata, status = pod.get("metadata") or {}, pod.get("status") or {}
    if (pod.get("spec") or {}).get("serviceAccountName") != policy.service_account:
        return False
    if metadata.get("deletionTimestamp") or status.get("phase") != "Running":
        return False
    try:
        started = datetime.datetime.fromisoformat(str(status.get("startTime")))
    except ValueError:
        return False
    if started.tzinfo is None:
        return False
    return (now - started).total_seconds() >= renew_after


@dataclass
class Approver:
    api: Api
    policy: Policy
    # The connector's Deployment, restarted for a new certificate this long after a pod started.
    connector_deployment: str
    renew_after: float
    # CSRs decided and logged already (an approval the API has not reflected yet is not redone).
    decided: set[str] = field(default_factory=set)
    # Connector pods (by uid) restarted for renewal already.
    renewed: set[str] = field(default_factory=set)

    def run_once(self) -> None:
        self.decide_requests()
        self.renew()

    def renew(self) -> None:
        """Restarts the connector, as ``kubectl rollout restart`` does, when its pod is due."""
        namespace = quote(self.policy.namespace, safe="")
        status, answer = self.api.call("GET", f"/api/v1/namespaces/{namespace}/pods")
        if status != 200:
            raise ApiError(f"list pods in {self.policy.namespace}: {_message(status, answer)}")
        now = datetime.datetime.now(datetime.UTC)
        for pod in answer.get("items") or []:
            uid = (pod.get("metadata") or {}).get("uid", "")
            if uid in self.renewed or not renewal_due(pod, self.policy, self.renew_after, now):
                continue
            at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
            patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}}
            path = (
                f"/apis/apps/v1/namespaces/{namespace}/deployments/"
                f"{quote(self.connector_deployment, safe='')}"
            )
            status, answer = self.api.call("PATCH", path, patch, MERGE_PATCH)
            if status != 200:
                raise ApiError(f"restart {self.connector_deployment}: {_message(status, answer)}")
            self.renewed.add(uid)
            log.info(
                "restarted deployment %s: pod %s has served its certificate for %gs or more; "
                "its successor gets a new one",
                self.connector_deployment,
                (pod.get("metadata") or {}).get("name"),
                self.renew_after,
            )

    def decide_requests(self) -> None:
        path = f"{CSRS}?fieldSelector={quote('spec.signerName=' + SIGNER, safe='')}"
        status, answer = self.api.call("GET", path)
        if status != 200:
            raise ApiError(f"list certificatesigningrequests: {_message(status, answer)}")
        for csr in answer.get("items") or []:
            name = (csr.get("metadata") or {}).get("name", "")
            if name in self.decided or _settled(csr):
                continue
            decision = decide(csr, self._pod(csr), self.policy)
            if decision.action == "ignore":
                continue
            self._conclude(csr, decision)
            self.decided.add(name)
            log.info("%s certificatesigningrequest %s: %s", decision.action, name, decision.reason)

    def _pod(self, csr: Object) -> Object | None:
        name = pod_name(csr)
        if name is None or (csr.get("spec") or {}).get("username") != self.policy.requester:
            return None
        namespace = quote(self.policy.namespace, safe="")
        path = f"/api/v1/namespaces/{namespace}/pods/{quote(name, safe='')}"
        status, answer = self.api.call("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise ApiError(f"get pod {name}: {_message(status, answer)}")
        return answer

    def _conclude(self, csr: Object, decision: Decision) -> None:
        condition = {
            "type": "Approved" if decision.action == "approve" else "Denied",
            "status": "True",
            "reason": "GkeAciConnectorPod"
            if decision.action == "approve"
            else "NotTheConnectorPod",
            "message": decision.reason,
        }
        status_block = dict(csr.get("status") or {})
        status_block["conditions"] = [*(status_block.get("conditions") or []), condition]
        name = csr["metadata"]["name"]
        status, answer = self.api.call(
            "PUT", f"{CSRS}/{quote(name, safe='')}/approval", {**csr, "status": status_block}
        )
        if status != 200:
            raise ApiError(f"{decision.action} {name}: {_message(status, answer)}")


def _settled(csr: Object) -> bool:
    conditions = (csr.get("status") or {}).get("conditions") or []
    return any(c.get("type") in ("Approved", "Denied", "Failed") for c in conditions)


def approve(env: Mapping[str, str]) -> int:
    policy = Policy(
        namespace=env["CONNECTOR_NAMESPACE"],
        service_account=env["CONNECTOR_SERVICE_ACCOUNT"],
        node_name=env["NODE_NAME"],
        max_lifetime_seconds=int(env["SERVING_CERT_MAX_LIFETIME_SECONDS"]),
    )
    interval = float(env.get("APPROVER_INTERVAL_SECONDS", "5"))
    approver = Approver(
        Api.from_environment(env),
        policy,
        connector_deployment=env["CONNECTOR_DEPLOYMENT"],
        renew_after=float(env["SERVING_CERT_RENEW_AFTER_SECONDS"]),
    )
    log.info(
        "approving kubelet-serving requests of %s for node %s (lifetime at most %ds)",
        policy.requester,
        policy.node_name,
        policy.max_lifetime_seconds,
    )
    while True:
        try:
            approver.run_once()
        except Exception as error:
            # A malformed answer or a bug must not end the loop: the next pass starts afresh.
            problem = str(error) if isinstance(error, ApiError) else repr(error)
            log.error("%s; retrying in %gs", problem, interval)
        time.sleep(interval)


# --- request --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pod:
    """Who is asking: the connector's pod, from the downward API."""

    name: str
    uid: str
    ip: str
    node_name: str

    @property
    def subject(self) -> str:
        return f"/O={NODES_GROUP}/CN={NODE_PREFIX}{self.node_name}"


def _openssl(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["openssl", *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


def make_key_and_request(pod: Pod, folder: Path) -> str:
    """A new P-256 key in ``folder``/tls.key (owner-only), and the PEM CSR for it."""
    key = folder / "tls.key"
    key.unlink(missing_ok=True)
    os.umask(0o077)
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key))
    return _openssl(
        "req", "-new", "-key", str(key), "-subj", pod.subject,
        "-addext", f"subjectAltName=IP:{pod.ip}",
    )  # fmt: skip


def check_certificate(cert_pem: str, folder: Path, ca_file: Path, ip: str) -> None:
    """Raises unless the certificate matches the key and a client that trusts ``ca_file``
    accepts it for ``ip``, as the API server's kubelet client will."""
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".crt", delete=False) as file:
        file.write(cert_pem)
    try:
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # Refuses a certificate whose public key is not the key's.
        server.load_cert_chain(file.name, str(folder / "tls.key"))
    finally:
        os.unlink(file.name)
    client = ssl.create_default_context(cafile=str(ca_file))
    client.verify_flags &= ~ssl.VERIFY_X509_STRICT
    _handshake(client, server, ip)


def _handshake(client_context: ssl.SSLContext, server_context: ssl.SSLContext, ip: str) -> None:
    """A TLS handshake in memory: the client verifies the chain and the IP, as over a socket."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_out, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(to_client, client_out, server_hostname=ip)
    server = server_context.wrap_bio(to_server, server_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for side, end in (("client", client), ("server", server)):
            if not done[side]:
                with contextlib.suppress(ssl.SSLWantReadError):
                    end.do_handshake()
                    done[side] = True
        to_server.write(client_out.read())
        to_client.write(server_out.read())
        if all(done.values()):
            return
    raise ssl.SSLError("the handshake did not finish")


def _csr_object(pod: Pod, request_pem: str, lifetime: int) -> Object:
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": pod.uid, "labels": {"app.kubernetes.io/name": "aci-connector"}},
        "spec": {
            "request": base64.b64encode(request_pem.encode()).decode(),
            "signerName": SIGNER,
            "usages": list(USAGES),
            "expirationSeconds": lifetime,
        },
    }


def obtain(api: Api, pod: Pod, folder: Path, lifetime: int, wait: float, poll: float) -> str:
    """The issued certificate's PEM; ``RuntimeError`` (or ``ApiError``) saying why there is none."""
    request_pem = make_key_and_request(pod, folder)
    status, answer = api.call("POST", CSRS, _csr_object(pod, request_pem, lifetime))
    if status != 201:
        raise RuntimeError(
            f"creating certificatesigningrequest {pod.uid}: {_message(status, answer)}"
        )
    log.info("created certificatesigningrequest %s for %s (IP %s)", pod.uid, pod.subject, pod.ip)
    deadline = time.monotonic() + wait
    problem = "no answer yet"
    while True:
        csr: Object = {}
        try:
            status, answer = api.call("GET", f"{CSRS}/{quote(pod.uid, safe='')}")
            if status == 200:
                csr = answer
            else:
                problem = f"reading it: {_message(status, answer)}"
        except ApiError as error:
            problem = str(error)
        if not csr:
            # A blip while waiting is not a refusal: ask again until the bound.
            log.warning("certificatesigningrequest %s: %s; asking again", pod.uid, problem)
        conditions = (csr.get("status") or {}).get("conditions") or []
        refused = [c for c in conditions if c.get("type") in ("Denied", "Failed")]
        if refused:
            raise RuntimeError(f"{refused[0]['type'].lower()}: {refused[0].get('message', '')}")
        if (csr.get("status") or {}).get("certificate"):
            return base64.b64decode(csr["status"]["certificate"]).decode()
        if time.monotonic() + poll > deadline:
            last = f" (last: {problem})" if not csr else ""
            raise RuntimeError(f"no certificate issued within {wait:g}s{last}")
        time.sleep(poll)


def self_signed(pod: Pod, folder: Path) -> str:
    """A certificate the key signs itself: the node serves, logs and exec fail verification."""
    return _openssl(
        "req", "-x509", "-new", "-key", str(folder / "tls.key"), "-subj", pod.subject,
        "-addext", f"subjectAltName=IP:{pod.ip}", "-days", str(FALLBACK_DAYS),
    )  # fmt: skip


def _still_good(folder: Path, ca_file: Path, ip: str) -> bool:
    """Whether this pod's volume holds a key and an issued certificate already."""
    try:
        check_certificate((folder / "tls.crt").read_text(), folder, ca_file, ip)
    except (OSError, ssl.SSLError):
        return False
    return True


def request(env: Mapping[str, str]) -> int:
    pod = Pod(env["POD_NAME"], env["POD_UID"], env["POD_IP"], env["NODE_NAME"])
    folder = Path(env["SERVING_CERT_DIR"])
    api = Api.from_environment(env)
    lifetime = int(env["SERVING_CERT_LIFETIME_SECONDS"])
    wait = float(env.get("SERVING_CERT_WAIT_SECONDS", "120"))
    poll = float(env.get("SERVING_CERT_POLL_SECONDS", "2"))
    if _still_good(folder, api.ca_file, pod.ip):
        log.info("keeping the certificate this pod obtained before (the step ran again)")
        return 0
    try:
        cert = obtain(api, pod, folder, lifetime, wait, poll)
        check_certificate(cert, folder, api.ca_file, pod.ip)
        log.info("issued by the cluster's kubelet-serving signer for %s", pod.ip)
    except (ApiError, RuntimeError, ssl.SSLError, OSError, ValueError) as error:
        log.warning(
            "no certificate from the cluster's signer (%s); serving a self-signed certificate: "
            "the virtual node runs, `kubectl logs` and `kubectl exec` to its pods fail "
            "verification until the connector's pod is replaced",
            error,
        )
        if not (folder / "tls.key").exists():
            make_key_and_request(pod, folder)
        cert = self_signed(pod, folder)
    (folder / "tls.crt").write_text(cert)
    return 0


def _exit(*_: object) -> None:
    log.info("stopped")
    raise SystemExit(0)


def main() -> int:
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    mode = sys.argv[1] if len(sys.argv) == 2 else ""
    try:
        if mode == "request":
            return request(os.environ)
        if mode == "approve":
            # As PID 1 a process gets no default signal handling: SIGTERM would be ignored.
            signal.signal(signal.SIGTERM, _exit)
            signal.signal(signal.SIGINT, _exit)
            return approve(os.environ)
    except (KeyError, ValueError) as error:
        log.error("cannot start: a setting is missing or not a number: %s", error)
        return 2
    log.error("usage: kubelet_serving.py request|approve")
    return 2


if __name__ == "__main__":
    sys.exit(main())
