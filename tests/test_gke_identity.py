"""One identity for both GCP providers: the kubeconfig signs in as pulumi-gcp does, or the
program (and preflight) refuses, naming the key and never its secret value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fake_cloud import attempt_program, reveal, run_program
from test_preflight import EVERY_TOOL, Machine

from settings import ConfigError
from specs.gke_identity import (
    ADC_FLAG,
    IdentityProblem,
    KubeconfigAuth,
    kubeconfig_auth,
)

TOKEN = "ya29.FAKE-access-token-s3cr3t"
KEY_JSON = '{"type": "service_account", "private_key": "FAKE-PRIVATE-KEY"}'
DEPLOYER = "deployer@gke-aci-test.iam.gserviceaccount.com"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.json"
    path.write_text(KEY_JSON)
    return path


def auth(config: dict[str, str], environ: dict[str, str] | None = None):
    return kubeconfig_auth(config.get, environ or {})


def test_application_default_credentials_by_default() -> None:
    assert auth({}) == KubeconfigAuth(args=(ADC_FLAG,))


def test_a_key_file_in_the_stack_reaches_the_plugin_as_adc(key_file: Path) -> None:
    found = auth({"gcp:credentials": str(key_file)})
    assert isinstance(found, KubeconfigAuth)
    assert found.args == (ADC_FLAG,)
    assert found.env == (("GOOGLE_APPLICATION_CREDENTIALS", str(key_file)),)


@pytest.mark.parametrize(
    "variable", ["GOOGLE_CREDENTIALS", "GOOGLE_CLOUD_KEYFILE_JSON", "GCLOUD_KEYFILE_JSON"]
)
def test_pulumi_gcps_credential_variables_are_followed(key_file: Path, variable: str) -> None:
    found = auth({}, {variable: str(key_file)})
    assert isinstance(found, KubeconfigAuth)
    assert found.env == (("GOOGLE_APPLICATION_CREDENTIALS", str(key_file)),)


def test_the_stack_value_beats_the_environment(key_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(KEY_JSON)
    found = auth({"gcp:credentials": str(key_file)}, {"GOOGLE_CREDENTIALS": str(other)})
    assert isinstance(found, KubeconfigAuth)
    assert found.env == (("GOOGLE_APPLICATION_CREDENTIALS", str(key_file)),)


def test_impersonation_is_passed_to_the_plugin() -> None:
    for found in (
        auth({"gcp:impersonateServiceAccount": DEPLOYER}),
        auth({}, {"GOOGLE_IMPERSONATE_SERVICE_ACCOUNT": DEPLOYER}),
    ):
        assert found == KubeconfigAuth(
            args=(f"--impersonate_service_account={DEPLOYER}",),
            description=f"gcloud's account impersonating {DEPLOYER}",
        )


@pytest.mark.parametrize(
    ("config", "environ", "source"),
    [
        ({"gcp:accessToken": TOKEN}, {}, "gcp:accessToken"),
        ({}, {"GOOGLE_OAUTH_ACCESS_TOKEN": TOKEN}, "GOOGLE_OAUTH_ACCESS_TOKEN"),
        # pulumi-gcp tries the token first, whatever else is set.
        (
            {"gcp:impersonateServiceAccount": DEPLOYER, "gcp:accessToken": TOKEN},
            {},
            "gcp:accessToken",
        ),
        ({"gcp:credentials": KEY_JSON}, {}, "gcp:credentials"),
        ({}, {"GOOGLE_CREDENTIALS": KEY_JSON}, "GOOGLE_CREDENTIALS"),
    ],
)
def test_what_the_kubeconfig_cannot_follow_is_refused_without_its_value(
    config: dict[str, str], environ: dict[str, str], source: str
) -> None:
    found = auth(config, environ)
    assert isinstance(found, IdentityProblem)
    assert found.source == source
    assert "value not shown" in found.problem
    assert TOKEN not in found.line()
    assert "FAKE-PRIVATE-KEY" not in found.line()


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    found = auth({"gcp:credentials": str(tmp_path / "nope.json")})
    assert isinstance(found, IdentityProblem)
    assert found.problem.startswith(f"names '{tmp_path / 'nope.json'}', which is not a readable")


# --- the program ------------------------------------------------------------------------------


def plugin(config: dict[str, str]) -> dict:
    stack = run_program(config)
    kubeconfig = json.loads(reveal(stack.one("pulumi:providers:kubernetes").inputs["kubeconfig"]))
    [user] = kubeconfig["users"]
    return user["user"]["exec"]


def test_the_programs_kubeconfig_uses_the_stacks_key_file(key_file: Path) -> None:
    exec_ = plugin({"gcp:credentials": str(key_file)})
    assert exec_["args"] == [ADC_FLAG]
    assert exec_["env"] == [{"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": str(key_file)}]
    assert "env" not in plugin({})


def test_the_programs_kubeconfig_follows_an_impersonation_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_IMPERSONATE_SERVICE_ACCOUNT", DEPLOYER)
    assert plugin({})["args"] == [f"--impersonate_service_account={DEPLOYER}"]


def test_the_program_refuses_a_token_before_anything_is_created(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
    deployment = attempt_program()
    assert isinstance(deployment.error, ConfigError)
    [problem] = deployment.error.problems
    assert problem.startswith("GOOGLE_OAUTH_ACCESS_TOKEN: set (value not shown)")
    assert TOKEN not in str(deployment.error)
    assert deployment.registrations == []


# --- preflight --------------------------------------------------------------------------------


def test_preflight_names_key_material_given_inline(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machine.tools(EVERY_TOOL)
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "x"
    machine.stack_config({"gcp:project": "my-project-123", "gcp:credentials": KEY_JSON})
    assert machine.gaps("up") == ["Google identity"]
    stderr = machine.run("up").stderr
    assert "gcp:credentials: holds the key itself (value not shown)" in stderr
    assert "FAKE-PRIVATE-KEY" not in stderr


def test_preflight_needs_no_adc_with_a_key_file_variable(tmp_path: Path, key_file: Path) -> None:
    machine = Machine(tmp_path)
    machine.tools({**EVERY_TOOL, "gcloud": '[ "$1" = auth ] && exit 1; exit 0'})
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "x"
    assert machine.gaps("up") == ["Google credentials"]
    machine.env["GOOGLE_CREDENTIALS"] = str(key_file)
    assert machine.run("up").returncode == 0


def test_preflight_leaves_an_encrypted_value_to_the_program(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machine.tools(EVERY_TOOL)
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "x"
    (machine.project / "Pulumi.dev.yaml").write_text(
        yaml.safe_dump(
            {"config": {"gcp:project": "my-project-123", "gcp:credentials": {"secure": "v1:abc"}}}
        )
    )
    assert machine.run("up").returncode == 0
