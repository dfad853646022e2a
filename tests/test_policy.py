"""The CrossGuard policy pack (policy/): each policy on compliant and violating resources, then the
real program's resources, which must all pass.

Validators are called as the analyzer calls them: with ``ResourceValidationArgs`` and a
``report_violation`` callback. Each case runs twice, with plain props and with props wrapped in
the analyzer's unknown-checking proxy (what ``pulumi preview --policy-pack`` passes), and both
must give the same verdict.
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
import yaml
from fake_cloud import Deployment, Registration, reveal, run_program
from hypothesis import given
from hypothesis import strategies as st
from packaging.requirements import Requirement
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policy import policies
from policy.policies import (
    ALL_POLICIES,
    COSMOS_PROTECTED_AND_TLS12,
    GKE_HARDENED,
    NO_BROAD_ROLE_ASSIGNMENT,
    NO_LITERAL_SECRET_ENV,
    NODE_POOL_SERVICE_ACCOUNT,
    WORKLOAD_LIMITS_NO_PRIVILEGED,
    evaluate,
    plain,
    validate_cosmos_account,
    validate_cosmos_mongo_database,
    validate_gke_cluster,
    validate_node_service_account,
    validate_role_assignment,
    validate_role_definition,
    validate_secret_env,
    validate_workload_containers,
    validation_args,
)

POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"
UNKNOWN = UNKNOWN_STRING_VALUE

ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
COSMOS_ACCOUNT = "azure-native:cosmosdb:DatabaseAccount"
COSMOS_DATABASE = "azure-native:cosmosdb:MongoDBResourceMongoDBDatabase"
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
POD = "kubernetes:core/v1:Pod"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

SUBSCRIPTION = "/subscriptions/00000000-1111-2222-3333-444444444444"
GROUP_SCOPE = f"{SUBSCRIPTION}/resourceGroups/gke-aci"
ROLE_DEFINITIONS = f"{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions"
CONTRIBUTOR = f"{ROLE_DEFINITIONS}/b24988ac-6180-42a0-ab88-20f7382dd24c"
OWNER = f"{ROLE_DEFINITIONS}/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
USER_ACCESS_ADMINISTRATOR = f"{ROLE_DEFINITIONS}/18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
NODE_SA = "gke-aci-nodes@gke-aci-test.iam.gserviceaccount.com"

Check = Callable[[ResourceValidationArgs, pulumi_policy.ReportViolation], object]


# --- Helpers ------------------------------------------------------------------------------------


def resource_args(
    resource_type: str, props: dict[str, Any], *, protect: bool = False, proxied: bool = False
) -> ResourceValidationArgs:
    return validation_args(
        resource_type,
        unknown_checking_proxy(props) if proxied else props,
        protect=protect,
        name="subject",
        urn=f"urn:pulumi:test::gke-aci::{resource_type}::subject",
    )


def run_check(check: Check, args: ResourceValidationArgs) -> list[str]:
    messages: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        messages.append(message)

    result = check(args, report)
    assert result is None  # validators are synchronous
    return messages


def violations(
    check: ResourceValidationPolicy | Check,
    resource_type: str,
    props: dict[str, Any],
    *,
    protect: bool = False,
) -> list[str]:
    """The messages ``check`` reports, identical with plain and with analyzer-proxied props."""
    fn: Check = check.validate if isinstance(check, ResourceValidationPolicy) else check
    direct = run_check(fn, resource_args(resource_type, props, protect=protect))
    proxied = run_check(fn, resource_args(resource_type, props, protect=protect, proxied=True))
    assert proxied == direct
    return direct


def one_violation(
    check: ResourceValidationPolicy | Check,
    resource_type: str,
    props: dict[str, Any],
    *,
    protect: bool = False,
) -> str:
    [message] = violations(check, resource_type, props, protect=protect)
    return message


def nest(path: tuple[str, ...], leaf: dict[str, Any]) -> dict[str, Any]:
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


def pod(*containers: dict[str, Any], init: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": list(containers)}
    if init:
        spec["initContainers"] = list(init)
    return {"apiVersion": "v1", "kind": "Pod", "spec": spec}


def container(
    *env: dict[str, Any],
    limits: dict[str, Any] | str | None = None,
    security: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "web",
        "image": "example.azurecr.io/todo@sha256:" + "d1" * 32,
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"} if limits is None else limits},
    }
    if env:
        spec["env"] = list(env)
    if security is not None:
        spec["securityContext"] = security
    return spec


def literal(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def from_secret(name: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": "todo-database", "key": name}}}


# --- The pack -----------------------------------------------------------------------------------


def test_the_pack_has_its_policies_all_mandatory() -> None:
    names = [p.name for p in ALL_POLICIES]
    assert set(names) >= {
        "no-broad-role-assignment",
        "no-literal-secret-env",
        "cosmos-protected-and-tls12",
        "gke-hardened",
        "node-pool-service-account",
        "workload-limits-no-privileged",
        "aci-conformance",
    }
    assert len(set(names)) == len(names)
    assert all(isinstance(p, ResourceValidationPolicy) for p in ALL_POLICIES)
    assert {p.enforcement_level for p in ALL_POLICIES} == {EnforcementLevel.MANDATORY}


def test_the_packs_main_builds_the_policy_pack_from_the_policies_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run policy/__main__.py as Pulumi does (the folder as the program), with a fake pack."""
    built: list[dict[str, Any]] = []

    def fake_pack(**kwargs: Any) -> None:
        built.append(kwargs)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", fake_pack)
    had_policies = "policies" in sys.modules
    try:
        runpy.run_path(str(POLICY_DIR), run_name="__main__")
    finally:
        if not had_policies:
            sys.modules.pop("policies", None)
    [pack] = built
    assert pack["name"] == "gke-aci-security"
    assert pack["enforcement_level"] == EnforcementLevel.MANDATORY
    assert [p.name for p in pack["policies"]] == [p.name for p in ALL_POLICIES]


