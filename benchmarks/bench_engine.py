"""Engine vs the raw protocol floor vs naive start-execute-stop, and session acquire.

Run: python benchmarks/bench_engine.py [--quick]   (or: companion-kernel bench --only engine)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import psutil
from jupyter_client import AsyncKernelManager

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel._bench import ratio, raw_execute, summarize
from companion_kernel._kernel import _OneSpecManager

CELL = "1+1"


async def _start_raw(
    engine: Engine, root: Path, name: str, language: str = "python"
) -> tuple[AsyncKernelManager, object]:
    """A kernel from the engine's own spec, driven by plain jupyter_client."""
    km = AsyncKernelManager(
        kernel_name="companion",
        kernel_spec_manager=_OneSpecManager(engine.kernel_spec(language)),
        transport="ipc",
        ip=str(root / name),
        connection_file=str(root / f"{name}.json"),
    )
    await km.start_kernel()
    kc = km.client()
    kc.start_channels(hb=False, stdin=False)
    try:
        await kc.wait_for_ready(timeout=60)
    except BaseException:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        raise
    return km, kc


async def _naive_once(engine: Engine, root: Path, i: int) -> None:
    km, kc = await _start_raw(engine, root, f"naive{i}")
    try:
        await raw_execute(kc, CELL)
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


async def engine_vs_raw(language: str, cell: str, n: int) -> tuple[list, list, float]:
    """Interleaved warm executions: a raw jupyter_client loop and an engine session."""
    config = EngineConfig(
        languages=(language,),
        pools={language: PoolConfig(min_idle=1)},
        isolation="off",
        policy="off",
    )
    with tempfile.TemporaryDirectory(prefix="ckb-") as tmp:
        async with Engine(config, tools=False) as engine:
            await engine.wait_ready()
            km, kc = await _start_raw(engine, Path(tmp), "raw", language)
            try:
                async with engine.session(language) as session:
                    for _ in range(20):  # warm both paths
                        await raw_execute(kc, cell)
                        await session.execute(cell)
                    raw, eng = [], []
                    for _ in range(n):  # interleaved, so machine noise hits both alike
                        t0 = time.perf_counter()
                        await raw_execute(kc, cell)
                        t1 = time.perf_counter()
                        await session.execute(cell)
                        eng.append(time.perf_counter() - t1)
                        raw.append(t1 - t0)
                    idle_pid = engine.pool(language).kernels()[0].pids[0]
                    rss_mb = psutil.Process(idle_pid).memory_info().rss / 2**20
            finally:
                kc.stop_channels()
                await km.shutdown_kernel(now=True)
    return raw, eng, rss_mb


async def _run(quick: bool) -> dict:
    n = 60 if quick else 300
    n_naive = 3 if quick else 8
    n_acquire = 10 if quick else 30
    raw, eng, rss_mb = await engine_vs_raw("python", CELL, n)
    config = EngineConfig(
        languages=("python",),
        pools={"python": PoolConfig(min_idle=2, max_kernels=8)},
        isolation="off",
        policy="off",
    )
    notes = []
    with tempfile.TemporaryDirectory(prefix="ckb-") as tmp:
        root = Path(tmp)
        async with Engine(config) as engine:
            await engine.wait_ready()
            naive = []
            for i in range(n_naive):
                t0 = time.perf_counter()
                await _naive_once(engine, root, i)
                naive.append(time.perf_counter() - t0)
            acquire = []
            for _ in range(n_acquire):
                await engine.pool("python").wait_ready(2)
                t0 = time.perf_counter()
                s = await engine.create_session("python")
                acquire.append(time.perf_counter() - t0)
                await s.close()
    r_raw = summarize("raw jupyter_client loop (floor)", raw)
    r_eng = summarize("engine warm session.execute", eng)
    r_naive = summarize("naive start+execute+shutdown", naive)
    r_acq = summarize("session acquire from warm pool", acquire)
    rows = [r_raw, r_eng, r_naive, r_acq]
    ratios = [
        ratio("engine / raw floor (p50)", r_eng["p50_ms"] / r_raw["p50_ms"], "<= 1.10"),
        ratio("naive / engine (p50)", r_naive["p50_ms"] / r_eng["p50_ms"], ">= 100"),
        ratio("session acquire p50 (ms)", r_acq["p50_ms"], "<= 10"),
    ]
    notes.append(f"idle warm ipykernel RSS: {rss_mb:.1f} MiB")
    notes.append(f"cell: {CELL!r}; ipc transport; {n} interleaved iterations")
    return {"title": "Python engine (ipykernel)", "rows": rows, "ratios": ratios, "notes": notes}


def run(quick: bool = False) -> dict:
    """Benchmark group entry point (see companion_kernel._bench)."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
