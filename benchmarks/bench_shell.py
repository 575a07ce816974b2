"""Shell: a warm bash_kernel session vs spawning `bash -c` per snippet; cold start and RSS.

Run: python benchmarks/bench_shell.py [--quick]   (or: companion-kernel bench --only shell)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import psutil

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel._bench import summarize

SNIPPET = "echo $((6 * 7))"


def _tree_rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 2**20


async def _run(quick: bool) -> dict:
    n = 40 if quick else 200
    cfg = EngineConfig(
        languages=("shell",),
        pools={"shell": PoolConfig(min_idle=1)},
        isolation="off",
        policy="off",
    )
    cold = []
    for _ in range(2 if quick else 4):
        t0 = time.perf_counter()
        async with Engine(cfg.model_copy(update={"pools": {"shell": PoolConfig(min_idle=0)}})) as e:
            async with e.session("shell") as s:
                await s.execute("true")
                cold.append(time.perf_counter() - t0)
    async with Engine(cfg) as engine:
        await engine.wait_ready()
        rss = _tree_rss_mb(engine.pool("shell").kernels()[0].pids[0])
        async with engine.session("shell") as s:
            for _ in range(10):
                await s.execute(SNIPPET)
            warm, naive = [], []
            for _ in range(n):
                t0 = time.perf_counter()
                await s.execute(SNIPPET)
                t1 = time.perf_counter()
                subprocess.run(["bash", "-c", SNIPPET], capture_output=True, check=True)
                naive.append(time.perf_counter() - t1)
                warm.append(t1 - t0)
    r_warm = summarize("engine warm shell session", warm)
    r_naive = summarize("bash -c per snippet", naive)
    r_cold = summarize("cold start: new engine + first cell", cold)
    return {
        "title": "Shell (bash_kernel)",
        "rows": [r_warm, r_naive, r_cold],
        "ratios": [],
        "notes": [
            f"engine warm / bash -c (p50): {r_warm['p50_ms'] / r_naive['p50_ms']:.2f} (no target:"
            " bash -c has no state between snippets; the session keeps cwd and variables)",
            f"idle bash kernel RSS (kernel + bash): {rss:.1f} MiB",
        ],
    }


def run(quick: bool = False) -> dict:
    """Benchmark group entry point."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
