"""The app's pods in every mode, and the check that ACI will take them.

One builder makes the pod spec the program sends, in every mode of ``appPlacement`` and
``appReplicas``:

- one replica in ``aci``: the seed's ``web`` Pod, pinned to the virtual node;
- more replicas in ``aci``: a Deployment whose pods are all pinned to the virtual node;
- ``burst``: a Deployment whose pods fill the GKE nodes first and overflow to ACI.

Behind the entry point (every mode but the single pod), our own app serves mutual TLS on its
port and liveness in plain HTTP on ``PROBE_PORT``, which it does not declare, so ACI does not
publish it (``mutual_tls``; docs/decisions/0022-mutual-tls-to-replicas.md).

Before any resource is registered, specs/aci_check.py renders the same spec with
placeholders for the values other resources compute and holds it to the ACI rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from core.aci_rules import DNS_LABEL_ANNOTATION, VIRTUAL_NODE_LABEL, VIRTUAL_NODE_TAINT
from core.aci_rules.values import KNOWN_AFTER_DEPLOY
from core.app_contract import (
    PORT_VARIABLE,
    PROBE_PORT,
    PROBE_PORT_VARIABLE,
    TLS_DIR_VARIABLE,
    WEB,
    WEB_LABELS,
    AppContract,
)
from settings import AppPlacement, AppSettings
from specs.pod_security import container_security, pod_security
from specs.scan_skips import checkov_skips

HTTP_PORT_NAME = "http"
# Set by the downward API; the app names them in its X-Served-By header and footer.
POD_NAME_VARIABLE = "POD_NAME"
NODE_NAME_VARIABLE = "NODE_NAME"
_HOSTNAME = "kubernetes.io/hostname"
# Where a replica reads its certificate, key and the CA (a kubernetes.io/tls Secret plus ca.crt;
# ACI mounts every key of a secret volume, items or not: ACI rule V4).
TLS_DIR = "/run/secrets/todo-tls"
_ZONE = "topology.kubernetes.io/zone"

# The taints the node lifecycle controller puts on a node that stops reporting. Without a
# toleration of its own, a pod gets them for 300 s (DefaultTolerationSeconds) and is then
# evicted: a connector restart or a node-pool upgrade of the connector's host longer than that
# would delete the app's ACI container groups (docs/operations.md).
NODE_DOWN_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
# In burst mode a replica on a GKE node that really died should be replaced, so the toleration
# is bounded: 10 minutes covers a connector restart (Recreate: a new pod pulls and starts in
# well under that) and a surge upgrade of its node, while a replica on a lost GKE node is
# replaced within 10 minutes; the entry point stops sending it traffic at its first failed
# health checks anyway.
BURST_NODE_DOWN_SECONDS = 600

# How long `pulumi up` waits for the app's pods to run (ACI container groups and image pulls)
# and for the entry point's address, and then for our app to answer its readiness check.
READY_TIMEOUT = "10m"
READY_TIMEOUT_SECONDS = 600

# Nodes other than virtual ones: the GKE nodes.
AWAY_FROM_VIRTUAL_NODES: k8s.core.v1.NodeSelectorRequirementArgsDict = {
    "key": VIRTUAL_NODE_LABEL[0],
    "operator": "NotIn",
    "values": [VIRTUAL_NODE_LABEL[1]],
}

# How the checks of the pod's container read: a failure counts after 8 s (the app's database
# timeouts are 5 s).
_READINESS = {"delay": 5, "every": 10, "timeout": 8}
_LIVENESS = {"delay": 10, "every": 20, "timeout": 5}


@dataclass(frozen=True)
class WebPodInputs:
    """Values of the pod spec that other resources compute."""

    image: pulumi.Input[str]
    virtual_node_name: pulumi.Input[str]
    # The Secret holding the database's connection string (the contract's variable).
    database_secret: pulumi.Input[str]
    # The image pull Secret, when the image is in the stack's private registry.
    pull_secret: pulumi.Input[str] | None = None
    # The Secret with the replicas' certificate, key and CA: required when ``mutual_tls``.
    tls_secret: pulumi.Input[str] | None = None


def placeholder_inputs(virtual_node_name: str, *, private_registry: bool) -> WebPodInputs:
    """Inputs with every computed value shown as not known yet, for the check before deploy."""
    return WebPodInputs(
        image=KNOWN_AFTER_DEPLOY,
        virtual_node_name=virtual_node_name,
        database_secret=KNOWN_AFTER_DEPLOY,
        pull_secret=KNOWN_AFTER_DEPLOY if private_registry else None,
        tls_secret=KNOWN_AFTER_DEPLOY,
    )


def mutual_tls(app: AppSettings, contract: AppContract) -> bool:
    """Whether the replicas serve mutual TLS to the entry point: behind it, and our own app.

    The single pod is the seed's, opened in a browser at its own IP: plain HTTP, as the seed
    has it. An ``appImage`` serves what it serves; the stack cannot make it speak TLS.
    """
    return contract.serves_mutual_tls and not app.single_pod


def web_pod_spec(
    app: AppSettings, contract: AppContract, inputs: WebPodInputs
) -> k8s.core.v1.PodSpecArgsDict:
    """The spec of every app pod: the single pod's, or the Deployment's template."""
    if mutual_tls(app, contract) and inputs.tls_secret is None:
        raise ValueError("the replicas serve mutual TLS: their Secret is required")
    spec: k8s.core.v1.PodSpecArgsDict = {
        "tolerations": _tolerations(app),
        # ACI pods never call the Kubernetes API, and the connector cannot project
        # service-account tokens on current clusters (ACI rule V6).
        "automount_service_account_token": False,
        # Cluster services are unreachable from ACI; their variables would only mislead (C11).
        "enable_service_links": False,
        # Enforced on GKE nodes; for an appImage its user is not known, so none is forced.
        "security_context": pod_security(contract.run_as_user),
        "containers": [_web_container(app, contract, inputs)],
        "volumes": _volumes(app, contract, inputs),
    }
    if app.placement is AppPlacement.ACI:
        # Only the stack's own virtual node.
        spec["node_selector"] = {
            VIRTUAL_NODE_LABEL[0]: VIRTUAL_NODE_LABEL[1],
            _HOSTNAME: inputs.virtual_node_name,
        }
    else:
        spec["affinity"] = _burst_affinity(inputs)
        spec["topology_spread_constraints"] = _burst_spread()
    if inputs.pull_secret is not None:
        # Read by the connector for ACI and by containerd on GKE nodes alike.
        pull: k8s.core.v1.LocalObjectReferenceArgsDict = {"name": inputs.pull_secret}
        spec["image_pull_secrets"] = [pull]
    return spec


def web_deployment_spec(
    app: AppSettings, contract: AppContract, inputs: WebPodInputs
) -> k8s.apps.v1.DeploymentSpecArgsDict:
    return {
        "replicas": app.replicas,
        "selector": {"match_labels": WEB_LABELS},
        # A new replica is up before an old one goes. In ACI that needs room for one more
        # container group (aciQuotaPods) while a rollout runs.
        "strategy": {
            "type": "RollingUpdate",
            "rolling_update": {"max_surge": 1, "max_unavailable": 0},
        },
        "revision_history_limit": 3,
        "template": {
            "metadata": {"labels": WEB_LABELS},
            "spec": web_pod_spec(app, contract, inputs),
        },
    }


def web_pod_annotations(app: AppSettings) -> dict[str, str]:
    """The single pod's annotations: its ACI DNS label, when one is set."""
    return {DNS_LABEL_ANNOTATION: app.dns_label} if app.dns_label else {}


