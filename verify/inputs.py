"""What verify reads before it checks anything: the stack's outputs and the kubeconfig.

Any problem here is a usage error (exit 2) with one message: no Pulumi CLI, no such stack, a
file that cannot be read, an output that is missing or malformed, a credential plugin that is not
installed. Nothing read here is ever printed: the outputs include the kubeconfig (a secret).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from verify import contract

PROJECT_DIR = Path(__file__).resolve().parent.parent
PULUMI_SECONDS = 60.0
"""How long ``pulumi stack output`` may take (a remote state backend is read over the network)."""


class UsageError(Exception):
    """Missing or unusable input: the message says which and what to do (exit 2)."""


@dataclass(frozen=True)
class Workload:
    """The ``appWorkload`` output: how the app runs (see the shared contract)."""

    kind: str
    name: str
    placement: str
    replicas: int
    selector: dict[str, str]


@dataclass(frozen=True)
class Outputs:
    """The stack outputs verify uses, checked for shape. ``repr`` leaves out the kubeconfig."""

    web_url: str
    web_ip: str
    virtual_node: str
    resource_group: str
    app_namespace: str
    workload: Workload
    connector_namespace: str
    connector_deployment: str
    subscription_id: str | None
    kubeconfig: dict[str, Any] | None = field(repr=False)


def stack_outputs(stack: str | None, outputs_file: Path | None, seconds: float) -> dict[str, Any]:
    """The outputs as ``pulumi stack output --json --show-secrets`` prints them."""
    if outputs_file is not None:
        return _json_object(_read(outputs_file, "--outputs"), f"--outputs file {outputs_file}")
    return _json_object(_pulumi_outputs(stack, seconds), "`pulumi stack output --json`")


def _pulumi_outputs(stack: str | None, seconds: float) -> str:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise UsageError(
            "the Pulumi CLI (pulumi) is not on PATH: install it, or pass the outputs with "
            "--outputs FILE (from `pulumi stack output --json --show-secrets > FILE`)"
        )
    command = [pulumi, "stack", "output", "--json", "--show-secrets", "--non-interactive"]
    if stack:
        command += ["--stack", stack]
    shown = "pulumi stack output" + (f" --stack {stack}" if stack else "")
    result = run_tool(command, seconds, cwd=PROJECT_DIR)
    if result is None:
        raise UsageError(f"`{shown}` did not finish within {seconds:.0f} s")
    if result.returncode != 0:
        raise UsageError(f"`{shown}` failed: {_pulumi_error(result.stderr)}")
    return result.stdout


def run_tool(
    command: list[str], seconds: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str] | None:
    """Run a command-line tool without input, capturing its output; None when it times out."""
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None


def _pulumi_error(stderr: str) -> str:
    """Pulumi's own ``error: ...`` line (the last one), or the last line it printed."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error:")]
    chosen = (errors or lines or ["(no message)"])[-1]
    return chosen.removeprefix("error:").strip()[:300]


