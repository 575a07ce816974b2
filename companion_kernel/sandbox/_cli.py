"""The ``doctor`` sub-command."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import get_args

from rich.console import Console
from rich.table import Table

from ._isolation import IsolationMode
from .doctor import Check, all_required_ok, run_checks

__all__ = ["add_commands", "render_checks"]

_EPILOG = """\
examples:
  companion-kernel doctor                    table of checks, exit status 1 if a required one fails
  companion-kernel doctor --json             the same as JSON (for scripts and CI)
  companion-kernel doctor --isolation require   treat a missing sandbox as an error

what is checked:
  bubblewrap really starts a probe kernel (kernel_info round trip); inside it, the network
  is unreachable and host files are hidden; every resource limit is measured (allocations,
  forks, open files and a write past the file-size limit); Node and our kernel's modules;
  the installed kernel specs.
"""


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``doctor`` to the CLI."""
    parser = sub.add_parser(
        "doctor",
        help="check the sandbox, the resource limits, Node and the kernel specs",
        description="Check what works on this machine and how to fix what does not. "
        "Limits are measured in a probe kernel, not assumed.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.add_argument(
        "--isolation",
        choices=get_args(IsolationMode),
        default="auto",
        help="isolation mode to check against (default: auto); with 'require' a "
        "missing sandbox is a failure",
    )
    parser.set_defaults(func=_doctor)


def render_checks(checks: list[Check], console: Console) -> None:
    """Print the checks as a table."""
    table = Table(title="companion-kernel doctor", show_lines=False)
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("result")
    table.add_column("fix")
    for check in checks:
        if check.ok:
            mark = "[green]ok[/]"
        elif check.required:
            mark = "[red]FAIL[/]"
        else:
            mark = "[yellow]warn[/]"
        table.add_row(mark, check.name, check.detail, check.fix)
    console.print(table)
    if all_required_ok(checks):
        console.print("[green]All required checks passed.[/]")
    else:
        console.print("[red]Some required checks failed; see the fix column.[/]")


def _doctor(args: argparse.Namespace) -> int:
    checks = asyncio.run(run_checks(isolation=args.isolation))
    if args.json:
        payload = {"ok": all_required_ok(checks), "checks": [c.model_dump() for c in checks]}
        print(json.dumps(payload, indent=2))
    else:
        render_checks(checks, Console())
    return 0 if all_required_ok(checks) else 1
