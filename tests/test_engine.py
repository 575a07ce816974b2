"""Engine and pools with real kernels: warm pools, caps, reuse, cleanup, bad input, sync facade."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from _support import kernel_processes, python_engine_config

from companion_kernel import (
    Engine,
    EngineClosed,
    InvalidRequest,
    KernelStartError,
    PoolConfig,
    PoolExhausted,
    SessionNotFound,
    SyncEngine,
    UnknownLanguage,
)

pytestmark = pytest.mark.kernel


def _missing_node():
    from companion_kernel.engine import _UnavailableKernel

    return _UnavailableKernel("javascript", "Node.js is not installed")


class TestPool:
    async def test_min_idle_kernels_are_warm_and_refilled(self) -> None:
        cfg = python_engine_config(pools={"python": PoolConfig(min_idle=2, max_kernels=6)})
        async with Engine(cfg) as engine:
            pool = engine.pool("python")
            await engine.wait_ready()
            assert pool.stats().idle == 2
            s = await engine.create_session("python")
            # Handed out from the idle set; a replacement is already starting.
            assert pool.stats().in_use == 1
            assert pool.stats().idle + pool.stats().starting == 2
            await pool.wait_ready(2)
            await s.close()

    async def test_refill_after_each_acquire_keeps_min_idle(self) -> None:
        # Regression: a just-started kernel was counted as both starting and idle, so the
        # refill after an acquire was skipped and the pool shrank below min_idle.
        cfg = python_engine_config(pools={"python": PoolConfig(min_idle=2, max_kernels=8)})
        async with Engine(cfg) as engine:
            pool = engine.pool("python")
            for _ in range(3):
                await pool.wait_ready(2, timeout=120)
                s = await engine.create_session("python")
                await s.close()
            await pool.wait_ready(2, timeout=120)

    async def test_factory_failure_is_a_start_error_not_a_hang(self) -> None:
        from companion_kernel import KernelPool, KernelStartError

        def broken_factory():
            raise ImportError("no module named 'the_kernel'")

        pool = KernelPool("python", PoolConfig(min_idle=1, acquire_timeout_s=60), broken_factory)
        pool.start()
        try:
            with pytest.raises(KernelStartError, match="the_kernel"):
                await asyncio.wait_for(pool.acquire(), 30)
        finally:
            await pool.close()
        assert pool.stats().failed_total >= 1

    async def test_unavailable_language_fails_fast_with_reason(self, tmp_path) -> None:
        cfg = python_engine_config(languages=("javascript",), pools={})
        async with Engine(cfg) as engine:
            engine.pool("javascript")._factory = lambda: _missing_node()  # type: ignore[assignment]
            with pytest.raises(KernelStartError, match="cannot run here"):
                await engine.execute("1", "javascript")

    async def test_max_kernels_counts_all_and_acquire_times_out(self) -> None:
        cfg = python_engine_config(
            pools={"python": PoolConfig(min_idle=1, max_kernels=1, acquire_timeout_s=1.0)}
        )
        async with Engine(cfg) as engine:
            pool = engine.pool("python")
            # Cold starts are not what the 1 s acquire timeout measures: wait for them apart
            # (a loaded 2-core machine can take seconds to start a kernel).
            await pool.wait_ready(1, timeout=120)
            held = await engine.create_session("python")
            with pytest.raises(PoolExhausted, match="max_kernels=1"):
                await engine.create_session("python")
            await held.close()
            # Once the kernel is given back, a new one can start.
            await pool.wait_ready(1, timeout=120)
            s = await engine.create_session("python")
            assert (await s.execute("1")).ok

    async def test_kernel_never_handed_to_second_session(self, engine: Engine) -> None:
        async with engine.session() as a:
            await a.execute("secret = 'a'")
            kernel_a = a.kernel
        async with engine.session() as b:
            r = await b.execute("'secret' in globals()")
            assert b.kernel is not kernel_a
        assert r.text == "False"

    async def test_dead_idle_kernel_is_replaced(self, engine: Engine) -> None:
        pool = engine.pool("python")
        await pool.wait_ready(1)
        idle = pool.kernels()[0]
        for pid in idle.pids:
            psutil.Process(pid).kill()
        await asyncio.sleep(0.2)
        async with engine.session() as s:
            assert s.kernel is not idle
            assert (await s.execute("1 + 1")).text == "2"
        assert pool.stats().replaced_dead >= 1

    async def test_idle_kernel_with_lost_heartbeat_is_replaced(self, engine: Engine) -> None:
        import signal

        pool = engine.pool("python")
        await pool.wait_ready(1)
        frozen = pool.kernels()[0]
        pid = frozen.pids[0]
        os.kill(pid, signal.SIGSTOP)  # alive as a process, but its heartbeat stops answering
        try:
            for _ in range(300):
                if frozen not in pool.kernels():
                    break
                await asyncio.sleep(0.1)
            assert frozen not in pool.kernels()
            assert pool.stats().replaced_dead >= 1
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        async with engine.session() as s:
            assert (await s.execute("1 + 1")).text == "2"

    async def test_heartbeat_answers_for_live_kernel(self, engine: Engine) -> None:
        async with engine.session() as s:
            assert await s.kernel.heartbeat()


class TestSessions:
    async def test_named_sessions_lookup_list_close(self, engine: Engine) -> None:
        s = await engine.create_session("python", name="analysis")
        await s.execute("v = 5")
        assert engine.get_session("analysis") is s
        assert engine.get_session(s.id) is s
        assert s in engine.sessions()
        r = await engine.execute("v * 2", session="analysis")
        assert r.text == "10"
        with pytest.raises(InvalidRequest, match="already exists"):
            engine.session("python", name="analysis")
        await engine.close_session("analysis")
        with pytest.raises(SessionNotFound):
            engine.get_session("analysis")

    async def test_idle_sessions_are_closed(self) -> None:
        async with Engine(python_engine_config(session_idle_timeout_s=0.3)) as engine:
            s = await engine.create_session("python")
            await s.execute("1")
            for _ in range(100):
                if s.closed:
                    break
                await asyncio.sleep(0.1)
            assert s.closed
            assert s not in engine.sessions()

    async def test_one_shot_execution_discards_its_kernel(self, engine: Engine) -> None:
        r1 = await engine.execute("leak = 1", "python")
        r2 = await engine.execute("'leak' in globals()", "python")
        assert r1.ok and r2.text == "False" and r1.session_id is None

    async def test_evaluate_returns_python_values(self, engine: Engine) -> None:
        assert await engine.evaluate("sum([i**2 for i in range(10)])") == 285
        assert await engine.evaluate("{'a': [1, 2.5, None, True]}") == {"a": [1, 2.5, None, True]}
        assert await engine.evaluate("type(1)") == "int"  # no literal form: the text
        with pytest.raises(InvalidRequest, match="ZeroDivisionError"):
            await engine.evaluate("1/0")


class TestBadInput:
    @pytest.mark.parametrize(
        ("code", "match"),
        [
            ("", "empty"),
            ("   \n", "empty"),
            ("print(1)\x00", "NUL"),
            (b"print('\xff')", "UTF-8"),
            ("x = 1\n" * 2_000_000, "limit"),
            (42, "str or bytes"),
        ],
        ids=["empty", "blank", "nul", "bad-utf8", "10MB", "not-text"],
    )
    async def test_bad_code_is_a_clear_error(self, engine: Engine, code, match: str) -> None:
        with pytest.raises(InvalidRequest, match=match):
            await engine.execute(code, "python")
        async with engine.session() as s:
            with pytest.raises(InvalidRequest, match=match):
                await s.execute(code)
            assert (await s.execute("1")).ok  # nothing was sent, the session still works

    async def test_utf8_bytes_are_accepted(self, engine: Engine) -> None:
        r = await engine.execute("print('é')".encode(), "python")
        assert r.stdout == "é\n"

    @pytest.mark.parametrize("timeout", [0, -1, float("nan"), "5"])
    async def test_bad_timeout(self, engine: Engine, timeout) -> None:
        with pytest.raises(InvalidRequest, match="timeout"):
            await engine.execute("1", "python", timeout=timeout)

    async def test_unknown_and_disabled_languages(self, engine: Engine) -> None:
        with pytest.raises(UnknownLanguage, match="unknown language 'cobol'"):
            await engine.execute("1", "cobol")
        with pytest.raises(UnknownLanguage, match="not enabled"):
            await engine.execute("1", "javascript")

    async def test_closed_engine_refuses(self) -> None:
        engine = Engine(python_engine_config())
        with pytest.raises(EngineClosed, match="not started"):
            await engine.execute("1", "python")
        await engine.start()
        await engine.aclose()
        with pytest.raises(EngineClosed, match="closed"):
            await engine.execute("1", "python")
        with pytest.raises(EngineClosed):
            engine.session("python")

    async def test_every_concurrent_submission_gets_one_result(self, engine: Engine) -> None:
        async with engine.session() as s:
            codes = ["1", "1/0", "while True: pass", "print('x')", "2"]
            # Only the loop is meant to time out; a loaded machine may be slow on the rest.
            timeouts = [30, 30, 1, 30, 30]
            results = await asyncio.gather(
                *(s.execute(c, timeout=t) for c, t in zip(codes, timeouts, strict=True))
            )
        assert [r.status for r in results] == ["ok", "error", "timeout", "ok", "ok"]


class TestCleanup:
    async def test_shutdown_leaves_no_process_or_file(self) -> None:
        cfg = python_engine_config(pools={"python": PoolConfig(min_idle=2)})
        engine = await Engine(cfg).start()
        await engine.wait_ready()
        s = await engine.create_session()
        await s.execute("import subprocess; p = subprocess.Popen(['sleep', '300'])")
        pids = [pid for k in engine.pool("python").kernels() for pid in k.pids]
        runtime = engine._reaper.runtime_dir
        assert pids and runtime.exists()
        await engine.aclose()
        assert not runtime.exists()
        for pid in pids:
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        assert kernel_processes() == []
        assert not [p for p in psutil.Process().children(recursive=True) if "sleep" in p.name()]

    def test_no_leftovers_when_engine_is_never_closed(self, tmp_path: Path) -> None:
        script = textwrap.dedent(
            """
            import asyncio, gc, json, sys
            from companion_kernel import Engine, EngineConfig, PoolConfig

            async def main():
                cfg = EngineConfig(languages=("python",), isolation="off", policy="off",
                                   pools={"python": PoolConfig(min_idle=2)})
                engine = await Engine(cfg).start()
                await engine.wait_ready()
                pids = [p for k in engine.pool("python").kernels() for p in k.pids]
                print(json.dumps({"pids": pids, "dir": str(engine._reaper.runtime_dir)}))
                sys.stdout.flush()
                if sys.argv[1] == "gc":
                    del engine
                    gc.collect()
                    print("collected")
                # else: interpreter exits with the engine still open

            asyncio.run(main())
            """
        )
        import json

        for mode in ("gc", "exit"):
            out = subprocess.run(
                [sys.executable, "-c", script, mode],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            info = json.loads(out.stdout.splitlines()[0])
            assert info["pids"], out.stderr
            for pid in info["pids"]:
                assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
            assert not Path(info["dir"]).exists()


class TestSyncFacade:
    def test_sync_engine_from_plain_code(self) -> None:
        with SyncEngine(python_engine_config()) as engine:
            assert engine.execute("6 * 7", "python").text == "42"
            with engine.session("python", name="s") as s:
                s.execute("a = 1")
                assert s.execute("a + 1").text == "2"
                assert engine.get_session("s").id == s.id

    async def test_sync_engine_inside_running_loop(self) -> None:
        # As in a notebook: a loop is running in this thread; the facade must not block it.
        engine = SyncEngine(python_engine_config())
        try:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.01)

            task = asyncio.ensure_future(ticker())
            result = await asyncio.to_thread(
                engine.execute, "import time; time.sleep(0.5); 1", "python"
            )
            task.cancel()
            assert result.text == "1"
            assert ticks > 5
            # And called directly from a coroutine, it still works (no deadlock, no re-entry).
            assert engine.execute("2", "python").text == "2"
        finally:
            engine.close()
