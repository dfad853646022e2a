"""Synth replaces only a folder it made: every other --out is refused and left as it was.

Every test works on a copy of the project in a temporary folder, so a regression here can
never delete the real project.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fake_cloud import PROJECT_DIR

from synth.cli import main
from synth.out_folder import MARKER, OutFolderError, check_out_folder


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project (program, stack, app and a git folder), the working directory."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, copy / name)
    (copy / "app").mkdir()
    (copy / "app" / "Dockerfile").write_text("FROM scratch\n")
    (copy / ".git").mkdir()
    (copy / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    monkeypatch.chdir(copy)
    return copy


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its content (None for a folder)."""
    return {
        str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
        for path in sorted(folder.rglob("*"))
    }


def synth(project: Path, out: str) -> int:
    return main(["--stack", "dev", "--out", out, "--project-dir", str(project)])


@pytest.mark.parametrize(
    ("out", "reason"),
    [
        (".", "it is the project folder"),
        ("app", "synth did not make it"),
        ("..", "it contains the project"),
        (".git/synth", "inside a .git folder"),
        ("Pulumi.yaml", "it is a file"),
    ],
)
def test_a_folder_synth_may_not_replace_is_refused_and_left_untouched(
    project: Path, out: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(project.parent)
    assert synth(project, out) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"synth: refusing --out {Path.cwd() / out}: ")
    assert reason in error
    assert error.count("\n") == 1  # one message, no traceback
    assert snapshot(project.parent) == before


def test_a_folder_holding_a_git_repository_is_refused_even_with_the_marker(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = project / "build" / "synth"
    (out / "vendor" / ".git").mkdir(parents=True)
    (out / MARKER).write_text("")
    before = snapshot(out)
    assert synth(project, str(out)) == 2
    assert f"it contains a git repository ({out / 'vendor' / '.git'})" in capsys.readouterr().err
    assert snapshot(out) == before


def test_a_symlink_to_the_project_is_the_project(project: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(project)
    with pytest.raises(OutFolderError, match="it is the project folder"):
        check_out_folder(link, project)


def test_new_and_empty_folders_are_accepted(project: Path) -> None:
    (project / "empty").mkdir()
    assert check_out_folder(Path("empty"), project) == project / "empty"
    assert check_out_folder(Path("build/synth"), project) == project / "build" / "synth"


def test_synth_writes_into_an_empty_folder_and_marks_it(project: Path) -> None:
    out = project / "empty"
    out.mkdir()
    assert synth(project, "empty") == 0
    assert (out / MARKER).is_file()
    assert (out / "plan.md").is_file()
    # The folder it made is accepted next time.
    assert check_out_folder(out, project) == out


def test_synth_replaces_a_folder_it_made_before_whole(project: Path) -> None:
    out = project / "build" / "synth"
    out.mkdir(parents=True)
    (out / MARKER).write_text("")
    (out / "stale.yaml").write_text("from an earlier run")
    assert synth(project, "build/synth") == 0
    assert not (out / "stale.yaml").exists()
    assert (out / "resources.json").is_file()
    assert (out / MARKER).is_file()
    assert [p.name for p in out.parent.iterdir()] == ["synth"]  # no scratch folder left


def test_each_stack_renders_into_its_own_folder_by_default(project: Path) -> None:
    shutil.copy(PROJECT_DIR / "Pulumi.burst.yaml", project / "Pulumi.burst.yaml")
    for stack in ("dev", "burst"):
        assert main(["--stack", stack, "--project-dir", str(project)]) == 0
    dev, burst = (project / "build" / "synth" / stack for stack in ("dev", "burst"))
    # The second render left the first in place: each folder holds its own stack's plan.
    assert "dev" in (dev / "plan.md").read_text().splitlines()[0]
    assert "burst" in (burst / "plan.md").read_text().splitlines()[0]
