"""Remote kernels on loopback gateways vs local kernels.

Warm execution ('1+1' in a session), session acquire from a warm remote pool, and kernel
starts per second on one gateway vs two. The gateways are `companion-kernel gateway
--isolation off` processes started here, so remote and local kernels run the same
unsandboxed spec and only the transport differs.

Run: python benchmarks/bench_gateway.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from companion_kernel import Engine, EngineConfig, GatewayConfig, PoolConfig
from companion_kernel._bench import ratio, summarize
from companion_kernel.gateway.client import Gateways
from companion_kernel.gateway.handle import GatewayKernel

TOKEN = "bench-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_gateway() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    argv = [
        str(Path(sys.executable).parent / "companion-kernel"),
        "gateway",
        "--isolation",
        "off",
        "--languages",
        "python",
        "--port",
        str(port),
    ]
    env = {**os.environ, "COMPANION_GATEWAY_TOKEN": TOKEN}
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            request = urllib.request.Request(
                url + "/api", headers={"Authorization": f"token {TOKEN}"}
            )
            urllib.request.urlopen(request, timeout=2).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the gateway did not start")


def _config(gateway: GatewayConfig | None, min_idle: int = 1) -> EngineConfig:
    return EngineConfig(
        languages=("python",),
        isolation="off",
        policy="off",
        gateway=gateway,
        pools={"python": PoolConfig(min_idle=min_idle, max_kernels=16)},
    )


async def _warm_execution(config: EngineConfig, n: int) -> list[float]:
    async with Engine(config, tools=False) as engine, engine.session("python") as s:
        for _ in range(20):
            await s.execute("1+1")
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            await s.execute("1+1")
            samples.append(time.perf_counter() - t0)
    return samples


async def _acquire(config: EngineConfig, n: int) -> list[float]:
    samples = []
    async with Engine(config, tools=False) as engine:
        for _ in range(n):
            await engine.wait_ready(timeout=120)
            t0 = time.perf_counter()
            session = await engine.create_session("python")
            samples.append(time.perf_counter() - t0)
            await session.close()
    return samples


async def _starts_per_second(urls: list[str], count: int) -> float:
    gateways = Gateways(GatewayConfig(url=urls, token=TOKEN))
    kernels = [GatewayKernel("python", gateways) for _ in range(count)]
    t0 = time.perf_counter()
    await asyncio.gather(*(k.start(120) for k in kernels))
    elapsed = time.perf_counter() - t0
    await asyncio.gather(*(k.shutdown() for k in kernels))
    await gateways.aclose()
    return count / elapsed


async def _run(quick: bool) -> dict:
    n = 50 if quick else 300
    procs = []
    try:
        for _ in range(2):
            proc, url = _start_gateway()
            procs.append((proc, url))
        urls = [url for _, url in procs]
        remote = GatewayConfig(url=urls[0], token=TOKEN)
        local = summarize("local warm execution ('1+1')", await _warm_execution(_config(None), n))
        far = summarize("remote warm execution ('1+1')", await _warm_execution(_config(remote), n))
        acquire = summarize(
            "session acquire, warm remote pool",
            await _acquire(_config(remote), 10 if quick else 30),
        )
        count = 4 if quick else 8
        one = await _starts_per_second(urls[:1], count)
        two = await _starts_per_second(urls, count)
    finally:
        for proc, _ in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    return {
        "title": "Remote kernels (Kernel Gateway on loopback)",
        "rows": [
            local,
            far,
            acquire,
            {"name": f"kernel starts/s, {count} at once, one gateway", "value": round(one, 2)},
            {"name": f"kernel starts/s, {count} at once, two gateways", "value": round(two, 2)},
        ],
        "ratios": [
            ratio("remote / local warm execution (p50)", far["p50_ms"] / local["p50_ms"], "<= 1.5"),
            ratio("session acquire from a warm remote pool, p50 ms", acquire["p50_ms"], "<= 10"),
            ratio("kernel starts/s, two gateways / one", two / one, ">= 1"),
        ],
        "notes": ["both gateways run on this machine, so two gateways share its CPUs"],
    }


def run(quick: bool = False) -> dict:
    """Benchmark group entry point."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