def _burst_affinity(inputs: WebPodInputs) -> k8s.core.v1.AffinityArgsDict:
    """GKE nodes preferred; the stack's own virtual node allowed, and no other virtual node.

    A preferred term scores the matching nodes 100 x NodeAffinity's weight of 2, whatever its
    own weight (kube-scheduler's NodeAffinity plugin normalizes), which alone does not beat the
    virtual node's fit score: see ``_burst_spread``.
    """
    return {
        "node_affinity": {
            "required_during_scheduling_ignored_during_execution": {
                "node_selector_terms": [
                    {"match_expressions": [AWAY_FROM_VIRTUAL_NODES]},
                    {
                        "match_expressions": [
                            {
                                "key": _HOSTNAME,
                                "operator": "In",
                                "values": [inputs.virtual_node_name],
                            }
                        ]
                    },
                ]
            },
            "preferred_during_scheduling_ignored_during_execution": [
                {"weight": 100, "preference": {"match_expressions": [AWAY_FROM_VIRTUAL_NODES]}}
            ],
        }
    }


def _burst_spread() -> list[k8s.core.v1.TopologySpreadConstraintArgsDict]:
    """Explicit spreading over zones and nodes, both ScheduleAnyway, so GKE fills first.

    The virtual node advertises huge capacity (ACI_QUOTA_*), so LeastAllocated scoring favours
    it; and without explicit constraints the scheduler's default spreading counts the zone-less
    virtual node as the emptiest domain. With explicit constraints, a node lacking one of their
    keys is ignored by PodTopologySpread scoring and scores 0 there (kube-scheduler
    ``podtopologyspread/scoring.go`` PreScore, ``requireAllTopologies``), so a GKE node with room
    outscores the virtual node. ``DoNotSchedule`` on the zone key would filter the virtual node
    out altogether, so both constraints only score.
    """
    return [
        {
            "max_skew": 1,
            "topology_key": key,
            "when_unsatisfiable": "ScheduleAnyway",
            "label_selector": {"match_labels": WEB_LABELS},
        }
        for key in (_ZONE, _HOSTNAME)
    ]


