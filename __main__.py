"""GKE cluster + Azure Container Instances through a virtual node, as one Pulumi program.

Config in, components wired, outputs out. The clouds build in parallel; they meet only where a
value flows: the GKE endpoint into the Kubernetes provider, the service principal and resource
group into the connector, the Cosmos DB connection string into the app.
"""

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import authorization

from components.aci_connector import (
    AciConnector,
    AciConnectorArgs,
    AzureCredentials,
    AzureReadiness,
)
from components.app_image import AppImage, AppImageArgs
from components.azure_data import AzureData, AzureDataArgs
from components.container_group_role import ContainerGroupRole, ContainerGroupRoleArgs
from components.gke_cluster import GkeCluster, GkeClusterArgs
from components.service_principal import (
    CONTRIBUTOR,
    IssuedCredential,
    ScopedServicePrincipal,
    ScopedServicePrincipalArgs,
    role_definition_id,
)
from components.todo_app import TodoApp, TodoAppArgs
from core.app_contract import COLLECTION, contract_for
from core.app_contract import NAMESPACE as APP_NAMESPACE
from dynamic.provider_registration import ResourceProviderRegistration
from dynamic.readiness_gate import ArmAccessGate, container_groups_url
from settings import ConnectorRole, load_settings
from specs.aci_check import aci_problems

# Validated before any resource exists: a bad value stops here with one message, and so does a
# pod that ACI would refuse (docs/decisions/0007-aci-rules-shared-module.md).
settings = load_settings(checks=[aci_problems])
app_contract = contract_for(settings.app.image)
azure_account = authorization.get_client_config_output()
# Whoever runs `pulumi up` owns the Entra applications it creates, so that an identity allowed only
# to manage what it owns (Application.ReadWrite.OwnedBy) can rotate and delete them later.
entra_owners = [azuread.get_client_config_output().object_id]


def registered(name: str, namespace: str) -> ResourceProviderRegistration:
    """``namespace`` registered on the subscription, before anything of it is created.

    A new subscription has few resource providers registered; azure-native would register a
    missing one itself on MissingSubscriptionRegistration, silently needing the same right, so
    each one the stack uses is registered here, in the graph, where its resources can wait for
    it (docs/decisions/0001-dynamic-provider-for-resource-provider-registration.md).
    """
    return ResourceProviderRegistration(
        name,
        subscription_id=azure_account.subscription_id,
        namespace=namespace,
        auth=settings.azure_auth,
    )


container_instance = registered("container-instance", "Microsoft.ContainerInstance")

gke = GkeCluster("gke", GkeClusterArgs(settings=settings.gke))
# What runs on the cluster reaches it through the provider the cluster's endpoint builds; the
# components' children inherit it.
on_the_cluster = pulumi.ResourceOptions(providers=[gke.provider])

data = AzureData(
    "gke-aci",
    AzureDataArgs(
        settings=settings.cosmos,
        collection_name=COLLECTION,
        documentdb_registration=registered("document-db", "Microsoft.DocumentDB"),
        driver_creates_collections=app_contract.creates_collections,
    ),
)

stack_name = f"{pulumi.get_project()}-{pulumi.get_stack()}"

# The connector creates container groups in the stack's resource group: with a role that allows
# only that (the default), or with Contributor there, as the seed had it.
if settings.connector.role is ConnectorRole.CUSTOM:
    connector_role = ContainerGroupRole(
        "aci-connector",
        ContainerGroupRoleArgs(
            role_name=pulumi.Output.concat(
                stack_name, " ACI connector (", data.resource_group_name, ")"
            ),
            subscription_id=azure_account.subscription_id,
            resource_group_id=data.resource_group_id,
            container_instance_registration=container_instance,
        ),
    ).role_definition_id
else:
    connector_role = role_definition_id(azure_account.subscription_id, CONTRIBUTOR)


def container_groups_readable(
    name: str, issued: IssuedCredential, parent: pulumi.Resource
) -> pulumi.CustomResource:
    """Done once ARM lets the connector's credential list the container groups of its group."""
    return ArmAccessGate(
        name,
        url=container_groups_url(azure_account.subscription_id, data.resource_group_name),
        tenant_id=azure_account.tenant_id,
        username=issued.client_id,
        password=issued.client_secret,
        revision=issued.revision,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[container_instance]),
    )


identity = ScopedServicePrincipal(
    "aci-connector",
    ScopedServicePrincipalArgs(
        display_name=f"{stack_name}-aci-connector",
        role_definition_id=connector_role,
        scope=data.resource_group_id,
        credentials=settings.credentials,
        owners=entra_owners,
        propagation_check=container_groups_readable,
    ),
)

connector = AciConnector(
    "aci-connector",
    AciConnectorArgs(
        settings=settings.connector,
        azure=AzureCredentials(
            client_id=identity.client_id,
            client_secret=identity.client_secret,
            tenant_id=azure_account.tenant_id,
            subscription_id=azure_account.subscription_id,
            resource_group_name=data.resource_group_name,
        ),
        azure_readiness=AzureReadiness(
            role_assignment_id=identity.role_assignment_id,
            container_instance_registration=container_instance.registration_state,
        ),
    ),
    opts=on_the_cluster,
)

# Our own app is built from app/ and shipped through a private registry, unless `appImage`
# names an image to run as it is.
if settings.app.image is None:
    app_image = AppImage(
        "app",
        AppImageArgs(
            display_name_prefix=stack_name,
            subscription_id=azure_account.subscription_id,
            resource_group_name=data.resource_group_name,
            resource_group_id=data.resource_group_id,
            location=settings.cosmos.location,
            credentials=settings.credentials,
            owners=entra_owners,
            registry_registration=registered("container-registry", "Microsoft.ContainerRegistry"),
            azure_auth=settings.azure_auth,
        ),
    )
    image, registry_pull = app_image.image, app_image.pull
else:
    image, registry_pull = settings.app.image, None

app = TodoApp(
    "todo",
    TodoAppArgs(
        settings=settings.app,
        image=image,
        contract=app_contract,
        virtual_node_name=connector.virtual_node_name,
        aci_region=settings.connector.aci_region,
        connection_string=data.connection_string,
        credential_rotation=settings.credentials.rotation,
        registry_pull=registry_pull,
    ),
    opts=on_the_cluster,
)

pulumi.export("webIp", app.web_ip)
pulumi.export("webUrl", app.web_url)
pulumi.export("kubeconfig", gke.kubeconfig)
pulumi.export("clusterName", gke.cluster_name)
pulumi.export("resourceGroupName", data.resource_group_name)
# The subscription the stack deployed to, so `make verify` reads the container groups there.
pulumi.export("azureSubscriptionId", azure_account.subscription_id)
pulumi.export("cosmosAccountName", data.account_name)
pulumi.export("cosmosDatabaseName", data.database_name)
pulumi.export("virtualNodeName", connector.virtual_node_name)
pulumi.export("appNamespace", APP_NAMESPACE)
pulumi.export("appWorkload", app.workload)
pulumi.export("connectorNamespace", connector.namespace)
pulumi.export("connectorDeployment", connector.deployment_name)
