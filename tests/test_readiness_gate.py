"""Tests of dynamic.readiness_gate: a fake fetch and clock, plus one loopback HTTP server."""

from __future__ import annotations

import http.client
import http.server
import json
import re
import socket
import struct
import threading
import time
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest
from dynamic_fakes import (
    PROVIDER_KEY,
    FakeTime,
    RecordingCloud,
    deserialize,
    provider_host,
    serialize,
)
from loopback_http import running

from dynamic.readiness_gate import (
    DEFAULT_TIMEOUT_SECONDS,
    POLL_INTERVAL_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
    HttpReadinessGate,
    ReadinessError,
    ReadinessGateProvider,
    fetch_url,
    gate_id,
    wait_until_ready,
)
from pulumi_internals import UNKNOWN, provider_pb2

URL = "http://20.1.2.3:8080/healthz"
REVISION = "pod-uid-1234"
PROPS: dict[str, Any] = {"url": URL, "revision": REVISION, "timeout_seconds": 600}
ID = f"{URL}#{REVISION}"
UNAVAILABLE = json.dumps(
    {"status": "unavailable", "reason": "database unreachable (AutoReconnect)"}
)

Answer = tuple[int, str] | Exception
"""What the fake fetch does on one call: answer (status, body), or raise."""


@dataclass
class FakeFetch:
    """Plays ``answers`` in order (the last one repeats) and records each call."""

    answers: list[Answer]
    calls: list[tuple[str, float]] = field(default_factory=list)

    def __call__(self, url: str, timeout: float) -> tuple[int, str]:
        self.calls.append((url, timeout))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class Harness:
    fetch: FakeFetch
    time: FakeTime
    provider: Any  # a ReadinessGateProvider wired to the fakes


def make_harness(*answers: Answer) -> Harness:
    fake_fetch, fake_time = FakeFetch(list(answers)), FakeTime()
    provider = ReadinessGateProvider(fetch=fake_fetch, sleep=fake_time.sleep, clock=fake_time.clock)
    return Harness(fake_fetch, fake_time, provider)


def refused() -> urllib.error.URLError:
    """What urllib raises while nothing listens on the port yet."""
    return urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))


# --- waiting --------------------------------------------------------------------------------


def test_answers_200_at_once() -> None:
    harness = make_harness((200, '{"status":"ok"}'))

    result = harness.provider.create(dict(PROPS))

    assert result.id == ID
    assert result.outs == {**PROPS, "status": 200}
    assert harness.fetch.calls == [(URL, REQUEST_TIMEOUT_SECONDS)]
    assert harness.time.sleeps == []


def test_waits_through_503_until_200() -> None:
    harness = make_harness((503, UNAVAILABLE), (503, UNAVAILABLE), (200, "{}"))

    result = harness.provider.create(dict(PROPS))

    assert result.outs["status"] == 200
    assert len(harness.fetch.calls) == 3
    assert harness.time.sleeps == [POLL_INTERVAL_SECONDS, POLL_INTERVAL_SECONDS]


def test_keeps_polling_through_connection_errors() -> None:
    harness = make_harness(
        refused(), TimeoutError("timed out"), OSError("Name not known"), (200, "")
    )

    result = harness.provider.create(dict(PROPS))

    assert result.outs["status"] == 200
    assert len(harness.fetch.calls) == 4
    assert len(harness.time.sleeps) == 3


def test_timeout_after_503_names_url_wait_status_and_reason() -> None:
    harness = make_harness((503, UNAVAILABLE))

    with pytest.raises(ReadinessError) as excinfo:
        harness.provider.create({**PROPS, "timeout_seconds": 60.0})

    message = str(excinfo.value)
    assert URL in message
    assert "within 60 s" in message
    assert "HTTP 503" in message
    assert "'database unreachable (AutoReconnect)'" in message
    # What to check: the app's logs, and where its connection string comes from.
    assert "az container logs" in message
    assert "DB_FILE" in message
    # The JSON's other fields are not echoed.
    assert "unavailable" not in message
    # Polled at 0, 10, ..., 60 s, and waited no longer than the timeout.
    assert sum(harness.time.sleeps) == pytest.approx(60)
    assert len(harness.fetch.calls) == 7
    assert "(7 requests)" in message


