"""Sync and async execution, worker threads, timeouts, cancellation, envelopes, permissions."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from companion_kernel.errors import (
    ToolArgumentError,
    ToolError,
    ToolExecutionError,
    ToolNotFound,
    ToolPermissionError,
    ToolTimeout,
)
from companion_kernel.tools import Tool, ToolExecutor, ToolRegistry, ToolResult


@pytest.fixture
def reg(release: threading.Event) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    def where() -> int:
        """The thread the tool ran on."""
        return threading.get_ident()

    @registry.tool
    async def where_async() -> int:
        return threading.get_ident()

    @registry.tool
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    @registry.tool
    def wait_for_release(limit: float = 5.0) -> bool:
        """Blocks until the test sets `release` (True) or `limit` passes (False)."""
        return release.wait(limit)

    @registry.tool(timeout=0.2)
    def hang_sync() -> str:
        release.wait(30)
        return "late"

    @registry.tool(timeout=0.2)
    async def hang_async() -> str:
        await asyncio.sleep(30)
        return "late"

    @registry.tool
    def boom(message: str = "kaput") -> None:
        raise RuntimeError(message)

    @registry.tool
    def exits() -> None:
        sys.exit(3)

    @registry.tool
    def refuses() -> None:
        raise ToolArgumentError("x must be larger than y")

    @registry.tool
    def own_timeout() -> None:
        raise TimeoutError("upstream API timed out")

    @registry.tool
    def unserialisable() -> object:
        return object()

    @registry.tool
    def returns_set() -> set[int]:
        return {3}

    return registry


class TestSync:
    def test_sync_tool_runs_in_place(self, reg: ToolRegistry) -> None:
        assert reg.execute("where") == threading.get_ident()

    def test_async_tool_from_sync_code(self, reg: ToolRegistry) -> None:
        assert reg.execute("double", 21) == 42

    async def test_execute_inside_a_running_loop(self, reg: ToolRegistry) -> None:
        # A sync call from a coroutine: the async tool gets a private loop on a worker thread.
        assert reg.execute("double", 4) == 8
        assert reg.execute("where_async") != threading.get_ident()
        assert reg.execute("where") == threading.get_ident()

    def test_errors_are_wrapped_with_cause(self, reg: ToolRegistry) -> None:
        expected = "tool 'boom' failed: RuntimeError: bad"
        with pytest.raises(ToolExecutionError, match=expected) as info:
            reg.execute("boom", "bad")
        assert isinstance(info.value.__cause__, RuntimeError)

    def test_tool_errors_pass_through(self, reg: ToolRegistry) -> None:
        with pytest.raises(ToolArgumentError, match="x must be larger"):
            reg.execute("refuses")

    def test_sys_exit_is_contained(self, reg: ToolRegistry) -> None:
        with pytest.raises(ToolExecutionError, match="SystemExit"):
            reg.execute("exits")

    def test_tools_own_timeout_error_is_not_a_tool_timeout(self, reg: ToolRegistry) -> None:
        with pytest.raises(ToolExecutionError, match="upstream API"):
            reg.execute("own_timeout")

    def test_sync_timeout_abandons_the_thread(self, reg: ToolRegistry) -> None:
        with pytest.raises(ToolTimeout, match="abandoned"):
            reg.execute("hang_sync")
        assert reg.execute("where") == threading.get_ident()

    def test_async_timeout_from_sync(self, reg: ToolRegistry) -> None:
        with pytest.raises(ToolTimeout, match=r"0\.2 s"):
            reg.execute("hang_async")

    def test_unknown_tool(self, reg: ToolRegistry) -> None:
        with pytest.raises(ToolNotFound, match="no tool named 'nope'"):
            reg.execute("nope")

    def test_execute_returns_python_values(self, reg: ToolRegistry) -> None:
        assert reg.execute("returns_set") == {3}
        assert type(reg.execute("unserialisable")) is object

    def test_tool_executor_facade(self, reg: ToolRegistry) -> None:
        executor = ToolExecutor(reg)
        assert executor.execute("double", 2) == 4
        assert executor.call("double", {"x": 3}).value == 6
        with pytest.raises(ValueError):
            ToolExecutor(reg, max_concurrency=0)


class TestAsync:
    async def test_async_tool_is_awaited_on_the_loop(self, reg: ToolRegistry) -> None:
        assert await reg.aexecute("where_async") == threading.get_ident()
        assert await reg.aexecute("double", 5) == 10

    async def test_sync_tool_runs_on_a_worker_thread(self, reg: ToolRegistry) -> None:
        assert await reg.aexecute("where") != threading.get_ident()

    async def test_sync_tool_does_not_block_the_loop(
        self, reg: ToolRegistry, release: threading.Event
    ) -> None:
        # The tool waits for an event only the loop sets: a blocked loop would leave it False.
        async def open_the_gate() -> None:
            await asyncio.sleep(0.01)
            release.set()

        opener = asyncio.create_task(open_the_gate())
        assert await reg.aexecute("wait_for_release", 10.0) is True
        await opener

    async def test_async_timeout(self, reg: ToolRegistry) -> None:
        with pytest.raises(ToolTimeout, match="hang_async"):
            await reg.aexecute("hang_async")

    async def test_sync_timeout(self, reg: ToolRegistry) -> None:
        with pytest.raises(ToolTimeout, match="abandoned"):
            await reg.aexecute("hang_sync")
        assert await reg.aexecute("double", 1) == 2

    async def test_per_call_timeout_override(self, reg: ToolRegistry) -> None:
        result = await reg.acall("wait_for_release", {"limit": 30}, timeout=0.05)
        assert result.error is not None and result.error.type == "ToolTimeout"

    async def test_cancellation_reaches_async_tool(self) -> None:
        registry = ToolRegistry()
        started = asyncio.Event()
        seen: list[str] = []

        @registry.tool
        async def slow() -> None:
            started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        task = asyncio.create_task(registry.aexecute("slow"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert seen == ["cancelled"]

    async def test_cancellation_propagates_through_acall(self, reg: ToolRegistry) -> None:
        task = asyncio.create_task(reg.acall("wait_for_release", {"limit": 30}))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async def test_errors(self, reg: ToolRegistry) -> None:
        with pytest.raises(ToolExecutionError, match="kaput"):
            await reg.aexecute("boom")
        with pytest.raises(ToolExecutionError, match="SystemExit"):
            await reg.aexecute("exits")
        with pytest.raises(ToolNotFound):
            await reg.aexecute("nope")
        with pytest.raises(ToolArgumentError):
            await reg.aexecute("double", "x")


class TestEnvelope:
    async def test_success(self, reg: ToolRegistry) -> None:
        result = await reg.acall("double", '{"x": 4}')
        assert isinstance(result, ToolResult)
        assert (result.ok, result.value, result.error, result.cached) == (True, 8, None, False)
        assert result.tool == "double" and result.duration_s >= 0
        assert result.unwrap() == 8

    async def test_failure_fields(self, reg: ToolRegistry) -> None:
        result = await reg.acall("boom", {"message": "bad"})
        assert not result.ok and result.value is None
        assert result.error is not None
        assert result.error.type == "ToolExecutionError"
        assert result.error.message == "tool 'boom' failed: RuntimeError: bad"
        assert result.error.details == {"exception": "RuntimeError"}
        with pytest.raises(ToolExecutionError) as info:
            result.unwrap()
        assert isinstance(info.value.__cause__, RuntimeError)

    async def test_envelope_is_json(self, reg: ToolRegistry) -> None:
        result = await reg.acall("returns_set")
        assert result.value == [3]
        dumped = result.model_dump(mode="json")
        assert set(dumped) == {"tool", "ok", "value", "error", "cached", "duration_s"}

    @pytest.mark.parametrize(
        ("name", "arguments", "error_type"),
        [
            ("nope", None, "ToolNotFound"),
            ("double", "{oops", "ToolArgumentError"),
            ("hang_async", None, "ToolTimeout"),
            ("unserialisable", None, "ToolExecutionError"),
            ("exits", None, "ToolExecutionError"),
        ],
    )
    async def test_never_raises(
        self, reg: ToolRegistry, name: str, arguments: str | None, error_type: str
    ) -> None:
        result = await reg.acall(name, arguments)
        assert result.error is not None and result.error.type == error_type
        sync_result = reg.call(name, arguments)
        assert sync_result.error is not None and sync_result.error.type == error_type

    async def test_not_json_serialisable_message(self, reg: ToolRegistry) -> None:
        result = await reg.acall("unserialisable")
        assert result.error is not None
        message = result.error.message
        assert "returned a value of type object, which cannot be converted to JSON" in message

    def test_unwrap_without_original(self) -> None:
        result = ToolResult.model_validate(
            {"tool": "t", "ok": False, "error": {"type": "ToolTimeout", "message": "slow"}}
        )
        with pytest.raises(ToolError, match="ToolTimeout: slow"):
            result.unwrap()


class TestPermissions:
    async def test_allow_list(self, reg: ToolRegistry) -> None:
        result = await reg.acall("double", {"x": 1}, caller="kernel-1", allowed={"where"})
        assert result.error is not None and result.error.type == "ToolPermissionError"
        assert "kernel-1" in result.error.message
        # An unknown name outside the allow-list does not reveal whether it exists.
        hidden = await reg.acall("nope", allowed={"where"})
        assert hidden.error is not None and hidden.error.type == "ToolPermissionError"
        assert (await reg.acall("double", {"x": 1}, allowed={"double"})).value == 2

    async def test_hook(self) -> None:
        calls: list[tuple[str | None, str]] = []

        def hook(caller: str | None, tool: Tool) -> bool:
            calls.append((caller, tool.name))
            return caller == "trusted" or tool.annotations.read_only is True

        registry = ToolRegistry(permission_hook=hook)
        registry.register(lambda: "ok", name="safe", read_only=True)
        registry.register(lambda: "done", name="write")
        assert (await registry.acall("write", caller="trusted")).value == "done"
        denied = await registry.acall("write", caller="stranger")
        assert denied.error is not None and denied.error.type == "ToolPermissionError"
        assert registry.execute("safe") == "ok"
        with pytest.raises(ToolPermissionError):
            registry.execute("write")
        with pytest.raises(ToolPermissionError):
            await registry.aexecute("write")
        assert ("stranger", "write") in calls and (None, "safe") in calls

    async def test_hook_message_and_failures(self) -> None:
        def hook(caller: str | None, tool: Tool) -> bool:
            if caller == "spammer":
                raise ToolPermissionError("rate limit: 10 calls per minute")
            raise KeyError("broken hook")

        registry = ToolRegistry(permission_hook=hook)
        registry.register(lambda: 1, name="one")
        limited = await registry.acall("one", caller="spammer")
        assert limited.error is not None and limited.error.message.startswith("rate limit")
        broken = await registry.acall("one", caller="x")
        assert broken.error is not None and broken.error.type == "ToolPermissionError"
        assert "KeyError" in broken.error.message


class TestOddTools:
    async def test_sync_function_returning_a_coroutine(self) -> None:
        registry = ToolRegistry()

        async def real(x: int) -> int:
            await asyncio.sleep(0)
            if x < 0:
                raise ValueError("negative")
            return x + 1

        def wrapper(x: int):  # type: ignore[no-untyped-def]  # deliberately not declared async
            return real(x)

        registry.register(wrapper, name="plain")
        registry.register(wrapper, name="timed", timeout=5)
        for name in ("plain", "timed"):
            assert not registry.get(name).is_async
            assert registry.execute(name, 1) == 2
            assert await registry.aexecute(name, 2) == 3
            with pytest.raises(ToolExecutionError, match="negative"):
                registry.execute(name, -1)
            with pytest.raises(ToolExecutionError, match="negative"):
                await registry.aexecute(name, -1)

    def test_parameter_called_name(self) -> None:
        registry = ToolRegistry()
        registry.register(lambda name: f"hi {name}", name="hello")
        assert registry.execute("hello", name="Ann") == "hi Ann"
        assert registry.call("hello", {"name": "Bo"}).value == "hi Bo"

    @pytest.mark.parametrize("timeout", [0, -1, "5"])
    async def test_bad_per_call_timeout(self, reg: ToolRegistry, timeout: object) -> None:
        result = await reg.acall("double", {"x": 1}, timeout=timeout)  # type: ignore[arg-type]
        assert result.error is not None and "timeout must be a positive" in result.error.message

    def test_utf8_size_counts_bytes(self) -> None:
        registry = ToolRegistry(max_argument_bytes=100)
        registry.register(lambda text: len(text), name="size")
        assert registry.call("size", {"text": "é" * 40}).value == 40
        result = registry.call("size", '{"text": "' + "é" * 40 + '"}')  # 92 bytes: fits
        assert result.value == 40
        too_big = registry.call("size", '{"text": "' + "é" * 50 + '"}')  # 112 bytes
        assert too_big.error is not None and "112 bytes" in too_big.error.message
