"""Every configuration rule: the defaults, each invalid value, and that nothing is created first."""

from __future__ import annotations

import ast
from enum import StrEnum
from pathlib import Path

import pytest
import yaml
from fake_cloud import BASE_CONFIG, PROJECT_DIR, attempt_program

import settings as settings_module
from core.aci_rules.regions import ACI_REGIONS, SOVEREIGN_CLOUD_REGIONS
from settings import (
    DEFAULT_KUBELET_SERVING_IMAGE,
    DEFAULT_NODE_GUARD_IMAGE,
    AciQuota,
    AppPlacement,
    CapacityMode,
    ConfigError,
    Settings,
    declared_settings,
    load_settings,
    provider_config_keys,
    unknown_settings,
)


def load(**overrides: str) -> Settings:
    return load_settings({**BASE_CONFIG, **overrides}.get)


def problems(**overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load(**overrides)
    return raised.value.problems


def test_defaults() -> None:
    settings = load()
    assert settings.gke.zone == "us-west1-a"
    assert settings.gke.node_count == 3
    assert settings.gke.deletion_protection is True
    assert settings.cosmos.location == "westus"
    assert settings.cosmos.capacity_mode is CapacityMode.SERVERLESS
    assert settings.cosmos.protect is True
    # Upstream's release image (azure-aci charts/virtual-kubelet/values.yaml), by a release tag.
    repository, _, tag = settings.connector.image.rpartition(":")
    assert repository == "mcr.microsoft.com/oss/virtual-kubelet/virtual-kubelet"
    assert tag
    assert settings.connector.node_guard_image == DEFAULT_NODE_GUARD_IMAGE
    assert settings.connector.kubelet_serving_image == DEFAULT_KUBELET_SERVING_IMAGE
    assert settings.connector.aci_region == "westus"
    assert settings.app.image is None  # build our own app from app/
    assert settings.app.port == 8080
    assert settings.app.dns_label is None


def test_aci_region_defaults_to_the_azure_location() -> None:
    assert load(**{"azure-native:location": "eastus2"}).connector.aci_region == "eastus2"
    settings = load(**{"azure-native:location": "eastus2", "gke-aci:aciRegion": "westus3"})
    assert settings.connector.aci_region == "westus3"


@pytest.mark.parametrize(
    "image",
    [
        "janakiramm/todo",
        "ghcr.io/example/my--app:1.0",
        "localhost:5000/a__b/c",
        "myreg.azurecr.io/todo@sha512:" + "0" * 128,
        "mcr.microsoft.com/oss/virtual-kubelet/virtual-kubelet:1.6.4",
    ],
)
def test_valid_image_references_are_accepted(image: str) -> None:
    assert load(**{"gke-aci:appImage": image}).app.image == image
    assert load(**{"gke-aci:connectorImage": image}).connector.image == image
    assert load(**{"gke-aci:nodeGuardImage": image}).connector.node_guard_image == image
    serving = load(**{"gke-aci:kubeletServingImage": image}).connector.kubelet_serving_image
    assert serving == image


def test_valid_overrides_are_typed() -> None:
    settings = load(
        **{
            "gke-aci:nodeCount": "5",
            "gke-aci:protectCluster": "false",
            "gke-aci:protectDatabase": "False",
            "gke-aci:cosmosCapacityMode": "provisioned",
            "gke-aci:cosmosProvisionedThroughput": "1000",
            "gke-aci:appPort": "9090",
            "gke-aci:aciDnsLabel": "my-todo-app",
            "gke-aci:appImage": "ghcr.io/example/todo@sha256:" + "a" * 64,
        }
    )
    assert settings.gke.node_count == 5
    assert settings.gke.deletion_protection is False
    assert settings.cosmos.protect is False
    assert settings.cosmos.capacity_mode is CapacityMode.PROVISIONED
    assert settings.cosmos.provisioned_throughput == 1000
    assert settings.app.port == 9090
    assert settings.app.dns_label == "my-todo-app"


INVALID = [
    ("gke-aci:nodeCount", "-1", "whole number from 1 to 1000"),
    ("gke-aci:nodeCount", "0", "whole number from 1 to 1000"),
    ("gke-aci:nodeCount", "three", "whole number from 1 to 1000"),
    ("gcp:zone", "us-west1", "GCP zone"),
    ("gcp:zone", "westus", "GCP zone"),
    ("gcp:project", "My_Project", "Google Cloud project id"),
    ("gke-aci:nodeMachineType", "E2 Standard", "machine type"),
    ("azure-native:location", "West US", "Azure location"),
    ("gke-aci:aciRegion", "westus4", "region the ACI connector accepts"),
    ("gke-aci:appPort", "0", "whole number from 1 to 65535"),
    ("gke-aci:appPort", "70000", "whole number from 1 to 65535"),
    ("gke-aci:appPort", "80", "1024-65535 for the app built from app/"),
    ("gke-aci:aciDnsLabel", "ab", "5-63 lowercase"),
    ("gke-aci:aciDnsLabel", "1todo", "starting with a letter"),
    ("gke-aci:aciDnsLabel", "todo-", "ending with"),
    ("gke-aci:aciDnsLabel", "My-Todo", "lowercase"),
    ("gke-aci:appImage", "Not An Image", "container image reference"),
    ("gke-aci:appImage", "repo/app:tag@sha256:short", "container image reference"),
    ("gke-aci:connectorImage", "UPPER/case", "container image reference"),
    ("gke-aci:nodeGuardImage", "python:3.14 slim", "python interpreter on its PATH"),
    ("gke-aci:nodeGuardImage", "python@sha256:short", "container image reference"),
    ("gke-aci:kubeletServingImage", "python:3.14 slim", "python and openssl on its PATH"),
    ("gke-aci:kubeletServingImage", "python@sha256:short", "container image reference"),
    ("gke-aci:virtualNodeName", "Virtual_Node", "DNS-1123 label"),
    ("gke-aci:cosmosDatabaseName", "todo.db", "letters, digits"),
    ("gke-aci:cosmosCapacityMode", "autoscale", "serverless or provisioned"),
    ("gke-aci:cosmosProvisionedThroughput", "350", "400 to 1000000 in steps of 100"),
    ("gke-aci:cosmosProvisionedThroughput", "450", "400 to 1000000 in steps of 100"),
    ("gke-aci:protectDatabase", "yes", "true or false"),
    ("gke-aci:protectCluster", "1", "true or false"),
    ("gke-aci:credentialRotation", "has space", "1-64 letters"),
    ("gke-aci:credentialRotationDays", "0", "whole number from 7 to 365"),
    ("gke-aci:credentialRotationDays", "400", "whole number from 7 to 365"),
    ("gke-aci:connectorRole", "owner", "custom or contributor"),
    ("gke-aci:privateNodes", "maybe", "true or false"),
    ("gke-aci:authorizedNetworks", "10.0.0.1/8", "IPv4 CIDR blocks"),
    ("gke-aci:authorizedNetworks", "not-a-cidr", "IPv4 CIDR blocks"),
    ("gke-aci:appPlacement", "everywhere", "aci or burst"),
    ("gke-aci:appReplicas", "0", "whole number from 1 to 100"),
    ("gke-aci:appReplicas", "101", "whole number from 1 to 100"),
    ("gke-aci:appReplicas", "2.5", "whole number from 1 to 100"),
    ("gke-aci:appCpu", "0", "positive Kubernetes CPU quantity"),
    ("gke-aci:appCpu", "one", "positive Kubernetes CPU quantity"),
    ("gke-aci:appMemory", "-1Gi", "positive Kubernetes memory quantity"),
    ("gke-aci:appMemory", "1 GB", "positive Kubernetes memory quantity"),
    ("gke-aci:aciQuotaCpu", "0", "whole number from 1 to 10000"),
    ("gke-aci:aciQuotaCpu", "-5", "whole number from 1 to 10000"),
    ("gke-aci:aciQuotaMemory", "0", "positive Kubernetes memory quantity"),
    ("gke-aci:aciQuotaMemory", "lots", "positive Kubernetes memory quantity"),
    ("gke-aci:aciQuotaPods", "0", "whole number from 1 to 5000"),
    ("gke-aci:entryProxyImage", "Envoy Proxy", "container image reference"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), INVALID)
def test_an_invalid_value_names_key_value_and_what_is_allowed(
    key: str, value: str, allowed: str
) -> None:
    [problem] = problems(**{key: value})
    assert problem.startswith(f"{key}: got {value!r}; allowed: ")
    assert allowed in problem


def test_the_app_modes_and_capacity_are_typed() -> None:
    settings = load(
        **{
            "gke-aci:appPlacement": "burst",
            "gke-aci:appReplicas": "12",
            "gke-aci:appCpu": "1500m",
            "gke-aci:appMemory": "2Gi",
            "gke-aci:aciQuotaCpu": "40",
            "gke-aci:aciQuotaMemory": "160Gi",
            "gke-aci:aciQuotaPods": "20",
        }
    )
    assert settings.app.placement is AppPlacement.BURST
    assert (settings.app.replicas, settings.app.cpu, settings.app.memory) == (12, "1500m", "2Gi")
    assert settings.app.single_pod is False
    assert settings.connector.quota == AciQuota(cpu="40", memory="160Gi", pods=20)
    assert load().app.single_pod is True
    assert load(**{"gke-aci:appReplicas": "2"}).app.single_pod is False


@pytest.mark.parametrize("mode", [{"gke-aci:appReplicas": "2"}, {"gke-aci:appPlacement": "burst"}])
def test_a_dns_label_needs_the_single_pod(mode: dict[str, str]) -> None:
    [problem] = problems(**{"gke-aci:aciDnsLabel": "my-todo", **mode})
    assert problem.startswith("gke-aci:aciDnsLabel: got 'my-todo'; allowed: unset unless")


@pytest.mark.parametrize(
    ("config", "most"),
    [
        ({"gke-aci:appReplicas": "100"}, 99),
        ({"gke-aci:appReplicas": "50", "gke-aci:appCpu": "2"}, 49),
        ({"gke-aci:appReplicas": "10", "gke-aci:aciQuotaPods": "10"}, 9),
        ({"gke-aci:appReplicas": "5", "gke-aci:aciQuotaMemory": "4Gi"}, 3),
    ],
)
def test_replicas_only_in_aci_leave_room_in_the_quota_for_a_rollout(
    config: dict[str, str], most: int
) -> None:
    [problem] = problems(**config)
    given = config["gke-aci:appReplicas"]
    assert problem.startswith(f"gke-aci:appReplicas: got '{given}'; allowed: at most {most} ")
    assert "a rollout runs one replica more" in problem
    assert load(**{**config, "gke-aci:appReplicas": str(most)}).app.replicas == most


def test_burst_replicas_are_not_bounded_by_the_aci_quota() -> None:
    settings = load(**{"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "100"})
    assert settings.app.replicas == 100


def test_the_location_is_blamed_when_it_is_not_an_aci_region() -> None:
    [problem] = problems(**{"azure-native:location": "brazilsoutheast"})
    assert problem.startswith("azure-native:location: got 'brazilsoutheast'")
    assert "westus" in problem


def test_a_missing_gcp_project_says_which_command_sets_it() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"gcp:zone": "us-west1-a"}.get)
    [problem] = raised.value.problems
    assert problem.startswith("gcp:project: not set")
    assert "`pulumi config set gcp:project <your-project-id>`" in problem


def test_all_problems_are_reported_in_one_error() -> None:
    found = problems(**{"gke-aci:nodeCount": "-3", "gke-aci:appPort": "99999"})
    assert [p.split(":")[1] for p in found] == ["nodeCount", "appPort"]


def test_the_connector_region_list_is_upstreams_public_cloud_part() -> None:
    # 54 regions in virtual-kubelet/azure-aci v1.6.4 pkg/provider/aci.go validAciRegions, less
    # the 5 of the US Government and China clouds, which the connector cannot sign in to.
    assert len(ACI_REGIONS) == 49
    assert len(ACI_REGIONS | SOVEREIGN_CLOUD_REGIONS) == 54
    assert {"westus", "westus2", "westus3", "eastus", "westeurope"} <= ACI_REGIONS
    assert not any(region.startswith(("usgov", "china")) for region in ACI_REGIONS)


@pytest.mark.parametrize("region", sorted(SOVEREIGN_CLOUD_REGIONS))
@pytest.mark.parametrize("key", ["gke-aci:aciRegion", "azure-native:location"])
def test_a_sovereign_cloud_region_is_refused_in_one_line(key: str, region: str) -> None:
    [problem] = problems(**{key: region})
    assert "\n" not in problem
    assert problem.startswith(f"{key}: got {region!r}; allowed: a public-cloud region")
    assert "Azure public cloud only" in problem
    assert "westus" in problem  # what is allowed is named


@pytest.mark.parametrize(
    "config",
    [
        {"gke-aci:nodeCount": "-1"},
        {"gcp:zone": "nowhere"},
        {"gke-aci:aciRegion": "mars"},
        {"gke-aci:aciRegion": "usgovvirginia"},
        {"gke-aci:aciDnsLabel": "x"},
        {"gcp:project": ""},
        {"gke-aci:appReplicas": "0"},
        {"gke-aci:aciQuotaPods": "0"},
    ],
)
def test_a_bad_value_stops_the_program_before_any_resource(config: dict[str, str]) -> None:
    deployment = attempt_program(config)
    assert isinstance(deployment.error, ConfigError)
    assert deployment.registrations == []


def _declared() -> dict[str, dict[str, object]]:
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    return project["config"]


def test_each_bad_cidr_is_named_by_itself_not_the_whole_list() -> None:
    given = "10.0.0.0/8,1.2.3.4/33,198.51.100.0/24,nope"
    found = problems(**{"gke-aci:authorizedNetworks": given})
    assert [p.split(";")[0] for p in found] == [
        "gke-aci:authorizedNetworks: got '1.2.3.4/33'",
        "gke-aci:authorizedNetworks: got 'nope'",
    ]


def test_every_setting_is_declared_with_type_default_and_description() -> None:
    declared = _declared()
    for key, declaration in declared.items():
        assert {"type", "default", "description"} <= declaration.keys(), key


def test_declared_defaults_match_the_programs_defaults() -> None:
    """`pulumi config` shows Pulumi.yaml's defaults; the program must mean the same values."""
    declared = _declared()
    from_yaml = load(
        **{f"gke-aci:{key}": str(d["default"]).lower() if isinstance(d["default"], bool)
           else str(d["default"]) for key, d in declared.items()}
    )  # fmt: skip
    assert from_yaml == load()


def test_the_program_takes_its_defaults_from_pulumi_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    changed = {
        **settings_module.declared_defaults(),
        "gke-aci:nodeCount": "5",
        "gke-aci:virtualNodeName": "another-node",
        "gke-aci:protectDatabase": "false",
        "gke-aci:appPlacement": "burst",
        "gke-aci:appMemory": "2Gi",
    }
    monkeypatch.setattr(settings_module, "declared_defaults", lambda: changed)
    settings = load()
    assert settings.gke.node_count == 5
    assert settings.connector.virtual_node_name == "another-node"
    assert settings.cosmos.protect is False
    assert settings.app.placement is AppPlacement.BURST
    assert settings.app.memory == "2Gi"


def _literals(tree: ast.AST) -> set[object]:
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}


