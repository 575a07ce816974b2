"""Engines whose kernels run on a real Jupyter Enterprise Gateway 3.x on 127.0.0.1.

EG pins jupyter_server<2 and jupyter_client<7, so it runs from its own environment,
`.venv-eg` (`tests/gateway/enterprise_gateway_env.py` builds it; `make test` does), with
ipykernel 6: kernels without subshells, so without the tool bridge (it needs ipykernel 7);
they still run code, with the engine's default `tools=True`. A missing environment fails
these tests; it is never skipped silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway import enterprise_gateway_env
from gateway._gateway_support import GatewayServer, enterprise_gateway, remote

from companion_kernel import Engine, KernelStartError
from companion_kernel.gateway.handle import GatewayKernel

# Generous bounds are hang guards for a loaded 2-core machine, never timing assertions.
pytestmark = [pytest.mark.kernel, pytest.mark.timeout(240)]


def _needs_the_environment() -> None:
    missing = enterprise_gateway_env.problem()
    if missing is not None:
        pytest.fail(missing, pytrace=False)


@pytest.fixture(scope="module")
def eg() -> Iterator[GatewayServer]:
    _needs_the_environment()
    server = enterprise_gateway().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _nothing_left_on_eg(eg: GatewayServer) -> Iterator[None]:
    """Every test's engine deletes its kernels on EG when it closes."""
    assert eg.kernels() == []
    yield
    assert eg.kernels() == []


def engine_on(server: GatewayServer, **overrides: object) -> Engine:
    return Engine(remote(server.url, **overrides))  # type: ignore[arg-type]


class TestExecution:
    async def test_stateful_session_with_stdout(self, eg: GatewayServer) -> None:
        async with engine_on(eg) as engine, engine.session("python") as session:
            first = await session.execute("x = 41\nprint('x is', x)")
            assert (first.status, first.stdout) == ("ok", "x is 41\n"), first.error
            second = await session.execute("x + 1")
            assert (second.status, second.text) == ("ok", "42"), second.error
            # The kernel is EG's: its environment's interpreter and ipykernel 6, over the
            # v1 binary websocket protocol (jupyter_server 1.24 has it too).
            where = await session.execute(
                "import sys, ipykernel\nprint(sys.prefix)\nprint(ipykernel.__version__)"
            )
            prefix, version = where.stdout.split()
            assert Path(prefix).resolve() == enterprise_gateway_env.VENV
            assert version.startswith("6.")
            specs = eg.get("/api/kernelspecs")["kernelspecs"]  # type: ignore[index]
            assert set(specs) == {enterprise_gateway_env.KERNEL_NAME}
            kernel = session.kernel
            assert isinstance(kernel, GatewayKernel) and kernel.binary_protocol
            assert kernel.kernel_id in {k["id"] for k in eg.kernels()}
            # No subshells in ipykernel 6: no tool bridge, and the kernel works without it.
            no_tools = await session.execute("'tools' in globals()")
            assert (no_tools.status, no_tools.text) == ("ok", "False")

    async def test_error_result(self, eg: GatewayServer) -> None:
        async with engine_on(eg) as engine, engine.session("python") as session:
            await session.execute("x = 41")
            failed = await session.execute("print('before')\n{}['missing']")
            assert failed.status == "error" and failed.stdout == "before\n"
            assert failed.error is not None
            assert (failed.error.ename, failed.error.evalue) == ("KeyError", "'missing'")
            assert any("missing" in line for line in failed.error.traceback)
            assert not failed.state_lost
            assert (await session.execute("x + 1")).text == "42"

    async def test_input_is_answered_through_eg(self, eg: GatewayServer) -> None:
        async with engine_on(eg) as engine:
            result = await engine.execute(
                "print('hello', input('name? '))", "python", input=["remote"]
            )
            assert (result.status, result.stdout) == ("ok", "hello remote\n"), result.error


