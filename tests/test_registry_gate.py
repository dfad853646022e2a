"""The gates that ask, with a new credential, until its role has reached the registry or ARM."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dynamic_fakes import FakeTime, run_as_provider_process, serialize
from loopback_http import Authority, JsonHandler, serving

from dynamic.readiness_gate import (
    ArmGateProvider,
    RegistryAccessError,
    RegistryGateProvider,
    granted_actions,
    registry_mode,
    wait_until_arm_allows,
    wait_until_granted,
)

CLIENT_ID = "0a0a0a0a-1111-2222-3333-444444444444"
PASSWORD = "FAKE-push-password~s3cr3t"
REGISTRY_ID = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/"
    "Microsoft.ContainerRegistry/registries/todo0123456789abcdef"
)


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT with ``claims``, shaped as the registry's access tokens are."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.signature"


def token_body(repository: str, actions: list[str]) -> str:
    access = [{"type": "repository", "name": repository, "actions": actions}]
    return json.dumps({"access_token": jwt({"iss": "Azure Container Registry", "access": access})})


def test_granted_actions_reads_the_repository_entry_of_the_access_claim() -> None:
    assert granted_actions(token_body("todo", ["pull", "push"]), "todo") == {"pull", "push"}
    assert granted_actions(token_body("other", ["pull"]), "todo") == set()
    for body in ("", "{}", '{"access_token": "not-a-jwt"}', '{"access_token": "a.!!!.c"}'):
        assert granted_actions(body, "todo") == set()


@dataclass
class TokenService:
    """Answers token requests in order (the last repeats) and records what each one sent."""

    answers: list[tuple[int, str]]
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def fetch(self, url: str, username: str, password: str, _timeout: float) -> tuple[int, str]:
        self.requests.append((url, username, password))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def wait(service: TokenService, clock: FakeTime, actions: str = "pull,push") -> list[str]:
    return wait_until_granted(
        "todo0123.azurecr.io",
        "todo",
        actions,
        CLIENT_ID,
        PASSWORD,
        timeout_seconds=60,
        fetch=service.fetch,
        sleep=clock.sleep,
        clock=clock.clock,
    )


def test_401_until_the_role_arrives_then_the_grant() -> None:
    service = TokenService([(401, ""), (401, ""), (200, token_body("todo", ["pull", "push"]))])
    clock = FakeTime()
    assert wait(service, clock) == ["pull", "push"]
    assert len(service.requests) == 3
    assert clock.sleeps == [10.0, 10.0]
    url, username, password = service.requests[0]
    assert url == (
        "https://todo0123.azurecr.io/oauth2/token?service=todo0123.azurecr.io"
        "&scope=repository%3Atodo%3Apull%2Cpush"
    )
    assert (username, password) == (CLIENT_ID, PASSWORD)


def test_a_wildcard_grant_is_every_action() -> None:
    service = TokenService([(200, token_body("todo", ["*"]))])
    assert wait(service, FakeTime()) == ["*"]


def test_a_token_without_push_is_not_yet_and_times_out_saying_what_it_granted() -> None:
    service = TokenService([(200, token_body("todo", ["pull"]))])
    with pytest.raises(RegistryAccessError) as raised:
        wait(service, FakeTime())
    message = str(raised.value)
    assert "did not grant pull,push on repository todo" in message
    assert "a token granting only ['pull']" in message
    assert "run `pulumi up` again" in message
    assert "LegacyRegistryPermissions" in message
    assert PASSWORD not in message


def test_no_answer_is_not_yet() -> None:
    def unreachable(*_args: Any) -> tuple[int, str]:
        raise ConnectionRefusedError("refused")

    clock = FakeTime()
    with pytest.raises(RegistryAccessError) as raised:
        wait_until_granted(
            "r.azurecr.io",
            "todo",
            "pull",
            CLIENT_ID,
            PASSWORD,
            timeout_seconds=30,
            fetch=unreachable,
            sleep=clock.sleep,
            clock=clock.clock,
        )
    assert "no answer (ConnectionRefusedError)" in str(raised.value)
    assert sum(clock.sleeps) == 30


# --- the registry's permission mode, read through ARM -------------------------------------


def arm_answer(status: int, mode: str | None) -> Any:
    calls: list[str] = []

    def get(url: str, _auth: dict[str, str], _timeout: float) -> tuple[int, str]:
        calls.append(url)
        properties = {"loginServer": "r.azurecr.io"} | (
            {"roleAssignmentMode": mode} if mode else {}
        )
        return status, json.dumps({"id": REGISTRY_ID, "properties": properties})

    return get, calls


def test_the_mode_is_read_with_an_api_version_that_has_it() -> None:
    get, calls = arm_answer(200, "AbacRepositoryPermissions")
    assert registry_mode(REGISTRY_ID, {}, get) == "AbacRepositoryPermissions"
    assert calls == [f"https://management.azure.com{REGISTRY_ID}?api-version=2025-05-01-preview"]


@pytest.mark.parametrize(("status", "mode"), [(200, None), (403, None), (404, None)])
def test_a_mode_arm_does_not_state_is_none(status: int, mode: str | None) -> None:
    get, _ = arm_answer(status, mode)
    assert registry_mode(REGISTRY_ID, {}, get) is None


def provider_props(**overrides: Any) -> dict[str, Any]:
    return {
        "server": "r.azurecr.io",
        "repository": "todo",
        "actions": "pull,push",
        "username": CLIENT_ID,
        "password": PASSWORD,
        "revision": "key-1/assignment",
        "registry_id": REGISTRY_ID,
        "auth": {},
        "timeout_seconds": 60,
        **overrides,
    }


def test_abac_mode_stops_at_once_naming_the_fix() -> None:
    get, _ = arm_answer(200, "AbacRepositoryPermissions")
    service = TokenService([(200, token_body("todo", ["pull", "push"]))])
    provider = RegistryGateProvider(fetch=service.fetch, arm=get)
    with pytest.raises(RegistryAccessError) as raised:
        provider.create(provider_props())
    message = str(raised.value)
    assert "'AbacRepositoryPermissions'" in message
    assert "AcrPush and AcrPull roles this stack assigns are not honoured" in message
    assert (
        f"az resource update --ids {REGISTRY_ID} --set "
        "properties.roleAssignmentMode=LegacyRegistryPermissions --api-version 2025-05-01-preview"
    ) in message
    assert service.requests == []  # no token asked for: the roles cannot work


@pytest.mark.parametrize("mode", ["LegacyRegistryPermissions", None])
def test_legacy_or_unstated_mode_goes_on_to_the_token(mode: str | None) -> None:
    get, calls = arm_answer(200, mode)
    service = TokenService([(200, token_body("todo", ["pull", "push"]))])
    outs = RegistryGateProvider(fetch=service.fetch, arm=get).create(provider_props()).outs
    assert outs is not None
    assert len(calls) == 1
    assert outs["granted"] == ["pull", "push"]
    assert "password" not in outs
    assert PASSWORD not in json.dumps(outs)


def test_without_a_registry_id_arm_is_not_asked() -> None:
    get, calls = arm_answer(200, "AbacRepositoryPermissions")
    service = TokenService([(200, token_body("todo", ["pull"]))])
    provider = RegistryGateProvider(fetch=service.fetch, arm=get)
    outs = provider.create(provider_props(registry_id="", actions="pull")).outs
    assert outs is not None
    assert calls == []
    assert outs["granted"] == ["pull"]


def test_a_new_revision_waits_again_and_a_refresh_asks_nothing() -> None:
    provider = RegistryGateProvider(fetch=TokenService([(500, "")]).fetch)
    olds = {key: value for key, value in provider_props().items() if key != "password"}
    assert provider.diff("id", olds, provider_props()).changes is False
    changed = provider.diff("id", olds, provider_props(revision="key-2/assignment"))
    assert changed.changes is True
    assert changed.replaces == []
    assert provider.read("id", olds).outs == olds


# --- for real: the pickled provider in the provider process, HTTPS on the loopback ---------

RUN_CREATE = """
import base64, json, sys
import dill
from pulumi.runtime._serialization import _deserialize

