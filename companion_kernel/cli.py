"""The `companion-kernel` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import CompanionKernelError

__all__ = ["build_parser", "main"]

_RAW = argparse.RawDescriptionHelpFormatter

EXIT_STATUS = {"ok": 0, "error": 1, "timeout": 2, "rejected": 3, "died": 4, "cancelled": 5}


def _read_code(args: argparse.Namespace) -> str:
    if args.file:
        data = Path(args.file).read_bytes()
    elif args.code in (None, "-"):
        data = sys.stdin.buffer.read()
    else:
        return str(args.code)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CompanionKernelError(
            f"input is not valid UTF-8 (byte {exc.start}: {exc.reason})"
        ) from None


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


def _cmd_exec(args: argparse.Namespace) -> int:
    if not args.json:
        return _exec(args)
    # A program reading --json gets JSON for bad input and engine failures too.
    try:
        return _exec(args)
    except (CompanionKernelError, OSError, ValueError) as exc:
        print(json.dumps(_invalid_request(exc), indent=2))
        return 2


def _invalid_request(exc: BaseException) -> dict[str, Any]:
    """The `--json` answer when no execution happened: why, in ExecutionResult's terms."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        message = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
    else:
        message = str(exc)
    return {"kind": "invalid_request", "error": {"ename": type(exc).__name__, "evalue": message}}


def _exec(args: argparse.Namespace) -> int:
    from .config import EngineConfig, PoolConfig
    from .engine import Engine
    from .languages import canonical_language
    from .session import _check_code, _check_timeout

    code = _read_code(args)
    # Bad input is answered before any kernel starts.
    _check_code(code, EngineConfig.model_fields["max_code_bytes"].default)
    _check_timeout(args.timeout, 1.0)
    if args.lang is not None:
        canonical_language(args.lang)

    async def run() -> Any:
        pools = {lang: PoolConfig(min_idle=0) for lang in ("python", "javascript", "shell")}
        config = EngineConfig(
            pools=pools,
            policy="off" if args.no_validate else args.policy,
            isolation=args.isolation,
        )
        async with Engine(config) as engine:
            return await engine.execute(code, args.lang, timeout=args.timeout)

    result = asyncio.run(run())
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print_result(result)
    return EXIT_STATUS.get(result.status, 1)


def _cmd_install_kernelspecs(args: argparse.Namespace) -> int:
    from ._kernelspecs import install_kernelspecs

    for name, where in install_kernelspecs(prefix=args.prefix, user=False).items():
        print(f"{name}: {where}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from ._bench import run_benchmarks

    return run_benchmarks(quick=args.quick, as_json=args.json, only=args.only)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="companion-kernel",
        formatter_class=_RAW,
        description="Run code in warm, sandboxed Jupyter kernels; validate it; call tools.",
        epilog=(
            "examples:\n"
            "  companion-kernel exec 'print(6*7)'\n"
            "  companion-kernel exec --lang js 'console.log(1 + 1)'\n"
            "  echo 'ls -la' | companion-kernel exec --lang shell -\n"
            "  companion-kernel demo\n"
            "  companion-kernel doctor\n"
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "exec",
        help="execute code and print its outputs",
        formatter_class=_RAW,
        description="Execute CODE (or -f FILE, or - for stdin) in a fresh pooled kernel.",
        epilog=(
            "exit status: 0 ok, 1 error, 2 timeout, 3 rejected, 4 kernel died\n\n"
            "examples:\n"
            "  companion-kernel exec 'sum(range(10))'\n"
            "  companion-kernel exec --json --timeout 5 -f script.py\n"
            "  companion-kernel exec --lang shell 'echo $HOME'\n"
            "  companion-kernel exec --no-validate 'import os; print(os.getpid())'\n"
        ),
    )
    p.add_argument("code", nargs="?", help="the code, or - to read stdin")
    p.add_argument("-f", "--file", help="read the code from FILE")
    p.add_argument("-l", "--lang", help="python, javascript or shell (default: detected)")
    p.add_argument("-t", "--timeout", type=float, default=None, help="seconds (default 30)")
    p.add_argument("--json", action="store_true", help="print the ExecutionResult as JSON")
    p.add_argument("--policy", default="standard", help="validator policy: strict|standard|off")
    p.add_argument("--no-validate", action="store_true", help="skip the validator")
    p.add_argument(
        "--isolation",
        choices=["require", "auto", "off"],
        default="auto",
        help="run the kernel under bubblewrap (default: auto)",
    )
    p.set_defaults(func=_cmd_exec)

    p = sub.add_parser(
        "bench",
        help="run the side-by-side benchmarks",
        formatter_class=_RAW,
        description="Measure the engine against the raw protocol floor and naive approaches.",
        epilog="examples:\n  companion-kernel bench --quick\n  companion-kernel bench --json",
    )
    p.add_argument("--quick", action="store_true", help="fewer iterations")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--only", action="append", help="run only this benchmark group (repeatable)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser(
        "install-kernelspecs",
        help="install the companion kernel specs into this environment",
        formatter_class=_RAW,
        description=(
            "Install companion-python, companion-javascript and companion-shell kernel specs\n"
            "under PREFIX/share/jupyter/kernels (default: this virtual environment)."
        ),
        epilog="example:\n  companion-kernel install-kernelspecs --sys-prefix",
    )
    p.add_argument("--sys-prefix", action="store_true", help="install into sys.prefix (default)")
    p.add_argument("--prefix", default=None, help="install under this prefix instead")
    p.set_defaults(func=_cmd_install_kernelspecs)

    for module in _command_modules():
        module.add_commands(sub)
    return parser


def _command_modules() -> list[Any]:
    """Sub-command groups that live beside the code they drive."""
    from . import _cli_notebook
    from .gateway import _cli as gateway_cli
    from .mcp import _cli as mcp_cli
    from .sandbox import _cli as sandbox_cli
    from .tools import _cli as tools_cli
    from .validation import _cli as validation_cli

    return [_cli_notebook, validation_cli, tools_cli, sandbox_cli, mcp_cli, gateway_cli]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `companion-kernel`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    import signal

    from ._signals import install_signal_handlers

    # A command line tool owns its process: close engines on SIGTERM and SIGINT (installed
    # before asyncio.run, which then leaves SIGINT to this handler).
    install_signal_handlers((signal.SIGTERM, signal.SIGINT))
    try:
        return int(args.func(args))
    except CompanionKernelError as exc:
        print(f"companion-kernel: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, json.JSONDecodeError) as exc:
        print(f"companion-kernel: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
