"""What synth writes: resources.json, manifests/, graph.md (+ graph.svg), plan.md (with the cost).

Every file is a pure function of the recorded deployment, with stable ordering, so two runs give
byte-identical output. Secrets become ``[secret]``; values a cloud computes become
``(known after deploy)``.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import yaml

from core.aci_rules.values import KNOWN_AFTER_DEPLOY
from synth.aci import aci_summary_lines, aci_workloads
from synth.cost import CostEstimate, cost_markdown
from synth.engine import UNKNOWN, Deployment, Registration, redact
from synth.graph import CLOUDS, ResourceGraph, cloud_of, mermaid, short_type
from synth.plan import critical_path, estimate, minutes
from synth.traffic import traffic_lines

SCHEMA_VERSION = 1
# The Kubernetes minor versions a REGULAR-channel GKE cluster may run while this is maintained:
# manifests must validate against each (schemas ship with kubernetes-validate, offline).
KUBERNETES_VERSIONS = ("1.33", "1.36")

# kubernetes-validate (1.37.0, kubernetes_validate/utils.py) parses its schema files again for
# every object it validates, the large _definitions.json among them: half of a render's
# time. The files are part of the installed package, so one parse per process is the same answer.
kubernetes_validate.utils.schema_contents = functools.cache(
    kubernetes_validate.utils.schema_contents
)


def shown(value: Any) -> Any:
    """A value as a person may see it: secrets and unknowns replaced by markers."""
    redacted = redact(value)
    return _unknowns(redacted)


def _unknowns(value: Any) -> Any:
    if value == UNKNOWN:
        return KNOWN_AFTER_DEPLOY
    if isinstance(value, dict):
        return {k: _unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknowns(v) for v in value]
    return value


def resources_document(deployment: Deployment, graph: ResourceGraph) -> dict[str, Any]:
    """The resources.json document (schema in docs/synth.md)."""
    by_urn = deployment.by_urn

    def entry(r: Registration) -> dict[str, Any]:
        parent = by_urn.get(r.parent)
        return {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "kind": "custom" if r.custom else "component",
            "cloud": cloud_of(r.type) if r.custom else None,
            "parent": parent.name if parent else None,
            "provider": r.provider_urn or None,
            "dependencies": {
                "explicit": sorted(r.dependencies),
                "properties": {k: sorted(v) for k, v in sorted(r.property_dependencies.items())},
                "provider": r.provider_urn or None,
            },
            "options": {
                "protect": r.protect,
                "retainOnDelete": r.retain_on_delete,
                "deleteBeforeReplace": r.delete_before_replace,
                "customTimeouts": r.custom_timeouts,
                "ignoreChanges": sorted(r.ignore_changes),
            },
            "inputs": shown(r.inputs),
        }

    return {
        "schemaVersion": SCHEMA_VERSION,
        "markers": {"secret": "[secret]", "unknown": KNOWN_AFTER_DEPLOY},
        "resources": [entry(r) for r in sorted(deployment.registrations, key=lambda r: r.urn)],
        "crossCloudEdges": [
            {"from": e.source, "to": e.target, "value": e.label, "properties": list(e.properties)}
            for e in graph.cross_cloud_edges()
        ],
    }


def kubernetes_manifests(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """File name -> object, for every Kubernetes object, as it will be sent to the cluster."""
    manifests: dict[str, dict[str, Any]] = {}
    for r in sorted(deployment.custom_resources(), key=lambda r: r.urn):
        if not r.type.startswith("kubernetes:"):
            continue
        obj = shown(r.inputs)
        for field_name in ("data", "stringData"):
            if isinstance(obj.get(field_name), str):
                # A Secret's whole map is one secret value; before deploy even its keys can be
                # unknown. Keep the field a map so the manifest keeps its schema.
                obj[field_name] = {"(keys known after deploy)": obj[field_name]}
        metadata = obj.setdefault("metadata", {})
        # Pulumi auto-names objects without a name; the name is chosen when they are created.
        metadata.setdefault("name", _unknowns(r.outputs.get("metadata", {}).get("name", UNKNOWN)))
        manifests[f"{obj['kind'].lower()}-{r.name}.yaml"] = obj
    return manifests


@dataclass
class Validation:
    checked: int = 0
    failures: list[str] = field(default_factory=list)


def validate_manifests(
    manifests: dict[str, dict[str, Any]], versions: Sequence[str] = KUBERNETES_VERSIONS
) -> Validation:
    result = Validation()
    for filename, obj in manifests.items():
        for version in versions:
            result.checked += 1
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                result.failures.append(f"{filename} (Kubernetes {version}): {error.message}")
    return result


def to_yaml(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=100)


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def graph_markdown(graph: ResourceGraph, stack: str) -> str:
    flows = "\n".join(
        f"| {graph.nodes[e.source].name} ({short_type(graph.nodes[e.source].type)}) "
        f"| {graph.nodes[e.target].name} ({short_type(graph.nodes[e.target].type)}) "
        f"| {e.label} |"
        for e in graph.cross_cloud_edges()
    )
    return (
        f"# Resource graph: stack `{stack}`\n\n"
        "An arrow points from a resource to one that waits for it. Thick red arrows cross from "
        "one cloud to another and are labelled with the value that crosses; dashed arrows are "
        "a bare `dependsOn`.\n\n"
        f"```mermaid\n{mermaid(graph)}```\n\n"
        "## Where the clouds meet\n\n"
        "| From | To | Value |\n| --- | --- | --- |\n"
        f"{flows}\n"
    )


@dataclass(frozen=True)
class Summary:
    stack: str
    per_cloud: dict[str, int]
    components: int
    cross_cloud: list[str]
    files: list[str]
    validation: Validation
    notes: list[str]
    cost: CostEstimate | None = None
    # One line per workload that may run on the virtual node: size, placement, conformance.
    aci: list[str] = field(default_factory=list)
    # One line per hop of the app's requests and what protects it (synth/traffic.py).
    traffic: list[str] = field(default_factory=list)


def summarize(
    deployment: Deployment,
    graph: ResourceGraph,
    stack: str,
    files: list[str],
    validation: Validation,
    notes: list[str],
    cost: CostEstimate | None = None,
) -> Summary:
    counts = Counter(node.cloud for node in graph.nodes.values())
    return Summary(
        stack=stack,
        per_cloud={cloud: counts[cloud] for cloud in CLOUDS if counts[cloud]},
        components=sum(1 for r in deployment.registrations if not r.custom),
        cross_cloud=[
            f"{graph.nodes[e.source].name} ({graph.nodes[e.source].cloud}) -> "
            f"{graph.nodes[e.target].name} ({graph.nodes[e.target].cloud}): {e.label}"
            for e in graph.cross_cloud_edges()
        ],
        files=files,
        validation=validation,
        notes=notes,
        cost=cost,
        aci=aci_summary_lines(aci_workloads(deployment)),
        traffic=traffic_lines(deployment),
    )


def summary_text(summary: Summary) -> str:
    lines = [f"synth: stack {summary.stack}"]
    clouds = ", ".join(f"{cloud} {count}" for cloud, count in summary.per_cloud.items())
    lines.append(f"  resources: {clouds} (+{summary.components} components)")
    lines.append(f"  cross-cloud flows: {len(summary.cross_cloud)}")
    lines.extend(f"    {flow}" for flow in summary.cross_cloud)
    lines.append("  the app's traffic:")
    lines.extend(f"    {hop}" for hop in summary.traffic)
    lines.append(
        f"  manifests: {summary.validation.checked} schema checks, "
        f"{len(summary.validation.failures)} failed"
    )
    lines.extend(f"    FAILED {failure}" for failure in summary.validation.failures)
    lines.append("  may run on ACI (held to the ACI rules, core/aci_rules):")
    lines.extend(f"    {workload}" for workload in summary.aci)
    lines.extend(f"  note: {note}" for note in summary.notes)
    if summary.cost is not None:
        lines.append(
            f"  monthly cost: about {summary.cost.total_text()} "
            "(plan.md lists each line, its price and the assumptions)"
        )
    lines.append(f"  wrote: {files_line(summary.files)}")
    return "\n".join(lines) + "\n"


def files_line(files: list[str]) -> str:
    """``resources.json, graph.md, plan.md, manifests/ (11 files)``."""
    top = [f for f in files if "/" not in f]
    manifests = len(files) - len(top)
    return ", ".join([*top, f"manifests/ ({manifests} files)"])


def plan_markdown(graph: ResourceGraph, summary: Summary) -> str:
    nodes = graph.nodes
    path, total = critical_path(
        nodes, graph.predecessors(), lambda urn: estimate(nodes[urn].type).seconds
    )
    serial = sum(estimate(node.type).seconds for node in nodes.values())
    types = Counter(node.type for node in nodes.values())
    table = "\n".join(
        f"| `{typ}` | {count} | {minutes(estimate(typ).seconds)} | {estimate(typ).source} |"
        for typ, count in sorted(types.items())
    )
    path_rows = "\n".join(
        f"| {index} | {nodes[urn].name} | `{short_type(nodes[urn].type)}` | {nodes[urn].cloud} "
        f"| {minutes(estimate(nodes[urn].type).seconds)} |"
        for index, urn in enumerate(path, start=1)
    )
    clouds = "\n".join(f"| {cloud} | {count} |" for cloud, count in summary.per_cloud.items())
    flows = "\n".join(f"- {flow}" for flow in summary.cross_cloud)
    checks = summary.validation
    notes = "".join(f"- {note}\n" for note in summary.notes)
    ratio = serial / total if total else 0.0
    return (
        f"# Synth plan: stack `{summary.stack}`\n\n"
        "Rendered offline under first-preview semantics: every value a cloud computes is "
        f"`{KNOWN_AFTER_DEPLOY}`, every secret is `[secret]`.\n\n"
        "## Summary\n\n"
        f"| Cloud | Resources |\n| --- | --- |\n{clouds}\n\n"
        f"Components: {summary.components}.\n\n"
        f"Cross-cloud flows:\n\n{flows}\n\n"
        "The app's traffic, hop by hop:\n\n"
        + "".join(f"- {hop}\n" for hop in summary.traffic)
        + "\n"
        f"Kubernetes manifests: {checks.checked} schema checks against Kubernetes "
        f"{', '.join(KUBERNETES_VERSIONS)}, {len(checks.failures)} failed.\n\n"
        "Workloads that may run on ACI, held to the ACI rules (`core/aci_rules`), which the "
        "program applies to its own before it deploys anything:\n\n"
        + "".join(f"- {workload}\n" for workload in summary.aci)
        + "\n"
        f"Files: {files_line(summary.files)}.\n\n"
        + (
            f"Monthly cost: about **{summary.cost.total_text()}** "
            "([estimate](#monthly-cost-estimate)).\n\n"
            if summary.cost is not None
            else ""
        )
        + (f"Notes:\n\n{notes}\n" if notes else "")
        + "## Deploy-time estimate\n\n"
        "Typical creation time of each resource type (estimates, with where each comes from):\n\n"
        "| Type | Count | Typical | Source |\n| --- | --- | --- | --- |\n"
        f"{table}\n\n"
        f"- **Critical path** (Pulumi creates resources in parallel as soon as what they wait "
        f"for exists): **{minutes(total)}** (m:ss).\n"
        f"- **One after another** (the seed's manual procedure): **{minutes(serial)}**.\n"
        f"- Ratio: **{ratio:.1f}x** faster in one graph.\n\n"
        "### Resources on the critical path\n\n"
        "| # | Resource | Type | Cloud | Typical |\n| --- | --- | --- | --- | --- |\n"
        f"{path_rows}\n" + (f"\n{cost_markdown(summary.cost)}" if summary.cost is not None else "")
    )


def write_outputs(
    out: Path,
    deployment: Deployment,
    graph: ResourceGraph,
    manifests: dict[str, dict[str, Any]],
) -> list[str]:
    """Writes everything but plan.md into ``out``; returns the relative paths written."""
    from synth.graph import write_svg

    (out / "manifests").mkdir(parents=True)
    written = ["resources.json", "graph.md"]
    (out / "resources.json").write_text(to_json(resources_document(deployment, graph)))
    for filename, obj in manifests.items():
        (out / "manifests" / filename).write_text(to_yaml(obj))
        written.append(f"manifests/{filename}")
    if write_svg(graph, out / "graph.svg"):
        written.append("graph.svg")
    return written
