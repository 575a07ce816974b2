"""A dropped channels websocket is re-opened while the gateway keeps the kernel: cut
through a real TCP proxy between the engine and a real Kernel Gateway."""

from __future__ import annotations

import asyncio
import contextlib
import os

import psutil
import pytest
from gateway._gateway_support import TOKEN, GatewayServer, remote

from companion_kernel import Engine, GatewayConfig

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(300)]


class TcpProxy:
    """Forwards 127.0.0.1:port to a gateway; `cut()` drops every open connection (a
    network blip), `close()` stops listening too (the gateway unreachable)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        pumps = [
            asyncio.ensure_future(self._pump(reader, up_writer)),
            asyncio.ensure_future(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)
        self._tasks.difference_update(pumps)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def pause(self) -> None:
        """Stop listening and drop every connection: reconnects are refused."""
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        self.cut()

    async def resume(self) -> None:
        """Listen again on the same port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    def cut(self) -> int:
        """Drop every open connection (abortively, like a broken link); how many."""
        writers, self._writers = list(self._writers), set()
        for writer in writers:
            writer.transport.abort()
        return len(writers)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


@pytest.fixture
async def proxy(plain_gateway: GatewayServer):
    p = await TcpProxy(plain_gateway.port).start()
    try:
        yield p
    finally:
        await p.close()


def through(proxy: TcpProxy, **gateway: object) -> object:
    config = remote(proxy.url, min_idle=0)
    return config.model_copy(
        update={"gateway": GatewayConfig(url=proxy.url, token=TOKEN, **gateway)}
    )


async def test_a_cut_link_between_cells_keeps_the_session(
    proxy: TcpProxy, plain_gateway: GatewayServer
) -> None:
    async with Engine(through(proxy)) as engine, engine.session("python") as session:
        await session.execute("x = 41")
        assert proxy.cut() >= 2  # the websocket (both halves)
        await asyncio.sleep(0.5)
        result = await session.execute("x + 1")
        assert (result.status, result.text) == ("ok", "42"), result.error
        assert result.state_lost is False
        kernel = session._kernel
        assert kernel._reconnects >= 1 and kernel.lost is None
    assert plain_gateway.kernels() == []


async def test_a_cut_link_during_a_cell_delivers_its_output(proxy: TcpProxy) -> None:
    async with Engine(through(proxy)) as engine, engine.session("python") as session:
        await session.execute("y = 1")
        running = asyncio.ensure_future(
            session.execute("import time\ntime.sleep(2)\nprint('after the cut')\ny + 1")
        )
        await asyncio.sleep(1)
        assert proxy.cut() >= 2
        result = await asyncio.wait_for(running, 120)
        assert result.status == "ok", result.error
        assert "after the cut" in result.stdout and result.text == "2"


async def test_an_unreachable_gateway_ends_as_died_after_the_window(
    proxy: TcpProxy, plain_gateway: GatewayServer
) -> None:
    async with Engine(through(proxy, reconnect_s=2)) as engine:
        async with engine.session("python") as session:
            await session.execute("z = 1")
            running = asyncio.ensure_future(session.execute("import time; time.sleep(30)"))
            await asyncio.sleep(1)
            await proxy.close()  # nothing listens any more: every reconnect fails
            died = await asyncio.wait_for(running, 120)
            assert died.status == "died" and died.state_lost, died
            assert "reconnecting for 2s failed" in (died.error.evalue if died.error else ""), died
    for kernel in plain_gateway.kernels():  # the engine could not reach it to delete it
        plain_gateway.delete(f"/api/kernels/{kernel['id']}")
    assert plain_gateway.kernels() == []


async def test_reconnect_off_reports_the_kernel_dead_at_once(proxy: TcpProxy) -> None:
    async with Engine(through(proxy, reconnect_s=0)) as engine:
        async with engine.session("python") as session:
            await session.execute("w = 1")
            running = asyncio.ensure_future(session.execute("import time; time.sleep(30)"))
            await asyncio.sleep(1)
            proxy.cut()
            died = await asyncio.wait_for(running, 60)
            assert died.status == "died" and died.state_lost, died


def links_to(port: int) -> list[object]:
    """This process's open TCP connections to 127.0.0.1:port."""
    me = psutil.Process(os.getpid())
    listing = getattr(me, "net_connections", None) or me.connections
    return [c for c in listing(kind="tcp") if c.raddr and c.raddr[1] == port]


async def test_closing_while_reconnecting_leaves_no_socket(
    proxy: TcpProxy, plain_gateway: GatewayServer
) -> None:
    """The engine closes while a kernel is reconnecting, and the gateway comes back at that
    moment: the reconnect must not open a websocket nobody closes."""
    engine = Engine(through(proxy, reconnect_s=60))
    await engine.start()
    try:
        async with engine.session("python") as session:
            await session.execute("v = 1")
            kernel = session._kernel
            await proxy.pause()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while kernel._held is None and loop.time() < deadline:  # reconnecting
                await asyncio.sleep(0.05)
            assert kernel._held is not None
            closing = asyncio.ensure_future(engine.aclose())
            await proxy.resume()
            await asyncio.wait_for(closing, 120)
    finally:
        await engine.aclose()
    assert links_to(proxy.port) == []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while plain_gateway.kernels() and loop.time() < deadline:
        await asyncio.sleep(0.2)
    assert plain_gateway.kernels() == []