def test_timeout_with_only_connection_errors_names_the_error() -> None:
    fake_time = FakeTime()

    with pytest.raises(ReadinessError) as excinfo:
        wait_until_ready(
            URL,
            timeout_seconds=25,
            fetch=FakeFetch([refused()]),
            poll_interval_seconds=10,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        )

    message = str(excinfo.value)
    assert URL in message
    assert "within 25 s" in message
    # The socket error inside urllib's URLError is the one named.
    assert "ConnectionRefusedError: [Errno 111] Connection refused" in message
    assert "HTTP" not in message.split("last result:")[1].split(".")[0]
    # The last wait is cut to the time left: 10 + 10 + 5 = 25.
    assert fake_time.sleeps == [10, 10, 5]


def test_timeout_reports_the_last_result_only() -> None:
    harness = make_harness((503, UNAVAILABLE), TimeoutError("timed out"))

    with pytest.raises(ReadinessError, match=r"no answer \(TimeoutError: timed out\)") as excinfo:
        harness.provider.create({**PROPS, "timeout_seconds": 15})

    assert "AutoReconnect" not in str(excinfo.value)


def test_body_beyond_the_reason_is_never_echoed() -> None:
    secret = "AccountKey=c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
    body = json.dumps(
        {"status": "unavailable", "reason": "x" * 400, "debug": f"mongodb://u:{secret}@h"}
    )
    harness = make_harness((503, body))

    with pytest.raises(ReadinessError) as excinfo:
        harness.provider.create({**PROPS, "timeout_seconds": 1})

    message = str(excinfo.value)
    assert secret not in message
    assert "mongodb://" not in message
    assert "debug" not in message
    # The reason is cut to 300 characters.
    assert "x" * 297 + "..." in message
    assert "x" * 298 not in message


@pytest.mark.parametrize("body", ["<html>Bad Gateway</html>", "[]", '{"reason": 7}', ""])
def test_a_body_without_a_json_reason_gives_the_status_alone(body: str) -> None:
    harness = make_harness((502, body))

    with pytest.raises(ReadinessError) as excinfo:
        harness.provider.create({**PROPS, "timeout_seconds": 1})

    message = str(excinfo.value)
    assert "last result: HTTP 502. " in message
    assert "Bad Gateway" not in message


def test_the_bound_is_the_clock_not_the_number_of_polls() -> None:
    readings = iter([0.0, 5.0, 700.0])
    fake_fetch = FakeFetch([(503, UNAVAILABLE)])

    with pytest.raises(ReadinessError, match="within 600 s"):
        wait_until_ready(URL, fetch=fake_fetch, sleep=lambda _s: None, clock=lambda: next(readings))

    assert len(fake_fetch.calls) == 2


def test_errors_that_are_not_network_errors_propagate() -> None:
    harness = make_harness(KeyError("bug"))

    with pytest.raises(KeyError, match="bug"):
        harness.provider.create(dict(PROPS))

    assert len(harness.fetch.calls) == 1


# --- diff, update, read, delete, check ------------------------------------------------------

OLDS: dict[str, Any] = {**PROPS, "timeout_seconds": 600.0, "status": 200}


@pytest.mark.parametrize(
    "news",
    [
        {**PROPS, "url": "https://todo.example/healthz"},
        {**PROPS, "revision": "pod-uid-5678"},
        {**PROPS, "timeout_seconds": 900},
        {**PROPS, "revision": UNKNOWN},
    ],
)
def test_diff_updates_when_url_revision_or_timeout_change(news: dict[str, Any]) -> None:
    harness = make_harness((200, ""))

    result = harness.provider.diff(ID, dict(OLDS), {**news, "status": None})

    assert result.changes is True
    assert not result.replaces
    assert harness.fetch.calls == []


def test_diff_reports_no_change_otherwise() -> None:
    harness = make_harness((200, ""))

    # 600 (input) and 600.0 (recorded) are the same; a new pickle of the provider is not a change.
    result = harness.provider.diff(ID, dict(OLDS), {**PROPS, "status": None, "__provider": "x"})

    assert result.changes is False
    assert harness.fetch.calls == []


def test_update_waits_again_for_the_new_revision() -> None:
    harness = make_harness(refused(), (200, ""))
    news = {**PROPS, "revision": "pod-uid-5678"}

    result = harness.provider.update(ID, dict(OLDS), news)

    assert result.outs == {**news, "status": 200}
    assert len(harness.fetch.calls) == 2


def test_read_returns_the_state_without_requesting_anything() -> None:
    harness = make_harness(refused())

    result = harness.provider.read(ID, dict(OLDS))

    assert result.id == ID
    assert result.outs == OLDS
    assert harness.fetch.calls == []


