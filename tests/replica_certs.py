"""Certificates for the real-binary tests, made the way the program makes them.

The same key type (ECDSA P-256), names and usages as components/replica_tls.py, from the same
profiles (specs/replica_tls.py), with the ``cryptography`` package instead of pulumi-tls. A test
can also make a CA the stack does not own, or a leaf for another name.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.app_contract import TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE
from specs.replica_tls import CA_COMMON_NAME, CA_USES, ORGANIZATION, LeafProfile

_EXTENDED = {
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
}
_DAY = datetime.timedelta(days=1)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )


def _key_usage(uses: tuple[str, ...]) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature="digital_signature" in uses,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign="cert_signing" in uses,
        crl_sign="crl_signing" in uses,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )


def make_ca(common_name: str = CA_COMMON_NAME) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(CA_USES), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def issue(ca: Issued, profile: LeafProfile) -> Issued:
    """A leaf certificate of ``profile`` signed by ``ca``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(profile.common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + _DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(profile.allowed_uses), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([_EXTENDED[u] for u in profile.allowed_uses if u in _EXTENDED]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if profile.dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in profile.dns_names]),
            critical=False,
        )
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def write_tls_dir(folder: Path, leaf: Issued, trusted: Issued) -> Path:
    """A mounted kubernetes.io/tls Secret: ``leaf``'s certificate and key, ``trusted``'s CA."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TLS_CERT_FILE).write_bytes(leaf.cert_pem())
    (folder / TLS_KEY_FILE).write_bytes(leaf.key_pem())
    (folder / TLS_CA_FILE).write_bytes(trusted.cert_pem())
    return folder
