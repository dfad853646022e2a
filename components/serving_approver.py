"""The approver of the connector's kubelet serving certificate: a process of its own.

The connector's pod asks the cluster's ``kubernetes.io/kubelet-serving`` signer for its serving
certificate (specs/connector_pod.py). GKE's own approver acts only on requests from nodes'
kubelets and leaves a service account's alone, so this Deployment approves exactly the request
of a live connector pod, with ``decide`` in kubelet_serving/kubelet_serving.py. It runs under an
account of its own: the connector's identity never gains the right to approve. Why:
docs/decisions/0021-kubelet-serving-certificate.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from kubelet_serving.kubelet_serving import SIGNER
from specs.api_client_pod import no_ingress, one_at_a_time, role_ref
from specs.connector_pod import PYTHON_FLAGS, SCRIPT, SCRIPT_DIR
from specs.scan_skips import checkov_skips

NAME = "kubelet-serving-approver"


@dataclass(frozen=True)
class ServingApproverArgs:
    node_name: str
    image: str
    # The connector's namespace, where the approver runs too, and its service account.
    namespace: pulumi.Input[str]
    connector_service_account: pulumi.Input[str]
    # The connector's Deployment, restarted for a new certificate after renew_after_seconds.
    connector_deployment: pulumi.Input[str]
    renew_after_seconds: int
    # The ConfigMap holding kubelet_serving/kubelet_serving.py.
    script: pulumi.Input[str]
    max_lifetime_seconds: int
    labels: dict[str, str]
    pod_security: k8s.core.v1.PodSecurityContextArgsDict
    security_context: k8s.core.v1.SecurityContextArgsDict


def approver_cluster_rules() -> list[k8s.rbac.v1.PolicyRuleArgsDict]:
    """What the approver may do cluster-wide: list requests and approve for one signer.

    ``approve`` on the signer cannot be narrowed to one request: the approver's decision
    function is what keeps it to the connector's (kubelet_serving.decide).
    """
    group = "certificates.k8s.io"
    return [
        {"api_groups": [group], "resources": ["certificatesigningrequests"], "verbs": ["list"]},
        {
            "api_groups": [group],
            "resources": ["certificatesigningrequests/approval"],
            "verbs": ["update"],
        },
        {
            "api_groups": [group],
            "resources": ["signers"],
            "resource_names": [SIGNER],
            "verbs": ["approve"],
        },
    ]


def approver_namespace_rules(
    connector_deployment: pulumi.Input[str],
) -> list[k8s.rbac.v1.PolicyRuleArgsDict]:
    """In the connector's namespace: read the pod a request names, find the connector's pods
    that are due for renewal, and restart the connector's Deployment alone."""
    return [
        {"api_groups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {
            "api_groups": ["apps"],
            "resources": ["deployments"],
            "resource_names": [connector_deployment],
            "verbs": ["patch"],
        },
    ]


