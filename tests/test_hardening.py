"""The secure defaults: least privilege in Azure, a hardened GKE, a locked-down connector."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fake_cloud import (
    SUBSCRIPTION_ID,
    UNKNOWN,
    Deployment,
    Registration,
    is_secret,
    reveal,
    run_program,
)

from components.gke_cluster import NODE_ROLES, gcp_label_value, node_account_id
from components.service_principal import CONTRIBUTOR
from specs.connector_pod import CLUSTER_CA_FILE
from specs.pod_security import container_security, pod_security

ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
PASSWORD = "azuread:index/servicePrincipalPassword:ServicePrincipalPassword"
ROTATING = "time:index/rotating:Rotating"
OFFSET = "time:index/offset:Offset"
GROUP = "azure-native:resources:ResourceGroup"
ACCOUNT = "azure-native:cosmosdb:DatabaseAccount"
DATABASE = "azure-native:cosmosdb:MongoDBResourceMongoDBDatabase"
COLLECTION = "azure-native:cosmosdb:MongoDBResourceMongoDBCollection"
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SLEEP = "time:index/sleep:Sleep"
REGISTRY_GATE = "pulumi-python:dynamic/azure:RegistryAccessGate"
ARM_GATE = "pulumi-python:dynamic/azure:ArmAccessGate"
APPLICATION = "azuread:index/application:Application"
REGISTRATION = "pulumi-python:dynamic/azure:ResourceProviderRegistration"

# The Azure calls the connector makes (virtual-kubelet/azure-aci v1.6.4 pkg/client/client_apis.go:
# get, list, create or update, delete container groups; a container's logs; exec), as actions.
CONNECTOR_AZURE_ACTIONS = [
    "Microsoft.ContainerInstance/containerGroups/read",
    "Microsoft.ContainerInstance/containerGroups/write",
    "Microsoft.ContainerInstance/containerGroups/delete",
    "Microsoft.ContainerInstance/containerGroups/containers/logs/read",
    "Microsoft.ContainerInstance/containerGroups/containers/exec/action",
]


@pytest.fixture
def stack() -> Deployment:
    return run_program()


def output(registration: Registration, name: str) -> Any:
    return reveal(registration.outputs[name])


# --- Azure: least privilege, credentials --------------------------------------------------------


def test_the_connector_gets_a_custom_role_with_only_the_container_group_actions(
    stack: Deployment,
) -> None:
    definition = stack.one(ROLE_DEFINITION)
    group_id = stack.one(GROUP).id
    [permission] = definition.inputs["permissions"]
    assert set(permission) == {"actions"}  # no data actions, no wildcard elsewhere
    assert sorted(permission["actions"]) == sorted(CONNECTOR_AZURE_ACTIONS)
    assert definition.inputs["assignableScopes"] == [group_id]
    assert definition.inputs["scope"] == group_id
    assert definition.inputs["roleType"] == "CustomRole"
    assignment = stack.one(ROLE_ASSIGNMENT, "aci-connector").inputs
    assert assignment["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/"
        f"{output(definition, 'name')}"
    )
    assert not assignment["roleDefinitionId"].endswith(CONTRIBUTOR)
    assert assignment["scope"] == group_id
    # A new role definition replicates before anything is assigned with it.
    [replicated] = [s for s in stack.of_type(SLEEP) if s.name == "aci-connector"  and
                    "definition" in s.inputs["triggers"]]  # fmt: skip
    assert replicated.inputs["triggers"] == {"definition": definition.id}
    assert replicated.inputs["createDuration"] == "30s"  # README: 30 seconds for a new role
    assert replicated.urn in stack.one(ROLE_ASSIGNMENT, "aci-connector").all_dependencies()


@pytest.mark.parametrize("preview", [False, True], ids=["update", "first-preview"])
def test_the_custom_role_waits_for_the_container_instance_registration(preview: bool) -> None:
    # ARM refuses a role whose actions belong to a provider the subscription has not registered.
    stack = run_program(preview=preview)
    registration = stack.one(REGISTRATION, "container-instance")
    assert registration.inputs["namespace"] == "Microsoft.ContainerInstance"
    definition = stack.one(ROLE_DEFINITION)
    assert registration.urn in definition.dependencies
    # An ordering only: no input of the role takes a value from the registration.
    assert not any(registration.urn in urns for urns in definition.property_dependencies.values())


def test_custom_role_names_are_unique_per_stack_and_group(stack: Deployment) -> None:
    name = stack.one(ROLE_DEFINITION).inputs["roleName"]
    assert name == f"gke-aci-dev ACI connector ({output(stack.one(GROUP), 'name')})"


@pytest.mark.parametrize("identity", ["aci-connector", "app-push", "app-pull"])
def test_passwords_rotate_on_a_schedule_with_a_bounded_lifetime(
    stack: Deployment, identity: str
) -> None:
    rotation = stack.one(ROTATING, identity)
    expiry = stack.one(OFFSET, identity)
    password = stack.one(PASSWORD, identity).inputs
    # No wall-clock value in any input: the rotation resource records its own creation time, and
    # every date the password gets comes from it.
    assert rotation.inputs == {"rotationDays": 90}
    assert expiry.inputs == {
        "baseRfc3339": output(rotation, "rotationRfc3339"),
        "offsetDays": 30,
    }
    assert password["endDate"] == output(expiry, "rfc3339")
    # A new rotation resource (due, or replaced) is a new password.
    assert password["rotateWhenChanged"] == {"scheduled": rotation.id, "requested": "1"}
    assert stack.one(PASSWORD, identity).all_dependencies() >= {rotation.urn, expiry.urn}


# Everything that signs in with a password (connector Secret, image push, pull Secret).
CREDENTIAL_USERS = {
    "aci-connector": ("kubernetes:core/v1:Secret", "aci-connector-azure"),
    "app-push": ("docker-build:index:Image", "app"),
    "app-pull": ("kubernetes:core/v1:Secret", "todo-registry"),
}


def test_the_connector_credential_is_used_only_once_arm_lets_it_read(stack: Deployment) -> None:
    # Not a fixed sleep: ARM is asked, as the connector, for its resource group's container groups.
    assert not [s for s in stack.of_type(SLEEP) if "password" in s.inputs["triggers"]]
    gate = stack.one(ARM_GATE, "aci-connector")
    group = output(stack.one(GROUP), "name")
    assert gate.inputs["url"] == (
        f"https://management.azure.com/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{group}"
        "/providers/Microsoft.ContainerInstance/containerGroups?api-version=2023-05-01"
    )
    assert gate.inputs["username"] == output(stack.one(APPLICATION, "aci-connector"), "clientId")
    assert is_secret(gate.inputs["password"])
    assert gate.inputs["revision"] == (
        f"{output(stack.one(PASSWORD, 'aci-connector'), 'keyId')}/"
        f"{stack.one(ROLE_ASSIGNMENT, 'aci-connector').id}"
    )
    # Listing container groups needs Microsoft.ContainerInstance registered.
    assert stack.one(REGISTRATION, "container-instance").urn in gate.dependencies
    # The connector's Secret waits for the gate through the value.
    assert gate.urn in stack.one(*CREDENTIAL_USERS["aci-connector"]).all_dependencies()


@pytest.mark.parametrize(("identity", "actions"), [("app-push", "pull,push"), ("app-pull", "pull")])
def test_registry_credentials_are_used_only_once_the_registry_grants_them(
    stack: Deployment, identity: str, actions: str
) -> None:
    # Not a fixed sleep: the registry's token service is asked until it grants the actions.
    assert not [s for s in stack.of_type(SLEEP) if s.name == identity]
    gate = stack.one(REGISTRY_GATE, identity)
    registry = stack.one("azure-native:containerregistry:Registry")
    assert gate.inputs["server"] == output(registry, "loginServer")
    assert (gate.inputs["repository"], gate.inputs["actions"]) == ("todo", actions)
    assert gate.inputs["username"] == output(stack.one(APPLICATION, identity), "clientId")
    assert is_secret(gate.inputs["password"])
    assert reveal(gate.inputs["password"]) == output(stack.one(PASSWORD, identity), "value")
    # A new password or assignment is asked about again.
    assert gate.inputs["revision"] == (
        f"{output(stack.one(PASSWORD, identity), 'keyId')}/"
        f"{stack.one(ROLE_ASSIGNMENT, identity).id}"
    )
    # Only the push gate reads the registry's permission mode (once is enough).
    assert gate.inputs["registry_id"] == (registry.id if identity == "app-push" else "")
    assert gate.urn in stack.one(*CREDENTIAL_USERS[identity]).all_dependencies()


def test_rotation_settings_reach_every_password() -> None:
    stack = run_program({"gke-aci:credentialRotation": "2", "gke-aci:credentialRotationDays": "30"})
    passwords = stack.of_type(PASSWORD)
    assert {p.name for p in passwords} >= {"aci-connector", "app-push", "app-pull"}
    assert {p.inputs["rotateWhenChanged"]["requested"] for p in passwords} == {"2"}
    rotations = stack.of_type(ROTATING)
    assert {r.name for r in rotations} == {p.name for p in passwords}
    assert {r.inputs["rotationDays"] for r in rotations} == {30}


# --- Cosmos DB ----------------------------------------------------------------------------------


def test_cosmos_has_tls12_continuous_backup_and_no_key_metadata_writes(stack: Deployment) -> None:
    account = stack.one(ACCOUNT).inputs
    assert account["minimalTlsVersion"] == "Tls12"
    assert account["backupPolicy"] == {
        "type": "Continuous",
        "continuousModeProperties": {"tier": "Continuous30Days"},
    }
    assert account["disableKeyBasedMetadataWriteAccess"] is True


def test_the_apps_collection_is_declared_in_the_graph(stack: Deployment) -> None:
    collection = stack.one(COLLECTION)
    assert collection.inputs["collectionName"] == "todos"
    assert collection.inputs["databaseName"] == output(stack.one(DATABASE), "name")
    assert collection.inputs["resource"] == {
        "id": "todos",
        "shardKey": {"_id": "Hash"},
        "indexes": [{"key": {"keys": ["_id"]}}],
    }


def test_the_seed_image_may_still_create_its_collection() -> None:
    stack = run_program({"gke-aci:appImage": "janakiramm/todo"})
    assert stack.one(ACCOUNT).inputs["disableKeyBasedMetadataWriteAccess"] is False


@pytest.mark.parametrize("typ", [GROUP, ACCOUNT, DATABASE, COLLECTION])
def test_stateful_resources_are_protected_and_retained(stack: Deployment, typ: str) -> None:
    registration = stack.one(typ)
    assert registration.protect is True
    assert registration.retain_on_delete is True


def test_unprotecting_the_database_is_one_setting() -> None:
    stack = run_program({"gke-aci:protectDatabase": "false"})
    for typ in (GROUP, ACCOUNT, DATABASE, COLLECTION):
        assert stack.one(typ).protect is False
        assert stack.one(typ).retain_on_delete is False


# --- GKE ------------------------------------------------------------------------------------------


def test_nodes_run_as_a_dedicated_least_privilege_account(stack: Deployment) -> None:
    account = stack.one("gcp:serviceaccount/account:Account")
    assert account.inputs["accountId"] == node_account_id("gke-aci-test", "gke-aci", "dev")
    members = stack.of_type("gcp:projects/iAMMember:IAMMember")
    assert sorted(m.inputs["role"] for m in members) == sorted(NODE_ROLES)
    assert {m.inputs["member"] for m in members} == {output(account, "member")}
    node_config = stack.one(NODE_POOL).inputs["nodeConfig"]
    assert node_config["serviceAccount"] == output(account, "email")
    assert not node_config["serviceAccount"].endswith("-compute@developer.gserviceaccount.com")
    assert {m.urn for m in members} <= stack.one(NODE_POOL).all_dependencies()


def test_the_default_pool_runs_like_the_node_pool(stack: Deployment) -> None:
    cluster = stack.one(CLUSTER)
    pool_config = dict(stack.one(NODE_POOL).inputs["nodeConfig"])
    assert pool_config.pop("machineType") == "e2-standard-2"
    # The default pool GKE runs before it is removed: same account, metadata server, shielded
    # VMs and scope as the node pool.
    assert cluster.inputs["nodeConfig"] == pool_config
    assert cluster.inputs["nodeConfig"]["serviceAccount"] == output(
        stack.one("gcp:serviceaccount/account:Account"), "email"
    )
    assert cluster.inputs["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    # Its nodes start with the account: the cluster waits until the account has its roles.
    members = stack.of_type("gcp:projects/iAMMember:IAMMember")
    assert len(members) == len(NODE_ROLES)
    assert {m.urn for m in members} <= set(cluster.dependencies)


def test_the_default_pools_config_never_diffs_once_the_pool_is_gone(stack: Deployment) -> None:
    assert stack.one(CLUSTER).ignore_changes == ("nodeConfig",)
    assert stack.one(NODE_POOL).ignore_changes == ()


def test_a_first_preview_sends_the_default_pool_the_unknown_account() -> None:
    preview = run_program(preview=True)
    cluster = preview.one(CLUSTER)
    assert reveal(cluster.inputs["nodeConfig"])["serviceAccount"] == UNKNOWN
    account = preview.one("gcp:serviceaccount/account:Account")
    assert account.urn in cluster.property_dependencies["nodeConfig"]


def test_the_cluster_is_labelled_with_its_project_and_stack(stack: Deployment) -> None:
    labels = stack.one(CLUSTER).inputs["resourceLabels"]
    assert labels == {"managed-by": "pulumi", "project": "gke-aci", "stack": "dev"}
    # The same on every run: no clock, no random value.
    assert run_program().one(CLUSTER).inputs["resourceLabels"] == labels


def test_label_values_follow_gcps_rules() -> None:
    assert gcp_label_value("Prod.EU_1") == "prod-eu_1"
    assert gcp_label_value("a" * 80) == "a" * 63
    for value in ("dev", "Team Stack/2", "x." * 40):
        assert re.fullmatch(r"[a-z0-9_-]{0,63}", gcp_label_value(value))


def test_node_account_ids_are_valid_and_per_stack() -> None:
    ids = {
        node_account_id(gcp_project, pulumi_project, stack)
        for gcp_project in ("team-a-1234", "team-b-5678")
        for pulumi_project in ("gke-aci", "gke-aci-fork")
        for stack in ("dev", "prod")
    }
    # One id for each GCP project, Pulumi project and stack, and the same on every run.
    assert len(ids) == 8
    assert node_account_id("team-a-1234", "gke-aci", "dev") in ids
    for account_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", account_id), account_id


def test_nodes_are_shielded_and_behind_the_metadata_server(stack: Deployment) -> None:
    pool = stack.one(NODE_POOL).inputs
    assert pool["nodeConfig"]["shieldedInstanceConfig"] == {
        "enableSecureBoot": True,
        "enableIntegrityMonitoring": True,
    }
    assert pool["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert pool["management"] == {"autoRepair": True, "autoUpgrade": True}


def test_the_cluster_is_hardened(stack: Deployment) -> None:
    cluster = stack.one(CLUSTER).inputs
    assert cluster["enableShieldedNodes"] is True
    assert cluster["enableLegacyAbac"] is False
    assert cluster["masterAuth"] == {"clientCertificateConfig": {"issueClientCertificate": False}}
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    # Dataplane V2 enforces network policies; GKE's Calico add-on stays off.
    assert cluster["networkPolicy"] == {"enabled": False}
    assert cluster["enableIntranodeVisibility"] is True
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    # Private nodes and the control plane's allow-list are settings (tests/test_gke_network.py).


# --- the connector on Kubernetes ------------------------------------------------------------------


def connector_pod(stack: Deployment) -> dict[str, Any]:
    return reveal(stack.one(DEPLOYMENT, "aci-connector").inputs["spec"])["template"]["spec"]


def test_the_connector_runs_unprivileged_on_a_read_only_file_system(stack: Deployment) -> None:
    pod = connector_pod(stack)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # The connector alone (its node guard runs in a pod of its own: tests/test_node_guard.py).
    assert [c["name"] for c in pod["containers"]] == ["virtual-kubelet"]
    assert "hostNetwork" not in pod
    for container in pod["containers"] + pod.get("initContainers", []):
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, container["name"]
        assert set(container["resources"]["limits"]) == {"cpu", "memory"}, container["name"]
        assert set(container["resources"]["requests"]) == {"cpu", "memory"}, container["name"]


def test_the_connector_mounts_a_token_only_because_it_asks_for_one(stack: Deployment) -> None:
    account = stack.one("kubernetes:core/v1:ServiceAccount", "aci-connector").inputs
    assert account["automountServiceAccountToken"] is False
    assert connector_pod(stack)["automountServiceAccountToken"] is True


def test_the_kubelet_api_demands_a_client_certificate_from_the_cluster_ca(
    stack: Deployment,
) -> None:
    pod = connector_pod(stack)
    [container] = [c for c in pod["containers"] if c["name"] == "virtual-kubelet"]
    args = container["args"]
    flag = args.index("--client-verify-ca")
    assert (
        args[flag + 1] == CLUSTER_CA_FILE == "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    )
    # The file is the CA bundle of the projected service account token volume.
    assert pod["automountServiceAccountToken"] is True
    # Never the webhook flag: it lowers the TLS check to "request a certificate". Nor the flag
    # or variable that would undo or replace the check.
    assert not any(a.startswith(("--authentication-token-webhook", "--no-verify-clients"))
                   for a in args)  # fmt: skip
    names = {variable["name"] for variable in container["env"]}
    assert "APISERVER_CA_CERT_LOCATION" not in names


def test_only_konnectivity_agents_reach_the_kubelet_port(stack: Deployment) -> None:
    policy = stack.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "aci-connector").inputs
    template_labels = reveal(stack.one(DEPLOYMENT, "aci-connector").inputs["spec"])["template"][
        "metadata"
    ]["labels"]
    assert policy["metadata"]["namespace"] == "aci-connector"
    assert policy["spec"]["podSelector"] == {"matchLabels": template_labels}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                    },
                    "podSelector": {"matchLabels": {"k8s-app": "konnectivity-agent"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 10250}],
        }
    ]


def test_the_web_pod_is_sized_as_aci_takes_it(stack: Deployment) -> None:
    """Limits equal to requests (ACI refuses a limit above the group's request), and at least the
    1 CPU / 1 GB group ACI documents as its minimum."""
    [container] = reveal(stack.one("kubernetes:core/v1:Pod").inputs["spec"])["containers"]
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert container["resources"]["limits"] == container["resources"]["requests"]


def test_a_known_user_runs_as_itself_and_an_unknown_one_keeps_the_images() -> None:
    assert pod_security(10001) == {
        "seccomp_profile": {"type": "RuntimeDefault"},
        "run_as_non_root": True,
        "run_as_user": 10001,
        "run_as_group": 10001,
        "fs_group": 10001,
    }
    assert pod_security(None) == {"seccomp_profile": {"type": "RuntimeDefault"}}
    assert container_security() == {
        "allow_privilege_escalation": False,
        "privileged": False,
        "read_only_root_filesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container_security(read_only_root=False).get("read_only_root_filesystem") is False
