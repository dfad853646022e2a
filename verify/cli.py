"""``python -m verify`` / ``make verify``: the command line, and its exit status.

Exit 0 when every check that ran passed, 1 when any failed, 2 for a usage error or missing input
(no Pulumi CLI, no stack, an unreadable file, no Azure credentials), with one message on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import NoReturn

from verify.aci import PUBLIC_CLOUD, ContainerGroups, subscription_id
from verify.budget import DEFAULT_SECONDS, Budget, BudgetSpentError
from verify.cluster import Cluster
from verify.context import Context
from verify.inputs import (
    PULUMI_SECONDS,
    UsageError,
    kubeconfig_file,
    parse_outputs,
    require_credential_plugin,
    stack_outputs,
)
from verify.report import exit_code, render_json, render_line, summary
from verify.run import run_checks
from verify.web import App

USAGE_ERROR = 2
SKIPPABLE = ("azure",)


class Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported as verify's one-line usage error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see python -m verify --help)")


def parser() -> Parser:
    p = Parser(
        prog="python -m verify",
        description="Check a deployed gke-aci stack end to end: the virtual node, the "
        "connector, the app's pods, their ACI container groups, the app over HTTP, a database "
        "round trip, and what else runs on the virtual node. Changes nothing but one todo it "
        "creates and deletes.",
        epilog="Exit status: 0 every check that ran passed, 1 a check failed, 2 usage error or "
        "missing input. See docs/verify.md.",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--stack",
        help="the stack whose outputs to read with `pulumi stack output --json --show-secrets` "
        "(default: the selected stack)",
    )
    source.add_argument(
        "--outputs",
        type=Path,
        metavar="FILE",
        help="read the outputs from FILE (`pulumi stack output --json --show-secrets > FILE`) "
        "instead of running pulumi",
    )
    p.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="a kubeconfig for the cluster (default: the stack's kubeconfig output)",
    )
    p.add_argument(
        "--skip",
        action="append",
        choices=SKIPPABLE,
        default=[],
        help="leave the Azure checks out (a machine without Azure credentials)",
    )
    p.add_argument(
        "--subscription",
        metavar="ID",
        help="the Azure subscription the stack deployed to (default: the azureSubscriptionId "
        "output, ARM_SUBSCRIPTION_ID, AZURE_SUBSCRIPTION_ID, or the Azure CLI's)",
    )
    p.add_argument(
        "--azure-endpoint",
        default=PUBLIC_CLOUD,
        metavar="URL",
        help=f"Azure Resource Manager for a sovereign cloud (default: {PUBLIC_CLOUD})",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_SECONDS,
        metavar="SECONDS",
        help=f"the whole run's time budget (default: {DEFAULT_SECONDS:g})",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    return p


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {raw!r}") from None
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be from 1 to 3600 seconds, not {raw}")
    return value


def prepare(args: argparse.Namespace, budget: Budget) -> Context:
    """Read the inputs and connect to the services; UsageError for anything missing."""
    raw = stack_outputs(args.stack, args.outputs, budget.within(PULUMI_SECONDS))
    outputs = parse_outputs(raw, need_kubeconfig=args.kubeconfig is None)
    if args.kubeconfig is not None:
        kubeconfig, source = kubeconfig_file(args.kubeconfig), f"--kubeconfig {args.kubeconfig}"
    else:
        kubeconfig, source = outputs.kubeconfig or {}, "the stack's kubeconfig"
    require_credential_plugin(kubeconfig, source)
    container_groups = None
    if "azure" not in args.skip:
        container_groups = ContainerGroups.connect(
            subscription=subscription_id(args.subscription, outputs.subscription_id),
            resource_group=outputs.resource_group,
            endpoint=args.azure_endpoint,
            budget=budget,
        )
    return Context(
        outputs=outputs,
        budget=budget,
        cluster=Cluster.connect(kubeconfig, args.kubeconfig, budget),
        app=App(outputs.web_url, budget),
        container_groups=container_groups,
    )


def main(argv: list[str] | None = None) -> int:
    # Libraries log what verify reports itself (a credential chain's attempts, urllib3's
    # retries): a handler on the root logger keeps Python from printing those records.
    quiet = logging.NullHandler()
    logging.getLogger().addHandler(quiet)
    try:
        return _main(argv)
    finally:
        logging.getLogger().removeHandler(quiet)


def _main(argv: list[str] | None) -> int:
    try:
        args = parser().parse_args(argv)
        budget = Budget(args.timeout)
        ctx = prepare(args, budget)
    except UsageError as error:
        print(f"verify: {error}", file=sys.stderr)
        return USAGE_ERROR
    except BudgetSpentError as error:
        print(f"verify: {error} before the checks could start", file=sys.stderr)
        return 1
    if args.json:
        results = run_checks(ctx)
        print(render_json(results, stack=args.stack))
    else:
        ascii_only = not _prints("✓✗")
        results = run_checks(
            ctx, on_result=lambda r: print(render_line(r, ascii_only=ascii_only), flush=True)
        )
        print(summary(results))
    return exit_code(results)


def _prints(text: str) -> bool:
    encoding = getattr(sys.stdout, "encoding", None)
    if encoding is None:  # a text buffer, not a terminal or a file
        return True
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
