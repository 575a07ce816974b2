"""Sessions on real ipykernels: state, streaming, timeouts, crashes, caps, ordering."""

from __future__ import annotations

import asyncio
import time

import pytest
from _support import python_engine_config

from companion_kernel import Engine, SessionClosed, SessionState

pytestmark = pytest.mark.kernel


async def test_state_persists_and_result_fields(engine: Engine) -> None:
    async with engine.session("python") as s:
        r1 = await s.execute("x = 41\nprint('hello')")
        r2 = await s.execute("x + 1")
    assert r1.status == "ok" and r1.stdout == "hello\n" and r1.result is None
    assert r2.status == "ok" and r2.text == "42" and r2.result.data["text/plain"] == "42"
    assert r2.execution_count == r1.execution_count + 1
    assert r2.session_id == s.id and r2.duration_s > 0


async def test_error_result_has_plain_traceback(engine: Engine) -> None:
    async with engine.session() as s:
        r = await s.execute("def f():\n    1/0\nf()")
    assert r.status == "error"
    assert r.error.ename == "ZeroDivisionError"
    assert all("\x1b[" not in line for line in r.error.traceback)
    assert any("1/0" in line for line in r.error.traceback)


async def test_rich_outputs_update_and_clear(engine: Engine) -> None:
    code = (
        "from IPython.display import display, HTML, clear_output\n"
        "h = display(HTML('<b>0</b>'), display_id=True)\n"
        "h.update(HTML('<b>100</b>'))\n"
        "print('a')\nclear_output(wait=True)\nprint('b')\n"
    )
    async with engine.session() as s:
        r = await s.execute(code)
        r2 = await s.execute("display(HTML('<i>x</i>'))")
    assert r.status == "ok", r.error
    assert r.stdout == "b\n"
    assert r2.outputs[0].data["text/html"] == "<i>x</i>"


async def test_update_display_keeps_single_output(engine: Engine) -> None:
    code = (
        "from IPython.display import display\n"
        "h = display('start', display_id=True)\n"
        "for i in range(3): h.update(f'step {i}')\n"
    )
    async with engine.session() as s:
        r = await s.execute(code)
    assert len(r.outputs) == 1
    assert r.outputs[0].data["text/plain"] == "'step 2'"


async def test_first_chunk_streams_before_cell_ends(engine: Engine) -> None:
    arrivals: list[tuple[str, float]] = []
    async with engine.session() as s:
        r = await s.execute(
            "import time, sys\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')",
            on_stdout=lambda t: arrivals.append((t, time.monotonic())),
        )
        done = time.monotonic()
    assert r.stdout == "first\nsecond\n"
    first_at = next(at for text, at in arrivals if "first" in text)
    # Ordering, not speed: the first chunk arrived while the cell was still sleeping.
    assert done - first_at > 0.5


async def test_stream_iterator_yields_outputs_then_done(engine: Engine) -> None:
    async with engine.session() as s:
        events = [e async for e in s.stream("print(1)\nprint(2)\n3")]
    assert events[-1].kind == "done" and events[-1].result.text == "3"
    outputs = [e.output for e in events if e.kind == "output"]
    assert "".join(o.text for o in outputs if o.output_type == "stream") == "1\n2\n"


async def test_timeout_interrupts_and_keeps_state(engine: Engine) -> None:
    async with engine.session() as s:
        await s.execute("x = 7")
        r = await s.execute("while True: pass", timeout=1)
        after = await s.execute("x")
    assert r.status == "timeout" and not r.state_lost
    assert "interrupted" in r.error.evalue
    assert after.text == "7" and not after.state_lost


async def test_sigint_ignoring_loop_escalates_to_restart() -> None:
    async with Engine(python_engine_config(interrupt_grace_s=1.0)) as engine:
        async with engine.session() as s:
            await s.execute("x = 7")
            first_kernel = s.kernel
            r = await s.execute(
                "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass",
                timeout=1,
            )
            after = await s.execute("print(1)\n'x' in globals()")
    assert r.status == "timeout" and r.state_lost
    assert "replaced" in r.error.evalue
    assert after.status == "ok" and after.text == "False"
    assert s.restarts == 1 and s.kernel is not first_kernel


@pytest.mark.parametrize(
    "code",
    ["import os; os._exit(1)", "import ctypes; ctypes.string_at(0)"],
    ids=["os_exit", "segfault"],
)
async def test_dead_kernel_reported_promptly_and_session_recovers(
    engine: Engine, code: str
) -> None:
    async with engine.session() as s:
        await s.execute("y = 1")
        r = await s.execute(code, timeout=60)
        assert r.status == "died" and r.state_lost and s.restarts == 1
        assert "died" in r.error.evalue
        # Far below the 60 s timeout: death is detected from the process, not the deadline.
        assert r.duration_s < 30
        assert s.state is SessionState.DEAD
        again = await s.execute("'y' in globals()")
    assert again.status == "ok" and again.text == "False" and again.state_lost


async def test_executions_are_queued_in_order(engine: Engine) -> None:
    async with engine.session() as s:
        await s.execute("log = []")
        codes = [f"import time; time.sleep(0.05 * ({i} % 2)); log.append({i})" for i in range(6)]
        results = await asyncio.gather(*(s.execute(c) for c in codes))
        final = await s.execute("log")
    assert all(r.status == "ok" for r in results)
    assert final.text == "[0, 1, 2, 3, 4, 5]"
    counts = [r.execution_count for r in results]
    assert counts == sorted(counts)


async def test_output_cap_truncates_but_cell_runs_to_end() -> None:
    async with Engine(python_engine_config(max_output_bytes=64 * 1024)) as engine:
        async with engine.session() as s:
            r = await s.execute(
                "for i in range(2000):\n    print('x' * 1000)\ndone = True", timeout=60
            )
            after = await s.execute("done")
    assert r.status == "ok" and r.truncated
    assert "output truncated" in r.stdout
    assert len(r.stdout) < 64 * 1024 + 500
    assert after.text == "True"


async def test_restart_loses_state(engine: Engine) -> None:
    async with engine.session() as s:
        await s.execute("z = 3")
        await s.restart()
        r = await s.execute("'z' in globals()")
    assert r.text == "False" and r.state_lost and s.restarts == 1


async def test_closed_session_refuses(engine: Engine) -> None:
    s = await engine.create_session("python")
    await s.close()
    assert s.closed
    with pytest.raises(SessionClosed):
        await s.execute("1")


async def test_stdin_is_not_available(engine: Engine) -> None:
    r = await engine.execute("input('name? ')", timeout=10)
    assert r.status == "error"


async def test_kernel_killed_between_executions_is_replaced_transparently(engine: Engine) -> None:
    import psutil

    async with engine.session() as s:
        await s.execute("v = 1")
        for pid in s.kernel.pids:
            psutil.Process(pid).kill()
        for _ in range(100):  # the kill is asynchronous; wait until the process is gone
            if not s.kernel.is_alive():
                break
            await asyncio.sleep(0.05)
        r = await s.execute("'v' in globals()")
    assert r.status == "ok" and r.text == "False" and r.state_lost