serialized, props = sys.stdin.read().split("\\n", 1)
provider = _deserialize(lambda: dill.loads(base64.b64decode(serialized)))
result = provider.create(json.loads(props))
print(json.dumps({"id": result.id, "outs": result.outs}))
"""


@pytest.fixture
def token_service(tmp_path: Path) -> Iterator[tuple[int, list[dict[str, str]], Path]]:
    """A loopback HTTPS token endpoint: 401 on the first request, then a token granting push."""
    authority = Authority()
    seen: list[dict[str, str]] = []
    grant = token_body("todo", ["pull", "push"])

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, "authorization": self.headers["Authorization"]})
            if len(seen) == 1:
                self.send_json(401, {"errors": [{"code": "UNAUTHORIZED"}]})
            else:
                self.send_json(200, json.loads(grant))

    with serving(Handler, authority) as port:
        yield port, seen, authority.write_ca(tmp_path / "ca.pem")


def test_a_real_process_waits_through_401_until_the_token_grants_push(
    token_service: tuple[int, list[dict[str, str]], Path], tmp_path: Path
) -> None:
    port, seen, ca = token_service
    server = f"127.0.0.1:{port}"
    provider = RegistryGateProvider(poll_interval_seconds=0.2)
    props = provider_props(server=server, registry_id="")
    started = time.monotonic()
    completed = run_as_provider_process(
        RUN_CREATE,
        serialize(provider) + "\n" + json.dumps(props),
        # The process trusts the loopback CA as it would trust Azure's: through OpenSSL's default.
        env={"PATH": os.environ["PATH"], "SSL_CERT_FILE": str(ca), "HOME": str(tmp_path)},
    )
    elapsed = time.monotonic() - started
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["outs"]["granted"] == ["pull", "push"]
    assert "password" not in result["outs"]
    assert len(seen) == 2
    basic = base64.b64encode(f"{CLIENT_ID}:{PASSWORD}".encode()).decode()
    assert all(request["authorization"] == f"Basic {basic}" for request in seen)
    assert seen[0]["path"].startswith("/oauth2/token?service=127.0.0.1%3A")
    assert "scope=repository%3Atodo%3Apull%2Cpush" in seen[0]["path"]
    assert elapsed < 30


def test_a_real_process_refuses_a_server_it_does_not_trust(
    token_service: tuple[int, list[dict[str, str]], Path], tmp_path: Path
) -> None:
    port, seen, _ca = token_service
    provider = RegistryGateProvider(poll_interval_seconds=0.2)
    props = provider_props(server=f"127.0.0.1:{port}", registry_id="", timeout_seconds=1)
    completed = run_as_provider_process(
        RUN_CREATE,
        serialize(provider) + "\n" + json.dumps(props),
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
    )
    assert completed.returncode != 0
    assert "no answer (" in completed.stderr
    assert seen == []  # the credential never reached an untrusted server
    assert PASSWORD not in completed.stderr


# --- the connector's credential, asked of ARM ---------------------------------------------

ARM_URL = (
    "https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/"
    "Microsoft.ContainerInstance/containerGroups?api-version=2023-05-01"
)


@dataclass
class Arm:
    """Answers ARM requests in order (the last repeats) and records who asked."""

    answers: list[int]
    requests: list[tuple[str, str, str, str]] = field(default_factory=list)

    def fetch(
        self, url: str, tenant: str, client: str, secret: str, _timeout: float
    ) -> tuple[int, str]:
        self.requests.append((url, tenant, client, secret))
        status = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return status, "{}"


def arm_props(**overrides: Any) -> dict[str, Any]:
    return {
        "url": ARM_URL,
        "tenant_id": "tenant",
        "username": CLIENT_ID,
        "password": PASSWORD,
        "revision": "key-1/assignment",
        "timeout_seconds": 60,
        **overrides,
    }


def test_the_connector_gate_waits_through_401_and_403_until_arm_answers_200() -> None:
    arm = Arm([401, 403, 403, 200])
    clock = FakeTime()
    provider = ArmGateProvider(fetch=arm.fetch, sleep=clock.sleep, clock=clock.clock)
    outs = provider.create(arm_props()).outs
    assert outs is not None
    assert outs["status"] == 200
    assert "password" not in outs
    assert arm.requests == [(ARM_URL, "tenant", CLIENT_ID, PASSWORD)] * 4
    assert clock.sleeps == [10.0] * 3


def test_the_connector_gate_times_out_naming_the_principal_and_the_last_answer() -> None:
    clock = FakeTime()
    with pytest.raises(RegistryAccessError) as raised:
        wait_until_arm_allows(
            ARM_URL,
            "tenant",
            CLIENT_ID,
            PASSWORD,
            timeout_seconds=30,
            fetch=Arm([403]).fetch,
            sleep=clock.sleep,
            clock=clock.clock,
        )
    message = str(raised.value)
    assert f"service principal {CLIENT_ID}" in message
    assert "last answer: HTTP 403" in message
    assert "run `pulumi up` again" in message
    assert PASSWORD not in message
    assert sum(clock.sleeps) == 30


def test_the_connector_gate_waits_again_for_a_new_password_only() -> None:
    provider = ArmGateProvider(fetch=Arm([200]).fetch)
    olds = {key: value for key, value in arm_props().items() if key != "password"}
    assert provider.diff("id", olds, arm_props(password="other")).changes is False
    assert provider.diff("id", olds, arm_props(revision="key-2/assignment")).changes is True


def test_both_gates_load_in_the_provider_process_by_reference() -> None:
    script = """
import base64, sys
import dill
from pulumi.runtime._serialization import _deserialize
for line in sys.stdin.read().split():
    provider = _deserialize(lambda: dill.loads(base64.b64decode(line)))
    print(f"{type(provider).__module__}.{type(provider).__qualname__}")
print("components" in sys.modules)
"""
    completed = run_as_provider_process(
        script, serialize(RegistryGateProvider()) + "\n" + serialize(ArmGateProvider())
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.split()
    assert lines[0] == "dynamic.readiness_gate.RegistryGateProvider"
    assert lines[1] == "dynamic.readiness_gate.ArmGateProvider"
    # Loading a provider imports its module, not the program's components.
    assert lines[2] == "False"
