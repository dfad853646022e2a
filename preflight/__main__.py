"""``python -m preflight --for up --stack dev``: exit 0 when ready, else 2 with one line a gap."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from preflight import NEEDS, PROJECT_DIR, Machine, missing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m preflight", description="Check what a deploy target needs."
    )
    parser.add_argument("--for", dest="target", required=True, choices=sorted(NEEDS))
    parser.add_argument("--stack", default="dev", help="stack whose configuration to check")
    parser.add_argument("--project-dir", default=str(PROJECT_DIR), help="folder with Pulumi.yaml")
    args = parser.parse_args(argv)
    machine = Machine(env=os.environ, stack=args.stack, project_dir=Path(args.project_dir))
    gaps = missing(args.target, machine)
    if not gaps:
        print(f"preflight: ready for `make {args.target}` (stack {args.stack})")
        return 0
    print(f"preflight: `make {args.target}` cannot start; missing:", file=sys.stderr)
    for gap in gaps:
        print(f"  - {gap.line()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
