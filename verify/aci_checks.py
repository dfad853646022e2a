"""Azure: every app pod on the virtual node has its container group, Running, with its IP.

The connector names a pod's container group ``<namespace>-<pod>`` in the stack's resource group,
and reports the group's public IP as the pod's IP; this is the tutorial's
``az container show -g <group> -n <name> --query ipAddress.ip``.
"""

from __future__ import annotations

from verify import contract
from verify.context import Check, Context, Skip, Verdict, app_pods, ip_of, name_of, node_of

RUNNING = "Running"
SUCCEEDED = "Succeeded"
MAX_LISTED = 3


def container_groups(ctx: Context) -> Verdict:
    groups = ctx.container_groups
    if groups is None:
        raise Skip("not run (--skip azure)")
    outputs = ctx.outputs
    on_aci = [p for p in app_pods(ctx) if node_of(p) == outputs.virtual_node]
    if not on_aci:
        raise Skip(f"not run: no app pod on {outputs.virtual_node} (see app)")
    problems: list[str] = []
    fine: list[str] = []
    for pod in on_aci:
        name = contract.container_group_name(outputs.app_namespace, name_of(pod))
        group = groups.get(name)
        if group is None:
            problems.append(f"{name} missing")
            continue
        wrong = []
        if group.state != RUNNING:
            wrong.append(f"state {group.state or '(none)'}")
        if group.provisioning_state != SUCCEEDED:
            wrong.append(f"provisioning {group.provisioning_state or '(none)'}")
        if group.ip != ip_of(pod):
            wrong.append(f"IP {group.ip or '(none)'} but the pod's is {ip_of(pod) or '(none)'}")
        if wrong:
            problems.append(f"{name}: " + ", ".join(wrong))
        else:
            fine.append(f"{name} Running at {group.ip}")
    if problems:
        return Verdict(
            False,
            "; ".join(problems + fine),
            f"`az container show -g {groups.resource_group} -n <name>` and "
            f"`az container logs -g {groups.resource_group} -n <name>`; a missing group with a "
            "pod still bound means the connector lost track of it (its logs say why)",
        )
    if len(fine) > MAX_LISTED:
        return Verdict(True, f"{len(fine)} container groups Running, each at its pod's IP")
    return Verdict(True, "; ".join(fine))


CHECKS = [
    Check(
        "aci",
        "ACI container groups",
        lambda o: (
            f"each ACI pod's container group {o.app_namespace}-<pod> in "
            f"{o.resource_group}, Running, with the pod's IP"
        ),
        container_groups,
    ),
]
