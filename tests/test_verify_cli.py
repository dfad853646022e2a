"""The command as a user runs it: inputs, usage errors (exit 2), JSON, secrets kept out of the
output, and the time budget held even when every service accepts connections and never answers."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
from verify_servers import AZURE_TOKEN, KUBE_TOKEN
from verify_world import VK, burst, single_pod

from verify.budget import Budget
from verify.context import Check, Context, Verdict
from verify.inputs import UsageError, parse_outputs
from verify.report import Status
from verify.run import run_checks


def test_make_verify_reads_the_stack_through_pulumi(tmp_path: Path) -> None:
    with single_pod().running(tmp_path) as running:
        running.install_tools(pulumi=True)
        outcome = running.verify_process("--stack", "dev", outputs=False)
        argv = json.loads(running.pulumi_argv_file.read_text())
        ca = running.tls.ca_pem.decode()
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert argv == [
        "stack",
        "output",
        "--json",
        "--show-secrets",
        "--non-interactive",
        "--stack",
        "dev",
    ]
    assert outcome.stdout.splitlines()[0].startswith("✓ virtual node: expected aci-connector")
    # Not run on a single pod: both sides, and the replicas answering only the entry point.
    assert outcome.stdout.splitlines()[-1] == "verify: all 10 checks passed (2 not run)"
    printed = outcome.stdout + outcome.stderr
    for secret in (KUBE_TOKEN, AZURE_TOKEN, "certificate-authority-data", ca.splitlines()[1]):
        assert secret not in printed


def test_an_unknown_stack_is_a_usage_error_with_pulumis_message(tmp_path: Path) -> None:
    with single_pod().running(tmp_path) as running:
        running.install_tools(pulumi=True)
        outcome = running.verify("--stack", "prod", outputs=False)
    assert outcome.code == 2
    assert outcome.stderr == (
        "verify: `pulumi stack output --stack prod` failed: no stack named 'prod' found\n"
    )


def test_without_the_pulumi_cli_it_says_so(tmp_path: Path) -> None:
    with single_pod().running(tmp_path) as running:
        running.install_tools(pulumi=False)
        outcome = running.verify(outputs=False)
    assert outcome.code == 2
    assert outcome.stdout == ""
    assert outcome.stderr.startswith("verify: the Pulumi CLI (pulumi) is not on PATH")
    assert "--outputs FILE" in outcome.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o.pop("virtualNodeName"), "the stack has no output 'virtualNodeName'"),
        (lambda o: o.update(webIp=""), "the output 'webIp' must be a non-empty string"),
        (lambda o: o.update(webUrl="20.1.2.3:8080"), "the output 'webUrl' must be an http://"),
        (
            lambda o: o["appWorkload"].update(replicas=0),
            'the output \'appWorkload\' must be {"kind": "Pod"|"Deployment"',
        ),
        (lambda o: o.pop("kubeconfig"), "the stack has no output 'kubeconfig'"),
    ],
)
def test_missing_or_malformed_outputs_are_usage_errors(change, message: str) -> None:
    outputs = {**single_pod().outputs, "webUrl": "http://x", "kubeconfig": '{"clusters": [1]}'}
    outputs["appWorkload"] = dict(outputs["appWorkload"])
    change(outputs)
    with pytest.raises(UsageError) as error:
        parse_outputs(outputs, need_kubeconfig=True)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--outputs", "/nonexistent/outputs.json"],
            "verify: --outputs /nonexistent/outputs.json cannot be read: No such file or directory",
        ),
        (
            ["--kubeconfig", "/nonexistent/kubeconfig"],
            "verify: --kubeconfig /nonexistent/kubeconfig cannot be read: No such file",
        ),
        (["--skip", "gcp"], "verify: argument --skip: invalid choice: 'gcp'"),
        (["--timeout", "0"], "verify: argument --timeout: must be from 1 to 3600 seconds, not 0"),
        (["--stack", "dev", "--outputs", "x"], "verify: argument --outputs: not allowed with"),
    ],
)
def test_bad_arguments_and_unreadable_files_are_one_line_usage_errors(
    tmp_path: Path, args: list[str], message: str
) -> None:
    with single_pod().running(tmp_path) as running:
        outcome = running.verify(*args, outputs="--kubeconfig" in args)
    assert outcome.code == 2
    assert outcome.stdout == ""
    assert outcome.stderr.startswith(message)
    assert len(outcome.stderr.strip().splitlines()) == 1


def test_outputs_that_are_not_json_are_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "outputs.txt"
    bad.write_text("webUrl: http://x\n")
    with single_pod().running(tmp_path) as running:
        outcome = running.verify("--outputs", str(bad), outputs=False)
    assert (outcome.code, outcome.stderr) == (2, f"verify: --outputs file {bad} is not JSON\n")


def test_a_missing_credential_plugin_is_named_with_its_install_hint(tmp_path: Path) -> None:
    with single_pod().running(tmp_path) as running:
        running.install_tools(plugin=False)
        outcome = running.verify()
    assert outcome.code == 2
    assert outcome.stderr == (
        "verify: the stack's kubeconfig gets its credentials from gke-gcloud-auth-plugin, which "
        "is not on PATH: Install gke-gcloud-auth-plugin: gcloud components install "
        "gke-gcloud-auth-plugin\n"
    )


def test_a_kubeconfig_file_is_used_instead_of_the_output(tmp_path: Path) -> None:
    world = single_pod()
    with world.running(tmp_path) as running:
        kubeconfig = tmp_path / "kubeconfig.json"
        kubeconfig.write_text(running.outputs.pop("kubeconfig"))
        running.install_tools()
        outcome = running.verify("--kubeconfig", str(kubeconfig))
        assert running.kube.requests
    assert outcome.code == 0, outcome.stdout


def test_a_failing_credential_plugin_fails_the_cluster_checks_once(tmp_path: Path) -> None:
    outcome_marks: dict[str, str]
    with single_pod().running(tmp_path) as running:
        outcome = running.verify(env={"FAKE_PLUGIN": "fail"})
        assert running.kube.requests == []
        outcome_marks = outcome.marks()
    assert outcome.code == 1
    line = outcome.line("virtual node")
    assert "the kubeconfig's credential plugin failed: exec: process returned 1." in line
    assert "reauth required" in line
    assert outcome_marks["node guard"] == "-"
    assert "not checked: the kubeconfig's credential plugin failed" in outcome.line("connector")
    # The app is reached without the cluster.
    assert outcome_marks["app answers"] == "✓"
    assert outcome_marks["database round trip"] == "✓"


def test_json_output(tmp_path: Path) -> None:
    with burst().running(tmp_path) as running:
        outcome = running.verify("--json")
    document = json.loads(outcome.stdout)
    assert outcome.code == 0
    assert document["ok"] is True
    assert [c["id"] for c in document["checks"]] == [
        "virtual-node",
        "node-guard",
        "node-deletions",
        "connector",
        "app",
        "pod-logs",
        "aci",
        "http",
        "round-trip",
        "both-sides",
        "replicas-private",
        "virtual-node-pods",
    ]
    # This world's replicas run no app that serves mutual TLS (tests/test_verify_replicas.py).
    statuses = {c["id"]: c["status"] for c in document["checks"]}
    assert statuses.pop("replicas-private") == "skip"
    assert set(statuses.values()) == {"pass"}
    app = document["checks"][4]
    assert app["expected"].startswith("Deployment web: 3 replicas Running")
    assert app["seen"] == f"3 Running: 2 on GKE nodes, 1 on ACI ({VK})"
    assert app["fix"] is None


def test_every_service_silent_still_ends_within_the_budget(tmp_path: Path) -> None:
    """The cluster, Azure and the app accept connections and never answer."""
    silent = frozenset({"kubernetes", "azure", "app"})
    with single_pod().running(tmp_path, silent=silent) as running:
        started = time.monotonic()
        outcome = running.verify_process("--timeout", "8")
        took = time.monotonic() - started
    assert outcome.code == 1
    assert took < 8 + 8  # the budget, plus starting Python and importing the SDKs
    assert "the Kubernetes API at https://127.0.0.1:" in outcome.line("virtual node")
    assert "did not answer (" in outcome.line("virtual node")
    assert outcome.line("connector").startswith("- connector: ")
    assert "got no answer (ReadTimeout" in outcome.line("app answers")
    assert outcome.line("database round trip").startswith("- ")
    assert outcome.stdout.splitlines()[-1] == "verify: 2 of 2 checks failed (10 not run)"


def test_silent_azure_and_app_with_a_healthy_cluster(tmp_path: Path) -> None:
    with single_pod().running(tmp_path, silent=frozenset({"azure", "app"})) as running:
        started = time.monotonic()
        outcome = running.verify_process("--timeout", "8")
        took = time.monotonic() - started
    assert outcome.code == 1
    assert took < 8 + 8
    assert outcome.line("app").startswith("✓")
    aci = outcome.line("ACI container groups")
    assert "Azure Resource Manager did not answer (ServiceResponseTimeoutError" in aci
    assert outcome.line("app answers").startswith("✗")


def test_a_credential_plugin_that_hangs_costs_a_quarter_of_the_budget(tmp_path: Path) -> None:
    pid_file = tmp_path / "plugin.pid"
    try:
        with single_pod().running(tmp_path) as running:
            started = time.monotonic()
            outcome = running.verify_process(
                "--timeout", "8", env={"FAKE_PLUGIN": "hang", "FAKE_PLUGIN_PID": str(pid_file)}
            )
            took = time.monotonic() - started
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
    assert outcome.code == 1
    assert took < 8 + 8
    assert "the kubeconfig's credential plugin did not finish within 2 s" in outcome.line(
        "virtual node"
    )
    assert outcome.line("database round trip").startswith("✓")


def test_a_check_that_outlives_the_budget_is_cut_off_and_the_rest_not_run() -> None:
    release = threading.Event()

    def stuck(_ctx: Context) -> Verdict:
        release.wait(30)
        return Verdict(True, "late")

    checks = [
        Check("first", "first", lambda _o: "done", lambda _ctx: Verdict(True, "done")),
        Check("stuck", "stuck", lambda _o: "an answer", stuck),
        Check("last", "last", lambda _o: "anything", lambda _ctx: Verdict(True, "done")),
    ]
    ctx = Context(
        outputs=parse_outputs(
            {**single_pod().outputs, "webUrl": "http://x"}, need_kubeconfig=False
        ),
        budget=Budget(1.0),
        cluster=None,  # type: ignore[arg-type]  # these checks use none of the services
        app=None,  # type: ignore[arg-type]
        container_groups=None,
    )
    started = time.monotonic()
    results = run_checks(ctx, checks)
    assert time.monotonic() - started < 2
    release.set()
    assert [(r.id, r.status) for r in results] == [
        ("first", Status.PASS),
        ("stuck", Status.FAIL),
        ("last", Status.SKIP),
    ]
    assert results[1].seen == "did not finish within the time budget of 1 s"
    assert results[2].seen == "not run: the time budget of 1 s was spent"


def _comparable(report: str) -> str:
    """The report without what changes between runs: the todo's id, the round trip's time and the
    loopback port that stands in for the app's public address."""
    report = re.sub(r"todo [0-9a-f]{24}", "todo <id>", report)
    report = re.sub(r"http://[0-9.]+:\d+/", "http://<app>/", report)
    return re.sub(r"\(\d+\.\d s\)", "(<seconds>)", report)


def test_the_readmes_example_is_the_output_against_the_tests_cluster(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    after_command = readme.split("make verify                    # STACK=dev by default\n")[1]
    example = after_command.split("```text\n")[1].split("```")[0]
    with single_pod().running(tmp_path) as running:
        outcome = running.verify()
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert _comparable(outcome.stdout) == _comparable(example)