def test_no_default_is_written_a_second_time_in_the_program() -> None:
    """A default lives in Pulumi.yaml only: settings.py holds none of the distinctive ones (short
    values such as 1 or true are also bounds and flags, and a choice's values are its enum's, so
    those are left out)."""
    choices = {
        member.value
        for enum in vars(settings_module).values()
        if isinstance(enum, type) and issubclass(enum, StrEnum) and enum is not StrEnum
        for member in enum
    }
    distinctive = {
        str(d["default"]) for d in _declared().values() if len(str(d["default"])) > 3
    } - choices
    source = (PROJECT_DIR / "settings.py").read_text()
    assert "aci-connector" in distinctive
    assert distinctive & _literals(ast.parse(source)) == set()


def test_every_setting_the_program_reads_is_declared() -> None:
    read: list[str] = []

    def spy(key: str) -> str | None:
        read.append(key)
        return BASE_CONFIG.get(key)

    load_settings(spy)
    project_keys = {key.split(":", 1)[1] for key in read if key.startswith("gke-aci:")}
    assert project_keys == set(_declared())


def test_the_readme_documents_every_setting() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    missing = [key for key in _declared() if f"`{key}`" not in readme]
    assert missing == []


def test_the_dev_stack_carries_the_seeds_locations() -> None:
    stack = yaml.safe_load(Path(PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    assert stack["config"]["gcp:zone"] == "us-west1-a"
    assert stack["config"]["azure-native:location"] == "westus"


# --- unknown settings ---------------------------------------------------------------------------


def test_every_declared_setting_is_accepted() -> None:
    keys = [f"gke-aci:{name}" for name in _declared()] + list(BASE_CONFIG)
    assert load_settings(BASE_CONFIG.get, keys=keys) == load()


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("gke-aci:nodecount", "nodeCount"),  # the same name in another case comes first
        ("gke-aci:NODECOUNT", "nodeCount"),
        ("gke-aci:nodeCont", "nodeCount"),
        ("gke-aci:cosmosCapacity", "cosmosCapacityMode"),
        ("gke-aci:protectDatabse", "protectDatabase"),
    ],
)
def test_an_unknown_setting_names_the_declared_one_it_resembles(key: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(BASE_CONFIG.get, keys=[*BASE_CONFIG, key])
    assert raised.value.problems == [
        f"{key}: not a setting of this project; did you mean {suggestion}?"
    ]


def test_an_unknown_setting_like_no_other_points_to_pulumi_yaml() -> None:
    assert unknown_settings(["gke-aci:zzzzzz"], declared_settings()) == [
        "gke-aci:zzzzzz: not a setting of this project; see the settings declared in Pulumi.yaml"
    ]


def test_keys_of_other_namespaces_are_left_alone() -> None:
    keys = ["gcp:project", "gcp:region", "azure-native:location", "kubernetes:context", "x:y"]
    assert unknown_settings(keys, declared_settings()) == []


def test_provider_keys_are_checked_against_what_the_provider_reads() -> None:
    assert {"project", "zone", "region", "credentials"} <= provider_config_keys("gcp")
    assert {"location", "subscriptionId", "useOidc"} <= provider_config_keys("azure-native")
    keys = ["gcp:region", "azure-native:subscriptionId", "kubernetes:anything", "gcp:zonee"]
    assert unknown_settings(keys, declared_settings()) == [
        "gcp:zonee: not a setting of the gcp provider; did you mean gcp:zone?"
    ]


def test_unknown_settings_and_bad_values_are_reported_together() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {**BASE_CONFIG, "gke-aci:appPort": "99999"}.get,
            keys=[*BASE_CONFIG, "gke-aci:appPort", "gke-aci:apport", "gke-aci:nodeCunt"],
        )
    assert [p.split(":")[1] for p in raised.value.problems] == ["apport", "nodeCunt", "appPort"]