def test_the_pack_finds_the_projects_core_when_run_from_its_own_folder() -> None:
    """As Pulumi runs it: a process in policy/, with nothing of the project on its path but what
    __main__.py adds; only the gRPC server (PolicyPack) is replaced, by one that lists names."""
    script = (
        "import runpy, pulumi_policy\n"
        "pulumi_policy.PolicyPack = lambda **pack: print(*(p.name for p in pack['policies']))\n"
        "runpy.run_path('.', run_name='__main__')\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    ran = subprocess.run(
        [sys.executable, "-c", script],
        cwd=POLICY_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [p.name for p in ALL_POLICIES]


def test_the_pack_runs_in_its_own_python_virtualenv_with_pinned_sdks() -> None:
    manifest = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    assert manifest["description"]
    lines = (POLICY_DIR / "requirements.txt").read_text().splitlines()
    requirements = [Requirement(line) for line in lines if line.strip()]
    assert {r.name for r in requirements} == {"pulumi-policy", "pulumi"}
    # Each within one major version: a new major of either SDK is a deliberate change.
    for requirement in requirements:
        assert {spec.operator for spec in requirement.specifier} == {">=", "<"}, requirement


def test_the_analyzer_proxy_raises_on_unknowns_and_plain_keeps_them_as_sentinels() -> None:
    """Why validators read props through plain(): the analyzer's proxy raises on an unknown."""
    props = unknown_checking_proxy({"nodeConfig": {"serviceAccount": UNKNOWN}, "list": [UNKNOWN]})
    with pytest.raises(UnknownValueError):
        props["nodeConfig"]["serviceAccount"]
    assert plain(props) == {"nodeConfig": {"serviceAccount": UNKNOWN}, "list": [UNKNOWN]}


def test_evaluate_reports_each_violation_with_its_policy_name() -> None:
    found = evaluate(COSMOS_ACCOUNT, {"minimalTlsVersion": "Tls11"}, protect=False)
    assert len(found) == 2
    assert all(v.startswith("cosmos-protected-and-tls12: ") for v in found)
    assert evaluate(COSMOS_ACCOUNT, {"minimalTlsVersion": "Tls12"}, protect=True) == []
    # Unless told otherwise, a resource is not protected (as the analyzer would say).
    [unprotected] = evaluate(COSMOS_ACCOUNT, {"minimalTlsVersion": "Tls12"})
    assert "protect" in unprotected


def test_evaluate_lists_a_policy_that_could_not_run_on_an_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A policy that reads props straight through the analyzer's proxy is caught, not skipped."""

    def reads_raw(args: ResourceValidationArgs, report: pulumi_policy.ReportViolation) -> None:
        if args.props["spec"]:
            report("never reached", None)

    careless = ResourceValidationPolicy(
        name="careless", description="reads an unknown without plain()", validate=reads_raw
    )
    monkeypatch.setattr(policies, "ALL_POLICIES", [careless])
    [found] = evaluate(POD, {"spec": UNKNOWN})
    assert found.startswith("careless: can't run during preview: ")


def test_evaluate_never_lets_an_unknown_value_skip_a_policy() -> None:
    """Unknowns anywhere a validator reads are decided, not left to the analyzer's advisory."""
    props = {
        "nodeConfig": {
            "serviceAccount": UNKNOWN,
            "shieldedInstanceConfig": {"enableSecureBoot": True},
        },
        "cluster": UNKNOWN,
    }
    assert evaluate(NODE_POOL, props) == []
    assert evaluate(POD, {"spec": UNKNOWN}) == []
    assert evaluate(DEPLOYMENT, {"spec": {"template": {"spec": {"containers": UNKNOWN}}}}) == []


# --- no-broad-role-assignment -------------------------------------------------------------------


def test_a_role_assignment_without_scope_or_role_is_not_a_crash() -> None:
    """Both can be missing while a program is being written; the policy judges what is there."""
    assert violations(NO_BROAD_ROLE_ASSIGNMENT, ROLE_ASSIGNMENT, {"principalId": "p"}) == []
    [message] = violations(NO_BROAD_ROLE_ASSIGNMENT, ROLE_ASSIGNMENT, {"roleDefinitionId": OWNER})
    assert message.startswith("roleDefinitionId ")


def test_a_role_assignment_on_a_resource_group_with_contributor_passes() -> None:
    props = {"scope": GROUP_SCOPE, "roleDefinitionId": CONTRIBUTOR, "principalId": "p"}
    assert violations(NO_BROAD_ROLE_ASSIGNMENT, ROLE_ASSIGNMENT, props) == []
    assert violations(validate_role_assignment, ROLE_ASSIGNMENT, props) == []


@pytest.mark.parametrize(
    "scope",
    [
        SUBSCRIPTION,
        f"{SUBSCRIPTION}/",
        SUBSCRIPTION.upper(),
        "/Subscriptions/my-sub/",
        "/providers/Microsoft.Management/managementGroups/root-mg",
        "/providers/microsoft.management/managementgroups/root-mg/",
        "/",
    ],
)
def test_a_role_assignment_on_a_subscription_or_wider_is_a_violation(scope: str) -> None:
    message = one_violation(
        NO_BROAD_ROLE_ASSIGNMENT, ROLE_ASSIGNMENT, {"scope": scope, "roleDefinitionId": CONTRIBUTOR}
    )
    assert message.startswith("scope ")
    assert "resource group" in message


@pytest.mark.parametrize(
    "scope",
    [
        GROUP_SCOPE,
        f"{GROUP_SCOPE}/",
        f"{GROUP_SCOPE}/providers/Microsoft.ContainerRegistry/registries/todo",
        UNKNOWN,  # the group's id, unknown in a preview
    ],
)
def test_a_role_assignment_below_the_subscription_passes(scope: str) -> None:
    props = {"scope": scope, "roleDefinitionId": CONTRIBUTOR}
    assert violations(NO_BROAD_ROLE_ASSIGNMENT, ROLE_ASSIGNMENT, props) == []


@pytest.mark.parametrize(
    ("role", "title"),
    [
        (OWNER, "Owner"),
        (f"{OWNER}/", "Owner"),
        (f" {OWNER}/ ", "Owner"),
        (OWNER.upper(), "Owner"),
        (USER_ACCESS_ADMINISTRATOR, "User Access Administrator"),
        (
            "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "Owner",
        ),
    ],
)
def test_granting_owner_or_user_access_administrator_is_a_violation(role: str, title: str) -> None:
    message = one_violation(
        NO_BROAD_ROLE_ASSIGNMENT, ROLE_ASSIGNMENT, {"scope": GROUP_SCOPE, "roleDefinitionId": role}
    )
    assert message.startswith("roleDefinitionId ")
    assert f"the {title} role" in message


def test_owner_on_the_subscription_is_two_violations() -> None:
    found = violations(
        NO_BROAD_ROLE_ASSIGNMENT,
        ROLE_ASSIGNMENT,
        {"scope": SUBSCRIPTION, "roleDefinitionId": OWNER},
    )
    assert [m.split(" ", 1)[0] for m in found] == ["scope", "roleDefinitionId"]


@given(
    subscription=st.uuids().map(str),
    upper=st.lists(st.booleans(), min_size=15, max_size=15),
    slash=st.booleans(),
    group=st.from_regex(r"[A-Za-z0-9_\-]{1,20}", fullmatch=True),
)
def test_any_subscription_scope_is_broad_and_any_group_below_it_is_not(
    subscription: str, upper: list[bool], slash: bool, group: str
) -> None:
    prefix = "".join(c.upper() if u else c for c, u in zip("/subscriptions/", upper, strict=True))
    scope = f"{prefix}{subscription}"
    broad = {"scope": scope + ("/" if slash else ""), "roleDefinitionId": CONTRIBUTOR}
    narrow = {"scope": f"{scope}/resourceGroups/{group}", "roleDefinitionId": CONTRIBUTOR}
    assert len(violations(validate_role_assignment, ROLE_ASSIGNMENT, broad)) == 1
    assert violations(validate_role_assignment, ROLE_ASSIGNMENT, narrow) == []


def role_definition(actions: list[str], scopes: list[str]) -> dict[str, Any]:
    return {
        "roleName": "aci-connector",
        "scope": GROUP_SCOPE,
        "permissions": [{"actions": actions, "notActions": []}],
        "assignableScopes": scopes,
    }


def test_a_narrow_custom_role_passes() -> None:
    props = role_definition(
        ["Microsoft.ContainerInstance/containerGroups/*", "Microsoft.Resources/*/read"],
        [GROUP_SCOPE],
    )
    assert violations(NO_BROAD_ROLE_ASSIGNMENT, ROLE_DEFINITION, props) == []


@pytest.mark.parametrize("action", ["*", "*/write", "*/read", " * ", "*/register/action"])
def test_a_custom_role_with_a_root_wildcard_action_is_a_violation(action: str) -> None:
    props = role_definition(["Microsoft.Storage/storageAccounts/read", action], [GROUP_SCOPE])
    message = one_violation(validate_role_definition, ROLE_DEFINITION, props)
    assert message.startswith("permissions[0].actions contains ")


@pytest.mark.parametrize("scope", [SUBSCRIPTION, f"{SUBSCRIPTION}/", "/"])
def test_a_custom_role_assignable_at_subscription_level_is_a_violation(scope: str) -> None:
    props = role_definition(["Microsoft.ContainerInstance/containerGroups/*"], [GROUP_SCOPE, scope])
    message = one_violation(NO_BROAD_ROLE_ASSIGNMENT, ROLE_DEFINITION, props)
    assert message.startswith("assignableScopes contains ")


def test_role_policies_ignore_other_resource_types() -> None:
    props = {"scope": SUBSCRIPTION, "roleDefinitionId": OWNER, "assignableScopes": ["/"]}
    assert violations(NO_BROAD_ROLE_ASSIGNMENT, "azure-native:resources:ResourceGroup", props) == []


# --- no-literal-secret-env ----------------------------------------------------------------------


def test_secrets_from_valuefrom_and_harmless_literals_pass() -> None:
    props = pod(
        container(
            from_secret("DB"),
            literal("PORT", "8080"),
            literal("APISERVER_KEY_LOCATION", "/etc/virtual-kubelet/tls/tls.key"),
            literal("APISERVER_CERT_LOCATION", "/etc/virtual-kubelet/tls/tls.crt"),
            literal("MONGO_HOST", "mongodb://cosmos.mongo.cosmos.azure.com:10255/todo?ssl=true"),
            {"name": "VKUBELET_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        )
    )
    assert violations(NO_LITERAL_SECRET_ENV, POD, props) == []
    assert violations(validate_secret_env, POD, props) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB", "mongodb://account:key@account.mongo.cosmos.azure.com:10255/todo"),
        ("DB", "localhost"),  # the name decides: DB is the app's connection string
        ("DBHOST", "db.internal"),
        ("DATABASE_URL", "postgres://db.internal/app"),
        ("MONGODB_URI", ""),
        ("AZURE_CLIENT_SECRET", "x"),
        ("db_password", "hunter2"),
        ("MYSQL_PASSWD", "hunter2"),
        ("GITHUB_TOKEN", "ghp_x"),
        ("AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountKey=k"),
        ("AWS_ACCESS_KEY_ID", "AKIA"),
        ("OPENAI_API_KEY", "sk-x"),
        ("TLS_PRIVATE_KEY", "k"),
        ("GOOGLE_APPLICATION_CREDENTIALS_JSON", "{}"),
    ],
)
def test_a_literal_value_under_a_secret_name_is_a_violation(name: str, value: str) -> None:
    message = one_violation(NO_LITERAL_SECRET_ENV, POD, pod(container(literal(name, value))))
    assert message.startswith(f"spec.containers[0] ('web').env[0] '{name}' looks like a secret")
    assert "valueFrom" in message


@pytest.mark.parametrize(
    "name", ["APISERVER_KEY_LOCATION", "TOKEN_FILE", "SECRETS_DIR", "API_KEY_PATH"]
)
def test_names_that_hold_a_file_path_are_not_secret_names(name: str) -> None:
    props = pod(container(literal(name, "/var/run/secrets/x")))
    assert violations(NO_LITERAL_SECRET_ENV, POD, props) == []


@pytest.mark.parametrize(
    "value",
    [
        "mongodb://gke-aci-cosmos:FAKEcosmosKEY%2Bwith%2Fslashes%3D%3D@host:10255/todo?ssl=true",
        "redis://:hunter2@cache:6379/0",
        "https://user:pass@example.com/",
        "-----BEGIN EC PRIVATE KEY-----\nMHc...\n-----END EC PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nMIIE...",
    ],
)
def test_a_credential_in_a_literal_value_is_a_violation_whatever_the_name(value: str) -> None:
    message = one_violation(NO_LITERAL_SECRET_ENV, POD, pod(container(literal("SETTINGS", value))))
    assert message.startswith("spec.containers[0] ('web').env[0] 'SETTINGS' has a literal value")
    assert "credential" in message


def test_an_unknown_literal_under_a_secret_name_is_a_violation() -> None:
    message = one_violation(NO_LITERAL_SECRET_ENV, POD, pod(container(literal("DB", UNKNOWN))))
    assert "'DB' looks like a secret and has a literal value (unknown until deployed)" in message


def test_an_unknown_literal_under_a_harmless_name_passes() -> None:
    props = pod(container(literal("ACI_RESOURCE_GROUP", UNKNOWN), literal("PORT", UNKNOWN)))
    assert violations(NO_LITERAL_SECRET_ENV, POD, props) == []


def test_entries_that_are_not_known_yet_do_not_hide_the_next_ones() -> None:
    """In a preview a container or an env entry can be unknown; those after it are still read."""
    env = pod(container({"name": "X"}, literal("DB", "x")))
    env["spec"]["containers"][0]["env"].insert(0, UNKNOWN)
    [message] = violations(NO_LITERAL_SECRET_ENV, POD, env)
    assert message.startswith("spec.containers[0] ('web').env[2] 'DB'")
    containers = pod(container(security={"privileged": True}))
    containers["spec"]["containers"].insert(0, UNKNOWN)
    [message] = violations(WORKLOAD_LIMITS_NO_PRIVILEGED, POD, containers)
    assert message.startswith("spec.containers[1] ('web').securityContext.privileged")


def test_a_spec_that_holds_a_secret_is_still_checked() -> None:
    """The analyzer hands a property that carries a secret as a Secret; the pack looks inside."""
    spec = pod(container(literal("DB", "x"), security={"privileged": True}))["spec"]
    props = {"spec": Secret(spec)}
    assert [m.split(" ", 1)[0] for m in violations(WORKLOAD_LIMITS_NO_PRIVILEGED, POD, props)] == [
        "spec.containers[0]"
    ]
    assert len(violations(NO_LITERAL_SECRET_ENV, POD, props)) == 1


def test_a_secret_name_without_valuefrom_is_a_violation() -> None:
    message = one_violation(NO_LITERAL_SECRET_ENV, POD, pod(container({"name": "DB_PASSWORD"})))
    assert "'DB_PASSWORD' looks like a secret and is not taken from valueFrom" in message


def test_non_workloads_are_not_checked_for_env() -> None:
    secret = {"kind": "Secret", "stringData": {"DB": "mongodb://a:b@c/d"}, "spec": pod()["spec"]}
    assert violations(NO_LITERAL_SECRET_ENV, "kubernetes:core/v1:Secret", secret) == []


# --- cosmos-protected-and-tls12 -----------------------------------------------------------------

COSMOS_PROPS: dict[str, Any] = {
    "kind": "MongoDB",
    "databaseAccountOfferType": "Standard",
    "minimalTlsVersion": "Tls12",
}


def test_a_protected_tls12_cosmos_account_and_protected_database_pass() -> None:
    assert violations(COSMOS_PROTECTED_AND_TLS12, COSMOS_ACCOUNT, COSMOS_PROPS, protect=True) == []
    database = {"accountName": "acct", "resource": {"id": "todo"}}
    assert violations(COSMOS_PROTECTED_AND_TLS12, COSMOS_DATABASE, database, protect=True) == []


def test_an_unprotected_cosmos_account_is_a_violation() -> None:
    message = one_violation(COSMOS_PROTECTED_AND_TLS12, COSMOS_ACCOUNT, COSMOS_PROPS)
    assert "protect" in message
    assert message == one_violation(validate_cosmos_account, COSMOS_ACCOUNT, COSMOS_PROPS)


@pytest.mark.parametrize(
    ("tls", "shown"),
    [("Tls11", "'Tls11'"), ("Tls", "'Tls'"), (None, "not set"), (UNKNOWN, "unknown")],
)
def test_a_cosmos_account_without_tls12_is_a_violation(tls: str | None, shown: str) -> None:
    props = {**COSMOS_PROPS, "minimalTlsVersion": tls}
    if tls is None:
        del props["minimalTlsVersion"]
    message = one_violation(COSMOS_PROTECTED_AND_TLS12, COSMOS_ACCOUNT, props, protect=True)
    assert message.startswith(f"minimalTlsVersion is {shown}: ")
    assert "'Tls12'" in message


def test_an_unprotected_cosmos_mongo_database_is_a_violation() -> None:
    database = {"accountName": "acct", "resource": {"id": "todo"}}
    message = one_violation(validate_cosmos_mongo_database, COSMOS_DATABASE, database)
    assert "protect" in message
    assert violations(COSMOS_PROTECTED_AND_TLS12, COSMOS_DATABASE, database) == [message]


# --- gke-hardened -------------------------------------------------------------------------------


def hardened_cluster(**changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "location": "us-west1-a",
        "removeDefaultNodePool": True,
        "initialNodeCount": 1,
        "workloadIdentityConfig": {"workloadPool": "gke-aci-test.svc.id.goog"},
        "datapathProvider": "ADVANCED_DATAPATH",
        "enableShieldedNodes": True,
    }
    props.update(changes)
    return {k: v for k, v in props.items() if v is not None}


@pytest.mark.parametrize(
    "props",
    [
        hardened_cluster(),
        hardened_cluster(enableShieldedNodes=None),  # missing: GKE's default is on
        hardened_cluster(datapathProvider=None, networkPolicy={"enabled": True}),
        hardened_cluster(workloadIdentityConfig={"workloadPool": UNKNOWN}),  # project output
        hardened_cluster(workloadIdentityConfig=UNKNOWN),  # the whole object unknown
        hardened_cluster(
            enableLegacyAbac=False,
            masterAuth={"clientCertificateConfig": {"issueClientCertificate": False}},
        ),
    ],
)
def test_a_hardened_cluster_passes(props: dict[str, Any]) -> None:
    assert violations(GKE_HARDENED, CLUSTER, props) == []


@pytest.mark.parametrize(
    ("props", "prop"),
    [
        (hardened_cluster(workloadIdentityConfig=None), "workloadIdentityConfig.workloadPool"),
        (hardened_cluster(workloadIdentityConfig={}), "workloadIdentityConfig.workloadPool"),
        (
            hardened_cluster(workloadIdentityConfig={"workloadPool": ""}),
            "workloadIdentityConfig.workloadPool",
        ),
        (hardened_cluster(enableShieldedNodes=False), "enableShieldedNodes"),
        (hardened_cluster(datapathProvider=None), "datapathProvider"),
        (hardened_cluster(datapathProvider="LEGACY_DATAPATH"), "datapathProvider"),
        (
            hardened_cluster(datapathProvider=None, networkPolicy={"enabled": False}),
            "networkPolicy.enabled",
        ),
        (hardened_cluster(enableLegacyAbac=True), "enableLegacyAbac"),
        (
            hardened_cluster(
                masterAuth={"clientCertificateConfig": {"issueClientCertificate": True}}
            ),
            "masterAuth.clientCertificateConfig.issueClientCertificate",
        ),
    ],
)
def test_each_missing_hardening_is_one_violation(props: dict[str, Any], prop: str) -> None:
    message = one_violation(validate_gke_cluster, CLUSTER, props)
    assert prop in message
    assert violations(GKE_HARDENED, CLUSTER, props) == [message]


@pytest.mark.parametrize(
    ("datapath", "shown"), [("LEGACY_DATAPATH", "'LEGACY_DATAPATH'"), (None, "unset")]
)
def test_the_network_policy_message_shows_the_datapath_given(
    datapath: str | None, shown: str
) -> None:
    message = one_violation(
        validate_gke_cluster, CLUSTER, hardened_cluster(datapathProvider=datapath)
    )
    assert f"datapathProvider is {shown}," in message


# --- node-pool-service-account ------------------------------------------------------------------


def node_config(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "machineType": "e2-standard-2",
        "serviceAccount": NODE_SA,
        "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
    }
    config.update(changes)
    return {k: v for k, v in config.items() if v is not None}


def test_a_node_pool_with_a_dedicated_service_account_and_secure_boot_passes() -> None:
    props = {"cluster": "gke", "nodeConfig": node_config()}
    assert violations(NODE_POOL_SERVICE_ACCOUNT, NODE_POOL, props) == []


def test_an_unknown_service_account_passes() -> None:
    """In a preview the new service account's email is an unknown output."""
    props = {"cluster": UNKNOWN, "nodeConfig": node_config(serviceAccount=UNKNOWN)}
    assert violations(NODE_POOL_SERVICE_ACCOUNT, NODE_POOL, props) == []


@pytest.mark.parametrize(
    "service_account",
    [None, "", "default", "123456789012-compute@developer.gserviceaccount.com"],
)
def test_a_node_pool_on_the_default_compute_service_account_is_a_violation(
    service_account: str | None,
) -> None:
    props = {"cluster": "gke", "nodeConfig": node_config(serviceAccount=service_account)}
    message = one_violation(NODE_POOL_SERVICE_ACCOUNT, NODE_POOL, props)
    assert message.startswith("nodeConfig.serviceAccount ")
    assert "Compute Engine default service account" in message


def test_a_node_pool_without_node_config_is_two_violations() -> None:
    found = violations(validate_node_service_account, NODE_POOL, {"cluster": "gke"})
    assert [m.split(" ", 1)[0] for m in found] == [
        "nodeConfig.serviceAccount",
        "nodeConfig.shieldedInstanceConfig.enableSecureBoot",
    ]


@pytest.mark.parametrize("shielded", [None, {}, {"enableSecureBoot": False}])
def test_a_node_pool_without_secure_boot_is_a_violation(shielded: dict[str, Any] | None) -> None:
    props = {"cluster": "gke", "nodeConfig": node_config(shieldedInstanceConfig=shielded)}
    message = one_violation(NODE_POOL_SERVICE_ACCOUNT, NODE_POOL, props)
    assert message.startswith("nodeConfig.shieldedInstanceConfig.enableSecureBoot is not true")


def test_a_cluster_node_config_is_checked_like_a_node_pool() -> None:
    good = hardened_cluster(removeDefaultNodePool=None, nodeConfig=node_config())
    assert violations(NODE_POOL_SERVICE_ACCOUNT, CLUSTER, good) == []
    bad = hardened_cluster(nodeConfig=node_config(serviceAccount="default"))
    message = one_violation(NODE_POOL_SERVICE_ACCOUNT, CLUSTER, bad)
    assert message.startswith("nodeConfig.serviceAccount 'default'")


def test_an_autopilot_cluster_needs_no_node_config() -> None:
    """Autopilot manages its nodes and their service account itself."""
    autopilot = hardened_cluster(removeDefaultNodePool=None, enableAutopilot=True)
    assert violations(NODE_POOL_SERVICE_ACCOUNT, CLUSTER, autopilot) == []


def test_a_cluster_without_node_config_passes_only_if_its_default_pool_is_removed() -> None:
    assert violations(NODE_POOL_SERVICE_ACCOUNT, CLUSTER, hardened_cluster()) == []
    kept = hardened_cluster(removeDefaultNodePool=None)
    message = one_violation(NODE_POOL_SERVICE_ACCOUNT, CLUSTER, kept)
    assert "removeDefaultNodePool" in message


def test_inline_cluster_node_pools_are_checked() -> None:
    props = hardened_cluster(
        removeDefaultNodePool=None,
        nodePools=[{"name": "a", "nodeConfig": node_config()}, {"name": "b"}],
    )
    found = violations(NODE_POOL_SERVICE_ACCOUNT, CLUSTER, props)
    assert [m.split(" ", 1)[0] for m in found] == [
        "nodePools[1].nodeConfig.serviceAccount",
        "nodePools[1].nodeConfig.shieldedInstanceConfig.enableSecureBoot",
    ]


# --- workload-limits-no-privileged --------------------------------------------------------------


def test_a_limited_unprivileged_workload_passes() -> None:
    setup = container(limits={"memory": "64Mi"}, security={"allowPrivilegeEscalation": False})
    props = pod(
        container(security={"privileged": False, "allowPrivilegeEscalation": False}),
        init=({**setup, "name": "setup"},),
    )
    assert violations(WORKLOAD_LIMITS_NO_PRIVILEGED, POD, props) == []
    assert violations(validate_workload_containers, POD, props) == []


@pytest.mark.parametrize(
    ("spec", "missing"),
    [
        ({"name": "web", "image": "todo"}, "no cpu and no memory limit"),
        ({"name": "web", "resources": {"requests": {"cpu": "1"}}}, "no cpu and no memory limit"),
        (container(limits={"memory": "512Mi"}), "no cpu limit"),
        (container(limits={"cpu": "1"}), "no memory limit"),
    ],
)
def test_a_container_without_cpu_and_memory_limits_is_a_violation(
    spec: dict[str, Any], missing: str
) -> None:
    message = one_violation(WORKLOAD_LIMITS_NO_PRIVILEGED, POD, pod(spec))
    assert message.startswith(f"spec.containers[0] ('web').resources.limits has {missing}")


def test_an_init_container_needs_a_memory_limit() -> None:
    no_limits = {"name": "setup", "image": "busybox"}
    message = one_violation(WORKLOAD_LIMITS_NO_PRIVILEGED, POD, pod(container(), init=(no_limits,)))
    assert message.startswith(
        "spec.initContainers[0] ('setup').resources.limits has no memory limit"
    )


def test_unknown_limits_pass() -> None:
    props = pod(container(limits={"cpu": UNKNOWN, "memory": UNKNOWN}), container(limits=UNKNOWN))
    assert violations(WORKLOAD_LIMITS_NO_PRIVILEGED, POD, props) == []


@pytest.mark.parametrize(
    ("security", "prop"),
    [
        ({"privileged": True}, "securityContext.privileged"),
        ({"allowPrivilegeEscalation": True}, "securityContext.allowPrivilegeEscalation"),
    ],
)
def test_a_privileged_or_escalating_container_is_a_violation(
    security: dict[str, Any], prop: str
) -> None:
    props = nest(("spec", "template", "spec"), pod(container(security=security))["spec"])
    message = one_violation(WORKLOAD_LIMITS_NO_PRIVILEGED, DEPLOYMENT, props)
    assert message.startswith(f"spec.template.spec.containers[0] ('web').{prop} is true")


# --- every workload kind -------------------------------------------------------------------------

# Every Kubernetes kind that runs pods, with where its pod spec lives, written from the Kubernetes
# API reference ("Workload Resources", v1.33) rather than read from the pack (which has its own
# table, on purpose: a kind missing there must fail here). PodTemplate is left out: no built-in
# controller runs one.
WORKLOAD_KINDS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


SECRET_ENV = ("DB", "SETTINGS")
UNSAFE_PROPERTIES = (
    "resources.limits",
    "securityContext.privileged",
    "securityContext.allowPrivilegeEscalation",
)


def violating_pod_spec() -> dict[str, Any]:
    """A pod spec that breaks every workload rule: a literal secret and a credential in env, no
    limits, privileged and escalating, in a container and an init container; placed on the
    virtual node with what ACI refuses (args without command, hooks, a startup probe, a tcpSocket
    probe), so that a policy about pods in ACI has something to find too.
    """

    def bad(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "image": "todo",
            "args": ["serve"],
            "env": [
                literal("DB", "mongodb://acct:key@host:10255/todo"),
                literal("SETTINGS", "redis://:hunter2@cache:6379/0"),
            ],
            "securityContext": {"privileged": True, "allowPrivilegeEscalation": True},
            "lifecycle": {"postStart": {"exec": {"command": ["true"]}}},
            "startupProbe": {"tcpSocket": {"port": 8080}},
            "readinessProbe": {"tcpSocket": {"port": 8080}},
        }

    return {
        "containers": [bad("web")],
        "initContainers": [bad("setup")],
        "nodeSelector": {"type": "virtual-kubelet"},
        "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
    }


def subject(message: str) -> str:
    """The property a violation names: what comes before "looks like", "has" or "is"."""
    return re.split(r" (?:looks like|has|is) ", message, maxsplit=1)[0]


def workload_policies() -> list[ResourceValidationPolicy]:
    """The pack's policies that find anything wrong with a violating Pod."""
    spec = violating_pod_spec()
    return [p for p in ALL_POLICIES if violations(p, POD, {"kind": "Pod", "spec": spec})]


def test_the_workload_policies_are_found() -> None:
    """Guards the next test: it covers at least the pack's two workload policies."""
    assert {p.name for p in workload_policies()} >= {
        NO_LITERAL_SECRET_ENV.name,
        WORKLOAD_LIMITS_NO_PRIVILEGED.name,
    }


@pytest.mark.parametrize("resource_type", sorted(WORKLOAD_KINDS))
def test_every_workload_kind_is_held_to_every_workload_policy(resource_type: str) -> None:
    """Whatever a policy finds in a Pod it finds in each kind, at that kind's pod spec."""
    path = WORKLOAD_KINDS[resource_type]
    prefix = ".".join(path)
    props = nest(path, violating_pod_spec())
    for policy in workload_policies():
        in_pod = violations(policy, POD, {"spec": violating_pod_spec()})
        # The Pod's own spec path, wherever a message names it, becomes the kind's.
        expected = [re.sub(r"(^|: )spec\.", rf"\g<1>{prefix}.", m, count=1) for m in in_pod]
        assert violations(policy, resource_type, props) == expected, policy.name
    # What the two known policies report, spelled out: containers and init containers.
    where = [f"{prefix}.containers[0] ('web')", f"{prefix}.initContainers[0] ('setup')"]
    env = [subject(m) for m in violations(NO_LITERAL_SECRET_ENV, resource_type, props)]
    assert env == [f"{w}.env[{i}] '{name}'" for w in where for i, name in enumerate(SECRET_ENV)]
    limits = [subject(m) for m in violations(WORKLOAD_LIMITS_NO_PRIVILEGED, resource_type, props)]
    assert limits == [f"{w}.{prop}" for w in where for prop in UNSAFE_PROPERTIES]


@pytest.mark.parametrize("path", [("spec", "template", "spec"), ("template", "spec")])
def test_a_pod_spec_elsewhere_in_a_pod_is_not_read(path: tuple[str, ...]) -> None:
    """The Pod's own spec is where its containers are; a kind's path is not guessed."""
    assert violations(WORKLOAD_LIMITS_NO_PRIVILEGED, POD, nest(path, violating_pod_spec())) == []


# --- The real stack -----------------------------------------------------------------------------


def violations_for(registration: Registration) -> list[str]:
    """Every policy's verdict on one registered resource, as the analyzer would see it."""
    return evaluate(
        registration.type,
        reveal(registration.inputs),
        registration.protect,
        registration.name,
        registration.urn,
    )


def test_violations_for_sees_a_registrations_type_inputs_and_protect() -> None:
    stack = run_program()
    [account] = [r for r in stack.custom_resources() if r.type == COSMOS_ACCOUNT]
    assert account.protect is True  # protectDatabase defaults to on
    assert [v for v in violations_for(account) if "protect" in v] == []
    unprotected = run_program({"gke-aci:protectDatabase": "false"})
    [account] = [r for r in unprotected.custom_resources() if r.type == COSMOS_ACCOUNT]
    assert [v.split(":", 1)[0] for v in violations_for(account)] == ["cosmos-protected-and-tls12"]


STACKS: dict[str, tuple[dict[str, str] | None, bool]] = {
    "default": (None, False),
    "public-image": ({"gke-aci:appImage": "janakiramm/todo", "gke-aci:appPort": "80"}, False),
    "first-preview": (None, True),
    "aci-replicas": ({"gke-aci:appReplicas": "3"}, False),
    "burst": ({"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "6"}, False),
    "burst-first-preview": ({"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "6"}, True),
    "burst-public-image": (
        {"gke-aci:appPlacement": "burst", "gke-aci:appImage": "janakiramm/todo"},
        False,
    ),
}


@pytest.mark.parametrize("stack_name", list(STACKS))
def test_the_real_stack_violates_no_policy(stack_name: str) -> None:
    config, preview = STACKS[stack_name]
    stack: Deployment = run_program(config, preview=preview)
    assert stack.error is None
    resources = list(stack.custom_resources())
    assert {r.type for r in resources} >= {
        CLUSTER,
        NODE_POOL,
        COSMOS_ACCOUNT,
        ROLE_ASSIGNMENT,
        DEPLOYMENT,
    }
    # The app's pods are checked in every mode: a Pod, or the Deployment named web.
    assert any(r.type == POD for r in resources) or any(
        r.type == DEPLOYMENT and r.inputs["metadata"].get("name") == "web" for r in resources
    )
    found = [f"{r.type} {r.name}: {v}" for r in resources for v in violations_for(r)]
    assert found == []
