"""The gke-aci security policies (Pulumi CrossGuard), as importable and unit-testable functions.

Each policy is a ``ResourceValidationPolicy`` whose validators are plain functions
``validator(args, report_violation) -> None``. The pack itself (``PolicyPack``, which starts a
gRPC server and blocks) is built only in ``__main__.py``.

Props are the resource's inputs with camelCase names, as the engine sends them. Under
``pulumi preview`` the analyzer wraps them in a proxy that raises ``UnknownValueError`` when an
unknown value is read, which would turn a mandatory policy into an advisory "can't run during
preview" note; so every validator first copies the props with unknown values kept as the unknown
sentinel strings (:func:`plain`) and decides explicitly what an unknown value means:

* a property that must be *set* (a workload pool, a node service account, resource limits) is
  satisfied by an unknown value: it is another resource's output and will be set;
* a property that must *equal* a literal (``minimalTlsVersion``, ``enableSecureBoot``) is not:
  security settings are literals, so an unknown one is reported;
* a property that must *not* be something (``privileged``, ``enableLegacyAbac``) is only reported
  when it is known to be that;
* an env var whose name looks secret is reported unless it comes from ``valueFrom``, whatever
  its literal value is (known, unknown or absent).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

from core.aci_rules import POD_SPEC_PATHS as WORKLOAD_KINDS
from core.aci_rules import aci_violations, virtual_node
from core.resource_types import (
    COSMOS_ACCOUNT,
    COSMOS_MONGO_DATABASE,
    GKE_CLUSTER,
    GKE_NODE_POOL,
    ROLE_ASSIGNMENT,
    ROLE_DEFINITION,
    kubernetes_token,
)

__all__ = [
    "ACI_CONFORMANCE",
    "ALL_POLICIES",
    "COSMOS_PROTECTED_AND_TLS12",
    "GKE_HARDENED",
    "NODE_POOL_SERVICE_ACCOUNT",
    "NO_BROAD_ROLE_ASSIGNMENT",
    "NO_LITERAL_SECRET_ENV",
    "POD_SPEC_PATHS",
    "WORKLOAD_LIMITS_NO_PRIVILEGED",
    "evaluate",
    "is_broad_scope",
    "is_secret_env_name",
    "is_unknown",
    "looks_like_credential",
    "plain",
    "validate_aci_conformance",
    "validate_cosmos_account",
    "validate_cosmos_mongo_database",
    "validate_gke_cluster",
    "validate_node_service_account",
    "validate_role_assignment",
    "validate_role_definition",
    "validate_secret_env",
    "validate_workload_containers",
]

Validator = Callable[[ResourceValidationArgs, ReportViolation], None]

# Where each workload keeps its pod spec, by type token: the ACI rules' table of workloads.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    kubernetes_token(kind, api_version): spec_path
    for kind, (api_version, _, spec_path) in WORKLOAD_KINDS.items()
}

_UNKNOWN_VALUES = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)


# --- Reading props ------------------------------------------------------------------------------


def is_unknown(value: object) -> bool:
    """Whether ``value`` is one of Pulumi's "unknown during preview" sentinels."""
    return isinstance(value, str) and value in _UNKNOWN_VALUES


def plain(value: Any) -> Any:
    """A plain copy of ``value`` (dicts and lists) with unknown values kept as their sentinels.

    Accepts the analyzer's unknown-checking proxies (reading an unknown through them raises) as
    well as plain values, so validators behave the same under the CLI and in unit tests.
    """
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, Mapping):
        result: dict[Any, Any] = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError as unknown:
                result[key] = unknown.unknown_type_sentinel
        return result
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError as unknown:
                items.append(unknown.unknown_type_sentinel)
        return items
    return value


