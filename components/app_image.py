"""Our todo app's image: built from app/, pushed to a private registry, pulled by ACI."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker_build as docker_build
from pulumi_azure_native import containerregistry

from components.service_principal import (
    ACR_PULL,
    ACR_PUSH,
    IssuedCredential,
    PropagationCheck,
    ScopedServicePrincipal,
    ScopedServicePrincipalArgs,
    role_definition_id,
)
from dynamic.readiness_gate import RegistryAccessGate
from settings import CredentialSettings

# Relative to the project folder, where Pulumi runs the program: an absolute path would differ
# between machines and show a diff on every `pulumi up` from another checkout.
APP_CONTEXT = "app"
REPOSITORY = "todo"
# Every timestamp in the image: the same source gives the same digest at any time, from any
# checkout (docs/decisions/0009-reproducible-app-image.md). app/Dockerfile defaults to it too.
SOURCE_DATE_EPOCH = "0"


@dataclass(frozen=True)
class AppImageArgs:
    display_name_prefix: str
    subscription_id: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    location: str
    credentials: CredentialSettings
    # Owners of the push and pull identities (see ScopedServicePrincipalArgs.owners).
    owners: Sequence[pulumi.Input[str]]
    # Microsoft.ContainerRegistry registered on the subscription: the registry waits for it.
    registry_registration: pulumi.Resource
    # The stack's non-secret azure-native sign-in settings: the check of the registry's
    # permission mode reads it through ARM as the deployer.
    azure_auth: Mapping[str, str]


@dataclass(frozen=True)
class RegistryPull:
    """A pull-only credential for one registry (a secret password)."""

    server: pulumi.Input[str]
    username: pulumi.Input[str]
    password: pulumi.Input[str]


class AppImage(pulumi.ComponentResource):
    """An Azure Container Registry (Basic), the app's image built and pushed to it, and pulls.

    The registry's admin user stays off. Two service principals hold one role each on this
    registry alone: one with AcrPush, whose credential only the build on the deploying machine
    uses and which never reaches the cluster; one with AcrPull, whose credential the pod uses
    as an image pull secret, which the ACI connector turns into the container group's registry
    credential. ``image`` names the image by digest, so a code change rolls the pod, and an
    unchanged ``app/`` gives the same digest, so no new pod, even when another checkout's file
    modes make pulumi-docker-build build it again.

    Building needs Docker with buildx on the machine that runs ``pulumi up``. Previews do not
    build (``build_on_preview`` is off), so ``pulumi preview`` in CI needs no Docker.
    See docs/decisions/0006-app-image-port-and-registry-credentials.md.
    """

    image: pulumi.Output[str]
    pull: RegistryPull

    def __init__(
        self, name: str, args: AppImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:azure:AppImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        registry = containerregistry.Registry(
            name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            # Registry names are global, 5-50 letters and digits: derived from the resource
            # group's id, so each stack has its own and a second `pulumi up` keeps it.
            registry_name=pulumi.Output.from_input(args.resource_group_id).apply(registry_name),
            sku={"name": containerregistry.SkuName.BASIC},
            admin_user_enabled=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.registry_registration]),
        )

        def granted(actions: str, check_mode: bool) -> PropagationCheck:
            """Waits for the registry's token service to grant ``actions`` to the credential."""

            def check(
                gate_name: str, issued: IssuedCredential, parent: pulumi.Resource
            ) -> pulumi.CustomResource:
                return RegistryAccessGate(
                    gate_name,
                    server=registry.login_server,
                    repository=REPOSITORY,
                    actions=actions,
                    username=issued.client_id,
                    password=issued.client_secret,
                    revision=issued.revision,
                    registry_id=registry.id if check_mode else "",
                    auth=args.azure_auth,
                    opts=pulumi.ResourceOptions(parent=parent),
                )

            return check

        def registry_identity(purpose: str, role: str, actions: str) -> ScopedServicePrincipal:
            return ScopedServicePrincipal(
                f"{name}-{purpose}",
                ScopedServicePrincipalArgs(
                    display_name=f"{args.display_name_prefix}-registry-{purpose}",
                    role_definition_id=role_definition_id(args.subscription_id, role),
                    scope=registry.id,
                    credentials=args.credentials,
                    owners=args.owners,
                    # The push gate also checks, once, that the registry honours the roles.
                    propagation_check=granted(actions, check_mode=purpose == "push"),
                ),
                opts=child,
            )

        # docker push asks for pull and push on the repository; the pod's pull, for pull.
        push = registry_identity("push", ACR_PUSH, "pull,push")
        pull = registry_identity("pull", ACR_PULL, "pull")

        image = docker_build.Image(
            name,
            context={"location": APP_CONTEXT},
            dockerfile={"location": f"{APP_CONTEXT}/Dockerfile"},
            platforms=[docker_build.Platform.LINUX_AMD64],
            # BuildKit stamps the image config and its history with it (BuildKit 0.11+); the
            # Dockerfile stamps every file with it.
            build_args={"SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH},
            tags=[pulumi.Output.concat(registry.login_server, f"/{REPOSITORY}:latest")],
            push=True,
            build_on_preview=False,
            registries=[
                {
                    "address": registry.login_server,
                    "username": push.client_id,
                    "password": push.client_secret,
                }
            ],
            opts=child,
        )

        self.image = pulumi.Output.concat(registry.login_server, f"/{REPOSITORY}@", image.digest)
        self.pull = RegistryPull(
            server=registry.login_server, username=pull.client_id, password=pull.client_secret
        )

        self.register_outputs({"image": self.image, "registryServer": registry.login_server})


def registry_name(resource_group_id: str) -> str:
    """``todo`` and 16 hex digits of the resource group id's hash: globally unique enough."""
    return "todo" + hashlib.sha256(resource_group_id.lower().encode()).hexdigest()[:16]
