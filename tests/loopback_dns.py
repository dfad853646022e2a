"""A tiny DNS server on loopback that answers A queries for one name with a changeable list of IPs.

The entry point's Envoy finds the app's replicas by resolving the headless Service's name; in the
proxy test it resolves a test name here instead, so the real binary can be pointed at real
backends on 127.0.0.x. Only what a resolver needs for an A lookup: the header, the question
echoed back, and one answer record per address (RFC 1035, sections 4.1.1-4.1.3).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Sequence

_A, _IN = 1, 1


def _encode_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"


class LoopbackDns:
    """Serves ``name`` -> ``addresses`` (A records, TTL 1 s) on a UDP port of 127.0.0.1."""

    def __init__(self, name: str, addresses: Sequence[str]) -> None:
        self.name = name.rstrip(".").lower()
        self.addresses = list(addresses)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> LoopbackDns:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                query, client = self._socket.recvfrom(512)
            except TimeoutError:
                continue
            answer = self._answer(query)
            if answer:
                self._socket.sendto(answer, client)

    def _answer(self, query: bytes) -> bytes | None:
        if len(query) < 12:
            return None
        ident, _flags, qdcount = struct.unpack("!HHH", query[:6])
        if qdcount != 1:
            return None
        labels, offset = [], 12
        while offset < len(query) and query[offset]:
            length = query[offset]
            labels.append(query[offset + 1 : offset + 1 + length].decode(errors="replace"))
            offset += 1 + length
        question_end = offset + 5
        qtype, _qclass = struct.unpack("!HH", query[offset + 1 : question_end])
        question = query[12:question_end]
        matches = ".".join(labels).lower() == self.name
        records = list(self.addresses) if matches and qtype == _A else []
        # QR, RD and RA set; NXDOMAIN for any other name.
        flags = 0x8180 if matches else 0x8183
        header = struct.pack("!HHHHHH", ident, flags, 1, len(records), 0, 0)
        body = b"".join(
            _encode_name(self.name)
            + struct.pack("!HHIH", _A, _IN, 1, 4)
            + socket.inet_aton(address)
            for address in records
        )
        return header + question + body
