"""`companion-kernel run` (scripts and notebooks) and `companion-kernel demo`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._cli_output import EXIT_STATUS, invalid_request, print_result
from .errors import CompanionKernelError, InvalidRequest, UnknownLanguage
from .languages import canonical_language, get_language, known_languages

__all__ = ["add_commands"]

_RAW = argparse.RawDescriptionHelpFormatter
_ISOLATION = ("require", "auto", "off")

_RUN_EPILOG = """\
The language comes from the file extension (.py, .js/.mjs/.cjs, .sh/.bash) or, for a
notebook, from its kernel (metadata.kernelspec / language_info: python3, javascript,
bash, companion-*); --lang overrides both.

The kernel sees FILE's folder as its workspace and working directory, so the code
opens its data files by relative path (read-only; --writable lets it write there).
Notebooks run as nbclient would: %matplotlib inline, %load_ext, %autoreload, %time,
%%capture and the like are allowed by the default policy; !cmd, %%bash, %system and %sx
are not (they start processes). --policy takes a preset or a policy file (.toml).

A notebook's code cells run in order in one session (state carries from cell to cell).
Their outputs are written back into the notebook, or to --output, in one atomic step:
the file is replaced only once the whole run is over, and never when the input was bad.
The run stops at the first failing cell unless --allow-errors.

exit status: 0 ok, 1 error, 2 timeout or bad input, 3 rejected by the validator,
4 kernel died (for a notebook: the status of the first failing cell)

examples:
  companion-kernel run script.py
  companion-kernel run build.sh --timeout 120
  companion-kernel run --lang js snippet.txt
  companion-kernel run analysis.ipynb                     outputs written back in place
  companion-kernel run analysis.ipynb --output done.ipynb
  companion-kernel run analysis.ipynb --allow-errors --json
  companion-kernel run report.ipynb --writable --policy team.toml
  companion-kernel run notebooks/01_quickstart.ipynb --isolation off --policy off \\
      --keep-processes --timeout 120     a notebook that drives its own engine (trusted)
"""

_DEMO_EPILOG = """\
Steps: warm the Python, JavaScript and shell pools (progress bar), run one cell in each
language, chain the built-in tools (extract_numbers -> list_average/min/max), and show
the validator rejecting a sandbox-escape attempt. A language or sandbox this machine
lacks is reported in its row, not as a failure.

exit status: 0 when every step that can run here behaved as expected, else 1

examples:
  companion-kernel demo
  companion-kernel demo --json
  companion-kernel demo --isolation off
"""


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `run` and `demo`."""
    p = sub.add_parser(
        "run",
        help="run a .py/.js/.sh file or a whole .ipynb notebook",
        formatter_class=_RAW,
        description="Run FILE through the engine: a script in one fresh kernel, or every\n"
        "code cell of a notebook in one session, writing the outputs into the notebook.",
        epilog=_RUN_EPILOG,
    )
    p.add_argument("file", metavar="FILE", help="a .py, .js, .sh or .ipynb file")
    p.add_argument(
        "-l", "--lang", help="python, javascript or shell (default: from the extension/kernel)"
    )
    p.add_argument(
        "-t",
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds per script or per notebook cell (default 30)",
    )
    p.add_argument(
        "-o", "--output", metavar="OUT", help="notebooks: write the executed notebook to OUT"
    )
    p.add_argument(
        "--allow-errors",
        action="store_true",
        help="notebooks: run every cell even after one fails (exit status still says so)",
    )
    p.add_argument("--json", action="store_true", help="print a machine-readable report")
    p.add_argument(
        "--policy",
        default="standard",
        metavar="POLICY",
        help="strict, standard (default), off, or a policy file (.toml)",
    )
    p.add_argument(
        "--keep-processes",
        action="store_true",
        help="processes the code starts outlive their cell (until the run ends)",
    )
    p.add_argument(
        "--writable",
        action="store_true",
        help="let the code write into FILE's folder (default: read-only)",
    )
    p.add_argument(
        "--isolation",
        choices=_ISOLATION,
        default="auto",
        help="run kernels under bubblewrap (default: auto)",
    )
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "demo",
        help="a tour in a few seconds: warm pools, three languages, tools, a rejected attack",
        formatter_class=_RAW,
        description="Show what the engine does on this machine, with a summary table.",
        epilog=_DEMO_EPILOG,
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--isolation",
        choices=_ISOLATION,
        default="auto",
        help="run kernels under bubblewrap (default: auto)",
    )
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(isolation=args.isolation, as_json=args.json)


