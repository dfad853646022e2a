"""The Azure AD identity the ACI connector signs in with from GKE."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import authorization

# Built-in role ids are the same in every subscription.
CONTRIBUTOR_ROLE_ID = "b24988ac-6180-42a0-ab88-20f7382dd24c"


@dataclass(frozen=True)
class ConnectorIdentityArgs:
    display_name: str
    subscription_id: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    # Any change to this value replaces the password (see `credentialRotation`).
    credential_rotation: str


class ConnectorIdentity(pulumi.ComponentResource):
    """An application, its service principal and password, and its role on the resource group.

    Managed identities do not work from GKE, so the connector signs in as a service principal.
    Its role is Contributor scoped to the stack's resource group, where it creates container
    groups, as the seed did. The password is created without an end date (Graph's default of two
    years applies, and no wall-clock value enters the program); changing ``credential_rotation``
    replaces it.
    """

    client_id: pulumi.Output[str]
    client_secret: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    role_assignment_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: ConnectorIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:azure:ConnectorIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        application = azuread.Application(name, display_name=args.display_name, opts=child)
        service_principal = azuread.ServicePrincipal(
            name, client_id=application.client_id, opts=child
        )
        password = azuread.ServicePrincipalPassword(
            name,
            service_principal_id=service_principal.id,
            rotate_when_changed={"rotation": args.credential_rotation},
            opts=child,
        )
        role_assignment = authorization.RoleAssignment(
            name,
            principal_id=service_principal.object_id,
            # A new service principal takes a while to replicate; naming its type lets ARM skip
            # the directory look-up that otherwise fails with PrincipalNotFound.
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=pulumi.Output.concat(
                "/subscriptions/",
                args.subscription_id,
                "/providers/Microsoft.Authorization/roleDefinitions/",
                CONTRIBUTOR_ROLE_ID,
            ),
            scope=args.resource_group_id,
            opts=child,
        )

        self.client_id = application.client_id
        self.client_secret = pulumi.Output.secret(password.value)
        self.principal_id = service_principal.object_id
        self.role_assignment_id = role_assignment.id

        self.register_outputs(
            {
                "clientId": self.client_id,
                "clientSecret": self.client_secret,
                "principalId": self.principal_id,
                "roleAssignmentId": self.role_assignment_id,
            }
        )