def _get(value: Any, *path: str) -> Any:
    """The value at ``path`` in nested dicts; None when missing, the sentinel when unknown."""
    for key in path:
        if is_unknown(value):
            return value
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _is_set(value: Any) -> bool:
    """Set: present and non-empty, or unknown (another resource's output, set on deploy)."""
    return value is not None and value != "" and value != {} and value != []


def _items(value: Any) -> list[Any]:
    """The elements of a list prop; nothing when it is missing, unknown or not a list."""
    return value if isinstance(value, list) else []


def _props(args: ResourceValidationArgs) -> dict[str, Any]:
    props = plain(args.props)
    return props if isinstance(props, dict) else {}


# --- no-broad-role-assignment -------------------------------------------------------------------

OWNER_ROLE_ID = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
USER_ACCESS_ADMINISTRATOR_ROLE_ID = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
_PRIVILEGED_ROLES = {
    OWNER_ROLE_ID: "Owner",
    USER_ACCESS_ADMINISTRATOR_ROLE_ID: "User Access Administrator",
}

_SUBSCRIPTION_SCOPE = re.compile(r"/subscriptions/[^/]+/?", re.IGNORECASE)
_MANAGEMENT_GROUP_SCOPE = re.compile(
    r"/providers/microsoft\.management/managementgroups/[^/]+/?", re.IGNORECASE
)
_ROOT_SCOPE = re.compile(r"/+")


def is_broad_scope(scope: object) -> str | None:
    """What kind of broad Azure scope ``scope`` is (subscription, management group, root)."""
    if not isinstance(scope, str) or is_unknown(scope):
        return None
    scope = scope.strip()
    if _SUBSCRIPTION_SCOPE.fullmatch(scope):
        return "a whole subscription"
    if _MANAGEMENT_GROUP_SCOPE.fullmatch(scope):
        return "a management group"
    if _ROOT_SCOPE.fullmatch(scope):
        return "the tenant root (/)"
    return None


def validate_role_assignment(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A role assignment must not cover a subscription or wider, nor grant Owner/UAA."""
    if args.resource_type != ROLE_ASSIGNMENT:
        return
    props = _props(args)
    scope = props.get("scope")
    broad = is_broad_scope(scope)
    if broad:
        report_violation(
            f"scope '{scope}' is {broad}: assign the role at the resource group or the resource "
            "the principal needs, not the subscription or above.",
            None,
        )
    role = props.get("roleDefinitionId")
    if isinstance(role, str) and not is_unknown(role):
        role_id = role.strip().rstrip("/").rsplit("/", 1)[-1].lower()
        if role_id in _PRIVILEGED_ROLES:
            report_violation(
                f"roleDefinitionId '{role}' is the {_PRIVILEGED_ROLES[role_id]} role, which can "
                "grant access to others: use a narrower built-in or custom role (e.g. "
                "Contributor on one resource group, AcrPull on one registry).",
                None,
            )


def validate_role_definition(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A custom role must not allow every action, nor be assignable at subscription level."""
    if args.resource_type != ROLE_DEFINITION:
        return
    props = _props(args)
    for index, permission in enumerate(_items(props.get("permissions"))):
        for action in _items(_get(permission, "actions")):
            if (
                isinstance(action, str)
                and not is_unknown(action)
                and action.strip().split("/", 1)[0] == "*"
            ):
                report_violation(
                    f"permissions[{index}].actions contains '{action}', a wildcard over every "
                    "resource provider: list the provider actions the role needs "
                    "(e.g. 'Microsoft.ContainerInstance/containerGroups/*').",
                    None,
                )
    for scope in _items(props.get("assignableScopes")):
        broad = is_broad_scope(scope)
        if broad:
            report_violation(
                f"assignableScopes contains '{scope}', {broad}: make the role assignable only "
                "at the resource groups or resources it is meant for.",
                None,
            )


# --- no-literal-secret-env ----------------------------------------------------------------------

_SECRET_NAME_PARTS = (
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "CREDENTIAL",
    "CONNECTION_STRING",
    "ACCESS_KEY",
    "API_KEY",
    "PRIVATE_KEY",
)
_SECRET_NAMES = frozenset({"DB", "DBHOST", "DATABASE_URL", "MONGODB_URI"})
# Names with these endings hold a file path (e.g. APISERVER_KEY_LOCATION), not the secret.
_PATH_SUFFIXES = ("_LOCATION", "_PATH", "_FILE", "_DIR")

_URI_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.\-]*://[^\s/?#@:]*:[^\s/?#@]+@", re.IGNORECASE)
_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")


