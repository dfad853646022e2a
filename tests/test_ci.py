"""The CI setup as a whole (docs/ci.md): every workflow's pins and token scopes, the test workflow,
Dependabot, and the `make lint-workflows` gate, which runs actionlint and zizmor for real over this
tree and over broken copies of it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_cloud import SAMPLE_STACKS
from guard_python import IMAGE_PYTHON
from jsonschema.validators import validator_for
from workflow_files import (
    GITHUB_DIR,
    ROOT,
    Workflow,
    load_workflow_text,
    uses_lines,
    workflow_paths,
)

TEXTS = {path.name: path.read_text(encoding="utf-8") for path in workflow_paths()}
WORKFLOWS = {name: load_workflow_text(text) for name, text in TEXTS.items()}

# The token scopes of every job, exactly. A new job gets an entry here, and so a review of what
# its token may do.
JOB_PERMISSIONS: dict[tuple[str, str], dict[str, str]] = {
    ("preview.yml", "preview"): {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    },
    ("test.yml", "test"): {"contents": "read"},
}

# Folders that hold no project files of their own (virtualenvs, caches, build output).
_NOT_PROJECT = {"build", "venv", "node_modules", "__pycache__", "mutants"}


def requirements_files() -> list[str]:
    """Every requirements*.txt of the project, relative to the root."""
    found: list[str] = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _NOT_PROJECT]
        for name in files:
            if name.startswith("requirements") and name.endswith(".txt"):
                found.append(Path(folder, name).relative_to(ROOT).as_posix())
    return sorted(found)


def steps_of(workflow: Workflow) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def steps_using(workflow: Workflow, action: str) -> list[dict[str, Any]]:
    return [s for s in steps_of(workflow) if str(s.get("uses", "")).startswith(f"{action}@")]


def test_there_are_workflows_to_check() -> None:
    assert {"preview.yml", "test.yml"} <= set(TEXTS)


# --- pins -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_every_pin_names_its_release_for_the_linters_second_reading(name: str) -> None:
    """zizmor requires the SHA pins; `make lint-workflows` reads each pin a second time as the
    major version its `# vX.Y.Z` comment names, which actionlint knows the inputs of."""
    lines = uses_lines(TEXTS[name])
    # Every `uses:` the parsed workflow has was read from a line (none escapes in flow style).
    parsed = sorted(str(s["uses"]) for s in steps_of(WORKFLOWS[name]) if "uses" in s)
    assert sorted(u.value for u in lines) == parsed
    for used in lines:
        assert used.release, f"{name}:{used.line}: {used.value} names no `# vX.Y.Z` release"


def test_an_action_has_one_pin_in_every_workflow() -> None:
    pins: dict[str, set[tuple[str, str | None]]] = {}
    for text in TEXTS.values():
        for used in uses_lines(text):
            pins.setdefault(used.action, set()).add((used.value, used.comment))
    assert pins, "no `uses:` found at all"
    for action, seen in pins.items():
        assert len(seen) == 1, f"{action} is pinned differently across workflows: {seen}"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("      - uses: actions/checkout@v7", "a movable tag"),
        ("      - uses: actions/checkout@3d3c42e5 # v7.0.1", "a short SHA"),
        ("      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "no comment"),
        ("      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7", "major"),
    ],
    ids=["tag", "short-sha", "no-comment", "major-only-comment"],
)
def test_a_pin_without_sha_and_release_is_recognised(line: str, problem: str) -> None:
    (used,) = uses_lines(line)
    assert used.action == "actions/checkout"
    assert not (used.pinned and used.release), f"{problem} was taken for a pin with its release"


# --- token scopes ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_the_workflow_grants_no_scope_itself(name: str) -> None:
    assert WORKFLOWS[name].get("permissions") == {}, f"{name}: set `permissions: {{}}`"


def test_every_job_has_exactly_its_scopes() -> None:
    jobs = {
        (name, job_id): job for name, wf in WORKFLOWS.items() for job_id, job in wf["jobs"].items()
    }
    assert set(jobs) == set(JOB_PERMISSIONS), "JOB_PERMISSIONS lists every job, and only those"
    for key, job in jobs.items():
        assert job.get("permissions") == JOB_PERMISSIONS[key], key


# --- the test workflow ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tests_workflow() -> Workflow:
    return WORKFLOWS["test.yml"]


def test_tests_run_on_every_push_and_pull_request(tests_workflow: Workflow) -> None:
    on: dict[str, Any] = tests_workflow["on"]
    assert set(on) == {"push", "pull_request"}
    assert not on["push"], "no branch or path filter: every push"
    assert not on["pull_request"], "no branch or path filter: every pull request"


def test_tests_need_no_credentials() -> None:
    text = TEXTS["test.yml"]
    for needed in ("secrets.", "vars.", "id-token", "github.token"):
        assert needed not in text, f"the test workflow uses {needed}"


def test_tests_run_the_readme_test_command_and_fail_with_it(tests_workflow: Workflow) -> None:
    (job,) = tests_workflow["jobs"].values()
    steps: list[dict[str, Any]] = job["steps"]
    assert "make test" in (ROOT / "README.md").read_text(encoding="utf-8")
    runs = [s for s in steps if "run" in s]
    assert [s["run"].strip() for s in runs] == ["make test"]
    assert "if" not in runs[0], "the tests always run"
    for where in (job, *steps):
        assert "continue-on-error" not in where, "a failed `make test` fails the job"


def test_tests_use_the_project_python_and_cache_pip(tests_workflow: Workflow) -> None:
    [step] = steps_using(tests_workflow, "actions/setup-python")
    args: dict[str, Any] = step["with"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert args["python-version"] == pyproject["tool"]["basedpyright"]["pythonVersion"]
    assert args["cache"] == "pip"
    cache_keys = sorted(str(args["cache-dependency-path"]).split())
    assert cache_keys == requirements_files(), "the cache key covers every requirements file"


def test_the_node_guard_is_tested_on_the_python_of_its_image(tests_workflow: Workflow) -> None:
    """The guard's image runs the Python CI tests with, so its process tests run on it as is."""
    [step] = steps_using(tests_workflow, "actions/setup-python")
    assert str(step["with"]["python-version"]) == IMAGE_PYTHON


