"""A deployed stack in miniature for the verify tests: objects, servers and command-line tools.

``World`` holds what each scenario changes: the cluster's objects, the container groups, the
app's store and the pods and nodes it answers as, and the stack outputs. ``World.running()``
starts the loopback servers (tests/verify_servers.py), writes the outputs and a kubeconfig made by
the program's own ``gke_kubeconfig``, and puts fake ``gke-gcloud-auth-plugin``, ``az`` and
``pulumi`` executables first on PATH: the clouds are faked at their API and CLI boundary only.
``Running.verify()`` runs the command in this process (``verify.cli.main``),
``Running.verify_process()`` as ``python -m verify`` in a subprocess.

The Azure credential is the real ``DefaultAzureCredential``, held to its Azure CLI credential by
``AZURE_TOKEN_CREDENTIALS`` (Azure's documented switch) so that it does not probe for a managed
identity on the test machine; the fake ``az`` answers it.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mongomock
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from components.gke_cluster import gke_kubeconfig
from verify.cli import main

APP_DIR = Path(__file__).resolve().parent.parent / "app"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

from loopback_http import Authority  # noqa: E402
from todo.db import TodoStore  # noqa: E402
from todo.model import Todo  # noqa: E402
from todo.served_by import ServedBy  # noqa: E402
from verify_servers import (  # noqa: E402
    AZURE_TOKEN,
    KUBE_TOKEN,
    Azure,
    Cluster,
    KubernetesApi,
    ResourceManager,
    Silent,
    container_group,
    serve_app,
)

ROOT = Path(__file__).resolve().parent.parent
VK = "aci-connector"
GKE_NODES = ("gke-gke-aci-pool-1a2b3c4d-aaaa", "gke-gke-aci-pool-1a2b3c4d-bbbb")
SUBSCRIPTION = "0f0e0d0c-0000-4000-8000-000000000001"
RESOURCE_GROUP = "gke-aci-rg1234"
WEB_IP = "20.30.40.50"
LB_IP = "34.1.2.3"
APP_LABELS = {"app": "todoapp", "name": "web"}

Json = dict[str, Any]


# --- Kubernetes objects, as the API server returns them ------------------------------------------


def node(name: str, *, virtual: bool = False) -> Json:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    spec: Json = {"providerID": f"gce://proj/us-west1-a/{name}"}
    if virtual:
        # What virtual-kubelet v1.11.0 and azure-aci v1.6.4 ConfigureNode put on the node, and
        # the node guard's label.
        labels |= {
            "type": "virtual-kubelet",
            "kubernetes.io/role": "agent",
            "beta.kubernetes.io/os": "linux",
            "node.kubernetes.io/exclude-from-external-load-balancers": "true",
            "alpha.service-controller.kubernetes.io/exclude-balancer": "true",
            "kubernetes.azure.com/managed": "false",
            "components.gke.io/gke-unmanaged-node": "true",
        }
        spec = {
            "providerID": f"azure-aci:///{name}",
            "taints": [
                {"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"}
            ],
        }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels, "uid": f"uid-{name}"},
        "spec": spec,
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}
            ]
        },
    }


def pod(
    name: str,
    namespace: str,
    labels: dict[str, str],
    on: str | None,
    ip: str | None,
    *,
    phase: str = "Running",
    owner: tuple[str, str] | None = None,
    reason: str | None = None,
) -> Json:
    metadata: Json = {"name": name, "namespace": namespace, "labels": labels, "uid": f"uid-{name}"}
    if owner is not None:
        kind, owner_name = owner
        metadata["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": kind,
                "name": owner_name,
                "uid": f"uid-{owner_name}",
                "controller": True,
            }
        ]
    ready = "True" if phase == "Running" else "False"
    status: Json = {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]}
    if ip:
        status["podIP"] = ip
    if reason:
        status["reason"] = reason
    spec: Json = {"containers": [{"name": "main", "image": "image"}]}
    if on:
        spec["nodeName"] = on
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def deployment(namespace: str, name: str, replicas: int, available: int) -> Json:
    labels = {"app.kubernetes.io/name": name}
    condition = "True" if available >= replicas else "False"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "image"}]},
            },
        },
        "status": {
            "replicas": replicas,
            "availableReplicas": available,
            "conditions": [
                {
                    "type": "Available",
                    "status": condition,
                    "reason": "MinimumReplicasAvailable"
                    if condition == "True"
                    else "MinimumReplicasUnavailable",
                    "message": "Deployment has minimum availability."
                    if condition == "True"
                    else "Deployment does not have minimum availability.",
                }
            ],
        },
    }


def daemon_set(namespace: str, name: str, *, gke_managed: bool, unavailable: int) -> Json:
    labels = {"k8s-app": name}
    if gke_managed:
        labels["addonmanager.kubernetes.io/mode"] = "Reconcile"
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": name}},
            "template": {
                "metadata": {"labels": {"k8s-app": name}},
                "spec": {"containers": [{"name": "main", "image": "image"}]},
            },
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        },
        "status": {
            "currentNumberScheduled": 3,
            "desiredNumberScheduled": 3,
            "numberMisscheduled": 0,
            "numberReady": 3 - unavailable,
            "numberUnavailable": unavailable,
        },
    }


def event(reason: str, node_name: str, message: str, when: str, count: int = 1) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{node_name}.{reason.lower()}", "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": node_name, "apiVersion": "v1"},
        "reason": reason,
        "message": message,
        "type": "Normal",
        "count": count,
        "lastTimestamp": when,
    }


def _common(cluster: Cluster) -> None:
    cluster.nodes += [node(VK, virtual=True), *(node(n) for n in GKE_NODES)]
    cluster.deployments.append(deployment("aci-connector", "aci-connector", 1, 1))
    # GKE's DaemonSets on the GKE nodes only; not on the virtual node.
    cluster.daemon_sets.append(
        daemon_set("kube-system", "pdcsi-node", gke_managed=True, unavailable=0)
    )
    for i, gke in enumerate(GKE_NODES):
        cluster.pods.append(
            pod(
                f"pdcsi-node-{i}",
                "kube-system",
                {"k8s-app": "pdcsi-node"},
                gke,
                f"10.0.1.{i}",
                owner=("DaemonSet", "pdcsi-node"),
            )
        )
    # Harmless: IPAM noise about the virtual node, and a deletion of some other node.
    cluster.events += [
        event(
            "CIDRNotAvailable",
            VK,
            "Node aci-connector status is now: CIDRNotAvailable",
            "2026-11-30T08:00:00Z",
        ),
        event(
            "DeletingNode",
            "gke-old-node",
            "Deleting node gke-old-node because it does not exist in the cloud provider",
            "2026-11-30T07:00:00Z",
        ),
    ]


# --- Scenarios --------------------------------------------------------------------------------


@dataclass
class World:
    """One stack: what the servers answer and what the outputs say."""

    cluster: Cluster
    azure: Azure
    outputs: Json
    served_by: list[ServedBy]
    store: TodoStore = field(
        default_factory=lambda: TodoStore(mongomock.MongoClient()["todo"]["todos"])
    )

    def todos(self) -> list[Todo]:
        return self.store.list_all()

    @contextlib.contextmanager
    def running(self, folder: Path, *, silent: frozenset[str] = frozenset()) -> Iterator[Running]:
        """Serve this world; the services named in ``silent`` (``kubernetes``, ``azure``,
        ``app``) accept connections and never answer."""
        tls = Authority()
        ca_file = tls.write_ca(folder / "ca.pem")
        kube, arm = KubernetesApi(self.cluster, tls), ResourceManager(self.azure, tls)
        quiet = Silent()
        with (
            kube.serve() as endpoint,
            arm.serve() as arm_url,
            serve_app(self.store, self.served_by) as app_url,
        ):
            if "kubernetes" in silent:
                endpoint = f"127.0.0.1:{quiet.port}"
            if "azure" in silent:
                arm_url = f"https://127.0.0.1:{quiet.port}"
            if "app" in silent:
                app_url = f"http://127.0.0.1:{quiet.port}"
            ca = base64.b64encode(tls.ca_pem).decode()
            outputs = {
                **self.outputs,
                "webUrl": app_url,
                "kubeconfig": gke_kubeconfig("proj", "us-west1-a", "gke-aci", endpoint, ca),
            }
            try:
                yield Running(self, folder, outputs, tls, ca_file, kube, arm, arm_url, app_url)
            finally:
                quiet.close()


def single_pod() -> World:
    """The ``aci`` mode with one replica: the tutorial's ``web`` pod on the virtual node."""
    cluster = Cluster()
    _common(cluster)
    cluster.pods.append(pod("web", "todo", dict(APP_LABELS), VK, WEB_IP))
    azure = Azure(SUBSCRIPTION, RESOURCE_GROUP, {"todo-web": container_group("todo-web", WEB_IP)})
    outputs = {
        **_outputs(WEB_IP),
        "appWorkload": {
            "kind": "Pod",
            "name": "web",
            "placement": "aci",
            "replicas": 1,
            "selector": dict(APP_LABELS),
        },
    }
    return World(cluster, azure, outputs, [ServedBy(pod="web", node=VK)])


