"""A throwaway cluster CA made with ``cryptography``: the stand-in for GKE's signer.

It signs an approved kubelet-serving CSR as ``kubernetes.io/kubelet-serving`` does (the CSR's
subject and names, server auth, the requested lifetime), and issues client certificates as the
cluster CA issues the API server's kubelet client certificate.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM = serialization.Encoding.PEM


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class ClusterCa:
    name: str = "test cluster CA"
    key: ec.EllipticCurvePrivateKey = field(default_factory=_new_key)

    def __post_init__(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def ca_pem(self) -> bytes:
        return self.cert.public_bytes(PEM)

    def sign(self, csr: dict[str, Any]) -> str:
        """The certificate of an approved CSR object: its subject, its names, server auth."""
        request = x509.load_pem_x509_csr(base64.b64decode(csr["spec"]["request"]))
        names = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        seconds = csr["spec"].get("expirationSeconds") or 3600
        return self.issue(request.subject, request.public_key(), names, seconds)  # pyright: ignore[reportArgumentType]

    def issue(
        self,
        subject: x509.Name,
        public_key: ec.EllipticCurvePublicKey,
        names: x509.SubjectAlternativeName | None,
        seconds: int,
        usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.SERVER_AUTH,
    ) -> str:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(seconds=seconds))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if names is not None:
            builder = builder.add_extension(names, critical=False)
        return builder.sign(self.key, hashes.SHA256()).public_bytes(PEM).decode()

    def client(self, common_name: str) -> tuple[str, str]:
        """A client certificate and its key, as PEM: the API server's kubelet client's."""
        key = _new_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = self.issue(subject, key.public_key(), None, 3600, ExtendedKeyUsageOID.CLIENT_AUTH)
        key_pem = key.private_bytes(
            PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return cert, key_pem
