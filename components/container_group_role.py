"""The least-privilege role the ACI connector gets on its resource group."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumiverse_time
from pulumi_azure_native import authorization

from components.service_principal import role_definition_id, stable_name

# The Azure calls virtual-kubelet/azure-aci v1.6.4 makes (pkg/client/client_apis.go): get, list,
# create or update and delete container groups, read a container's logs, exec into it.
CONNECTOR_ACTIONS = (
    "Microsoft.ContainerInstance/containerGroups/read",
    "Microsoft.ContainerInstance/containerGroups/write",
    "Microsoft.ContainerInstance/containerGroups/delete",
    "Microsoft.ContainerInstance/containerGroups/containers/logs/read",
    "Microsoft.ContainerInstance/containerGroups/containers/exec/action",
)


@dataclass(frozen=True)
class ContainerGroupRoleArgs:
    # Custom role names are unique in the tenant.
    role_name: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    # ARM checks a role's actions against the resource providers registered on the subscription
    # and refuses unknown ones (InvalidActionOrNotAction, "The resource provider referenced in
    # the action is not returned in the list of providers": azure-powershell issue #9800), so
    # the definition is created only once Microsoft.ContainerInstance is registered.
    container_instance_registration: pulumi.Resource


class ContainerGroupRole(pulumi.ComponentResource):
    """A custom role with only the container group actions, assignable only at one group.

    Contributor on the resource group would also let the connector's credential read the Cosmos
    DB keys, delete the account, or change anything else in the group. This role lets it manage
    container groups there and nothing else.
    """

    role_definition_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: ContainerGroupRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:azure:ContainerGroupRole", name, None, opts)
        definition = authorization.RoleDefinition(
            name,
            # The definition's GUID, derived from where it is defined (see stable_name).
            role_definition_id=stable_name(args.resource_group_id, "aci-connector-role"),
            role_name=args.role_name,
            description="Manage Azure Container Instances container groups (ACI connector)",
            role_type="CustomRole",
            scope=args.resource_group_id,
            assignable_scopes=[args.resource_group_id],
            permissions=[{"actions": list(CONNECTOR_ACTIONS)}],
            # An ordering only: a value from the registration would be unknown in the preview of
            # a re-registration, and scope and assignable scopes replace the role when they change.
            # Role names are unique in the tenant, so a replacement deletes the old one first.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[args.container_instance_registration],
                delete_before_replace=True,
            ),
        )
        # A new custom role takes a moment to replicate; an assignment made at once can fail
        # with RoleDefinitionDoesNotExist.
        replicated = pulumiverse_time.Sleep(
            name,
            create_duration="30s",
            triggers={"definition": definition.id},
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Role assignments name a role by its subscription-level id, whatever scope defined it.
        self.role_definition_id = role_definition_id(
            args.subscription_id,
            pulumi.Output.all(definition.name, replicated.id).apply(lambda values: values[0]),
        )
        self.register_outputs({"roleDefinitionId": self.role_definition_id})