BURST_PODS = (
    ("web-6d4cf56db6-2x7kq", GKE_NODES[0], "10.8.0.11"),
    ("web-6d4cf56db6-9hmzt", GKE_NODES[1], "10.8.1.12"),
    ("web-6d4cf56db6-vq5ns", VK, "20.30.40.61"),
)


def burst() -> World:
    """The ``burst`` mode: a Deployment of 3, two replicas on GKE nodes and one on ACI."""
    cluster = Cluster()
    _common(cluster)
    owner = ("ReplicaSet", "web-6d4cf56db6")
    for name, on, ip in BURST_PODS:
        cluster.pods.append(pod(name, "todo", dict(APP_LABELS), on, ip, owner=owner))
    for i, gke in enumerate(GKE_NODES):
        cluster.pods.append(
            pod(
                f"web-entry-5f7-{i}",
                "todo",
                {"app": "todoapp", "name": "web-entry"},
                gke,
                f"10.8.{i}.20",
                owner=("ReplicaSet", "web-entry-5f7"),
            )
        )
    aci_name, _, aci_ip = BURST_PODS[2]
    azure = Azure(
        SUBSCRIPTION,
        RESOURCE_GROUP,
        {f"todo-{aci_name}": container_group(f"todo-{aci_name}", aci_ip)},
    )
    outputs = {
        **_outputs(LB_IP),
        "appWorkload": {
            "kind": "Deployment",
            "name": "web",
            "placement": "burst",
            "replicas": 3,
            "selector": dict(APP_LABELS),
        },
    }
    served_by = [ServedBy(pod=name, node=on) for name, on, _ in BURST_PODS]
    return World(cluster, azure, outputs, served_by)


