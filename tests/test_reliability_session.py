"""One honest result per submission through closes, cancels and faults (real kernels).

Each race is opened on purpose (a stopped kernel, a cell that waits), never left to chance.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator

import psutil
import pytest
from _support import python_engine_config

from companion_kernel import Engine, EngineConfig, PoolConfig, Session, SessionState

pytestmark = pytest.mark.kernel

_SLEEP = "import time\nprint('started', flush=True)\ntime.sleep(60)"


async def _started(session: Session, code: str = _SLEEP) -> asyncio.Task:
    """Submit `code` and return its task once the cell is running (it printed)."""
    running = asyncio.Event()
    task = asyncio.ensure_future(session.execute(code, on_stdout=lambda _: running.set()))
    await asyncio.wait_for(running.wait(), 60)
    return task


@contextlib.contextmanager
def _stopped(pid: int) -> Iterator[None]:
    """SIGSTOP the kernel: whatever is sent to it waits until it runs again."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


class TestClose:
    async def test_session_close_gives_running_and_queued_cells_a_cancelled_result(
        self, engine: Engine
    ) -> None:
        s = await engine.create_session("python")
        running = await _started(s)
        queued = asyncio.ensure_future(s.execute("1 + 1"))
        await asyncio.sleep(0)
        await s.close()
        first, second = await asyncio.wait_for(asyncio.gather(running, queued), 30)
        for r in (first, second):
            assert r.status == "cancelled" and r.state_lost
            assert r.error is not None and "closed" in r.error.evalue
        assert first.stdout == "started\n"  # what the cell printed before is kept

    async def test_close_reason_is_in_the_result(self, engine: Engine) -> None:
        s = await engine.create_session("python")
        running = await _started(s)
        await s.close(reason="the bridge was flooded")
        r = await asyncio.wait_for(running, 30)
        assert r.status == "cancelled" and "the bridge was flooded" in r.error.evalue

    async def test_engine_close_gives_session_and_one_shot_cells_a_result(self) -> None:
        cfg = python_engine_config(pools={"python": PoolConfig(min_idle=2, max_kernels=4)})
        engine = await Engine(cfg).start()
        try:
            await engine.wait_ready(timeout=120)
            s = await engine.create_session("python")
            in_session = await _started(s)
            printed = asyncio.Event()
            one_shot = asyncio.ensure_future(
                engine.execute(_SLEEP, "python", on_stdout=lambda _: printed.set())
            )
            await asyncio.wait_for(printed.wait(), 60)
        finally:
            await engine.aclose()
        for r in await asyncio.wait_for(asyncio.gather(in_session, one_shot), 30):
            assert r.status == "cancelled" and r.error.ename == "Cancelled"

    async def test_close_while_the_kernel_is_being_acquired(self) -> None:
        cfg = python_engine_config(pools={"python": PoolConfig(min_idle=0)})
        async with Engine(cfg) as engine:
            s = engine.session("python")
            pending = asyncio.ensure_future(s.execute("1"))
            await asyncio.sleep(0.05)  # waiting for a cold start
            assert s.busy and s.kernel is None
            await s.close()
            r = await asyncio.wait_for(pending, 60)
            assert r.status == "cancelled"
            assert s.kernel is None and s.state is SessionState.CLOSED


class TestCancel:
    async def test_cancel_right_after_submit_still_interrupts_the_cell(
        self, engine: Engine
    ) -> None:
        async with engine.session() as s:
            await s.execute("x = 41")
            (pid,) = s.kernel.pids
            sent = asyncio.Event()
            send = s.kernel.send_execute

            def send_and_tell(*args, **kwargs):
                msg_id = send(*args, **kwargs)
                sent.set()
                return msg_id

            s.kernel.send_execute = send_and_tell  # type: ignore[method-assign]
            # The kernel is stopped, so the cancel (and any interrupt sent at once) lands
            # before it even reads the cell: an interrupt sent then is ignored and lost.
            with _stopped(pid):
                task = asyncio.ensure_future(s.execute("import time; time.sleep(60)"))
                await asyncio.wait_for(sent.wait(), 30)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                await asyncio.sleep(0.3)
            after = await asyncio.wait_for(s.execute("x + 1"), 20)
        assert after.status == "ok" and after.text == "42"
        assert not after.state_lost and s.restarts == 0

    async def test_cancelled_stream_consumer_interrupts_the_cell(self, engine: Engine) -> None:
        async with engine.session() as s:
            await s.execute("x = 1")
            async for event in s.stream(_SLEEP):
                assert event.kind == "output"
                break  # leaves the generator: the execution is abandoned
            after = await asyncio.wait_for(s.execute("x"), 20)
        assert after.text == "1" and not after.state_lost


