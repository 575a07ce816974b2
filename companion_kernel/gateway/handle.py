"""GatewayKernel: a kernel on a Jupyter Kernel (or Enterprise) Gateway, as a `KernelHandle`.

REST starts, interrupts and deletes the kernel; one websocket carries its channels. The
connection is the kernel's lifeline: when the websocket closes, or the gateway reports the
kernel restarted (it died there) or gone (culled), the handle reports what a dead local
kernel reports (`is_alive()` False), so sessions recover the same way (`state_lost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from typing import Any

from jupyter_client.session import Session
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, WebSocketError

from .._kernel import DEFAULT_MAX_MESSAGE_BYTES, KernelHandle
from ..errors import KernelStartError
from . import _wire
from .client import Gateway, GatewayRequestError, Gateways

log = logging.getLogger(__name__)

__all__ = ["GatewayKernel"]

# iopub messages read ahead of the engine. Past this the reader stops reading the websocket,
# so a flood waits on the gateway (and in the kernel, under its own limits), not here.
_IOPUB_QUEUE = 256
# Replies nobody reads are stale (an abandoned cell's): past this the oldest is dropped.
_REPLY_QUEUE = 64
# Bytes written to the websocket but not yet sent; past this the gateway is not reading and
# later sends are dropped (the kernel is marked stalled), as for a local kernel.
_BACKLOG_BYTES = 16 * 1024 * 1024
# ZeroMQ's frame cap for local kernels, mirrored: websocket frames beyond it end the link.
_MIN_FRAME_BYTES = 64 * 1024 * 1024
_HANDSHAKE_RETRY_S = 1.0
_SHUTDOWN_TIMEOUT_S = 10.0
_CLOSE_WAIT_S = 2.0


class GatewayKernel(KernelHandle):
    """A kernel started on one of `gateways`, reached over REST and a channels websocket."""

    def __init__(
        self,
        language: str,
        gateways: Gateways,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.language = language
        self.gateway: Gateway | None = None
        """The gateway the kernel runs on (None until started)."""
        self.kernel_id: str | None = None
        """The kernel's id on its gateway."""
        self._gateways = gateways
        self._max_message_bytes = max_message_bytes
        # Only builds and packs messages: the websocket carries no signatures (the gateway
        # signs what it forwards to the kernel), so the key is never used.
        self._session = Session(key=uuid.uuid4().bytes, username="companion")
        self._ws: WebSocketClientConnection | None = None
        self._v1 = True
        self._reader: asyncio.Task[None] | None = None
        self._queues: dict[str, asyncio.Queue[dict[str, Any] | None]] = {}
        self._lost: str | None = None
        self._closed = False
        self._counted = False
        self._pending_bytes = 0
        self._stalled: str | None = None
        self._dropped = 0
        self._quickack: Callable[[], None] = _nothing
        self._held: list[bytes | str] | None = None
        """Frames sent while the websocket is being reconnected (None: connected)."""
        self._reconnects = 0
        self._tearing_down = False

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def lost(self) -> str | None:
        """Why the kernel counts as dead (connection lost, restarted, culled), else None."""
        return self._lost

    @property
    def binary_protocol(self) -> bool:
        """True when the websocket speaks `v1.kernel.websocket.jupyter.org`."""
        return self._v1

    async def start(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        failures: list[str] = []
        tried: set[int] = set()
        # Re-ranked after every failure: loads change while this start tries a dead gateway.
        while (gateway := self._next_gateway(tried)) is not None:
            tried.add(gateway.index)
            remaining = deadline - loop.time()
            if remaining <= 0:
                failures.append("the start timeout ran out")
                break
            gateway.kernels += 1
            self._counted = True
            self.gateway = gateway
            try:
                async with asyncio.timeout(remaining):
                    await self._start_on(gateway, deadline)
            except asyncio.CancelledError:
                await self._teardown()
                raise
            except Exception as exc:
                await self._teardown()
                reason = _reason(exc, remaining)
                self._gateways.mark_down(gateway, reason)
                failures.append(f"{gateway.url}: {reason}")
                log.warning(
                    "a %s kernel failed to start on %s: %s", self.language, gateway.url, reason
                )
                continue
            self._gateways.mark_up(gateway)
            return
        raise KernelStartError(
            f"the {self.language} kernel could not start on any gateway: {'; '.join(failures)}"
        )

    def _next_gateway(self, tried: set[int]) -> Gateway | None:
        return next((g for g in self._gateways.order() if g.index not in tried), None)

    async def _start_on(self, gateway: Gateway, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        gateways = self._gateways
        name = await gateways.kernel_name(gateway, self.language)
        post = asyncio.ensure_future(
            gateways.request(
                f"{gateway.url}/api/kernels",
                "POST",
                {
                    "name": name,
                    **({"env": env} if (env := dict(gateways.config.kernel_env)) else {}),
                },
                timeout=max(deadline - loop.time(), 0.1),
            )
        )
        try:
            model = await asyncio.shield(post)
        except asyncio.CancelledError:
            # The gateway creates the kernel whether or not we wait for its answer (the
            # pool closing, a start timeout): learn its id so the teardown deletes it.
            with contextlib.suppress(Exception):
                orphan = await asyncio.wait_for(post, _SHUTDOWN_TIMEOUT_S)
                self.kernel_id = str(orphan["id"])
            raise
        self.kernel_id = str(model["id"])
        self._ws = await self._open_channels(gateway, max(deadline - loop.time(), 0.1))
        self._queues = {
            "iopub": asyncio.Queue(_IOPUB_QUEUE),
            "shell": asyncio.Queue(_REPLY_QUEUE),
            "control": asyncio.Queue(_REPLY_QUEUE),
            "stdin": asyncio.Queue(_REPLY_QUEUE),
        }
        self._lost = None
        self._reader = asyncio.ensure_future(self._read_loop(self._ws))
        await self._handshake(deadline)

    async def _open_channels(self, gateway: Gateway, timeout: float) -> WebSocketClientConnection:
        """Open the kernel's channels websocket (its session id kept across reconnects,
        so the gateway replays what it buffered while the link was down)."""
        assert self.kernel_id is not None
        ping = self._gateways.config.ping_interval_s
        ws = await self._gateways.connect(
            gateway.channels_url(self.kernel_id, self._session.session),
            timeout,
            subprotocols=[_wire.SUBPROTOCOL],
            max_message_size=max(4 * self._max_message_bytes, _MIN_FRAME_BYTES),
            ping_interval=ping,
            ping_timeout=ping,
        )
        if ws.protocol is not None:
            ws.protocol.set_nodelay(True)
        self._quickack = _quickack_setter(ws)
        self._v1 = ws.selected_subprotocol == _wire.SUBPROTOCOL
        return ws

    async def _handshake(self, deadline: float) -> None:
        """Wait until the kernel answers `kernel_info` (asked again every second)."""
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            msg_id = self.send_shell("kernel_info_request", {})
            until = min(loop.time() + _HANDSHAKE_RETRY_S, deadline)
            while loop.time() < until:
                reply = await self.get_shell(until - loop.time())
                if reply is None and self._lost is not None:
                    raise ConnectionError(self._lost)
                if reply is not None and reply["parent_header"].get("msg_id") == msg_id:
                    iopub = self._queues["iopub"]
                    while not iopub.empty():  # the handshake's own busy/idle
                        iopub.get_nowait()
                    return
        raise TimeoutError("the kernel did not answer kernel_info")

    async def shutdown(self, now: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        self._mark_lost("the kernel was shut down")
        await self._teardown()

    async def _teardown(self) -> None:
        """Close the websocket, delete the remote kernel and give the gateway slot back."""
        self._tearing_down = True  # the reader must not reconnect from here on
        reader, self._reader = self._reader, None
        ws, self._ws = self._ws, None
        if ws is not None and self._held is None:  # connected (not reconnecting)
            protocol = ws.protocol
            with contextlib.suppress(Exception):
                ws.close()
            if reader is not None:  # it ends when the server answers the close
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(asyncio.shield(reader), _CLOSE_WAIT_S)
            _close_stream(protocol)  # no answer: do not leave the socket to the GC
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        for left in (ws, self._ws):  # the old link; one a reconnect opened meanwhile
            if left is not None:
                _close_now(left)
        self._ws = None
        self._tearing_down = False
        gateway, kernel_id, self.kernel_id = self.gateway, self.kernel_id, None
        if gateway is not None and kernel_id is not None:
            try:
                await asyncio.wait_for(
                    self._gateways.request(
                        gateway.kernel_url(kernel_id), "DELETE", timeout=_SHUTDOWN_TIMEOUT_S
                    ),
                    _SHUTDOWN_TIMEOUT_S + 1,
                )
            except GatewayRequestError as exc:
                if exc.status != 404:  # 404: gone already (culled, or the gateway restarted)
                    log.warning("could not delete kernel %s on %s: %s", kernel_id, gateway.url, exc)
            except Exception as exc:  # a stuck gateway must not hold up the engine
                log.warning("could not delete kernel %s on %s: %s", kernel_id, gateway.url, exc)
        if self._counted and gateway is not None:
            gateway.kernels -= 1
        self._counted = False
        self.gateway = None

    # -- receiving -----------------------------------------------------------------------------

    async def _read_loop(self, ws: WebSocketClientConnection) -> None:
        reason = "the websocket to the gateway closed"
        try:
            while True:
                reason, final = await self._read(ws)
                if final or self._closed or self._tearing_down:
                    break
                reconnected = await self._reconnect(reason)
                if isinstance(reconnected, str):
                    reason = reconnected
                    break
                ws = reconnected
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"reading from the gateway failed: {exc}"
        finally:
            self._mark_lost(reason)

    async def _read(self, ws: WebSocketClientConnection) -> tuple[str, bool]:
        """Queue messages until the link ends; why it ended, and whether for good (the
        kernel died or restarted on the gateway) rather than a link to reconnect."""
        reason = "the websocket to the gateway closed"
        try:
            while True:
                data = await ws.read_message()
                self._quickack()
                if data is None:
                    if ws.close_code is not None:
                        detail = f": {ws.close_reason}" if ws.close_reason else ""
                        reason += f" (code {ws.close_code}{detail})"
                    return reason, False
                try:
                    if self._v1 and isinstance(data, bytes):
                        channel, msg = _wire.decode_v1(data, self._max_message_bytes)
                    else:
                        channel, msg = _wire.decode_legacy(data, self._max_message_bytes)
                except ValueError as exc:
                    self._warn_dropped(exc)
                    continue
                if channel == "iopub":
                    state = msg["content"].get("execution_state")
                    if state in ("restarting", "dead") and not msg["parent_header"]:
                        if state == "restarting":
                            return "the gateway restarted the kernel (it died there)", True
                        return "the gateway reports the kernel dead", True
                    await self._queues["iopub"].put(msg)
                elif channel in ("shell", "control", "stdin"):
                    queue = self._queues[channel]
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait(msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return f"reading from the gateway failed: {exc}", False

    async def _reconnect(self, reason: str) -> WebSocketClientConnection | str:
        """Open the channels again while the gateway still has the kernel; the new
        websocket, or why the kernel counts as lost. Frames sent meanwhile are held and
        written once connected (the gateway buffers the kernel's output for the session)."""
        window = self._gateways.config.reconnect_s
        gateway, kernel_id = self.gateway, self.kernel_id
        if window <= 0 or gateway is None or kernel_id is None:
            return reason
        loop = asyncio.get_running_loop()
        deadline = loop.time() + window
        if self._held is None:  # else sends already failed on the dropped link: keep them
            self._held = []
        if self._ws is not None:
            _close_now(self._ws)
        log.info("%s kernel %s: %s; reconnecting", self.language, self.id, reason)
        pause, last = 0.1, reason
        try:
            while (left := deadline - loop.time()) > 0:
                try:
                    model = await self._gateways.request(
                        gateway.kernel_url(kernel_id), timeout=min(left, _SHUTDOWN_TIMEOUT_S)
                    )
                    if (model or {}).get("execution_state") == "dead":
                        return "the gateway reports the kernel dead"
                    ws = await self._open_channels(gateway, max(deadline - loop.time(), 0.1))
                except (GatewayRequestError, HTTPClientError) as exc:
                    status = exc.status if isinstance(exc, GatewayRequestError) else exc.code
                    if status == 404:  # the kernel, or its channels (upgrade refused)
                        return "the gateway no longer has the kernel (culled or shut down)"
                    last = str(exc)
                except (OSError, TimeoutError, WebSocketError) as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if self._closed or self._tearing_down:
                        _close_now(ws)
                        return "the kernel was shut down"
                    self._ws = ws
                    self._reconnects += 1
                    held, self._held = self._held, None
                    for frame in held:
                        self._write(ws, frame)
                    log.info("%s kernel %s: reconnected", self.language, self.id)
                    return ws
                await asyncio.sleep(min(pause, max(deadline - loop.time(), 0)))
                pause = min(pause * 2, 2.0)
            return f"{reason}; reconnecting for {window:g}s failed ({last})"
        finally:
            self._held = None

    def _mark_lost(self, reason: str) -> None:
        if self._lost is None:
            self._lost = reason
            if not self._closed:
                log.warning("%s kernel %s: %s", self.language, self.id, reason)
        for queue in self._queues.values():  # wake whoever waits: nothing more will come
            if not queue.full():
                queue.put_nowait(None)

    def _warn_dropped(self, exc: ValueError) -> None:
        self._dropped += 1
        if self._dropped <= 5 or self._dropped % 1000 == 0:
            log.warning(
                "dropped a message from kernel %s (%d so far): %s", self.id, self._dropped, exc
            )

    async def _get(self, channel: str, timeout: float) -> dict[str, Any] | None:
        queue = self._queues.get(channel)
        if queue is None:
            return None
        try:
            return queue.get_nowait()
        except asyncio.QueueEmpty:
            pass
        if timeout <= 0 or self._lost is not None:
            return None
        try:
            async with asyncio.timeout(timeout):
                return await queue.get()
        except TimeoutError:
            return None

    async def get_iopub(self, timeout: float) -> dict[str, Any] | None:
        return await self._get("iopub", timeout)

    async def get_shell(self, timeout: float) -> dict[str, Any] | None:
        return await self._get("shell", timeout)

    async def get_stdin(self, timeout: float) -> dict[str, Any] | None:
        return await self._get("stdin", timeout)

    def send_stdin(self, msg_type: str, content: dict[str, Any], parent: dict[str, Any]) -> None:
        self._send("stdin", self._session.msg(msg_type, content, parent=parent["header"]))

    async def control_request(
        self, msg_type: str, content: dict[str, Any], timeout: float = 10.0
    ) -> dict[str, Any] | None:
        msg = self._session.msg(msg_type, content)
        self._send("control", msg)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            reply = await self._get("control", max(deadline - loop.time(), 0))
            if reply is None or reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return reply

    # -- sending -------------------------------------------------------------------------------

    def send_shell(
        self, msg_type: str, content: dict[str, Any], *, subshell_id: str | None = None
    ) -> str:
        msg = self._session.msg(msg_type, content)
        if subshell_id is not None:
            msg["header"]["subshell_id"] = subshell_id
        self._send("shell", msg)
        return msg["header"]["msg_id"]

    def _send(self, channel: str, msg: dict[str, Any]) -> None:
        """Write without waiting; dropped once the link is lost or the gateway stalled."""
        ws = self._ws
        if ws is None or self._lost is not None or self._stalled is not None:
            return
        if self._v1:
            pack = self._session.pack
            parts = [pack(msg[k]) for k in ("header", "parent_header", "metadata", "content")]
            frame: bytes | str = _wire.encode_v1(channel, parts)
        else:
            frame = _wire.encode_legacy(channel, msg)
        if self._held is not None:  # reconnecting
            self._hold(frame)
            return
        self._write(ws, frame)

    def _hold(self, frame: bytes | str) -> None:
        """Keep a frame for the reconnected link (bounded like the send backlog)."""
        assert self._held is not None
        if self._pending_bytes + sum(map(len, self._held)) + len(frame) > _BACKLOG_BYTES:
            self._stalled = "the link to the gateway was down with too much to send"
            log.warning("kernel %s: %s", self.id, self._stalled)
            return
        self._held.append(frame)

    def _write(self, ws: WebSocketClientConnection, frame: bytes | str) -> None:
        size = len(frame)
        if self._pending_bytes + size > _BACKLOG_BYTES:
            self._stalled = f"{self._pending_bytes:,} bytes were waiting for the gateway to read"
            log.warning("kernel %s stopped reading its messages: %s", self.id, self._stalled)
            return
        try:
            future = ws.write_message(frame, binary=isinstance(frame, bytes))
        except WebSocketClosedError:
            # Dropped before the reader noticed: kept for the reconnect it is about to make.
            if self._lost is None and not self._tearing_down:
                if self._held is None:
                    self._held = []
                self._hold(frame)
            return
        self._pending_bytes += size

        def written(done: Any) -> None:
            self._pending_bytes -= size
            if not done.cancelled() and done.exception() is not None:
                log.debug("writing to kernel %s failed: %s", self.id, done.exception())

        future.add_done_callback(written)

    @property
    def stalled(self) -> str | None:
        return self._stalled

    # -- state ---------------------------------------------------------------------------------

    def is_alive(self) -> bool:
        return not self._closed and self._ws is not None and self._lost is None

    async def heartbeat(self, timeout: float = 1.0) -> bool:
        """The gateway still has the kernel (not culled, not dead) and the link is up."""
        gateway, kernel_id = self.gateway, self.kernel_id
        if not self.is_alive() or gateway is None or kernel_id is None:
            return False
        try:
            model = await self._gateways.request(gateway.kernel_url(kernel_id), timeout=timeout)
        except GatewayRequestError as exc:
            if exc.status == 404:
                self._mark_lost("the gateway no longer has the kernel (culled or shut down)")
            return False
        if (model or {}).get("execution_state") == "dead":
            self._mark_lost("the gateway reports the kernel dead")
            return False
        return self.is_alive()

    async def interrupt(self) -> None:
        gateway, kernel_id = self.gateway, self.kernel_id
        if not self.is_alive() or gateway is None or kernel_id is None:
            return
        with contextlib.suppress(GatewayRequestError):
            await self._gateways.request(
                gateway.kernel_url(kernel_id, "/interrupt"), "POST", timeout=_SHUTDOWN_TIMEOUT_S
            )


def _close_stream(protocol: Any) -> None:
    stream = getattr(protocol, "stream", None)
    if stream is not None and not stream.closed():
        stream.close()


def _close_now(ws: WebSocketClientConnection) -> None:
    """Close a websocket and its socket at once (no waiting for the server's answer)."""
    protocol = ws.protocol
    with contextlib.suppress(Exception):
        ws.close()
    _close_stream(protocol)


def _nothing() -> None:
    return None


def _quickack_setter(ws: WebSocketClientConnection) -> Callable[[], None]:
    """A call that re-arms TCP_QUICKACK on the websocket's socket (Linux; else a no-op).

    Servers that leave Nagle's algorithm on (a plain Kernel Gateway) hold each small frame
    until the previous one is acknowledged, and delayed ACKs make that ~40 ms per cell.
    Acknowledging at once removes the wait; the kernel clears the flag, so it is re-armed
    after every message read.
    """
    option = getattr(socket, "TCP_QUICKACK", None)
    stream = getattr(getattr(ws, "protocol", None), "stream", None)
    sock = getattr(stream, "socket", None)
    if option is None or sock is None:
        return _nothing

    def arm() -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, 1)

    arm()
    return arm


def _reason(exc: BaseException, budget: float) -> str:
    if isinstance(exc, GatewayRequestError) and exc.status == 401:
        return "the gateway refused the token (HTTP 401); check GatewayConfig.token"
    if isinstance(exc, GatewayRequestError) and exc.status == 403:
        # A wrong token on some servers, but also a policy saying no: Enterprise Gateway's
        # user authorization (KERNEL_USERNAME), kernel limits. What the gateway said tells.
        said = f": {exc.server_message}" if exc.server_message else ""
        return (
            f"the gateway refused the request (HTTP 403{said}); "
            "check GatewayConfig.token and the gateway's limits and user policy"
        )
    if isinstance(exc, TimeoutError):
        return f"no ready kernel within {budget:.3g}s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
