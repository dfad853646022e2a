"""Which pod and node answered a request: the ``X-Served-By`` header and the page footer.

With replicas on GKE nodes and in ACI behind one entry point, this is how a user (``curl -I``, the
page) and ``make verify`` see where a request went. The values come from ``POD_NAME`` and
``NODE_NAME``, which the stack sets from the downward API (``metadata.name``, ``spec.nodeName``).
Run elsewhere (a laptop, a plain container), ``POD_NAME`` falls back to the host name (which in a
Kubernetes pod is the pod's name anyway) and the node part is left out.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask
from werkzeug.wrappers import Response

HEADER = "X-Served-By"
POD_VARIABLE = "POD_NAME"
NODE_VARIABLE = "NODE_NAME"
# Kubernetes object names and host names: letters, digits, '-', '.', and '_' (some host names).
_NAME = re.compile(r"[A-Za-z0-9._-]{1,253}")
UNKNOWN_HOST = "unknown"


class ServedByError(ValueError):
    """``POD_NAME`` or ``NODE_NAME`` holds something that is not a name."""


@dataclass(frozen=True)
class ServedBy:
    """The pod, and the node when known, that this process serves from."""

    pod: str
    node: str | None = None

    def header_value(self) -> str:
        """``pod=<pod>; node=<node>``, or ``pod=<pod>`` when the node is not known."""
        return f"pod={self.pod}" + (f"; node={self.node}" if self.node else "")

    @classmethod
    def of_this_host(cls) -> ServedBy:
        host = socket.gethostname()
        return cls(pod=host if _NAME.fullmatch(host) else UNKNOWN_HOST)


def served_by_from(environ: Mapping[str, str]) -> ServedBy:
    """Read ``POD_NAME`` and ``NODE_NAME``; an unset or empty one means "not known"."""
    pod = _name(environ, POD_VARIABLE)
    node = _name(environ, NODE_VARIABLE)
    return ServedBy(pod=pod or ServedBy.of_this_host().pod, node=node)


def install_served_by(app: Flask, served_by: ServedBy) -> None:
    """Name the pod and node on every response (errors included) and in the page footer."""
    value = served_by.header_value()

    def add_header(response: Response) -> Response:
        response.headers[HEADER] = value
        return response

    def footer() -> dict[str, ServedBy]:
        return {"served_by": served_by}

    app.after_request(add_header)
    app.context_processor(footer)


def _name(environ: Mapping[str, str], variable: str) -> str | None:
    raw = environ.get(variable, "").strip()
    if not raw:
        return None
    if not _NAME.fullmatch(raw):
        raise ServedByError(
            f"{variable} must be a pod or node name (letters, digits, '-', '.', '_'; at most "
            f"253 characters), not {raw[:40]!r}"
        )
    return raw
