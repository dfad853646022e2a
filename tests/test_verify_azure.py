"""verify against a loopback Azure Resource Manager, signed in by the real DefaultAzureCredential
through a fake `az`: container groups missing, not running, at another IP; reads only."""

from __future__ import annotations

from pathlib import Path

import pytest
from verify_servers import container_group
from verify_world import BURST_PODS, SUBSCRIPTION, burst, run, single_pod


def test_the_container_group_is_read_with_the_cli_token_and_nothing_else(tmp_path: Path) -> None:
    world = single_pod()
    with world.running(tmp_path) as running:
        outcome = running.verify()
        requests = list(running.arm.requests)
    assert outcome.code == 0, outcome.stdout
    assert "seen todo-web Running at 20.30.40.50" in outcome.line("ACI container groups")
    assert [(r.method, r.path) for r in requests] == [
        (
            "GET",
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/gke-aci-rg1234/providers/"
            "Microsoft.ContainerInstance/containerGroups/todo-web",
        )
    ]
    assert requests[0].authorization == "Bearer azure-token-from-az"


def test_burst_checks_the_container_group_of_each_aci_replica(tmp_path: Path) -> None:
    name, _, ip = BURST_PODS[2]
    line = run(burst(), tmp_path).line("ACI container groups")
    assert line.startswith("✓")
    assert f"seen todo-{name} Running at {ip}" in line


@pytest.mark.parametrize(
    ("group", "named"),
    [
        (None, "seen todo-web missing"),
        (container_group("todo-web", "20.30.40.50", state="Waiting"), "todo-web: state Waiting"),
        (
            container_group("todo-web", "52.0.0.9"),
            "todo-web: IP 52.0.0.9 but the pod's is 20.30.40.50",
        ),
    ],
)
def test_a_container_group_missing_not_running_or_elsewhere_fails(
    tmp_path: Path, group: dict | None, named: str
) -> None:
    world = single_pod()
    if group is None:
        del world.azure.groups["todo-web"]
    else:
        world.azure.groups["todo-web"] = group
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("ACI container groups")
    assert line.startswith("✗")
    assert named in line
    assert "az container show -g gke-aci-rg1234 -n <name>" in line


def test_a_failed_provisioning_is_named(tmp_path: Path) -> None:
    world = single_pod()
    world.azure.groups["todo-web"]["properties"]["provisioningState"] = "Failed"
    assert "todo-web: provisioning Failed" in run(world, tmp_path).line("ACI container groups")


def test_an_unregistered_provider_is_reported_and_never_registered(tmp_path: Path) -> None:
    world = single_pod()
    world.azure.unregistered = True
    with world.running(tmp_path) as running:
        outcome = running.verify()
        requests = list(running.arm.requests)
    assert outcome.code == 1
    line = outcome.line("ACI container groups")
    assert "Azure answered HTTP 409 to a read of container group todo-web" in line
    # The SDK's default pipeline would POST .../providers/Microsoft.ContainerInstance/register.
    assert {r.method for r in requests} == {"GET"}
    assert len(requests) == 1


def test_skip_azure_leaves_the_azure_checks_out(tmp_path: Path) -> None:
    world = single_pod()
    with world.running(tmp_path) as running:
        running.install_tools(az=False)
        outcome = running.verify("--skip", "azure")
        assert running.arm.requests == []
    assert outcome.code == 0, outcome.stdout
    assert outcome.line("ACI container groups") == (
        "- ACI container groups: expected each ACI pod's container group todo-<pod> in "
        "gke-aci-rg1234, Running, with the pod's IP; seen not run (--skip azure)"
    )


def test_no_azure_credentials_is_a_usage_error(tmp_path: Path) -> None:
    with single_pod().running(tmp_path) as running:
        running.install_tools(az=False)
        outcome = running.verify("--subscription", SUBSCRIPTION)
    assert outcome.code == 2
    assert outcome.stdout == ""
    assert outcome.stderr.startswith(
        "verify: no usable Azure credentials (AzureCliCredential: Azure CLI not found on path): "
        "run `az login`"
    )
    assert "or pass --skip azure" in outcome.stderr
    assert len(outcome.stderr.strip().splitlines()) == 1


def test_no_subscription_anywhere_is_a_usage_error(tmp_path: Path) -> None:
    with single_pod().running(tmp_path) as running:
        running.install_tools(az=False)
        outcome = running.verify()
    assert outcome.code == 2
    assert outcome.stderr.startswith("verify: no Azure subscription: pass --subscription ID")


def test_the_subscription_from_the_environment_wins_over_the_cli(tmp_path: Path) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    world = single_pod()
    with world.running(tmp_path) as running:
        outcome = running.verify(env={"AZURE_SUBSCRIPTION_ID": other})
        paths = [r.path for r in running.arm.requests]
    assert paths
    assert all(p.startswith(f"/subscriptions/{other}/") for p in paths)
    # The stack's groups are not in that subscription.
    assert "seen todo-web missing" in outcome.line("ACI container groups")
