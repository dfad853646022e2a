"""The certificates of the hop from the entry point to the replicas: one CA, two leaf profiles.

The stack owns a CA that signs a server certificate, shared by every replica and naming
``REPLICA_SERVER_NAME`` (an ACI replica's IP changes with each container group, so the name is
what the entry point checks), and a client certificate for the entry point, which every
replica requires (docs/decisions/0022-mutual-tls-to-replicas.md). components/replica_tls.py
makes them with pulumi-tls from these profiles; the real-binary tests make theirs from the same
profiles with the ``cryptography`` package (tests/replica_certs.py).

Rotation: ``credentialRotation`` replaces both leaf keys and certificates, and each is renewed by
the first ``pulumi up`` in its last ``LEAF_RENEWAL_HOURS``. The CA stays, so an old proxy and a
new replica (or the reverse) still trust each other while the Deployments roll.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.app_contract import REPLICA_SERVER_NAME

# ECDSA P-256, as the connector's serving certificate: small keys, fast handshakes.
KEY_ALGORITHM = "ECDSA"
KEY_CURVE = "P256"
ORGANIZATION = "gke-aci"
CA_COMMON_NAME = "gke-aci replicas CA"
# Assumption: ten years, so that the CA never changes under a running stack by itself; replacing
# it is a planned change (docs/security.md).
CA_VALIDITY_HOURS = 10 * 365 * 24
CA_USES = ("cert_signing", "crl_signing", "digital_signature")
# A year, renewed by the first `pulumi up` in its last 30 days. The validity window is computed
# by the provider at creation, so no wall-clock value is an input.
LEAF_VALIDITY_HOURS = 365 * 24
LEAF_RENEWAL_HOURS = 30 * 24


@dataclass(frozen=True)
class LeafProfile:
    """What a leaf certificate says: its subject, its DNS names and what it may be used for."""

    common_name: str
    dns_names: tuple[str, ...]
    allowed_uses: tuple[str, ...]


REPLICA_SERVER = LeafProfile(
    common_name=REPLICA_SERVER_NAME,
    dns_names=(REPLICA_SERVER_NAME,),
    allowed_uses=("digital_signature", "server_auth"),
)
ENTRY_CLIENT = LeafProfile(
    common_name="web-entry",
    dns_names=(),
    allowed_uses=("digital_signature", "client_auth"),
)
