"""Wait, inside the Pulumi graph, until the app's public ``GET /healthz`` answers HTTP 200.

The Virtual Kubelet azure-aci connector marks a pod Ready as soon as its ACI container runs; it
never reads the readiness probe. ``HttpReadinessGate`` is a Pulumi Python dynamic resource,
created after the pod, whose create and update poll the app's health URL until it answers 200 (the
app does only when it can ping its database), or fail ``pulumi up`` with one clear error.

Everything the provider runs is defined inside ``_define_provider_code()`` so that dill pickles
it by value and the dynamic provider process can load it without this project on its
``sys.path``; components/provider_registration.py's docstring explains why. The code uses only
the standard library (``urllib.request`` for HTTP), so the pickle needs nothing beyond Python and
``pulumi``. tests/test_readiness_gate.py loads the pickle in an isolated process.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi.dynamic

from pulumi_internals import UNKNOWN  # what check and diff see for an input not known yet

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "POLL_INTERVAL_SECONDS",
    "REQUEST_TIMEOUT_SECONDS",
    "Fetch",
    "HttpReadinessGate",
    "ReadinessError",
    "ReadinessGateProvider",
    "fetch_url",
    "gate_id",
    "wait_until_ready",
]

DEFAULT_TIMEOUT_SECONDS = 600
"""How long create/update wait for HTTP 200 unless ``timeout_seconds`` says otherwise."""

POLL_INTERVAL_SECONDS = 10.0
"""How often the URL is requested while waiting."""

REQUEST_TIMEOUT_SECONDS = 10.0
"""How long one request may take (connect and each read) before it counts as failed."""

MAX_BODY_BYTES = 65536
"""How much of a response body is read; only its JSON ``reason`` is ever used."""

MAX_REASON_CHARS = 300
"""How much of the JSON ``reason`` goes into the error message."""


# Property names: inputs and outputs of the dynamic resource (no camelCase translation applies).
URL = "url"
REVISION = "revision"
TIMEOUT_SECONDS = "timeout_seconds"
STATUS = "status"

Fetch = Callable[[str, float], tuple[int, str]]
"""``fetch(url, timeout) -> (status, body text)``; raises OSError or HTTPException on no answer."""


def _define_provider_code():  # return type inferred: it names classes local to this function
    """Define the code the pickled provider carries; see the module docstring for why here."""

    class ReadinessError(Exception):
        """The URL did not answer 200 in time; the message says what was seen and what to check."""

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        """Makes a 3xx an answer of its own (an HTTPError), not a request to somewhere else."""

        def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
            return None

    def fetch_url(url: str, timeout: float) -> tuple[int, str]:
        """GET ``url`` once, following no redirects. Any HTTP status is returned, not raised."""
        opener = urllib.request.build_opener(NoRedirects())
        request = urllib.request.Request(
            url,
            headers={"Accept": "application/json", "User-Agent": "pulumi-readiness-gate"},
        )
        try:
            with opener.open(request, timeout=timeout) as response:
                status: int = response.status
                raw: bytes = response.read(MAX_BODY_BYTES)
        except urllib.error.HTTPError as error:
            status = error.code
            try:
                raw = error.read(MAX_BODY_BYTES)
            except (OSError, http.client.HTTPException):
                raw = b""
            finally:
                error.close()
        return status, raw.decode("utf-8", errors="replace")

    def reason_of(body: str) -> str | None:
        """The ``reason`` string of a JSON object body, shortened; nothing else of the body."""
        try:
            document = json.loads(body)
        except ValueError:
            return None
        reason = document.get("reason") if isinstance(document, dict) else None
        if not isinstance(reason, str) or not reason.strip():
            return None
        reason = " ".join(reason.split())
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[: MAX_REASON_CHARS - 3] + "..."
        return reason

    def describe_answer(status: int, body: str) -> str:
        reason = reason_of(body)
        return f"HTTP {status}" + (f" with reason {reason!r}" if reason else "")

    def describe_failure(error: BaseException) -> str:
        # urllib wraps the socket's error (refused, DNS, timeout) in a URLError: name that one.
        if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
            error = error.reason
        detail = str(error).strip()
        return f"no answer ({type(error).__name__}" + (f": {detail})" if detail else ")")

    def timeout_message(url: str, timeout_seconds: float, attempts: int, last: str) -> str:
        return (
            f"The app at {url} did not answer GET with HTTP 200 within {timeout_seconds:g} s "
            f"({attempts} requests); last result: {last}. Check the app's logs with "
            "`az container logs -g <group> -n <name>` (the container group the ACI connector "
            "made for the pod, in the connector's resource group), that the database's firewall "
            "admits the container group's outbound IP address, and the app's database connection "
            "string (the Secret mounted at its DB_FILE)."
        )

    def wait_until_ready(
        url: str,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        fetch: Fetch = fetch_url,
        poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
        request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> int:
        """GET ``url`` until it answers 200, and return 200.

        Any other status, and no answer at all (refused, DNS, timeout: expected while the
        container starts), means "not yet". Raises ReadinessError once ``timeout_seconds``
        (measured with ``clock``) have passed without a 200.
        """
        deadline = clock() + timeout_seconds
        attempts = 0
        while True:
            attempts += 1
            try:
                status, body = fetch(url, request_timeout_seconds)
            except (OSError, http.client.HTTPException) as error:
                last = describe_failure(error)
            else:
                if status == 200:
                    return status
                last = describe_answer(status, body)
            remaining = deadline - clock()
            if remaining <= 0:
                raise ReadinessError(timeout_message(url, timeout_seconds, attempts, last))
            sleep(min(poll_interval_seconds, remaining))

    def gate_id(url: str, revision: str) -> str:
        """The Pulumi id of a gate: the URL it checked and the revision it checked it for."""
        return f"{url}#{revision}"

    def as_number(value: object) -> float | None:
        """``value`` as a float when it is a number (not a bool), else None."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    def same(old: object, new: object) -> bool:
        # Numbers come back from the engine as floats: 600 and 600.0 are the same input.
        old_number, new_number = as_number(old), as_number(new)
        if old_number is not None and new_number is not None:
            return old_number == new_number
        return old == new

    class ReadinessGateProvider(pulumi.dynamic.ResourceProvider):
        """Create and update wait for HTTP 200. Arguments other than defaults are for tests."""

        def __init__(
            self,
            *,
            fetch: Fetch | None = None,
            sleep: Callable[[float], None] | None = None,
            clock: Callable[[], float] | None = None,
            poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
            request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
        ) -> None:
            super().__init__()
            # None means "the real one, chosen when the provider runs": keeps the pickle small.
            self.fetch = fetch
            self.sleep = sleep
            self.clock = clock
            self.poll_interval_seconds = poll_interval_seconds
            self.request_timeout_seconds = request_timeout_seconds

        def _wait(self, props: dict[str, Any]) -> dict[str, Any]:
            url, revision = str(props[URL]), str(props[REVISION])
            timeout_seconds = as_number(props.get(TIMEOUT_SECONDS)) or DEFAULT_TIMEOUT_SECONDS
            status = wait_until_ready(
                url,
                timeout_seconds=timeout_seconds,
                fetch=self.fetch or fetch_url,
                poll_interval_seconds=self.poll_interval_seconds,
                request_timeout_seconds=self.request_timeout_seconds,
                sleep=self.sleep or time.sleep,
                clock=self.clock or time.monotonic,
            )
            return {URL: url, REVISION: revision, TIMEOUT_SECONDS: timeout_seconds, STATUS: status}

        def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
            failures: list[pulumi.dynamic.CheckFailure] = []
            url = news.get(URL)
            if url != UNKNOWN and not (
                isinstance(url, str) and url.startswith(("http://", "https://"))
            ):
                failures.append(
                    pulumi.dynamic.CheckFailure(
                        URL, f"url must start with http:// or https://, not {url!r}"
                    )
                )
            revision = news.get(REVISION)
            if not isinstance(revision, str):
                failures.append(pulumi.dynamic.CheckFailure(REVISION, "revision must be a string"))
            timeout = news.get(TIMEOUT_SECONDS)
            number = as_number(timeout)
            if timeout not in (None, UNKNOWN) and not (number is not None and number > 0):
                failures.append(
                    pulumi.dynamic.CheckFailure(
                        TIMEOUT_SECONDS,
                        f"timeout_seconds must be a positive number, not {timeout!r}",
                    )
                )
            return pulumi.dynamic.CheckResult(news, failures)

        def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
            outs = self._wait(props)
            return pulumi.dynamic.CreateResult(gate_id(outs[URL], outs[REVISION]), outs)

        def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
            # A refresh keeps what create saw: health now is for `pulumi up` to check, not refresh.
            return pulumi.dynamic.ReadResult(id_, dict(props))

        def diff(
            self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
        ) -> pulumi.dynamic.DiffResult:
            # `_olds` are the recorded outputs, `_news` the new inputs (unknowns as UNKNOWN).
            changed = [
                key
                for key in (URL, REVISION, TIMEOUT_SECONDS)
                if not same(_olds.get(key), _news.get(key))
            ]
            # An update, never a replace: the gate owns nothing, it only waits again.
            return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[])

        def update(
            self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
        ) -> pulumi.dynamic.UpdateResult:
            return pulumi.dynamic.UpdateResult(self._wait(_news))

        def delete(self, _id: str, _props: dict[str, Any]) -> None:
            return None  # nothing exists outside the Pulumi state

    return ReadinessError, fetch_url, wait_until_ready, gate_id, ReadinessGateProvider


ReadinessError, fetch_url, wait_until_ready, gate_id, ReadinessGateProvider = (
    _define_provider_code()
)


class HttpReadinessGate(pulumi.dynamic.Resource, module="http", name="ReadinessGate"):
    """Done once ``GET url`` answers HTTP 200; checks again whenever ``revision`` changes.

    ``revision`` is any string that changes when the app is redeployed (a pod's uid, its image).
    ``pulumi up`` fails with a clear error when no 200 comes within ``timeout_seconds``. Preview
    never requests the URL; refresh keeps the recorded result; delete does nothing.
    """

    url: pulumi.Output[str]
    revision: pulumi.Output[str]
    status: pulumi.Output[int]
    """The HTTP status that ended the wait (200)."""

    def __init__(
        self,
        resource_name: str,
        *,
        url: pulumi.Input[str],
        revision: pulumi.Input[str],
        timeout_seconds: pulumi.Input[int] = DEFAULT_TIMEOUT_SECONDS,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            ReadinessGateProvider(),
            resource_name,
            {
                URL: url,
                REVISION: revision,
                TIMEOUT_SECONDS: timeout_seconds,
                # Declared so that the output exists on this object; the provider sets it.
                STATUS: None,
            },
            opts,
        )
