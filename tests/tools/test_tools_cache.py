"""Result caching: keys, TTL, size, single flight, statistics, invalidation."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from companion_kernel.errors import ToolExecutionError, ToolNotFound
from companion_kernel.tools import ToolCache, ToolRegistry


class Clock:
    """A hand-driven timer for TTL tests (no sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runs() -> list[Any]:
    return []


@pytest.fixture
def reg(clock: Clock, runs: list[Any]) -> ToolRegistry:
    registry = ToolRegistry(cache_timer=clock)

    @registry.tool(cache_ttl=60)
    def total(values: list[float], weights: dict[str, float] | None = None) -> float:
        runs.append(("total", values))
        return sum(values)

    @registry.tool(cache_ttl=60)
    def nothing(x: int) -> None:
        runs.append(("nothing", x))
        return None

    @registry.tool(cache_ttl=60)
    def fails(x: int) -> int:
        runs.append(("fails", x))
        raise ValueError("no")

    @registry.tool(cache_ttl=60)
    def listing(n: int) -> list[int]:
        runs.append(("listing", n))
        return list(range(n))

    @registry.tool(cache_ttl=60, cache_maxsize=2)
    def small(x: int) -> int:
        runs.append(("small", x))
        return x

    @registry.tool
    def uncached(x: int) -> int:
        runs.append(("uncached", x))
        return x

    return registry


def stats(reg: ToolRegistry, name: str) -> dict[str, Any]:
    return reg.cache_stats(name)[name].model_dump()


class TestHitsAndKeys:
    def test_second_call_is_a_hit(self, reg: ToolRegistry, runs: list[Any]) -> None:
        assert reg.execute("total", [1, 2]) == 3
        assert reg.execute("total", [1, 2]) == 3
        assert len(runs) == 1
        assert stats(reg, "total") | {"ttl": None} == {
            "tool": "total",
            "hits": 1,
            "misses": 1,
            "joined": 0,
            "evictions": 0,
            "size": 1,
            "maxsize": 1024,
            "ttl": None,
            "hit_rate": 0.5,
        }

    def test_envelope_reports_cached(self, reg: ToolRegistry) -> None:
        assert reg.call("total", {"values": [1]}).cached is False
        assert reg.call("total", {"values": [1]}).cached is True

    def test_unhashable_arguments_and_every_call_form_share_a_key(
        self, reg: ToolRegistry, runs: list[Any]
    ) -> None:
        reg.execute("total", [1, 2], {"a": 1.0, "b": 2.0})
        reg.execute("total", values=[1, 2], weights={"b": 2, "a": 1})
        assert reg.call("total", '{"weights": {"a": 1, "b": 2}, "values": [1.0, 2.0]}').cached
        assert len(runs) == 1

    def test_defaults_are_part_of_the_key(self, reg: ToolRegistry, runs: list[Any]) -> None:
        reg.execute("total", [1])
        reg.execute("total", [1], None)
        assert len(runs) == 1

    def test_different_arguments_miss(self, reg: ToolRegistry, runs: list[Any]) -> None:
        reg.execute("total", [1])
        reg.execute("total", [2])
        assert len(runs) == 2

    def test_none_is_cached(self, reg: ToolRegistry, runs: list[Any]) -> None:
        assert reg.execute("nothing", 1) is None
        assert reg.execute("nothing", 1) is None
        assert runs == [("nothing", 1)]
        assert stats(reg, "nothing")["hits"] == 1

    def test_errors_are_not_cached(self, reg: ToolRegistry, runs: list[Any]) -> None:
        for _ in range(2):
            with pytest.raises(ToolExecutionError):
                reg.execute("fails", 1)
        assert len(runs) == 2
        assert stats(reg, "fails")["size"] == 0

    def test_callers_get_private_copies(self, reg: ToolRegistry) -> None:
        first = reg.execute("listing", 3)
        first.append(99)
        second = reg.execute("listing", 3)
        assert second == [0, 1, 2]
        second.append(98)
        assert reg.execute("listing", 3) == [0, 1, 2]

    def test_uncached_tools_have_no_stats(self, reg: ToolRegistry, runs: list[Any]) -> None:
        reg.execute("uncached", 1)
        reg.execute("uncached", 1)
        assert len(runs) == 2
        assert reg.cache_stats("uncached") == {}
        with pytest.raises(ToolNotFound):
            reg.cache_stats("nope")

    def test_arguments_without_json_form_bypass_the_cache(self) -> None:
        registry = ToolRegistry()
        seen: list[object] = []

        @registry.tool(cache_ttl=60)
        def anything(x: Any) -> int:
            seen.append(x)
            return 1

        marker = object()
        registry.execute("anything", marker)
        registry.execute("anything", marker)
        assert seen == [marker, marker]

    def test_values_that_cannot_be_copied_are_not_cached(self) -> None:
        registry = ToolRegistry()
        made: list[int] = []

        @registry.tool(cache_ttl=60)
        def make_lock() -> Any:
            made.append(1)
            return threading.Lock()

        registry.execute("make_lock")
        registry.execute("make_lock")
        assert len(made) == 2

    def test_new_version_does_not_reuse_old_results(self, reg: ToolRegistry) -> None:
        assert reg.execute("small", 5) == 5
        reg.register(lambda x: x * 10, name="small", cache_ttl=60, replace=True)
        assert reg.execute("small", 5) == 50


class TestTtlAndSize:
    def test_expiry(self, reg: ToolRegistry, runs: list[Any], clock: Clock) -> None:
        reg.execute("total", [1])
        clock.now += 59
        reg.execute("total", [1])
        assert len(runs) == 1
        clock.now += 2
        reg.execute("total", [1])
        assert len(runs) == 2
        assert stats(reg, "total")["evictions"] == 1

    def test_maxsize_evicts_least_recently_used(self, reg: ToolRegistry, runs: list[Any]) -> None:
        for x in (1, 2, 1, 3):  # 1 is used again, so 2 is evicted when 3 arrives
            reg.execute("small", x)
        assert stats(reg, "small") | {"hit_rate": 0} == {
            "tool": "small",
            "hits": 1,
            "misses": 3,
            "joined": 0,
            "evictions": 1,
            "size": 2,
            "maxsize": 2,
            "ttl": 60.0,
            "hit_rate": 0,
        }
        reg.execute("small", 1)
        reg.execute("small", 2)
        assert runs.count(("small", 2)) == 2

    def test_infinite_ttl(self, clock: Clock) -> None:
        registry = ToolRegistry(cache_timer=clock)
        registry.register(lambda x: x, name="keep", cache_ttl=float("inf"))
        registry.execute("keep", 1)
        clock.now += 10**9
        assert registry.call("keep", {"x": 1}).cached
        assert stats(registry, "keep")["ttl"] is None

    def test_bad_maxsize(self) -> None:
        with pytest.raises(ValueError):
            ToolCache(maxsize=0)
        with pytest.raises(ValueError):
            ToolRegistry().register(lambda: 1, name="x", cache_ttl=1, cache_maxsize=0)


class TestInvalidation:
    def test_one_tool(self, reg: ToolRegistry, runs: list[Any]) -> None:
        reg.execute("total", [1])
        reg.execute("total", [2])
        reg.execute("listing", 1)
        assert reg.invalidate_cache("total") == 2
        reg.execute("total", [1])
        reg.execute("listing", 1)
        assert runs.count(("total", [1.0])) == 2
        assert runs.count(("listing", 1)) == 1
        assert stats(reg, "total")["misses"] == 3  # counters survive invalidation

    def test_all(self, reg: ToolRegistry) -> None:
        reg.execute("total", [1])
        reg.execute("listing", 1)
        assert reg.invalidate_cache() == 2
        assert all(s.size == 0 for s in reg.cache_stats().values())

    def test_unknown_tool(self, reg: ToolRegistry) -> None:
        with pytest.raises(ToolNotFound):
            reg.invalidate_cache("nope")

    def test_unregister_forgets(self, reg: ToolRegistry) -> None:
        reg.execute("total", [1])
        reg.unregister("total")
        assert "total" not in reg.cache_stats()

    def test_all_stats(self, reg: ToolRegistry) -> None:
        reg.execute("total", [1])
        reg.execute("small", 1)
        assert list(reg.cache_stats()) == ["small", "total"]


class TestSingleFlight:
    async def test_concurrent_identical_async_calls_run_once(self) -> None:
        registry = ToolRegistry()
        started: list[int] = []
        gate = asyncio.Event()

        @registry.tool(cache_ttl=60)
        async def fetch(key: str) -> dict[str, str]:
            started.append(1)
            await gate.wait()
            return {"key": key}

        tasks = [asyncio.create_task(registry.acall("fetch", {"key": "a"})) for _ in range(10)]
        await asyncio.sleep(0.01)
        gate.set()
        results = await asyncio.gather(*tasks)
        assert len(started) == 1
        assert all(r.value == {"key": "a"} for r in results)
        assert sorted(r.cached for r in results) == [False] + [True] * 9
        s = stats(registry, "fetch")
        assert (s["misses"], s["joined"], s["hits"], s["hit_rate"]) == (1, 9, 0, 0.9)

    async def test_joined_callers_share_the_error(self) -> None:
        registry = ToolRegistry()
        gate = asyncio.Event()
        started: list[int] = []

        @registry.tool(cache_ttl=60)
        async def flaky() -> int:
            started.append(1)
            await gate.wait()
            raise RuntimeError("down")

        tasks = [asyncio.create_task(registry.acall("flaky")) for _ in range(3)]
        await asyncio.sleep(0.01)
        gate.set()
        results = await asyncio.gather(*tasks)
        assert len(started) == 1
        assert all(r.error is not None and "down" in r.error.message for r in results)
        assert (await registry.acall("flaky")).ok is False and len(started) == 2

    async def test_cancelled_leader_hands_over(self) -> None:
        registry = ToolRegistry()
        gate = asyncio.Event()
        started: list[int] = []

        @registry.tool(cache_ttl=60)
        async def work() -> str:
            started.append(1)
            await gate.wait()
            return "done"

        leader = asyncio.create_task(registry.aexecute("work"))
        await asyncio.sleep(0.01)
        follower = asyncio.create_task(registry.aexecute("work"))
        await asyncio.sleep(0.01)
        leader.cancel()
        await asyncio.sleep(0.01)
        gate.set()
        assert await follower == "done"
        with pytest.raises(asyncio.CancelledError):
            await leader
        assert len(started) == 2

    def test_threads_share_one_run(self, release: threading.Event) -> None:
        registry = ToolRegistry()
        entered = threading.Event()
        started: list[int] = []

        @registry.tool(cache_ttl=60)
        def slow(x: int) -> int:
            started.append(x)
            entered.set()
            release.wait(10)
            return x * 2

        results: list[int] = []

        def call() -> None:
            results.append(registry.execute("slow", 21))

        threads = [threading.Thread(target=call) for _ in range(5)]
        threads[0].start()
        assert entered.wait(10)
        for t in threads[1:]:
            t.start()
        deadline = time.monotonic() + 10
        while stats(registry, "slow")["joined"] < 4 and time.monotonic() < deadline:
            time.sleep(0.001)
        release.set()
        for t in threads:
            t.join(10)
        assert results == [42] * 5
        assert started == [21]

    async def test_sync_call_inside_the_loop_does_not_wait_on_its_own_loop(self) -> None:
        registry = ToolRegistry()
        ran: list[int] = []

        @registry.tool(cache_ttl=60)
        async def compute(x: int) -> int:
            ran.append(x)
            await asyncio.sleep(0.01)
            return x + 1

        leader = asyncio.create_task(registry.aexecute("compute", 1))
        await asyncio.sleep(0)  # the leader is now in flight on this loop
        # Joining would block this loop while the leader needs it: run independently instead.
        assert registry.execute("compute", 1) == 2
        assert await leader == 2
        assert len(ran) == 2
        assert registry.call("compute", {"x": 1}).cached
