"""The ACI rules (core/aci_rules): each rule with a conforming and a violating pod spec.

The rules and their sources are in docs/aci-rules.md and beside each check. Every
case starts from one conforming pod on the virtual node and changes one thing.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from core.aci_rules import (
    QuantityError,
    aci_cpu_request,
    aci_memory_request,
    aci_violations,
    parse_quantity,
    pod_template,
    runs_on_virtual_node,
    virtual_node,
)
from core.aci_rules.quantities import aci_cpu_limit, aci_memory_limit

NODE = virtual_node("aci-connector")
TOLERATION = {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"}


def conforming_pod() -> dict[str, Any]:
    """A pod ACI takes: pinned to the virtual node, sized 1 CPU / 1 GB, limits = requests."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "todo", "annotations": {}},
        "spec": {
            "nodeSelector": {"type": "virtual-kubelet", "kubernetes.io/hostname": "aci-connector"},
            "tolerations": [TOLERATION],
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "containers": [
                {
                    "name": "web",
                    "image": "example.azurecr.io/todo@sha256:" + "a" * 64,
                    "command": ["gunicorn"],
                    "args": ["todo.wsgi:app"],
                    "env": [
                        {"name": "PORT", "value": "8080"},
                        {
                            "name": "POD_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        },
                        {
                            "name": "NODE_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                        },
                    ],
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "resources": {
                        "requests": {"cpu": "1", "memory": "1Gi"},
                        "limits": {"cpu": "1", "memory": "1Gi"},
                    },
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                    "livenessProbe": {"exec": {"command": ["true"]}},
                    "volumeMounts": [
                        {"name": "database", "mountPath": "/run/secrets/todo", "readOnly": True},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                }
            ],
            "volumes": [
                {"name": "database", "secret": {"secretName": "db"}},
                {"name": "tmp", "emptyDir": {}},
            ],
        },
    }


def rules_broken(obj: dict[str, Any]) -> list[str]:
    return [violation.rule for violation in aci_violations(obj, [NODE])]


def container(pod: dict[str, Any]) -> dict[str, Any]:
    return pod["spec"]["containers"][0]


def test_the_conforming_pod_breaks_no_rule() -> None:
    assert aci_violations(conforming_pod(), [NODE]) == []


Change = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Change:
    def change(pod: dict[str, Any]) -> None:
        *parents, last = path.split("|")
        target: Any = pod
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[last] = value

    return change


def _drop(path: str) -> Change:
    def change(pod: dict[str, Any]) -> None:
        *parents, last = path.split("|")
        target: Any = pod
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        del target[last]

    return change


def _init(**fields: Any) -> Change:
    def change(pod: dict[str, Any]) -> None:
        pod["spec"]["initContainers"] = [{"name": "setup", "image": "busybox", **fields}]

    return change


def _add_container(**fields: Any) -> Change:
    def change(pod: dict[str, Any]) -> None:
        pod["spec"]["containers"].append({"name": "side", "image": "busybox", **fields})

    return change


def _volume(volume: dict[str, Any]) -> Change:
    def change(pod: dict[str, Any]) -> None:
        pod["spec"]["volumes"].append({"name": "extra", **volume})

    return change


def _dns_label_without_ports(pod: dict[str, Any]) -> None:
    pod["metadata"]["annotations"]["virtualkubelet.io/dnsnamelabel"] = "my-todo"
    del container(pod)["ports"], container(pod)["readinessProbe"]


C = "spec|containers|0"
VIOLATIONS: dict[str, tuple[Change, str, str]] = {
    # id: (change, rule, field the violation names)
    "args-without-command": (_drop(f"{C}|command"), "C1", "spec.containers[web].args"),
    "init-args-without-command": (
        _init(args=["x"]),
        "C1",
        "spec.initContainers[setup].args",
    ),
    "poststart-exec": (
        _set(f"{C}|lifecycle", {"postStart": {"exec": {"command": ["x"]}}}),
        "C2",
        "spec.containers[web].lifecycle.postStart",
    ),
    "prestop-http": (
        _set(f"{C}|lifecycle", {"preStop": {"httpGet": {"port": 8080}}}),
        "C2",
        "spec.containers[web].lifecycle.preStop",
    ),
    "startup-probe": (
        _set(f"{C}|startupProbe", {"httpGet": {"path": "/", "port": 8080}}),
        "C3",
        "spec.containers[web].startupProbe",
    ),
    "tcp-probe": (
        _set(f"{C}|readinessProbe", {"tcpSocket": {"port": 8080}}),
        "C4",
        "spec.containers[web].readinessProbe",
    ),
    "grpc-probe": (
        _set(f"{C}|livenessProbe", {"grpc": {"port": 8080}}),
        "C4",
        "spec.containers[web].livenessProbe",
    ),
    "exec-and-http-probe": (
        _set(f"{C}|livenessProbe", {"exec": {"command": ["x"]}, "httpGet": {"port": 8080}}),
        "C4",
        "spec.containers[web].livenessProbe",
    ),
    "unknown-named-port": (
        _set(f"{C}|readinessProbe", {"httpGet": {"path": "/", "port": "web"}}),
        "C4",
        "spec.containers[web].readinessProbe.httpGet.port",
    ),
    "udp-port": (
        _set(f"{C}|ports", [{"containerPort": 53, "protocol": "UDP"}]),
        "C6",
        "spec.containers[web].ports[0].protocol",
    ),
    "duplicate-port": (
        _add_container(ports=[{"containerPort": 8080}], command=["x"]),
        "C7",
        "spec.containers[side].ports[0].containerPort",
    ),
    "six-ports": (
        _set(f"{C}|ports", [{"containerPort": 8080 + n} for n in range(6)]),
        "C8",
        "spec.containers[*].ports",
    ),
    "status-field-ref": (
        _set(
            f"{C}|env", [{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
        ),
        "C10",
        "spec.containers[web].env[IP].valueFrom.fieldRef.fieldPath",
    ),
    "resource-field-ref": (
        _set(
            f"{C}|env",
            [{"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}],
        ),
        "C10",
        "spec.containers[web].env[CPU].valueFrom.resourceFieldRef",
    ),
    "empty-env": (
        _set(f"{C}|env", [{"name": "EMPTY", "value": ""}]),
        "C9",
        "spec.containers[web].env[EMPTY].value",
    ),
    "service-links-default": (
        _drop("spec|enableServiceLinks"),
        "C11",
        "spec.enableServiceLinks",
    ),
    "service-links-on": (_set("spec|enableServiceLinks", True), "C11", "spec.enableServiceLinks"),
    "not-a-quantity": (
        _set(f"{C}|resources|requests|cpu", "a lot"),
        "R0",
        "spec.containers[web].resources.requests.cpu",
    ),
    # The web pod as it was: requests 500m/512Mi, limits 1/1Gi (ContainerLimitGreaterThan...).
    "limit-above-group-request": (
        _set(
            f"{C}|resources",
            {
                "requests": {"cpu": "1", "memory": "1Gi"},
                "limits": {"cpu": "2", "memory": "1Gi"},
            },
        ),
        "R5",
        "spec.containers[web].resources.limits.cpu",
    ),
    # A 50Mi memory limit is sent as 0.0 GB, the request as the 0.1 GB minimum.
    "limit-rounds-below-request": (
        _add_container(
            command=["x"],
            resources={
                "requests": {"cpu": "10m", "memory": "50Mi"},
                "limits": {"cpu": "10m", "memory": "50Mi"},
            },
        ),
        "R6",
        "spec.containers[side].resources.limits.memory",
    ),
    "cpu-not-in-10m-steps": (
        _set(f"{C}|resources", {"requests": {"cpu": "1125m", "memory": "1Gi"}}),
        "R7",
        "spec.containers[web].resources.requests.cpu",
    ),
    "gpu-limit": (
        _set(f"{C}|resources|limits|nvidia.com/gpu", 1),
        "R9",
        "spec.containers[web].resources.limits.nvidia.com/gpu",
    ),
    "gpu-annotation": (
        _set("metadata|annotations|virtual-kubelet.io/gpu-type", "V100"),
        "R9",
        "metadata.annotations[virtual-kubelet.io/gpu-type]",
    ),
    "group-below-1-cpu": (
        _set(f"{C}|resources", {"requests": {"cpu": "500m", "memory": "1Gi"}}),
        "R10",
        "spec.containers[*].resources.requests",
    ),
    "group-below-1-gb": (
        _set(f"{C}|resources", {"requests": {"cpu": "1", "memory": "512Mi"}}),
        "R10",
        "spec.containers[*].resources.requests",
    ),
    "group-above-31-cpu": (
        _set(f"{C}|resources", {"requests": {"cpu": "32", "memory": "1Gi"}}),
        "R10",
        "spec.containers[*].resources.requests",
    ),
    "init-ports-even-empty": (_init(ports=[]), "I2", "spec.initContainers[setup].ports"),
    "init-requests": (
        _init(resources={"requests": {"cpu": "10m"}}),
        "I2",
        "spec.initContainers[setup].resources.requests",
    ),
    "init-limits": (
        _init(resources={"limits": {"memory": "64Mi"}}),
        "I2",
        "spec.initContainers[setup].resources.limits",
    ),
    "init-probe": (
        _init(readinessProbe={"exec": {"command": ["true"]}}),
        "I2",
        "spec.initContainers[setup].readinessProbe",
    ),
    "init-sidecar": (
        _init(restartPolicy="Always"),
        "I4",
        "spec.initContainers[setup].restartPolicy",
    ),
    "host-path": (_volume({"hostPath": {"path": "/var"}}), "V7", "spec.volumes[extra]"),
    "pvc": (
        _volume({"persistentVolumeClaim": {"claimName": "data"}}),
        "V7",
        "spec.volumes[extra]",
    ),
    "csi-other-driver": (
        _volume({"csi": {"driver": "pd.csi.storage.gke.io"}}),
        "V1",
        "spec.volumes[extra].csi",
    ),
    "projected-without-items": (
        _volume({"projected": {"sources": [{"secret": {"name": "s"}}]}}),
        "V6",
        "spec.volumes[extra].projected.sources[0].secret",
    ),
    "projected-token": (
        _volume({"projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}),
        "V6",
        "spec.volumes[extra].projected.sources[0].serviceAccountToken",
    ),
    "twenty-one-volumes": (
        _set("spec|volumes", [{"name": f"v{n}", "emptyDir": {}} for n in range(21)]),
        "V8",
        "spec.volumes",
    ),
    "colon-in-mount-path": (
        _set(f"{C}|volumeMounts|1|mountPath", "/tmp:x"),
        "V8",
        "spec.containers[web].volumeMounts[tmp].mountPath",
    ),
    "sub-path": (
        _set(f"{C}|volumeMounts|0|subPath", "DB"),
        "C12",
        "spec.containers[web].volumeMounts[database].subPath",
    ),
    "token-automount": (
        _drop("spec|automountServiceAccountToken"),
        "V6",
        "spec.automountServiceAccountToken",
    ),
    "group-name-too-long": (
        _set("metadata|name", "w" * 59),
        "P7",
        "metadata.name",
    ),
    "group-name-with-dot": (_set("metadata|name", "web.v1"), "P7", "metadata.name"),
    "group-name-double-hyphen": (_set("metadata|name", "web--1"), "P7", "metadata.name"),
    "dns-label-format": (
        _set("metadata|annotations|virtualkubelet.io/dnsnamelabel", "1todo"),
        "P6",
        "metadata.annotations[virtualkubelet.io/dnsnamelabel]",
    ),
    "dns-label-without-ports": (
        _dns_label_without_ports,
        "P6",
        "metadata.annotations[virtualkubelet.io/dnsnamelabel]",
    ),
    "sixty-one-containers": (
        _set(
            "spec|containers",
            [
                {"name": f"c{n}", "image": "x", "resources": {"requests": {"cpu": "10m"}}}
                for n in range(61)
            ],
        ),
        "S3",
        "spec.containers",
    ),
}


@pytest.mark.parametrize("case", sorted(VIOLATIONS))
def test_each_rule_refuses_what_aci_refuses(case: str) -> None:
    change, rule, field = VIOLATIONS[case]
    pod = conforming_pod()
    change(pod)
    violations = aci_violations(pod, [NODE])
    found = [(v.rule.split()[0], v.field) for v in violations]
    assert (rule, field) in found, violations
    for violation in violations:
        assert violation.fix
        assert violation.given


def test_every_rule_is_exercised() -> None:
    """Each check of the package breaks on some case above and passes the conforming pod."""
    from core.aci_rules.checks import RULES, PodContext

    def broken_by(pod: dict[str, Any]) -> set[str]:
        template = pod_template(pod)
        assert template is not None
        context = PodContext(
            kind=template.kind,
            namespace=template.namespace,
            pod_name_example=template.pod_name_example,
            annotations=template.metadata.get("annotations") or {},
            spec_path=template.spec_path,
            is_unknown=lambda _: False,
        )
        return {rule.__name__ for rule in RULES if list(rule(template.spec, context))}

    assert broken_by(conforming_pod()) == set()
    covered: set[str] = set()
    for change, _, _ in VIOLATIONS.values():
        pod = conforming_pod()
        change(pod)
        covered |= broken_by(pod)
    assert covered == {rule.__name__ for rule in RULES}


def test_a_message_names_rule_field_what_was_given_and_the_fix() -> None:
    pod = conforming_pod()
    container(pod)["resources"] = {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }
    [violation] = aci_violations(pod, [NODE])
    assert str(violation) == (
        "spec.containers[web].resources.limits.cpu: R5 limit not above the group's request "
        "(given '2' (2 cores), above the group's total request of 1); fix: set limits equal to "
        "requests (or leave limits out): ACI refuses a limit above the sum of the group's requests"
    )


# --- What the rules allow -----------------------------------------------------------------------

ALLOWED: dict[str, Change] = {
    "no-limits": _set(f"{C}|resources", {"requests": {"cpu": "1", "memory": "1Gi"}}),
    # A second container's limit may reach the group's total request.
    "sidecar-limit-up-to-the-total": _add_container(
        command=["x"],
        resources={"requests": {"cpu": "10m", "memory": "100M"}, "limits": {"cpu": "1010m"}},
    ),
    "named-probe-port-declared": _set(f"{C}|readinessProbe|httpGet|port", "http"),
    # A port number is sent as it is (aci.go getProbe): a probe may ask a port the pod does not
    # declare, which is then not published on the group's IP (the replicas' plain probe port
    # behind the entry point, specs/web_workload.py).
    "probe-on-an-undeclared-port-number": _set(
        f"{C}|livenessProbe", {"httpGet": {"path": "/livez", "port": 8081, "scheme": "HTTP"}}
    ),
    "sleep-lifecycle-ignored": _set(f"{C}|lifecycle", {"preStop": {"sleep": {"seconds": 5}}}),
    "azure-files-csi": _volume(
        {
            "csi": {
                "driver": "file.csi.azure.com",
                "volumeAttributes": {"shareName": "share", "secretName": "azure-files"},
            }
        }
    ),
    "projected-items": _volume(
        {
            "projected": {
                "sources": [{"configMap": {"name": "c", "items": [{"key": "k", "path": "k"}]}}]
            }
        }
    ),
    "dns-label": _set("metadata|annotations|virtualkubelet.io/dnsnamelabel", "my-todo"),
    "security-context-ignored": _set(f"{C}|securityContext", {"runAsNonRoot": True}),
    "init-container-plain": _init(command=["sh", "-c", "true"]),
}


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_what_aci_takes_passes(case: str) -> None:
    pod = conforming_pod()
    ALLOWED[case](pod)
    assert aci_violations(pod, [NODE]) == []


# --- Which workloads the rules apply to --------------------------------------------------------


def deployment(spec: dict[str, Any], name: str = "app") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"replicas": 3, "template": {"metadata": {}, "spec": spec}},
    }


HOST_PATH_SPEC = {
    "containers": [
        {"name": "agent", "image": "x", "volumeMounts": [{"name": "h", "mountPath": "/h"}]}
    ],
    "volumes": [{"name": "h", "hostPath": {"path": "/var/log"}}],
}


def test_a_workload_that_cannot_tolerate_the_taint_is_not_checked() -> None:
    assert not runs_on_virtual_node(deployment(HOST_PATH_SPEC), [NODE])
    assert aci_violations(deployment(HOST_PATH_SPEC), [NODE]) == []


def test_a_blanket_toleration_brings_a_daemonset_onto_the_virtual_node() -> None:
    daemonset = {
        "kind": "DaemonSet",
        "metadata": {"name": "pdcsi-node", "namespace": "kube-system"},
        "spec": {
            "template": {
                "spec": {
                    **HOST_PATH_SPEC,
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [{"operator": "Exists"}],
                }
            }
        },
    }
    assert runs_on_virtual_node(daemonset, [NODE])
    assert "V7 supported volume types" in rules_broken(daemonset)


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        ({"nodeSelector": {"type": "virtual-kubelet"}}, True),
        ({"nodeSelector": {"cloud.google.com/gke-nodepool": "default"}}, False),
        ({"nodeSelector": {"kubernetes.io/hostname": "another-virtual-node"}}, False),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "type",
                                            "operator": "NotIn",
                                            "values": ["virtual-kubelet"],
                                        }
                                    ]
                                }
                            ]
                        }
                    }
                }
            },
            False,
        ),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]},
                                {
                                    "matchFields": [
                                        {
                                            "key": "metadata.name",
                                            "operator": "In",
                                            "values": ["aci-connector"],
                                        }
                                    ]
                                },
                            ]
                        }
                    }
                }
            },
            True,
        ),
        # Only a preference: the pod may still land there.
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 1,
                                "preference": {
                                    "matchExpressions": [
                                        {
                                            "key": "type",
                                            "operator": "NotIn",
                                            "values": ["virtual-kubelet"],
                                        }
                                    ]
                                },
                            }
                        ]
                    }
                }
            },
            True,
        ),
    ],
)
def test_the_rules_apply_where_the_scheduler_may_place_the_pod(
    placement: dict[str, Any], expected: bool
) -> None:
    spec = {**HOST_PATH_SPEC, "tolerations": [TOLERATION], **placement}
    assert runs_on_virtual_node(deployment(spec), [NODE]) is expected