def _tolerations(app: AppSettings) -> list[k8s.core.v1.TolerationArgsDict]:
    tolerations: list[k8s.core.v1.TolerationArgsDict] = [
        {"key": VIRTUAL_NODE_TAINT.key, "operator": "Exists", "effect": VIRTUAL_NODE_TAINT.effect}
    ]
    for key in NODE_DOWN_TAINTS:
        toleration: k8s.core.v1.TolerationArgsDict = {
            "key": key,
            "operator": "Exists",
            "effect": "NoExecute",
        }
        if app.placement is AppPlacement.BURST:
            toleration["toleration_seconds"] = BURST_NODE_DOWN_SECONDS
        tolerations.append(toleration)
    return tolerations


def _web_container(
    app: AppSettings, contract: AppContract, inputs: WebPodInputs
) -> k8s.core.v1.ContainerArgsDict:
    size = {"cpu": app.cpu, "memory": app.memory}
    env: list[k8s.core.v1.EnvVarArgsDict] = [
        _database_variable(contract, inputs),
        {"name": PORT_VARIABLE, "value": str(app.port)},
        {"name": POD_NAME_VARIABLE, "value_from": {"field_ref": {"field_path": "metadata.name"}}},
        {"name": NODE_NAME_VARIABLE, "value_from": {"field_ref": {"field_path": "spec.nodeName"}}},
    ]
    mounts = _volume_mounts(contract)
    readiness = (contract.readiness_path, app.port)
    liveness = (contract.liveness_path, app.port)
    if mutual_tls(app, contract):
        env.append({"name": TLS_DIR_VARIABLE, "value": TLS_DIR})
        env.append({"name": PROBE_PORT_VARIABLE, "value": str(PROBE_PORT)})
        mounts.append({"name": "tls", "mount_path": TLS_DIR, "read_only": True})
        # Neither the kubelet nor ACI presents a client certificate: both probes ask the plain
        # port, which answers liveness only. A port number need not be declared (azure-aci
        # v1.6.4 aci.go getProbe), and an undeclared one is not published (ACI rule C6).
        # Readiness then means "serving"; the entry point's checks ask /healthz over TLS.
        readiness = liveness = (contract.liveness_path, PROBE_PORT)
    container: k8s.core.v1.ContainerArgsDict = {
        "name": WEB,
        "image": inputs.image,
        "env": env,
        # ACI gives a container group a public IP only for declared ports, and has no port
        # mapping: the app's port is the public port.
        "ports": [{"name": HTTP_PORT_NAME, "container_port": app.port, "protocol": "TCP"}],
        # Limits equal to requests: ACI sizes the group from the requests and refuses a limit
        # above them (ACI rule R5); on GKE the replica is then Guaranteed.
        "resources": {"requests": size, "limits": size},
        # Read-only only for our app, whose writable paths are known (/tmp).
        "security_context": container_security(read_only_root=contract.run_as_user is not None),
        "volume_mounts": mounts,
    }
    if readiness[0]:
        container["readiness_probe"] = _http_probe(readiness[0], readiness[1], _READINESS)
    if liveness[0]:
        container["liveness_probe"] = _http_probe(liveness[0], liveness[1], _LIVENESS)
    return container


