"""The todo web app, scheduled onto the virtual node so that it runs in ACI."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.aci_connector import VIRTUAL_NODE_LABEL, VIRTUAL_NODE_TAINT_KEY
from components.app_contract import PORT_VARIABLE, contract_for
from settings import AppSettings

# The connector names the container group's public DNS label after this annotation.
DNS_LABEL_ANNOTATION = "virtualkubelet.io/dnsnamelabel"


@dataclass(frozen=True)
class TodoAppArgs:
    settings: AppSettings
    kubernetes_provider: k8s.Provider
    virtual_node_name: pulumi.Input[str]
    aci_region: str
    # Secret: the MongoDB connection string with the database in its path.
    connection_string: pulumi.Input[str]


class TodoApp(pulumi.ComponentResource):
    """The seed's ``web`` pod, pinned to the virtual node, with its database from a Secret.

    The pod selects the virtual node by hostname and tolerates its taint, so it can only run in
    ACI. Its container port is declared because ACI gives a container group a public IP only for
    declared ports, and there is no port mapping: the app's port is the public port. The database
    location reaches the container from a Secret, in the variable the image reads
    (see ``components/app_contract.py``).

    ``web_ip`` is the pod's IP, which for an ACI pod is the container group's public IP.
    """

    web_ip: pulumi.Output[str]
    web_url: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: TodoAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:kubernetes:TodoApp", name, None, opts)
        settings = args.settings
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider)
        contract = contract_for(settings.image)

        database = k8s.core.v1.Secret(
            f"{name}-database",
            metadata={"labels": {"app": "todoapp"}},
            # Immutable and auto-named: a new connection string makes a new Secret and a new pod.
            immutable=True,
            string_data={
                contract.database_variable: pulumi.Output.from_input(args.connection_string).apply(
                    contract.database_value
                )
            },
            opts=k8s_opts,
        )

        annotations = {DNS_LABEL_ANNOTATION: settings.dns_label} if settings.dns_label else {}
        pod = k8s.core.v1.Pod(
            name,
            metadata={
                "name": "web",
                "labels": {"name": "web", "app": "todoapp"},
                "annotations": annotations,
            },
            spec={
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
                "containers": [
                    {
                        "name": "web",
                        "image": settings.image,
                        "env": [
                            {
                                "name": contract.database_variable,
                                "value_from": {
                                    "secret_key_ref": {
                                        "name": database.metadata.apply(lambda m: m.name or ""),
                                        "key": contract.database_variable,
                                    }
                                },
                            },
                            {"name": PORT_VARIABLE, "value": str(settings.port)},
                        ],
                        "ports": [
                            {"name": "http", "container_port": settings.port, "protocol": "TCP"}
                        ],
                        "resources": {
                            "requests": {"cpu": "500m", "memory": "512Mi"},
                            "limits": {"cpu": "1", "memory": "1Gi"},
                        },
                    }
                ],
            },
            # The pod has a fixed name, so a change that replaces it must delete the old one first.
            opts=pulumi.ResourceOptions.merge(
                k8s_opts, pulumi.ResourceOptions(delete_before_replace=True)
            ),
        )

        self.web_ip = pod.status.apply(lambda status: (status.pod_ip if status else None) or "")
        self.web_url = (
            pulumi.Output.from_input(web_url(settings.dns_label, args.aci_region, settings.port))
            if settings.dns_label
            else None
        )

        self.register_outputs({"webIp": self.web_ip, "webUrl": self.web_url})


def web_url(dns_label: str, aci_region: str, port: int) -> str:
    """The app's address under the container group's DNS label."""
    host = f"{dns_label}.{aci_region}.azurecontainer.io"
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"
