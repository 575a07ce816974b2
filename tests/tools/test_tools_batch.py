"""`execute_batch`: order, per-item errors, concurrency caps, progress."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from companion_kernel.tools import ToolRegistry, ToolResult


class Gauge:
    """Counts calls running at once (thread-safe: sync tools run on worker threads)."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.per_name: dict[str, int] = {}
        self.peak_per_name: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, name: str) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.per_name[name] = self.per_name.get(name, 0) + 1
            self.peak_per_name[name] = max(self.peak_per_name.get(name, 0), self.per_name[name])

    def leave(self, name: str) -> None:
        with self._lock:
            self.now -= 1
            self.per_name[name] -= 1


@pytest.fixture
def gauge() -> Gauge:
    return Gauge()


@pytest.fixture
def reg(registry: ToolRegistry, gauge: Gauge) -> ToolRegistry:
    @registry.tool
    async def slow_a(x: int) -> int:
        gauge.enter("slow_a")
        try:
            await asyncio.sleep(0.01)
        finally:
            gauge.leave("slow_a")
        return x

    @registry.tool
    def slow_b(x: int) -> int:
        gauge.enter("slow_b")
        try:
            threading.Event().wait(0.01)
        finally:
            gauge.leave("slow_b")
        return x

    return registry


class TestBatch:
    async def test_seed_example(self, registry: ToolRegistry) -> None:
        results = await registry.execute_batch(
            [("add", (1, 2), {}), ("multiply", (3, 4), {}), ("sqrt", (16,), {})]
        )
        assert [r.value for r in results] == [3, 12, 4.0]
        assert all(isinstance(r, ToolResult) and r.ok for r in results)

    async def test_order_kept_and_errors_per_item(self, reg: ToolRegistry) -> None:
        calls = [
            ("slow_a", (1,), {}),
            ("divide", (1, 0), {}),
            ("nope", (), {}),
            ("slow_b", (), {"x": 4}),
            ("add", (), '{"a": 1, "b": "x"}'),
            ("add", (), '{"a": 1, "b": 2}'),
        ]
        results = await reg.execute_batch(calls)
        assert [r.tool for r in results] == [c[0] for c in calls]
        assert [r.ok for r in results] == [True, False, False, True, False, True]
        assert [r.error.type if r.error else None for r in results] == [
            None,
            "ToolExecutionError",
            "ToolNotFound",
            None,
            "ToolArgumentError",
            None,
        ]
        assert results[0].value == 1 and results[3].value == 4 and results[5].value == 3

    async def test_short_items(self, registry: ToolRegistry) -> None:
        results = await registry.execute_batch([("current_timestamp",), ("sqrt", [9])])
        assert results[0].ok and results[1].value == 3.0

    @pytest.mark.parametrize("item", ["add", ("add", (1, 2), {}, "extra"), (), (42, (), {}), None])
    async def test_malformed_items(self, registry: ToolRegistry, item: object) -> None:
        results = await registry.execute_batch([item, ("add", (1, 1), {})])  # type: ignore[list-item]
        assert results[0].error is not None and results[0].error.type == "ToolArgumentError"
        assert "batch item 0" in results[0].error.message
        assert results[1].value == 2

    async def test_empty(self, registry: ToolRegistry) -> None:
        assert await registry.execute_batch([]) == []

    async def test_global_cap(self, reg: ToolRegistry, gauge: Gauge) -> None:
        calls = [("slow_a" if i % 2 else "slow_b", (i,), {}) for i in range(20)]
        results = await reg.execute_batch(calls, max_concurrency=3)
        assert [r.value for r in results] == list(range(20))
        assert gauge.peak <= 3

    async def test_cap_allows_full_concurrency(self, reg: ToolRegistry, gauge: Gauge) -> None:
        # All ten start in the same loop iteration, before any sleep can end.
        await reg.execute_batch([("slow_a", (i,), {}) for i in range(10)], max_concurrency=10)
        assert gauge.peak == 10

    async def test_per_tool_cap(self, reg: ToolRegistry, gauge: Gauge) -> None:
        calls = [("slow_a", (i,), {}) for i in range(8)] + [("slow_b", (i,), {}) for i in range(8)]
        await reg.execute_batch(calls, max_concurrency=16, per_tool_concurrency={"slow_a": 2})
        assert gauge.peak_per_name["slow_a"] <= 2
        gauge.peak_per_name.clear()
        await reg.execute_batch(calls, max_concurrency=16, per_tool_concurrency=1)
        assert gauge.peak_per_name == {"slow_a": 1, "slow_b": 1}

    async def test_registry_default_cap(self, gauge: Gauge) -> None:
        registry = ToolRegistry(max_concurrency=2)

        @registry.tool
        async def slow(x: int) -> int:
            gauge.enter("slow")
            await asyncio.sleep(0.005)
            gauge.leave("slow")
            return x

        await registry.execute_batch([("slow", (i,), {}) for i in range(6)])
        assert gauge.peak <= 2
        with pytest.raises(ValueError):
            await registry.execute_batch([], max_concurrency=-1)

    async def test_progress_sync_and_async(self, registry: ToolRegistry) -> None:
        seen: list[tuple[int, int, bool]] = []

        def progress(done: int, total: int, result: ToolResult) -> None:
            seen.append((done, total, result.ok))

        calls = [("add", (i, 1), {}) for i in range(5)] + [("sqrt", (-1,), {})]
        await registry.execute_batch(calls, on_progress=progress)
        assert [s[0] for s in seen] == [1, 2, 3, 4, 5, 6]
        assert {s[1] for s in seen} == {6}
        assert sorted(s[2] for s in seen) == [False, True, True, True, True, True]

        counted: list[int] = []

        async def async_progress(done: int, total: int, result: ToolResult) -> None:
            await asyncio.sleep(0)
            counted.append(done)

        await registry.execute_batch(calls, on_progress=async_progress)
        assert sorted(counted) == [1, 2, 3, 4, 5, 6]

    async def test_broken_progress_callback_loses_nothing(
        self, registry: ToolRegistry, caplog: pytest.LogCaptureFixture
    ) -> None:
        def progress(done: int, total: int, result: ToolResult) -> None:
            raise RuntimeError("display crashed")

        with caplog.at_level(logging.WARNING, logger="companion_kernel.tools.executor"):
            results = await registry.execute_batch(
                [("add", (1, 1), {}), ("add", (2, 2), {})], on_progress=progress
            )
        assert [r.value for r in results] == [2, 4]
        assert "progress callback failed" in caplog.text

    async def test_allow_list_applies_to_every_item(self, registry: ToolRegistry) -> None:
        results = await registry.execute_batch(
            [("add", (1, 1), {}), ("sqrt", (4,), {})], allowed={"add"}, caller="k1"
        )
        assert results[0].ok
        assert results[1].error is not None and results[1].error.type == "ToolPermissionError"

    async def test_cancelling_the_batch_cancels_running_calls(self) -> None:
        registry = ToolRegistry()
        cancelled: list[int] = []
        started = asyncio.Event()

        @registry.tool
        async def forever(i: int) -> None:
            started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.append(i)
                raise

        calls = [("forever", (i,), {}) for i in range(3)]
        task = asyncio.create_task(registry.execute_batch(calls))
        await started.wait()
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sorted(cancelled) == [0, 1, 2]
