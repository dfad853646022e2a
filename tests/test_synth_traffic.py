"""synth's account of the app's traffic: the public side as it is, the entry point's hop to the
replicas as mutual TLS (docs/decisions/0022-mutual-tls-to-replicas.md)."""

from __future__ import annotations

from pathlib import Path

from fake_cloud import PROJECT_DIR, run_program

from core.app_contract import REPLICA_SERVER_NAME
from synth.cli import synthesize
from synth.traffic import traffic_lines

BURST = {"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "3"}
PUBLIC_SIDE = "the internet -> Service todo/web (load balancer on GKE, port 80): plain HTTP"


def test_behind_the_entry_point_the_hop_is_mutual_tls_and_the_public_side_plain() -> None:
    public, hop = traffic_lines(run_program(BURST))
    assert public == PUBLIC_SIDE
    assert hop.startswith("entry point (Envoy on GKE) -> replicas on GKE and in ACI: mutual TLS")
    assert "TLS 1.3" in hop
    assert f"checked against the stack's CA for {REPLICA_SERVER_NAME}" in hop
    assert "presents its client certificate" in hop


def test_on_a_first_preview_what_the_cloud_names_is_known_after_deploy() -> None:
    """The namespace's name is the cloud's answer, and the proxy's configuration holds it."""
    assert traffic_lines(run_program(BURST, preview=True)) == [
        PUBLIC_SIDE.replace("todo/web", "(known after deploy)/web"),
        "entry point -> replicas: its configuration is known after deploy",
    ]


def test_an_app_image_behind_the_entry_point_is_plain_http_on_both_hops() -> None:
    stack = run_program({**BURST, "gke-aci:appImage": "janakiramm/todo"})
    assert traffic_lines(stack) == [
        PUBLIC_SIDE,
        "entry point (Envoy on GKE) -> replicas on GKE and in ACI: plain HTTP "
        "(the image serves no TLS)",
    ]


def test_the_single_pod_is_public_in_plain_http() -> None:
    assert traffic_lines(run_program()) == [
        "the internet -> pod todo/web in ACI (its public IP, port 8080): plain HTTP"
    ]


def test_the_burst_samples_plan_shows_the_hop_and_the_tls_material_as_secrets(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    synthesize(PROJECT_DIR, "burst", out)
    plan = (out / "plan.md").read_text()
    assert f"- {PUBLIC_SIDE}\n" in plan
    assert "- entry point (Envoy on GKE) -> replicas on GKE and in ACI: mutual TLS" in plan
    for name in ("secret-todo-tls.yaml", "secret-todo-entry-tls.yaml"):
        manifest = (out / "manifests" / name).read_text()
        assert "type: kubernetes.io/tls" in manifest
        assert "'[secret]'" in manifest
        assert "PRIVATE KEY" not in manifest