def is_secret_env_name(name: str) -> bool:
    """Whether an env var named ``name`` would hold a secret (and so must use ``valueFrom``)."""
    upper = name.strip().upper()
    if upper.endswith(_PATH_SUFFIXES):
        return False
    return upper in _SECRET_NAMES or any(part in upper for part in _SECRET_NAME_PARTS)


def looks_like_credential(value: str) -> bool:
    """Whether ``value`` is a credential: a URI with ``user:password@`` or a PEM private key."""
    return bool(_URI_WITH_PASSWORD.search(value) or _PEM_PRIVATE_KEY.search(value))


def _containers(
    props: dict[str, Any], resource_type: str
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(property path, container, is an init container) for each container of a workload."""
    path = POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return
    pod_spec = _get(props, *path)
    for field, is_init in (("containers", False), ("initContainers", True)):
        for index, container in enumerate(_items(_get(pod_spec, field))):
            if not isinstance(container, dict):
                continue
            name = container.get("name")
            label = f" ('{name}')" if isinstance(name, str) and not is_unknown(name) else ""
            yield f"{'.'.join(path)}.{field}[{index}]{label}", container, is_init


def validate_secret_env(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No secret in a workload's env as a literal ``value``: take it from a Secret."""
    for where, container, _ in _containers(_props(args), args.resource_type):
        for index, env in enumerate(_items(container.get("env"))):
            if not isinstance(env, dict):
                continue
            name = env.get("name")
            value = env.get("value")
            prop = f"{where}.env[{index}]"
            fix = (
                "put it in a Kubernetes Secret and use valueFrom.secretKeyRef (or envFrom) "
                "instead of value."
            )
            secret_name = (
                isinstance(name, str) and not is_unknown(name) and is_secret_env_name(name)
            )
            if secret_name and ("value" in env or env.get("valueFrom") is None):
                if "value" not in env:
                    shown = "is not taken from valueFrom"
                elif is_unknown(value):
                    shown = "has a literal value (unknown until deployed)"
                else:
                    shown = "has a literal value"
                report_violation(f"{prop} '{name}' looks like a secret and {shown}: {fix}", None)
                continue
            if isinstance(value, str) and not is_unknown(value) and looks_like_credential(value):
                label = f" '{name}'" if isinstance(name, str) and not is_unknown(name) else ""
                report_violation(
                    f"{prop}{label} has a literal value that contains a credential "
                    f"(a password in a URI or a private key): {fix}",
                    None,
                )


# --- cosmos-protected-and-tls12 -----------------------------------------------------------------


def validate_cosmos_account(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A Cosmos DB account is protected and accepts TLS 1.2 only."""
    if args.resource_type != COSMOS_ACCOUNT:
        return
    if not args.opts.protect:
        report_violation(
            "the Cosmos DB account is not protected (resource option protect): set "
            "protect=True (config protectDatabase) so it cannot be deleted or replaced.",
            None,
        )
    tls = _props(args).get("minimalTlsVersion")
    if tls != "Tls12":
        shown = "unknown" if is_unknown(tls) else ("not set" if tls is None else f"'{tls}'")
        report_violation(
            f"minimalTlsVersion is {shown}: set minimalTlsVersion to 'Tls12' so clients "
            "cannot connect with TLS 1.0/1.1.",
            None,
        )


def validate_cosmos_mongo_database(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A Cosmos DB MongoDB database is protected."""
    if args.resource_type != COSMOS_MONGO_DATABASE:
        return
    if not args.opts.protect:
        report_violation(
            "the Cosmos DB MongoDB database is not protected (resource option protect): set "
            "protect=True (config protectDatabase) so its data cannot be deleted.",
            None,
        )


# --- gke-hardened -------------------------------------------------------------------------------


def validate_gke_cluster(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A GKE cluster: workload identity, shielded nodes, network policy, no ABAC, no client cert."""
    if args.resource_type != GKE_CLUSTER:
        return
    props = _props(args)
    if not _is_set(_get(props, "workloadIdentityConfig", "workloadPool")):
        report_violation(
            "workloadIdentityConfig.workloadPool is not set: set it to '<project>.svc.id.goog' "
            "so pods use Workload Identity instead of the node's service account.",
            None,
        )
    if props.get("enableShieldedNodes") is False:
        report_violation(
            "enableShieldedNodes is false: remove it or set it to true (shielded GKE nodes).",
            None,
        )
    datapath = props.get("datapathProvider")
    network_policy = _get(props, "networkPolicy", "enabled")
    if datapath != "ADVANCED_DATAPATH" and network_policy is not True:
        report_violation(
            "network policy is not enforced (datapathProvider is "
            f"{'unset' if datapath is None else repr(datapath)}, networkPolicy.enabled is not "
            "true): set datapathProvider to 'ADVANCED_DATAPATH' (Dataplane V2) or "
            "networkPolicy.enabled to true.",
            None,
        )
    if props.get("enableLegacyAbac") is True:
        report_violation(
            "enableLegacyAbac is true: remove it or set it to false; authorize with RBAC only.",
            None,
        )
    if _get(props, "masterAuth", "clientCertificateConfig", "issueClientCertificate") is True:
        report_violation(
            "masterAuth.clientCertificateConfig.issueClientCertificate is true: set it to false; "
            "authenticate to the cluster with Google credentials, not a client certificate.",
            None,
        )


# --- node-pool-service-account ------------------------------------------------------------------

_DEFAULT_COMPUTE_SA_SUFFIX = "-compute@developer.gserviceaccount.com"


def _check_node_config(node_config: Any, prop: str, report_violation: ReportViolation) -> None:
    service_account = _get(node_config, "serviceAccount")
    fix = (
        "set it to the email of a dedicated least-privilege service account (logging, monitoring "
        "and image pull roles only)."
    )
    if not is_unknown(service_account):
        if not _is_set(service_account):
            report_violation(
                f"{prop}.serviceAccount is not set, so the nodes run as the Compute Engine "
                f"default service account (Editor on the project): {fix}",
                None,
            )
        elif not isinstance(service_account, str) or (
            service_account.strip().lower() == "default"
            or service_account.strip().lower().endswith(_DEFAULT_COMPUTE_SA_SUFFIX)
        ):
            report_violation(
                f"{prop}.serviceAccount '{service_account}' is the Compute Engine default "
                f"service account (Editor on the project): {fix}",
                None,
            )
    if _get(node_config, "shieldedInstanceConfig", "enableSecureBoot") is not True:
        report_violation(
            f"{prop}.shieldedInstanceConfig.enableSecureBoot is not true: set it to true so "
            "nodes boot only signed software.",
            None,
        )


def validate_node_service_account(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """GKE nodes run as a dedicated service account with Secure Boot."""
    props = _props(args)
    if args.resource_type == GKE_NODE_POOL:
        _check_node_config(props.get("nodeConfig"), "nodeConfig", report_violation)
        return
    if args.resource_type != GKE_CLUSTER:
        return
    node_config = props.get("nodeConfig")
    if node_config is not None:
        _check_node_config(node_config, "nodeConfig", report_violation)
    node_pools = props.get("nodePools")
    for index, pool in enumerate(_items(node_pools)):
        _check_node_config(
            _get(pool, "nodeConfig"), f"nodePools[{index}].nodeConfig", report_violation
        )
    if (
        node_config is None
        and node_pools is None
        and props.get("removeDefaultNodePool") is not True
        and props.get("enableAutopilot") is not True
    ):
        report_violation(
            "the cluster keeps its default node pool without a nodeConfig, so its nodes run as "
            "the Compute Engine default service account: set removeDefaultNodePool to true and "
            "manage a NodePool with nodeConfig.serviceAccount, or set nodeConfig.serviceAccount.",
            None,
        )


# --- workload-limits-no-privileged --------------------------------------------------------------


def validate_workload_containers(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """Every container has limits and runs unprivileged without privilege escalation."""
    for where, container, is_init in _containers(_props(args), args.resource_type):
        limits = _get(container, "resources", "limits")
        required = ("memory",) if is_init else ("cpu", "memory")
        if not is_unknown(limits):
            missing = [name for name in required if not _is_set(_get(limits, name))]
            if missing:
                report_violation(
                    f"{where}.resources.limits has no {' and no '.join(missing)} limit: set "
                    f"resources.limits ({', '.join(required)}) so one container cannot starve "
                    "the node (or run up the ACI bill).",
                    None,
                )
        if _get(container, "securityContext", "privileged") is True:
            report_violation(
                f"{where}.securityContext.privileged is true: remove it or set it to false; "
                "grant only the capabilities the container needs.",
                None,
            )
        if _get(container, "securityContext", "allowPrivilegeEscalation") is True:
            report_violation(
                f"{where}.securityContext.allowPrivilegeEscalation is true: set it to false.",
                None,
            )


# --- aci-conformance ----------------------------------------------------------------------------

# The stack's default virtual node (`virtualNodeName`); set others with the policy's
# `virtualNodeNames` config (`pulumi preview --policy-pack policy --policy-pack-config ...`).
DEFAULT_VIRTUAL_NODE_NAMES = ("aci-connector",)


def validate_aci_conformance(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A workload that may run on the ACI virtual node meets the ACI rules (core/aci_rules)."""
    if args.resource_type not in POD_SPEC_PATHS:
        return
    props = _props(args)
    props.setdefault("kind", args.resource_type.rsplit(":", 1)[-1])
    names = args.get_config().get("virtualNodeNames") or DEFAULT_VIRTUAL_NODE_NAMES
    nodes = [virtual_node(str(name)) for name in names]
    for violation in aci_violations(props, nodes, is_unknown):
        report_violation(f"ACI would refuse this workload's pods: {violation}", None)


# --- The policies -------------------------------------------------------------------------------

NO_BROAD_ROLE_ASSIGNMENT = ResourceValidationPolicy(
    name="no-broad-role-assignment",
    description=(
        "Azure role assignments are scoped below the subscription and never grant Owner or User "
        "Access Administrator; custom roles allow no '*' actions and are not assignable at "
        "subscription level or above."
    ),
    validate=[validate_role_assignment, validate_role_definition],
    enforcement_level=EnforcementLevel.MANDATORY,
)

NO_LITERAL_SECRET_ENV = ResourceValidationPolicy(
    name="no-literal-secret-env",
    description=(
        "Kubernetes workloads take secrets from Secrets (valueFrom/envFrom), never as literal "
        "env values."
    ),
    validate=validate_secret_env,
    enforcement_level=EnforcementLevel.MANDATORY,
)

COSMOS_PROTECTED_AND_TLS12 = ResourceValidationPolicy(
    name="cosmos-protected-and-tls12",
    description=(
        "The Cosmos DB account and its MongoDB database are protected from deletion; the account "
        "requires TLS 1.2."
    ),
    validate=[validate_cosmos_account, validate_cosmos_mongo_database],
    enforcement_level=EnforcementLevel.MANDATORY,
)

GKE_HARDENED = ResourceValidationPolicy(
    name="gke-hardened",
    description=(
        "GKE clusters use Workload Identity, shielded nodes and network policy enforcement, "
        "without legacy ABAC or client certificates."
    ),
    validate=validate_gke_cluster,
    enforcement_level=EnforcementLevel.MANDATORY,
)

NODE_POOL_SERVICE_ACCOUNT = ResourceValidationPolicy(
    name="node-pool-service-account",
    description=(
        "GKE nodes run as a dedicated service account (not the Compute Engine default) with "
        "Secure Boot."
    ),
    validate=validate_node_service_account,
    enforcement_level=EnforcementLevel.MANDATORY,
)

WORKLOAD_LIMITS_NO_PRIVILEGED = ResourceValidationPolicy(
    name="workload-limits-no-privileged",
    description=(
        "Kubernetes containers set CPU and memory limits (init containers memory) and run "
        "neither privileged nor with privilege escalation."
    ),
    validate=validate_workload_containers,
    enforcement_level=EnforcementLevel.MANDATORY,
)

ACI_CONFORMANCE = ResourceValidationPolicy(
    name="aci-conformance",
    description=(
        "A Pod, Deployment, StatefulSet, Job, CronJob or DaemonSet whose pods may run on the ACI "
        "virtual node (they tolerate virtual-kubelet.io/provider, or select or name the node) "
        "meets what ACI accepts, so it fails here and not minutes later in ACI."
    ),
    validate=validate_aci_conformance,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "virtualNodeNames": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(DEFAULT_VIRTUAL_NODE_NAMES),
            }
        }
    ),
)

