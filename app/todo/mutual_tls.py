"""Mutual TLS on the app's port: the files, and the server context gunicorn uses.

Behind the entry point every replica, on GKE or in ACI with a public IP, answers only a client
that presents a certificate signed by the stack's CA (the entry point's). ``TLS_DIR`` names the
directory of a mounted ``kubernetes.io/tls`` Secret: the replica's certificate and key, and the
CA that signs both ends. A client without such a certificate is refused in the TLS handshake,
before gunicorn parses a request, so no app code and no database call runs for it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

# The key names of a kubernetes.io/tls Secret plus its CA; the stack's copy is in
# core/app_contract.py, and a test holds the two equal.
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
CA_FILE = "ca.crt"


class TlsFilesError(ValueError):
    """A TLS_DIR that cannot serve, worded for the operator."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path


def tls_files_in(directory: str) -> TlsFiles | None:
    """The three files in ``directory``; None when it is empty (plain HTTP)."""
    if not directory:
        return None
    folder = Path(directory)
    files = TlsFiles(cert=folder / CERT_FILE, key=folder / KEY_FILE, ca=folder / CA_FILE)
    missing = [path.name for path in (files.cert, files.key, files.ca) if not path.is_file()]
    if missing:
        raise TlsFilesError(f"TLS_DIR {directory[:200]!r} lacks {', '.join(missing)}")
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """TLS 1.3 only, a client certificate from the CA required."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(files.ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(certfile=str(files.cert), keyfile=str(files.key))
    context.verify_mode = ssl.CERT_REQUIRED
    return context
