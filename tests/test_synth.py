"""Offline synth: the whole stack rendered and checked without credentials, network or CLI."""

from __future__ import annotations

import pickle
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from fake_cloud import PROJECT_DIR, SECRET_VALUES, run_program

from core import resource_types as types
from core.resource_types import Cloud
from synth.cli import load_stack_config, main, synthesize
from synth.engine import Deployment
from synth.graph import ResourceGraph, build_graph, dot, mermaid, write_svg
from synth.out_folder import MARKER
from synth.plan import CycleError, critical_path
from synth.render import (
    KNOWN_AFTER_DEPLOY,
    KUBERNETES_VERSIONS,
    kubernetes_manifests,
    resources_document,
    to_json,
    to_yaml,
    write_outputs,
)

GOOGLE = {Cloud.GCP, Cloud.KUBERNETES}
MICROSOFT = {Cloud.AZURE, Cloud.AZURE_AD}


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "out"
    synthesize(PROJECT_DIR, "dev", out)
    return out


@pytest.fixture(scope="module")
def deployed() -> Deployment:
    """A deployment with every cloud value known, the fake secrets included."""
    return run_program()


def all_text(folder: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(folder.rglob("*")) if p.is_file())


# --- the default stack ---------------------------------------------------------------------------


def test_synth_of_the_default_stack_writes_every_file(synth_dir: Path) -> None:
    assert {p.name for p in synth_dir.iterdir()} >= {"resources.json", "graph.md", "plan.md"}
    manifests = sorted(p.name for p in (synth_dir / "manifests").iterdir())
    # One manifest per Kubernetes object in the graph.
    document = yaml.safe_load((synth_dir / "resources.json").read_text())
    objects = [r for r in document["resources"]
               if r["kind"] == "custom" and r["type"].startswith("kubernetes:")]  # fmt: skip
    assert len(manifests) == len(objects) > 0
    assert "pod-todo.yaml" in manifests
    assert "deployment-aci-connector.yaml" in manifests


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_written_manifest_validates(synth_dir: Path, version: str) -> None:
    for path in sorted((synth_dir / "manifests").iterdir()):
        kubernetes_validate.validate(yaml.safe_load(path.read_text()), version, strict=True)


def test_cloud_computed_values_are_shown_as_unknown(synth_dir: Path) -> None:
    document = yaml.safe_load((synth_dir / "resources.json").read_text())
    by_name = {(r["type"], r["name"]): r for r in document["resources"]}
    pool = by_name[(types.GKE_NODE_POOL, "gke-nodes")]
    assert pool["inputs"]["cluster"] == KNOWN_AFTER_DEPLOY
    assert pool["inputs"]["nodeCount"] == 3
    registration = by_name[(types.PROVIDER_REGISTRATION, "container-instance")]
    assert registration["inputs"]["subscription_id"] == KNOWN_AFTER_DEPLOY
    provider = by_name[(types.KUBERNETES_PROVIDER, "gke-kubernetes")]
    assert provider["inputs"]["kubeconfig"] == "[secret]"


def test_resources_json_records_parents_dependencies_and_options(synth_dir: Path) -> None:
    document = yaml.safe_load((synth_dir / "resources.json").read_text())
    assert document["schemaVersion"] == 1
    urns = [r["urn"] for r in document["resources"]]
    assert urns == sorted(urns)
    by_name = {(r["type"], r["name"]): r for r in document["resources"]}
    account = by_name[(types.COSMOS_ACCOUNT, "gke-aci-cosmos")]
    assert account["parent"] == "gke-aci"
    assert account["cloud"] == Cloud.AZURE
    assert account["options"]["protect"] is True
    assert account["dependencies"]["properties"]["resourceGroupName"] == [
        by_name[(types.RESOURCE_GROUP, "gke-aci")]["urn"]
    ]
    pod = by_name[(types.POD, "todo")]
    assert pod["options"]["deleteBeforeReplace"] is True
    assert pod["provider"] == by_name[(types.KUBERNETES_PROVIDER, "gke-kubernetes")]["urn"]


