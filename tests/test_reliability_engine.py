"""Engine-level reliability: the sync facade under Ctrl-C and after close, no blocking work
on the event loop, stale runtime directories, and a clean exit on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest
from _support import python_engine_config

from companion_kernel import Engine, EngineClosed, PoolConfig, SyncEngine

pytestmark = pytest.mark.kernel


class _Ticker:
    """Measures the longest gap between ticks of the event loop (a blocked loop shows)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self, running: asyncio.Event) -> None:
        self._last = time.monotonic()
        running.set()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            self.longest = max(self.longest, now - self._last)
            self._last = now

    async def __aenter__(self) -> _Ticker:
        running = asyncio.Event()
        self._task = asyncio.ensure_future(self._run(running))
        await running.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        # The gap up to now counts too (work that blocked the loop until the block's end).
        self.longest = max(self.longest, time.monotonic() - self._last)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def _gone(pid: int, created: float | None = None) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.status() == psutil.STATUS_ZOMBIE or (
            created is not None and proc.create_time() != created
        )
    except psutil.NoSuchProcess:
        return True


class TestSyncFacade:
    def test_ctrl_c_interrupts_the_running_cell(self) -> None:
        with SyncEngine(python_engine_config()) as engine, engine.session("python") as s:
            s.execute("x = 41")
            started = threading.Event()

            def press_ctrl_c() -> None:
                if started.wait(60):
                    os.kill(os.getpid(), signal.SIGINT)  # lands in the main thread

            presser = threading.Thread(target=press_ctrl_c)
            presser.start()
            with pytest.raises(KeyboardInterrupt):
                s.execute(
                    "import time\nprint('go', flush=True)\ntime.sleep(60)",
                    on_stdout=lambda _: started.set(),
                )
            presser.join()
            t0 = time.monotonic()
            after = s.execute("x + 1")
            assert after.text == "42" and not after.state_lost
            assert time.monotonic() - t0 < 20  # not behind the 60 s sleep

    def test_calls_after_close_raise_engine_closed(self) -> None:
        engine = SyncEngine(python_engine_config(pools={"python": PoolConfig(min_idle=0)}))
        engine.close()
        with pytest.raises(EngineClosed):
            engine.execute("1", "python")
        with pytest.raises(EngineClosed):
            engine.session("python")
        engine.close()  # still fine


class TestNothingBlocksTheLoop:
    async def test_validating_huge_input_runs_off_the_loop(self) -> None:
        cfg = python_engine_config(pools={"python": PoolConfig(min_idle=0)}, policy="strict")
        async with Engine(cfg) as engine:
            # 900 kB of plain lines (seconds of validator work before it was moved off the
            # loop), ending in a call the policy rejects.
            code = "x = 1\n" * 150_000 + "import os\nos.system('id')\n"
            async with _Ticker() as ticker:
                r = await engine.execute(code, "python")
            assert r.status == "rejected"
            assert ticker.longest < 0.25, ticker.longest

    async def test_removing_a_workspace_with_many_files_runs_off_the_loop(self) -> None:
        async with Engine(python_engine_config()) as engine:
            pool = engine.pool("python")
            s = await engine.create_session("python")
            r = await s.execute(
                "import os\nos.makedirs('many')\n"
                "for i in range(30000): open(f'many/{i}', 'w').close()",
                timeout=120,
            )
            assert r.ok, r.error
            async with _Ticker() as ticker:
                await s.close()
                while pool._stopping:
                    await asyncio.gather(*pool._stopping, return_exceptions=True)
            assert ticker.longest < 0.25, ticker.longest


class TestStaleRuntimeDirs:
    async def test_dirs_of_dead_engines_are_removed_with_their_kernels(
        self, tmp_path: Path
    ) -> None:
        finished = subprocess.Popen(["true"])
        finished.wait()
        dead_pid = finished.pid
        assert not psutil.pid_exists(dead_pid)
        stale = tmp_path / f"ck-{dead_pid}-abc123"
        (stale / "kernel1").mkdir(parents=True)
        live = tmp_path / f"ck-{os.getpid()}-def456"
        live.mkdir()
        unrelated = tmp_path / "ck-not-an-engine"
        unrelated.mkdir()
        # A kernel the dead engine left running (its connection file is in the stale dir).
        orphan = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import time; time.sleep(600)",
                str(stale / "kernel1" / "kernel.json"),
            ]
        )
        try:
            cfg = python_engine_config(
                pools={"python": PoolConfig(min_idle=0)}, runtime_dir=str(tmp_path)
            )
            async with Engine(cfg) as engine:
                mine = engine._reaper.runtime_dir
                assert mine.name.startswith(f"ck-{os.getpid()}-")
                assert not stale.exists()
                assert live.exists() and unrelated.exists()
                orphan.wait(10)  # killed: it would sleep for 600 s
            assert not mine.exists()
        finally:
            if orphan.poll() is None:
                orphan.kill()
                orphan.wait()


_SIGTERM_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from companion_kernel import Engine, EngineConfig, PoolConfig, SyncEngine

    CELL = "import time\\nprint('x', flush=True)\\ntime.sleep(600)"

    def config():
        return EngineConfig(languages=("python",), isolation="off", policy="off",
                            pools={"python": PoolConfig(min_idle=1, max_kernels=4)})

    async def main():
        async with Engine(config()) as engine:
            pool = engine.pool("python")
            await pool.wait_ready(1, timeout=120)
            held = asyncio.Event()
            starting = []

            async def stuck_prepare(kernel):  # the next kernel never finishes its set-up
                starting.append(kernel)
                held.set()
                await asyncio.Event().wait()

            pool._prepare = stuck_prepare
            s = await engine.create_session("python")  # takes the idle one; a refill starts
            ran = asyncio.Event()
            cell = asyncio.ensure_future(s.execute(CELL, on_stdout=lambda _: ran.set()))
            await asyncio.wait_for(asyncio.gather(ran.wait(), held.wait()), 120)
            kernels = [*pool.kernels(), *starting]
            report(engine, kernels)
            await cell

    def report(engine, kernels):
        pids = {p: k._create_time for k in kernels for p in k.pids}
        info = {"pids": pids, "dir": str(engine._reaper.runtime_dir)}
        print(json.dumps(info), flush=True)

    def sync_main():
        engine = SyncEngine(config())
        engine.wait_ready()
        s = engine.session("python")
        engine.wait_ready()  # the refill is idle too
        report(engine.engine, engine.engine.pool("python").kernels())
        s.execute(CELL)

    asyncio.run(main()) if sys.argv[1] == "async" else sync_main()
    """
)


class TestSigterm:
    @pytest.mark.parametrize("mode", ["async", "sync"])
    def test_sigterm_leaves_no_kernel_and_no_runtime_dir(self, mode: str) -> None:
        with subprocess.Popen(
            [sys.executable, "-c", _SIGTERM_SCRIPT, mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            try:
                line = proc.stdout.readline()
                assert line, proc.stderr.read()
                info = json.loads(line)
                pids = {int(pid): created for pid, created in info["pids"].items()}
                assert len(pids) == 2  # in use, and starting (async) or idle (sync)
                time.sleep(0.5)  # the session's cell is running
                proc.send_signal(signal.SIGTERM)
                status = proc.wait(60)
                stderr = proc.stderr.read()
            finally:
                if proc.poll() is None:
                    proc.kill()
        assert status == -signal.SIGTERM, stderr  # ended as SIGTERM's default action would
        assert "Traceback" not in stderr, stderr
        assert not Path(info["dir"]).exists()
        for pid, created in pids.items():
            assert _gone(pid, created), f"kernel {pid} still running"
