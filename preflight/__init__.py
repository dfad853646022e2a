"""What `make up`, `preview`, `outputs`, `destroy` and `verify` need, checked before they start.

Each target needs some of: the Pulumi CLI, the passphrase of the local state backend, the stack's
``gcp:project``, ``gcloud`` with ``gke-gcloud-auth-plugin``, Google credentials the cluster's
kubeconfig can follow, a logged-in Azure CLI, and Docker with buildx when the app is built from
``app/``. :func:`missing` reports every piece that is
missing at once, one line each saying what it is and how to get it; ``python -m preflight``
prints them and exits 2. Nothing here calls a cloud or the Pulumi CLI: tools are looked up on
``PATH`` and asked about themselves (``az account show``, ``docker buildx version``), and the
stack's configuration is read from its files (``synth/stack_config.py``).

The module is standard-library only until a check needs the stack's configuration (which needs
PyYAML), so ``outputs`` and ``destroy`` can run it with any Python 3.11.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from specs.gke_identity import (
    ACCESS_TOKEN,
    CREDENTIALS,
    IMPERSONATE,
    IdentityProblem,
    KubeconfigAuth,
    kubeconfig_auth,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
# How long a tool may take to answer about itself (`az account show` can take a few seconds).
TOOL_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Missing:
    """One thing a target needs and does not have: what it is and how to get it."""

    what: str
    fix: str

    def line(self) -> str:
        return f"{self.what}: {self.fix}"


@dataclass
class Machine:
    """What the checks look at: the environment (PATH included) and the project's files."""

    env: Mapping[str, str]
    stack: str
    project_dir: Path = PROJECT_DIR
    _config: dict[str, str] | None = field(default=None, init=False)
    # Why the stack's files could not be read (a YAML error, a key set twice), one line each.
    config_problems: list[str] = field(default_factory=list[str], init=False)

    def which(self, tool: str) -> str | None:
        return shutil.which(tool, path=self.env.get("PATH", ""))

    def succeeds(self, tool: str, *args: str) -> bool:
        """Whether ``tool args`` exits 0 (False when it is not on PATH or does not answer)."""
        path = self.which(tool)
        if path is None:
            return False
        try:
            result = subprocess.run(
                [path, *args],
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=TOOL_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return result.returncode == 0

    def config(self) -> dict[str, str]:
        """The stack's configuration as the program would get it; empty without a stack file."""
        if self._config is None:
            from synth.stack_config import (
                StackFileError,
                StackFileMissingError,
                read_stack_config,
            )

            try:
                self._config = read_stack_config(self.project_dir, self.stack).values
            except StackFileMissingError:
                self._config = {}
            except StackFileError as error:
                self._config, self.config_problems = {}, error.problems
        return self._config


Check = Callable[[Machine], Missing | list[Missing] | None]


def _on_path(machine: Machine, tool: str, what: str, fix: str) -> Missing | None:
    return None if machine.which(tool) else Missing(what, fix)


def pulumi_cli(machine: Machine) -> Missing | None:
    return _on_path(
        machine,
        "pulumi",
        "Pulumi CLI",
        "`pulumi` is not on PATH; install it: curl -fsSL https://get.pulumi.com | sh "
        "(or see https://www.pulumi.com/docs/iac/download-install/)",
    )


def state_passphrase(machine: Machine) -> Missing | None:
    """The local file backend encrypts the stack's secrets with a passphrase."""
    backend = machine.env.get("PULUMI_BACKEND_URL", "")
    if backend and not backend.startswith("file://"):
        return None
    passphrase_file = machine.env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if "PULUMI_CONFIG_PASSPHRASE" in machine.env:
        return None
    if passphrase_file:
        if Path(passphrase_file).is_file() and os.access(passphrase_file, os.R_OK):
            return None
        return Missing(
            "PULUMI_CONFIG_PASSPHRASE_FILE",
            f"{passphrase_file} is not a readable file; point it at the file that holds the "
            "stack's passphrase, or set PULUMI_CONFIG_PASSPHRASE",
        )
    return Missing(
        "PULUMI_CONFIG_PASSPHRASE",
        "not set; the local state backend (.pulumi-state/) encrypts the stack's secrets with a "
        "passphrase: export PULUMI_CONFIG_PASSPHRASE='<your passphrase>' (or "
        "PULUMI_CONFIG_PASSPHRASE_FILE=<file>); docs/state.md has the other backends",
    )


def stack_files(machine: Machine) -> list[Missing]:
    """``Pulumi.yaml`` and the stack's file as YAML: each problem with its file and line."""
    machine.config()
    return [Missing(*problem.split(": ", 1)) for problem in machine.config_problems]


def gcp_project(machine: Machine) -> Missing | None:
    if machine.config().get("gcp:project") or machine.config_problems:
        return None
    stack = machine.stack
    return Missing(
        "gcp:project",
        f"not set for stack {stack}; add `gcp:project: <your-project-id>` under config: in "
        f"Pulumi.{stack}.yaml, or run `pulumi stack select --create {stack}` and "
        "`pulumi config set gcp:project <your-project-id>`",
    )


def gcloud(machine: Machine) -> Missing | None:
    return _on_path(
        machine,
        "gcloud",
        "Google Cloud CLI",
        "`gcloud` is not on PATH; install it (https://cloud.google.com/sdk/docs/install), then "
        "run `gcloud auth application-default login`",
    )


def google_credentials(machine: Machine) -> Missing | None:
    """Application default credentials: pulumi-gcp and the cluster's kubeconfig sign in with them.

    Found as Google's client libraries find them: the file GOOGLE_APPLICATION_CREDENTIALS names,
    else gcloud's well-known file, else whatever `gcloud auth application-default
    print-access-token` can use (on a Google Cloud VM, the metadata server). Not needed when a key
    file's path is in pulumi-gcp's credential variables (GOOGLE_CREDENTIALS, ...): both sign in
    with that file then (specs/gke_identity.py; ``google_identity`` checks the stack's
    ``gcp:credentials`` too).
    """
    if not machine.which("gcloud"):
        return None  # reported as the missing Google Cloud CLI
    from_environment = kubeconfig_auth(lambda _key: None, machine.env)
    if isinstance(from_environment, KubeconfigAuth) and from_environment.env:
        return None
    named = machine.env.get("GOOGLE_APPLICATION_CREDENTIALS", "").strip()
    if named:
        if os.access(named, os.R_OK):
            return None
        return Missing(
            "Google credentials",
            f"GOOGLE_APPLICATION_CREDENTIALS names {named!r}, which cannot be read; point it at "
            "a credentials file, or unset it and run `gcloud auth application-default login`",
        )
    config_dir = machine.env.get("CLOUDSDK_CONFIG") or str(
        Path(machine.env.get("HOME", "~")) / ".config" / "gcloud"
    )
    if (Path(config_dir) / "application_default_credentials.json").is_file():
        return None
    if machine.succeeds("gcloud", "auth", "application-default", "print-access-token"):
        return None
    return Missing(
        "Google credentials",
        "no application default credentials (pulumi-gcp and the cluster's kubeconfig use "
        "them); run `gcloud auth application-default login`",
    )


def google_identity(machine: Machine) -> Missing | None:
    """The cluster's kubeconfig can sign in as pulumi-gcp does, or ``pulumi up`` would stop.

    The same mapping the program makes (specs/gke_identity.py), from the stack's ``gcp:``
    keys and the environment: a fixed access token or key material given inline is refused there
    before anything is created; here it is named before the Pulumi CLI even starts.
    """
    config = machine.config()
    from synth.stack_config import SECRET as ENCRYPTED  # imported by machine.config() already

    if ENCRYPTED in (config.get(key) for key, _ in (ACCESS_TOKEN, CREDENTIALS, IMPERSONATE)):
        return None  # only the program sees the decrypted value, and checks it there
    auth = kubeconfig_auth(lambda key: config.get(key), machine.env)
    if isinstance(auth, IdentityProblem):
        return Missing("Google identity", auth.line())
    return None


def gke_auth_plugin(machine: Machine) -> Missing | None:
    return _on_path(
        machine,
        "gke-gcloud-auth-plugin",
        "gke-gcloud-auth-plugin",
        "not on PATH; Pulumi and kubectl reach the GKE cluster through it: "
        "gcloud components install gke-gcloud-auth-plugin",
    )


def azure_login(machine: Machine) -> Missing | None:
    if not machine.which("az"):
        return Missing(
            "Azure CLI",
            "`az` is not on PATH; install it "
            "(https://learn.microsoft.com/cli/azure/install-azure-cli), then run `az login`",
        )
    if machine.succeeds("az", "account", "show", "--output", "none"):
        return None
    return Missing(
        "Azure CLI",
        "not logged in (`az account show` failed); run `az login`, then "
        "`az account set --subscription <subscription-id>`",
    )


# How azure-native (and the program's registration step) signs in without the Azure CLI: an
# identity named in ARM_* variables with a secret, a certificate, OIDC or a managed identity
# (pulumi-azure-native's documented ARM_* environment; dynamic/provider_registration.py).
_ARM_IDENTITY = ("ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID")
_ARM_PROOF = ("ARM_CLIENT_SECRET", "ARM_CLIENT_CERTIFICATE_PATH")
_ARM_FLAGS = ("ARM_USE_OIDC", "ARM_USE_MSI")


def azure_sign_in(machine: Machine) -> Missing | None:
    """What `pulumi up`, `preview` and `destroy` need of Azure: the ARM_* sign-in azure-native
    reads (a CI principal, OIDC), or else the Azure CLI logged in."""
    env = machine.env
    identity = all(env.get(name) for name in _ARM_IDENTITY)
    proof = any(env.get(name) for name in _ARM_PROOF) or any(
        env.get(name, "").lower() == "true" for name in _ARM_FLAGS
    )
    if identity and proof:
        return None
    found = azure_login(machine)
    if found is None:
        return None
    return Missing(
        found.what,
        found.fix
        + "; or, without the CLI, set "
        + ", ".join(_ARM_IDENTITY)
        + " and one of "
        + ", ".join(_ARM_PROOF)
        + " or "
        + "=true, ".join(_ARM_FLAGS)
        + "=true",
    )


def docker_buildx(machine: Machine) -> list[Missing]:
    """Docker builds and pushes our app, unless ``appImage`` names an image to run as it is.

    With ``docker`` on PATH, buildx and the daemon are asked about separately, so both gaps are
    named in one run.
    """
    if machine.config().get("gke-aci:appImage"):
        return []
    why = "`make up` builds the app in app/ because appImage is unset"
    if not machine.which("docker"):
        return [
            Missing(
                "Docker",
                f"`docker` is not on PATH; {why}: install Docker with buildx "
                "(https://docs.docker.com/engine/install/); or, to deploy without Docker, set "
                "appImage to an image you have built and pushed yourself that reads DB and PORT "
                "(docs/app.md)",
            )
        ]
    gaps: list[Missing] = []
    if not machine.succeeds("docker", "buildx", "version"):
        gaps.append(
            Missing(
                "Docker buildx",
                f"`docker buildx version` failed; {why}: install the buildx plugin "
                "(https://docs.docker.com/build/concepts/overview/#install-buildx)",
            )
        )
    if not machine.succeeds("docker", "info"):
        gaps.append(
            Missing(
                "Docker daemon",
                f"not reachable (`docker info` failed); {why}: start Docker, or check that your "
                "user may use it",
            )
        )
    return gaps


# What each target needs, in the order its messages are printed. `outputs` only reads the
# state; `destroy` deletes through both clouds' APIs and the cluster's; `verify` reads the
# outputs (the kubeconfig is a secret), talks to the cluster and reads the container groups in
# Azure (`python -m verify --skip azure` runs without Azure). Previews never build the app.
NEEDS: Mapping[str, tuple[Check, ...]] = {
    "up": (
        pulumi_cli,
        state_passphrase,
        stack_files,
        gcp_project,
        gcloud,
        google_credentials,
        google_identity,
        gke_auth_plugin,
        azure_sign_in,
        docker_buildx,
    ),
    "preview": (
        pulumi_cli,
        state_passphrase,
        stack_files,
        gcp_project,
        gcloud,
        google_credentials,
        google_identity,
        gke_auth_plugin,
        azure_sign_in,
    ),
    "outputs": (pulumi_cli, state_passphrase),
    "destroy": (
        pulumi_cli,
        state_passphrase,
        gcloud,
        google_credentials,
        gke_auth_plugin,
        azure_sign_in,
    ),
    "verify": (
        pulumi_cli,
        state_passphrase,
        gcloud,
        google_credentials,
        gke_auth_plugin,
        azure_login,
    ),
}


def missing(target: str, machine: Machine) -> list[Missing]:
    """Everything ``target`` needs that ``machine`` lacks, all at once."""
    gaps: list[Missing] = []
    for check in NEEDS[target]:
        found = check(machine)
        gaps.extend(found if isinstance(found, list) else [] if found is None else [found])
    return gaps