# -- run ---------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    if not args.json:
        return _run(args)
    # A program reading --json gets JSON for bad input and engine failures too.
    try:
        return _run(args)
    except (CompanionKernelError, OSError, ValueError) as exc:
        print(json.dumps(invalid_request(exc), indent=2))
        return 2


def _run(args: argparse.Namespace) -> int:
    from .validation import policy_option

    args.policy = policy_option(args.policy)
    path = Path(args.file)
    if not path.is_file():
        raise InvalidRequest(f"{path}: no such file")
    if args.timeout is not None and not args.timeout > 0:
        raise InvalidRequest(f"--timeout must be a positive number of seconds, not {args.timeout}")
    if path.suffix.lower() == ".ipynb":
        return _run_notebook(args, path)
    if args.output:
        raise InvalidRequest(
            "--output applies to notebooks (.ipynb); for a script, use --json > FILE"
        )
    language = _script_language(path, args.lang)
    code = _read_text(path)
    result = asyncio.run(_run_script(code, language, args))
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print_result(result)
    return EXIT_STATUS.get(result.status, 1)


def _script_language(path: Path, override: str | None) -> str:
    if override:
        return canonical_language(override)
    suffix = path.suffix.lower()
    for name in known_languages():
        if suffix in get_language(name).file_extensions:
            return name
    known = ", ".join(ext for n in known_languages() for ext in get_language(n).file_extensions)
    raise UnknownLanguage(
        f"{path}: cannot tell the language from the extension {suffix or '(none)'!r} "
        f"(known: {known}, .ipynb); pass --lang python|javascript|shell"
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None


def _engine_config(language: str, args: argparse.Namespace) -> Any:
    from .config import EngineConfig, PoolConfig

    # One session, no spare: a warm second kernel would only be started and thrown away.
    return EngineConfig(
        languages=(language,),
        pools={language: PoolConfig(min_idle=0)},
        policy=args.policy,
        isolation=args.isolation,
    )


def _workspace(args: argparse.Namespace) -> dict[str, Any]:
    """The session options: FILE's folder as the workspace, and whether processes outlive cells."""
    folder = Path(args.file).resolve().parent
    return {
        "workspace": folder,
        "workspace_readonly": not args.writable,
        "background_processes": args.keep_processes,
    }


async def _run_script(code: str, language: str, args: argparse.Namespace) -> Any:
    from .engine import Engine

    async with Engine(_engine_config(language, args)) as engine:
        async with engine.session(language, **_workspace(args)) as session:
            result = await session.execute(code, timeout=args.timeout)
    result.session_id = None
    return result


# -- notebooks ---------------------------------------------------------------------------------


def _load_notebook(path: Path) -> Any:
    """The notebook at `path` (nbformat v4), or `InvalidRequest` saying what is wrong."""
    import nbformat

    text = _read_text(path)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"{path}: not a notebook: malformed JSON at line {exc.lineno} column {exc.colno}: "
            f"{exc.msg}"
        ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("nbformat"), int):
        raise InvalidRequest(f"{path}: not a notebook: no top-level 'nbformat' version number")
    if not isinstance(raw.get("cells", []), list):
        raise InvalidRequest(f"{path}: not a notebook: 'cells' is not a list")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidRequest(f"{path}: not a valid notebook: {message}") from None
    return nb


def _notebook_language(nb: Any, path: Path, override: str | None) -> str:
    if override:
        return canonical_language(override)
    kernelspec = nb.metadata.get("kernelspec") or {}
    info = nb.metadata.get("language_info") or {}
    candidates = [kernelspec.get("name"), kernelspec.get("language"), info.get("name")]
    named = [c for c in candidates if isinstance(c, str) and c.strip()]
    for candidate in named:
        with contextlib.suppress(UnknownLanguage):
            return canonical_language(candidate)
    if not named:
        raise UnknownLanguage(
            f"{path}: the notebook names no kernel or language (metadata.kernelspec); "
            "pass --lang python|javascript|shell"
        )
    raise UnknownLanguage(
        f"{path}: cannot run kernel {kernelspec.get('name')!r} "
        f"(language {kernelspec.get('language') or info.get('name')!r}); "
        f"supported: {', '.join(known_languages())}; pass --lang to override"
    )


def _cell_outputs(result: Any) -> list[Any]:
    """The cell's outputs, plus an error output saying why when the code did not finish."""
    from nbformat import v4

    outputs = result.to_nbformat()
    has_error = any(o.get("output_type") == "error" for o in outputs)
    if result.status != "ok" and result.error is not None and not has_error:
        lines = [str(result.error)]
        lines += [f"  {v}" for v in result.violations]
        outputs.append(
            v4.new_output(
                "error",
                ename=result.error.ename,
                evalue=result.error.evalue,
                traceback=lines,
            )
        )
    return outputs


