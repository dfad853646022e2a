"""Where synth may write: a folder it made itself, an empty folder, or a new one. Nothing else.

Synth replaces its output folder whole, so that a stale file never survives a run. That is only
safe for a folder synth made: each run leaves a marker file in it, and a folder without the
marker is refused unless it is empty. The project itself, any folder that contains it or a git
repository, and anything inside a ``.git`` folder are refused whatever they hold.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MARKER = ".synth-output"
MARKER_TEXT = (
    "Written by `python -m synth` (make synth). The next run replaces this folder whole;\n"
    "delete this file to keep synth from replacing it.\n"
)


class OutFolderError(Exception):
    """The folder given to ``--out`` is not one synth may replace; nothing was touched."""


def check_out_folder(out: Path, project_dir: Path) -> Path:
    """The resolved folder synth may write into, or :class:`OutFolderError` saying why not."""
    target = out.resolve()
    project = project_dir.resolve()

    def refuse(reason: str) -> OutFolderError:
        return OutFolderError(
            f"refusing --out {out}: {reason}. Synth replaces its output folder whole; give it a "
            "new folder, an empty one, or one it wrote before (such as build/synth)"
        )

    if target == project:
        raise refuse("it is the project folder")
    if project.is_relative_to(target):
        raise refuse(f"it contains the project ({project})")
    if ".git" in target.parts:
        raise refuse("it is inside a .git folder")
    if not target.exists():
        return target
    if not target.is_dir():
        raise refuse("it is a file, not a folder")
    if not any(target.iterdir()):
        return target
    if not (target / MARKER).is_file():
        raise refuse(f"it is not empty and synth did not make it (no {MARKER} file in it)")
    if repository := _git_repository_in(target):
        raise refuse(f"it contains a git repository ({repository})")
    return target


def replace_out_folder(staging: Path, target: Path, project_dir: Path) -> None:
    """Moves the finished ``staging`` folder to ``target``, replacing what synth wrote before."""
    # Checked again right before anything is removed: the folder may have changed meanwhile.
    check_out_folder(target, project_dir)
    (staging / MARKER).write_text(MARKER_TEXT)
    if target.exists():
        if any(target.iterdir()):
            shutil.rmtree(target)
        else:
            target.rmdir()
    staging.rename(target)


def _git_repository_in(folder: Path) -> Path | None:
    for root, dirs, files in os.walk(folder):
        if ".git" in dirs or ".git" in files:
            return Path(root) / ".git"
    return None
