"""The stack's CA and the two certificates of the hop from the entry point to the replicas.

Why mutual TLS at the app, and what it protects: docs/decisions/0022-mutual-tls-to-replicas.md.
The profiles (key type, names, usages, validity) are in specs/replica_tls.py. Every private key
is a Pulumi secret (pulumi-tls marks ``privateKeyPem`` so) and reaches the pods only in
Kubernetes Secrets that they mount read-only (components/todo_app.py,
components/entry_point.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from specs.replica_tls import (
    CA_COMMON_NAME,
    CA_USES,
    CA_VALIDITY_HOURS,
    ENTRY_CLIENT,
    KEY_ALGORITHM,
    KEY_CURVE,
    LEAF_RENEWAL_HOURS,
    LEAF_VALIDITY_HOURS,
    ORGANIZATION,
    REPLICA_SERVER,
    LeafProfile,
)


@dataclass(frozen=True)
class ReplicaTlsArgs:
    # Changing it (credentialRotation) replaces both leaf keys and certificates now.
    rotation: str


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its key (a secret), with the CA that signed it, all PEM."""

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]
    ca_cert_pem: pulumi.Output[str]


class ReplicaTls(pulumi.ComponentResource):
    """A CA, the replicas' server certificate and the entry point's client certificate."""

    server: KeyPair
    client: KeyPair

    def __init__(
        self, name: str, args: ReplicaTlsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:tls:ReplicaTls", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        ca_key = tls.PrivateKey(
            f"{name}-ca", algorithm=KEY_ALGORITHM, ecdsa_curve=KEY_CURVE, opts=child
        )
        ca = tls.SelfSignedCert(
            f"{name}-ca",
            private_key_pem=ca_key.private_key_pem,
            subject={"common_name": CA_COMMON_NAME, "organization": ORGANIZATION},
            is_ca_certificate=True,
            allowed_uses=list(CA_USES),
            validity_period_hours=CA_VALIDITY_HOURS,
            opts=child,
        )
        leaf_opts = pulumi.ResourceOptions(parent=self, replacement_trigger=args.rotation)

        def leaf(suffix: str, profile: LeafProfile) -> KeyPair:
            key = tls.PrivateKey(
                f"{name}-{suffix}",
                algorithm=KEY_ALGORITHM,
                ecdsa_curve=KEY_CURVE,
                opts=leaf_opts,
            )
            request = tls.CertRequest(
                f"{name}-{suffix}",
                private_key_pem=key.private_key_pem,
                subject={"common_name": profile.common_name, "organization": ORGANIZATION},
                dns_names=list(profile.dns_names),
                opts=child,
            )
            cert = tls.LocallySignedCert(
                f"{name}-{suffix}",
                cert_request_pem=request.cert_request_pem,
                ca_cert_pem=ca.cert_pem,
                ca_private_key_pem=ca_key.private_key_pem,
                allowed_uses=list(profile.allowed_uses),
                validity_period_hours=LEAF_VALIDITY_HOURS,
                early_renewal_hours=LEAF_RENEWAL_HOURS,
                opts=child,
            )
            return KeyPair(
                cert_pem=cert.cert_pem,
                key_pem=pulumi.Output.secret(key.private_key_pem),
                ca_cert_pem=ca.cert_pem,
            )

        self.server = leaf("replica", REPLICA_SERVER)
        self.client = leaf("entry", ENTRY_CLIENT)
        self.register_outputs({"caCertPem": ca.cert_pem, "replicaCertPem": self.server.cert_pem})