class ServingApprover(pulumi.ComponentResource):
    """The approver's account, its rights, its Deployment and a NetworkPolicy that admits none.

    It also renews the certificate: it restarts the connector's Deployment (that one alone) when
    the connector's pod has served its certificate for ``renew_after_seconds``.
    """

    deployment: k8s.apps.v1.Deployment

    def __init__(
        self, name: str, args: ServingApproverArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:kubernetes:ServingApprover", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self)  # the Kubernetes provider comes from opts
        metadata: k8s.meta.v1.ObjectMetaArgsDict = {
            "namespace": args.namespace,
            "labels": args.labels,
        }
        account = k8s.core.v1.ServiceAccount(
            name,
            metadata={**metadata, "name": NAME},
            # Mounted only where asked for: the approver's pod asks, as it calls the API.
            automount_service_account_token=False,
            opts=k8s_opts,
        )
        subject: k8s.rbac.v1.SubjectArgsDict = {
            "kind": "ServiceAccount",
            "name": account.metadata.apply(lambda m: m.name or ""),
            "namespace": args.namespace,
        }
        cluster_role = k8s.rbac.v1.ClusterRole(
            name,
            metadata={
                "name": NAME,
                "labels": args.labels,
                "annotations": checkov_skips(
                    {
                        "CKV_K8S_156": "approving kubelet-serving requests is this role's "
                        "purpose; its process approves only the connector pod's own request "
                        "(docs/security.md)"
                    }
                ),
            },
            rules=approver_cluster_rules(),
            opts=k8s_opts,
        )
        cluster_binding = k8s.rbac.v1.ClusterRoleBinding(
            name,
            metadata={"name": NAME, "labels": args.labels},
            role_ref=role_ref("ClusterRole", cluster_role.metadata.apply(lambda m: m.name or "")),
            subjects=[subject],
            opts=k8s_opts,
        )
        pod_role = k8s.rbac.v1.Role(
            f"{name}-pods",
            metadata={**metadata, "name": NAME},
            rules=approver_namespace_rules(args.connector_deployment),
            opts=k8s_opts,
        )
        pod_binding = k8s.rbac.v1.RoleBinding(
            f"{name}-pods",
            metadata={**metadata, "name": NAME},
            role_ref=role_ref("Role", pod_role.metadata.apply(lambda m: m.name or "")),
            subjects=[subject],
            opts=k8s_opts,
        )
        pod_labels = {**args.labels, "app.kubernetes.io/component": NAME}
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata={
                **metadata,
                "name": NAME,
                "annotations": checkov_skips(_scan_skips(args.image)),
            },
            # One approver at a time: two would decide the same request twice.
            spec=one_at_a_time(
                pod_labels,
                subject["name"],
                args.pod_security,
                _container(args),
                ("kubelet-serving", args.script),
            ),
            opts=pulumi.ResourceOptions.merge(
                k8s_opts, pulumi.ResourceOptions(depends_on=[cluster_binding, pod_binding])
            ),
        )
        # Nothing calls the approver.
        k8s.networking.v1.NetworkPolicy(
            name,
            metadata=metadata,
            spec=no_ingress(pod_labels),
            opts=k8s_opts,
        )
        self.register_outputs({"deploymentName": self.deployment.metadata.apply(lambda m: m.name)})


def _container(args: ServingApproverArgs) -> k8s.core.v1.ContainerArgsDict:
    return {
        "name": "approver",
        "image": args.image,
        "command": ["python", *PYTHON_FLAGS, f"{SCRIPT_DIR}/{SCRIPT.name}", "approve"],
        "image_pull_policy": "IfNotPresent",
        "env": [
            {"name": "NODE_NAME", "value": args.node_name},
            {"name": "CONNECTOR_NAMESPACE", "value": args.namespace},
            {"name": "CONNECTOR_SERVICE_ACCOUNT", "value": args.connector_service_account},
            {"name": "SERVING_CERT_MAX_LIFETIME_SECONDS", "value": str(args.max_lifetime_seconds)},
            {"name": "CONNECTOR_DEPLOYMENT", "value": args.connector_deployment},
            {"name": "SERVING_CERT_RENEW_AFTER_SECONDS", "value": str(args.renew_after_seconds)},
        ],
        # One list every 5 s.
        "resources": {
            "requests": {"cpu": "20m", "memory": "48Mi"},
            "limits": {"cpu": "50m", "memory": "64Mi"},
        },
        "security_context": args.security_context,
        "volume_mounts": [{"name": "kubelet-serving", "mount_path": SCRIPT_DIR, "read_only": True}],
    }


def _scan_skips(image: str) -> dict[str, str]:
    """Checkov checks that do not fit the approver, with the reason for each."""
    skips = {
        "CKV_K8S_38": "the approver lists and approves certificate requests through the "
        "Kubernetes API, so its pod mounts its own token; the account does not",
        "CKV_K8S_8": "a polling loop with no port to probe; it logs each pass's failure",
        "CKV_K8S_9": "a polling loop with no port to probe; it logs each pass's failure",
    }
    if "@" not in image:
        skips["CKV_K8S_43"] = (
            "the image is a setting (kubeletServingImage) whose default is a release tag; a "
            "digest can be set there"
        )
        skips["CKV_K8S_15"] = (
            "pulled once per node so that a restart never waits on the registry; a digest in "
            "kubeletServingImage makes the image exact"
        )
    return skips
