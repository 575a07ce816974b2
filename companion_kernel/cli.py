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
from ._cli_output import EXIT_STATUS, invalid_request, print_result
from .errors import CompanionKernelError

__all__ = ["build_parser", "main"]

_RAW = argparse.RawDescriptionHelpFormatter


def _read_code(args: argparse.Namespace) -> str:
    if args.code_file:
        data = Path(args.code_file).read_bytes()
    elif args.code == "-" or (args.code is None and not sys.stdin.isatty()):
        data = sys.stdin.buffer.read()
    elif args.code is None:
        raise CompanionKernelError("no code: pass CODE, -f FILE, or - to read stdin")
    else:
        return str(args.code)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CompanionKernelError(
            f"input is not valid UTF-8 (byte {exc.start}: {exc.reason})"
        ) from None


def _cmd_exec(args: argparse.Namespace) -> int:
    if not args.json:
        return _exec(args)
    # A program reading --json gets JSON for bad input and engine failures too.
    try:
        return _exec(args)
    except (CompanionKernelError, OSError, ValueError) as exc:
        print(json.dumps(invalid_request(exc), indent=2))
        return 2


def _exec(args: argparse.Namespace) -> int:
    from .config import EngineConfig, PoolConfig
    from .engine import Engine
    from .languages import canonical_language
    from .session import _check_code, _check_timeout
    from .validation import policy_option

    # Bad input is answered before any kernel starts.
    policy = "off" if args.no_validate else policy_option(args.policy)
    files = _input_files(args.file or [])
    code = _read_code(args)
    _check_code(code, EngineConfig.model_fields["max_code_bytes"].default)
    _check_timeout(args.timeout, 1.0)
    if args.lang is not None:
        canonical_language(args.lang)

    async def run() -> Any:
        pools = {lang: PoolConfig(min_idle=0) for lang in ("python", "javascript", "shell")}
        config = EngineConfig(pools=pools, policy=policy, isolation=args.isolation)
        async with Engine(config) as engine:
            return await engine.execute(
                code, args.lang, timeout=args.timeout, files=files, collect=args.collect
            )

    result = asyncio.run(run())
    if args.json:
        if args.out_dir is not None:
            _write_collected(result.files, Path(args.out_dir))
        print(result.model_dump_json(indent=2))
    else:
        print_result(result)
        _report_collected(result.files, args.collect, Path(args.out_dir or "."))
    return EXIT_STATUS.get(result.status, 1)


def _input_files(specs: Sequence[str]) -> dict[str, bytes]:
    """`--file PATH` (named after its base name) or `--file NAME=PATH`, read now."""
    from pathlib import PurePosixPath

    files: dict[str, bytes] = {}
    for spec in specs:
        name, sep, source = spec.partition("=")
        if not sep or Path(spec).is_file():
            name, source = Path(spec).name, spec
        parts = PurePosixPath(name).parts
        if not name or name.startswith("/") or ".." in parts or "\0" in name:
            raise CompanionKernelError(
                f"--file {spec}: {name!r} is not a relative path inside the workspace"
            )
        if name in files:
            raise CompanionKernelError(f"--file {spec}: {name!r} is given twice")
        files[name] = Path(source).read_bytes()
    return files


def _write_collected(files: dict[str, bytes], out_dir: Path) -> list[Path]:
    """Write collected workspace files below `out_dir` (each replaced in one step)."""
    import os
    import tempfile
    from pathlib import PurePosixPath

    written: list[Path] = []
    for name, data in files.items():
        parts = PurePosixPath(name).parts
        # The names come from the sandbox: never let one climb out of out_dir.
        if not parts or name.startswith("/") or any(p in ("..", ".") for p in parts):
            raise CompanionKernelError(f"refusing to write collected file {name!r}")
        target = out_dir.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def _report_collected(files: dict[str, bytes], patterns: Sequence[str] | None, out: Path) -> None:
    if not patterns:
        return
    if not files:
        print(f"collected nothing matching {' '.join(patterns)}", file=sys.stderr)
        return
    for (name, data), target in zip(files.items(), _write_collected(files, out), strict=True):
        print(f"collected {name} ({len(data):,} bytes) -> {target}", file=sys.stderr)


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
            "  companion-kernel exec --policy team.toml -f analysis.py\n"
            "  companion-kernel exec --file sales.csv --collect 'out/*.png' --out-dir results \\\n"
            "      \"import pandas as pd, os; os.makedirs('out', exist_ok=True); ...\"\n"
            "  companion-kernel exec --no-validate 'import os; print(os.getpid())'\n\n"
            "files: --file puts a file into the kernel's workspace (its working directory)\n"
            "before the code runs, as its base name or as NAME=PATH. Workspace files matching\n"
            "a --collect glob are written below --out-dir (default: the current directory) and\n"
            "listed on stderr. With --json they are in the result's `files` (base64) and\n"
            "written to disk only when --out-dir is given.\n\n"
            "policy: a preset (strict, standard, off) or a policy file, TOML:\n"
            '  base = "standard"\n'
            "  [python]\n"
            '  allow_modules = ["requests"]\n'
            "(see companion_kernel.validation.load_policy; companion-kernel validate\n"
            "--dump-policy standard prints a complete policy to start from)\n"
        ),
    )
    p.add_argument("code", nargs="?", help="the code, or - to read stdin")
    p.add_argument("-f", "--code-file", metavar="FILE", help="read the code from FILE")
    p.add_argument(
        "--file",
        action="append",
        metavar="[NAME=]PATH",
        help="put this file into the workspace before running (repeatable)",
    )
    p.add_argument(
        "--collect",
        action="append",
        metavar="GLOB",
        help="bring back workspace files matching GLOB after running (repeatable)",
    )
    p.add_argument(
        "--out-dir", metavar="DIR", help="where collected files are written (default: .)"
    )
    p.add_argument("-l", "--lang", help="python, javascript or shell (default: detected)")
    p.add_argument("-t", "--timeout", type=float, default=None, help="seconds (default 30)")
    p.add_argument("--json", action="store_true", help="print the ExecutionResult as JSON")
    p.add_argument(
        "--policy",
        default="standard",
        metavar="POLICY",
        help="strict, standard (default), off, or a policy file (.toml)",
    )
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
