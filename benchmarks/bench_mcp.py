"""MCP: a `run_code("1+1")` round trip in a session, in memory and over the stdio
subprocess (`companion-kernel mcp`), vs the engine's own warm `session.execute`.

Run: python benchmarks/bench_mcp.py [--quick]   (or: companion-kernel bench --only mcp)
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from mcp import Client, StdioServerParameters

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel._bench import ratio, summarize
from companion_kernel.mcp import CompanionMcpServer, McpConfig

CELL = "1+1"


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
        ):
            in_memory, over_stdio = await _session_args(memory), await _session_args(stdio)
            direct_s, memory_s, stdio_s = [], [], []
            # Interleaved, so that load from elsewhere on the machine hits all three alike.
            for i in range(n + 10):
                start = time.perf_counter()
                await session.execute(CELL)
                direct = time.perf_counter() - start
                via_memory = await _timed_call(memory, in_memory)
                via_stdio = await _timed_call(stdio, over_stdio)
                if i >= 10:  # warm-up
                    direct_s.append(direct)
                    memory_s.append(via_memory)
                    stdio_s.append(via_stdio)

    r_direct = summarize("warm session.execute('1+1')", direct_s)
    r_memory = summarize("MCP run_code in a session, in memory", memory_s)
    r_stdio = summarize("MCP run_code in a session, stdio subprocess", stdio_s)
    return {
        "title": "MCP server round trip",
        "rows": [r_direct, r_memory, r_stdio],
        "ratios": [
            ratio(
                "stdio run_code / warm execute (p50)",
                r_stdio["p50_ms"] / r_direct["p50_ms"],
                "<= 2",
            ),
        ],
        "notes": [
            f"in memory / warm execute (p50): {r_memory['p50_ms'] / r_direct['p50_ms']:.2f} "
            "(the SDK's own dispatch, validation and content conversion, no transport)",
        ],
    }


def run(quick: bool = False) -> dict:
    """Benchmark group entry point."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
