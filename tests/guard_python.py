"""The Python the node guard's process tests run its script on: the image's, where it can be had.

The pod runs the script in ``nodeGuardImage`` (default ``settings.DEFAULT_NODE_GUARD_IMAGE``, an
official ``python:X.Y.Z-...`` image whose X.Y is the tests' own). The tests run it on that X.Y:
``NODE_GUARD_PYTHON`` names another interpreter, else ``pythonX.Y`` on PATH, else the
interpreter running the tests; tests/test_node_guard_process.py fails when that is not X.Y.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from settings import DEFAULT_NODE_GUARD_IMAGE

_match = re.fullmatch(r".*/python:(\d+\.\d+)\.\d+-[a-z-]+", DEFAULT_NODE_GUARD_IMAGE)
assert _match, DEFAULT_NODE_GUARD_IMAGE
IMAGE_PYTHON = _match.group(1)

GUARD_PYTHON = (
    os.environ.get("NODE_GUARD_PYTHON") or shutil.which(f"python{IMAGE_PYTHON}") or sys.executable
)


def minor_version(interpreter: str) -> str:
    """``X.Y`` of an interpreter, as it reports it."""
    return subprocess.run(
        [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
