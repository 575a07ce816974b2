"""Workspace files: 100 MB up and down through `session.files` vs `cp` on the same disk,
and the round trip (write, then read) of a 1 KB file.

Run: python benchmarks/bench_workspace.py [--quick]   (or: companion-kernel bench --only workspace)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel._bench import ratio, summarize
from companion_kernel.sandbox import Limits

MB = 1024 * 1024
CHUNK = MB


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def _cp(src: Path, dst: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    return time.perf_counter() - start


def _mb_s(size: int, seconds: float) -> float:
    return size / MB / seconds


async def _run(quick: bool) -> dict:
    size = (20 if quick else 100) * MB
    rounds = 2 if quick else 3
    n_small = 100 if quick else 500
    config = EngineConfig(
        languages=("python",),
        pools={"python": PoolConfig(min_idle=1)},
        isolation="auto",
        policy="off",
        limits=Limits(fsize_mb=2 * size // MB),
    )
    async with Engine(config, tools=False) as engine, engine.session("python") as session:
        assert session.workspace is not None
        # The host side of each transfer, outside the workspace (which may be a tmpfs of its
        # own): cp and the API copy between the same two places.
        scratch = session.workspace.parent
        source = scratch / "source.bin"
        with source.open("wb") as f:
            for _ in range(size // MB):
                f.write(os.urandom(MB))
        files = session.files
        up, up_cp, down, down_cp = [], [], [], []
        for i in range(rounds):
            start = time.perf_counter()
            await files.write(f"up{i}.bin", _chunks(source))
            up.append(time.perf_counter() - start)
            up_cp.append(_cp(source, session.workspace / f"cp-up{i}.bin"))

            start = time.perf_counter()
            with (scratch / f"down{i}.bin").open("wb") as out:
                async for chunk in files.stream(f"up{i}.bin"):
                    out.write(chunk)
            down.append(time.perf_counter() - start)
            down_cp.append(_cp(session.workspace / f"up{i}.bin", scratch / f"cp-down{i}.bin"))
            for path in (scratch / f"down{i}.bin", scratch / f"cp-down{i}.bin"):
                path.unlink()
            await files.remove(f"up{i}.bin")
            await files.remove(f"cp-up{i}.bin")
        assert (await files.stat("up0.bin")) is None

        payload = os.urandom(1024)
        for _ in range(20):  # warm the thread pool and the dentry cache
            await files.write("small.bin", payload)
            await files.read("small.bin")
        trips = []
        for _ in range(n_small):
            start = time.perf_counter()
            await files.write("small.bin", payload)
            back = await files.read("small.bin")
            trips.append(time.perf_counter() - start)
        assert back == payload
        source.unlink()

    up_s, up_cp_s = statistics.median(up), statistics.median(up_cp)
    down_s, down_cp_s = statistics.median(down), statistics.median(down_cp)
    r_trip = summarize("1 KB write + read round trip (session.files)", trips)
    return {
        "title": "Workspace files (session.files)",
        "rows": [
            summarize(f"upload {size // MB} MB, session.files.write (streamed)", up),
            summarize(f"upload {size // MB} MB, cp", up_cp),
            summarize(f"download {size // MB} MB, session.files.stream", down),
            summarize(f"download {size // MB} MB, cp", down_cp),
            r_trip,
        ],
        "ratios": [
            ratio("upload throughput vs cp", up_cp_s / up_s, ">= 0.5"),
            ratio("download throughput vs cp", down_cp_s / down_s, ">= 0.5"),
            ratio("1 KB round trip p50 (ms)", r_trip["p50_ms"], "<= 5"),
        ],
        "notes": [
            f"upload {_mb_s(size, up_s):.0f} MB/s vs cp {_mb_s(size, up_cp_s):.0f} MB/s; "
            f"download {_mb_s(size, down_s):.0f} MB/s vs cp {_mb_s(size, down_cp_s):.0f} MB/s "
            f"(medians of {rounds}; page cache, no fsync on either side)",
        ],
    }


def run(quick: bool = False) -> dict:
    """Benchmark group entry point."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
