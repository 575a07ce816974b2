"""The MCP server over its real transports: the `companion-kernel mcp` stdio subprocess, and
streamable HTTP on 127.0.0.1 with bearer tokens."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from _support import python_engine_config
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from companion_kernel import Engine
from companion_kernel.cli import main
from companion_kernel.errors import InvalidRequest
from companion_kernel.mcp import CompanionMcpServer, McpConfig, load_config

TOKEN_A = "token-a-0123456789abcdef"
TOKEN_B = "token-b-0123456789abcdef"


def _text(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


@pytest.mark.kernel
async def test_stdio_subprocess(tmp_path: Path) -> None:
    config = tmp_path / "mcp.toml"
    config.write_text(
        "[server]\nmax_sessions_per_client = 2\n\n"
        '[engine]\nlanguages = ["python", "shell"]\nisolation = "off"\npolicy = "standard"\n'
        "[engine.pools.python]\nmin_idle = 1\n[engine.pools.shell]\nmin_idle = 0\n"
    )
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "companion_kernel", "mcp", "--config", str(config), "--timeout", "20"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"run_code", "create_session", "interrupt"} <= names
        # A kernel writing to the process's fd 1 must not corrupt the protocol stream.
        noisy = await client.call_tool(
            "run_code", {"code": "echo to-stdout; echo to-stderr >&2", "language": "shell"}
        )
        assert "to-stdout" in _text(noisy)
        created = await client.call_tool("create_session", {"language": "python"})
        assert created.structured_content is not None
        sid = created.structured_content["session_id"]
        await client.call_tool("run_code", {"code": "total = 40", "session_id": sid})
        result = await client.call_tool("run_code", {"code": "total + 2", "session_id": sid})
        assert _text(result) == "[result]\n42"
        rejected = await client.call_tool("run_code", {"code": "import os\nos.system('id')"})
        assert rejected.is_error and "[rejected]" in _text(rejected)
        await client.call_tool("create_session", {"language": "python"})
        capped = await client.call_tool("create_session", {"language": "python"})
        assert capped.is_error and "limit" in _text(capped)


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@pytest.fixture
async def http_url() -> AsyncIterator[str]:
    async with Engine(python_engine_config()) as engine:
        server = CompanionMcpServer(
            engine, McpConfig(engine=engine.config), tokens=[TOKEN_A, TOKEN_B]
        )
        sock = _bound_socket()
        ready = asyncio.Event()
        task = asyncio.ensure_future(server.run_http("127.0.0.1", 0, sock=sock, ready=ready))
        try:
            await asyncio.wait_for(ready.wait(), 30)
            yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            sock.close()
            await server.aclose()


@asynccontextmanager
async def _client(url: str, token: str, mode: str = "auto") -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client


_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.mark.kernel
class TestHttp:
    async def test_missing_or_wrong_token_is_refused(self, http_url: str) -> None:
        async with httpx2.AsyncClient(timeout=30) as http:
            missing = await http.post(http_url, json=_INIT, headers=_HEADERS)
            assert missing.status_code == 401
            wrong = await http.post(
                http_url, json=_INIT, headers={**_HEADERS, "Authorization": "Bearer nope"}
            )
            assert wrong.status_code in (401, 403)
            right = await http.post(
                http_url, json=_INIT, headers={**_HEADERS, "Authorization": f"Bearer {TOKEN_A}"}
            )
            assert right.status_code == 200

    async def test_run_code_and_sessions_over_http(self, http_url: str) -> None:
        async with _client(http_url, TOKEN_A) as client:
            result = await client.call_tool("run_code", {"code": "print(6 * 7)"})
            assert _text(result) == "[stdout]\n42\n"
            created = await client.call_tool("create_session", {"language": "python"})
            assert created.structured_content is not None
            sid = created.structured_content["session_id"]
            await client.call_tool("run_code", {"code": "x = 1", "session_id": sid})
        # Without MCP sessions (2026-07-28) the token is the client: a new connection with
        # the same token finds its session again.
        async with _client(http_url, TOKEN_A) as client:
            again = await client.call_tool("run_code", {"code": "x + 1", "session_id": sid})
            assert _text(again) == "[result]\n2"

    @pytest.mark.parametrize("mode", ["auto", "legacy"])
    async def test_tokens_are_separate_clients(self, http_url: str, mode: str) -> None:
        async with (
            _client(http_url, TOKEN_A, mode) as alice,
            _client(http_url, TOKEN_B, mode) as bob,
        ):
            created = await alice.call_tool("create_session", {"language": "python"})
            assert created.structured_content is not None
            sid = created.structured_content["session_id"]
            listed = await bob.call_tool("list_sessions", {})
            assert listed.structured_content == {"sessions": []}
            used = await bob.call_tool("run_code", {"code": "1", "session_id": sid})
            assert used.is_error and "no open session" in _text(used)
            await alice.call_tool("close_session", {"session_id": sid})

    @pytest.mark.parametrize("mode", ["auto", "legacy"])
    async def test_cancelling_a_call_interrupts_the_cell(self, http_url: str, mode: str) -> None:
        async with _client(http_url, TOKEN_A, mode) as client:
            created = await client.call_tool("create_session", {"language": "python"})
            assert created.structured_content is not None
            sid = created.structured_content["session_id"]
            await client.call_tool("run_code", {"code": "kept = 1", "session_id": sid})
            with anyio.move_on_after(1.0) as scope:
                await client.call_tool(
                    "run_code", {"code": "import time\ntime.sleep(120)", "session_id": sid}
                )
            assert scope.cancelled_caught
            # Without the interrupt this would wait behind the 120 s sleep (and time out).
            with anyio.fail_after(60):
                after = await client.call_tool("run_code", {"code": "kept", "session_id": sid})
            assert _text(after) == "[result]\n1"
            await client.call_tool("close_session", {"session_id": sid})


async def test_non_loopback_without_token_is_refused() -> None:
    server = CompanionMcpServer(config=McpConfig())
    with pytest.raises(InvalidRequest, match="without a token"):
        server.http_app("0.0.0.0")
    assert server.http_app("127.0.0.1") is not None
    await server.aclose()


def test_cli_http_needs_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COMPANION_MCP_TOKEN", raising=False)
    assert main(["mcp", "--transport", "http", "--host", "0.0.0.0"]) == 2
    assert "needs a bearer token" in capsys.readouterr().err


def test_cli_rejects_short_tokens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COMPANION_MCP_TOKEN", "short")
    assert main(["mcp", "--transport", "http"]) == 2
    assert "at least 16 characters" in capsys.readouterr().err


def test_config_file_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "mcp.toml"
    path.write_text(
        '[server]\ntransport = "http"\nport = 9000\n\n'
        '[engine]\npolicy = "strict"\nlimits = { memory_mb = 512, pids = 64 }\n'
    )
    config = load_config(path, server={"port": 9100}, engine={"limits": {"memory_mb": 256}})
    assert config.transport == "http" and config.port == 9100
    assert config.engine.policy == "strict"
    assert config.engine.limits.memory_mb == 256 and config.engine.limits.pids == 64
    path.write_text("[server]\nbogus = 1\n")
    with pytest.raises(InvalidRequest, match="bogus"):
        load_config(path)
    path.write_text("[surprise]\n")
    with pytest.raises(InvalidRequest, match="unknown table"):
        load_config(path)
