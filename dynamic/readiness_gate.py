"""Wait, inside the Pulumi graph, until the app's public ``GET /healthz`` answers HTTP 200.

The Virtual Kubelet azure-aci connector marks a pod Ready as soon as its ACI container runs; it
never reads the readiness probe. ``HttpReadinessGate`` is a Pulumi Python dynamic resource,
created after the pod, whose create and update poll the app's health URL until it answers 200 (the
app does only when it can ping its database), or fail ``pulumi up`` with one clear error.

The providers here are pickled by reference, as dynamic/provider_registration.py's docstring
explains: their module and class names are part of the stack's state. Their waits share
dynamic/poll.py's loop; HTTP goes through ``urllib.request``.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic

from dynamic.poll import Pending, poll_until
from dynamic.provider_registration import build_credential, credential_plan
from pulumi_internals import is_unknown

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "POLL_INTERVAL_SECONDS",
    "REGISTRY_TIMEOUT_SECONDS",
    "REQUEST_TIMEOUT_SECONDS",
    "ArmAccessGate",
    "ArmGateProvider",
    "Fetch",
    "HttpReadinessGate",
    "ReadinessError",
    "ReadinessGateProvider",
    "RegistryAccessError",
    "RegistryAccessGate",
    "RegistryGateProvider",
    "container_groups_url",
    "fetch_url",
    "gate_id",
    "granted_actions",
    "registry_mode",
    "wait_until_arm_allows",
    "wait_until_granted",
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

    def attempt() -> int | Pending:
        try:
            status, body = fetch(url, request_timeout_seconds)
        except (OSError, http.client.HTTPException) as error:
            return Pending(describe_failure(error))
        return status if status == 200 else Pending(describe_answer(status, body))

    return poll_until(
        attempt,
        timeout_seconds=timeout_seconds,
        interval_seconds=poll_interval_seconds,
        on_timeout=lambda last, attempts: ReadinessError(
            timeout_message(url, timeout_seconds, attempts, last)
        ),
        sleep=sleep,
        clock=clock,
    )


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


class GateProvider(pulumi.dynamic.ResourceProvider):
    """What the gates share. A gate owns nothing outside the Pulumi state: create and update
    wait, a refresh keeps what create saw (whether it still holds is for `pulumi up` to check),
    delete does nothing, and a change of one of ``WAIT_AGAIN_ON`` is an update that waits again,
    never a replace. Arguments other than defaults are for tests."""

    WAIT_AGAIN_ON: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
    ) -> None:
        super().__init__()
        # None means "the real one" (tests inject fakes).
        self.sleep = sleep
        self.clock = clock
        self.poll_interval_seconds = poll_interval_seconds

    def _timing(self) -> dict[str, Any]:
        """The wait loop's pace, for the ``wait_until_*`` functions."""
        return {
            "poll_interval_seconds": self.poll_interval_seconds,
            "sleep": self.sleep or time.sleep,
            "clock": self.clock or time.monotonic,
        }

    def _wait(self, props: dict[str, Any]) -> dict[str, Any]:
        """Wait for what the gate is for; return its outputs."""
        raise NotImplementedError

    def _id(self, outs: dict[str, Any]) -> str:
        raise NotImplementedError

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        outs = self._wait(props)
        return pulumi.dynamic.CreateResult(self._id(outs), outs)

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        return pulumi.dynamic.ReadResult(id_, dict(props))

    def diff(
        self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
    ) -> pulumi.dynamic.DiffResult:
        # `_olds` are the recorded outputs, `_news` the new inputs (an unknown one differs).
        changed = [key for key in self.WAIT_AGAIN_ON if not same(_olds.get(key), _news.get(key))]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[])

    def update(
        self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
    ) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(self._wait(_news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class ReadinessGateProvider(GateProvider):
    """Create and update wait for HTTP 200."""

    WAIT_AGAIN_ON = (URL, REVISION, TIMEOUT_SECONDS)

    def __init__(
        self,
        *,
        fetch: Fetch | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
        request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(sleep=sleep, clock=clock, poll_interval_seconds=poll_interval_seconds)
        self.fetch = fetch
        self.request_timeout_seconds = request_timeout_seconds

    def _wait(self, props: dict[str, Any]) -> dict[str, Any]:
        url, revision = str(props[URL]), str(props[REVISION])
        timeout_seconds = as_number(props.get(TIMEOUT_SECONDS)) or DEFAULT_TIMEOUT_SECONDS
        status = wait_until_ready(
            url,
            timeout_seconds=timeout_seconds,
            fetch=self.fetch or fetch_url,
            request_timeout_seconds=self.request_timeout_seconds,
            **self._timing(),
        )
        return {URL: url, REVISION: revision, TIMEOUT_SECONDS: timeout_seconds, STATUS: status}

    def _id(self, outs: dict[str, Any]) -> str:
        return gate_id(outs[URL], outs[REVISION])

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        failures: list[pulumi.dynamic.CheckFailure] = []
        url = news.get(URL)
        if not is_unknown(url) and not (
            isinstance(url, str) and url.startswith(("http://", "https://"))
        ):
            failures.append(
                pulumi.dynamic.CheckFailure(
                    URL, f"url must start with http:// or https://, not {url!r}"
                )
            )
        revision = news.get(REVISION)
        if not (is_unknown(revision) or isinstance(revision, str)):
            failures.append(pulumi.dynamic.CheckFailure(REVISION, "revision must be a string"))
        timeout = news.get(TIMEOUT_SECONDS)
        number = as_number(timeout)
        if not (timeout is None or is_unknown(timeout) or (number is not None and number > 0)):
            failures.append(
                pulumi.dynamic.CheckFailure(
                    TIMEOUT_SECONDS,
                    f"timeout_seconds must be a positive number, not {timeout!r}",
                )
            )
        return pulumi.dynamic.CheckResult(news, failures)


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


# --- the registry's token service: until the role has reached it -----------------------------

REGISTRY_TIMEOUT_SECONDS = 900
"""How long the registry gate waits for the role to take effect (judged: Azure role assignments
usually take effect within minutes; the first live deploy measures it, docs/operations.md)."""

ARM_ENDPOINT = "https://management.azure.com"
# The first Microsoft.ContainerRegistry API version with `roleAssignmentMode` (Azure/bicep-types-az
# generated/containerregistry/microsoft.containerregistry/2025-05-01-preview/types.md); the
# installed azure-native's Registry uses 2023-01-01-preview, which cannot set or read it.
REGISTRY_MODE_API_VERSION = "2025-05-01-preview"
# The mode in which the built-in AcrPull and AcrPush roles are honoured, and the one in which they
# are not (Microsoft Learn, "container-registry-rbac-abac-repository-permissions"; Azure/acr issue
# 883 plans to make the latter the default).
LEGACY_REGISTRY_PERMISSIONS = "LegacyRegistryPermissions"
ABAC_REPOSITORY_PERMISSIONS = "AbacRepositoryPermissions"

# Property names of the registry gate (inputs and outputs).
SERVER = "server"
REPOSITORY = "repository"
ACTIONS = "actions"
USERNAME = "username"
PASSWORD = "password"  # an input only: never returned as an output
REGISTRY_ID = "registry_id"
AUTH = "auth"
GRANTED = "granted"

TENANT_ID = "tenant_id"
# The API version of the connector's container group list: the stable one azure-native 2.x used
# for Microsoft.ContainerInstance (pulumi_azure_native 3.29 containerinstance/container_group.py).
CONTAINER_GROUPS_API_VERSION = "2023-05-01"

PrincipalFetch = Callable[[str, str, str, str, float], tuple[int, str]]
"""``fetch(url, tenant, client id, secret, timeout) -> (status, body)`` as that principal."""

TokenFetch = Callable[[str, str, str, float], tuple[int, str]]
"""``fetch(url, username, password, timeout) -> (status, body)``; raises OSError on no answer."""


class RegistryAccessError(Exception):
    """The role did not reach the registry in time, or cannot; the message says what to do."""


def token_url(server: str, repository: str, actions: str) -> str:
    """The registry's token endpoint for a repository scope (Azure/acr docs/AAD-OAuth.md,
    "Catalog listing using SP/Admin with Basic Auth": GET /oauth2/token with Basic auth)."""
    query = urllib.parse.urlencode(
        {"service": server, "scope": f"repository:{repository}:{actions}"}
    )
    return f"https://{server}/oauth2/token?{query}"


def fetch_token(url: str, username: str, password: str, timeout: float) -> tuple[int, str]:
    """GET ``url`` once with Basic auth; any HTTP status is returned, not raised."""
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    opener = urllib.request.build_opener(NoRedirects())
    request = urllib.request.Request(
        url,
        headers={
            "Accept": "application/json",
            "Authorization": f"Basic {basic}",
            "User-Agent": "pulumi-registry-gate",
        },
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(MAX_BODY_BYTES).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, ""


def granted_actions(body: str, repository: str) -> set[str]:
    """The actions the access token in ``body`` grants on ``repository`` (its JWT claims:
    ``access: [{type: repository, name, actions}]``, Azure/acr docs/AAD-OAuth.md)."""
    try:
        token = json.loads(body)["access_token"]
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return set()
    granted: set[str] = set()
    for entry in claims.get("access") or []:
        if entry.get("type") == "repository" and entry.get("name") == repository:
            granted.update(str(action) for action in entry.get("actions") or [])
    return granted


def not_granted_message(
    server: str, repository: str, actions: str, username: str, timeout: float, last: str
) -> str:
    return (
        f"The registry {server} did not grant {actions} on repository {repository} to the "
        f"service principal {username} within {timeout:g} s; last answer: {last}. Its role "
        "assignment may still be reaching the registry: run `pulumi up` again. If it keeps "
        "failing, check the assignment (`az role assignment list --assignee "
        f"{username} --all`) and that the registry's role assignment permissions mode is "
        f"{LEGACY_REGISTRY_PERMISSIONS} ('RBAC Registry Permissions'): in "
        f"{ABAC_REPOSITORY_PERMISSIONS} the built-in AcrPull and AcrPush roles are not "
        "honoured."
    )


def wait_until_granted(
    server: str,
    repository: str,
    actions: str,
    username: str,
    password: str,
    *,
    timeout_seconds: float = REGISTRY_TIMEOUT_SECONDS,
    fetch: TokenFetch = fetch_token,
    poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
    request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[str]:
    """Ask the token service until its token grants every one of ``actions``.

    Returns the granted actions. A 401 (the password or the role not there yet), a token
    without the actions, and no answer all mean "not yet"; raises RegistryAccessError after
    ``timeout_seconds``.
    """
    wanted = set(actions.split(","))
    url = token_url(server, repository, actions)

    def attempt() -> list[str] | Pending:
        try:
            status, body = fetch(url, username, password, request_timeout_seconds)
        except (OSError, http.client.HTTPException) as error:
            return Pending(f"no answer ({type(error).__name__})")
        granted = granted_actions(body, repository) if status == 200 else set()
        # "*" grants every action (the registry's own claim sets use it).
        if wanted <= granted or "*" in granted:
            return sorted(granted)
        return Pending(
            f"HTTP {status}"
            + (f", a token granting only {sorted(granted) or 'nothing'}" if status == 200 else "")
        )

    return poll_until(
        attempt,
        timeout_seconds=timeout_seconds,
        interval_seconds=poll_interval_seconds,
        on_timeout=lambda last, _attempts: RegistryAccessError(
            not_granted_message(server, repository, actions, username, timeout_seconds, last)
        ),
        sleep=sleep,
        clock=clock,
    )


def get_with_token(url: str, token: str, timeout: float) -> tuple[int, str]:
    """GET an ARM URL with a bearer token; any HTTP status is returned, not raised."""
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(MAX_BODY_BYTES).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, ""


def arm_get(url: str, auth: dict[str, str], timeout: float) -> tuple[int, str]:
    """GET an ARM URL, signed in as azure-native is (dynamic/provider_registration.py).

    A credential that gets no token is answered as a 401: the registration, which signs in
    the same way, has reported it already.
    """
    from azure.core.exceptions import AzureError

    try:
        credential = build_credential(*credential_plan(auth, os.environ))
        token = credential.get_token(f"{ARM_ENDPOINT}/.default").token
    except AzureError:
        return 401, ""
    return get_with_token(url, token, timeout)


def get_as_principal(
    url: str, tenant_id: str, client_id: str, client_secret: str, timeout: float
) -> tuple[int, str]:
    """GET an ARM URL as a service principal. Entra refusing a password it does not know
    yet (a new one takes a moment to replicate) is answered as a 401."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(tenant_id, client_id, client_secret)
    try:
        token = credential.get_token(f"{ARM_ENDPOINT}/.default").token
    except ClientAuthenticationError:
        return 401, ""
    except AzureError as error:  # Entra not reached: no answer, as a network error is
        raise OSError(type(error).__name__) from None
    return get_with_token(url, token, timeout)


def wait_until_arm_allows(
    url: str,
    tenant_id: str,
    client_id: str,
    client_secret: str,
    *,
    timeout_seconds: float = REGISTRY_TIMEOUT_SECONDS,
    fetch: PrincipalFetch = get_as_principal,
    poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """GET ``url`` as the service principal until ARM answers 200, and return 200.

    A 401 (the password not there yet) or 403 (the role not there yet), any other status and
    no answer mean "not yet"; raises RegistryAccessError after ``timeout_seconds``.
    """

    def attempt() -> int | Pending:
        try:
            status, _body = fetch(url, tenant_id, client_id, client_secret, REQUEST_TIMEOUT_SECONDS)
        except (OSError, http.client.HTTPException) as error:
            return Pending(f"no answer ({type(error).__name__})")
        return status if status == 200 else Pending(f"HTTP {status}")

    return poll_until(
        attempt,
        timeout_seconds=timeout_seconds,
        interval_seconds=poll_interval_seconds,
        on_timeout=lambda last, _attempts: RegistryAccessError(
            f"Azure Resource Manager did not let the service principal {client_id} "
            f"GET {url} within {timeout_seconds:g} s; last answer: {last}. Its role "
            "assignment may still be on its way: run `pulumi up` again. If it keeps "
            f"failing, check the assignment (`az role assignment list --assignee "
            f"{client_id} --all`)."
        ),
        sleep=sleep,
        clock=clock,
    )


def registry_mode(
    registry_id: str,
    auth: dict[str, str],
    get: Callable[[str, dict[str, str], float], tuple[int, str]] = arm_get,
) -> str | None:
    """The registry's role assignment mode, or None when ARM does not say."""
    status, body = get(
        f"{ARM_ENDPOINT}{registry_id}?api-version={REGISTRY_MODE_API_VERSION}",
        auth,
        REQUEST_TIMEOUT_SECONDS,
    )
    if status != 200:
        return None
    try:
        mode = json.loads(body)["properties"].get("roleAssignmentMode")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return str(mode) if mode else None


def require_legacy_mode(registry_id: str, mode: str | None) -> None:
    """Stop at once, naming the fix, when the registry does not honour AcrPull and AcrPush."""
    if mode is None or mode == LEGACY_REGISTRY_PERMISSIONS:
        return
    raise RegistryAccessError(
        f"The registry {registry_id} has role assignment permissions mode {mode!r}, in which "
        "the built-in AcrPush and AcrPull roles this stack assigns are not honoured. Set it "
        f"to {LEGACY_REGISTRY_PERMISSIONS} ('RBAC Registry Permissions' in the portal's "
        "Properties), then run `pulumi up` again: az resource update --ids "
        f"{registry_id} --set properties.roleAssignmentMode={LEGACY_REGISTRY_PERMISSIONS} "
        f"--api-version {REGISTRY_MODE_API_VERSION}"
    )


class RegistryGateProvider(GateProvider):
    """Create and update wait for the grant."""

    WAIT_AGAIN_ON = (SERVER, REPOSITORY, ACTIONS, USERNAME, REVISION, REGISTRY_ID)

    def __init__(
        self,
        *,
        fetch: TokenFetch | None = None,
        arm: Callable[[str, dict[str, str], float], tuple[int, str]] | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
    ) -> None:
        super().__init__(sleep=sleep, clock=clock, poll_interval_seconds=poll_interval_seconds)
        self.fetch = fetch
        self.arm = arm

    def _wait(self, props: dict[str, Any]) -> dict[str, Any]:
        registry_id = str(props.get(REGISTRY_ID) or "")
        auth = {str(k): str(v) for k, v in (props.get(AUTH) or {}).items()}
        if registry_id:
            require_legacy_mode(registry_id, registry_mode(registry_id, auth, self.arm or arm_get))
        timeout = float(props.get(TIMEOUT_SECONDS) or REGISTRY_TIMEOUT_SECONDS)
        granted = wait_until_granted(
            str(props[SERVER]),
            str(props[REPOSITORY]),
            str(props[ACTIONS]),
            str(props[USERNAME]),
            str(props[PASSWORD]),
            timeout_seconds=timeout,
            fetch=self.fetch or fetch_token,
            **self._timing(),
        )
        # Everything but the password, which stays an input (a secret in the state).
        outs = {key: value for key, value in props.items() if key != PASSWORD}
        return {**outs, TIMEOUT_SECONDS: timeout, GRANTED: granted}

    def _id(self, outs: dict[str, Any]) -> str:
        return f"{outs[SERVER]}/{outs[REPOSITORY]}:{outs[ACTIONS]}#{outs[REVISION]}"


class ArmGateProvider(GateProvider):
    """Create and update wait until ARM lets the principal read."""

    WAIT_AGAIN_ON = (URL, TENANT_ID, USERNAME, REVISION)

    def __init__(
        self,
        *,
        fetch: PrincipalFetch | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
    ) -> None:
        super().__init__(sleep=sleep, clock=clock, poll_interval_seconds=poll_interval_seconds)
        self.fetch = fetch

    def _wait(self, props: dict[str, Any]) -> dict[str, Any]:
        timeout = float(props.get(TIMEOUT_SECONDS) or REGISTRY_TIMEOUT_SECONDS)
        status = wait_until_arm_allows(
            str(props[URL]),
            str(props[TENANT_ID]),
            str(props[USERNAME]),
            str(props[PASSWORD]),
            timeout_seconds=timeout,
            fetch=self.fetch or get_as_principal,
            **self._timing(),
        )
        outs = {key: value for key, value in props.items() if key != PASSWORD}
        return {**outs, TIMEOUT_SECONDS: timeout, STATUS: status}

    def _id(self, outs: dict[str, Any]) -> str:
        return gate_id(outs[URL], outs[REVISION])


class RegistryAccessGate(pulumi.dynamic.Resource, module="azure", name="RegistryAccessGate"):
    """Done once the registry's token service grants ``actions`` to the credential.

    A role assignment takes a while to reach the registry; building or pulling before it has is
    refused. This asks the service that enforces it (a token request with the credential itself)
    until it grants the actions, instead of sleeping a fixed time. With ``registry_id`` it first
    reads the registry's role assignment permissions mode through ARM and stops, naming the fix,
    when it does not honour the built-in roles (the installed azure-native cannot pin it).
    ``revision`` changes with the password or the assignment, and the wait runs again.
    """

    granted: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        server: pulumi.Input[str],
        repository: str,
        actions: str,
        username: pulumi.Input[str],
        password: pulumi.Input[str],
        revision: pulumi.Input[str],
        registry_id: pulumi.Input[str] = "",
        auth: Mapping[str, str] | None = None,
        timeout_seconds: int = REGISTRY_TIMEOUT_SECONDS,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            RegistryGateProvider(),
            resource_name,
            {
                SERVER: server,
                REPOSITORY: repository,
                ACTIONS: actions,
                USERNAME: username,
                PASSWORD: pulumi.Output.secret(password),
                REVISION: revision,
                REGISTRY_ID: registry_id,
                AUTH: dict(auth or {}),
                TIMEOUT_SECONDS: timeout_seconds,
                GRANTED: None,
            },
            opts,
        )


class ArmAccessGate(pulumi.dynamic.Resource, module="azure", name="ArmAccessGate"):
    """Done once Azure Resource Manager answers ``GET url`` with 200 for the service principal.

    For the ACI connector's credential: ARM applies a new role assignment after a while, and the
    connector's first container group would be refused before. This lists the container groups
    in its resource group as the connector would, until its role lets it, instead of sleeping a
    fixed time. ``revision`` changes with the password or the assignment, and the wait runs again.
    """

    status: pulumi.Output[int]

    def __init__(
        self,
        resource_name: str,
        *,
        url: pulumi.Input[str],
        tenant_id: pulumi.Input[str],
        username: pulumi.Input[str],
        password: pulumi.Input[str],
        revision: pulumi.Input[str],
        timeout_seconds: int = REGISTRY_TIMEOUT_SECONDS,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            ArmGateProvider(),
            resource_name,
            {
                URL: url,
                TENANT_ID: tenant_id,
                USERNAME: username,
                PASSWORD: pulumi.Output.secret(password),
                REVISION: revision,
                TIMEOUT_SECONDS: timeout_seconds,
                STATUS: None,
            },
            opts,
        )


def container_groups_url(
    subscription_id: pulumi.Input[str], resource_group_name: pulumi.Input[str]
) -> pulumi.Output[str]:
    """The ARM list of container groups in a resource group: what the connector reads first."""
    return pulumi.Output.concat(
        ARM_ENDPOINT,
        "/subscriptions/",
        subscription_id,
        "/resourceGroups/",
        resource_group_name,
        f"/providers/Microsoft.ContainerInstance/containerGroups?api-version="
        f"{CONTAINER_GROUPS_API_VERSION}",
    )