def test_the_plan_has_the_estimate_and_the_critical_path(synth_dir: Path) -> None:
    plan = (synth_dir / "plan.md").read_text()
    assert "## Deploy-time estimate" in plan
    assert "**Critical path**" in plan
    assert "One after another" in plan
    # The cluster's default pool starts on the node account: the IAM API, the account and a role
    # come first.
    assert "| 1 | gke-api-iam | `projects:Service` | GCP |" in plan
    assert "| 2 | gke-nodes | `serviceaccount:Account` | GCP |" in plan
    assert "| 4 | gke | `container:Cluster` | GCP |" in plan
    assert "gcp:project is not set for stack dev" in plan


def seconds(text: str) -> int:
    minutes, _, secs = text.partition(":")
    return int(minutes) * 60 + int(secs)


def test_the_estimate_adds_up_from_its_own_tables(synth_dir: Path) -> None:
    """The totals are what the per-type table and the critical path rows say, not other figures."""
    plan = (synth_dir / "plan.md").read_text()
    type_rows = re.findall(r"^\| `([^`]+)` \| (\d+) \| (\d+:\d\d) \|", plan, re.MULTILINE)
    path_rows = re.findall(r"^\| \d+ \| [^|]+ \| `[^`]+` \| [^|]+ \| (\d+:\d\d) \|$", plan,
                           re.MULTILINE)  # fmt: skip
    serial = re.search(r"\*\*One after another\*\*[^*]*\*\*(\d+:\d\d)\*\*", plan)
    critical = re.search(r"\*\*Critical path\*\*[^*]*\*\*(\d+:\d\d)\*\*", plan)
    ratio = re.search(r"Ratio: \*\*([\d.]+)x\*\*", plan)
    assert type_rows
    assert path_rows
    assert serial
    assert critical
    assert ratio
    document = yaml.safe_load((synth_dir / "resources.json").read_text())
    custom = [r for r in document["resources"] if r["kind"] == "custom"]
    assert sum(int(count) for _, count, _ in type_rows) == len(custom)
    serial_seconds = sum(int(count) * seconds(typical) for _, count, typical in type_rows)
    assert seconds(serial.group(1)) == serial_seconds
    critical_seconds = sum(seconds(typical) for typical in path_rows)
    assert seconds(critical.group(1)) == critical_seconds
    assert 0 < critical_seconds < serial_seconds
    assert float(ratio.group(1)) == round(serial_seconds / critical_seconds, 1)


def test_the_graph_shows_the_clouds_and_where_they_meet(synth_dir: Path) -> None:
    graph_md = (synth_dir / "graph.md").read_text()
    assert "```mermaid\nflowchart LR" in graph_md
    for cloud in ("GCP", "Kubernetes on GKE", "Azure AD", "Azure"):
        assert f'["{cloud}"]' in graph_md
    for value in ("kubeconfig (endpoint, CA)", "client secret", "resource group"):
        assert f'==>|"{value}"|' in graph_md
    assert "connection string" in graph_md
    assert "linkStyle" in graph_md


# --- secrets ----------------------------------------------------------------------------------


def test_no_secret_value_reaches_any_written_file(deployed: Deployment, tmp_path: Path) -> None:
    graph = build_graph(deployed)
    manifests = kubernetes_manifests(deployed)
    write_outputs(tmp_path, deployed, graph, manifests)
    written = all_text(tmp_path)
    # Guard: the deployment really carries the secrets, so their absence means they were hidden.
    assert any(secret in str(r.inputs) + str(r.outputs) for r in deployed.registrations
               for secret in SECRET_VALUES)  # fmt: skip
    for secret in SECRET_VALUES:
        assert secret not in written
    assert "[secret]" in written


def test_secret_markers_keep_manifests_valid(deployed: Deployment) -> None:
    for filename, obj in kubernetes_manifests(deployed).items():
        kubernetes_validate.validate(obj, KUBERNETES_VERSIONS[-1], strict=True)
        assert all(s not in to_yaml(obj) for s in SECRET_VALUES), filename


# --- the graph --------------------------------------------------------------------------------


def flows(graph: ResourceGraph) -> set[tuple[str, str, str]]:
    return {
        (graph.nodes[e.source].type, graph.nodes[e.target].type, e.label)
        for e in graph.cross_cloud_edges()
    }


