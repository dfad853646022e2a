"""Property-based configuration tests: any invalid value stops the program with one clear error
before any resource exists; any valid configuration builds a graph that passes the policy pack.
"""

from __future__ import annotations

import string

from fake_cloud import BASE_CONFIG, attempt_program, reveal
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.aci_rules.regions import ACI_REGIONS
from policy.policies import evaluate
from settings import ConfigError, declared_settings, load_settings, provider_config_keys

LOWER = string.ascii_lowercase
SLOW = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def text_with_one_of(bad: str, alphabet: str = LOWER + string.digits) -> st.SearchStrategy[str]:
    """Otherwise plausible text that contains at least one of the ``bad`` characters."""
    return st.builds(
        lambda head, char, tail: head + char + tail,
        st.text(alphabet, max_size=10),
        st.sampled_from(bad),
        st.text(alphabet, max_size=10),
    )


def out_of_range(low: int, high: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(max_value=low - 1), st.integers(min_value=high + 1)
    ).map(str)  # fmt: skip


def not_in(allowed: set[str]) -> st.SearchStrategy[str]:
    return st.text(LOWER + string.digits + "-", min_size=1, max_size=12).filter(
        lambda v: v.lower() not in allowed
    )


INVALID: dict[str, st.SearchStrategy[str]] = {
    "gke-aci:nodeCount": st.one_of(out_of_range(1, 1000), text_with_one_of("x.,/")),
    "gke-aci:nodeMachineType": text_with_one_of("AZ _/."),
    "gke-aci:protectCluster": not_in({"true", "false"}),
    "gke-aci:privateNodes": not_in({"true", "false"}),
    "gke-aci:authorizedNetworks": st.one_of(
        text_with_one_of("xyz:"), st.sampled_from(["10.0.0.1/8", "300.1.1.0/24", "1.2.3.0/33"])
    ),
    "gke-aci:nodeDiskSizeGb": st.one_of(out_of_range(10, 1000), text_with_one_of("x.,/")),
    "gke-aci:nodeDiskType": not_in({"pd-balanced", "pd-standard", "pd-ssd"}),
    "gke-aci:natRouter": text_with_one_of("A_ ./"),
    "gke-aci:cosmosDatabaseName": text_with_one_of("./$ *"),
    "gke-aci:cosmosCapacityMode": not_in({"serverless", "provisioned"}),
    "gke-aci:cosmosProvisionedThroughput": st.one_of(
        out_of_range(400, 1_000_000),
        st.integers(400, 1_000_000).filter(lambda n: n % 100 != 0).map(str),
    ),
    "gke-aci:protectDatabase": not_in({"true", "false"}),
    "gke-aci:virtualNodeName": text_with_one_of("A_./ "),
    "gke-aci:connectorImage": text_with_one_of(" !#"),
    "gke-aci:nodeGuardImage": text_with_one_of(" !#"),
    "gke-aci:kubeletServingImage": text_with_one_of(" !#"),
    "gke-aci:aciRegion": not_in(set(ACI_REGIONS)),
    "gke-aci:connectorRole": not_in({"custom", "contributor"}),
    "gke-aci:credentialRotation": text_with_one_of(" /:@"),
    "gke-aci:credentialRotationDays": out_of_range(7, 365),
    "gke-aci:appImage": text_with_one_of(" !#"),
    "gke-aci:appPort": out_of_range(1, 65535),
    "gke-aci:aciDnsLabel": st.one_of(text_with_one_of("A_. "), st.text(LOWER, max_size=4)),
    "gcp:zone": text_with_one_of("_ ."),
    "gcp:project": text_with_one_of("_ .A"),
    "azure-native:location": text_with_one_of(" _-"),
}


@st.composite
def invalid_setting(draw: st.DrawFn) -> tuple[str, str]:
    key = draw(st.sampled_from(sorted(INVALID)))
    value = draw(INVALID[key])
    # Blank values mean "unset" and surrounding blanks are trimmed: neither is an invalid value.
    assume(value.strip() == value and value != "")
    return key, value


@SLOW
@given(invalid_setting())
def test_an_invalid_value_gives_one_error_naming_key_value_and_whats_allowed(
    setting: tuple[str, str],
) -> None:
    key, value = setting
    try:
        load_settings({**BASE_CONFIG, key: value}.get)
    except ConfigError as error:
        [problem] = error.problems
        assert problem.startswith(f"{key}: got {value!r}; allowed: ")
        assert len(problem) > len(f"{key}: got {value!r}; allowed: ") + 5
    else:
        raise AssertionError(f"{key}={value!r} was accepted")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invalid_setting())
