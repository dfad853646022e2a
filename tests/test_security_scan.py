"""Checkov over every rendered Kubernetes manifest: zero failed checks, every skip explained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from checkov_scan import checkov
from fake_cloud import PROJECT_DIR

from specs.scan_skips import ANNOTATION_PREFIX, checkov_skips
from synth.cli import synthesize


# The sample stacks: the default (the single web pod in ACI) and burst mode (Pulumi.burst.yaml:
# replicas that also run on GKE nodes, the entry proxy, its load balancer).
@pytest.fixture(scope="module", params=["dev", "burst"])
def manifests(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scan") / "synth"
    synthesize(PROJECT_DIR, request.param, out)
    return out / "manifests"


@pytest.fixture(scope="module")
def report(manifests: Path) -> dict[str, Any]:
    return checkov(manifests, "kubernetes")


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


def test_the_scan_bites(tmp_path: Path) -> None:
    container = {"name": "c", "image": "nginx", "securityContext": {"privileged": True}}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "todo"},
        "spec": {"containers": [container]},
    }
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(pod))
    failed = {c["check_id"] for c in checkov(tmp_path, "kubernetes")["results"]["failed_checks"]}
    assert {"CKV_K8S_16", "CKV_K8S_14"} <= failed  # privileged, image without a fixed tag


def test_a_skip_needs_a_reason() -> None:
    assert checkov_skips({"CKV_K8S_1": "a reason that says why"}) == {
        "checkov.io/skip1": "CKV_K8S_1=a reason that says why"
    }
    with pytest.raises(ValueError, match="needs a reason"):
        checkov_skips({"CKV_K8S_1": " "})
    with pytest.raises(ValueError, match="needs a reason"):
        checkov_skips({"CKV_K8S_1": "x=y breaks checkov's parsing"})
