"""The app through ``webUrl``: it answers, it reaches Cosmos DB, and both sides of a burst answer.

- ``app answers``: ``GET /healthz`` is 200 (the app pings its database first) and ``GET /`` is 200
  with the todo page; otherwise the status and the app's own ``reason``;
- ``database round trip``: a todo with a unique text is created through ``/api/todos``, read back
  by id, deleted, and then gone. Whatever happens, verify tries to delete what it created, and
  says so when it could not;
- ``both sides answer``: with replicas on GKE nodes and on ACI, the entry point is seen to answer
  from both (``X-Served-By`` names the node) within a bounded number of requests.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

from verify import contract
from verify.budget import BudgetSpentError, NoAnswerError
from verify.context import Check, Context, Skip, Verdict, app_pods, is_running, node_of
from verify.web import Answer, App

READ_BACK_TRIES = 3
"""A replica may read a just-written todo from a replica of the database that lags a little."""

READ_BACK_PAUSE = 1.0


def answers(ctx: Context) -> Verdict:
    app = ctx.app
    health = app.get("/healthz")
    seen = [f"/healthz {health.describe()}"]
    ok = health.status == 200
    page = app.get("/")
    has_page = page.status == 200 and contract.PAGE_MARKER in page.text
    seen.append(f"/ {page.describe()}" + (" with the todo page" if has_page else ""))
    if page.status == 200 and not has_page:
        seen[-1] += " without the todo page"
    return Verdict(
        ok and has_page,
        ", ".join(seen),
        "a 503 names the database problem: check the Cosmos DB account and the app's logs "
        f"(`az container logs -g {ctx.outputs.resource_group} -n "
        f"{ctx.outputs.app_namespace}-<pod>`)",
    )


def round_trip(ctx: Context) -> Verdict:
    app = ctx.app
    text = f"make verify {uuid.uuid4().hex}"
    todo_id: str | None = None
    deleted = False
    failure: str | None = None
    started = time.monotonic()
    try:
        created = app.post_json("/api/todos", {"text": text})
        todo_id = _id_of(created)
        if created.status != 201 or todo_id is None:
            failure = f"POST /api/todos: {created.describe()} (expected 201 with the todo)"
        else:
            failure = _read_back(app, todo_id, text)
        if failure is None and todo_id is not None:
            answer = app.delete(f"/api/todos/{todo_id}")
            deleted = answer.status == 204
            failure = None if deleted else f"DELETE: {answer.describe()} (expected 204)"
        if failure is None and todo_id is not None:
            failure = _gone(app, f"/api/todos/{todo_id}")
    except (NoAnswerError, BudgetSpentError) as error:
        if isinstance(error, NoAnswerError) and error.repeat and todo_id is None:
            raise  # the app gave no answer before: reported there, nothing was created
        failure = str(error)
    finally:
        leftover = None if deleted else _clean_up(app, todo_id, text)
    elapsed = time.monotonic() - started
    if failure is None and leftover is None:
        return Verdict(True, f"todo {todo_id} created, read back, deleted, gone ({elapsed:.1f} s)")
    return Verdict(
        False,
        "; ".join(x for x in (failure, leftover) if x),
        "the app's /healthz reason and its logs say what the database refused",
    )


def _id_of(answer: Answer) -> str | None:
    body = answer.json
    if isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"]:
        return body["id"]
    return None


def _read_back(app: App, todo_id: str, text: str) -> str | None:
    """None when GET by id returns the todo with its text; else what went wrong."""
    answer = app.get(f"/api/todos/{todo_id}")
    for _ in range(READ_BACK_TRIES - 1):
        if answer.status != 404:
            break
        time.sleep(READ_BACK_PAUSE)
        answer = app.get(f"/api/todos/{todo_id}")
    body = answer.json if isinstance(answer.json, dict) else {}
    if answer.status != 200 or body.get("id") != todo_id or body.get("text") != text:
        return f"GET /api/todos/{todo_id}: {answer.describe()} (expected 200 with the same text)"
    return None


def _gone(app: App, path: str) -> str | None:
    answer = app.get(path)
    for _ in range(READ_BACK_TRIES - 1):
        if answer.status == 404:
            break
        time.sleep(READ_BACK_PAUSE)
        answer = app.get(path)
    if answer.status != 404:
        return f"GET {path} after DELETE: {answer.describe()} (expected 404)"
    return None


def _clean_up(app: App, todo_id: str | None, text: str) -> str | None:
    """Delete what the round trip may have left; None when nothing is left, else what is.

    Without an id (the create failed or its answer was lost), todos with the unique text are
    looked up and deleted: a create whose answer never came may still have been stored.
    """
    try:
        if todo_id is None:
            listed = app.get("/api/todos")
            todos = listed.json.get("todos") if isinstance(listed.json, dict) else None
            ids = [
                t["id"]
                for t in todos or []
                if isinstance(t, dict) and t.get("text") == text and isinstance(t.get("id"), str)
            ]
        else:
            ids = [todo_id]
        left = [
            i for i in ids if app.delete(f"/api/todos/{i}", cleanup=True).status not in (204, 404)
        ]
    except (NoAnswerError, BudgetSpentError):
        if todo_id is None:
            return None  # nothing known to be left; the failure above says why
        left = [todo_id]
    if not left:
        return None
    urls = " ".join(f"{app.base_url}/api/todos/{i}" for i in left)
    return f"the todo it created is still there: delete it with `curl -X DELETE {urls}`"


def both_sides(ctx: Context) -> Verdict:
    outputs = ctx.outputs
    if outputs.workload.kind == contract.POD:
        raise Skip("not run: a single pod has one side")
    node = outputs.virtual_node
    running = [p for p in app_pods(ctx) if is_running(p)]
    on_aci = sum(node_of(p) == node for p in running)
    on_gke = len(running) - on_aci
    if not (on_aci and on_gke):
        raise Skip(f"not run: replicas on GKE nodes {on_gke}, on ACI {on_aci} (see app)")
    limit = max_requests(len(running))
    seen: Counter[str] = Counter()
    unnamed = 0
    for sent in range(1, limit + 1):
        answer = ctx.app.get("/livez", fresh_connection=True)
        served = contract.parse_served_by(answer.served_by or "")
        if "node" not in served:
            unnamed += 1
        else:
            seen["ACI" if served["node"] == node else "GKE"] += 1
        if seen["ACI"] and seen["GKE"]:
            return Verdict(
                True,
                f"GKE nodes and ACI within {sent} requests "
                f"({seen['GKE']} from GKE, {seen['ACI']} from ACI)",
            )
    tally = ", ".join(f"{n} from {side}" for side, n in sorted(seen.items()))
    if unnamed:
        tally += (
            ", " if tally else ""
        ) + f"{unnamed} without a node in {contract.SERVED_BY_HEADER}"
    missing = "ACI" if not seen["ACI"] else "GKE nodes"
    return Verdict(
        False,
        f"no answer from {missing} in {limit} requests ({tally})",
        f"the entry point sends only to replicas whose /healthz answers 200: check those on "
        f"{missing} (`kubectl -n {outputs.app_namespace} logs deploy/web-entry`)",
    )


def max_requests(replicas: int) -> int:
    """How many requests may be sent before concluding one side never answers.

    Ten, plus five per replica: with the entry point balancing per request over healthy
    replicas, a side that holds even one of them is all but certain to answer within that.
    """
    return min(10 + 5 * replicas, 200)


CHECKS = [
    Check(
        "http",
        "app answers",
        lambda o: f"GET {o.web_url}/healthz 200 and GET / 200 with the todo page",
        answers,
    ),
    Check(
        "round-trip",
        "database round trip",
        lambda _o: "a new todo created, read back by id, deleted, gone",
        round_trip,
    ),
    Check(
        "both-sides",
        "both sides answer",
        lambda _o: f"{contract.SERVED_BY_HEADER} naming a GKE node and the virtual node",
        both_sides,
    ),
]