@pytest.mark.parametrize("preview", [True, False], ids=["first-preview", "update"])
def test_the_graph_has_the_cross_cloud_flows_the_mission_needs(preview: bool) -> None:
    graph = build_graph(run_program(preview=preview))
    found = flows(graph)
    assert {
        (types.GKE_CLUSTER, types.KUBERNETES_PROVIDER, "kubeconfig (endpoint, CA)"),
        (types.AZUREAD_PASSWORD, types.SECRET, "client secret"),
        (types.AZUREAD_APPLICATION, types.SECRET, "client id"),
        (types.RESOURCE_GROUP, types.DEPLOYMENT, "resource group"),
        (types.COSMOS_ACCOUNT, types.SECRET, "connection string"),
    } <= found


def test_no_edge_makes_one_cloud_wait_for_the_other_without_a_value(deployed: Deployment) -> None:
    graph = build_graph(deployed)
    between_sides = [
        e
        for e in graph.edges
        if {graph.nodes[e.source].cloud, graph.nodes[e.target].cloud} & GOOGLE
        and {graph.nodes[e.source].cloud, graph.nodes[e.target].cloud} & MICROSOFT
    ]
    assert len(between_sides) >= 5
    assert [e for e in between_sides if e.kind != "property"] == []
    assert all(e.label for e in between_sides)


def test_mermaid_and_dot_draw_cross_cloud_edges_distinctly(deployed: Deployment) -> None:
    graph = build_graph(deployed)
    chart, graphviz = mermaid(graph), dot(graph)
    crossing = len(graph.cross_cloud_edges())
    assert chart.count("==>") == crossing
    assert graphviz.count('color="#d62728"') == crossing
    assert graphviz.count("subgraph cluster_") == 5


def test_svg_is_written_only_when_graphviz_is_present(
    deployed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = build_graph(deployed)
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    assert write_svg(graph, tmp_path / "none.svg") is False
    assert not (tmp_path / "none.svg").exists()
    fake_dot = tmp_path / "dot"
    fake_dot.write_text('#!/bin/sh\ngrep -q "digraph resources" && echo "<svg>graph</svg>"\n')
    fake_dot.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda _name: str(fake_dot))
    assert write_svg(graph, tmp_path / "graph.svg") is True
    assert (tmp_path / "graph.svg").read_text() == "<svg>graph</svg>\n"


# --- critical path on graphs whose answer is known ---------------------------------------------


def test_critical_path_of_a_chain() -> None:
    durations = {"a": 1, "b": 2, "c": 3}
    assert critical_path("abc", {"b": ["a"], "c": ["b"]}, durations.__getitem__) == (
        ["a", "b", "c"],
        6,
    )


def test_critical_path_takes_the_longer_branch_of_a_diamond() -> None:
    durations = {"start": 1, "fast": 2, "slow": 10, "end": 1}
    waits = {"fast": ["start"], "slow": ["start"], "end": ["fast", "slow"]}
    assert critical_path(durations, waits, durations.__getitem__) == (
        ["start", "slow", "end"],
        12,
    )


def test_independent_chains_run_in_parallel() -> None:
    durations = {"gke": 7, "pool": 3, "cosmos": 8, "db": 1}
    waits = {"pool": ["gke"], "db": ["cosmos"]}
    path, total = critical_path(durations, waits, durations.__getitem__)
    assert (path, total) == (["gke", "pool"], 10)


def test_critical_path_ties_are_stable() -> None:
    durations = {"x": 5, "y": 5}
    assert critical_path(durations, {}, durations.__getitem__) == (["x"], 5)
    assert critical_path(["y", "x"], {}, durations.__getitem__) == (["x"], 5)


def test_critical_path_of_nothing_and_of_a_cycle() -> None:
    assert critical_path([], {}, lambda _: 1) == ([], 0)
    with pytest.raises(CycleError):
        critical_path("ab", {"a": ["b"], "b": ["a"]}, lambda _: 1)


# --- determinism and failure ------------------------------------------------------------------