def _outputs(web_ip: str) -> Json:
    return {
        "webIp": web_ip,
        "clusterName": "gke-aci-cluster",
        "resourceGroupName": RESOURCE_GROUP,
        "cosmosAccountName": "gke-aci-cosmos",
        "cosmosDatabaseName": "todo",
        "virtualNodeName": VK,
        "appNamespace": "todo",
        "connectorNamespace": "aci-connector",
        "connectorDeployment": "aci-connector",
    }


# --- Stores that fail the way a database does, for the app's real error paths -------------------


class FailingStore(TodoStore):
    """A store on mongomock whose named operations fail (or, for ``lose``, lose the write).

    ``created`` records the text of every todo created.
    """

    def __init__(self, collection: Any, *, fail: set[str], lose: bool = False) -> None:
        super().__init__(collection)
        self._fail = fail
        self._lose = lose
        self.created: list[str] = []

    def _maybe(self, operation: str) -> None:
        if operation in self._fail:
            if operation == "ping":
                raise ServerSelectionTimeoutError("No servers found yet")
            raise OperationFailure("Request rate is large", code=16500)

    def ping(self) -> None:
        self._maybe("ping")
        super().ping()

    def create(self, text: str) -> Todo:
        self._maybe("create")
        self.created.append(text)
        return super().create(text)

    def get(self, todo_id: str) -> Todo | None:
        self._maybe("get")
        return None if self._lose else super().get(todo_id)

    def delete(self, todo_id: str) -> bool:
        self._maybe("delete")
        return super().delete(todo_id)


def failing_store(**kwargs: Any) -> FailingStore:
    return FailingStore(mongomock.MongoClient()["todo"]["todos"], **kwargs)


# --- Command-line tools at the boundary ---------------------------------------------------------

PLUGIN = """#!{python}
import json, os, sys, time
if "--use_application_default_credentials" not in sys.argv:
    sys.exit("gke-gcloud-auth-plugin: unexpected arguments")
if os.environ.get("FAKE_PLUGIN") == "hang":
    open(os.environ["FAKE_PLUGIN_PID"], "w").write(str(os.getpid()))
    time.sleep(60)
if os.environ.get("FAKE_PLUGIN") == "fail":
    sys.exit("ERROR: gke-gcloud-auth-plugin: failed to retrieve access token: reauth required")
status = {{"token": "{token}", "expirationTimestamp": "2099-01-01T00:00:00Z"}}
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1",
                  "kind": "ExecCredential", "status": status}}))
"""

