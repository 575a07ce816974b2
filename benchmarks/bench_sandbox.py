"""Sandboxed (bubblewrap + limits) vs plain ipykernel, side by side in one run, both over ipc.

Cold start: start -> kernel_info reply, alternating plain / limits only / sandboxed.
Warm execution: a trivial cell, alternating between a plain and a sandboxed kernel
that run at the same time, measured with a hand-written protocol loop.

Run: python benchmarks/bench_sandbox.py [--quick]   (or: companion-kernel bench --only sandbox)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

from companion_kernel._bench import ratio, raw_execute, summarize
from companion_kernel.sandbox import SandboxConfig, bwrap_available
from companion_kernel.sandbox._probe import probe_kernel

CELL = "1+1"
VARIANTS: dict[str, SandboxConfig | None] = {
    "plain": None,
    "limits only": SandboxConfig(isolate=False),
    "sandboxed": SandboxConfig(workspace_quota=True),  # as the engine starts its kernels
}


async def _cold(config: SandboxConfig | None) -> float:
    start = time.perf_counter()
    async with probe_kernel(config):
        elapsed = time.perf_counter() - start
    return elapsed


async def _execute(kc: Any) -> float:
    """Seconds for one cell over the protocol floor."""
    start = time.perf_counter()
    await raw_execute(kc, CELL)
    return time.perf_counter() - start


async def _run(quick: bool) -> dict[str, Any]:
    ok, detail = bwrap_available()
    if not ok:
        return {
            "title": "sandbox: bubblewrap vs plain kernel",
            "rows": [],
            "ratios": [],
            "notes": [f"skipped: bubblewrap cannot run here ({detail})"],
        }
    n_cold = 4 if quick else 10
    n_warm = 60 if quick else 400
    cold: dict[str, list[float]] = {name: [] for name in VARIANTS}
    await _cold(None)  # warm the page cache and imports before measuring anything
    for _ in range(n_cold):
        for name, config in VARIANTS.items():
            cold[name].append(await _cold(config))

    warm: dict[str, list[float]] = {"plain": [], "sandboxed": []}
    async with AsyncExitStack() as stack:
        clients = {
            name: (await stack.enter_async_context(probe_kernel(VARIANTS[name])))[1]
            for name in warm
        }
        for kc in clients.values():
            for _ in range(20):
                await _execute(kc)
        for _ in range(n_warm):
            for name, kc in clients.items():
                warm[name].append(await _execute(kc))

    rows = [summarize(f"cold start: {name}", cold[name]) for name in VARIANTS]
    rows += [summarize(f"warm '{CELL}': {name}", warm[name]) for name in warm]
    p50 = {r["name"]: r["p50_ms"] for r in rows}
    ratios = [
        ratio(
            "cold start sandboxed / plain",
            p50["cold start: sandboxed"] / p50["cold start: plain"],
            "<= 1.3",
        ),
        ratio(
            "warm execution p50 sandboxed / plain",
            p50[f"warm '{CELL}': sandboxed"] / p50[f"warm '{CELL}': plain"],
            "<= 1.05",
        ),
    ]
    return {
        "title": "sandbox: bubblewrap + limits vs plain ipykernel (ipc)",
        "rows": rows,
        "ratios": ratios,
        "notes": [
            f"{detail}; kernels alternate so drift and noise hit every variant alike",
            "cold start = start_kernel -> kernel_info reply, fresh kernel each time",
            "'limits only' = the provisioner with isolate=False (rlimits + cgroups)",
        ],
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Run the sandbox benchmark; see the module docstring."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
