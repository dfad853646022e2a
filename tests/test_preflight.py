"""The preflight of the deploy targets, run as `make` runs it, against tools the test provides.

Each test gives the preflight a PATH of its own: an empty folder (a machine without the tools),
or tiny scripts standing in for `pulumi`, `gcloud`, `az` and `docker` that answer as a logged-in
or logged-out tool would. Nothing else from the real PATH is visible.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fake_cloud import PROJECT_DIR

LOGGED_IN = "exit 0"
EVERY_TOOL = {
    "pulumi": LOGGED_IN,
    "gcloud": LOGGED_IN,
    "gke-gcloud-auth-plugin": LOGGED_IN,
    "az": LOGGED_IN,
    "docker": LOGGED_IN,
}


class Machine:
    """A project copy, a PATH folder and an environment for one preflight run."""

    def __init__(self, root: Path) -> None:
        self.project = root / "project"
        self.project.mkdir()
        shutil.copy(PROJECT_DIR / "Pulumi.yaml", self.project / "Pulumi.yaml")
        self.bin = root / "bin"
        self.bin.mkdir()
        self.env = {"PATH": str(self.bin), "HOME": str(root)}
        self.stack_config({"gcp:project": "my-project-123"})

    def tool(self, name: str, body: str) -> None:
        script = self.bin / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)

    def tools(self, tools: dict[str, str]) -> None:
        for name, body in tools.items():
            self.tool(name, body)

    def stack_config(self, config: dict[str, str], stack: str = "dev") -> None:
        (self.project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))

    def run(self, target: str, stack: str = "dev") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "preflight",
                "--for",
                target,
                "--stack",
                stack,
                "--project-dir",
                str(self.project),
            ],
            cwd=PROJECT_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def gaps(self, target: str, stack: str = "dev") -> list[str]:
        """The names of the missing pieces, in the order they are printed (exit 2 asserted)."""
        result = self.run(target, stack)
        assert result.returncode == 2, result
        header, *lines = result.stderr.splitlines()
        assert header == f"preflight: `make {target}` cannot start; missing:"
        assert all(line.startswith("  - ") for line in lines)
        return [line[4:].split(": ", 1)[0] for line in lines]


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def ready(machine: Machine, target: str) -> None:
    result = machine.run(target)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"preflight: ready for `make {target}` (stack dev)\n"


def test_a_machine_without_the_tools_hears_of_every_missing_piece_at_once(
    machine: Machine,
) -> None:
    machine.stack_config({"gcp:zone": "us-west1-a"})
    assert machine.gaps("up") == [
        "Pulumi CLI",
        "PULUMI_CONFIG_PASSPHRASE",
        "gcp:project",
        "Google Cloud CLI",
        "gke-gcloud-auth-plugin",
        "Azure CLI",
        "Docker",
    ]
    stderr = machine.run("up").stderr
    assert "curl -fsSL https://get.pulumi.com | sh" in stderr
    assert "gcloud components install gke-gcloud-auth-plugin" in stderr
    assert "pulumi config set gcp:project <your-project-id>" in stderr
    assert "Traceback" not in stderr


def test_a_ready_machine_passes_every_target(machine: Machine) -> None:
    machine.tools(EVERY_TOOL)
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = ""  # an empty passphrase is a passphrase
    for target in ("up", "preview", "outputs", "destroy", "verify"):
        ready(machine, target)


NO_APPLICATION_DEFAULT = (
    '[ "$1 $2" = "auth application-default" ] && { echo "Reauthentication failed" >&2; exit 1; }'
)


def test_missing_google_application_default_credentials_are_one_line(
    machine: Machine, tmp_path: Path
) -> None:
    machine.tools({**EVERY_TOOL, "gcloud": NO_APPLICATION_DEFAULT})
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "s3cret"
    for target in ("up", "preview", "destroy", "verify"):
        assert machine.gaps(target) == ["Google credentials"], target
    assert "run `gcloud auth application-default login`" in machine.run("up").stderr
    ready(machine, "outputs")
    # gcloud's well-known file, or a file GOOGLE_APPLICATION_CREDENTIALS names, is enough.
    well_known = Path(machine.env["HOME"]) / ".config" / "gcloud"
    well_known.mkdir(parents=True)
    (well_known / "application_default_credentials.json").write_text("{}")
    ready(machine, "up")
    machine.env["GOOGLE_APPLICATION_CREDENTIALS"] = str(tmp_path / "absent.json")
    assert machine.gaps("up") == ["Google credentials"]
    key = tmp_path / "key.json"
    key.write_text("{}")
    machine.env["GOOGLE_APPLICATION_CREDENTIALS"] = str(key)
    ready(machine, "up")


def test_a_logged_out_azure_cli_is_one_line(machine: Machine) -> None:
    machine.tools(EVERY_TOOL)
    machine.tool(
        "az", '[ "$1 $2" = "account show" ] && { echo "Please run az login" >&2; exit 1; }'
    )
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "s3cret"
    assert machine.gaps("up") == ["Azure CLI"]
    assert "not logged in (`az account show` failed); run `az login`" in machine.run("up").stderr
    assert machine.gaps("verify") == ["Azure CLI"]  # it reads the container groups
    ready(machine, "outputs")


@pytest.mark.parametrize(
    "sign_in",
    [
        {"ARM_CLIENT_SECRET": "not-a-real-secret"},
        {"ARM_USE_OIDC": "true"},
        {"ARM_CLIENT_CERTIFICATE_PATH": "/secrets/deployer.pfx"},
    ],
    ids=["secret", "oidc", "certificate"],
)
def test_a_ci_principal_signs_in_through_arm_variables_without_the_azure_cli(
    machine: Machine, sign_in: dict[str, str]
) -> None:
    machine.tools({name: body for name, body in EVERY_TOOL.items() if name != "az"})
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "s3cret"
    assert machine.gaps("up") == ["Azure CLI"]
    assert "or, without the CLI, set ARM_CLIENT_ID, ARM_TENANT_ID" in machine.run("up").stderr
    machine.env.update(
        {
            "ARM_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
            "ARM_TENANT_ID": "00000000-0000-0000-0000-000000000002",
            "ARM_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000003",
            **sign_in,
        }
    )
    for target in ("up", "preview", "destroy"):
        ready(machine, target)
    # verify reads the container groups through DefaultAzureCredential, which reads no ARM_*.
    assert machine.gaps("verify") == ["Azure CLI"]


@pytest.mark.parametrize(
    ("docker", "gap"),
    [
        ('[ "$1" = buildx ] && exit 1; exit 0', "Docker buildx"),
        ('[ "$1" = info ] && exit 1; exit 0', "Docker daemon"),
    ],
)
def test_docker_needs_buildx_and_a_daemon_when_the_app_is_built(
    machine: Machine, docker: str, gap: str
) -> None:
    machine.tools({**EVERY_TOOL, "docker": docker})
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "s3cret"
    assert machine.gaps("up") == [gap]
    ready(machine, "preview")  # previews never build the app


def test_docker_is_not_needed_when_appimage_names_an_image(machine: Machine) -> None:
    machine.tools({name: body for name, body in EVERY_TOOL.items() if name != "docker"})
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "s3cret"
    assert machine.gaps("up") == ["Docker"]
    machine.stack_config({"gcp:project": "my-project-123", "gke-aci:appImage": "janakiramm/todo"})
    ready(machine, "up")


def test_outputs_needs_only_the_pulumi_cli_and_the_passphrase(machine: Machine) -> None:
    machine.stack_config({})
    assert machine.gaps("outputs") == ["Pulumi CLI", "PULUMI_CONFIG_PASSPHRASE"]
    machine.tool("pulumi", LOGGED_IN)
    machine.env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(machine.project / "passphrase.txt")
    assert machine.gaps("outputs") == ["PULUMI_CONFIG_PASSPHRASE_FILE"]
    (machine.project / "passphrase.txt").write_text("s3cret\n")
    ready(machine, "outputs")


def test_destroy_and_verify_need_no_project_id_and_no_docker(machine: Machine) -> None:
    machine.stack_config({})
    assert machine.gaps("destroy") == [
        "Pulumi CLI",
        "PULUMI_CONFIG_PASSPHRASE",
        "Google Cloud CLI",
        "gke-gcloud-auth-plugin",
        "Azure CLI",
    ]
    assert machine.gaps("verify") == [
        "Pulumi CLI",
        "PULUMI_CONFIG_PASSPHRASE",
        "Google Cloud CLI",
        "gke-gcloud-auth-plugin",
        "Azure CLI",
    ]


@pytest.mark.parametrize(
    ("backend", "needs_passphrase"),
    [
        ("file://./.pulumi-state", True),
        ("file:///tmp/state", True),
        ("gs://my-bucket", False),
        ("https://api.pulumi.com", False),
    ],
)
def test_only_the_local_file_backend_needs_the_passphrase(
    machine: Machine, backend: str, needs_passphrase: bool
) -> None:
    machine.tool("pulumi", LOGGED_IN)
    machine.env["PULUMI_BACKEND_URL"] = backend
    if needs_passphrase:
        assert machine.gaps("outputs") == ["PULUMI_CONFIG_PASSPHRASE"]
    else:
        ready(machine, "outputs")


def test_a_stack_without_a_stack_file_has_no_project_id(machine: Machine) -> None:
    machine.tools(EVERY_TOOL)
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "s3cret"
    assert machine.gaps("preview", stack="prod") == ["gcp:project"]
    assert "add `gcp:project: <your-project-id>` under config: in Pulumi.prod.yaml" in (
        machine.run("preview", stack="prod").stderr
    )


def test_outputs_and_destroy_run_without_pyyaml() -> None:
    """They run under any Python 3.11 (the Makefile uses python3 for them, not .venv)."""
    script = (
        "import os, sys\n"
        "from preflight import Machine, missing\n"
        "for target in ('outputs', 'destroy'):\n"
        "    missing(target, Machine(env={'PATH': ''}, stack='dev'))\n"
        "print('yaml' in sys.modules, 'synth' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    assert result.stdout == "False False\n"


def make_dry_run(target: str) -> list[str]:
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-n",
            target,
            "STACK=dev",
            "VENV=/nonexistent/venv",
            "PYTHON=python3",
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
        # As a user runs it, also when the tests themselves run under `make test`.
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
    )
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    ("target", "command"),
    [("up", "pulumi up --refresh --stack dev"), ("preview", "pulumi preview --stack dev")],
)
def test_up_and_preview_check_first_then_select_or_create_the_stack(
    target: str, command: str
) -> None:
    lines = make_dry_run(target)
    preflight = next(i for i, line in enumerate(lines) if f"-m preflight --for {target}" in line)
    select = lines.index("pulumi stack select --create dev")
    assert preflight < select < lines.index(command)


@pytest.mark.parametrize(
    ("target", "command"),
    [("outputs", "pulumi stack output --stack dev"), ("destroy", "pulumi destroy --stack dev")],
)
def test_outputs_and_destroy_check_first_with_plain_python(target: str, command: str) -> None:
    lines = make_dry_run(target)
    assert lines[0].startswith("python3 -c 'import sys;")  # the Python version, first
    assert "this project needs Python 3.11 or newer" in lines[0]
    assert lines[1] == f"python3 -m preflight --for {target} --stack dev"
    assert lines.index(command) > 0
    assert not any(re.search(r"-m venv|pip install", line) for line in lines)


def test_docker_without_buildx_and_daemon_names_both_at_once(machine: Machine) -> None:
    machine.tools({**EVERY_TOOL, "docker": "exit 1"})
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "s3cret"
    assert machine.gaps("up") == ["Docker buildx", "Docker daemon"]


def test_a_yaml_error_in_the_stack_file_is_one_line_with_file_and_line(machine: Machine) -> None:
    machine.tools(EVERY_TOOL)
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "s3cret"
    (machine.project / "Pulumi.dev.yaml").write_text(
        "config:\n  gcp:project: my-project-123\n  gke-aci:nodeCount: [3\n"
    )
    result = machine.run("preview")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    problems = [line for line in result.stderr.splitlines() if "Pulumi.dev.yaml:3" in line]
    assert len(problems) == 1, result.stderr
    assert "not valid YAML" in problems[0]
    assert "gcp:project" not in result.stderr  # the file's error, not a consequence of it


def test_a_key_set_twice_in_the_stack_file_names_both_lines(machine: Machine) -> None:
    machine.tools(EVERY_TOOL)
    machine.env["PULUMI_CONFIG_PASSPHRASE"] = "s3cret"
    (machine.project / "Pulumi.dev.yaml").write_text(
        "config:\n  gcp:project: my-project-123\n  gke-aci:nodeCount: 3\n  gke-aci:nodeCount: 4\n"
    )
    result = machine.run("preview")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Pulumi.dev.yaml:4: gke-aci:nodeCount is set twice (first on line 3)" in result.stderr


# --- the Python version, before anything is installed -------------------------------------------


def test_an_older_python_is_named_before_any_install(tmp_path: Path) -> None:
    """As a user with an older Python meets it: `make venv` stops at once, saying what it needs.
    The running Python stands in for the old one by raising the project's minimum instead."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(PROJECT_DIR / "Makefile", copy / "Makefile")
    pyproject = (PROJECT_DIR / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11"' in pyproject
    (copy / "pyproject.toml").write_text(pyproject.replace(">=3.11", ">=3.99"))
    for requirements in PROJECT_DIR.glob("**/requirements*.txt"):
        if ".venv" in requirements.parts:
            continue
        target = copy / requirements.relative_to(PROJECT_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(requirements.read_text())
    make = shutil.which("make")
    assert make
    ran = subprocess.run(
        [make, "venv", f"PYTHON={sys.executable}"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode != 0
    major, minor = sys.version_info[:2]
    assert f"is Python {major}.{minor}; this project needs Python 3.99 or newer" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert not (copy / ".venv").exists()