def test_two_runs_are_byte_identical(synth_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    synthesize(PROJECT_DIR, "dev", again)
    first = {p.relative_to(synth_dir): p.read_bytes() for p in synth_dir.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first == second


def test_json_and_yaml_are_written_with_sorted_keys() -> None:
    assert to_json({"b": 1, "a": 2}) == '{\n  "a": 2,\n  "b": 1\n}\n'
    assert to_yaml({"b": 1, "a": 2}) == "a: 2\nb: 1\n"


def project_copy(tmp_path: Path, stack_config: dict[str, object]) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, project / name)
    (project / "Pulumi.bad.yaml").write_text(yaml.safe_dump({"config": stack_config}))
    return project


def test_a_failing_program_exits_non_zero_with_its_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_copy(tmp_path, {"gke-aci:nodeCount": -1, "gcp:zone": "us-west1-a"})
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text("")
    (out / "previous.txt").write_text("kept")
    status = main(["--stack", "bad", "--out", str(out), "--project-dir", str(project)])
    assert status == 1
    error = capsys.readouterr().err
    assert "gke-aci:nodeCount: got '-1'; allowed: " in error
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "previous.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out-")] == []


def test_a_misspelt_setting_in_the_stack_file_fails_synth_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_copy(
        tmp_path,
        {"gke-aci:nodecount": 5, "gcp:zonee": "us-east1-b", "azure-native:locaton": "eastus"},
    )
    status = main(["--stack", "bad", "--out", str(tmp_path / "out"), "--project-dir", str(project)])
    assert status == 1
    error = capsys.readouterr().err
    assert "gke-aci:nodecount: not a setting of this project; did you mean nodeCount?" in error
    # A provider's key misspelt would leave its default in place without a word.
    assert "gcp:zonee: not a setting of the gcp provider; did you mean gcp:zone?" in error
    assert (
        "azure-native:locaton: not a setting of the azure-native provider; "
        "did you mean azure-native:location?"
    ) in error
    assert not (tmp_path / "out").exists()


def test_the_command_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # The counts are those of what was written.
    document = yaml.safe_load((out / "resources.json").read_text())
    per_cloud = Counter(r["cloud"] for r in document["resources"] if r["kind"] == "custom")
    for cloud, count in per_cloud.items():
        assert f"{cloud} {count}" in printed.split("resources: ")[1].splitlines()[0]
    assert f"cross-cloud flows: {len(document['crossCloudEdges'])}" in printed
    manifests = len(list((out / "manifests").iterdir()))
    checks = manifests * len(KUBERNETES_VERSIONS)
    assert f"{checks} schema checks, 0 failed" in printed
    svg = "graph.svg, " if shutil.which("dot") else ""
    assert (
        f"wrote: resources.json, graph.md, {svg}plan.md, manifests/ ({manifests} files)" in printed
    )


def test_stack_config_uses_defaults_stack_values_and_placeholders(tmp_path: Path) -> None:
    project = project_copy(tmp_path, {"gke-aci:nodeCount": 5, "gke-aci:protectCluster": False})
    config = load_stack_config(project, "bad")
    assert config.values["gke-aci:nodeCount"] == "5"
    assert config.values["gke-aci:protectCluster"] == "false"
    assert config.values["gke-aci:appPort"] == "8080"  # Pulumi.yaml's default
    assert config.values["gcp:project"] == "your-gcp-project"
    assert any("gcp:project is not set" in note for note in config.notes)
    (project / "Pulumi.bad.yaml").write_text(
        yaml.safe_dump({"config": {"gcp:project": "my-project-123"}})
    )
    config = load_stack_config(project, "bad")
    assert config.values["gcp:project"] == "my-project-123"
    assert config.notes == []


def test_resources_document_marks_cross_cloud_edges(deployed: Deployment) -> None:
    document = resources_document(deployed, build_graph(deployed))
    values = {edge["value"] for edge in document["crossCloudEdges"]}
    assert {"client secret", "connection string", "kubeconfig (endpoint, CA)"} <= values


def test_a_run_leaves_pickle_as_it_found_it() -> None:
    """pulumi's dynamic providers patch pickle on every run; the engine puts it back, or a session
    of hundreds of runs would nest the patches past Python's recursion limit."""
    pickler = vars(pickle._Pickler)  # pyright: ignore[reportPrivateUsage]
    before = (pickler["_batch_setitems"], pickler["save_dict"])
    run_program()
    assert (pickler["_batch_setitems"], pickler["save_dict"]) == before


def test_a_yaml_error_stops_synth_with_one_line_naming_file_and_line(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (project / "Pulumi.broken.yaml").write_text("config:\n  gke-aci:nodeCount: [3\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "synth",
            "--stack",
            "broken",
            "--project-dir",
            str(project),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("synth: Pulumi.broken.yaml:2:")
    assert "not valid YAML" in lines[0]