def test_the_declared_settings_come_from_pulumi_yaml(tmp_path: Path) -> None:
    project_file = tmp_path / "Pulumi.yaml"
    project_file.write_text(
        yaml.safe_dump(
            {
                "name": "gke-aci",
                "config": {
                    "fooBar": {"type": "string", "default": ""},
                    "gke-aci:bazQux": {"type": "integer", "default": 1},
                    "gcp:project": {"value": "p"},
                },
            }
        )
    )
    assert declared_settings(project_file) == {"fooBar", "bazQux"}
    assert declared_settings() == set(_declared())


@pytest.mark.parametrize("preview", [True, False], ids=["first-preview", "update"])
def test_a_misspelt_setting_stops_the_program_before_any_resource(preview: bool) -> None:
    deployment = attempt_program({"gke-aci:nodecount": "0"}, preview=preview)
    assert isinstance(deployment.error, ConfigError)
    assert deployment.error.problems == [
        "gke-aci:nodecount: not a setting of this project; did you mean nodeCount?"
    ]
    assert deployment.registrations == []


def test_the_program_leaves_other_namespaces_to_their_providers() -> None:
    deployment = attempt_program({"gcp:region": "us-west1", "azure-native:tenantId": "t"})
    assert deployment.error is None
    assert deployment.registrations != []
