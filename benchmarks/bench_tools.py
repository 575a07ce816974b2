"""Tool layer benchmarks, measured side by side in one run.

- call overhead: `registry.execute("add", 1, 2)` against a direct call and against
  `pydantic.validate_call` on the same function (target: <= 1.5x validate_call);
- a cache hit against a cache miss of the same cached tool;
- a batch of 100 I/O-bound calls (each sleeping 50 ms) against one call
  (target: <= 2x one call), for async tools and for sync tools (worker threads).

Run alone: `python benchmarks/bench_tools.py [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from pydantic import validate_call

from companion_kernel.tools import ToolRegistry, default_registry

SLEEP_S = 0.05
BATCH = 100


def _row(name: str, samples_s: list[float], **extra: Any) -> dict[str, Any]:
    ordered = sorted(samples_s)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return {
        "name": name,
        "p50_ms": statistics.median(ordered) * 1e3,
        "p90_ms": p90 * 1e3,
        "n": len(ordered),
        **extra,
    }


def _per_call(fn: Callable[[], Any], *, calls: int, rounds: int) -> list[float]:
    """Per-call time of `rounds` tight loops of `calls` calls each (interleaving-friendly)."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return samples


def _overhead(quick: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    registry = default_registry()
    add_fn = registry.get("add").fn
    validated = validate_call(add_fn)
    execute = registry.execute
    calls, rounds = (2_000, 15) if quick else (10_000, 40)
    contenders: dict[str, Callable[[], Any]] = {
        "direct add(1, 2)": lambda: add_fn(1, 2),
        "validate_call(add)(1, 2)": lambda: validated(1, 2),
        'registry.execute("add", 1, 2)': lambda: execute("add", 1, 2),
    }
    samples: dict[str, list[float]] = {k: [] for k in contenders}
    # Interleave the contenders so drifts in machine load hit all of them alike.
    for _ in range(rounds):
        for name, fn in contenders.items():
            samples[name].extend(_per_call(fn, calls=calls, rounds=1))
    rows = [_row(name, s, per_call_us=statistics.median(s) * 1e6) for name, s in samples.items()]
    ratio = statistics.median(samples['registry.execute("add", 1, 2)']) / statistics.median(
        samples["validate_call(add)(1, 2)"]
    )
    ratios = [
        {
            "name": "execute / validate_call",
            "value": round(ratio, 3),
            "target": "<= 1.5",
            "ok": ratio <= 1.5,
        }
    ]
    return rows, ratios


def _cache(quick: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    registry = ToolRegistry()

    @registry.tool(cache_ttl=300)
    def slow_square(x: int) -> int:
        """Square a number slowly (a stand-in for an expensive tool)."""
        time.sleep(0.002)
        return x * x

    n = 50 if quick else 200
    misses, hits = [], []
    for i in range(n):
        start = time.perf_counter()
        registry.execute("slow_square", i)
        misses.append(time.perf_counter() - start)
        start = time.perf_counter()
        registry.execute("slow_square", i)
        hits.append(time.perf_counter() - start)
    stats = registry.cache_stats("slow_square")["slow_square"]
    speedup = statistics.median(misses) / statistics.median(hits)
    rows = [
        _row("cache miss (tool sleeps 2 ms)", misses),
        _row("cache hit", hits, hit_rate=round(stats.hit_rate, 3)),
    ]
    ratios = [
        {
            "name": "cache miss / hit",
            "value": round(speedup, 1),
            "target": ">= 10",
            "ok": speedup >= 10,
        }
    ]
    return rows, ratios


async def _batch(quick: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    registry = ToolRegistry(max_concurrency=BATCH)

    @registry.tool
    async def wait_async(ms: int) -> int:
        """Sleep on the event loop."""
        await asyncio.sleep(ms / 1000)
        return ms

    @registry.tool
    def wait_sync(ms: int) -> int:
        """Sleep on a worker thread."""
        time.sleep(ms / 1000)
        return ms

    rounds = 3 if quick else 8
    rows, ratios = [], []
    for name in ("wait_async", "wait_sync"):
        singles, batches = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            await registry.aexecute(name, int(SLEEP_S * 1000))
            singles.append(time.perf_counter() - start)
            calls = [(name, (int(SLEEP_S * 1000),), {}) for _ in range(BATCH)]
            start = time.perf_counter()
            results = await registry.execute_batch(calls)
            batches.append(time.perf_counter() - start)
            assert all(r.ok for r in results), results
        kind = "async" if name == "wait_async" else "sync, threads"
        rows.append(_row(f"1 call sleeping 50 ms ({kind})", singles))
        rows.append(_row(f"batch of {BATCH} calls sleeping 50 ms ({kind})", batches))
        ratio = statistics.median(batches) / statistics.median(singles)
        ratios.append(
            {
                "name": f"batch of {BATCH} / one call ({kind})",
                "value": round(ratio, 3),
                "target": "<= 2.0",
                "ok": ratio <= 2.0,
            }
        )
    return rows, ratios


def run(quick: bool = False) -> dict[str, Any]:
    """Run every measurement; returns the standard benchmark report."""
    rows: list[dict[str, Any]] = []
    ratios: list[dict[str, Any]] = []
    for part in (_overhead(quick), _cache(quick), asyncio.run(_batch(quick))):
        rows.extend(part[0])
        ratios.extend(part[1])
    return {
        "title": "tools: call overhead, cache, batch concurrency",
        "rows": rows,
        "ratios": ratios,
        "notes": [
            "overhead rows: per-call time from tight loops, contenders interleaved",
            "execute = lookup + validation with the 'arguments' core schema validate_call uses "
            "(without its Python wrappers) + the call",
            f"batch: max_concurrency={BATCH}; sync tools run on daemon threads (a pool that grows)",
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    report = run(quick=args.quick)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(report["title"])
    for row in report["rows"]:
        extra = {k: v for k, v in row.items() if k not in ("name", "p50_ms", "p90_ms", "n")}
        extras = "  " + " ".join(f"{k}={v:.3g}" for k, v in extra.items()) if extra else ""
        print(
            f"  {row['name']:<48} p50 {row['p50_ms']:9.4f} ms  p90 {row['p90_ms']:9.4f} ms"
            f"  n={row['n']}{extras}"
        )
    for ratio in report["ratios"]:
        mark = "ok " if ratio["ok"] else "MISS"
        print(f"  [{mark}] {ratio['name']}: {ratio['value']} (target {ratio['target']})")
    for note in report["notes"]:
        print(f"  note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
