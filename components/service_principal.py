"""An Azure AD service principal with one role at one scope, and a password to sign in with."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import authorization

# Built-in role ids are the same in every subscription.
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


def builtin_role(subscription_id: pulumi.Input[str], role_id: str) -> pulumi.Output[str]:
    """The full id of a built-in role definition in a subscription."""
    return pulumi.Output.concat(
        "/subscriptions/",
        subscription_id,
        "/providers/Microsoft.Authorization/roleDefinitions/",
        role_id,
    )


@dataclass(frozen=True)
class ScopedServicePrincipalArgs:
    display_name: str
    role_definition_id: pulumi.Input[str]
    scope: pulumi.Input[str]
    # Any change to this value replaces the password (see `credentialRotation`).
    credential_rotation: str


class ScopedServicePrincipal(pulumi.ComponentResource):
    """An application, its service principal and password, and one role assignment.

    Used where something outside Azure must sign in: the ACI connector running in GKE (managed
    identities do not work there) and the registry credentials that push and pull the app's
    image. ``client_secret`` resolves only after the role is assigned. The password is created
    without an end date (Graph's default of two years applies, and no wall-clock value enters
    the program); changing ``credential_rotation`` replaces it.
    """

    client_id: pulumi.Output[str]
    client_secret: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    role_assignment_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: ScopedServicePrincipalArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gke-aci:azuread:ScopedServicePrincipal", name, None, opts)
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
            role_definition_id=args.role_definition_id,
            scope=args.scope,
            opts=child,
        )

        self.client_id = application.client_id
        # The credential is of use only once its role is granted, so it resolves after the role
        # assignment: whatever signs in with it waits for the role through the value itself.
        self.client_secret = pulumi.Output.secret(
            pulumi.Output.all(password.value, role_assignment.id).apply(lambda values: values[0])
        )
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