ALL_POLICIES: list[ResourceValidationPolicy] = [
    NO_BROAD_ROLE_ASSIGNMENT,
    NO_LITERAL_SECRET_ENV,
    COSMOS_PROTECTED_AND_TLS12,
    GKE_HARDENED,
    NODE_POOL_SERVICE_ACCOUNT,
    WORKLOAD_LIMITS_NO_PRIVILEGED,
    ACI_CONFORMANCE,
]


def validation_args(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    protect: bool = False,
    name: str = "resource",
    urn: str = "",
    config: Mapping[str, Any] | None = None,
) -> ResourceValidationArgs:
    """What the analyzer hands a validator for one resource (options other than protect empty)."""
    return ResourceValidationArgs(
        resource_type=resource_type,
        props=props,
        urn=urn or f"urn:pulumi:stack::project::{resource_type}::{name}",
        name=name,
        opts=PolicyResourceOptions(
            protect=protect,
            ignore_changes=[],
            delete_before_replace=None,
            aliases=[],
            custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
            additional_secret_outputs=[],
            parent=None,
        ),
        provider=None,
        config=config,
    )


def evaluate(
    resource_type: str,
    props: Mapping[str, Any],
    protect: bool = False,
    name: str = "resource",
    urn: str = "",
) -> list[str]:
    """Every violation of every policy for one resource, as ``"<policy>: <message>"``.

    Mirrors the analyzer: ``props`` (plain inputs, secrets revealed, unknowns as sentinels) are
    wrapped in its unknown-checking proxy. A policy that could not run because it read an
    unknown value (the analyzer would only note it as advisory) is listed too, as
    ``"<policy>: can't run during preview: ..."``, so that tests catch it.
    """
    args = validation_args(
        resource_type, unknown_checking_proxy(dict(props)), protect=protect, name=name, urn=urn
    )
    violations: list[str] = []
    for policy in ALL_POLICIES:

        def report(message: str, _urn: str | None = None, policy_name: str = policy.name) -> None:
            violations.append(f"{policy_name}: {message}")

        try:
            policy.validate(args, report)
        except UnknownValueError as unknown:
            violations.append(f"{policy.name}: can't run during preview: {unknown.message}")
    return violations