def test_an_invalid_value_registers_no_resource(setting: tuple[str, str]) -> None:
    key, value = setting
    deployment = attempt_program({key: value})
    assert isinstance(deployment.error, ConfigError)
    assert deployment.registrations == []


# protectDatabase=false is left out: it is the deliberate first step of a teardown, which the
# pack's cosmos-protected-and-tls12 policy rejects by design (README "Teardown").
VALID = st.fixed_dictionaries(
    {},
    optional={
        "gke-aci:nodeCount": st.integers(1, 1000).map(str),
        "gke-aci:nodeMachineType": st.sampled_from(["e2-standard-2", "n2d-highmem-4"]),
        "gke-aci:protectCluster": st.sampled_from(["true", "false"]),
        "gke-aci:privateNodes": st.sampled_from(["true", "false"]),
        "gke-aci:authorizedNetworks": st.sampled_from(["203.0.113.0/24", "198.51.100.7/32"]),
        "gke-aci:nodeDiskSizeGb": st.integers(10, 1000).map(str),
        "gke-aci:nodeDiskType": st.sampled_from(["pd-balanced", "pd-standard", "pd-ssd"]),
        "gke-aci:cosmosDatabaseName": st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True),
        "gke-aci:cosmosCapacityMode": st.sampled_from(["serverless", "provisioned"]),
        "gke-aci:cosmosProvisionedThroughput": st.integers(4, 100).map(lambda n: str(n * 100)),
        "gke-aci:virtualNodeName": st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True),
        "gke-aci:aciRegion": st.sampled_from(sorted(ACI_REGIONS)),
        "gke-aci:connectorRole": st.sampled_from(["custom", "contributor"]),
        "gke-aci:credentialRotation": st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True),
        "gke-aci:credentialRotationDays": st.integers(7, 365).map(str),
        "gke-aci:appImage": st.sampled_from(["janakiramm/todo", "ghcr.io/example/todo:1.2"]),
        "gke-aci:appPort": st.integers(1024, 65535).map(str),
        "gke-aci:aciDnsLabel": st.from_regex(r"[a-z][a-z0-9-]{3,20}[a-z0-9]", fullmatch=True),
    },
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALID)
def test_any_valid_configuration_passes_the_policy_pack(config: dict[str, str]) -> None:
    deployment = attempt_program(config)
    assert deployment.error is None, deployment.error
    violations = [
        f"{r.type} {r.name}: {violation}"
        for r in deployment.custom_resources()
        for violation in evaluate(r.type, reveal(r.inputs), protect=r.protect, name=r.name)
    ]
    assert violations == []


KEY_NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,24}", fullmatch=True)


@SLOW
@given(KEY_NAME)
def test_an_undeclared_project_key_is_an_error_naming_it(name: str) -> None:
    declared = declared_settings()
    assume(name.lower() not in {d.lower() for d in declared})
    key = f"gke-aci:{name}"
    try:
        load_settings(BASE_CONFIG.get, keys=[*BASE_CONFIG, key])
    except ConfigError as error:
        [problem] = error.problems
        assert problem.startswith(f"{key}: not a setting of this project; ")
        suggestion = problem.rpartition("did you mean ")[2].rstrip("?")
        assert "did you mean" not in problem or suggestion in declared
    else:
        raise AssertionError(f"{key} was accepted")


@SLOW
@given(st.sampled_from(["kubernetes", "pulumi", "gke-aci-x", "azuread"]), KEY_NAME)
def test_keys_of_namespaces_the_program_does_not_read_are_never_checked(
    namespace: str, name: str
) -> None:
    settings_ = load_settings(BASE_CONFIG.get, keys=[*BASE_CONFIG, f"{namespace}:{name}"])
    assert settings_ == load_settings(BASE_CONFIG.get)


@SLOW
@given(st.sampled_from(["gcp", "azure-native"]), KEY_NAME)
def test_a_provider_key_is_accepted_exactly_when_the_provider_reads_it(
    namespace: str, name: str
) -> None:
    key = f"{namespace}:{name}"
    try:
        load_settings(BASE_CONFIG.get, keys=[*BASE_CONFIG, key])
    except ConfigError as error:
        [problem] = error.problems
        assert problem.startswith(f"{key}: not a setting of the {namespace} provider; ")
        assert name not in provider_config_keys(namespace)
    else:
        assert name in provider_config_keys(namespace)
