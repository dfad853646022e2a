"""Checkov over every rendered Kubernetes manifest: zero failed checks, every skip explained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from checkov_scan import scan_each
from fake_cloud import PROJECT_DIR, SAMPLE_STACKS

from specs.scan_skips import ANNOTATION_PREFIX, checkov_skips
from synth.cli import synthesize

# A pod that breaks two checks, scanned with the renders: the scan must find them.
BROKEN_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "bad", "namespace": "todo"},
    "spec": {
        "containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": True}}]
    },
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The manifests of the sample stacks: the default (the single web pod in ACI) and burst mode
    (Pulumi.burst.yaml: replicas that also run on GKE nodes, the entry proxy, its load balancer)."""
    manifests = {}
    for stack in SAMPLE_STACKS:
        out = tmp_path_factory.mktemp(f"synth-{stack}")
        synthesize(PROJECT_DIR, stack, out)
        manifests[stack] = out / "manifests"
    return manifests


@pytest.fixture(scope="module")
def reports(
    rendered: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    targets = {
        stack: {path.name: path.read_text() for path in sorted(folder.iterdir())}
        for stack, folder in rendered.items()
    }
    targets["broken"] = {"bad.yaml": yaml.safe_dump(BROKEN_POD)}
    return scan_each(targets, "kubernetes", tmp_path_factory.mktemp("scan"))


@pytest.fixture(params=SAMPLE_STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def manifests(rendered: dict[str, Path], stack: str) -> Path:
    return rendered[stack]


@pytest.fixture
def report(reports: dict[str, dict[str, Any]], stack: str) -> dict[str, Any]:
    return reports[stack]


def test_checkov_finds_no_failed_check(report: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["passed"] > 100
    assert report["summary"]["parsing_errors"] == 0


def test_every_skip_has_its_reason(report: dict[str, Any], manifests: Path) -> None:
    skipped = report["results"]["skipped_checks"]
    assert skipped, "the ACI pod's inapplicable checks are expected to be skipped"
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert reason not in ("", "No comment provided"), check["check_id"]
    for path in sorted(manifests.iterdir()):
        annotations = (yaml.safe_load(path.read_text())["metadata"].get("annotations")) or {}
        for key, value in annotations.items():
            if key.startswith(ANNOTATION_PREFIX):
                check_id, _, reason = value.partition("=")
                assert check_id.startswith(("CKV_K8S_", "CKV2_K8S_")), (path.name, value)
                assert len(reason.split()) >= 5, (path.name, value)


def test_only_the_aci_pod_and_the_connector_skip_anything(report: dict[str, Any]) -> None:
    resources = {c["resource"].split(".")[0] for c in report["results"]["skipped_checks"]}
    assert resources <= {"Pod", "Deployment", "ClusterRole"}
    # The one role that may skip: the approver's, for the approval that is its purpose.
    roles = {
        (c["check_id"], c["resource"])
        for c in report["results"]["skipped_checks"]
        if c["resource"].startswith("ClusterRole.")
    }
    assert roles == {("CKV_K8S_156", "ClusterRole.default.kubelet-serving-approver")}


def test_the_scan_bites(reports: dict[str, dict[str, Any]]) -> None:
    failed = {c["check_id"] for c in reports["broken"]["results"]["failed_checks"]}
    assert {"CKV_K8S_16", "CKV_K8S_14"} <= failed  # privileged, image without a fixed tag


def test_a_skip_needs_a_reason() -> None:
    assert checkov_skips({"CKV_K8S_1": "a reason that says why"}) == {
        "checkov.io/skip1": "CKV_K8S_1=a reason that says why"
    }
    with pytest.raises(ValueError, match="needs a reason"):
        checkov_skips({"CKV_K8S_1": " "})
    with pytest.raises(ValueError, match="needs a reason"):
        checkov_skips({"CKV_K8S_1": "x=y breaks checkov's parsing"})
