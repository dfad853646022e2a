"""The resource graph: which cloud each resource is in, what it waits for, and what flows.

Nodes are the custom resources (components group them but are not deployed themselves). An edge
``source -> target`` means the target waits for the source. It is a *property* edge when a value
of the source reaches one of the target's inputs, *provider* when the source is the target's
provider, and *explicit* for a bare ``depends_on``. Edges between clouds are labelled with the
value that crosses.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.resource_types import Cloud, resource_type
from synth.engine import Deployment, Registration

# The clouds in the order they are drawn and counted.
CLOUDS: tuple[str, ...] = tuple(cloud.value for cloud in Cloud)
LOCAL = Cloud.LOCAL.value


def cloud_of(typ: str) -> str:
    """The cloud of a resource type (an error for a type the table lacks)."""
    return resource_type(typ).cloud.value


def flow_of(typ: str, properties: tuple[str, ...]) -> str:
    """What an edge from a ``typ`` to another cloud carries: its flow, else the inputs it feeds."""
    return resource_type(typ).flow or ", ".join(properties)


def short_type(typ: str) -> str:
    """``azure-native:cosmosdb:DatabaseAccount`` -> ``cosmosdb:DatabaseAccount``."""
    package, _, rest = typ.partition(":")
    module, _, name = rest.rpartition(":")
    module = module.split("/")[0]
    if package == "pulumi" and module == "providers":
        return f"provider:{name}"
    return f"{module}:{name}" if module and module != "index" else f"{package}:{name}"


@dataclass(frozen=True)
class Node:
    urn: str
    type: str
    name: str
    cloud: str
    component: str


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # "property", "provider" or "explicit"
    properties: tuple[str, ...]
    cross_cloud: bool
    label: str


@dataclass(frozen=True)
class ResourceGraph:
    nodes: dict[str, Node]
    edges: tuple[Edge, ...]

    def cross_cloud_edges(self) -> list[Edge]:
        return [e for e in self.edges if e.cross_cloud]

    def predecessors(self) -> dict[str, set[str]]:
        waits: dict[str, set[str]] = {urn: set() for urn in self.nodes}
        for edge in self.edges:
            waits[edge.target].add(edge.source)
        return waits


def build_graph(deployment: Deployment) -> ResourceGraph:
    components = {r.urn: r for r in deployment.registrations if not r.custom}
    custom = {r.urn: r for r in deployment.custom_resources()}

    def component_name(registration: Registration) -> str:
        parent = components.get(registration.parent)
        return parent.name if parent else ""

    def expand(urn: str) -> set[str]:
        """A dependency on a component is a dependency on every resource inside it."""
        if urn in custom:
            return {urn}
        if urn in components:
            inside = [r.urn for r in deployment.registrations if r.parent == urn]
            return set().union(*(expand(child) for child in inside)) if inside else set()
        return set()  # default providers and anything else the engine owns

    nodes = {
        urn: Node(urn, r.type, r.name, cloud_of(r.type), component_name(r))
        for urn, r in sorted(custom.items())
    }
    edges: list[Edge] = []
    for target in nodes.values():
        registration = custom[target.urn]
        by_source: dict[str, set[str]] = {}
        for prop, urns in registration.property_dependencies.items():
            for urn in urns:
                for source in expand(urn):
                    by_source.setdefault(source, set()).add(prop)
        explicit = set().union(*(expand(u) for u in registration.dependencies))
        provider = expand(registration.provider_urn) if registration.provider else set()
        for source in sorted(by_source.keys() | explicit | provider):
            if source == target.urn:
                continue
            properties = tuple(sorted(by_source.get(source, ())))
            kind = "property" if properties else "provider" if source in provider else "explicit"
            clouds = {nodes[source].cloud, target.cloud}
            cross = len(clouds) == 2 and LOCAL not in clouds
            label = flow_of(nodes[source].type, properties) if cross else ""
            edges.append(Edge(source, target.urn, kind, properties, cross, label))
    return ResourceGraph(nodes, tuple(edges))


def _node_ids(graph: ResourceGraph) -> dict[str, str]:
    return {urn: f"r{index}" for index, urn in enumerate(sorted(graph.nodes))}


def _node_label(node: Node) -> str:
    return f"{short_type(node.type)}<br/>{node.name}"


def mermaid(graph: ResourceGraph) -> str:
    """A Mermaid flowchart, one subgraph per cloud; cross-cloud edges thick, red and labelled."""
    ids = _node_ids(graph)
    lines = ["flowchart LR"]
    for index, cloud in enumerate(CLOUDS):
        members = [n for n in graph.nodes.values() if n.cloud == cloud]
        if not members:
            continue
        lines.append(f'  subgraph c{index}["{cloud}"]')
        lines.extend(f'    {ids[n.urn]}["{_node_label(n)}"]' for n in members)
        lines.append("  end")
    cross: list[int] = []
    for index, edge in enumerate(graph.edges):
        arrow = "-.->" if edge.kind == "explicit" else "-->"
        if edge.cross_cloud:
            cross.append(index)
            lines.append(f'  {ids[edge.source]} ==>|"{edge.label}"| {ids[edge.target]}')
        else:
            lines.append(f"  {ids[edge.source]} {arrow} {ids[edge.target]}")
    if cross:
        lines.append(f"  linkStyle {','.join(map(str, cross))} stroke:#d62728,stroke-width:3px")
    return "\n".join(lines) + "\n"


def dot(graph: ResourceGraph) -> str:
    """The same graph in Graphviz's language."""
    ids = _node_ids(graph)
    lines = [
        "digraph resources {",
        "  rankdir=LR;",
        '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=10];',
    ]
    for index, cloud in enumerate(CLOUDS):
        members = [n for n in graph.nodes.values() if n.cloud == cloud]
        if not members:
            continue
        lines.append(f'  subgraph cluster_{index} {{ label="{cloud}";')
        lines.extend(
            f'    {ids[n.urn]} [label="{short_type(n.type)}\\n{n.name}"];' for n in members
        )
        lines.append("  }")
    for edge in graph.edges:
        if edge.cross_cloud:
            attrs = f'color="#d62728", penwidth=2.5, label="{edge.label}", fontsize=9'
        else:
            attrs = "style=dashed" if edge.kind == "explicit" else 'color="#555555"'
        lines.append(f"  {ids[edge.source]} -> {ids[edge.target]} [{attrs}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_svg(graph: ResourceGraph, path: Path) -> bool:
    """Renders the graph with Graphviz's ``dot`` when it is installed; False when it is not."""
    executable = shutil.which("dot")
    if executable is None:
        return False
    svg = subprocess.run(
        [executable, "-Tsvg"], input=dot(graph), capture_output=True, text=True, check=True
    ).stdout
    path.write_text(svg)
    return True