AZ = """#!{python}
import json, sys
args = sys.argv[1:]
if args[:2] == ["account", "get-access-token"]:
    print(json.dumps({{"accessToken": "{token}", "expires_on": 4102444800,
                      "expiresOn": "2099-12-31 00:00:00.000000", "subscription": "{sub}",
                      "tenant": "tenant", "tokenType": "Bearer"}}))
elif args[:2] == ["account", "show"]:
    print("{sub}")
else:
    sys.exit("az: unexpected arguments " + " ".join(args))
"""

PULUMI = """#!{python}
import json, pathlib, sys
args = sys.argv[1:]
pathlib.Path("{argv_file}").write_text(json.dumps(args))
stack = args[args.index("--stack") + 1] if "--stack" in args else "dev"
if stack != "dev":
    print(f"error: no stack named '{{stack}}' found", file=sys.stderr)
    sys.exit(255)
print(pathlib.Path("{outputs_file}").read_text())
"""


@dataclass
class Running:
    """A started World: where its servers listen, and how to run verify against them."""

    world: World
    folder: Path
    outputs: Json
    tls: Authority
    ca_file: Path
    kube: KubernetesApi
    arm: ResourceManager
    arm_url: str
    app_url: str

    @property
    def bin(self) -> Path:
        return self.folder / "bin"

    @property
    def outputs_file(self) -> Path:
        return self.folder / "outputs.json"

    @property
    def pulumi_argv_file(self) -> Path:
        return self.folder / "pulumi-argv.json"

    def install_tools(self, *, pulumi: bool = False, az: bool = True, plugin: bool = True) -> None:
        self.bin.mkdir(exist_ok=True)
        self.outputs_file.write_text(json.dumps(self.outputs, indent=2))
        python = sys.executable
        tools = {
            "gke-gcloud-auth-plugin": PLUGIN.format(python=python, token=KUBE_TOKEN)
            if plugin
            else None,
            "az": AZ.format(python=python, token=AZURE_TOKEN, sub=SUBSCRIPTION) if az else None,
            "pulumi": PULUMI.format(
                python=python,
                argv_file=self.pulumi_argv_file,
                outputs_file=self.outputs_file,
            )
            if pulumi
            else None,
        }
        for name, script in tools.items():
            path = self.bin / name
            if script is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(script)
                path.chmod(0o755)

    def environment(self, **extra: str) -> dict[str, str]:
        """The variables verify runs with: the fake tools only, and trust in the test CA."""
        kept = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AZURE_", "ARM_", "KUBECONFIG", "PULUMI_", "REQUESTS_"))
        }
        return {
            **kept,
            "PATH": str(self.bin),
            "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential",
            "REQUESTS_CA_BUNDLE": str(self.ca_file),
            **extra,
        }

    def args(self, *extra: str, outputs: bool = True) -> list[str]:
        given = ["--outputs", str(self.outputs_file)] if outputs else []
        return [*given, "--azure-endpoint", self.arm_url, *extra]

    def verify(
        self, *extra: str, outputs: bool = True, env: dict[str, str] | None = None
    ) -> Outcome:
        """``main()`` in this process, with the tools installed and the environment set."""
        if not self.bin.exists():
            self.install_tools()
        stdout, stderr = io.StringIO(), io.StringIO()
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.environment(**(env or {})))
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = main(self.args(*extra, outputs=outputs))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return Outcome(code, stdout.getvalue(), stderr.getvalue())

    def verify_process(
        self,
        *extra: str,
        outputs: bool = True,
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> Outcome:
        """``python -m verify`` as a user runs it, from the project folder."""
        if not self.bin.exists():
            self.install_tools()
        result = subprocess.run(
            [sys.executable, "-m", "verify", *self.args(*extra, outputs=outputs)],
            cwd=ROOT,
            env=self.environment(**(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Outcome(result.returncode, result.stdout, result.stderr)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str

    def line(self, title: str) -> str:
        """The one output line of the check titled ``title``."""
        lines = [line for line in self.stdout.splitlines() if line[2:].startswith(f"{title}:")]
        assert len(lines) == 1, f"no single line for {title!r} in:\n{self.stdout}"
        return lines[0]

    def marks(self) -> dict[str, str]:
        """Each check's title and mark."""
        return {
            line[2:].split(":", 1)[0]: line[0]
            for line in self.stdout.splitlines()
            if line[:1] in ("✓", "✗", "-") and ": expected " in line
        }


def run(world: World, folder: Path, *extra: str) -> Outcome:
    """Start ``world`` and run verify against it once, in this process."""
    with world.running(folder) as running:
        return running.verify(*extra)
