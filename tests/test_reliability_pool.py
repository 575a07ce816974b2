"""Pool and reaper lifecycle races, opened on purpose: nothing is left running, nothing
unrelated is killed."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess

import psutil
import pytest
from _support import python_engine_config

from companion_kernel import Engine, KernelPool, PoolConfig
from companion_kernel._kernel import KernelHandle, kill_process_tree

pytestmark = pytest.mark.kernel


def _gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


class TestCloseRace:
    async def test_kernel_finishing_setup_while_close_waits_is_stopped_before_close_returns(
        self,
    ) -> None:
        # The window: close() waits for the health task; meanwhile a kernel finishes set-up,
        # leaves `_starting`, sees the pool closed and shuts itself down. close() must wait
        # for that shutdown, or the process outlives the pool (and the engine's reaper).
        async with Engine(python_engine_config(pools={"python": PoolConfig(min_idle=0)})) as eng:
            set_up, release = asyncio.Event(), asyncio.Event()
            started: list[KernelHandle] = []

            def factory() -> KernelHandle:
                kernel = eng._new_kernel("python")
                started.append(kernel)
                return kernel

            async def prepare(kernel: KernelHandle) -> None:
                set_up.set()
                await release.wait()

            pool = KernelPool(
                "python", PoolConfig(min_idle=1, max_kernels=1), factory, prepare=prepare
            )
            pool.start()
            await asyncio.wait_for(set_up.wait(), 120)
            assert pool._health is not None
            pool._health.cancel()

            async def health_that_lets_setup_finish() -> None:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    release.set()
                    while pool._starting:  # until the kernel has left `_starting`
                        await asyncio.sleep(0.01)
                    raise

            pool._health = asyncio.ensure_future(health_that_lets_setup_finish())
            await asyncio.sleep(0)
            await pool.close()
            (kernel,) = started
            # Shut down and removed by the time close() returns, not later behind its back.
            assert not kernel._dir.exists()
            assert all(_gone(pid) for pid in kernel.pids)
            assert pool._start_tasks == set()


class TestReaper:
    async def test_pids_of_kernels_stopped_inside_the_pool_are_forgotten(self) -> None:
        async with Engine(python_engine_config()) as engine:
            pool = engine.pool("python")
            await pool.wait_ready(1, timeout=120)
            (dead,) = pool.kernels()
            (pid,) = dead.pids
            assert pid in engine._reaper.processes
            psutil.Process(pid).kill()
            for _ in range(200):
                if not dead.is_alive():
                    break
                await asyncio.sleep(0.05)
            # The pool finds it dead, stops it itself (never via a session) and replaces it.
            session = await engine.create_session("python")
            assert session.kernel is not dead
            while pool._stopping:
                await asyncio.gather(*pool._stopping, return_exceptions=True)
            assert pid not in engine._reaper.processes
            assert set(session.kernel.pids) <= set(engine._reaper.processes)

    async def test_reaper_never_kills_a_reused_pid(self) -> None:
        config = python_engine_config(pools={"python": PoolConfig(min_idle=0)})
        engine = await Engine(config).start()
        bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
        try:
            # The pid a kernel once had, now owned by an unrelated process started later.
            created = psutil.Process(bystander.pid).create_time()
            engine._reaper.track(bystander.pid, created - 30)
            await engine.aclose()
            assert bystander.poll() is None
            kill_process_tree(bystander.pid, created - 30)
            assert bystander.poll() is None
            kill_process_tree(bystander.pid, created)  # its own identity: killed
            assert _gone(bystander.pid)
        finally:
            with contextlib.suppress(ProcessLookupError):
                bystander.kill()
            bystander.wait()
