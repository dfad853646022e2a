"""The rules a pod spec must meet to run on the ACI virtual node, each beside its source.

Scope: virtual-kubelet/azure-aci v1.6.4 (commit 382bbaad88c3, virtual-kubelet v1.11.0) on Linux
with public IPs and no VNet, as this stack runs it, plus Azure Container Instances' own limits.
``docs/aci-rules.md`` lists the rules with their evidence and explains the rule ids used below. A
rule is checked when breaking it makes the pod fail (the connector refuses it, ARM refuses the
container group, or the pod never gets what it asked for); fields the connector merely ignores
(securityContext, hostNetwork, dnsConfig, ...) are not violations, so a template that also runs on
GKE may keep them. Rules whose enforcement no source confirms are not checked: the probe scheme's
case (C4), environment variable and volume name patterns (C11, V8), init containers in the
60-container limit (S3). One exception, on purpose: the group minimum of 1 CPU and 1 GB (R10) is
checked although its enforcement is unconfirmed, because Microsoft documents it as a requirement
and a smaller group is reported refused (see GROUP_LIMITS); a pod that would cost less is not worth
one that fails in ACI.

Abbreviations in the citations: ``aci.go`` is ``pkg/provider/aci.go``, ``volumes.go`` is
``pkg/provider/aci_volumes.go``, ``VK`` is the virtual-kubelet library; "Learn" pages are
Microsoft's ACI documentation (MicrosoftDocs/azure-compute-docs, 2025-11).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .quantities import (
    QuantityError,
    aci_cpu_limit,
    aci_cpu_request,
    aci_memory_limit,
    aci_memory_request,
    millicores,
)
from .values import IsUnknown

__all__ = [
    "DNS_LABEL_ANNOTATION",
    "GROUP_LIMITS",
    "GroupLimits",
    "PodContext",
    "Violation",
    "check",
]


# The annotation the connector turns into the container group's DNS name label (aci.go 53, 394).
DNS_LABEL_ANNOTATION = "virtualkubelet.io/dnsnamelabel"
GPU_TYPE_ANNOTATION = "virtual-kubelet.io/gpu-type"
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class GroupLimits:
    """How big a standard Linux container group may be, in cores and GB."""

    min_cpu: Decimal
    min_memory_gb: Decimal
    max_cpu: Decimal
    max_memory_gb: Decimal


# Learn "Resource availability & quota limits for ACI" (ms.date 2025-11-17), standard
# containers: at most 31 CPU and 240 GB per group. Learn "Container groups", Resource
# allocation: "Allocate a minimum of 1 CPU and 1 GB of memory to a container group"; groups
# below 1 CPU are reported refused with HTTP 500 (hashicorp/terraform-provider-azurerm #26925).
GROUP_LIMITS = GroupLimits(Decimal(1), Decimal(1), Decimal(31), Decimal(240))


@dataclass(frozen=True)
class Violation:
    """One broken rule: which, where, what was given, and how to fix it."""

    rule: str
    field: str
    given: str
    fix: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule} (given {self.given}); fix: {self.fix}"


@dataclass(frozen=True)
class PodContext:
    """What a rule needs besides the pod spec: where it is and how its pods are named."""

    kind: str
    namespace: str | None
    # The longest name a pod of this workload can get (None when not known yet).
    pod_name_example: str | None
    annotations: Mapping[str, Any]
    spec_path: str
    is_unknown: IsUnknown


Rule = Callable[[Mapping[str, Any], PodContext], Iterator[Violation]]


def _list(value: Any) -> list[Any]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _containers(
    spec: Mapping[str, Any], ctx: PodContext
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for container in _list(spec.get("containers")):
        yield f"{ctx.spec_path}.containers[{container.get('name')}]", container


def _init_containers(
    spec: Mapping[str, Any], ctx: PodContext
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for container in _list(spec.get("initContainers")):
        yield f"{ctx.spec_path}.initContainers[{container.get('name')}]", container


# --- Containers ---------------------------------------------------------------------------------


def args_need_command(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """C1/I1: ``args`` without ``command`` is refused (aci.go 1152-1154; verifyContainer 1045)."""
    for where, container in [*_containers(spec, ctx), *_init_containers(spec, ctx)]:
        if container.get("args") and not container.get("command"):
            yield Violation(
                "C1 args need a command",
                f"{where}.args",
                f"args {container.get('args')!r} without command",
                "set command as well: ACI runs command followed by args, replacing the image's "
                "ENTRYPOINT and CMD",
            )


def no_lifecycle_hooks(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """C2/I3: postStart/preStop with exec, httpGet or tcpSocket is refused (aci.go 1155, 1440)."""
    for where, container in [*_containers(spec, ctx), *_init_containers(spec, ctx)]:
        for hook, handler in _map(container.get("lifecycle")).items():
            used = [kind for kind in ("exec", "httpGet", "tcpSocket") if _map(handler).get(kind)]
            if used:
                yield Violation(
                    "C2 no lifecycle hooks",
                    f"{where}.lifecycle.{hook}",
                    f"a {used[0]} hook",
                    "remove the hook: ACI runs no lifecycle hooks",
                )


def no_startup_probe(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """C3: a startupProbe is refused (aci.go 1158-1160; azure-aci #566)."""
    for where, container in [*_containers(spec, ctx), *_init_containers(spec, ctx)]:
        if container.get("startupProbe"):
            yield Violation(
                "C3 no startupProbe",
                f"{where}.startupProbe",
                "a startupProbe",
                "remove it; give the livenessProbe an initialDelaySeconds instead",
            )


def probes_exec_or_http(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """C4: a probe has exactly one of exec and httpGet; a named port is the container's own.

    aci.go ``getProbe`` 1324-1365: tcpSocket or grpc alone, or both exec and httpGet, are
    refused; a named httpGet port must be a ``ports[].name`` of the same container. A port
    number is sent as it is, declared or not, and an undeclared port is not published on the
    group's IP (C6): so a probe may ask a port that only the probes reach.
    """
    for where, container in _containers(spec, ctx):
        port_names = {port.get("name") for port in _list(container.get("ports"))}
        for kind in ("livenessProbe", "readinessProbe"):
            probe = container.get(kind)
            if not isinstance(probe, Mapping):
                continue
            handlers = [h for h in ("exec", "httpGet") if probe.get(h)]
            if len(handlers) != 1:
                others = [h for h in ("tcpSocket", "grpc") if probe.get(h)]
                yield Violation(
                    "C4 probes use exec or httpGet",
                    f"{where}.{kind}",
                    " and ".join(handlers or others) or "no handler",
                    "use exactly one of exec and httpGet: ACI supports no other probe",
                )
                continue
            port = _map(probe.get("httpGet")).get("port")
            if isinstance(port, str) and not ctx.is_unknown(port) and port not in port_names:
                yield Violation(
                    "C4 probes use exec or httpGet",
                    f"{where}.{kind}.httpGet.port",
                    f"the port name {port!r}, which this container does not declare",
                    "use the port number, or a name from this container's ports",
                )


def published_ports(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """C6-C8: the group's public IP has at most 5 ports, distinct, published as TCP.

    aci.go 373-397 puts every containerPort of every container on one public IP, always as TCP
    (a UDP or SCTP port is not reachable there), without removing duplicates; Learn quota
    limits: "Ports per IP: 5" (hard).
    """
    seen: dict[int, str] = {}
    count = 0
    for where, container in _containers(spec, ctx):
        for index, port in enumerate(_list(container.get("ports"))):
            count += 1
            number = port.get("containerPort")
            protocol = port.get("protocol") or "TCP"
            field = f"{where}.ports[{index}]"
            if not ctx.is_unknown(protocol) and protocol != "TCP":
                yield Violation(
                    "C6 ports are TCP",
                    f"{field}.protocol",
                    repr(protocol),
                    "publish TCP only: the container group's public IP carries only TCP",
                )
            if isinstance(number, int) and number in seen:
                yield Violation(
                    "C7 ports are distinct",
                    f"{field}.containerPort",
                    f"{number}, declared already at {seen[number]}",
                    "declare each port once: the group's containers share one IP",
                )
            elif isinstance(number, int):
                seen[number] = field
    if count > 5:
        yield Violation(
            "C8 at most 5 ports",
            f"{ctx.spec_path}.containers[*].ports",
            f"{count} ports",
            "publish at most 5 ports (ACI's limit per IP)",
        )


_UNSUPPORTED_FIELD_PATH = re.compile(r"status\..*")


def env_the_connector_can_resolve(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """C9/C10: env values the connector cannot resolve or silently drops.

    VK v1.11.0 resolves env before the provider sees it (``internal/podutils/env.go``): a
    ``status.*`` fieldRef fails (helper.go 47-67, 96-109) and the pod stays Pending; a
    resourceFieldRef is left out (env.go 355-358). aci.go 1192 drops variables whose value is
    empty.
    """
    for where, container in [*_containers(spec, ctx), *_init_containers(spec, ctx)]:
        for variable in _list(container.get("env")):
            name = variable.get("name")
            value_from = _map(variable.get("valueFrom"))
            field = f"{where}.env[{name}]"
            path = _map(value_from.get("fieldRef")).get("fieldPath")
            if isinstance(path, str) and _UNSUPPORTED_FIELD_PATH.fullmatch(path):
                yield Violation(
                    "C10 no status fieldRef",
                    f"{field}.valueFrom.fieldRef.fieldPath",
                    repr(path),
                    "use metadata.* or spec.nodeName/spec.serviceAccountName: the connector "
                    "cannot resolve status.* and the pod never starts",
                )
            if value_from.get("resourceFieldRef"):
                yield Violation(
                    "C10 no resourceFieldRef",
                    f"{field}.valueFrom.resourceFieldRef",
                    "a resourceFieldRef",
                    "set the value literally: the connector leaves such a variable out",
                )
            if "valueFrom" not in variable and variable.get("value", "") == "":
                yield Violation(
                    "C9 no empty env value",
                    f"{field}.value",
                    "an empty value",
                    "give it a value or remove it: the connector drops empty variables",
                )


def no_service_links(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """C11: service links inject ``*_SERVICE_HOST`` variables that point nowhere in ACI.

    VK env.go 123-165, 290-328 injects them while ``enableServiceLinks`` is true (the default);
    without a subnet there is no kube-proxy extension and no cluster DNS (aci.go 293-301), so
    ClusterIPs are unreachable from the container group.
    """
    enabled = spec.get("enableServiceLinks", True)
    if enabled is not False and not ctx.is_unknown(enabled):
        yield Violation(
            "C11 enableServiceLinks is false",
            f"{ctx.spec_path}.enableServiceLinks",
            "true (the default)" if "enableServiceLinks" not in spec else repr(enabled),
            "set enableServiceLinks: false: cluster services are unreachable from ACI",
        )


# --- Resources ----------------------------------------------------------------------------------


def _quantity_violation(field: str, value: Any, what: str) -> Violation:
    return Violation("R0 quantities", field, repr(value), f"write {what} as a Kubernetes quantity")


def resources_fit_a_group(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """R1-R10: requests and limits as the connector rounds them, and the group's size.

    aci.go 1199-1233 (see quantities.py): the group's size is the sum of the requests; each
    limit must be at least its own request (``ResourceLimitsLessThanRequests``, VK #143) and at
    most the group's total request (``ContainerLimitGreaterThanContainerGroupTotalRequest``,
    azure-aci #17 and #149, VK #153); CPU in steps of 10m keeps request and limit from rounding
    apart (R7). GPUs: the node never advertises one and ACI retired GPU containers on
    2025-07-14 (R9; Learn quota limits).
    """
    # Each container: where, its limits (None when it sets none), its requests as ACI sizes them.
    sized: list[tuple[str, Mapping[str, Any] | None, Decimal, Decimal]] = []
    total_cpu, total_memory = Decimal(0), Decimal(0)
    for where, container in _containers(spec, ctx):
        resources = _map(container.get("resources"))
        requests, limits = _map(resources.get("requests")), _map(resources.get("limits"))
        for kind, values in (("requests", requests), ("limits", limits)):
            if GPU_RESOURCE in values:
                yield Violation(
                    "R9 no GPU",
                    f"{where}.resources.{kind}.{GPU_RESOURCE}",
                    repr(values[GPU_RESOURCE]),
                    "remove the GPU: ACI retired GPU containers on 2025-07-14",
                )
            cpu = values.get("cpu")
            if cpu is None or ctx.is_unknown(cpu):
                continue
            try:
                if millicores(cpu) % 10:
                    yield Violation(
                        "R7 CPU in steps of 10m",
                        f"{where}.resources.{kind}.cpu",
                        repr(cpu),
                        "use a multiple of 10m: ACI counts CPU in hundredths of a core",
                    )
            except QuantityError:
                yield _quantity_violation(f"{where}.resources.{kind}.cpu", cpu, "CPU")
        try:
            cpu_request = aci_cpu_request(_known(requests.get("cpu"), ctx))
            memory_request = aci_memory_request(_known(requests.get("memory"), ctx))
        except QuantityError:
            yield _quantity_violation(f"{where}.resources.requests", dict(requests), "requests")
            continue
        total_cpu += cpu_request
        total_memory += memory_request
        sized.append(
            (where, limits if "limits" in resources else None, cpu_request, memory_request)
        )

    for where, limits, cpu_request, memory_request in sized:
        if limits is None:
            continue  # no limits are sent (aci.go 1224)
        for resource, request, total, convert, unit in (
            ("cpu", cpu_request, total_cpu, aci_cpu_limit, "cores"),
            ("memory", memory_request, total_memory, aci_memory_limit, "GB"),
        ):
            raw = limits.get(resource)
            if raw is None or ctx.is_unknown(raw):
                continue
            try:
                limit = convert(raw)
            except QuantityError:
                yield _quantity_violation(f"{where}.resources.limits.{resource}", raw, resource)
                continue
            field = f"{where}.resources.limits.{resource}"
            if limit < request:
                yield Violation(
                    "R6 limit not below request",
                    field,
                    f"{raw!r}, sent to ACI as {limit} {unit} against a request of {request}",
                    "set the limit equal to the request",
                )
            if limit > total:
                yield Violation(
                    "R5 limit not above the group's request",
                    field,
                    f"{raw!r} ({limit} {unit}), above the group's total request of {total}",
                    "set limits equal to requests (or leave limits out): ACI refuses a limit "
                    "above the sum of the group's requests",
                )

    if sized:
        yield from _group_size(total_cpu, total_memory, ctx)


def _known(value: Any, ctx: PodContext) -> Any:
    # An unknown request is sized as though absent only for the total; it is another
    # resource's output in a preview, never a literal of this stack.
    return None if value is None or ctx.is_unknown(value) else value


def _group_size(cpu: Decimal, memory: Decimal, ctx: PodContext) -> Iterator[Violation]:
    limits = GROUP_LIMITS
    field = f"{ctx.spec_path}.containers[*].resources.requests"
    if cpu < limits.min_cpu or memory < limits.min_memory_gb:
        yield Violation(
            "R10 group at least 1 CPU and 1 GB",
            field,
            f"a group of {cpu} CPU and {memory} GB (after the connector's rounding)",
            "request at least 1 CPU and 1Gi in total across the pod's containers",
        )
    if cpu > limits.max_cpu or memory > limits.max_memory_gb:
        yield Violation(
            "R10 group at most 31 CPU and 240 GB",
            field,
            f"a group of {cpu} CPU and {memory} GB",
            "request at most 31 CPU and 240 GB in total (and expect capacity failures above "
            "4 CPU / 16 GB in many regions)",
        )


# --- Init containers ----------------------------------------------------------------------------


def plain_init_containers(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """I2-I4: init containers have no ports, resources, probes; they must exit.

    aci.go 1102-1128 refuses an init container whose ``ports``, ``resources.requests`` or
    ``resources.limits`` is present at all (even empty), or that has a probe. A sidecar-style
    init container (``restartPolicy: Always``) is sent as an ordinary one and never exits,
    so the group never starts (derived, I4).
    """
    for where, container in _init_containers(spec, ctx):
        resources = _map(container.get("resources"))
        present = [
            *([(f"{where}.ports", "ports")] if "ports" in container else []),
            *[
                (f"{where}.resources.{key}", f"resource {key}")
                for key in ("requests", "limits")
                if key in resources
            ],
            *[
                (f"{where}.{key}", key)
                for key in ("livenessProbe", "readinessProbe")
                if key in container
            ],
        ]
        for field, what in present:
            yield Violation(
                "I2 init containers are plain",
                field,
                what,
                f"remove {what} from the init container: ACI refuses them there",
            )
        if container.get("restartPolicy") == "Always":
            yield Violation(
                "I4 init containers exit",
                f"{where}.restartPolicy",
                "'Always' (a sidecar)",
                "run the sidecar as an ordinary container: ACI waits for init containers to exit",
            )


# --- Volumes ------------------------------------------------------------------------------------

_SUPPORTED_VOLUMES = ("emptyDir", "secret", "configMap", "projected", "azureFile", "csi", "gitRepo")
AZURE_FILE_CSI_DRIVER = "file.csi.azure.com"


def supported_volumes(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """V1-V8: the volume types the connector maps, and ACI's limits on them.

    volumes.go 60-288 maps emptyDir, gitRepo, secret, configMap, projected (secret and
    configMap items only), azureFile and csi with driver file.csi.azure.com (shareName and
    secretName attributes); any other type fails with "requires volume ... of an unsupported
    type" (284). Learn quota limits: at most 20 volumes per group, which counts the token
    volume Kubernetes adds unless automountServiceAccountToken is false. A mountPath with ':'
    is refused (ARM InvalidVolumeMountPath, VK #367); subPath is ignored (aci.go 1179-1187), so
    the whole volume would be mounted.
    """
    volumes = _list(spec.get("volumes"))
    for volume in volumes:
        field = f"{ctx.spec_path}.volumes[{volume.get('name')}]"
        kinds = [key for key in volume if key != "name"]
        kind = kinds[0] if kinds else "none"
        if kind not in _SUPPORTED_VOLUMES:
            yield Violation(
                "V7 supported volume types",
                field,
                f"a {kind} volume",
                "use emptyDir, secret, configMap, projected (secret/configMap items), azureFile, "
                f"csi ({AZURE_FILE_CSI_DRIVER}) or gitRepo",
            )
        elif kind == "csi":
            csi = _map(volume["csi"])
            attributes = _map(csi.get("volumeAttributes"))
            if csi.get("driver") != AZURE_FILE_CSI_DRIVER or not (
                attributes.get("shareName") and attributes.get("secretName")
            ):
                yield Violation(
                    "V1 CSI is Azure Files",
                    f"{field}.csi",
                    f"driver {csi.get('driver')!r} with attributes {sorted(attributes)}",
                    f"use driver {AZURE_FILE_CSI_DRIVER} with volumeAttributes shareName and "
                    "secretName",
                )
        elif kind == "projected":
            yield from _projected_sources(_map(volume["projected"]), field)
    tokens = 0 if spec.get("automountServiceAccountToken") is False else 1
    if len(volumes) + tokens > 20:
        yield Violation(
            "V8 at most 20 volumes",
            f"{ctx.spec_path}.volumes",
            f"{len(volumes) + tokens} volumes",
            "use at most 20 volumes (ACI's limit per group)",
        )
    for where, container in [*_containers(spec, ctx), *_init_containers(spec, ctx)]:
        for mount in _list(container.get("volumeMounts")):
            field = f"{where}.volumeMounts[{mount.get('name')}]"
            path = mount.get("mountPath")
            if isinstance(path, str) and ":" in path:
                yield Violation(
                    "V8 mountPath without ':'",
                    f"{field}.mountPath",
                    repr(path),
                    "choose a mount path without ':'",
                )
            for key in ("subPath", "subPathExpr"):
                if mount.get(key):
                    yield Violation(
                        "C12 no subPath",
                        f"{field}.{key}",
                        repr(mount[key]),
                        "mount the whole volume: the connector ignores subPath",
                    )


def _projected_sources(projected: Mapping[str, Any], field: str) -> Iterator[Violation]:
    """V6: projected secret/configMap sources carry only their ``items``; nothing else is kept."""
    for index, source in enumerate(_list(projected.get("sources"))):
        where = f"{field}.projected.sources[{index}]"
        for kind in ("secret", "configMap"):
            if kind in source and not _map(source[kind]).get("items"):
                yield Violation(
                    "V6 projected sources list their items",
                    f"{where}.{kind}",
                    f"a {kind} source without items",
                    "list the keys in items: the connector projects only listed keys",
                )
        for kind in ("downwardAPI", "clusterTrustBundle", "serviceAccountToken"):
            if kind in source:
                yield Violation(
                    "V6 projected sources are secrets or configMaps",
                    f"{where}.{kind}",
                    f"a {kind} source",
                    "project only secrets and configMaps: the connector drops this source",
                )


def no_service_account_token(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """V6: the automatic token volume arrives without a token.

    volumes.go 181-281 copies a service-account token only from a legacy token Secret, which
    current clusters no longer create (azure-aci #543, #189): the pod gets ``ca.crt`` alone.
    """
    automount = spec.get("automountServiceAccountToken")
    if automount is not False and not ctx.is_unknown(automount):
        yield Violation(
            "V6 no service account token",
            f"{ctx.spec_path}.automountServiceAccountToken",
            "true (the default)" if automount is None else repr(automount),
            "set automountServiceAccountToken: false: ACI pods get no token from the connector",
        )


# --- The container group ------------------------------------------------------------------------

_GROUP_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def group_name(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """P7: the container group is named ``<namespace>-<pod name>`` (aci.go 460-462).

    ARM's rule for Microsoft.ContainerInstance names (Learn resource-name-rules): 1-63
    characters, lowercase letters, digits and '-', no leading, trailing or double '-'.
    """
    del spec
    if ctx.namespace is None or ctx.pod_name_example is None:
        return
    example = f"{ctx.namespace}-{ctx.pod_name_example}"
    length = len(example)
    if length > 63:
        yield Violation(
            "P7 container group name",
            "metadata.name",
            f"{length} characters for '<namespace>-<pod name>' (such as {example!r})",
            "shorten the namespace or the name: ACI names the group '<namespace>-<pod>', at "
            "most 63 characters",
        )
    if not _GROUP_NAME.fullmatch(example) or "--" in example:
        yield Violation(
            "P7 container group name",
            "metadata.name",
            repr(example),
            "use lowercase letters, digits and single '-' only (no '.', no '--')",
        )


_DNS_LABEL = re.compile(r"[a-z][a-z0-9-]{3,61}[a-z0-9]")


def dns_label(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """P5/P6: the DNS label annotation, and the GPU annotation.

    The label is used only when the pod declares ports (aci.go 394-396), must be unique in the
    region, so one pod at a time may carry it, and is 5-63 characters, letters, digits and '-',
    starting with a letter (Learn troubleshooting). GPU types are moot: ACI retired GPUs (R9).
    """
    field = "metadata.annotations"
    label = ctx.annotations.get(DNS_LABEL_ANNOTATION)
    if label and not ctx.is_unknown(label):
        where = f"{field}[{DNS_LABEL_ANNOTATION}]"
        if ctx.kind != "Pod":
            yield Violation(
                "P6 DNS label on one pod",
                where,
                f"{label!r} on a {ctx.kind}'s pods",
                "set the DNS label only on a single Pod: it must be unique in the region",
            )
        if not _DNS_LABEL.fullmatch(str(label)):
            yield Violation(
                "P6 DNS label format",
                where,
                repr(label),
                "use 5-63 lowercase letters, digits and '-', starting with a letter",
            )
        if not any(_list(c.get("ports")) for _, c in _containers(spec, ctx)):
            yield Violation(
                "P6 DNS label needs a port",
                where,
                "a DNS label on a pod without ports",
                "declare the container's port: ACI gives a group an address only for its ports",
            )
    if ctx.annotations.get(GPU_TYPE_ANNOTATION):
        yield Violation(
            "R9 no GPU",
            f"{field}[{GPU_TYPE_ANNOTATION}]",
            repr(ctx.annotations[GPU_TYPE_ANNOTATION]),
            "remove the GPU annotation: ACI retired GPU containers on 2025-07-14",
        )


def container_count(spec: Mapping[str, Any], ctx: PodContext) -> Iterator[Violation]:
    """S3: at most 60 containers per group (Learn quota limits, hard)."""
    count = len(_list(spec.get("containers")))
    if count > 60:
        yield Violation(
            "S3 at most 60 containers",
            f"{ctx.spec_path}.containers",
            f"{count} containers",
            "split the pod: ACI allows at most 60 containers per group",
        )


RULES: Sequence[Rule] = (
    args_need_command,
    no_lifecycle_hooks,
    no_startup_probe,
    probes_exec_or_http,
    published_ports,
    env_the_connector_can_resolve,
    no_service_links,
    resources_fit_a_group,
    plain_init_containers,
    supported_volumes,
    no_service_account_token,
    group_name,
    dns_label,
    container_count,
)


def check(spec: Mapping[str, Any], ctx: PodContext) -> list[Violation]:
    """Every rule's violations for one pod spec (API form)."""
    return [violation for rule in RULES for violation in rule(spec, ctx)]
