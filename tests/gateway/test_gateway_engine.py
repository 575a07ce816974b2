"""Engines whose kernels run on real gateways started on 127.0.0.1 by these tests."""

from __future__ import annotations

import asyncio

import pytest
from gateway._gateway_support import GatewayServer, free_port, kernel_gateway, remote

from companion_kernel import Engine, KernelStartError
from companion_kernel.gateway import _wire
from companion_kernel.gateway.handle import GatewayKernel

# Generous bounds are hang guards for a loaded 2-core machine, never timing assertions.
pytestmark = [pytest.mark.kernel, pytest.mark.timeout(240)]


@pytest.fixture(params=["plain_gateway", "our_gateway"])
def server(request: pytest.FixtureRequest) -> GatewayServer:
    return request.getfixturevalue(request.param)


class TestExecution:
    async def test_three_languages_state_and_nothing_left(self, server: GatewayServer) -> None:
        config = remote(server.url, ("python", "javascript", "shell"))
        async with Engine(config) as engine:
            py = await engine.execute("print(6 * 7)", "python")
            js = await engine.execute("console.log(6 * 7)", "javascript")
            sh = await engine.execute("echo $((6 * 7))", "shell")
            assert (py.status, py.stdout) == ("ok", "42\n"), py.error
            assert (js.status, js.stdout) == ("ok", "42\n"), js.error
            assert (sh.status, sh.stdout) == ("ok", "42\n"), sh.error
            async with engine.session("python") as session:
                await session.execute("x = 41")
                assert (await session.execute("x + 1")).text == "42"
                assert session.workspace is None  # remote kernels have no local workspace
            async with engine.session("javascript") as session:
                await session.execute("let y = 41")
                assert (await session.execute("y + 1")).text == "42"
            await engine.wait_ready(timeout=150)
            kernels = [k for pool in engine._pools.values() for k in pool.kernels()]
            assert kernels and all(isinstance(k, GatewayKernel) for k in kernels)
            assert all(k.binary_protocol for k in kernels)
            assert server.kernels()
        assert server.kernels() == []

    async def test_streaming_validator_and_big_output(self, our_gateway: GatewayServer) -> None:
        # 3 MB in one message: past websockets' usual 1 MiB frame limit. (A plain Kernel
        # Gateway drops it unless started with --ZMQChannelsWebsocketConnection.limit_rate=False.)
        config = remote(our_gateway.url, max_output_bytes=4 * 1024 * 1024).model_copy(
            update={"policy": "standard"}
        )
        async with Engine(config) as engine:
            seen: list[str] = []
            result = await engine.execute(
                "import sys\nfor i in range(3): print(i, flush=True)",
                "python",
                on_stdout=seen.append,
            )
            assert result.status == "ok" and "".join(seen) == "0\n1\n2\n"
            rejected = await engine.execute("import os; os.system('id')", "python")
            assert rejected.status == "rejected"
            big = await engine.execute("print('x' * 3_000_000)", "python")
            assert big.status == "ok" and len(big.stdout) == 3_000_001 and not big.truncated

    async def test_input_is_answered_through_the_gateway(self, our_gateway: GatewayServer) -> None:
        async with Engine(remote(our_gateway.url)) as engine:
            result = await engine.execute(
                "print('hello', input('name? '))", "python", input=["remote"]
            )
            assert (result.status, result.stdout) == ("ok", "hello remote\n"), result.error

    async def test_tools_from_remote_kernels(self, our_gateway: GatewayServer) -> None:
        async with Engine(remote(our_gateway.url, ("python", "javascript"))) as engine:
            py = await engine.execute("print(tools.add(2, 3))", "python")
            assert (py.status, py.stdout) == ("ok", "5\n"), py.error
            js = await engine.execute("console.log(await tools.add(2, 3))", "javascript")
            assert (js.status, js.stdout) == ("ok", "5\n"), js.error

    async def test_legacy_json_frames(
        self, plain_gateway: GatewayServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A subprotocol the server does not know: it falls back to legacy JSON text frames.
        monkeypatch.setattr(_wire, "SUBPROTOCOL", "v0.unknown.example")
        async with Engine(remote(plain_gateway.url)) as engine:
            async with engine.session("python") as session:
                assert session.kernel is not None
                assert not session.kernel.binary_protocol  # type: ignore[attr-defined]
                await session.execute("x = 2")
                result = await session.execute("print(tools.add(x, 3)); x * 21")
                assert (result.status, result.stdout, result.text) == ("ok", "5\n", "42")


class TestInterrupts:
    async def test_interrupt_and_timeout_keep_state(self, server: GatewayServer) -> None:
        async with Engine(remote(server.url)) as engine:
            async with engine.session("python") as session:
                await session.execute("x = 1")
                running = asyncio.ensure_future(
                    session.execute("import time\nwhile True: time.sleep(0.05)")
                )
                await asyncio.sleep(2)
                await session.interrupt()
                interrupted = await asyncio.wait_for(running, 60)
                assert interrupted.status == "error" and not interrupted.state_lost
                timed = await session.execute("while True: time.sleep(0.05)", timeout=2)
                assert timed.status == "timeout" and not timed.state_lost, timed.error
                assert (await session.execute("x + 41")).text == "42"

    async def test_timeout_escalates_to_a_new_kernel(self, plain_gateway: GatewayServer) -> None:
        async with Engine(remote(plain_gateway.url)) as engine:
            async with engine.session("python") as session:
                await session.execute("x = 1")
                stuck = await session.execute(
                    "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                    "while True: time.sleep(0.05)",
                    timeout=2,
                )
                assert stuck.status == "timeout" and stuck.state_lost
                after = await session.execute("'x' in globals()")
                assert (after.status, after.text, after.state_lost) == ("ok", "False", True)


class TestFailures:
    async def test_wrong_token_is_refused(self, plain_gateway: GatewayServer) -> None:
        config = remote(plain_gateway.url, min_idle=0, token="wrong")
        async with Engine(config) as engine:
            with pytest.raises(KernelStartError, match="refused the token"):
                await engine.execute("1 + 1", "python")

    async def test_gateway_killed_during_execution(self) -> None:
        server = kernel_gateway().start()
        try:
            async with Engine(remote(server.url)) as engine:
                async with engine.session("python") as session:
                    await session.execute("x = 1")
                    running = asyncio.ensure_future(session.execute("import time; time.sleep(60)"))
                    await asyncio.sleep(2)
                    server.kill()
                    died = await asyncio.wait_for(running, 60)
                    assert died.status == "died" and died.state_lost, died
                    server.start()  # back on the same port: the pool recovers
                    after = await session.execute("'x' in globals()")
                    assert (after.status, after.text) == ("ok", "False"), after.error
                    assert (await engine.execute("6 * 7", "python")).text == "42"
            assert server.kernels() == []
        finally:
            server.stop()


class TestSeveralGateways:
    async def test_spread_and_one_down(
        self, plain_gateway: GatewayServer, our_gateway: GatewayServer
    ) -> None:
        down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        urls = [down, plain_gateway.url, our_gateway.url]
        async with Engine(remote(urls, min_idle=2)) as engine:
            pool = engine.pool("python")
            await pool.wait_ready(timeout=150)
            placed = {k.gateway.url for k in pool.kernels()}  # type: ignore[attr-defined]
            assert placed == {plain_gateway.url, our_gateway.url}
            results = await asyncio.gather(*(engine.execute(f"{i} * 2") for i in range(4)))
            assert [r.text for r in results] == ["0", "2", "4", "6"]
            assert all(r.status == "ok" for r in results)
