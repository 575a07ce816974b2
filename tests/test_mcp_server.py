"""The MCP server driven by the SDK's own client, in memory, against real kernels."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from _support import python_engine_config
from mcp import Client
from mcp_types import CallToolResult, ImageContent, ResourceLink, TextContent

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel.mcp import CompanionMcpServer, McpConfig

pytestmark = pytest.mark.kernel


def _text(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    config = python_engine_config(policy="standard", max_code_bytes=20_000)
    async with Engine(config) as eng:
        yield eng


@pytest.fixture
def server(engine: Engine) -> CompanionMcpServer:
    return CompanionMcpServer(engine, McpConfig(engine=engine.config, expose_tools=True))


class TestRunCode:
    async def test_one_shot_python(self, server: CompanionMcpServer) -> None:
        async with Client(server.mcp) as client:
            result = await client.call_tool("run_code", {"code": "print('hi')\n6 * 7"})
        assert not result.is_error
        assert _text(result) == "[stdout]\nhi\n\n[result]\n42"

    async def test_error_comes_back_with_its_traceback(self, server: CompanionMcpServer) -> None:
        async with Client(server.mcp) as client:
            result = await client.call_tool("run_code", {"code": "def f():\n    1/0\nf()"})
        assert result.is_error
        text = _text(result)
        assert text.startswith("[error]")
        assert "ZeroDivisionError" in text
        assert "f()" in text  # the traceback, not only the message

    async def test_policy_rejection_lists_violations(self, server: CompanionMcpServer) -> None:
        async with Client(server.mcp) as client:
            result = await client.call_tool(
                "run_code", {"code": "import os\nos.system('id')", "language": "python"}
            )
        assert result.is_error
        text = _text(result)
        assert text.startswith("[rejected]")
        assert "nothing was executed" in text
        assert "- line 2:" in text

    async def test_progress_carries_stdout_while_running(self, server: CompanionMcpServer) -> None:
        messages: list[str] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            messages.append(message or "")

        code = (
            "import time\nfor i in range(3):\n"
            "    print(f'tick {i}', flush=True)\n    time.sleep(0.5)"
        )
        async with Client(server.mcp) as client:
            result = await client.call_tool(
                "run_code", {"code": code}, progress_callback=on_progress
            )
        assert not result.is_error
        streamed = "".join(messages)
        assert "tick 0" in streamed and "tick 2" in streamed

    async def test_large_image_is_downscaled_and_readable_as_resource(
        self, server: CompanionMcpServer
    ) -> None:
        code = (
            "import io, random\nfrom PIL import Image as P\n"
            "from IPython.display import Image, display\n"
            "r = random.Random(1)\n"
            "im = P.frombytes('RGB', (500, 400), bytes(r.randrange(256) for _ in range(600000)))\n"
            "b = io.BytesIO(); im.save(b, format='PNG'); png = b.getvalue()\n"
            "display(Image(data=png)); print(len(png))"
        )
        async with (
            Client(server.mcp, mode="legacy") as owner,
            Client(server.mcp, mode="legacy") as other,
        ):
            result = await owner.call_tool("run_code", {"code": code})
            assert not result.is_error, _text(result)
            size = int(_text(result).split("\n")[1])
            images = [b for b in result.content if isinstance(b, ImageContent)]
            links = [b for b in result.content if isinstance(b, ResourceLink)]
            assert len(images) == 1 and len(links) == 1
            assert len(base64.b64decode(images[0].data)) <= server.config.max_inline_image_bytes
            read = await owner.read_resource(str(links[0].uri))
            original = base64.b64decode(read.contents[0].blob)  # type: ignore[union-attr]
            assert len(original) == size
            assert original.startswith(b"\x89PNG")
            with pytest.raises(Exception, match="no output"):
                await other.read_resource(str(links[0].uri))


class TestSessions:
    async def test_state_persists_and_sessions_are_managed(
        self, server: CompanionMcpServer
    ) -> None:
        async with Client(server.mcp) as client:
            created = await client.call_tool("create_session", {"language": "py", "name": "work"})
            assert not created.is_error
            assert created.structured_content is not None
            sid = created.structured_content["session_id"]
            assert created.structured_content == {"session_id": sid, "language": "python"}
            await client.call_tool("run_code", {"code": "x = 41", "session_id": sid})
            by_name = await client.call_tool("run_code", {"code": "x + 1", "session_id": "work"})
            assert _text(by_name) == "[result]\n42"
            listed = await client.call_tool("list_sessions", {})
            assert listed.structured_content is not None
            (row,) = listed.structured_content["sessions"]
            assert row["session_id"] == sid and row["name"] == "work"
            restarted = await client.call_tool("restart_session", {"session_id": sid})
            assert not restarted.is_error
            gone = await client.call_tool("run_code", {"code": "x", "session_id": sid})
            assert gone.is_error and "NameError" in _text(gone)
            closed = await client.call_tool("close_session", {"session_id": "work"})
            assert not closed.is_error
            after = await client.call_tool("run_code", {"code": "1", "session_id": sid})
            assert after.is_error and "no open session" in _text(after)
            listed = await client.call_tool("list_sessions", {})
            assert listed.structured_content == {"sessions": []}

    async def test_cancelling_a_call_interrupts_the_cell(self, server: CompanionMcpServer) -> None:
        async with Client(server.mcp) as client:
            created = await client.call_tool("create_session", {"language": "python"})
            assert created.structured_content is not None
            sid = created.structured_content["session_id"]
            await client.call_tool("run_code", {"code": "kept = 'yes'", "session_id": sid})
            started = time.monotonic()
            with anyio.move_on_after(1.0) as scope:
                await client.call_tool(
                    "run_code", {"code": "import time\ntime.sleep(120)", "session_id": sid}
                )
            assert scope.cancelled_caught
            # Queued behind a 120 s sleep unless the cancel interrupted it.
            after = await client.call_tool("run_code", {"code": "kept", "session_id": sid})
            assert _text(after) == "[result]\n'yes'"
            assert time.monotonic() - started < 60

    async def test_interrupt_tool_stops_a_running_cell(self, server: CompanionMcpServer) -> None:
        async with Client(server.mcp) as client:
            created = await client.call_tool("create_session", {"language": "python"})
            assert created.structured_content is not None
            sid = created.structured_content["session_id"]
            outcome: dict[str, CallToolResult] = {}

            async def run() -> None:
                outcome["run"] = await client.call_tool(
                    "run_code",
                    {
                        "code": "import time\nprint('start', flush=True)\ntime.sleep(120)",
                        "session_id": sid,
                    },
                )

            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                listed: Any = None
                with anyio.fail_after(60):
                    while not (listed and listed.structured_content["sessions"][0]["busy"]):
                        await anyio.sleep(0.2)
                        listed = await client.call_tool("list_sessions", {})
                await anyio.sleep(0.5)
                stopped = await client.call_tool("interrupt", {"session_id": sid})
                assert not stopped.is_error
            assert outcome["run"].is_error
            assert "KeyboardInterrupt" in _text(outcome["run"])

    async def test_kernel_crash_is_a_result(self) -> None:
        # The standard policy refuses os._exit; the crash must come from the kernel.
        async with (
            Engine(python_engine_config()) as engine,
            Client(CompanionMcpServer(engine, McpConfig(engine=engine.config)).mcp) as client,
        ):
            created = await client.call_tool("create_session", {"language": "python"})
            assert created.structured_content is not None
            sid = created.structured_content["session_id"]
            crashed = await client.call_tool(
                "run_code", {"code": "import os\nos._exit(3)", "session_id": sid}
            )
            assert crashed.is_error
            assert _text(crashed).startswith("[died]")
            again = await client.call_tool("run_code", {"code": "1 + 1", "session_id": sid})
            assert not again.is_error
            assert "[result]\n2" in _text(again)


class TestOwnership:
    async def test_clients_cannot_see_or_use_each_others_sessions(
        self, server: CompanionMcpServer
    ) -> None:
        async with (
            Client(server.mcp, mode="legacy") as alice,
            Client(server.mcp, mode="legacy") as bob,
        ):
            created = await alice.call_tool("create_session", {"language": "python", "name": "s"})
            assert created.structured_content is not None
            sid = created.structured_content["session_id"]
            await alice.call_tool("run_code", {"code": "secret = 1", "session_id": sid})
            listed = await bob.call_tool("list_sessions", {})
            assert listed.structured_content == {"sessions": []}
            for key in (sid, "s"):
                used = await bob.call_tool("run_code", {"code": "secret", "session_id": key})
                assert used.is_error and "no open session" in _text(used)
                for tool in ("close_session", "restart_session", "interrupt"):
                    refused = await bob.call_tool(tool, {"session_id": key})
                    assert refused.is_error
            # Names are per client.
            mine = await bob.call_tool("create_session", {"language": "python", "name": "s"})
            assert not mine.is_error
            still = await alice.call_tool("run_code", {"code": "secret", "session_id": "s"})
            assert _text(still) == "[result]\n1"

    async def test_disconnecting_closes_the_clients_sessions(
        self, server: CompanionMcpServer, engine: Engine
    ) -> None:
        async with Client(server.mcp, mode="legacy") as client:
            created = await client.call_tool("create_session", {"language": "python"})
            assert created.structured_content is not None
            sid = created.structured_content["session_id"]
            assert sid in {s.id for s in engine.sessions()}
        with anyio.fail_after(30):
            while sid in {s.id for s in engine.sessions()}:
                await anyio.sleep(0.1)

    async def test_session_cap_per_client(self, engine: Engine) -> None:
        server = CompanionMcpServer(
            engine, McpConfig(engine=engine.config, max_sessions_per_client=1)
        )
        async with Client(server.mcp) as client:
            first = await client.call_tool("create_session", {"language": "python"})
            assert not first.is_error
            second = await client.call_tool("create_session", {"language": "python"})
            assert second.is_error and "limit" in _text(second)

    async def test_idle_sessions_expire(self) -> None:
        config = python_engine_config(session_idle_timeout_s=1.0)
        async with (
            Engine(config) as engine,
            Client(CompanionMcpServer(engine, McpConfig(engine=engine.config)).mcp) as client,
        ):
            created = await client.call_tool("create_session", {"language": "python"})
            assert created.structured_content is not None
            sid = created.structured_content["session_id"]
            with anyio.fail_after(60):
                while (await client.call_tool("list_sessions", {})).structured_content != {
                    "sessions": []
                }:
                    await anyio.sleep(0.25)
            expired = await client.call_tool("run_code", {"code": "1", "session_id": sid})
            assert expired.is_error and "expired" in _text(expired)


class TestBadInput:
    async def test_errors_are_results_and_the_server_keeps_serving(
        self, server: CompanionMcpServer
    ) -> None:
        async with Client(server.mcp) as client:
            cases: list[tuple[dict[str, Any], str]] = [
                ({"code": "1", "session_id": "nope"}, "no open session 'nope'"),
                ({"code": "1", "language": "cobol"}, "unknown language 'cobol'"),
                ({"code": "1", "language": "javascript"}, "not enabled"),
                ({"code": "x = 1\n" * 10_000}, "over the 20,000-byte limit"),
                ({"code": "   "}, "code is empty"),
                ({"code": 5}, "valid string"),
                ({"code": "1", "timeout": "soon"}, "timeout"),
                ({"code": "1", "timeout": 10_000}, "timeout must be between"),
                ({}, "code"),
            ]
            for arguments, message in cases:
                result = await client.call_tool("run_code", arguments)
                assert result.is_error, arguments
                assert message in _text(result), (arguments, _text(result))
            bad_language = await client.call_tool("create_session", {"language": "cobol"})
            assert bad_language.is_error and "unknown language" in _text(bad_language)
            ok = await client.call_tool("run_code", {"code": "2 + 2"})
            assert _text(ok) == "[result]\n4"


class TestHostTools:
    async def test_registry_tools_are_exposed_with_their_schemas(
        self, server: CompanionMcpServer
    ) -> None:
        async with Client(server.mcp) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert {"run_code", "create_session", "add"} <= set(tools)
            assert tools["add"].input_schema["required"] == ["a", "b"]
            added = await client.call_tool("add", {"a": 10, "b": 5})
            assert not added.is_error
            assert added.structured_content == {"result": 15}
            wrong = await client.call_tool("add", {"a": "ten"})
            assert wrong.is_error and "ToolArgumentError" in _text(wrong)

    async def test_not_exposed_by_default(self, engine: Engine) -> None:
        server = CompanionMcpServer(engine, McpConfig(engine=engine.config))
        async with Client(server.mcp) as client:
            names = {t.name for t in (await client.list_tools()).tools}
        assert names == {
            "run_code",
            "create_session",
            "list_sessions",
            "close_session",
            "restart_session",
            "interrupt",
            "write_file",
            "read_file",
            "list_files",
        }


async def test_javascript_and_shell_run() -> None:
    config = EngineConfig(
        languages=("javascript", "shell"),
        pools={"javascript": PoolConfig(min_idle=0), "shell": PoolConfig(min_idle=0)},
        isolation="off",
        policy="standard",
    )
    async with Engine(config) as engine:
        server = CompanionMcpServer(engine, McpConfig(engine=engine.config))
        async with Client(server.mcp) as client:
            js = await client.call_tool(
                "run_code", {"code": "console.log('from js'); 40 + 2", "language": "javascript"}
            )
            assert not js.is_error, _text(js)
            assert "from js" in _text(js) and "42" in _text(js)
            sh = await client.call_tool("run_code", {"code": "echo from-shell", "language": "bash"})
            assert not sh.is_error, _text(sh)
            assert "from-shell" in _text(sh)
            created = await client.call_tool("create_session", {"language": "js"})
            assert created.structured_content is not None
            sid = created.structured_content["session_id"]
            await client.call_tool("run_code", {"code": "let n = 41", "session_id": sid})
            value = await client.call_tool("run_code", {"code": "n + 1", "session_id": sid})
            assert "42" in _text(value)