def _read(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise UsageError(f"{option} {path} cannot be read: {reason}") from None


def _json_object(text: str, source: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        raise UsageError(f"{source} is not JSON") from None
    if not isinstance(document, dict):
        raise UsageError(f"{source} is not a JSON object of stack outputs")
    return document


def parse_outputs(raw: Mapping[str, Any], *, need_kubeconfig: bool) -> Outputs:
    """The outputs verify needs, or UsageError naming the first one missing or malformed.

    The contract's newer outputs (``appNamespace``, ``appWorkload``, ``connectorNamespace``,
    ``connectorDeployment``) default to the single ``web`` pod of a stack deployed before them.
    """
    workload = raw.get("appWorkload")
    kubeconfig = raw.get("kubeconfig")
    web_url = _text(raw, "webUrl").rstrip("/")
    if not web_url.startswith(("http://", "https://")):
        raise UsageError(f"the output 'webUrl' must be an http:// or https:// URL, not {web_url!r}")
    return Outputs(
        web_url=web_url,
        web_ip=_text(raw, "webIp"),
        virtual_node=_text(raw, "virtualNodeName"),
        resource_group=_text(raw, "resourceGroupName"),
        app_namespace=_text(raw, "appNamespace", contract.DEFAULT_APP_NAMESPACE),
        workload=_workload(workload) if workload is not None else _single_pod(),
        connector_namespace=_text(raw, "connectorNamespace", contract.DEFAULT_CONNECTOR_NAMESPACE),
        connector_deployment=_text(
            raw, "connectorDeployment", contract.DEFAULT_CONNECTOR_DEPLOYMENT
        ),
        subscription_id=_optional_text(raw, "azureSubscriptionId"),
        kubeconfig=_kubeconfig_output(kubeconfig) if need_kubeconfig else None,
    )


def _text(raw: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if value is None:
        raise UsageError(f"the stack has no output {key!r} (has it been deployed?)")
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"the output {key!r} must be a non-empty string, not {value!r}"[:200])
    return value.strip()


def _optional_text(raw: Mapping[str, Any], key: str) -> str | None:
    return _text(raw, key) if raw.get(key) is not None else None


def _single_pod() -> Workload:
    return Workload(
        kind=contract.POD,
        name="web",
        placement=contract.ACI,
        replicas=1,
        selector=dict(contract.DEFAULT_SELECTOR),
    )


def _workload(value: object) -> Workload:
    shape = (
        '{"kind": "Pod"|"Deployment", "name": str, "placement": "aci"|"burst", '
        '"replicas": int >= 1, "selector": {str: str}}'
    )
    if not isinstance(value, dict):
        raise UsageError(f"the output 'appWorkload' must be {shape}")
    kind, name, placement = value.get("kind"), value.get("name"), value.get("placement")
    replicas, selector = value.get("replicas"), value.get("selector")
    if isinstance(replicas, float) and replicas.is_integer():
        replicas = int(replicas)
    if (
        kind not in (contract.POD, contract.DEPLOYMENT)
        or not isinstance(name, str)
        or not name
        or placement not in (contract.ACI, contract.BURST)
        or not isinstance(replicas, int)
        or isinstance(replicas, bool)
        or replicas < 1
        or not isinstance(selector, dict)
        or not selector
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in selector.items())
    ):
        raise UsageError(f"the output 'appWorkload' must be {shape}, not {value!r}"[:400])
    return Workload(
        kind=str(kind),
        name=name,
        placement=str(placement),
        replicas=replicas,
        selector={str(k): str(v) for k, v in selector.items()},
    )


def _kubeconfig_output(value: object) -> dict[str, Any]:
    if value is None:
        raise UsageError(
            "the stack has no output 'kubeconfig' (has it been deployed?); or pass --kubeconfig"
        )
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise UsageError("the output 'kubeconfig' is not a kubeconfig")
    return _kubeconfig_document(value, "the output 'kubeconfig'")


def kubeconfig_file(path: Path) -> dict[str, Any]:
    """A kubeconfig file (YAML or JSON) as a mapping, checked as ``_kubeconfig_document`` does."""
    return _kubeconfig_document(_read(path, "--kubeconfig"), f"--kubeconfig {path}")


def _kubeconfig_document(text: str, source: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        raise UsageError(f"{source} is not a kubeconfig (neither YAML nor JSON)") from None
    if not isinstance(document, dict) or not document.get("clusters"):
        raise UsageError(f"{source} is not a kubeconfig (it names no cluster)")
    return document


def require_credential_plugin(kubeconfig: Mapping[str, Any], source: str) -> None:
    """UsageError when the current context's user runs a plugin that is not installed.

    The Kubernetes client would only log the failure and then send requests without
    credentials; the install hint the kubeconfig carries is the better message.
    """
    context_name = kubeconfig.get("current-context")
    contexts = {c.get("name"): c.get("context") or {} for c in _entries(kubeconfig, "contexts")}
    users = {u.get("name"): u.get("user") or {} for u in _entries(kubeconfig, "users")}
    user = users.get(contexts.get(context_name, {}).get("user"), {})
    plugin = user.get("exec") if isinstance(user, dict) else None
    if not isinstance(plugin, dict) or not isinstance(plugin.get("command"), str):
        return
    command = plugin["command"]
    if shutil.which(command) is None:
        hint = plugin.get("installHint")
        raise UsageError(
            f"{source} gets its credentials from {command}, which is not on PATH"
            + (f": {' '.join(str(hint).split())}" if hint else "")
        )


def _entries(kubeconfig: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    entries = kubeconfig.get(key)
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
