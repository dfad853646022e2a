"""verify against our real app on loopback: /healthz and the page, the database round trip and
its cleanup, and both sides of a burst answering through one entry point."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from todo.served_by import ServedBy
from verify_servers import serve_wsgi
from verify_world import BURST_PODS, VK, World, burst, failing_store, run, single_pod


def test_a_database_outage_shows_the_status_and_the_apps_reason(tmp_path: Path) -> None:
    world = single_pod()
    world.store = failing_store(fail={"ping", "create"})
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("app answers")
    assert line.startswith("✗ app answers:")
    assert (
        "seen /healthz HTTP 503 with reason "
        "'The database is unreachable (ServerSelectionTimeoutError)'"
    ) in line


def test_somebody_elses_server_at_the_address_fails(tmp_path: Path) -> None:
    """An ACI IP goes back to the pool when its group is deleted: a stale webUrl may answer."""

    def other(_environ: object, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b"<title>Welcome to nginx!</title>"]

    world = single_pod()
    with world.running(tmp_path) as running, serve_wsgi(other) as url:
        running.outputs["webUrl"] = url
        running.install_tools()
        outcome = running.verify()
    assert outcome.code == 1
    line = outcome.line("app answers")
    assert "seen /healthz HTTP 200, / HTTP 200 without the todo page" in line
    assert "round trip: expected" in outcome.stdout.replace("database round trip", "round trip")
    assert outcome.line("database round trip").startswith("✗")


def test_a_refused_write_fails_the_round_trip_and_leaves_nothing(tmp_path: Path) -> None:
    world = single_pod()
    world.store = failing_store(fail={"create"})
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("database round trip")
    assert (
        "seen POST /api/todos: HTTP 503 with error 'The database could not complete the "
        "request' (expected 201 with the todo)"
    ) in line
    assert outcome.line("app answers").startswith("✓")
    assert world.todos() == []


def test_a_write_that_cannot_be_read_back_fails_and_is_cleaned_up(tmp_path: Path) -> None:
    world = single_pod()
    world.store = failing_store(fail=set(), lose=True)
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("database round trip")
    assert "GET /api/todos/" in line
    assert "HTTP 404 with error 'There is no such todo.' (expected 200 with the same text)" in line
    assert "still there" not in line
    assert world.todos() == []  # verify deleted what it created


def test_a_delete_that_fails_says_what_is_left_and_how_to_delete_it(tmp_path: Path) -> None:
    world = single_pod()
    world.store = failing_store(fail={"delete"})
    with world.running(tmp_path) as running:
        outcome = running.verify()
        app_url = running.app_url
    assert outcome.code == 1
    [left] = world.todos()
    assert left.text.startswith("make verify ")
    line = outcome.line("database round trip")
    assert "DELETE: HTTP 503 with error 'The database could not complete the request'" in line
    assert (
        f"the todo it created is still there: delete it with "
        f"`curl -X DELETE {app_url}/api/todos/{left.id}`"
    ) in line


def test_one_entry_point_answering_from_both_sides(tmp_path: Path) -> None:
    outcome = run(burst(), tmp_path)
    assert outcome.code == 0, outcome.stdout
    line = outcome.line("both sides answer")
    assert line.startswith("✓ both sides answer:")
    assert "(2 from GKE, 1 from ACI)" in line


def test_only_gke_answering_fails_within_a_bounded_number_of_requests(tmp_path: Path) -> None:
    world = burst()
    # The entry point sends nothing to the ACI replica (say, its /healthz fails there).
    world.served_by = [ServedBy(pod=name, node=on) for name, on, _ in BURST_PODS if on != VK]
    outcome = run(world, tmp_path)
    assert outcome.code == 1
    line = outcome.line("both sides answer")
    assert "seen no answer from ACI in 25 requests (25 from GKE)" in line
    assert "kubectl -n todo logs deploy/web-entry" in line


def test_an_app_that_does_not_name_its_node_fails_both_sides(tmp_path: Path) -> None:
    world = burst()
    world.served_by = [ServedBy(pod="web")]
    line = run(world, tmp_path).line("both sides answer")
    assert "25 without a node in X-Served-By" in line


@pytest.mark.parametrize("world", [single_pod(), burst()], ids=["single-pod", "burst"])
def test_each_run_creates_one_todo_with_a_unique_text_and_deletes_it(
    tmp_path: Path, world: World
) -> None:
    store = world.store = failing_store(fail=set())
    with world.running(tmp_path) as running:
        first = running.verify()
        second = running.verify()
    assert first.code == second.code == 0
    assert len(store.created) == 2
    assert all(re.fullmatch(r"make verify [0-9a-f]{32}", text) for text in store.created)
    assert store.created[0] != store.created[1]
    assert world.todos() == []