# --- Dependabot -----------------------------------------------------------------------------


def dependabot_errors(config: dict[str, Any]) -> list[str]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(vendor.joinpath("dependabot.json").read_text(encoding="utf-8"))
    validator = validator_for(schema)(schema)
    return [error.message for error in validator.iter_errors(config)]


@pytest.fixture(scope="module")
def dependabot() -> dict[str, Any]:
    loaded = yaml.safe_load((GITHUB_DIR / "dependabot.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_dependabot_config_matches_its_schema(dependabot: dict[str, Any]) -> None:
    assert dependabot_errors(dependabot) == []
    broken = copy.deepcopy(dependabot)
    broken["updates"][0]["schedule"]["interval"] = "fortnightly"
    assert dependabot_errors(broken), "the schema accepted an interval that does not exist"


def test_dependabot_watches_the_actions_and_every_requirements_folder(
    dependabot: dict[str, Any],
) -> None:
    by_ecosystem = {u["package-ecosystem"]: u for u in dependabot["updates"]}
    assert set(by_ecosystem) == {"github-actions", "pip"}
    assert by_ecosystem["github-actions"]["directory"] == "/"
    folders = {Path(f).parent.as_posix() for f in requirements_files()}
    expected = {"/" if folder == "." else f"/{folder}" for folder in folders}
    assert set(by_ecosystem["pip"]["directories"]) == expected


# --- the workflow linters, run for real -----------------------------------------------------


def run_make(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The project's Makefile, with this interpreter's venv and without rebuilding it."""
    make = shutil.which("make")
    assert make, "make is the project's command runner"
    bin_dir = Path(sys.executable).parent
    installed = f"{bin_dir}/.installed-dev"
    return subprocess.run(
        [
            make,
            "-f",
            str(ROOT / "Makefile"),
            "-C",
            str(cwd),
            "-o",
            installed,
            f"BIN={bin_dir}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_test_runs_the_workflow_linters() -> None:
    planned = run_make("-n", "-o", "scan-venv", "test")
    assert planned.returncode == 0, planned.stderr
    assert "actionlint -shellcheck= -pyflakes=" in planned.stdout
    assert "zizmor --offline --no-progress --min-severity=medium .github" in planned.stdout


def test_the_tests_know_the_sample_stacks_make_test_renders() -> None:
    planned = run_make("-n", "synth-samples")
    assert planned.returncode == 0, planned.stderr
    assert f"for stack in {' '.join(SAMPLE_STACKS)}; do" in planned.stdout


def test_workflow_linters_pass_on_this_tree() -> None:
    result = run_make("lint-workflows")
    assert result.returncode == 0, result.stdout + result.stderr


_CHECKOUT = next(u for u in uses_lines(TEXTS["test.yml"]) if u.action == "actions/checkout")
_PULUMI = next(u for u in uses_lines(TEXTS["preview.yml"]) if u.action == "pulumi/actions")
_PULUMI_PIN = f"{_PULUMI.value} # {_PULUMI.comment}"
_TEST_SCOPES = "    permissions:\n      contents: read  # actions/checkout reads the repository\n"

# A breakage of a copy of .github/: (file, text, replacement), and what the gate says about it.
BREAKAGES: dict[str, tuple[tuple[str, str, str], str]] = {
    "action by tag": (
        ("workflows/test.yml", _CHECKOUT.value, "actions/checkout@v7"),
        "[unpinned-uses]",
    ),
    "pin of a node20 release": (
        ("workflows/preview.yml", _PULUMI_PIN, f"{_PULUMI.value} # v6.6.1"),
        'runtime "node20" is deprecated',
    ),
    "job without runs-on": (
        ("workflows/test.yml", "    runs-on: ubuntu-latest\n", ""),
        '"runs-on" section is missing',
    ),
    "input the action does not have": (
        ("workflows/preview.yml", "work-dir:", "workdir:"),
        'input "workdir" is not defined',
    ),
    "checkout keeps its token": (
        ("workflows/test.yml", "persist-credentials: false", "fetch-depth: 1"),
        "[artipacked]",
    ),
    "job with a write-all token": (
        ("workflows/test.yml", _TEST_SCOPES, "    permissions: write-all\n"),
        "[excessive-permissions]",
    ),
    "untrusted text in a script": (
        ("workflows/test.yml", "run: make test", 'run: echo "${{ github.head_ref }}"'),
        "potentially untrusted",
    ),
    "Dependabot without cooldown": (
        ("dependabot.yml", "    cooldown:\n      default-days: 7\n", ""),
        "[dependabot-cooldown]",
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES), ids=list(BREAKAGES))
def test_workflow_linters_fail_on_a_broken_copy(tmp_path: Path, breakage: str) -> None:
    shutil.copytree(GITHUB_DIR, tmp_path / ".github")
    (path, old, new), message = BREAKAGES[breakage]
    file = tmp_path / ".github" / path
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = run_make("lint-workflows", cwd=tmp_path)
    assert result.returncode != 0, f"the linters passed a copy with {breakage}"
    assert message in result.stdout + result.stderr