def test_delete_does_nothing() -> None:
    harness = make_harness(refused())

    harness.provider.delete(ID, dict(OLDS))

    assert harness.fetch.calls == []
    assert harness.time.sleeps == []


def test_check_accepts_http_https_and_unknown_urls() -> None:
    provider = ReadinessGateProvider()

    for url in (URL, "https://todo.example/healthz", UNKNOWN, pulumi.UNKNOWN):
        result = provider.check({}, {**PROPS, "url": url})
        assert result.failures == [], url
    # Unknowns as the wire's string and as the provider process hands them over.
    for unknown in (UNKNOWN, pulumi.UNKNOWN):
        unknowns = provider.check(
            {}, {"url": unknown, "revision": unknown, "timeout_seconds": unknown}
        )
        assert unknowns.failures == []


def test_check_rejects_other_urls_and_bad_inputs() -> None:
    provider = ReadinessGateProvider()

    ftp = provider.check({}, {**PROPS, "url": "ftp://20.1.2.3/healthz"})
    bad = provider.check({}, {"url": None, "revision": None, "timeout_seconds": 0})

    assert [failure.property for failure in ftp.failures] == ["url"]
    assert "ftp://" in ftp.failures[0].reason
    assert sorted(failure.property for failure in bad.failures) == [
        "revision",
        "timeout_seconds",
        "url",
    ]


def test_gate_id_is_url_and_revision() -> None:
    assert gate_id(URL, REVISION) == ID


# --- real HTTP on the loopback interface ----------------------------------------------------


Reply = tuple[int, dict[str, str], bytes]
"""An HTTP answer of the loopback server: status, headers, body."""


@dataclass(frozen=True)
class Slow:
    """Answer ``reply``, but only after ``seconds``."""

    seconds: float
    reply: Reply


RESET = "reset"
"""Read the request, then drop the connection with a TCP reset instead of answering."""


@dataclass
class Script:
    """Answers of the loopback server, in order; the last one repeats."""

    answers: list[Reply | Slow | str]
    paths: list[str] = field(default_factory=list)