def _write_atomic(nb: Any, target: Path) -> None:
    """Write the notebook to a temporary file beside `target`, then rename it into place."""
    import nbformat

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            nbformat.write(nb, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            mode = stat.S_IMODE(target.stat().st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _Bar:
    """A rich progress bar over a notebook's code cells, on stderr."""

    def __init__(self, progress: Any, total: int) -> None:
        self._progress = progress
        self._task = progress.add_task("starting the kernel", total=total)

    def running(self, label: str) -> None:
        self._progress.update(self._task, description=label)

    def done(self) -> None:
        self._progress.advance(self._task)


@contextlib.contextmanager
def _progress(total: int, enabled: bool) -> Iterator[_Bar]:
    """The bar is drawn only when enabled and stderr is a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not (enabled and console.is_terminal),
    )
    with progress:
        yield _Bar(progress, total)


def _run_notebook(args: argparse.Namespace, path: Path) -> int:
    nb = _load_notebook(path)
    language = _notebook_language(nb, path, args.lang)
    target = Path(args.output) if args.output else path
    if not target.parent.is_dir():
        raise InvalidRequest(f"{target}: the folder {target.parent} does not exist")
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    started = time.monotonic()
    with _progress(len(code_cells), not args.json) as bar:
        reports = asyncio.run(_execute_cells(code_cells, language, args, bar))
    _write_atomic(nb, target)
    failed = [r for r in reports if r["status"] != "ok"]
    status = EXIT_STATUS.get(failed[0]["status"], 1) if failed else 0
    elapsed = time.monotonic() - started
    if args.json:
        payload = {
            "notebook": str(path),
            "output": str(target),
            "language": language,
            "ok": not failed,
            "cells_total": _count_runnable(code_cells),
            "cells_run": len(reports),
            "duration_s": round(elapsed, 3),
            "cells": reports,
        }
        print(json.dumps(payload, indent=2))
    else:
        _print_notebook_summary(path, target, language, code_cells, reports, elapsed)
    return status


async def _execute_cells(
    code_cells: list[tuple[int, Any]], language: str, args: argparse.Namespace, bar: _Bar
) -> list[dict[str, Any]]:
    from .engine import Engine

    reports: list[dict[str, Any]] = []
    async with Engine(_engine_config(language, args)) as engine:
        async with engine.session(language, **_workspace(args)) as session:
            for number, (index, cell) in enumerate(code_cells, start=1):
                bar.running(f"cell {number}/{len(code_cells)}")
                if not cell.source.strip():
                    cell.outputs, cell.execution_count = [], None
                    bar.done()
                    continue
                result = await session.execute(cell.source, timeout=args.timeout)
                cell.outputs = _cell_outputs(result)
                cell.execution_count = result.execution_count
                reports.append(
                    {
                        "cell": index + 1,
                        "status": result.status,
                        "execution_count": result.execution_count,
                        "duration_s": round(result.duration_s, 4),
                        "error": result.error.model_dump() if result.error else None,
                    }
                )
                bar.done()
                if not result.ok and not args.allow_errors:
                    break
    return reports


def _count_runnable(code_cells: list[tuple[int, Any]]) -> int:
    return sum(1 for _, cell in code_cells if cell.source.strip())


def _print_notebook_summary(
    path: Path,
    target: Path,
    language: str,
    code_cells: list[tuple[int, Any]],
    reports: list[dict[str, Any]],
    elapsed: float,
) -> None:
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for report in reports:
        if report["status"] == "ok" or report["error"] is None:
            continue
        error = report["error"]
        err.print(f"[bold red]cell {report['cell']}[/] ({report['status']}):", end=" ")
        err.print(f"{error['ename']}: {error['evalue']}", markup=False)
        if error.get("traceback"):
            err.print("\n".join(error["traceback"]), markup=False)
    failed = [r for r in reports if r["status"] != "ok"]
    total = _count_runnable(code_cells)
    skipped = total - len(reports)
    verdict = "[green]ok[/]" if not failed else f"[red]{len(failed)} failed[/]"
    note = f", {skipped} not run" if skipped else ""
    out.print(
        f"{path}: ran {len(reports)} of {total} code cells ({language}) in "
        f"{elapsed:.1f}s: {verdict}{note}; outputs written to {target}"
    )
