"""What the CLI commands print: results for people, exit statuses, JSON for bad input."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["EXIT_STATUS", "invalid_request", "print_result"]

EXIT_STATUS = {"ok": 0, "error": 1, "timeout": 2, "rejected": 3, "died": 4, "cancelled": 5}


def print_result(result: Any, *, show_result: bool = True) -> None:
    """Print an ExecutionResult as a person wants to read it."""
    from rich.console import Console

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if result.stdout:
        sys.stdout.write(result.stdout)
        if not result.stdout.endswith("\n"):
            sys.stdout.write("\n")
    if result.stderr:
        sys.stderr.write(result.stderr)
    for out in result.outputs:
        if out.output_type == "display_data":
            text = out.data.get("text/plain") or ", ".join(out.data)
            print(f"[display] {text}")
    if show_result and result.result is not None and result.text is not None:
        print(result.text)
    sys.stdout.flush()
    if result.status == "rejected":
        err.print(
            f"[bold red]rejected[/] by the validator ({len(result.violations)} violation(s)):"
        )
        for v in result.violations:
            err.print(f"  line {v.line}:{v.column} [yellow]{v.rule}[/]: {v.message}")
    elif result.error is not None:
        if result.error.traceback:
            err.print("\n".join(result.error.traceback), markup=False)
        else:
            err.print(f"[bold red]{result.error.ename}[/]: {result.error.evalue}")
    if result.truncated:
        err.print("[yellow]output was truncated[/]")


def invalid_request(exc: BaseException) -> dict[str, Any]:
    """The `--json` answer when no execution happened: why, in ExecutionResult's terms."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        message = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
    else:
        message = str(exc)
    return {"kind": "invalid_request", "error": {"ename": type(exc).__name__, "evalue": message}}