def _database_variable(contract: AppContract, inputs: WebPodInputs) -> k8s.core.v1.EnvVarArgsDict:
    """The file's path when the app reads a mounted file; else the Secret's value itself."""
    if contract.database_file:
        return {"name": contract.database_file_variable, "value": contract.database_file}
    return {
        "name": contract.database_variable,
        "value_from": {
            "secret_key_ref": {"name": inputs.database_secret, "key": contract.database_variable}
        },
    }


def _volumes(
    app: AppSettings, contract: AppContract, inputs: WebPodInputs
) -> list[k8s.core.v1.VolumeArgsDict]:
    volumes: list[k8s.core.v1.VolumeArgsDict] = []
    if contract.database_file:
        volumes.append({"name": "database", "secret": {"secret_name": inputs.database_secret}})
    if mutual_tls(app, contract) and inputs.tls_secret is not None:
        volumes.append({"name": "tls", "secret": {"secret_name": inputs.tls_secret}})
    if contract.run_as_user is not None:
        # The root file system is read-only; gunicorn keeps its worker heartbeat files in /tmp.
        volumes.append({"name": "tmp", "empty_dir": {}})
    return volumes


def _volume_mounts(contract: AppContract) -> list[k8s.core.v1.VolumeMountArgsDict]:
    mounts: list[k8s.core.v1.VolumeMountArgsDict] = []
    if contract.database_file:
        folder = contract.database_file.rsplit("/", 1)[0]
        mounts.append({"name": "database", "mount_path": folder, "read_only": True})
    if contract.run_as_user is not None:
        mounts.append({"name": "tmp", "mount_path": "/tmp"})
    return mounts


def _http_probe(path: str, port: int, timing: Mapping[str, int]) -> k8s.core.v1.ProbeArgsDict:
    """An HTTP GET probe: the only kind besides exec that azure-aci maps to ACI (rule C4)."""
    return {
        "http_get": {"path": path, "port": port, "scheme": "HTTP"},
        "initial_delay_seconds": timing["delay"],
        "period_seconds": timing["every"],
        "timeout_seconds": timing["timeout"],
        "failure_threshold": 3,
        "success_threshold": 1,
    }


def scan_skips(
    app: AppSettings, contract: AppContract, *, pinned_by_digest: bool
) -> dict[str, str]:
    """Checkov checks that cannot apply to the app's pods, with the reason for each."""
    skips: dict[str, str] = {}
    if contract.run_as_user is None:
        unknown = (
            "the image is appImage, not ours: its user and the paths it writes are not known to "
            "the stack, so it cannot be forced to a non-root user or a read-only file system"
        )
        skips.update(dict.fromkeys(("CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_40"), unknown))
    if contract.database_file is None:
        skips["CKV_K8S_35"] = (
            "this image reads its connection string only from an environment variable (appImage "
            "contract; a known limit in docs/security.md)"
        )
    if app.single_pod:
        skips["CKV2_K8S_6"] = (
            "the pod runs in ACI, outside the cluster network, where a NetworkPolicy enforces "
            "nothing"
        )
    if pinned_by_digest:
        digest = "the image is named by the digest the build pushed (known after deploy)"
        skips["CKV_K8S_14"] = digest
        skips["CKV_K8S_43"] = digest
    return checkov_skips(skips)


def web_url(host: str, port: int) -> str:
    """``http://host[:port]``, the port left out when it is 80."""
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"
