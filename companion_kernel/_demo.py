"""`companion-kernel demo`: a few seconds that show every part of the engine working."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console

from .config import EngineConfig, IsolationMode, PoolConfig
from .languages import known_languages

__all__ = ["DemoStep", "run_demo"]

_CELLS = (
    (
        "python",
        "Python cell",
        "import statistics\n"
        "temps = [22.5, 18.3, 25.7, 20.1, 23.4]\n"
        'print(f"mean {statistics.mean(temps):.2f}, stdev {statistics.stdev(temps):.2f}")\n',
    ),
    (
        "javascript",
        "JavaScript cell",
        "const temps = [22.5, 18.3, 25.7, 20.1, 23.4];\n"
        "console.log(`max ${Math.max(...temps)} on Node ${process.version}`);\n",
    ),
    (
        "shell",
        "shell cell",
        "printf '%s\\n' 22.5 18.3 25.7 20.1 23.4 | sort -n | tr '\\n' ' '\n",
    ),
)
_TEXT = "The temperatures were 22.5°C, 18.3°C, 25.7°C, 20.1°C, and 23.4°C"
_WORKFLOW = (
    f"nums = tools.extract_numbers({_TEXT!r})\n"
    "print(f'Average: {tools.list_average(nums):.2f}°C, '\n"
    "      f'Min: {tools.list_min(nums)}°C, Max: {tools.list_max(nums)}°C')\n"
)
# Walks from an empty tuple to every loaded class: the classic escape from a Python sandbox.
_ATTACK = "().__class__.__base__.__subclasses__()"
_WARM_TIMEOUT_S = 60.0
# A pool with nothing starting and nothing ready after this long will not produce a kernel.
_STALL_S = 2.0


@dataclass
class DemoStep:
    """One row of the summary."""

    step: str
    language: str
    status: str
    """`ok`, `rejected` (the expected outcome of the attack), `skipped` or `failed`."""
    ms: float | None
    detail: str


def run_demo(isolation: IsolationMode = "auto", as_json: bool = False) -> int:
    """Run the demo and print the summary; 0 when every step that can run here went well."""
    console = Console(highlight=False)
    started = time.monotonic()
    steps, sandboxed, warm_s = asyncio.run(_demo(isolation, show_progress=not as_json))
    total_s = time.monotonic() - started
    ok = not any(s.status == "failed" for s in steps)
    if as_json:
        payload = {
            "ok": ok,
            "sandboxed": sandboxed,
            "warm_s": round(warm_s, 3),
            "total_s": round(total_s, 3),
            "steps": [asdict(s) for s in steps],
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _print_table(console, steps, warm_s, total_s)
    return 0 if ok else 1


async def _demo(
    isolation: IsolationMode, show_progress: bool
) -> tuple[list[DemoStep], bool, float]:
    from .engine import Engine
    from .languages import get_language

    problems = {name: get_language(name).check() for name in known_languages()}
    languages = tuple(name for name, problem in problems.items() if problem is None)
    config = EngineConfig(
        languages=languages,
        # Python runs two one-shot cells (the cell and the tool workflow): keep two warm.
        pools={
            name: PoolConfig(min_idle=2 if name == "python" else 1, acquire_timeout_s=30)
            for name in languages
        },
        isolation=isolation,
    )
    steps: list[DemoStep] = []
    async with Engine(config) as engine:
        steps.append(_sandbox_step(engine.sandboxed, isolation))
        warm_started = time.monotonic()
        ready = await _warm(engine, languages, show_progress)
        warm_s = time.monotonic() - warm_started
        for language, label, code in _CELLS:
            problem = problems.get(language)
            if problem is not None:
                steps.append(DemoStep(label, language, "skipped", None, problem))
                continue
            if not ready.get(language):
                detail = (
                    f"no {language} kernel became ready in {warm_s:.0f}s "
                    "(run `companion-kernel doctor`)"
                )
                steps.append(DemoStep(label, language, "failed", None, detail))
                continue
            steps.append(await _cell_step(engine, label, language, code))
        if ready.get("python"):
            # Kernel code calling host tools over the comm bridge: extract -> process -> calculate.
            steps.append(await _cell_step(engine, "tool workflow", "python", _WORKFLOW))
        steps.append(await _attack_step(engine))
        sandboxed = engine.sandboxed
    return steps, sandboxed, warm_s


def _sandbox_step(sandboxed: bool, isolation: str) -> DemoStep:
    if sandboxed:
        return DemoStep(
            "sandbox", "-", "ok", None, "bubblewrap: no network, private /tmp, resource limits"
        )
    if isolation == "off":
        return DemoStep("sandbox", "-", "skipped", None, "turned off with --isolation off")
    reason = "bubblewrap cannot run here"
    try:
        from .sandbox import bwrap_available

        available, detail = bwrap_available()
        if not available:
            reason = detail
    except Exception as exc:
        reason = f"sandbox check failed: {exc}"
    return DemoStep("sandbox", "-", "skipped", None, f"{reason} (kernels run unconfined)")


async def _warm(engine: Any, languages: tuple[str, ...], show_progress: bool) -> dict[str, bool]:
    """Wait for one ready kernel per language, with a progress bar on a terminal.

    Returns which languages got a kernel. A pool that failed, or has nothing starting
    and nothing ready, will not get one: it is not waited for.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    started = time.monotonic()
    err = Console(stderr=True)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not (show_progress and err.is_terminal),
    )
    ready: dict[str, bool] = {}
    with progress:
        task = progress.add_task("warming kernel pools", total=len(languages))
        while True:
            elapsed = time.monotonic() - started
            for name, s in engine.stats().items():
                if s.idle or s.in_use:
                    ready[name] = True
                elif not s.starting and (s.failed_total or elapsed > _STALL_S):
                    ready[name] = False
            waiting = [name for name in languages if name not in ready]
            label = f"warming: {', '.join(waiting)}" if waiting else "kernels ready"
            progress.update(task, completed=len(ready), description=label)
            if not waiting or elapsed > _WARM_TIMEOUT_S:
                break
            await asyncio.sleep(0.05)
    return {name: ready.get(name, False) for name in languages}


