"""The table of resource types (core/resource_types.py): complete for what the program registers.

Synth's graph, deploy-time estimate and cost, and the fake cloud read every type from it; a type
it lacks is an error that names the type, never a default.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from fake_cloud import COMPUTED, PROJECT_DIR, SAMPLE_STACKS, compute, run_program

from core import resource_types as types
from core.aci_rules import POD_SPEC_PATHS
from core.resource_types import (
    RESOURCE_TYPES,
    Cloud,
    Cost,
    UnknownResourceTypeError,
    kubernetes_token,
    resource_type,
)
from synth.cli import load_stack_config
from synth.cost import estimate_monthly_cost
from synth.engine import Deployment, Registration, reveal
from synth.graph import build_graph, cloud_of
from synth.plan import estimate

# Settings that register types the sample stacks do not.
VARIANTS: dict[str, dict[str, str]] = {
    "private nodes": {"gke-aci:privateNodes": "true"},
    "image as it is, built-in role": {
        "gke-aci:appImage": "janakiramm/todo",
        "gke-aci:connectorRole": "contributor",
    },
    "several replicas in ACI": {"gke-aci:appReplicas": "3"},
}
UNLISTED = "gcp:compute/instance:Instance"


def sample_stack_config(stack: str) -> dict[str, str]:
    return dict(load_stack_config(PROJECT_DIR, stack).values)


@pytest.fixture
def runs() -> dict[str, Deployment]:
    """The real program under the mock engine, for each sample stack and each variant."""
    found = {stack: run_program(sample_stack_config(stack)) for stack in SAMPLE_STACKS}
    found.update({name: run_program(config) for name, config in VARIANTS.items()})
    return found


def test_every_type_a_sample_stack_registers_has_a_row(runs: dict[str, Deployment]) -> None:
    for stack in SAMPLE_STACKS:
        custom = {r.type for r in runs[stack].registrations if r.custom}
        assert custom - RESOURCE_TYPES.keys() == set(), stack
        # Components are not deployed: they group resources and have no row.
        components = {r.type for r in runs[stack].registrations if not r.custom}
        assert all(t.startswith("gke-aci:") for t in components), components


def test_the_table_has_no_row_the_program_never_registers(runs: dict[str, Deployment]) -> None:
    registered = {r.type for run in runs.values() for r in run.registrations if r.custom}
    assert RESOURCE_TYPES.keys() - registered == set()


def test_the_fake_cloud_computes_what_each_row_says(runs: dict[str, Deployment]) -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    for run in runs.values():
        for r in run.custom_resources():
            computed, _ = compute(r.type, reveal(r.inputs), r.name)
            seen[r.type] |= computed.keys()
    assert {t: set(row.computed) for t, row in RESOURCE_TYPES.items()} == dict(seen)
    assert {t for t, row in RESOURCE_TYPES.items() if row.computed} == COMPUTED.keys()


def test_a_type_without_a_row_is_an_error_that_names_it() -> None:
    with pytest.raises(UnknownResourceTypeError, match=f"resource type {UNLISTED} is not in"):
        resource_type(UNLISTED)
    for read in (estimate, cloud_of):
        with pytest.raises(UnknownResourceTypeError, match=UNLISTED):
            read(UNLISTED)
    with pytest.raises(UnknownResourceTypeError, match=UNLISTED):
        compute(UNLISTED, {}, "vm")


def unlisted_deployment() -> Deployment:
    return Deployment([registration(UNLISTED, "vm", {"machineType": "e2-standard-2"})], {})


def test_synth_refuses_a_deployment_with_a_type_without_a_row() -> None:
    with pytest.raises(UnknownResourceTypeError, match=UNLISTED):
        build_graph(unlisted_deployment())
    with pytest.raises(UnknownResourceTypeError, match=UNLISTED):
        estimate_monthly_cost(unlisted_deployment())


def test_every_workload_kind_with_a_row_is_priced_in_aci_when_it_may_run_there() -> None:
    workloads = {kubernetes_token(kind, api) for kind, (api, _, _) in POD_SPEC_PATHS.items()}
    listed = workloads & RESOURCE_TYPES.keys()
    assert listed == {types.POD, types.DEPLOYMENT}
    assert {resource_type(t).cost for t in listed} == {Cost.ACI_WHEN_ON_VIRTUAL_NODE}


def test_each_row_says_where_its_time_comes_from_and_only_clouds_have_flows() -> None:
    for token, row in RESOURCE_TYPES.items():
        assert row.seconds >= 0, token
        assert row.seconds_source, token
        if row.flow is not None:
            assert row.cloud is not Cloud.LOCAL, token


def test_every_token_the_module_names_is_a_row() -> None:
    named = {
        value
        for name, value in vars(types).items()
        if name.isupper() and not name.startswith("_") and isinstance(value, str)
    }
    assert named == RESOURCE_TYPES.keys()


def registration(typ: str, name: str, inputs: dict[str, Any]) -> Registration:
    return Registration(
        urn=f"urn:pulumi:dev::gke-aci::{typ}::{name}",
        id=name,
        type=typ,
        name=name,
        custom=True,
        parent="",
        provider="",
        dependencies=(),
        property_dependencies={},
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
        custom_timeouts={},
        ignore_changes=(),
        additional_secret_outputs=(),
        inputs=inputs,
        outputs=inputs,
    )


def test_the_policy_pack_checks_every_workload_the_aci_rules_know() -> None:
    from policy import policies

    for kind, (api_version, _, _) in POD_SPEC_PATHS.items():
        assert types.kubernetes_token(kind, api_version) in policies.POD_SPEC_PATHS
