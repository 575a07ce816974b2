"""Tool calls from kernel code: the call -> host -> answer round trip vs a bare execution.

Run: python benchmarks/bench_bridge.py [--quick]   (or: companion-kernel bench --only bridge)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from companion_kernel import Engine, EngineConfig, PoolConfig, ToolAccess
from companion_kernel._bench import ratio, summarize

# Measured inside the kernel, so only the tool call's own round trip is timed.
IN_KERNEL = """
import json, time
_samples = []
for _ in range({n}):
    _t = time.perf_counter()
    tools.add(1, 2)
    _samples.append(time.perf_counter() - _t)
print(json.dumps(_samples))
"""


async def _run(quick: bool) -> dict:
    n = 50 if quick else 300
    config = EngineConfig(
        languages=("python",),
        pools={"python": PoolConfig(min_idle=1)},
        isolation="off",
        policy="off",
    )
    # Unlimited rate: the benchmark makes more calls than the default 600 per minute.
    access = ToolAccess(max_calls_per_minute=None)
    async with Engine(config, tool_access=access) as engine, engine.session("python") as s:
        for _ in range(20):
            await s.execute("tools.add(1, 2)")
            await s.execute("1+1")
        bare, with_call = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            await s.execute("1+1")
            t1 = time.perf_counter()
            await s.execute("tools.add(1, 2)")
            with_call.append(time.perf_counter() - t1)
            bare.append(t1 - t0)
        r = await s.execute(IN_KERNEL.format(n=n))
        if r.status != "ok":
            raise RuntimeError(f"the in-kernel loop failed: {r.error}")
        in_kernel = json.loads(r.stdout)
    r_bare = summarize("bare execution round trip ('1+1')", bare)
    r_call = summarize("tool call round trip, timed in the kernel", in_kernel)
    r_cell = summarize("execution that makes one tool call", with_call)
    return {
        "title": "Tool bridge (Python kernel -> host tool)",
        "rows": [r_bare, r_call, r_cell],
        "ratios": [
            ratio("tool call / bare execution (p50)", r_call["p50_ms"] / r_bare["p50_ms"], "<= 2"),
            ratio(
                "cell with a call / bare execution (p50)",
                r_cell["p50_ms"] / r_bare["p50_ms"],
                "<= 2",
            ),
        ],
        "notes": ["same session; replies reach the busy kernel through an ipykernel subshell"],
    }


def run(quick: bool = False) -> dict:
    """Benchmark group entry point."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