class TestInterrupts:
    async def test_timeout_interrupts_through_eg_and_keeps_state(self, eg: GatewayServer) -> None:
        async with engine_on(eg) as engine, engine.session("python") as session:
            await session.execute("x = 41")
            loop = asyncio.get_running_loop()
            started = loop.time()
            timed = await session.execute("import time\ntime.sleep(600)", timeout=2)
            assert timed.status == "timeout" and not timed.state_lost, timed.error
            assert loop.time() - started < 60  # interrupted, not waited out
            # POST /api/kernels/{id}/interrupt reached the kernel: same kernel, same state.
            assert session.restarts == 0
            after = await session.execute("x + 1")
            assert (after.status, after.text, after.state_lost) == ("ok", "42", False)

    async def test_a_kernel_ignoring_interrupts_is_replaced(self, eg: GatewayServer) -> None:
        async with engine_on(eg) as engine, engine.session("python") as session:
            await session.execute("x = 1")
            stuck = await session.execute(
                "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                "while True: time.sleep(0.05)",
                timeout=2,
            )
            assert stuck.status == "timeout" and stuck.state_lost
            after = await session.execute("'x' in globals()")
            assert (after.status, after.text, after.state_lost) == ("ok", "False", True)

    async def test_a_kernel_dying_on_eg_is_reported_and_replaced(self, eg: GatewayServer) -> None:
        # EG restarts a dead kernel itself and says so on iopub ("restarting"): the state
        # is gone, which the engine must report rather than carry on as if nothing happened.
        async with engine_on(eg) as engine, engine.session("python") as session:
            await session.execute("x = 1")
            died = await session.execute("import os\nos._exit(1)")
            assert died.status == "died" and died.state_lost, died
            after = await session.execute("'x' in globals()")
            assert (after.status, after.text, after.state_lost) == ("ok", "False", True)


class TestLifecycle:
    async def test_closing_the_engine_deletes_its_kernels_on_eg(self, eg: GatewayServer) -> None:
        async with engine_on(eg, min_idle=2) as engine:
            pool = engine.pool("python")
            await pool.wait_ready(timeout=150)
            async with engine.session("python") as session:
                assert (await session.execute("6 * 7")).text == "42"
                ours = {k.kernel_id for k in pool.kernels()}  # type: ignore[attr-defined]
                assert len(ours) >= 2 and ours <= {k["id"] for k in eg.kernels()}
        assert eg.kernels() == []


class TestRefusals:
    async def test_wrong_token(self, eg: GatewayServer) -> None:
        async with Engine(remote(eg.url, min_idle=0, token="wrong")) as engine:
            with pytest.raises(KernelStartError, match=r"refused the token \(HTTP 401\)"):
                await engine.execute("1 + 1", "python")

    async def test_a_user_eg_refuses_is_told_why(self, eg: GatewayServer) -> None:
        # EG's authorization answers 403 with its reason in the JSON body (and an empty
        # `message`): the error must carry that reason, not blame the token. The user is
        # the one the engine names in KERNEL_USERNAME (`eg` refuses "nobody").
        config = remote(eg.url, min_idle=0)
        gateway = config.gateway.model_copy(update={"kernel_env": {"KERNEL_USERNAME": "nobody"}})
        async with Engine(config.model_copy(update={"gateway": gateway})) as engine:
            with pytest.raises(KernelStartError) as raised:
                await engine.execute("1 + 1", "python")
        message = str(raised.value)
        assert "HTTP 403" in message and "refused the token" not in message
        assert "User 'nobody' is not authorized" in message

    async def test_kernel_env_reaches_the_kernel(self, eg: GatewayServer) -> None:
        config = remote(eg.url, min_idle=0)
        env = {"KERNEL_USERNAME": "alice", "KERNEL_PROJECT": "demo"}
        gateway = config.gateway.model_copy(update={"kernel_env": env})
        async with Engine(config.model_copy(update={"gateway": gateway})) as engine:
            result = await engine.execute(
                "import os; print(os.environ['KERNEL_USERNAME'], os.environ['KERNEL_PROJECT'])",
                "python",
            )
            assert (result.status, result.stdout) == ("ok", "alice demo\n"), result.error
