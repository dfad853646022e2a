"""An Azure AD service principal with one role at one scope, and a password to sign in with."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
import pulumiverse_time
from pulumi_azure_native import authorization

from settings import CredentialSettings

# A password stays valid this long after its planned rotation, so a rotation that waits for the
# next `pulumi up` does not lock anything out.
ROTATION_GRACE_DAYS = 30

# Built-in role ids are the same in every subscription.
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


# The namespace of the names derived below. Never change it: every deployed role assignment and
# role definition is named from it, and a new namespace would replace them all.
NAME_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "gke-aci:azure-object-names")


def stable_name(*parts: pulumi.Input[str]) -> pulumi.Output[str]:
    """A GUID derived from the stack and ``parts``: the same on every run, unique per stack.

    Role assignments and role definitions are named by a GUID. A random one would make a run that
    stopped after Azure created the object, but before Pulumi recorded it, fail on retry with
    RoleAssignmentExists or RoleDefinitionWithSameNameExists; a derived one names the very object
    that exists (docs/decisions/0018-fresh-subscription-azure.md). ARM ids are case-insensitive,
    so the parts are compared in lowercase.
    """
    stack = f"{pulumi.get_project()}/{pulumi.get_stack()}"
    return pulumi.Output.all(*parts).apply(
        lambda values: str(
            uuid.uuid5(NAME_NAMESPACE, "|".join([stack, *(str(v).lower() for v in values)]))
        )
    )


def role_definition_id(
    subscription_id: pulumi.Input[str], role_id: pulumi.Input[str]
) -> pulumi.Output[str]:
    """The full id of a role definition (built-in or custom) as role assignments name it."""
    return pulumi.Output.concat(
        "/subscriptions/",
        subscription_id,
        "/providers/Microsoft.Authorization/roleDefinitions/",
        role_id,
    )


@dataclass(frozen=True)
class IssuedCredential:
    """A new credential, before anything knows its role has taken effect."""

    client_id: pulumi.Output[str]
    # Secret.
    client_secret: pulumi.Output[str]
    # Changes when the password or the role assignment does.
    revision: pulumi.Output[str]


# Makes, as a child of ``parent``, a resource that is done once the service that enforces the role
# honours the credential (dynamic/readiness_gate.py RegistryAccessGate).
PropagationCheck = Callable[[str, IssuedCredential, pulumi.Resource], pulumi.CustomResource]


@dataclass(frozen=True)
class ScopedServicePrincipalArgs:
    display_name: str
    role_definition_id: pulumi.Input[str]
    scope: pulumi.Input[str]
    credentials: CredentialSettings
    # Object ids of the application's and service principal's owners: the deployer, so that an
    # identity allowed only to manage what it owns can add, rotate and delete the password.
    owners: Sequence[pulumi.Input[str]]
    # How to learn that the role has reached the service that enforces it, by asking that
    # service with the credential (docs/decisions/0018-fresh-subscription-azure.md).
    propagation_check: PropagationCheck


class ScopedServicePrincipal(pulumi.ComponentResource):
    """An application, its service principal and password, and one role assignment.

    Used where something outside Azure must sign in: the ACI connector running in GKE (managed
    identities do not work there) and the registry credentials that push and pull the app's
    image. ``client_secret`` resolves only after the role is assigned.

    The password rotates on a schedule without a wall-clock value in any input: a pulumiverse-time
    ``Rotating`` resource records its creation time and comes due after ``rotation_days``; the
    first ``pulumi up --refresh`` after that replaces it, and with it the password. The password
    expires ``ROTATION_GRACE_DAYS`` after the planned rotation. Changing ``credentialRotation``
    replaces it at once.
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

        # Without owners the provider makes the caller a temporary owner and removes it after
        # creation (terraform-provider-azuread v3 application_resource.go and
        # service_principal_resource.go), so a deployer without a directory-wide role could no
        # longer add, rotate or delete the password.
        application = azuread.Application(
            name, display_name=args.display_name, owners=list(args.owners), opts=child
        )
        service_principal = azuread.ServicePrincipal(
            name, client_id=application.client_id, owners=list(args.owners), opts=child
        )
        rotation = pulumiverse_time.Rotating(
            name, rotation_days=args.credentials.rotation_days, opts=child
        )
        expiry = pulumiverse_time.Offset(
            name,
            base_rfc3339=rotation.rotation_rfc3339,
            offset_days=ROTATION_GRACE_DAYS,
            opts=child,
        )
        password = azuread.ServicePrincipalPassword(
            name,
            service_principal_id=service_principal.id,
            end_date=expiry.rfc3339,
            rotate_when_changed={
                "scheduled": rotation.id,
                "requested": args.credentials.rotation,
            },
            opts=child,
        )
        role_assignment = authorization.RoleAssignment(
            name,
            role_assignment_name=stable_name(
                args.scope, service_principal.object_id, args.role_definition_id
            ),
            principal_id=service_principal.object_id,
            # A new service principal takes a while to replicate; naming its type lets ARM skip
            # the directory look-up that otherwise fails with PrincipalNotFound.
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=args.role_definition_id,
            scope=args.scope,
            # ARM refuses a second assignment of the same role to the same principal at the same
            # scope, so a replacement (a new name) must delete the old one first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        self.client_id = application.client_id
        # Entra ID and ARM take a while to make a new password and role assignment usable
        # everywhere; a first push or sign-in straight after creation is often refused.
        issued = IssuedCredential(
            client_id=application.client_id,
            client_secret=pulumi.Output.secret(password.value),
            revision=pulumi.Output.concat(password.key_id, "/", role_assignment.id),
        )
        propagation = args.propagation_check(name, issued, self)
        # The credential is of use only once its role is granted and both have propagated, so
        # it resolves after that: whatever signs in with it waits through the value itself.
        self.client_secret = pulumi.Output.secret(
            pulumi.Output.all(password.value, propagation.id).apply(lambda values: values[0])
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
