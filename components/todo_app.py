"""The todo web app: in ACI through the virtual node, or bursting from GKE into ACI."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.app_image import RegistryPull
from components.entry_point import ENTRY_LABELS, EntryPoint, EntryPointArgs
from components.replica_tls import KeyPair, ReplicaTls, ReplicaTlsArgs
from core.app_contract import (
    APP_LABELS,
    NAMESPACE,
    TLS_CA_FILE,
    TLS_CERT_FILE,
    TLS_KEY_FILE,
    WEB,
    WEB_LABELS,
    AppContract,
)
from dynamic.readiness_gate import HttpReadinessGate
from settings import AppSettings
from specs.web_workload import (
    HTTP_PORT_NAME,
    READY_TIMEOUT,
    READY_TIMEOUT_SECONDS,
    WebPodInputs,
    mutual_tls,
    scan_skips,
    web_deployment_spec,
    web_pod_annotations,
    web_pod_spec,
    web_url,
)

# The headless Service that lists the replicas for the entry point.
REPLICAS_SERVICE = "web-replicas"


@dataclass(frozen=True)
class TodoAppArgs:
    settings: AppSettings
    image: pulumi.Input[str]
    contract: AppContract
    virtual_node_name: pulumi.Input[str]
    aci_region: str
    # Secret: the MongoDB connection string with the database in its path.
    connection_string: pulumi.Input[str]
    # credentialRotation: changing it replaces the certificates of the entry point's hop too.
    credential_rotation: str
    # A pull-only registry credential, when the image is in a private registry.
    registry_pull: RegistryPull | None = None


class TodoApp(pulumi.ComponentResource):
    """The todo app on the virtual node, or bursting from GKE into ACI, with its database.

    With one replica in ``aci`` placement it is the seed's ``web`` pod, pinned to the virtual
    node, and ``web_ip`` is the pod's IP, which for an ACI pod is the container group's public IP.
    Otherwise the replicas are a Deployment behind the entry point (components/entry_point.py),
    and ``web_ip`` is the entry point's load balancer; with our own app, the entry point and the
    replicas speak mutual TLS (components/replica_tls.py). The pod spec is the same in every mode
    (specs/web_workload.py). The database location reaches the container from a Secret,
    in the variable the image reads (core/app_contract.py). With our own app, an HTTP
    check of ``/healthz`` from the deploying machine makes ``pulumi up`` finish only once the app
    answers and reaches its database.
    """

    web_ip: pulumi.Output[str]
    web_url: pulumi.Output[str]
    workload: dict[str, object]

    def __init__(
        self, name: str, args: TodoAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:kubernetes:TodoApp", name, None, opts)
        settings, contract = args.settings, args.contract
        k8s_opts = pulumi.ResourceOptions(parent=self)  # the Kubernetes provider comes from opts

        namespace = k8s.core.v1.Namespace(
            name, metadata={"name": NAMESPACE, "labels": APP_LABELS}, opts=k8s_opts
        )
        namespace_name = namespace.metadata.apply(lambda m: m.name or "")
        database = k8s.core.v1.Secret(
            f"{name}-database",
            metadata={"namespace": namespace_name, "labels": WEB_LABELS},
            # Immutable and auto-named: a new connection string makes a new Secret and new pods.
            immutable=True,
            string_data={
                contract.database_variable: pulumi.Output.from_input(args.connection_string).apply(
                    contract.database_value
                )
            },
            opts=k8s_opts,
        )
        pull_secret = (
            _pull_secret(f"{name}-registry", args.registry_pull, namespace_name, k8s_opts)
            if args.registry_pull is not None
            else None
        )
        certificates = (
            ReplicaTls(
                f"{name}-tls",
                ReplicaTlsArgs(rotation=args.credential_rotation),
                opts=pulumi.ResourceOptions(parent=self),
            )
            if mutual_tls(settings, contract)
            else None
        )
        replica_tls = (
            _tls_secret(f"{name}-tls", certificates.server, namespace_name, k8s_opts)
            if certificates is not None
            else None
        )
        inputs = WebPodInputs(
            image=args.image,
            virtual_node_name=args.virtual_node_name,
            database_secret=database.metadata.apply(lambda m: m.name or ""),
            pull_secret=pull_secret.metadata.apply(lambda m: m.name or "") if pull_secret else None,
            tls_secret=replica_tls.metadata.apply(lambda m: m.name or "") if replica_tls else None,
        )
        skips = scan_skips(settings, contract, pinned_by_digest=args.registry_pull is not None)
        metadata: k8s.meta.v1.ObjectMetaArgsDict = {
            "name": WEB,
            "namespace": namespace_name,
            "labels": WEB_LABELS,
        }
        # The workload has a fixed name, so a change that replaces it must delete the old first.
        workload_opts = pulumi.ResourceOptions.merge(
            k8s_opts,
            pulumi.ResourceOptions(
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create=READY_TIMEOUT, update=READY_TIMEOUT),
            ),
        )

        revision: pulumi.Output[str]
        if settings.single_pod:
            pod = k8s.core.v1.Pod(
                name,
                metadata={**metadata, "annotations": {**skips, **web_pod_annotations(settings)}},
                spec=web_pod_spec(settings, contract, inputs),
                opts=workload_opts,
            )
            self.web_ip = pod.status.apply(lambda status: (status.pod_ip if status else None) or "")
            if settings.dns_label:
                url = web_url(
                    f"{settings.dns_label}.{args.aci_region}.azurecontainer.io", settings.port
                )
                self.web_url = pod.urn.apply(lambda _: url)
            else:
                self.web_url = self.web_ip.apply(lambda ip: web_url(ip, settings.port))
            # A new pod (new image, new secret) is checked again.
            revision = pod.metadata.apply(lambda m: m.uid or "")
        else:
            deployment = k8s.apps.v1.Deployment(
                name,
                metadata={**metadata, "annotations": skips},
                spec=web_deployment_spec(settings, contract, inputs),
                opts=workload_opts,
            )
            replicas = k8s.core.v1.Service(
                f"{name}-replicas",
                metadata={
                    "name": REPLICAS_SERVICE,
                    "namespace": namespace_name,
                    "labels": WEB_LABELS,
                },
                spec={
                    # Headless: its DNS name answers with every replica's IP, ACI public IPs
                    # included, which is how the entry point finds them.
                    "cluster_ip": "None",
                    # Ready or not: the entry point's own health checks decide (decision 0008).
                    # Otherwise a proxy started while the connector is down (its virtual node
                    # NotReady, so its pods NotReady) would not see the ACI replicas at all.
                    "publish_not_ready_addresses": True,
                    "selector": WEB_LABELS,
                    "ports": [
                        {
                            "name": HTTP_PORT_NAME,
                            "port": settings.port,
                            "target_port": HTTP_PORT_NAME,
                            "protocol": "TCP",
                        }
                    ],
                },
                opts=k8s_opts,
            )
            # Replicas on GKE nodes take requests from the entry point only (the kubelet's
            # probes come from the node, which Kubernetes always admits). Replicas in ACI are
            # outside the cluster network, where no NetworkPolicy applies.
            k8s.networking.v1.NetworkPolicy(
                name,
                metadata={"namespace": namespace_name, "labels": WEB_LABELS},
                spec={
                    "pod_selector": {"match_labels": WEB_LABELS},
                    "policy_types": ["Ingress"],
                    "ingress": [
                        {
                            "from_": [{"pod_selector": {"match_labels": ENTRY_LABELS}}],
                            "ports": [{"protocol": "TCP", "port": settings.port}],
                        }
                    ],
                },
                opts=k8s_opts,
            )
            entry = EntryPoint(
                f"{name}-entry",
                EntryPointArgs(
                    namespace=namespace_name,
                    image=settings.entry_proxy_image,
                    replicas_host=pulumi.Output.concat(
                        replicas.metadata.apply(lambda m: m.name or ""),
                        ".",
                        namespace_name,
                        ".svc.cluster.local.",
                    ),
                    app_port=settings.port,
                    health_path=contract.readiness_path or "/",
                    client_tls=certificates.client if certificates is not None else None,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.web_ip = entry.ip
            self.web_url = entry.url
            # A new template (image, secret, size) rolls the replicas; check again after it.
            revision = deployment.metadata.apply(lambda m: f"{m.uid or ''}/{m.generation or ''}")

        self.workload = {
            "kind": "Pod" if settings.single_pod else "Deployment",
            "name": WEB,
            "placement": settings.placement.value,
            "replicas": settings.replicas,
            "selector": dict(WEB_LABELS),
        }

        if contract.readiness_path:
            # The connector reports an ACI pod Ready once the container runs; it never reads
            # the probe's result. This check, from the machine running `pulumi up`, is what
            # makes the deployment finish only when the app answers and reaches its database
            # (through the entry point: through a replica its health checks admitted).
            HttpReadinessGate(
                f"{name}-ready",
                url=pulumi.Output.concat(self.web_url, contract.readiness_path),
                revision=revision,
                timeout_seconds=READY_TIMEOUT_SECONDS,
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.register_outputs(
            {"webIp": self.web_ip, "webUrl": self.web_url, "workload": self.workload}
        )


def _tls_secret(
    name: str, pair: KeyPair, namespace: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> k8s.core.v1.Secret:
    """The replicas' certificate, key and CA; immutable and auto-named, so a rotated certificate
    makes a new Secret and rolls the replicas (ACI mounts every key of it: ACI rule V4)."""
    return k8s.core.v1.Secret(
        name,
        metadata={"namespace": namespace, "labels": WEB_LABELS},
        type="kubernetes.io/tls",
        immutable=True,
        string_data={
            TLS_CERT_FILE: pair.cert_pem,
            TLS_KEY_FILE: pair.key_pem,
            TLS_CA_FILE: pair.ca_cert_pem,
        },
        opts=opts,
    )


def _pull_secret(
    name: str, pull: RegistryPull, namespace: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> k8s.core.v1.Secret:
    """A ``kubernetes.io/dockerconfigjson`` Secret, which the connector maps to ACI's credential."""
    config = pulumi.Output.all(pull.server, pull.username, pull.password).apply(
        lambda parts: docker_config_json(*parts)
    )
    return k8s.core.v1.Secret(
        name,
        metadata={"namespace": namespace, "labels": WEB_LABELS},
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
