"""Output floods: 10 MB of stdout in short lines and as one line, per language, vs the plain
interpreter (`python3 -c`, `node -e`, `bash -c`) writing the same into a pipe.

The engine keeps `max_output_bytes` (1 MiB by default) and marks the rest truncated; the
plain runs deliver all 10 MB. Goal: each flood within 2 s and within 5x of its plain run.

Run: python benchmarks/bench_output.py [--quick]   (or: companion-kernel bench --only output)
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel._bench import OUTPUT_FLOODS, ratio, summarize

CODE = OUTPUT_FLOODS
PLAIN = {"python": [sys.executable, "-c"], "javascript": ["node", "-e"], "shell": ["bash", "-c"]}


def _plain(language: str, code: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([*PLAIN[language], code], stdout=subprocess.PIPE, check=True)
    elapsed = time.perf_counter() - t0
    assert len(done.stdout) >= 10_000_000, len(done.stdout)
    return elapsed


async def _run(quick: bool) -> dict:
    n = 3 if quick else 5
    languages = [lang for lang in ("python", "javascript", "shell") if shutil.which(PLAIN[lang][0])]
    config = EngineConfig(
        languages=tuple(languages),
        pools={lang: PoolConfig(min_idle=1) for lang in languages},
        isolation="off",
        policy="off",
        timeout_s=120,
    )
    rows, ratios = [], []
    async with Engine(config) as engine:
        await engine.wait_ready()
        for language in languages:
            async with engine.session(language) as session:
                await session.execute("true" if language == "shell" else "1")
                for shape in ("lines", "line"):
                    code = CODE[language, shape]
                    flood, plain = [], []
                    for _ in range(n):
                        t0 = time.perf_counter()
                        result = await session.execute(code)
                        flood.append(time.perf_counter() - t0)
                        if result.status != "ok" or not result.truncated:
                            raise RuntimeError(f"{language} {shape}: {result.error}")
                        plain.append(_plain(language, code))
                    label = "short lines" if shape == "lines" else "one line"
                    row = summarize(f"{language} {label}: engine", flood, truncated=True)
                    base = summarize(f"{language} {label}: {PLAIN[language][0]} into a pipe", plain)
                    rows += [row, base]
                    ratios += [
                        ratio(f"{language} {label}: engine p50 (s)", row["p50_ms"] / 1000, "<= 2"),
                        ratio(
                            f"{language} {label}: engine / plain (p50)",
                            row["p50_ms"] / base["p50_ms"],
                            "<= 5",
                        ),
                    ]
    return {
        "title": "Output floods (10 MB of stdout)",
        "rows": rows,
        "ratios": ratios,
        "notes": [
            f"the engine keeps {config.max_output_bytes:,} bytes and marks the result "
            "truncated; each kernel stops forwarding a cell's output at twice that"
        ],
    }


def run(quick: bool = False) -> dict:
    """Benchmark group entry point."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
