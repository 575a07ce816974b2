"""JavaScript through the engine: warm session vs `node -e` per snippet vs a raw protocol loop.

Run: python benchmarks/bench_javascript.py [--quick]  (or: companion-kernel bench --only javascript)
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

from companion_kernel._bench import ratio, summarize

CELL = "1+1"


def _engine_bench():
    path = Path(__file__).with_name("bench_engine.py")
    spec = importlib.util.spec_from_file_location("_ck_bench_engine_shared", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(quick: bool = False) -> dict:
    """Benchmark group entry point."""
    n = 60 if quick else 300
    raw, eng, rss_mb = asyncio.run(_engine_bench().engine_vs_raw("javascript", CELL, n))
    naive = []
    for _ in range(5 if quick else 20):
        t0 = time.perf_counter()
        subprocess.run(["node", "-e", f"console.log({CELL})"], capture_output=True, check=True)
        naive.append(time.perf_counter() - t0)
    r_raw = summarize("raw jupyter_client loop on our Node kernel", raw)
    r_eng = summarize("engine warm JavaScript session", eng)
    r_naive = summarize("node -e per snippet", naive)
    return {
        "title": "JavaScript engine (our Node kernel)",
        "rows": [r_raw, r_eng, r_naive],
        "ratios": [
            ratio("engine / raw floor (p50)", r_eng["p50_ms"] / r_raw["p50_ms"], "<= 1.10"),
            ratio("node -e / engine (p50)", r_naive["p50_ms"] / r_eng["p50_ms"], ">= 20"),
        ],
        "notes": [f"idle Node kernel RSS: {rss_mb:.1f} MiB", f"cell: {CELL!r}; ipc transport"],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
