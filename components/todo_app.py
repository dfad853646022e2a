"""The todo web app, scheduled onto the virtual node so that it runs in ACI."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.aci_connector import VIRTUAL_NODE_LABEL, VIRTUAL_NODE_TAINT_KEY
from components.app_contract import PORT_VARIABLE, AppContract
from components.app_image import RegistryPull
from components.readiness_gate import HttpReadinessGate
from components.scan_skips import checkov_skips
from settings import AppSettings

# The connector names the container group's public DNS label after this annotation.
DNS_LABEL_ANNOTATION = "virtualkubelet.io/dnsnamelabel"
NAMESPACE = "todo"
# How long `pulumi up` waits for the pod to run (the ACI container group and the image pull),
# and then for our app to answer its readiness check.
READY_TIMEOUT = "10m"
READY_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class TodoAppArgs:
    settings: AppSettings
    image: pulumi.Input[str]
    contract: AppContract
    kubernetes_provider: k8s.Provider
    virtual_node_name: pulumi.Input[str]
    aci_region: str
    # Secret: the MongoDB connection string with the database in its path.
    connection_string: pulumi.Input[str]
    # A pull-only registry credential, when the image is in a private registry.
    registry_pull: RegistryPull | None = None


class TodoApp(pulumi.ComponentResource):
    """The seed's ``web`` pod, pinned to the virtual node, with its database from a Secret.

    The pod selects the virtual node by hostname and tolerates its taint, so it can only run in
    ACI. Its container port is declared because ACI gives a container group a public IP only for
    declared ports, and there is no port mapping: the app's port is the public port. The database
    location reaches the container from a Secret, in the variable the image reads
    (see ``components/app_contract.py``). With our own app, an HTTP check of ``/healthz`` from
    the deploying machine makes ``pulumi up`` finish only once the app in ACI reaches its
    database.

    ``web_ip`` is the pod's IP, which for an ACI pod is the container group's public IP.
    """

    web_ip: pulumi.Output[str]
    web_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: TodoAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:kubernetes:TodoApp", name, None, opts)
        settings, contract = args.settings, args.contract
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider)
        labels = {"name": "web", "app": "todoapp"}

        namespace = k8s.core.v1.Namespace(
            name, metadata={"name": NAMESPACE, "labels": {"app": "todoapp"}}, opts=k8s_opts
        )
        namespace_name = namespace.metadata.apply(lambda m: m.name or "")
        database = k8s.core.v1.Secret(
            f"{name}-database",
            metadata={"namespace": namespace_name, "labels": labels},
            # Immutable and auto-named: a new connection string makes a new Secret and a new pod.
            immutable=True,
            string_data={
                contract.database_variable: pulumi.Output.from_input(args.connection_string).apply(
                    contract.database_value
                )
            },
            opts=k8s_opts,
        )

        pod_spec: k8s.core.v1.PodSpecArgsDict = {
            "node_selector": {
                **VIRTUAL_NODE_LABEL,
                "kubernetes.io/hostname": args.virtual_node_name,
            },
            "tolerations": [
                {"key": VIRTUAL_NODE_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
            ],
            # ACI pods never call the Kubernetes API, and the connector cannot project
            # service-account tokens on current clusters.
            "automount_service_account_token": False,
            "containers": [_web_container(args, database)],
        }
        if contract.database_file:
            pod_spec["volumes"] = [
                {
                    "name": "database",
                    "secret": {"secret_name": database.metadata.apply(lambda m: m.name or "")},
                }
            ]
        if args.registry_pull is not None:
            pull_secret = _pull_secret(
                f"{name}-registry", args.registry_pull, namespace_name, labels, k8s_opts
            )
            pod_spec["image_pull_secrets"] = [
                {"name": pull_secret.metadata.apply(lambda m: m.name or "")}
            ]

        annotations = checkov_skips(
            _aci_skips(
                pinned_by_digest=args.registry_pull is not None,
                reads_file=contract.database_file is not None,
            )
        )
        if settings.dns_label:
            annotations[DNS_LABEL_ANNOTATION] = settings.dns_label
        metadata: k8s.meta.v1.ObjectMetaArgsDict = {
            "name": "web",
            "namespace": namespace_name,
            "labels": labels,
            "annotations": annotations,
        }
        pod = k8s.core.v1.Pod(
            name,
            metadata=metadata,
            spec=pod_spec,
            # The pod has a fixed name, so a change that replaces it must delete the old one first.
            opts=pulumi.ResourceOptions.merge(
                k8s_opts,
                pulumi.ResourceOptions(
                    delete_before_replace=True,
                    custom_timeouts=pulumi.CustomTimeouts(
                        create=READY_TIMEOUT, update=READY_TIMEOUT
                    ),
                ),
            ),
        )

        self.web_ip = pod.status.apply(lambda status: (status.pod_ip if status else None) or "")
        if settings.dns_label:
            url = web_url(
                f"{settings.dns_label}.{args.aci_region}.azurecontainer.io", settings.port
            )
            self.web_url = pod.urn.apply(lambda _: url)
        else:
            self.web_url = self.web_ip.apply(lambda ip: web_url(ip, settings.port))

        if contract.readiness_path:
            # The connector reports the pod Ready once the container runs; it never reads the
            # probe's result. This check, from the machine running `pulumi up`, is what makes
            # the deployment finish only when the app in ACI answers and reaches its database.
            HttpReadinessGate(
                f"{name}-ready",
                url=pulumi.Output.concat(self.web_url, contract.readiness_path),
                # A new pod (new image, new secret) is checked again.
                revision=pod.metadata.apply(lambda m: m.uid or ""),
                timeout_seconds=READY_TIMEOUT_SECONDS,
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.register_outputs({"webIp": self.web_ip, "webUrl": self.web_url})


def _web_container(
    args: TodoAppArgs, database: k8s.core.v1.Secret
) -> k8s.core.v1.ContainerArgsDict:
    contract, port = args.contract, args.settings.port
    container: k8s.core.v1.ContainerArgsDict = {
        "name": "web",
        "image": args.image,
        "env": [
            _database_variable(contract, database),
            {"name": PORT_VARIABLE, "value": str(port)},
        ],
        "ports": [{"name": "http", "container_port": port, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
    }
    if contract.database_file:
        folder = contract.database_file.rsplit("/", 1)[0]
        container["volume_mounts"] = [{"name": "database", "mount_path": folder, "read_only": True}]
    if contract.readiness_path:
        # The app's database timeouts are 5 s, so a probe allows 8 s before it counts a failure.
        container["readiness_probe"] = _http_probe(
            contract.readiness_path, port, delay=5, every=10, timeout=8
        )
    if contract.liveness_path:
        container["liveness_probe"] = _http_probe(
            contract.liveness_path, port, delay=10, every=20, timeout=5
        )
    return container


def _database_variable(
    contract: AppContract, database: k8s.core.v1.Secret
) -> k8s.core.v1.EnvVarArgsDict:
    """The file's path when the app reads a mounted file; else the Secret's value itself."""
    if contract.database_file:
        return {"name": contract.database_file_variable, "value": contract.database_file}
    return {
        "name": contract.database_variable,
        "value_from": {
            "secret_key_ref": {
                "name": database.metadata.apply(lambda m: m.name or ""),
                "key": contract.database_variable,
            }
        },
    }


def _http_probe(
    path: str, port: int, *, delay: int, every: int, timeout: int
) -> k8s.core.v1.ProbeArgsDict:
    """An HTTP GET probe: the only kind besides exec that azure-aci maps to ACI."""
    return {
        "http_get": {"path": path, "port": port, "scheme": "HTTP"},
        "initial_delay_seconds": delay,
        "period_seconds": every,
        "timeout_seconds": timeout,
        "failure_threshold": 3,
        "success_threshold": 1,
    }


def _aci_skips(*, pinned_by_digest: bool, reads_file: bool) -> dict[str, str]:
    """Checkov checks that cannot apply to a pod that runs in ACI, with the reason for each."""
    ignored = "the pod runs in ACI, which ignores securityContext (azure-aci maps none of it)"
    skips = {
        check: ignored
        for check in (
            "CKV_K8S_20",
            "CKV_K8S_22",
            "CKV_K8S_23",
            "CKV_K8S_28",
            "CKV_K8S_29",
            "CKV_K8S_30",
            "CKV_K8S_31",
            "CKV_K8S_37",
            "CKV_K8S_40",
        )
    }
    if not reads_file:
        skips["CKV_K8S_35"] = (
            "this image reads its connection string only from an environment variable (appImage "
            "contract; a known limit in the README)"
        )
    skips["CKV2_K8S_6"] = (
        "the pod runs in ACI, outside the cluster network, where a NetworkPolicy enforces nothing"
    )
    if pinned_by_digest:
        digest = "the image is named by the digest the build pushed (known after deploy)"
        skips["CKV_K8S_14"] = digest
        skips["CKV_K8S_43"] = digest
    return skips


def _pull_secret(
    name: str,
    pull: RegistryPull,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Secret:
    """A ``kubernetes.io/dockerconfigjson`` Secret, which the connector maps to ACI's credential."""
    config = pulumi.Output.all(pull.server, pull.username, pull.password).apply(
        lambda parts: docker_config_json(*parts)
    )
    return k8s.core.v1.Secret(
        name,
        metadata={"namespace": namespace, "labels": labels},
        type="kubernetes.io/dockerconfigjson",
        immutable=True,
        string_data={".dockerconfigjson": pulumi.Output.secret(config)},
        opts=opts,
    )


def docker_config_json(server: str, username: str, password: str) -> str:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps(
        {"auths": {server: {"username": username, "password": password, "auth": auth}}},
        sort_keys=True,
    )


def web_url(host: str, port: int) -> str:
    """``http://host[:port]``, the port left out when it is 80."""
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"