@pytest.mark.parametrize(
    ("toleration", "expected"),
    [
        (TOLERATION, True),
        ({"key": "virtual-kubelet.io/provider", "operator": "Equal", "value": "azure"}, True),
        ({"key": "virtual-kubelet.io/provider", "value": "aws"}, False),
        (
            {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoExecute"},
            False,
        ),
        ({"operator": "Exists"}, True),
        ({"key": "other", "operator": "Exists"}, False),
    ],
)
def test_tolerating_the_taint_follows_kubernetes(
    toleration: dict[str, Any], expected: bool
) -> None:
    spec = {**HOST_PATH_SPEC, "tolerations": [toleration]}
    assert runs_on_virtual_node(deployment(spec), [NODE]) is expected


def test_a_pod_bound_by_name_skips_the_taint() -> None:
    pod = conforming_pod()
    del pod["spec"]["tolerations"], pod["spec"]["nodeSelector"]
    pod["spec"]["nodeName"] = "aci-connector"
    assert runs_on_virtual_node(pod, [NODE])
    pod["spec"]["nodeName"] = "gke-node-1"
    assert not runs_on_virtual_node(pod, [NODE])


@pytest.mark.parametrize(
    ("kind", "spec", "example"),
    [
        ("Deployment", {"replicas": 2, "template": {}}, "app-5d8f7c9b4f-x2k4q"),
        ("ReplicaSet", {"template": {}}, "app-x2k4q"),
        ("DaemonSet", {"template": {}}, "app-x2k4q"),
        ("Job", {"template": {}}, "app-x2k4q"),
        ("StatefulSet", {"replicas": 12, "template": {}}, "app-11"),
        ("CronJob", {"jobTemplate": {"spec": {"template": {}}}}, "app-29420160-x2k4q"),
    ],
)
def test_pods_of_each_kind_are_named_as_kubernetes_names_them(
    kind: str, spec: dict[str, Any], example: str
) -> None:
    template = pod_template({"kind": kind, "metadata": {"name": "app"}, "spec": spec})
    assert template is not None
    assert template.pod_name_example == example
    assert template.namespace == "default"


def test_a_deployment_name_that_leaves_no_room_for_the_pod_suffix_is_refused() -> None:
    spec = conforming_pod()["spec"]
    # The group is todo-<name>-<hash, 10>-<5>: with a 42-character name, 64 characters.
    too_long = deployment(spec, name="w" * 42)
    too_long["metadata"]["namespace"] = "todo"
    assert "P7 container group name" in rules_broken(too_long)
    just_fits = deployment(spec, name="w" * 41)
    just_fits["metadata"]["namespace"] = "todo"
    assert rules_broken(just_fits) == []


def test_a_dns_label_on_a_deployment_is_refused() -> None:
    pod = conforming_pod()
    obj = deployment(pod["spec"])
    obj["spec"]["template"]["metadata"] = {
        "annotations": {"virtualkubelet.io/dnsnamelabel": "my-todo"}
    }
    assert "P6 DNS label on one pod" in rules_broken(obj)


def test_unknown_values_are_not_judged() -> None:
    unknown = "<unknown>"
    pod = conforming_pod()
    pod["metadata"]["namespace"] = unknown
    pod["metadata"]["name"] = unknown
    container(pod)["resources"]["limits"]["cpu"] = unknown
    pod["spec"]["nodeSelector"]["kubernetes.io/hostname"] = unknown
    assert aci_violations(pod, [NODE], lambda value: value == unknown) == []


# --- Quantities and the connector's rounding ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("1", Decimal(1)),
        ("1.5", Decimal("1.5")),
        ("1Gi", Decimal(2**30)),
        ("512Mi", Decimal(2**29)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("100k", Decimal(100_000)),
        (2, Decimal(2)),
    ],
)
def test_quantities_parse_as_kubernetes_parses_them(text: object, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "1.2.3", "1 Gi", "Gi", "1GB", True, None, "-"])
def test_a_malformed_quantity_is_an_error(text: object) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


# azure-aci pkg/provider/aci_test.go 293-294 and 475: how the connector rounds.
@pytest.mark.parametrize(
    ("cpu", "cores"),
    [("1981m", "1.98"), ("5m", "0.01"), ("500m", "0.5"), (None, "1.0")],
)
def test_cpu_requests_round_as_the_connector_rounds_them(cpu: str | None, cores: str) -> None:
    assert aci_cpu_request(cpu) == Decimal(cores)


@pytest.mark.parametrize(
    ("memory", "gb"),
    [("3.49G", "3.4"), ("512Mi", "0.5"), ("1.5Gi", "1.6"), ("64Mi", "0.1"), (None, "1.5")],
)
def test_memory_requests_round_as_the_connector_rounds_them(memory: str | None, gb: str) -> None:
    assert aci_memory_request(memory) == Decimal(gb)


def test_limits_are_sent_unrounded_for_cpu_and_floored_without_minimum_for_memory() -> None:
    assert aci_cpu_limit("3999m") == Decimal("3.999")
    assert aci_memory_limit("50Mi") == Decimal(0)
    assert aci_memory_limit("1Gi") == Decimal("1.0")