class TestKernelLoss:
    @pytest.mark.parametrize(
        "code", ["import os; os._exit(1)", "import os, signal; os.kill(os.getpid(), 9)"]
    )
    async def test_died_result_says_state_lost_and_counts_a_restart(
        self, engine: Engine, code: str
    ) -> None:
        async with engine.session() as s:
            await s.execute("y = 1")
            died = await s.execute(code, timeout=60)
            assert died.status == "died" and died.state_lost and s.restarts == 1
            again = await s.execute("'y' in globals()")
        assert again.text == "False" and again.state_lost and s.restarts == 1

    async def test_kernel_killed_between_cells_counts_a_restart(self, engine: Engine) -> None:
        async with engine.session() as s:
            await s.execute("v = 1")
            old = s.kernel
            psutil.Process(old.pids[0]).kill()
            for _ in range(200):
                if not old.is_alive():
                    break
                await asyncio.sleep(0.05)
            r = await s.execute("'v' in globals()")
        assert r.text == "False" and r.state_lost and s.restarts == 1

    async def test_kernel_whose_iopub_is_gone_is_replaced(self, engine: Engine) -> None:
        async with engine.session() as s:
            await s.execute("z = 1")
            # Closed in its own thread: the kernel still answers on shell, but publishes
            # nothing any more (no status, no output). Which cell is the first to find
            # iopub gone depends on whether this cell's own messages left before the close
            # (on a loaded machine they may not): exactly one of the two must say so.
            closing = await s.execute(
                "import threading\n"
                "t = get_ipython().kernel.iopub_thread\n"
                "closed = threading.Event()\n"
                "def close():\n"
                "    t.socket.close(linger=0)\n"
                "    closed.set()\n"
                "t.io_loop.add_callback(close)\n"
                "closed.wait(30)"
            )
            silent = await s.execute("print('lost'); 5", timeout=30)
            lost = [r for r in (closing, silent) if r.status == "died"]
            assert len(lost) == 1 and lost[0].state_lost and s.restarts == 1, (closing, silent)
            assert lost[0].error is not None and "iopub" in lost[0].error.evalue
            fresh = await s.execute("print('hi'); 'z' in globals()")
        assert fresh.status == "ok" and fresh.stdout == "hi\n" and fresh.text == "False"


@pytest.fixture
async def shell_engine() -> AsyncIterator[Engine]:
    cfg = EngineConfig(
        languages=("shell",),
        pools={"shell": PoolConfig(min_idle=1)},
        isolation="off",
        policy="off",
    )
    async with Engine(cfg) as engine:
        yield engine


class TestShellRestart:
    async def test_exit_reports_lost_shell_state(self, shell_engine: Engine) -> None:
        async with shell_engine.session("shell") as s:
            await s.execute("export KEPT=yes")
            r = await s.execute("exit")
            after = await s.execute("echo ${KEPT:-gone}")
        assert r.state_lost and r.status == "error" and r.error.ename == "ShellRestarted"
        assert "state" in r.error.evalue
        assert after.stdout.strip() == "gone" and not after.state_lost

    async def test_killed_bash_reports_lost_shell_state(self, shell_engine: Engine) -> None:
        async with shell_engine.session("shell") as s:
            await s.execute("export KEPT=yes")
            kernel = psutil.Process(s.kernel.pids[0])
            (bash,) = [p for p in kernel.children() if p.name() == "bash"]
            bash.kill()
            for _ in range(200):  # a zombie until bash_kernel notices; it is not our child
                if not bash.is_running() or bash.status() == psutil.STATUS_ZOMBIE:
                    break
                await asyncio.sleep(0.05)
            r = await s.execute("echo ${KEPT:-gone}")
        assert r.state_lost and r.status == "error" and r.error.ename == "ShellRestarted"
