"""`companion-kernel bench`: runs the side-by-side benchmarks in benchmarks/ and prints them."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["machine_info", "ratio", "raw_execute", "run_benchmarks", "summarize", "timed"]

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
# Order matters only for reading; each group measures its own pair side by side.
GROUPS = (
    "engine",
    "javascript",
    "node_kernel",
    "shell",
    "output",
    "sandbox",
    "validation",
    "detection",
    "tools",
    "bridge",
    "interpreter",
    "workspace",
    "mcp",
)


# 10 MB of stdout written by the cell itself: 100,000 lines of 100 bytes, or one line.
# Shared by the output benchmark and the flood tests, so both measure the same floods.
OUTPUT_FLOODS: dict[tuple[str, str], str] = {
    ("python", "lines"): "for _ in range(100_000):\n    print('x' * 99)",
    ("python", "line"): "import sys\nsys.stdout.write('x' * 10_000_000)",
    ("javascript", "lines"): "for (let i = 0; i < 1e5; i++) console.log('x'.repeat(99));",
    ("javascript", "line"): "process.stdout.write('x'.repeat(1e7));",
    ("shell", "lines"): "yes " + "x" * 99 + " | head -n 100000",
    ("shell", "line"): "head -c 10000000 /dev/zero | tr '\\0' x",
}

def summarize(name: str, samples_s: Sequence[float], **extra: Any) -> dict[str, Any]:
    """A benchmark row: p50/p90 in milliseconds from samples in seconds."""
    ordered = sorted(samples_s)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "name": name,
        "p50_ms": round(statistics.median(ordered) * 1000, 4),
        "p90_ms": round(p90 * 1000, 4),
        "n": len(ordered),
        **extra,
    }


def ratio(name: str, value: float, target: str) -> dict[str, Any]:
    """A ratio row checked against a target such as '<= 1.10' or '>= 100'."""
    op, bound = target.split()
    ok = value <= float(bound) if op == "<=" else value >= float(bound)
    return {"name": name, "value": round(value, 3), "target": target, "ok": ok}


async def raw_execute(kc: Any, cell: str) -> None:
    """The protocol floor: send one cell, read iopub until its idle status, read its reply."""
    msg_id = kc.execute(cell)
    while True:
        msg = await kc.get_iopub_msg()
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            break
    while (await kc.get_shell_msg())["parent_header"].get("msg_id") != msg_id:
        pass


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of `fn` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def machine_info() -> dict[str, Any]:
    """Facts that make numbers comparable."""
    import psutil

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def _load(group: str) -> Any:
    path = BENCH_DIR / f"bench_{group}.py"
    spec = importlib.util.spec_from_file_location(f"_ck_bench_{group}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_benchmarks(
    quick: bool = False, as_json: bool = False, only: list[str] | None = None
) -> int:
    """Run each benchmark group; exit status 1 if a ratio misses its target."""
    from rich.console import Console
    from rich.table import Table

    if not BENCH_DIR.is_dir():
        print("benchmarks/ not found: run `companion-kernel bench` from a source checkout")
        return 2
    groups = [g for g in GROUPS if (BENCH_DIR / f"bench_{g}.py").exists()]
    if only:
        unknown = sorted(set(only) - set(groups))
        if unknown:
            print(f"unknown benchmark group(s): {', '.join(unknown)}; have: {', '.join(groups)}")
            return 2
        groups = [g for g in groups if g in only]
    console = Console()
    report: dict[str, Any] = {"machine": machine_info(), "quick": quick, "groups": {}}
    for group in groups:
        if not as_json:
            console.print(f"[dim]running {group}...[/]")
        try:
            report["groups"][group] = _load(group).run(quick=quick)
        except Exception as exc:  # one broken group must not hide the others
            report["groups"][group] = {"title": group, "error": f"{type(exc).__name__}: {exc}"}
    failed = [
        r["name"] for g in report["groups"].values() for r in g.get("ratios", []) if not r["ok"]
    ]
    report["all_targets_met"] = not failed and not any(
        "error" in g for g in report["groups"].values()
    )
    if as_json:
        print(json.dumps(report, indent=2))
        return 0 if report["all_targets_met"] else 1
    console.print(f"machine: {report['machine']}")
    for group in report["groups"].values():
        if "error" in group:
            console.print(f"[red]{group['title']}: {group['error']}[/]")
            continue
        table = Table(title=group["title"], title_justify="left")
        for col in ("benchmark", "p50 ms", "p90 ms", "n", "extra"):
            table.add_column(col)
        for row in group.get("rows", []):
            extra = {k: v for k, v in row.items() if k not in ("name", "p50_ms", "p90_ms", "n")}
            table.add_row(
                row["name"],
                f"{row['p50_ms']:.3f}",
                f"{row['p90_ms']:.3f}",
                str(row["n"]),
                ", ".join(f"{k}={v}" for k, v in extra.items()),
            )
        console.print(table)
        for r in group.get("ratios", []):
            mark = "[green]ok[/]" if r["ok"] else "[red]MISSED[/]"
            console.print(f"  {r['name']}: {r['value']} (target {r['target']}) {mark}")
        for note in group.get("notes", []):
            console.print(f"  [dim]{note}[/]")
    return 0 if report["all_targets_met"] else 1
