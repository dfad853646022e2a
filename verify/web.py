"""The app at ``webUrl`` as verify talks to it, through requests: timeouts, no redirects.

Once the app gives no answer at all, later requests fail at once with the same message, so a
dead address costs one timeout, not one per check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from verify.budget import Budget, Latch
from verify.contract import SERVED_BY_HEADER

MAX_TEXT_CHARS = 300
USER_AGENT = "gke-aci-verify"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, the JSON body when there is one, the text, ``X-Served-By``."""

    status: int
    json: Any
    text: str
    served_by: str | None

    def describe(self) -> str:
        """``HTTP 503 with reason '...'`` (or ``error``): the app's own explanation, if any."""
        said = None
        if isinstance(self.json, dict):
            said = next(
                (
                    (key, self.json[key])
                    for key in ("reason", "error")
                    if isinstance(self.json.get(key), str)
                ),
                None,
            )
        if said is None:
            return f"HTTP {self.status}"
        key, value = said
        return f"HTTP {self.status} with {key} {' '.join(value.split())[:MAX_TEXT_CHARS]!r}"


class App:
    """Requests to one base URL within the run's budget."""

    def __init__(self, base_url: str, budget: Budget) -> None:
        self.base_url = base_url.rstrip("/")
        self._budget = budget
        self._latch = Latch()
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT

    def get(self, path: str, *, fresh_connection: bool = False) -> Answer:
        headers = {"Connection": "close"} if fresh_connection else None
        return self._send("GET", path, headers=headers)

    def post_json(self, path: str, body: Any) -> Answer:
        return self._send("POST", path, json=body)

    def delete(self, path: str, *, cleanup: bool = False) -> Answer:
        return self._send("DELETE", path, cleanup=cleanup)

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        cleanup: bool = False,
    ) -> Answer:
        self._latch.check()
        url = self.base_url + path
        try:
            response = self._session.request(
                method,
                url,
                json=json,
                headers=headers,
                timeout=self._budget.timeouts(cleanup=cleanup),
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise self._latch.trip(f"{method} {url} got no answer ({_describe(error)})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        return Answer(
            status=response.status_code,
            json=body,
            text=response.text,
            served_by=response.headers.get(SERVED_BY_HEADER),
        )


def _describe(error: requests.RequestException) -> str:
    """The failure in a few words: ``ReadTimeout``, ``ConnectionError: ... refused``."""
    kind = type(error).__name__
    if isinstance(error, requests.Timeout):
        return f"{kind}: no answer in time"
    reason = str(error.args[0]) if error.args else ""
    for marker in ("Connection refused", "Name or service not known", "timed out", "reset"):
        if marker in reason:
            return f"{kind}: {marker}"
    return f"{kind}: {reason[:120]}" if reason else kind
