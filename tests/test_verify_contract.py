"""verify's copy of the shared contract agrees with the program and the app; the budget's rules."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import mongomock
import pytest
from fake_cloud import reveal, run_program

from components.node_guard import NAME as NODE_GUARD_DEPLOYMENT
from core.aci_rules import VIRTUAL_NODE_LABEL, VIRTUAL_NODE_TAINT
from core.app_contract import NAMESPACE, WEB_LABELS
from core.resource_types import POD
from verify import contract
from verify.budget import Budget, BudgetSpentError, Latch, NoAnswerError, bounded
from verify.inputs import parse_outputs

APP_DIR = Path(__file__).resolve().parent.parent / "app"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

from todo.db import TodoStore  # noqa: E402
from todo.served_by import HEADER, ServedBy  # noqa: E402
from todo.web import create_app  # noqa: E402


def test_the_virtual_node_contract_matches_the_program() -> None:
    assert contract.VIRTUAL_NODE_TAINT == ("virtual-kubelet.io/provider", "azure", "NoSchedule")
    assert contract.VIRTUAL_NODE_TAINT[0] == VIRTUAL_NODE_TAINT.key
    assert dict([VIRTUAL_NODE_LABEL]).items() <= contract.virtual_node_labels("vk").items()
    assert contract.virtual_node_labels("vk")["kubernetes.io/hostname"] == "vk"
    assert contract.NODE_GUARD_DEPLOYMENT == NODE_GUARD_DEPLOYMENT


def test_verify_s_defaults_find_the_single_pod_the_program_deploys() -> None:
    """A stack from before the app's outputs existed is the single `web` pod: verify looks for
    it where the program puts it."""
    pod = run_program().one(POD)
    assert pod.inputs["metadata"]["namespace"] == contract.DEFAULT_APP_NAMESPACE
    assert pod.inputs["metadata"]["labels"].items() >= contract.DEFAULT_SELECTOR.items()


def test_the_app_contract_matches_our_app() -> None:
    assert contract.SERVED_BY_HEADER == HEADER
    client: Any = mongomock.MongoClient()
    page = create_app(TodoStore(client["todo"]["todos"])).test_client().get("/")
    assert contract.PAGE_MARKER in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("served_by", "parsed"),
    [
        (ServedBy("web-1", "aci-connector"), {"pod": "web-1", "node": "aci-connector"}),
        (ServedBy("web-1"), {"pod": "web-1"}),
    ],
)
def test_the_header_our_app_sends_is_the_one_verify_reads(
    served_by: ServedBy, parsed: dict[str, str]
) -> None:
    assert contract.parse_served_by(served_by.header_value()) == parsed


def test_container_groups_are_named_as_azure_aci_names_them() -> None:
    assert contract.container_group_name("todo", "web") == "todo-web"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_call_gets_at_most_its_share_and_never_past_the_deadline() -> None:
    clock = Clock()
    budget = Budget(180, clock)
    assert budget.timeouts() == (5.0, 15.0)
    clock.now += 180 - 18 - 3  # 3 s before the cleanup reserve of 18 s
    assert budget.timeouts() == (3.0, pytest.approx(3.0))
    assert budget.timeouts(cleanup=True) == (5.0, 15.0)
    clock.now += 3
    with pytest.raises(BudgetSpentError, match="the time budget of 180 s was spent"):
        budget.timeouts()
    clock.now += 18
    with pytest.raises(BudgetSpentError):
        budget.timeouts(cleanup=True)


def test_a_short_budget_shortens_every_call() -> None:
    assert Budget(8, Clock()).timeouts() == (1.0, 1.0)


def test_a_latch_reports_the_first_failure_once_then_repeats_it() -> None:
    latch = Latch()
    latch.check()
    first = latch.trip("no answer from x")
    assert (str(first), first.repeat) == ("no answer from x", False)
    with pytest.raises(NoAnswerError) as again:
        latch.check()
    assert (str(again.value), again.value.repeat) == ("no answer from x", True)
    preset = Latch("plugin failed")
    with pytest.raises(NoAnswerError) as first_check:
        preset.check()
    assert first_check.value.repeat is False


def test_bounded_returns_raises_or_gives_up() -> None:
    def boom() -> int:
        raise ValueError("boom")

    assert bounded(lambda: 42, 1, "work") == 42
    with pytest.raises(ValueError, match="boom"):
        bounded(boom, 1, "work")
    never = threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"^the plugin did not finish within 0.2 s$"):
        bounded(lambda: never.wait(5), 0.2, "the plugin")
    assert time.monotonic() - started < 1
    never.set()


def test_verify_reads_the_program_s_own_outputs() -> None:
    """The outputs `pulumi stack output --json --show-secrets` would print, as verify reads them."""
    stack = run_program({"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "4"})
    outputs = parse_outputs(reveal(stack.stack_outputs), need_kubeconfig=True)
    assert outputs.subscription_id == reveal(stack.stack_outputs["azureSubscriptionId"])
    assert outputs.subscription_id
    assert outputs.virtual_node == "aci-connector"
    assert outputs.app_namespace == NAMESPACE
    assert (outputs.workload.kind, outputs.workload.replicas) == ("Deployment", 4)
    assert outputs.workload.selector == WEB_LABELS
