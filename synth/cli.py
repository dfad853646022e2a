"""``python -m synth``: render and check the whole stack offline, like ``cdk synth``.

It runs the real ``__main__.py`` as ``pulumi up`` would, with the stack's configuration, against
an offline engine whose clouds compute nothing yet (a stack's first preview), and writes
everything a reviewer needs into one folder. No credentials, network or Pulumi CLI.

Exit status: 0 when the program ran and every manifest validated; 1 when the program failed or a
manifest did not validate (nothing is written then); 2 for bad arguments, such as an ``--out``
folder synth may not replace (see ``synth/out_folder.py``; nothing is touched then).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from synth.cost import estimate_monthly_cost
from synth.engine import FirstPreviewCloud, run_program
from synth.graph import build_graph
from synth.out_folder import OutFolderError, check_out_folder, replace_out_folder
from synth.render import (
    Summary,
    graph_markdown,
    kubernetes_manifests,
    plan_markdown,
    summarize,
    summary_text,
    validate_manifests,
    write_outputs,
)
from synth.stack_config import (
    StackConfig,
    StackFileError,
    StackFileMissingError,
    read_stack_config,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Values only a logged-in user has. When the stack does not set them, synth renders with these
# and says so: `pulumi up` would stop and ask for them instead.
PLACEHOLDERS: Mapping[str, str] = {"gcp:project": "your-gcp-project"}


class SynthError(Exception):
    """The program failed, or what it would deploy is invalid; the message says which."""


def load_stack_config(project_dir: Path, stack: str) -> StackConfig:
    """The configuration the Pulumi CLI would give the program, with the placeholders filled."""
    try:
        config = read_stack_config(project_dir, stack)
    except (StackFileMissingError, StackFileError) as error:
        raise SynthError(str(error)) from None
    values, notes = dict(config.values), list(config.notes)
    for key, placeholder in PLACEHOLDERS.items():
        if not values.get(key):
            values[key] = placeholder
            notes.append(
                f"{key} is not set for stack {stack}; rendered with the placeholder "
                f"{placeholder!r} (`pulumi up` would ask for it: `pulumi config set {key} ...`)"
            )
    return StackConfig(config.project, values, notes)


def synthesize(project_dir: Path, stack: str, out: Path) -> Summary:
    """Runs the program offline and writes the synth output into ``out``, replacing it whole.

    ``out`` must be new, empty, or a folder synth wrote before (:class:`OutFolderError`).
    """
    out = check_out_folder(out, project_dir)
    config = load_stack_config(project_dir, stack)
    deployment = run_program(
        project_dir / "__main__.py",
        project=config.project,
        stack=stack,
        config=config.values,
        cloud=FirstPreviewCloud(),
        preview=True,
    )
    if deployment.error is not None:
        raise SynthError(f"the program failed: {deployment.error}")
    graph = build_graph(deployment)
    manifests = kubernetes_manifests(deployment)
    validation = validate_manifests(manifests)
    if validation.failures:
        raise SynthError(
            "Kubernetes manifests do not validate:\n"
            + "\n".join(f"  {failure}" for failure in validation.failures)
        )
    # Render into a scratch folder beside `out` and swap it in, so a failure leaves no half.
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as scratch:
        staging = Path(scratch) / "out"
        files = write_outputs(staging, deployment, graph, manifests)
        summary = summarize(
            deployment,
            graph,
            stack,
            [*files, "plan.md"],
            validation,
            config.notes,
            estimate_monthly_cost(deployment),
        )
        (staging / "graph.md").write_text(graph_markdown(graph, stack))
        (staging / "plan.md").write_text(plan_markdown(graph, summary))
        replace_out_folder(staging, out, project_dir)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m synth", description="Render and check the stack offline."
    )
    parser.add_argument("--stack", default="dev", help="stack whose configuration to use")
    parser.add_argument(
        "--out",
        help="folder to write: a new or empty one, or one synth wrote before (replaced whole);"
        " build/synth/<stack> by default, so that each stack keeps its own render",
    )
    parser.add_argument("--project-dir", default=str(PROJECT_DIR), help="folder with Pulumi.yaml")
    args = parser.parse_args(argv)
    project_dir = Path(args.project_dir).resolve()
    out = Path(args.out or f"build/synth/{args.stack}")
    out = out if out.is_absolute() else Path.cwd() / out
    try:
        summary = synthesize(project_dir, args.stack, out)
    except OutFolderError as error:
        print(f"synth: {error}", file=sys.stderr)
        return 2
    except SynthError as error:
        print(f"synth: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(summary_text(summary))
    print(f"  into: {out}")
    return 0