class QuietServer(http.server.ThreadingHTTPServer):
    """A loopback server that keeps quiet when a client has hung up on a slow answer."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script(answers=[])
    stopping = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.paths.append(self.path)
            answers = script.answers
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if answer == RESET:
                # SO_LINGER with a zero timeout: close() sends RST, not FIN.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True
                return
            if isinstance(answer, Slow):
                stopping.wait(answer.seconds)
                answer = answer.reply
            assert isinstance(answer, tuple)
            status, headers, body = answer
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = QuietServer(("127.0.0.1", 0), Handler)
    with running(httpd):
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}", script
        finally:
            stopping.set()  # ends a slow answer still waiting


JSON = {"Content-Type": "application/json"}


def test_real_http_503_twice_then_200(server: tuple[str, Script]) -> None:
    base, script = server
    script.answers = [
        (503, JSON, UNAVAILABLE.encode()),
        (503, JSON, UNAVAILABLE.encode()),
        (200, JSON, b'{"status":"ok"}'),
    ]
    started = time.monotonic()

    status = wait_until_ready(
        f"{base}/healthz",
        timeout_seconds=10,
        poll_interval_seconds=0.01,
        request_timeout_seconds=2,
    )

    assert status == 200
    assert script.paths == ["/healthz"] * 3
    assert time.monotonic() - started < 5


def test_real_http_timeout_reports_the_reason(server: tuple[str, Script]) -> None:
    _base, script = server
    script.answers = [(503, JSON, UNAVAILABLE.encode())]

    with pytest.raises(ReadinessError, match=r"HTTP 503 with reason 'database unreachable"):
        wait_until_ready(
            f"{_base}/healthz",
            timeout_seconds=0.2,
            poll_interval_seconds=0.05,
            request_timeout_seconds=2,
        )

    assert len(script.paths) >= 2


def test_real_fetch_returns_errors_and_follows_no_redirect(server: tuple[str, Script]) -> None:
    base, script = server
    script.answers = [
        (302, {"Location": f"{base}/elsewhere"}, b""),
        (503, JSON, UNAVAILABLE.encode()),
    ]

    redirected = fetch_url(f"{base}/healthz", 2)
    unavailable = fetch_url(f"{base}/healthz", 2)

    assert redirected == (302, "")
    assert unavailable == (503, UNAVAILABLE)
    assert script.paths == ["/healthz", "/healthz"]


def test_real_fetch_raises_oserror_when_nothing_listens() -> None:
    # Bind an ephemeral loopback port, then close it: nothing listens there any more.
    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = httpd.server_address[1]
    httpd.server_close()

    with pytest.raises(OSError, match="refused"):
        fetch_url(f"http://127.0.0.1:{port}/healthz", 2)


REDIRECTS = [301, 302, 303, 307, 308]
OK = (200, JSON, b'{"status":"ok"}')


@pytest.mark.parametrize("status", REDIRECTS)
def test_real_fetch_returns_a_redirect_as_it_is(server: tuple[str, Script], status: int) -> None:
    """A redirect is not followed: wherever it points might answer 200 for another app."""
    base, script = server
    script.answers = [(status, {"Location": f"{base}/elsewhere"}, b"moved"), OK]

    assert fetch_url(f"{base}/healthz", 2) == (status, "moved")
    assert script.paths == ["/healthz"]


@pytest.mark.parametrize("status", [201, 202, 203, 204, 206, *REDIRECTS, 400, 404, 500, 503])
def test_real_http_only_200_is_ready(server: tuple[str, Script], status: int) -> None:
    """Any other answer, 2xx and 3xx included, is "not yet": the gate asks again."""
    base, script = server
    body = b"" if status == 204 else b"{}"
    script.answers = [(status, {"Location": f"{base}/elsewhere", **JSON}, body), OK]

    ready = wait_until_ready(
        f"{base}/healthz", timeout_seconds=10, poll_interval_seconds=0.01, request_timeout_seconds=2
    )

    assert ready == 200
    # Asked twice, at the same URL: the first answer was not taken, and no redirect followed.
    assert script.paths == ["/healthz", "/healthz"]


def wait_briefly(url: str, *, request_timeout_seconds: float = 2) -> Exception:
    """The error of a gate that gets no 200 within a fraction of a second."""
    with pytest.raises(ReadinessError) as excinfo:
        wait_until_ready(
            url,
            timeout_seconds=0.3,
            poll_interval_seconds=0.05,
            request_timeout_seconds=request_timeout_seconds,
        )
    return excinfo.value


@pytest.mark.parametrize("status", [302, 307])
def test_real_http_a_redirect_to_a_healthy_page_never_passes(
    server: tuple[str, Script], status: int
) -> None:
    base, script = server
    script.answers = [(status, {"Location": f"{base}/elsewhere"}, b"")]

    error = wait_briefly(f"{base}/healthz")

    assert f"last result: HTTP {status}. " in str(error)
    assert set(script.paths) == {"/healthz"}


def test_real_http_204_is_not_ready(server: tuple[str, Script]) -> None:
    base, script = server
    script.answers = [(204, {}, b"")]

    assert fetch_url(f"{base}/healthz", 2) == (204, "")
    assert "last result: HTTP 204. " in str(wait_briefly(f"{base}/healthz"))


def test_real_http_500_with_a_reason_names_it(server: tuple[str, Script]) -> None:
    base, script = server
    body = json.dumps({"status": "error", "reason": "worker crashed\n  on start"})
    script.answers = [(500, JSON, body.encode())]

    assert fetch_url(f"{base}/healthz", 2) == (500, body)
    message = str(wait_briefly(f"{base}/healthz"))
    # Its whitespace folded, its other fields left out.
    assert "last result: HTTP 500 with reason 'worker crashed on start'. " in message
    assert "error" not in message.split("last result:")[1].split(".")[0]


def test_real_http_500_without_a_reason_gives_the_status(server: tuple[str, Script]) -> None:
    base, script = server
    script.answers = [(500, {"Content-Type": "text/html"}, b"<h1>Internal Server Error</h1>")]

    message = str(wait_briefly(f"{base}/healthz"))

    assert "last result: HTTP 500. " in message
    assert "Internal Server Error" not in message


def test_real_http_an_answer_slower_than_the_request_timeout_is_no_answer(
    server: tuple[str, Script],
) -> None:
    """A 200 that comes after the request timeout does not count; the gate asks again."""
    base, script = server
    script.answers = [Slow(1.0, OK)]

    with pytest.raises(TimeoutError):
        fetch_url(f"{base}/healthz", 0.1)
    error = wait_briefly(f"{base}/healthz", request_timeout_seconds=0.1)

    assert "last result: no answer (TimeoutError: timed out)" in str(error)
    assert len(script.paths) >= 3


def test_real_http_a_slow_200_within_the_request_timeout_is_ready(
    server: tuple[str, Script],
) -> None:
    base, script = server
    script.answers = [Slow(0.2, OK)]

    assert fetch_url(f"{base}/healthz", 5) == (200, '{"status":"ok"}')


def test_real_http_a_reset_connection_is_no_answer(server: tuple[str, Script]) -> None:
    base, script = server
    script.answers = [RESET, OK]

    with pytest.raises((OSError, http.client.HTTPException)) as excinfo:
        fetch_url(f"{base}/healthz", 2)
    cause = excinfo.value
    if isinstance(cause, urllib.error.URLError) and isinstance(cause.reason, BaseException):
        cause = cause.reason
    assert isinstance(cause, ConnectionResetError)
    # Then the next answer, 200, is ready.
    assert fetch_url(f"{base}/healthz", 2)[0] == 200


def test_real_http_resets_until_the_timeout_name_the_reset(server: tuple[str, Script]) -> None:
    base, script = server
    script.answers = [RESET]

    message = str(wait_briefly(f"{base}/healthz"))

    assert re.search(r"last result: no answer \((ConnectionResetError|RemoteDisconnected)", message)
    assert len(script.paths) >= 2


# --- serialization, as pulumi.dynamic does it -----------------------------------------------


def test_provider_survives_the_sdk_round_trip_by_reference() -> None:
    serialized = serialize(ReadinessGateProvider())

    loaded = deserialize(serialized)

    # By reference: the class is this module's, imported again, not rebuilt from byte code.
    assert type(loaded) is ReadinessGateProvider
    assert loaded.fetch is None
    assert loaded.diff(ID, dict(OLDS), {**PROPS, "revision": "new"}).changes is True
    # Deterministic, so the stored provider does not change between runs.
    assert serialize(ReadinessGateProvider()) == serialized


def test_the_sdk_provider_process_checks_diffs_and_polls(server: tuple[str, Script]) -> None:
    """The provider process Pulumi starts, over gRPC: the real fetch against the loopback."""
    base, script = server
    script.answers = [(503, JSON, UNAVAILABLE.encode()), (200, JSON, b"{}")]
    provider = serialize(ReadinessGateProvider(poll_interval_seconds=0.01))
    url = f"{base}/healthz"
    olds = {"url": url, "revision": "a", "timeout_seconds": 600.0, "status": 200}
    news = {"url": url, "revision": "b", "timeout_seconds": 10, PROVIDER_KEY: provider}

    with provider_host() as host:
        bad = host.check({**news, "url": "ftp://x"})
        # A first preview: the pod's address and uid are not known yet.
        preview = host.check({**news, "url": UNKNOWN, "revision": UNKNOWN})
        diff = host.diff({**olds, PROVIDER_KEY: provider}, news)
        gate_id_, outs = host.create(news)

    assert [name for name, _reason in bad] == ["url"]
    assert preview == []
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(diff.replaces) == []
    assert gate_id_ == f"{url}#b"
    assert outs["status"] == 200
    assert script.paths == ["/healthz", "/healthz"]


# --- the resource under Pulumi mocks --------------------------------------------------------


@pulumi.runtime.test
def test_gate_registers_as_a_dynamic_resource(mocks: RecordingCloud) -> pulumi.Output[None]:
    gate = HttpReadinessGate(
        "todo-ready",
        url=pulumi.Output.from_input(URL),
        revision=pulumi.Output.from_input(REVISION).apply(str),
    )

    def check(values: list[Any]) -> None:
        gate_id_, url, revision, status = values
        assert gate_id_ == ID
        assert url == URL
        assert revision == REVISION
        assert status == 200
        [args] = mocks.resources
        assert args.typ == "pulumi-python:dynamic/http:ReadinessGate"
        assert args.name == "todo-ready"
        assert args.inputs["timeout_seconds"] == DEFAULT_TIMEOUT_SECONDS
        assert "__provider" in args.inputs

    return pulumi.Output.all(gate.id, gate.url, gate.revision, gate.status).apply(check)


@pulumi.runtime.test
def test_gate_passes_its_timeout(mocks: RecordingCloud) -> pulumi.Output[None]:
    gate = HttpReadinessGate("short", url=URL, revision=REVISION, timeout_seconds=120)

    def check(status: int) -> None:
        assert status == 200
        assert mocks.resources[0].inputs["timeout_seconds"] == 120

    return gate.status.apply(check)
