"""Pre-importing the data stack in warm Python kernels (`EngineConfig.preload`), side by side.

Two engines run at the same time with the default sandbox and limits: one plain, one with
`preload=PRELOAD`. Each round waits until both pools hold a ready kernel, reads the idle
kernel's memory, then times a one-shot `import pandas` cell (a fresh session each time,
as an assistant's first data cell), alternating the engines.

Run: python benchmarks/bench_interpreter.py [--quick]
(or: companion-kernel bench --only interpreter)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from typing import Any

import psutil

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel._bench import ratio, summarize
from companion_kernel.sandbox import bwrap_available

PRELOAD = ("numpy", "pandas", "matplotlib.pyplot")
CELL = "import pandas as pd"
MIB = 1024 * 1024


def _config(preload: tuple[str, ...]) -> EngineConfig:
    return EngineConfig(
        languages=("python",),
        pools={"python": PoolConfig(min_idle=1, max_kernels=2)},
        preload=preload,
    )


def _idle_kernel_memory(engine: Engine) -> tuple[float, float]:
    """(RSS, USS) in MiB of this engine's ready kernel process (ipykernel itself)."""
    marker = str(engine._reaper.runtime_dir) if engine._reaper else ""
    for proc in psutil.Process().children(recursive=True):
        try:
            cmd = proc.cmdline()
            # bubblewrap's own processes carry the same arguments; the kernel is python.
            is_python = bool(cmd) and os.path.basename(cmd[0]).startswith("python")
            if is_python and "ipykernel_launcher" in cmd and any(marker in a for a in cmd):
                info = proc.memory_full_info()
                return info.rss / MIB, info.uss / MIB
        except psutil.Error:
            continue
    return float("nan"), float("nan")


async def _run(quick: bool) -> dict[str, Any]:
    title = "interpreter: first data cell with and without preloaded modules"
    ok, detail = bwrap_available()
    if not ok:
        return {"title": title, "rows": [], "ratios": [], "notes": [f"skipped: {detail}"]}
    rounds = 3 if quick else 8
    names = {"no preload": (), "preload": PRELOAD}
    first: dict[str, list[float]] = {name: [] for name in names}
    rss: dict[str, list[float]] = {name: [] for name in names}
    uss: dict[str, list[float]] = {name: [] for name in names}
    async with (
        Engine(_config(()), tools=False) as plain,
        Engine(_config(PRELOAD), tools=False) as preloaded,
    ):
        engines = {"no preload": plain, "preload": preloaded}
        for _ in range(rounds):
            for name, engine in engines.items():
                await engine.wait_ready(timeout=300)
                await asyncio.sleep(0.5)  # let the refill's start-up settle
                r, u = _idle_kernel_memory(engine)
                rss[name].append(r)
                uss[name].append(u)
                start = time.perf_counter()
                result = await engine.execute(CELL, "python", timeout=120)
                first[name].append(time.perf_counter() - start)
                if result.status != "ok":
                    raise RuntimeError(f"{name}: {result.error}")
    rows = [
        summarize(
            f"first '{CELL.replace(chr(10), '; ')}' cell: {name}",
            first[name],
            idle_rss_mib=round(statistics.median(rss[name]), 1),
            idle_uss_mib=round(statistics.median(uss[name]), 1),
        )
        for name in names
    ]
    p50 = {name: row["p50_ms"] for name, row in zip(names, rows, strict=True)}
    extra_rss = statistics.median(rss["preload"]) - statistics.median(rss["no preload"])
    return {
        "title": title,
        "rows": rows,
        "ratios": [
            ratio(
                "first data cell preload / no preload",
                p50["preload"] / p50["no preload"],
                "<= 0.5",
            )
        ],
        "notes": [
            f"{detail}; preload={PRELOAD}; one-shot cells, a fresh pooled kernel each",
            f"idle kernel memory cost of preloading: {extra_rss:+.1f} MiB RSS per warm kernel",
        ],
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Run the interpreter benchmark; see the module docstring."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
