"""Checks of .github/workflows/preview.yml, the pull request `pulumi preview` workflow.

Its structure, pins, token scopes and script injection are the workflow linters' to check
(`make lint-workflows`, tests/test_ci.py); here is what it must do: OIDC-only cloud logins, the
Pulumi step, the state backend guard (run for real with bash) and no hard-coded secrets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from workflow_files import ROOT, WORKFLOWS_DIR, Workflow, load_workflow_text, release_of

WORKFLOW_PATH = WORKFLOWS_DIR / "preview.yml"

Step = dict[str, Any]


@pytest.fixture(scope="module")
def workflow_text() -> str:
    assert WORKFLOW_PATH.is_file(), f"missing {WORKFLOW_PATH}"
    return WORKFLOW_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def workflow(workflow_text: str) -> Workflow:
    return load_workflow_text(workflow_text)


@pytest.fixture(scope="module")
def job(workflow: Workflow) -> dict[str, Any]:
    jobs: dict[str, Any] = workflow["jobs"]
    assert list(jobs) == ["preview"], "one job, `preview`"
    return jobs["preview"]


@pytest.fixture(scope="module")
def steps(job: dict[str, Any]) -> list[Step]:
    found: list[Step] = job["steps"]
    return found


def step_index(steps: list[Step], action: str) -> int:
    """Index of the only step that uses `action` (owner/name, any version)."""
    matches = [i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith(f"{action}@")]
    assert len(matches) == 1, f"expected exactly one step using {action}, found {len(matches)}"
    return matches[0]


def step_named(steps: list[Step], name: str) -> Step:
    matches = [s for s in steps if s.get("name") == name]
    assert len(matches) == 1, f"expected exactly one step named {name!r}"
    return matches[0]


def walk(node: object, path: str = "") -> Iterator[tuple[str, object, object]]:
    """Yield (path, key, value) for every mapping entry in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}/{key}"
            yield here, key, value
            yield from walk(value, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from walk(item, f"{path}[{i}]")


# --- triggers, permissions, concurrency -----------------------------------------------------


def test_runs_on_pull_requests_and_on_demand(workflow: Workflow) -> None:
    on: dict[str, Any] = workflow["on"]
    assert "pull_request" in on
    assert "workflow_dispatch" in on
    stack_input = on["workflow_dispatch"]["inputs"]["stack"]
    assert stack_input["default"] == "dev"


def test_permissions_allow_oidc_and_pr_comments_only(
    workflow: Workflow, job: dict[str, Any]
) -> None:
    assert workflow["permissions"] == {}, "the workflow grants nothing; the job names its scopes"
    assert job["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }


def test_one_preview_at_a_time_per_pull_request(workflow: Workflow) -> None:
    concurrency: dict[str, Any] = workflow["concurrency"]
    assert "github.event.pull_request.number" in concurrency["group"]


def test_fork_pull_requests_are_skipped(job: dict[str, Any]) -> None:
    condition = " ".join(str(job["if"]).split())
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition


# --- steps ----------------------------------------------------------------------------------


def test_pulumi_preview_step(steps: list[Step], job: dict[str, Any], workflow_text: str) -> None:
    step = steps[step_index(steps, "pulumi/actions")]
    # v7 runs on node24; v6 ran on node20, which GitHub removes from its runners.
    assert release_of(workflow_text, "pulumi/actions").startswith("v7.")
    args: dict[str, Any] = step["with"]
    assert args["command"] == "preview"
    assert args["comment-on-pr"] in (True, "true")
    assert args["stack-name"] == "${{ env.STACK_NAME }}"
    assert job["env"]["STACK_NAME"].replace(" ", "").endswith("||'dev'}}")
    assert args["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    env: dict[str, str] = step["env"]
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    assert env["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"


def test_google_auth_uses_workload_identity_federation(steps: list[Step]) -> None:
    step = steps[step_index(steps, "google-github-actions/auth")]
    args: dict[str, Any] = step["with"]
    assert args["workload_identity_provider"] == "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}"
    assert args["service_account"] == "${{ vars.GCP_SERVICE_ACCOUNT }}"
    assert "credentials_json" not in args


def test_gcloud_installs_gke_auth_plugin_after_google_auth(steps: list[Step]) -> None:
    setup = step_index(steps, "google-github-actions/setup-gcloud")
    components = str(steps[setup]["with"]["install_components"]).split(",")
    assert "gke-gcloud-auth-plugin" in [c.strip() for c in components]
    assert step_index(steps, "google-github-actions/auth") < setup


def test_azure_login_uses_oidc_without_a_secret(steps: list[Step], job: dict[str, Any]) -> None:
    step = steps[step_index(steps, "azure/login")]
    args: dict[str, Any] = step["with"]
    assert set(args) == {"client-id", "tenant-id", "subscription-id"}
    assert args["client-id"] == "${{ vars.AZURE_CLIENT_ID }}"
    env: dict[str, str] = job["env"]
    assert env["ARM_USE_OIDC"] == "true"
    assert env["ARM_CLIENT_ID"] == "${{ vars.AZURE_CLIENT_ID }}"
    assert env["ARM_TENANT_ID"] == "${{ vars.AZURE_TENANT_ID }}"
    assert env["ARM_SUBSCRIPTION_ID"] == "${{ vars.AZURE_SUBSCRIPTION_ID }}"


def test_clouds_and_dependencies_are_ready_before_preview(steps: list[Step]) -> None:
    preview = step_index(steps, "pulumi/actions")
    for action in (
        "actions/checkout",
        "actions/setup-python",
        "google-github-actions/auth",
        "google-github-actions/setup-gcloud",
        "azure/login",
    ):
        assert step_index(steps, action) < preview, f"{action} must run before the preview"
    # CI's Python is one the project supports (pyproject.toml's requires-python).
    python = steps[step_index(steps, "actions/setup-python")]
    supported = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                             ["requires-python"])  # fmt: skip
    assert str(python["with"]["python-version"]) in supported
    install = step_named(steps, "Install Python dependencies into .venv")
    assert "python -m venv .venv" in install["run"]
    assert ".venv/bin/python -m pip install -r requirements.txt" in install["run"]
    assert step_index(steps, "actions/setup-python") < steps.index(install) < preview


def test_no_hard_coded_secrets(workflow: Workflow) -> None:
    forbidden_keys = {
        "credentials_json",
        "creds",
        "client-secret",
        "password",
        "ARM_CLIENT_SECRET",
        "AZURE_CLIENT_SECRET",
        "GOOGLE_CREDENTIALS",
    }
    sensitive = re.compile(r"pass(word|phrase)|secret|token|key|credential", re.IGNORECASE)
    expression = re.compile(r"\$\{\{.*\}\}", re.DOTALL)
    for path, key, value in walk(workflow):
        assert str(key) not in forbidden_keys, f"{path}: long-lived credential input"
        if "/permissions/" in path:  # `id-token: write` is a scope, not a value
            continue
        if sensitive.search(str(key)) and isinstance(value, str) and value:
            assert expression.fullmatch(value.strip()), f"{path}: literal value {value!r}"
    text = json.dumps(workflow)
    used_secrets = set(re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used_secrets == {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN"}


# --- the state backend guard, run with bash -------------------------------------------------

CONFIGURED = {
    "STACK_NAME": "dev",
    "PULUMI_BACKEND_URL": "gs://example-state-bucket",
    "HAS_PASSPHRASE": "true",
    "HAS_ACCESS_TOKEN": "false",
    "GCP_WORKLOAD_IDENTITY_PROVIDER": (
        "projects/1/locations/global/workloadIdentityPools/pool/providers/github"
    ),
    "GCP_SERVICE_ACCOUNT": "preview@example-project.iam.gserviceaccount.com",
    "GCP_PROJECT": "example-project",
    "ARM_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
    "ARM_TENANT_ID": "00000000-0000-0000-0000-000000000002",
    "ARM_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000003",
}


@pytest.fixture
def run_config_check(
    steps: list[Step], tmp_path: Path
) -> Callable[[dict[str, str]], subprocess.CompletedProcess[str]]:
    bash = shutil.which("bash")
    assert bash is not None, "bash runs the workflow's scripts (and the Makefile)"
    script: str = step_named(steps, "Check repository configuration")["run"]

    def run(overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **CONFIGURED, **overrides}
        # GitHub runs `run:` scripts with `bash -e {0}`.
        return subprocess.run(
            [bash, "-e", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    return run


def test_config_check_passes_when_everything_is_set(
    run_config_check: Callable[[dict[str, str]], subprocess.CompletedProcess[str]],
) -> None:
    result = run_config_check({})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "::error" not in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"PULUMI_BACKEND_URL": ""}, "PULUMI_BACKEND_URL is not set"),
        ({"PULUMI_BACKEND_URL": "file://./state"}, "file:// backend"),
        ({"PULUMI_BACKEND_URL": "azblob://state", "HAS_PASSPHRASE": "false"}, "PASSPHRASE"),
        ({"PULUMI_BACKEND_URL": "https://api.pulumi.com"}, "PULUMI_ACCESS_TOKEN is not set"),
        ({"GCP_WORKLOAD_IDENTITY_PROVIDER": ""}, "GCP_WORKLOAD_IDENTITY_PROVIDER is not set"),
        ({"ARM_CLIENT_ID": ""}, "AZURE_CLIENT_ID is not set"),
    ],
    ids=["backend-unset", "file-backend", "no-passphrase", "cloud-no-token", "no-gcp", "no-azure"],
)
def test_config_check_fails_clearly(
    run_config_check: Callable[[dict[str, str]], subprocess.CompletedProcess[str]],
    overrides: dict[str, str],
    message: str,
) -> None:
    result = run_config_check(overrides)
    assert result.returncode != 0
    assert "::error" in result.stdout
    assert message in result.stdout


def test_config_check_wants_the_passphrase_of_a_passphrase_stack(
    run_config_check: Callable[[dict[str, str]], subprocess.CompletedProcess[str]],
    tmp_path: Path,
) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text("encryptionsalt: v1:abc\nconfig: {}\n")
    cloud = {
        "PULUMI_BACKEND_URL": "https://api.pulumi.com",
        "HAS_ACCESS_TOKEN": "true",
        "STACK_NAME": "acme/gke-aci/dev",
    }
    with_passphrase = run_config_check(cloud)
    assert with_passphrase.returncode == 0, with_passphrase.stdout
    without = run_config_check({**cloud, "HAS_PASSPHRASE": "false"})
    assert without.returncode != 0
    assert "Pulumi.dev.yaml uses the passphrase secrets provider" in without.stdout
