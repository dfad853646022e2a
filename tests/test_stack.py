"""The whole program under the fake cloud: every cross-cloud flow, followed end to end."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import pytest
import yaml
from fake_cloud import (
    APP_CLIENT_ID,
    COSMOS_KEY,
    GKE_CA,
    GKE_ENDPOINT,
    POD_IP,
    SP_OBJECT_ID,
    SP_PASSWORD,
    SUBSCRIPTION_ID,
    TENANT_ID,
    Deployment,
    Registration,
    is_secret,
    reveal,
    run_program,
)

from components.service_principal import CONTRIBUTOR
from settings import DEFAULT_CONNECTOR_IMAGE

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
K8S_PROVIDER = "pulumi:providers:kubernetes"
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
COSMOS_ACCOUNT = "azure-native:cosmosdb:DatabaseAccount"
COSMOS_DATABASE = "azure-native:cosmosdb:MongoDBResourceMongoDBDatabase"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
REGISTRATION = "pulumi-python:dynamic/azure:ResourceProviderRegistration"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
POD = "kubernetes:core/v1:Pod"
SECRET = "kubernetes:core/v1:Secret"


@pytest.fixture
def stack() -> Deployment:
    return run_program()


def output(registration: Registration, name: str) -> Any:
    return reveal(registration.outputs[name])


def secret_named(stack: Deployment, name: str) -> Registration:
    return stack.one(SECRET, name)


def container(stack: Deployment, typ: str) -> dict[str, Any]:
    # The connector's Deployment (the node guard's: tests/test_node_guard.py), or the app's pod.
    spec = reveal(stack.one(typ, "aci-connector" if typ == DEPLOYMENT else None).inputs["spec"])
    pod_spec = spec["template"]["spec"] if typ == DEPLOYMENT else spec
    [only] = pod_spec["containers"]
    return only


def env(container_spec: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container_spec["env"]}


# --- GKE -> Kubernetes provider ---------------------------------------------------------------


def test_the_gke_endpoint_and_ca_build_the_kubernetes_providers_kubeconfig(
    stack: Deployment,
) -> None:
    provider = stack.one(K8S_PROVIDER)
    assert is_secret(provider.inputs["kubeconfig"])
    kubeconfig = yaml.safe_load(reveal(provider.inputs["kubeconfig"]))
    [cluster] = kubeconfig["clusters"]
    assert cluster["cluster"]["server"] == f"https://{GKE_ENDPOINT}"
    assert cluster["cluster"]["certificate-authority-data"] == GKE_CA
    [user] = kubeconfig["users"]
    assert user["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert user["user"]["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert user["user"]["exec"]["args"] == ["--use_application_default_credentials"]
    gke = stack.one(CLUSTER)
    assert gke.urn in provider.all_dependencies()
    assert provider.inputs["clusterIdentifier"].endswith(f"/clusters/{output(gke, 'name')}")


def test_the_kubernetes_provider_waits_for_the_node_pool(stack: Deployment) -> None:
    assert stack.one(NODE_POOL).urn in stack.one(K8S_PROVIDER).dependencies


def test_every_kubernetes_object_goes_through_the_gke_provider(stack: Deployment) -> None:
    provider = stack.one(K8S_PROVIDER)
    objects = [r for r in stack.custom_resources() if r.type.startswith("kubernetes:")]
    assert {DEPLOYMENT, POD, SECRET} <= {r.type for r in objects}
    assert {r.provider_urn for r in objects} == {provider.urn}


def test_the_cluster_and_its_node_pool_follow_the_settings(stack: Deployment) -> None:
    cluster = stack.one(CLUSTER).inputs
    assert cluster["location"] == "us-west1-a"
    assert cluster["removeDefaultNodePool"] is True
    assert cluster["deletionProtection"] is True
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "gke-aci-test.svc.id.goog"}
    pool = stack.one(NODE_POOL).inputs
    assert pool["nodeCount"] == 3
    assert pool["location"] == "us-west1-a"
    assert pool["cluster"] == output(stack.one(CLUSTER), "name")
    assert pool["nodeConfig"]["machineType"] == "e2-standard-2"
    assert pool["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}


# --- Azure AD + Azure -> connector ------------------------------------------------------------


def test_the_service_principal_credentials_reach_the_connector(stack: Deployment) -> None:
    credentials = secret_named(stack, "aci-connector-azure")
    assert is_secret(credentials.inputs["stringData"])
    # The connector's AZURE_AUTH_LOCATION file (azure-aci pkg/auth Authentication).
    assert json.loads(reveal(credentials.inputs["stringData"])["credentials.json"]) == {
        "clientId": APP_CLIENT_ID,
        "clientSecret": SP_PASSWORD,
        "tenantId": TENANT_ID,
        "subscriptionId": SUBSCRIPTION_ID,
    }
    connector = container(stack, DEPLOYMENT)
    assert "envFrom" not in connector
    mounts = {m["name"]: m["mountPath"] for m in connector["volumeMounts"]}
    assert (
        env(connector)["AZURE_AUTH_LOCATION"] == f"{mounts['azure-credentials']}/credentials.json"
    )
    volumes = reveal(stack.one(DEPLOYMENT, "aci-connector").inputs["spec"])["template"]["spec"][
        "volumes"
    ]
    [volume] = [v for v in volumes if v["name"] == "azure-credentials"]
    assert volume["secret"]["secretName"] == output(credentials, "metadata")["name"]


def test_the_resource_group_and_region_configure_the_connector(stack: Deployment) -> None:
    variables = env(container(stack, DEPLOYMENT))
    group_name = output(stack.one(RESOURCE_GROUP), "name")
    assert variables["ACI_RESOURCE_GROUP"] == group_name
    assert variables["ACI_REGION"] == "westus"
    deployment = stack.one(DEPLOYMENT, "aci-connector")
    assert stack.one(RESOURCE_GROUP).urn in deployment.all_dependencies()


def test_the_connector_runs_with_the_off_aks_settings(stack: Deployment) -> None:
    connector = container(stack, DEPLOYMENT)
    variables = env(connector)
    assert connector["image"] == DEFAULT_CONNECTOR_IMAGE
    assert connector["args"] == [
        "--nodename",
        "aci-connector",
        "--os",
        "Linux",
        "--client-verify-ca",
        "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
    ]
    assert variables["KUBELET_PORT"] == "10250"
    assert variables["VKUBELET_POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    # The network check passes only with both VNet variables; without a subnet no VNet is used.
    assert variables["ACI_VNET_NAME"]
    assert variables["ACI_VNET_RESOURCE_GROUP"]
    assert "ACI_SUBNET_NAME" not in variables
    assert not {"AZURE_CLIENT_SECRET", "AZURE_CLIENT_ID"} & variables.keys()
    # The mandatory serving certificate is what the pod's step wrote in its in-memory volume
    # (tests/test_connector_pod.py, tests/test_kubelet_serving_process.py).
    [mount] = [m for m in connector["volumeMounts"] if m["name"] == "kubelet-tls"]
    assert variables["APISERVER_CERT_LOCATION"] == f"{mount['mountPath']}/tls.crt"
    assert variables["APISERVER_KEY_LOCATION"] == f"{mount['mountPath']}/tls.key"
    volumes = reveal(stack.one(DEPLOYMENT, "aci-connector").inputs["spec"])["template"]["spec"][
        "volumes"
    ]
    [volume] = [v for v in volumes if v["name"] == "kubelet-tls"]
    assert volume["emptyDir"]["medium"] == "Memory"


def test_the_connector_image_and_node_name_are_the_settings() -> None:
    stack = run_program(
        {"gke-aci:connectorImage": "example.azurecr.io/vk:9", "gke-aci:virtualNodeName": "burst-1"}
    )
    connector = container(stack, DEPLOYMENT)
    assert connector["image"] == "example.azurecr.io/vk:9"
    assert connector["args"][:2] == ["--nodename", "burst-1"]
    spec = reveal(stack.one(POD).inputs["spec"])
    assert spec["nodeSelector"]["kubernetes.io/hostname"] == "burst-1"
    assert stack.stack_outputs["virtualNodeName"] == "burst-1"


def test_the_connector_waits_for_its_role_and_the_provider_registration(
    stack: Deployment,
) -> None:
    deployment = stack.one(DEPLOYMENT, "aci-connector")
    # The wait is carried by values written on the pod template, not by a bare depends_on.
    spec_dependencies = deployment.property_dependencies["spec"]
    assert stack.one(ROLE_ASSIGNMENT, "aci-connector").urn in spec_dependencies
    assert stack.one(REGISTRATION, "container-instance").urn in spec_dependencies
    annotations = reveal(deployment.inputs["spec"])["template"]["metadata"]["annotations"]
    assert (
        annotations["gke-aci.io/role-assignment"] == stack.one(ROLE_ASSIGNMENT, "aci-connector").id
    )
    assert annotations["gke-aci.io/microsoft-containerinstance"] == "Registered"


def test_the_seeds_contributor_role_is_one_setting_away() -> None:
    stack = run_program({"gke-aci:connectorRole": "contributor"})
    assert stack.of_type("azure-native:authorization:RoleDefinition") == []
    assignment = stack.one(ROLE_ASSIGNMENT, "aci-connector").inputs
    assert assignment["principalId"] == SP_OBJECT_ID
    assert assignment["principalType"] == "ServicePrincipal"
    group_name = output(stack.one(RESOURCE_GROUP), "name")
    group_id = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{group_name}"
    assert assignment["scope"] == group_id
    assert assignment["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/"
        f"{CONTRIBUTOR}"
    )


def test_container_instance_is_registered_on_the_subscription(stack: Deployment) -> None:
    registration = stack.one(REGISTRATION, "container-instance").inputs
    assert registration["namespace"] == "Microsoft.ContainerInstance"
    assert registration["subscription_id"] == SUBSCRIPTION_ID


# --- Cosmos DB -> app ---------------------------------------------------------------------------


def test_the_cosmos_account_is_mongodb_on_tls12_and_protected(stack: Deployment) -> None:
    account = stack.one(COSMOS_ACCOUNT)
    assert account.inputs["kind"] == "MongoDB"
    assert account.inputs["minimalTlsVersion"] == "Tls12"
    assert account.inputs["apiProperties"] == {"serverVersion": "7.0"}
    assert account.inputs["capabilities"] == [{"name": "EnableServerless"}]
    assert account.protect is True
    assert stack.one(RESOURCE_GROUP).protect is True
    database = stack.one(COSMOS_DATABASE)
    assert database.protect is True
    assert "options" not in database.inputs
    assert database.inputs["databaseName"] == "todo"
    assert database.inputs["accountName"] == output(account, "name")


def expected_connection_string(stack: Deployment) -> str:
    account = output(stack.one(COSMOS_ACCOUNT), "name")
    return (
        f"mongodb://{account}:{quote_plus(COSMOS_KEY)}@{account}.mongo.cosmos.azure.com:10255/todo"
        f"?ssl=true&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName=@{account}@"
    )


def test_our_app_reads_the_full_connection_string_from_a_mounted_file(stack: Deployment) -> None:
    database_secret = secret_named(stack, "todo-database")
    assert is_secret(database_secret.inputs["stringData"])
    assert reveal(database_secret.inputs["stringData"]) == {"DB": expected_connection_string(stack)}
    web = container(stack, POD)
    variables = env(web)
    # ACI shows plain environment variables in the container group; a secret volume it does not.
    assert variables["DB_FILE"] == "/run/secrets/todo/DB"
    assert "DB" not in variables
    assert {"name": "database", "mountPath": "/run/secrets/todo", "readOnly": True} in web[
        "volumeMounts"
    ]
    volumes = reveal(stack.one(POD).inputs["spec"])["volumes"]
    assert {
        "name": "database",
        "secret": {"secretName": output(database_secret, "metadata")["name"]},
    } in volumes
    assert variables["PORT"] == "8080"


def test_the_seed_image_gets_the_connection_string_in_dbhost() -> None:
    stack = run_program({"gke-aci:appImage": "janakiramm/todo", "gke-aci:appPort": "80"})
    database_secret = secret_named(stack, "todo-database")
    dbhost = reveal(database_secret.inputs["stringData"])["DBHOST"]
    account = output(stack.one(COSMOS_ACCOUNT), "name")
    # The seed appends '/express-todo', which must land in appName after every real option, and
    # its parser takes the key verbatim.
    assert dbhost == (
        f"mongodb://{account}:{COSMOS_KEY}@{account}.mongo.cosmos.azure.com:10255/todo"
        "?ssl=true&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName="
    )
    web = container(stack, POD)
    variables = env(web)
    assert variables["DBHOST"] == {
        "secretKeyRef": {"name": output(database_secret, "metadata")["name"], "key": "DBHOST"}
    }
    assert variables["PORT"] == "80"
    assert "DB" not in variables
    assert web["image"] == "janakiramm/todo"
    assert web["ports"] == [{"name": "http", "containerPort": 80, "protocol": "TCP"}]
    assert "readinessProbe" not in web


def test_another_image_gets_the_full_connection_string_in_db() -> None:
    stack = run_program({"gke-aci:appImage": "ghcr.io/example/todo:1.0", "gke-aci:appPort": "9000"})
    database_secret = secret_named(stack, "todo-database")
    assert reveal(database_secret.inputs["stringData"]) == {"DB": expected_connection_string(stack)}
    web = container(stack, POD)
    assert env(web)["DB"] == {
        "secretKeyRef": {"name": output(database_secret, "metadata")["name"], "key": "DB"}
    }
    assert env(web)["PORT"] == "9000"
    assert web["ports"] == [{"name": "http", "containerPort": 9000, "protocol": "TCP"}]


def test_the_connection_string_waits_for_the_database(stack: Deployment) -> None:
    database_secret = secret_named(stack, "todo-database")
    assert stack.one(COSMOS_DATABASE).urn in database_secret.all_dependencies()


# --- the app on the virtual node ----------------------------------------------------------------


def test_the_web_pod_is_the_seeds_and_lands_on_the_virtual_node(stack: Deployment) -> None:
    pod = stack.one(POD)
    metadata = pod.inputs["metadata"]
    assert metadata["name"] == "web"
    assert metadata["labels"] == {"name": "web", "app": "todoapp"}
    spec = reveal(pod.inputs["spec"])
    assert spec["nodeSelector"]["kubernetes.io/hostname"] == "aci-connector"
    assert {
        "key": "virtual-kubelet.io/provider",
        "operator": "Exists",
        "effect": "NoSchedule",
    } in spec["tolerations"]
    assert spec["automountServiceAccountToken"] is False
    [web] = spec["containers"]
    assert web["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert pod.delete_before_replace is True
    assert pod.custom_timeouts == {"create": "10m", "update": "10m"}
    assert metadata["namespace"] == "todo"
    assert "virtualkubelet.io/dnsnamelabel" not in metadata["annotations"]


def test_the_app_waits_for_the_connector(stack: Deployment) -> None:
    assert stack.one(DEPLOYMENT, "aci-connector").urn in stack.one(POD).all_dependencies()


def test_the_pod_ip_is_the_web_ip_output(stack: Deployment) -> None:
    assert stack.stack_outputs["webIp"] == POD_IP
    assert stack.stack_outputs["webUrl"] == f"http://{POD_IP}:8080"


def test_a_dns_label_annotates_the_pod_and_exports_web_url() -> None:
    stack = run_program({"gke-aci:aciDnsLabel": "my-todo", "gke-aci:aciRegion": "westus2"})
    annotations = stack.one(POD).inputs["metadata"]["annotations"]
    assert annotations["virtualkubelet.io/dnsnamelabel"] == "my-todo"
    assert stack.stack_outputs["webUrl"] == "http://my-todo.westus2.azurecontainer.io:8080"
    stack = run_program(
        {
            "gke-aci:aciDnsLabel": "my-todo",
            "gke-aci:appImage": "janakiramm/todo",
            "gke-aci:appPort": "80",
        }
    )
    assert stack.stack_outputs["webUrl"] == "http://my-todo.westus.azurecontainer.io"


def test_the_stack_exports_what_users_read(stack: Deployment) -> None:
    outputs = stack.stack_outputs
    assert outputs["clusterName"] == output(stack.one(CLUSTER), "name")
    assert outputs["resourceGroupName"] == output(stack.one(RESOURCE_GROUP), "name")
    assert outputs["cosmosAccountName"] == output(stack.one(COSMOS_ACCOUNT), "name")
    assert outputs["virtualNodeName"] == "aci-connector"
    assert is_secret(outputs["kubeconfig"])


# --- shape of the graph -----------------------------------------------------------------------

GCP_OR_K8S = ("gcp:", "kubernetes:", "pulumi:providers:kubernetes", "tls:")
AZURE = ("azure-native:", "azuread:", "pulumi-python:dynamic/azure:")


def test_azure_never_waits_for_gke_and_gke_never_waits_for_azure(stack: Deployment) -> None:
    def cloud(urn: str) -> str:
        typ = stack.by_urn[urn].type if urn in stack.by_urn else ""
        return "gke" if typ.startswith(GCP_OR_K8S) else "azure" if typ.startswith(AZURE) else ""

    for resource in stack.custom_resources():
        deps = {cloud(urn) for urn in stack.transitive_dependencies(resource)} - {""}
        if resource.type.startswith(AZURE):
            assert "gke" not in deps, resource.urn
        if resource.type.startswith(("gcp:", "pulumi:providers:kubernetes")):
            assert "azure" not in deps, resource.urn
    # Kubernetes objects that carry no Azure value do not wait for Azure either.
    namespace = stack.one("kubernetes:core/v1:Namespace", "aci-connector")
    assert {cloud(urn) for urn in stack.transitive_dependencies(namespace)} == {"gke"}


def test_every_resource_belongs_to_a_component(stack: Deployment) -> None:
    components = {r.urn: r.type for r in stack.registrations if r.type.startswith("gke-aci:")}
    assert set(components.values()) >= {
        "gke-aci:azure:AppImage",
        "gke-aci:azure:ContainerGroupRole",
        "gke-aci:azure:Data",
        "gke-aci:azuread:ScopedServicePrincipal",
        "gke-aci:gcp:GkeCluster",
        "gke-aci:kubernetes:AciConnector",
        "gke-aci:kubernetes:NodeGuard",
        "gke-aci:kubernetes:TodoApp",
    }
    orphans = [
        r.name
        for r in stack.custom_resources()
        if r.parent not in components and r.type != REGISTRATION
    ]
    assert orphans == []


# --- settings reach the graph -------------------------------------------------------------------


def test_provisioned_throughput_and_unprotected_database() -> None:
    stack = run_program(
        {
            "gke-aci:cosmosCapacityMode": "provisioned",
            "gke-aci:cosmosProvisionedThroughput": "800",
            "gke-aci:protectDatabase": "false",
            "gke-aci:protectCluster": "false",
            "gke-aci:nodeCount": "1",
        }
    )
    account = stack.one(COSMOS_ACCOUNT)
    assert account.inputs.get("capabilities", []) == []
    assert account.protect is False
    database = stack.one(COSMOS_DATABASE)
    assert database.inputs["options"] == {"throughput": 800}
    assert database.protect is False
    assert stack.one(RESOURCE_GROUP).protect is False
    assert stack.one(CLUSTER).inputs["deletionProtection"] is False
    assert stack.one(NODE_POOL).inputs["nodeCount"] == 1


@pytest.mark.parametrize("config", [{}, {"gke-aci:appImage": "janakiramm/todo"}])
def test_every_secret_a_workload_uses_is_in_its_namespace(config: dict[str, str]) -> None:
    """A Secret in another namespace is one the pod cannot mount: it would never start."""
    stack = run_program(config)
    secrets: dict[str, set[str]] = {}
    for secret in stack.of_type(SECRET):
        metadata = output(secret, "metadata")
        secrets.setdefault(metadata.get("namespace", "default"), set()).add(metadata["name"])
    for workload in (stack.one(DEPLOYMENT, "aci-connector"), stack.one(POD)):
        namespace = reveal(workload.inputs["metadata"])["namespace"]
        spec = reveal(workload.inputs["spec"])
        pod_spec = spec["template"]["spec"] if workload.type == DEPLOYMENT else spec
        used = {v["secret"]["secretName"] for v in pod_spec.get("volumes", []) if "secret" in v}
        used |= {p["name"] for p in pod_spec.get("imagePullSecrets", [])}
        for container in pod_spec["containers"]:
            for variable in container.get("env", []):
                if "secretKeyRef" in variable.get("valueFrom", {}):
                    used.add(variable["valueFrom"]["secretKeyRef"]["name"])
        assert used, workload.name
        assert used <= secrets.get(namespace, set()), (workload.name, namespace)