def _first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else ""


async def _cell_step(engine: Any, label: str, language: str, code: str) -> DemoStep:
    started = time.monotonic()
    try:
        result = await engine.execute(code, language, timeout=20)
    except Exception as exc:
        return DemoStep(label, language, "failed", None, f"{type(exc).__name__}: {exc}")
    ms = (time.monotonic() - started) * 1000
    if result.ok:
        detail = _first_line(result.stdout) or _first_line(result.text)
        return DemoStep(label, language, "ok", ms, detail)
    return DemoStep(label, language, "failed", ms, str(result.error))


async def _attack_step(engine: Any) -> DemoStep:
    label = "rejected attack"
    started = time.monotonic()
    try:
        result = await engine.execute(_ATTACK, "python", policy="strict", timeout=20)
    except Exception as exc:
        return DemoStep(label, "python", "failed", None, f"{type(exc).__name__}: {exc}")
    ms = (time.monotonic() - started) * 1000
    if result.status != "rejected":
        return DemoStep(
            label, "python", "failed", ms, f"the validator let {_ATTACK} through ({result.status})"
        )
    first = result.violations[0] if result.violations else None
    reason = getattr(first, "message", None) or str(result.error)
    return DemoStep(label, "python", "rejected", ms, f"{_ATTACK} -> {reason}")


def _print_table(console: Console, steps: list[DemoStep], warm_s: float, total_s: float) -> None:
    from rich.table import Table
    from rich.text import Text

    colours = {"ok": "green", "rejected": "green", "skipped": "yellow", "failed": "bold red"}
    table = Table(title="companion-kernel demo", title_justify="left")
    table.add_column("step", no_wrap=True)
    table.add_column("language", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for step in steps:
        colour = colours.get(step.status, "white")
        time_text = f"{step.ms:.0f} ms" if step.ms is not None else ""
        table.add_row(
            step.step,
            step.language,
            f"[{colour}]{step.status}[/]",
            time_text,
            Text(step.detail),
        )
    console.print(table)
    failed = [s.step for s in steps if s.status == "failed"]
    verdict = f"[bold red]failed: {', '.join(failed)}[/]" if failed else "[green]all good[/]"
    console.print(f"pools warmed in {warm_s:.1f}s, whole demo {total_s:.1f}s: {verdict}")
