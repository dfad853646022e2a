"""verify against a loopback Kubernetes API: the node, its guard, the connector, the app's pods,
and what else runs on the virtual node; each failure exits 1 and names the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from verify_world import (
    BURST_PODS,
    GKE_NODES,
    VK,
    World,
    burst,
    daemon_set,
    event,
    pod,
    run,
    single_pod,
)


def test_a_healthy_single_pod_stack_passes_every_check(tmp_path: Path) -> None:
    world = single_pod()
    with world.running(tmp_path) as running:
        outcome = running.verify()
        kube_requests = list(running.kube.requests)
    assert outcome.code == 0, outcome.stdout
    assert outcome.marks() == {
        "virtual node": "✓",
        "node guard": "✓",
        "node deletions": "✓",
        "connector": "✓",
        "app": "✓",
        "kubectl logs": "✓",
        "ACI container groups": "✓",
        "app answers": "✓",
        "database round trip": "✓",
        "both sides answer": "-",
        "replicas answer only the entry point": "-",
        "nothing else on the virtual node": "✓",
    }
    assert outcome.stdout.splitlines()[-1] == "verify: all 10 checks passed (2 not run)"
    assert "seen web Running on aci-connector with IP 20.30.40.50" in outcome.line("app")
    assert "read the last line of web's log through aci-connector's kubelet API" in (
        outcome.line("kubectl logs")
    )
    [log_read] = [r for r in kube_requests if r.path.endswith("/log")]
    assert log_read.path == "/api/v1/namespaces/todo/pods/web/log"
    assert log_read.query == {"tailLines": ["1"]}
    # Reads only, each with the token the kubeconfig's plugin handed over.
    assert {r.method for r in kube_requests} == {"GET"}
    assert {r.authorization for r in kube_requests} == {"Bearer kube-token-from-the-plugin"}
    on_node = [r for r in kube_requests if r.path == "/api/v1/pods"]
    assert on_node[0].query == {"fieldSelector": [f"spec.nodeName={VK}"]}
    # The one todo it made is gone again.
    assert world.todos() == []


def test_a_stack_from_before_the_contract_outputs_is_checked_as_the_single_pod(
    tmp_path: Path,
) -> None:
    world = single_pod()
    for key in ("appNamespace", "appWorkload", "connectorNamespace", "connectorDeployment"):
        del world.outputs[key]
    outcome = run(world, tmp_path)
    assert outcome.code == 0, outcome.stdout
    assert "✓ app: expected pod web Running on aci-connector" in outcome.stdout


def test_a_not_ready_virtual_node_fails_with_the_reason(tmp_path: Path) -> None:
    world = single_pod()
    world.cluster.node(VK)["status"]["conditions"] = [
        {
            "type": "Ready",
            "status": "Unknown",
            "reason": "NodeStatusUnknown",
            "message": "Kubelet stopped posting node status.",
        }
    ]
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("virtual node")
    assert line.startswith("✗ virtual node:")
    assert "Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)" in line
    assert "kubectl -n aci-connector logs deploy/aci-connector" in line
    assert outcome.stdout.splitlines()[-1] == "verify: 1 of 10 checks failed (2 not run)"


def test_missing_labels_a_wrong_label_and_taints_are_each_named(tmp_path: Path) -> None:
    world = single_pod()
    vk = world.cluster.node(VK)
    del vk["metadata"]["labels"]["type"]
    vk["metadata"]["labels"]["kubernetes.io/os"] = "windows"
    vk["spec"]["taints"] = [
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
    ]
    line = run(world, tmp_path).line("virtual node")
    assert line.startswith("✗")
    assert "label type=virtual-kubelet missing" in line
    assert "label kubernetes.io/os=windows (expected linux)" in line
    assert "taint virtual-kubelet.io/provider=azure:NoSchedule missing" in line
    assert "unexpected taint node.kubernetes.io/unreachable:NoExecute" in line


def test_an_unregistered_virtual_node_fails_and_its_guard_is_not_checked(tmp_path: Path) -> None:
    world = single_pod()
    world.cluster.nodes = [n for n in world.cluster.nodes if n["metadata"]["name"] != VK]
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    assert "seen no node aci-connector" in outcome.line("virtual node")
    assert outcome.line("node guard").startswith("- node guard:")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda n: n["spec"].pop("providerID"), "seen no providerID"),
        (
            lambda n: n["spec"].update(providerID="gce://proj/us-west1-a/aci-connector"),
            "seen providerID 'gce://proj/us-west1-a/aci-connector'",
        ),
        (
            lambda n: n["metadata"]["labels"].pop("components.gke.io/gke-unmanaged-node"),
            "seen no label components.gke.io/gke-unmanaged-node",
        ),
    ],
)
def test_a_node_without_its_guard_fails(tmp_path: Path, change, named: str) -> None:
    world = single_pod()
    change(world.cluster.node(VK))
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("node guard")
    assert line.startswith("✗")
    assert named in line
    assert "GKE deletes the node about 40 s after the connector stops" in line
    assert outcome.line("virtual node").startswith("✓")


def test_a_deleting_node_event_for_the_virtual_node_fails(tmp_path: Path) -> None:
    world = single_pod()
    world.cluster.events.append(
        event(
            "DeletingNode",
            VK,
            "Deleting node aci-connector because it does not exist in the cloud provider",
            "2026-11-30T08:30:00Z",
            count=2,
        )
    )
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("node deletions")
    assert "seen DeletingNode 2 times, last at 2026-11-30T08:30:00+00:00" in line
    assert "because it does not exist in the cloud provider" in line
    assert "GKE deleted the virtual node" in line


def test_an_unavailable_connector_fails(tmp_path: Path) -> None:
    world = single_pod()
    connector = world.cluster.deployments[0]
    connector["status"]["availableReplicas"] = 0
    connector["status"]["conditions"][0].update(
        status="False",
        reason="MinimumReplicasUnavailable",
        message="Deployment does not have minimum availability.",
    )
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("connector")
    assert "seen 0/1 available (Available=False, MinimumReplicasUnavailable" in line
    assert "kubectl -n aci-connector describe deploy aci-connector" in line


def test_web_not_on_the_virtual_node_fails(tmp_path: Path) -> None:
    world = single_pod()
    web = world.cluster.pod("web")
    web["spec"]["nodeName"] = GKE_NODES[0]
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    assert f"seen web Running on {GKE_NODES[0]} with IP" in outcome.line("app")
    # Not on the virtual node, so there is no container group to compare.
    assert outcome.line("ACI container groups").startswith("- ")


def test_a_pending_web_pod_fails_with_its_reason(tmp_path: Path) -> None:
    world = single_pod()
    world.cluster.pods.remove(world.cluster.pod("web"))
    world.cluster.pods.append(
        pod(
            "web",
            "todo",
            {"app": "todoapp", "name": "web"},
            VK,
            None,
            phase="Pending",
            reason="ProviderFailed",
        )
    )
    line = run(world, tmp_path).line("app")
    assert "seen web Pending (ProviderFailed) on aci-connector with IP (none)" in line


def test_a_pod_ip_other_than_web_ip_fails(tmp_path: Path) -> None:
    world = single_pod()
    world.cluster.pod("web")["status"]["podIP"] = "20.30.40.99"
    world.azure.groups["todo-web"]["properties"]["ipAddress"]["ip"] = "20.30.40.99"
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("app")
    assert "IP 20.30.40.99, but webIp is 20.30.40.50" in line
    assert "run `make up` to refresh webIp and webUrl" in line
    assert outcome.line("ACI container groups").startswith("✓")


def test_burst_counts_replicas_on_each_side(tmp_path: Path) -> None:
    outcome = run(burst(), tmp_path)
    assert outcome.code == 0, outcome.stdout
    assert "seen 3 Running: 2 on GKE nodes, 1 on ACI (aci-connector)" in outcome.line("app")


def test_burst_with_a_replica_missing_fails_naming_the_pending_one(tmp_path: Path) -> None:
    world = burst()
    pending = world.cluster.pod(BURST_PODS[0][0])
    pending["status"] = {"phase": "Pending", "reason": "Unschedulable"}
    pending["spec"].pop("nodeName")
    line = run(world, tmp_path).line("app")
    assert line.startswith("✗ app: expected Deployment web: 3 replicas Running")
    assert f"seen 2 Running: 1 on GKE nodes, 1 on ACI ({VK}); " in line
    assert f"{pending['metadata']['name']} Pending (Unschedulable)" in line


def test_the_aci_placement_fails_when_a_replica_runs_on_gke(tmp_path: Path) -> None:
    world = burst()
    world.outputs["appWorkload"]["placement"] = "aci"
    line = run(world, tmp_path).line("app")
    assert "but the aci placement runs every replica on the virtual node" in line


def test_a_gke_daemon_set_pod_that_cannot_start_is_a_warning_with_cost_and_rollouts(
    tmp_path: Path,
) -> None:
    world = single_pod()
    world.cluster.daemon_sets[0] = daemon_set(
        "kube-system", "pdcsi-node", gke_managed=True, unavailable=1
    )
    world.cluster.pods.append(
        pod(
            "pdcsi-node-vk",
            "kube-system",
            {"k8s-app": "pdcsi-node"},
            VK,
            None,
            phase="Pending",
            reason="ProviderFailed",
            owner=("DaemonSet", "pdcsi-node"),
        )
    )
    outcome = run(world, tmp_path)
    # Nothing can keep it off and it costs nothing: reported, and the run passes.
    assert outcome.code == 0, outcome.stdout
    line = outcome.line("nothing else on the virtual node")
    assert line.startswith("! nothing else on the virtual node:")
    assert "DaemonSet kube-system/pdcsi-node (pod pdcsi-node-vk Pending (ProviderFailed))" in line
    assert "costs nothing while it cannot start" in line
    assert "counts against maxUnavailable 1 of its rolling updates (numberUnavailable 1)" in line
    assert ". Note: kube-system/pdcsi-node is GKE's: its add-on manager reverts edits" in line
    assert "docs/verify.md#pods-on-the-virtual-node" in line
    assert outcome.stdout.splitlines()[-1] == (
        "verify: all 10 checks passed (1 with a warning, 2 not run)"
    )


def test_a_gke_daemon_set_pod_running_in_aci_is_a_failure(tmp_path: Path) -> None:
    world = single_pod()
    world.cluster.pods.append(
        pod(
            "fluentbit-gke-vk",
            "kube-system",
            {"k8s-app": "fluentbit-gke"},
            VK,
            "20.9.9.9",
            owner=("DaemonSet", "fluentbit-gke"),
        )
    )
    world.cluster.daemon_sets.append(
        daemon_set("kube-system", "fluentbit-gke", gke_managed=True, unavailable=0)
    )
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("nothing else on the virtual node")
    assert line.startswith("✗")
    assert "DaemonSet kube-system/fluentbit-gke (pod fluentbit-gke-vk Running)" in line
    assert "runs in ACI, billed while it runs" in line


def test_a_running_stray_pod_and_a_users_daemon_set_get_their_fix(tmp_path: Path) -> None:
    world = burst()
    world.cluster.daemon_sets.append(
        daemon_set("monitoring", "node-exporter", gke_managed=False, unavailable=0)
    )
    world.cluster.pods += [
        pod(
            "node-exporter-vk",
            "monitoring",
            {"k8s-app": "node-exporter"},
            VK,
            "20.1.1.1",
            owner=("DaemonSet", "node-exporter"),
        ),
        pod("batch-1", "default", {"job": "x"}, VK, "20.1.1.2", owner=("Job", "batch")),
        # The app's entry point has the app's label but not its name: not one of the app's pods.
        pod(
            "web-entry-5f7-x",
            "todo",
            {"app": "todoapp", "name": "web-entry"},
            VK,
            "20.1.1.3",
            owner=("ReplicaSet", "web-entry-5f7"),
        ),
    ]
    outcome = run(world, tmp_path)
    line = outcome.line("nothing else on the virtual node")
    assert "pod default/batch-1 (Job) Running: runs in ACI, billed while it runs" in line
    assert "pod todo/web-entry-5f7-x (ReplicaSet) Running" in line
    assert "DaemonSet monitoring/node-exporter (pod node-exporter-vk Running)" in line
    assert "blocks no rollout while it is ready" in line
    assert "for monitoring/node-exporter, give its pod template a node affinity" in line
    assert "`type NotIn [virtual-kubelet]`" in line
    assert outcome.code == 1


def test_gke_daemon_set_pods_on_gke_nodes_are_not_reported(tmp_path: Path) -> None:
    world: World = single_pod()
    assert any(p["metadata"]["name"].startswith("pdcsi-node") for p in world.cluster.pods)
    outcome = run(world, tmp_path)
    assert outcome.line("nothing else on the virtual node").startswith("✓")


def test_a_log_the_api_server_cannot_read_fails_with_its_x509_reason(tmp_path: Path) -> None:
    world = single_pod()
    refusal = (
        'Get "https://10.4.0.7:10250/containerLogs/todo/web/web?tailLines=1": tls: failed to '
        "verify certificate: x509: certificate signed by unknown authority"
    )
    world.cluster.logs["todo/web"] = (
        500,
        {"kind": "Status", "status": "Failure", "message": refusal, "code": 500},
    )
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("kubectl logs")
    assert line.startswith("✗ kubectl logs:")
    assert f"the API server could not read web's log: {refusal}" in line
    assert "kubectl get csr" in line
    assert outcome.marks()["app"] == "✓"


def test_burst_reads_the_log_of_the_replica_on_the_virtual_node(tmp_path: Path) -> None:
    world = burst()
    with world.running(tmp_path) as running:
        outcome = running.verify()
        kube_requests = list(running.kube.requests)
    assert outcome.marks()["kubectl logs"] == "✓", outcome.stdout
    [log_read] = [r for r in kube_requests if r.path.endswith("/log")]
    on_aci = next(name for name, node, _ in BURST_PODS if node == VK)
    assert log_read.path == f"/api/v1/namespaces/todo/pods/{on_aci}/log"
