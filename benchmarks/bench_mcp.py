"""MCP: a `run_code("1+1")` round trip in a session, in memory, over the stdio
subprocess (`companion-kernel mcp`) and over streamable HTTP (token auth, loopback), vs
the engine's own warm `session.execute`; then 50 concurrent `run_code` calls over HTTP.

Run: python benchmarks/bench_mcp.py [--quick]   (or: companion-kernel bench --only mcp)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel._bench import ratio, summarize
from companion_kernel.mcp import CompanionMcpServer, McpConfig

CELL = "1+1"
TOKEN = "bench-token-0123456789abcdef"
CONCURRENT, CONCURRENT_SESSIONS = 50, 5


async def _session_args(client: Client) -> dict:
    created = await client.call_tool("create_session", {"language": "python"})
    assert created.structured_content is not None
    return {"code": CELL, "session_id": created.structured_content["session_id"]}


async def _timed_call(client: Client, args: dict) -> float:
    start = time.perf_counter()
    result = await client.call_tool("run_code", args)
    assert not result.is_error
    return time.perf_counter() - start


async def _run(quick: bool) -> dict:
    n = 50 if quick else 300
    config = EngineConfig(
        languages=("python",),
        pools={"python": PoolConfig(min_idle=1)},
        isolation="auto",
        policy="standard",
    )
    with tempfile.TemporaryDirectory() as tmp:
        toml = Path(tmp) / "mcp.toml"
        toml.write_text(
            '[engine]\nlanguages = ["python"]\nisolation = "auto"\npolicy = "standard"\n'
            "[engine.pools.python]\nmin_idle = 1\n"
        )
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "companion_kernel", "mcp", "--config", str(toml)],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        async with (
            Engine(config, tools=False) as engine,
            engine.session("python") as session,
            Client(CompanionMcpServer(engine, McpConfig(engine=engine.config)).mcp) as memory,
            Client(params) as stdio,
            _http_client(engine) as http,
        ):
            in_memory, over_stdio = await _session_args(memory), await _session_args(stdio)
            over_http = await _session_args(http)
            direct_s, memory_s, stdio_s, http_s = [], [], [], []
            # Interleaved, so that load from elsewhere on the machine hits them all alike.
            for i in range(n + 10):
                start = time.perf_counter()
                await session.execute(CELL)
                direct = time.perf_counter() - start
                via_memory = await _timed_call(memory, in_memory)
                via_stdio = await _timed_call(stdio, over_stdio)
                via_http = await _timed_call(http, over_http)
                if i >= 10:  # warm-up
                    direct_s.append(direct)
                    memory_s.append(via_memory)
                    stdio_s.append(via_stdio)
                    http_s.append(via_http)
            sessions = [await _session_args(http) for _ in range(CONCURRENT_SESSIONS)]
            started = time.perf_counter()
            burst = await asyncio.gather(
                *(_timed_call(http, sessions[i % len(sessions)]) for i in range(CONCURRENT))
            )
            burst_wall = time.perf_counter() - started

    r_direct = summarize("warm session.execute('1+1')", direct_s)
    r_memory = summarize("MCP run_code in a session, in memory", memory_s)
    r_stdio = summarize("MCP run_code in a session, stdio subprocess", stdio_s)
    r_http = summarize("MCP run_code in a session, streamable HTTP", http_s)
    r_burst = summarize(
        f"{CONCURRENT} concurrent run_code over HTTP ({CONCURRENT_SESSIONS} sessions)",
        burst,
        answered=f"{len(burst)}/{CONCURRENT}",
        wall_s=round(burst_wall, 2),
    )
    return {
        "title": "MCP server round trip",
        "rows": [r_direct, r_memory, r_stdio, r_http, r_burst],
        "ratios": [
            ratio(
                "stdio run_code / warm execute (p50)",
                r_stdio["p50_ms"] / r_direct["p50_ms"],
                "<= 2",
            ),
        ],
        "notes": [
            f"HTTP run_code / warm execute (p50): {r_http['p50_ms'] / r_direct['p50_ms']:.2f} "
            "(loopback, bearer token, one HTTP request per call)",
            f"{CONCURRENT} concurrent calls: {len(burst)} answered in {burst_wall:.2f} s",
            f"in memory / warm execute (p50): {r_memory['p50_ms'] / r_direct['p50_ms']:.2f} "
            "(the SDK's own dispatch, validation and content conversion, no transport)",
        ],
    }


@asynccontextmanager
async def _http_client(engine: Engine) -> AsyncIterator[Client]:
    """A streamable-HTTP MCP server on loopback for `engine`, and a client of it."""
    server = CompanionMcpServer(engine, McpConfig(engine=engine.config), tokens=[TOKEN])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    ready = asyncio.Event()
    task = asyncio.ensure_future(server.run_http("127.0.0.1", 0, sock=sock, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=120) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            yield client
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
        await server.aclose()


def run(quick: bool = False) -> dict:
    """Benchmark group entry point."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
