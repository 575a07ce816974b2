"""Kernel handles: one running kernel as the engine sees it, local now, remote later.

The pool and sessions talk only to `KernelHandle`; `LocalKernel` implements it with
jupyter_client's `AsyncKernelManager` over the `ipc` transport. A gateway-backed handle
can implement the same methods without a local process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import json
import logging
import os
import signal
import uuid
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import zmq
import zmq.asyncio
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from .errors import KernelStartError
from .sandbox import remove_tree

log = logging.getLogger(__name__)

__all__ = ["KernelHandle", "LocalKernel", "ProcessTracker"]

# Unread messages ZeroMQ may queue on our side of each kernel socket (its default is 1000).
# A kernel that floods output would otherwise park up to 1000 messages of any size in the
# engine's memory; past this cap ZeroMQ stops reading, so the backlog stays in the kernel,
# under its own memory limit, and its publisher drops what does not fit.
_RCV_HWM = 32
# Largest message (all frames after the routing identities) decoded by default. Bigger ones
# are dropped before any decoding, and their execution is marked truncated.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Frames this big are refused by ZeroMQ itself, before it allocates them (it then drops the
# connection, which reconnects): the second layer behind the check above.
_MIN_ZMQ_MAXMSGSIZE = 64 * 1024 * 1024
# A message's header and parent header are small; bigger ones are not read at all.
_MAX_HEADER_BYTES = 64 * 1024
# Sends to a kernel never block the event loop (a blocking zmq send to a kernel that stops
# reading froze every session). ZeroMQ queues at most _SND_HWM messages per socket; past that
# the engine keeps a small backlog of its own, retried on a timer. A kernel that lets the
# backlog overflow is not reading its channels (a blocked comm handler while it floods the
# tool bridge): it is marked `stalled` and later sends to it are dropped.
_SND_HWM = 64
_BACKLOG_MESSAGES = 1024
_BACKLOG_BYTES = 16 * 1024 * 1024
_RETRY_S = 0.05


class KernelHandle(ABC):
    """The operations the engine needs from one kernel, wherever it runs."""

    id: str
    language: str

    @abstractmethod
    async def start(self, timeout: float) -> None:
        """Start the kernel and wait until it answers `kernel_info`."""

    def send_execute(
        self,
        code: str,
        *,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: dict[str, str] | None = None,
        allow_stdin: bool = False,
    ) -> str:
        """Send an `execute_request`; return its msg_id. With `allow_stdin` the kernel may
        ask for input (`input_request` on the stdin channel, see `get_stdin`)."""
        content = {
            "code": code,
            "silent": silent,
            "store_history": store_history,
            "user_expressions": user_expressions or {},
            "allow_stdin": allow_stdin,
            "stop_on_error": False,
        }
        return self.send_shell("execute_request", content)

    @abstractmethod
    def send_shell(
        self, msg_type: str, content: dict[str, Any], *, subshell_id: str | None = None
    ) -> str:
        """Send any other shell message (e.g. `comm_msg`), optionally to a subshell."""

    @abstractmethod
    async def control_request(
        self, msg_type: str, content: dict[str, Any], timeout: float = 10.0
    ) -> dict[str, Any] | None:
        """Send a control-channel request and return its reply (None on timeout)."""

    @abstractmethod
    async def get_iopub(self, timeout: float) -> dict[str, Any] | None:
        """Next iopub message, or None when none arrives within `timeout` seconds."""

    @abstractmethod
    async def get_shell(self, timeout: float) -> dict[str, Any] | None:
        """Next shell reply, or None when none arrives within `timeout` seconds."""

    async def get_stdin(self, timeout: float) -> dict[str, Any] | None:
        """Next stdin-channel message (an `input_request`), or None within `timeout`."""
        await asyncio.sleep(timeout)  # a kernel without a stdin channel never asks
        return None

    def send_stdin(self, msg_type: str, content: dict[str, Any], parent: dict[str, Any]) -> None:
        """Send a stdin-channel message (an `input_reply`) answering `parent`."""
        raise NotImplementedError(f"{type(self).__name__} has no stdin channel")

    @abstractmethod
    def is_alive(self) -> bool:
        """Cheap liveness check (the process, or the last known remote state)."""

    @abstractmethod
    async def heartbeat(self, timeout: float = 1.0) -> bool:
        """True when the kernel's heartbeat answers within `timeout`."""

    @abstractmethod
    async def interrupt(self) -> None:
        """Interrupt the running cell (signal or `interrupt_request`, per the kernel spec)."""

    @abstractmethod
    async def shutdown(self, now: bool = True) -> None:
        """Stop the kernel and remove its files. Safe to call more than once."""

    def processes(self) -> frozenset[int]:
        """Host pids of the kernel's whole process tree now (empty when unknown)."""
        return frozenset()

    @property
    def workspace(self) -> Path | None:
        """Host directory the kernel sees as /workspace (None for remote kernels)."""
        return None

    @property
    def workspace_owner(self) -> tuple[int, int] | None:
        """(uid, gid) that files written into the workspace should belong to, or None."""
        return None

    def release_workspace(self) -> Path | None:
        """Stop owning the kernel's workspace (its shutdown then leaves it alone) and
        return its host path; None without a local workspace. Cheap: no file work."""
        return None

    def kill_strays(self, pids: Iterable[int], keep: tuple[str, ...] = ()) -> int:
        """SIGKILL ``pids`` (processes of the kernel's tree a cell left behind), except
        direct children of the kernel process named in ``keep``, and wait briefly for
        them to go; returns how many were killed. Blocking: run it in a thread."""
        return 0

    @property
    def pids(self) -> list[int]:
        """Local process ids owned by this kernel (empty for remote kernels)."""
        return []

    @property
    def exit_status(self) -> int | None:
        """The process's exit status once it ended (-N for signal N); None while it runs
        or when unknown."""
        return None

    @property
    def stalled(self) -> str | None:
        """Why sends to this kernel are being dropped (it stopped reading), else None."""
        return None

    @property
    def lost(self) -> str | None:
        """Why the kernel counts as dead when the handle knows more than an exit status
        (a remote kernel: its link dropped, its gateway culled it), else None."""
        return None

    def limits_reached(self) -> frozenset[str]:
        """Resource limits the kernel ran into so far (`pids`, `memory`), where the
        sandbox counts them (cgroups); empty when none or unknown. Blocking but cheap."""
        return frozenset()


class ProcessTracker(Protocol):
    """Told about kernel processes as they appear and once they are gone (the reaper)."""

    def track(self, pid: int, create_time: float | None) -> None:
        """A kernel process was spawned."""

    def untrack(self, pid: int) -> None:
        """The process was stopped and reaped; its pid may now belong to anyone."""


class _OneSpecManager(KernelSpecManager):
    """Serves the single spec this kernel was built from (no global Jupyter folders read)."""

    def __init__(self, spec: KernelSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._spec = spec

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self._spec


class LocalKernel(KernelHandle):
    """A kernel process on this machine, started from a kernel spec, talking over ipc."""

    def __init__(
        self,
        language: str,
        spec: KernelSpec | Callable[[Path], KernelSpec],
        runtime_dir: Path,
        tracker: ProcessTracker | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        workspace: Path | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.language = language
        self._dir = runtime_dir / self.id
        # The kernel's own workspace lives beside its runtime files, not among them, so a
        # session can take it over without moving anything. A workspace given here belongs
        # to someone else (a session): bound, never removed.
        self._own_workspace = runtime_dir / "workspaces" / self.id
        self._workspace = workspace
        # A callable gets this kernel's working directory (a sandbox binds it per kernel).
        self._spec = spec if isinstance(spec, KernelSpec) else spec(self.workdir)
        self._km: AsyncKernelManager | None = None
        self._kc: Any = None
        self._closed = False
        self._pid: int | None = None
        self._create_time: float | None = None
        self._tracker = tracker
        self._max_message_bytes = max_message_bytes
        self._outboxes: dict[str, _Outbox] = {}
        self._stalled: str | None = None

    @property
    def workdir(self) -> Path:
        """The host directory the kernel sees as its working directory (/workspace)."""
        return self._workspace if self._workspace is not None else self._own_workspace

    @property
    def workspace(self) -> Path | None:
        return self.workdir

    @property
    def workspace_owner(self) -> tuple[int, int] | None:
        provisioner = self._km.provisioner if self._km is not None else None
        return getattr(provisioner, "host_identity", None)

    def release_workspace(self) -> Path | None:
        if self._workspace is None:
            provisioner = self._km.provisioner if self._km is not None else None
            release = getattr(provisioner, "release_workdir", None)
            if release is not None:
                release()
            self._workspace = self._own_workspace
        return self._workspace

    async def start(self, timeout: float) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        km = AsyncKernelManager(
            kernel_name="companion",
            kernel_spec_manager=_OneSpecManager(self._spec),
            transport="ipc",
            ip=str(self._dir / "k"),
            connection_file=str(self._dir / "kernel.json"),
        )
        self._km = km
        try:
            env = dict(os.environ)
            env.update(self._spec.env or {})
            # The kernel must not think it is a child of a notebook server we do not run.
            env.pop("JPY_PARENT_PID", None)
            await asyncio.wait_for(km.start_kernel(env=env, cwd=str(self.workdir)), timeout)
            self._pid = _pid_of(km)
            if self._pid is not None:
                self._create_time = _create_time(self._pid)
                if self._tracker is not None:
                    self._tracker.track(self._pid, self._create_time)
            kc = km.client()
            # Defaults for the sockets made next.
            kc.context.setsockopt(zmq.RCVHWM, _RCV_HWM)
            kc.context.setsockopt(zmq.SNDHWM, _SND_HWM)
            kc.context.setsockopt(
                zmq.MAXMSGSIZE, max(4 * self._max_message_bytes, _MIN_ZMQ_MAXMSGSIZE)
            )
            kc.start_channels(hb=False, stdin=True, control=True)
            self._kc = kc
            await asyncio.wait_for(kc.wait_for_ready(timeout=timeout), timeout + 1)
        except BaseException as exc:
            provisioner = self._km.provisioner if self._km is not None else None
            said = getattr(provisioner, "output_tail", "").strip()
            await self.shutdown(now=True)
            if isinstance(exc, asyncio.CancelledError):
                raise
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if said:  # what the kernel process itself printed: usually the real cause
                detail += f"; the kernel said: {said[-800:]}"
            raise KernelStartError(f"the {self.language} kernel failed to start: {detail}") from exc

    def send_shell(
        self, msg_type: str, content: dict[str, Any], *, subshell_id: str | None = None
    ) -> str:
        msg = self._kc.session.msg(msg_type, content)
        if subshell_id is not None:
            msg["header"]["subshell_id"] = subshell_id
        self._send("shell", msg)
        return msg["header"]["msg_id"]

    @property
    def stalled(self) -> str | None:
        return self._stalled

    def limits_reached(self) -> frozenset[str]:
        cgroup = getattr(self._km.provisioner, "cgroup", None) if self._km else None
        if cgroup is None:
            return frozenset()
        # Event counters: `max N` (forks refused) and `oom_kill N` (v1 oom_control, v2 events).
        files = {
            "pids": ("pids", ("pids.events",), "max"),
            "memory": ("memory", ("memory.events", "memory.oom_control"), "oom_kill"),
        }
        reached = set()
        for name, (controller, filenames, key) in files.items():
            for filename in filenames:
                for line in (cgroup.read(controller, filename) or "").splitlines():
                    field, _, count = line.partition(" ")
                    if field == key and count.strip().isdigit() and int(count) > 0:
                        reached.add(name)
        return frozenset(reached)

    def _send(self, channel: str, msg: dict[str, Any]) -> None:
        """Queue `msg` without blocking (see `_Outbox`); dropped once the kernel stalled."""
        if self._stalled is not None or self._kc is None:
            return
        outbox = self._outboxes.get(channel)
        if outbox is None:
            sock = getattr(self._kc, f"{channel}_channel").socket
            outbox = self._outboxes[channel] = _Outbox(sock, self._stall)
        outbox.send(self._kc.session.serialize(msg))

    def _stall(self, reason: str) -> None:
        self._stalled = reason
        for outbox in self._outboxes.values():
            outbox.clear()
        log.warning("kernel %s stopped reading its messages: %s", self.id, reason)

    async def control_request(
        self, msg_type: str, content: dict[str, Any], timeout: float = 10.0
    ) -> dict[str, Any] | None:
        msg = self._kc.session.msg(msg_type, content)
        self._send("control", msg)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        sock = self._kc.control_channel.socket
        while True:
            reply = await _get(
                sock, self._kc.session, max(deadline - loop.time(), 0), self._max_message_bytes
            )
            if reply is None or reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return reply

    async def get_iopub(self, timeout: float) -> dict[str, Any] | None:
        return await _get(
            self._kc.iopub_channel.socket, self._kc.session, timeout, self._max_message_bytes
        )

    async def get_shell(self, timeout: float) -> dict[str, Any] | None:
        return await _get(
            self._kc.shell_channel.socket, self._kc.session, timeout, self._max_message_bytes
        )

    async def get_stdin(self, timeout: float) -> dict[str, Any] | None:
        return await _get(
            self._kc.stdin_channel.socket, self._kc.session, timeout, self._max_message_bytes
        )

    def send_stdin(self, msg_type: str, content: dict[str, Any], parent: dict[str, Any]) -> None:
        self._send("stdin", self._kc.session.msg(msg_type, content, parent=parent["header"]))

    def is_alive(self) -> bool:
        if self._closed or self._km is None:
            return False
        provisioner = self._km.provisioner
        process = getattr(provisioner, "process", None)
        if process is None:
            return False
        return process.poll() is None

    @property
    def exit_status(self) -> int | None:
        process = getattr(self._km.provisioner, "process", None) if self._km else None
        return None if process is None else process.poll()

    async def heartbeat(self, timeout: float = 1.0) -> bool:
        if not self.is_alive():
            return False
        info = self._km.get_connection_info() if self._km else {}
        ctx = zmq.asyncio.Context.instance()
        sock = ctx.socket(zmq.REQ)
        sock.linger = 0
        try:
            sock.connect(f"ipc://{info['ip']}-{info['hb_port']}")
            await sock.send(b"ping")
            return bool(await sock.poll(int(timeout * 1000)))
        except (zmq.ZMQError, KeyError):
            return False
        finally:
            sock.close(linger=0)

    async def interrupt(self) -> None:
        if self._km is not None and self.is_alive():
            with contextlib.suppress(Exception):
                await self._km.interrupt_kernel()

    async def shutdown(self, now: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        km, kc = self._km, self._kc
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()
        if km is not None:
            try:
                if km.has_kernel:
                    await asyncio.wait_for(km.shutdown_kernel(now=now), 10)
            except Exception as exc:  # a stuck shutdown must not leak the process
                log.debug("shutdown of kernel %s failed: %s", self.id, exc)
            finally:
                # Blocking (it waits for the processes): off the event loop.
                await asyncio.to_thread(self._kill_leftovers)
                with contextlib.suppress(Exception):
                    await km.cleanup_resources()
        if self._pid is not None and self._tracker is not None:
            self._tracker.untrack(self._pid)
        await asyncio.to_thread(remove_tree, self._dir)
        if self._workspace is None:  # still ours: nobody took it over
            await asyncio.to_thread(remove_tree, self._own_workspace)

    def _kill_leftovers(self) -> None:
        if self._pid is not None:
            kill_process_tree(self._pid, self._create_time)

    @property
    def pids(self) -> list[int]:
        return [self._pid] if self._pid is not None else []

    def processes(self) -> frozenset[int]:
        provisioner = self._km.provisioner if self._km is not None else None
        tree = getattr(provisioner, "tree_pids", None)
        # isolation="off" applies no limits, so it does not police processes either.
        return frozenset(tree()) if tree is not None else frozenset()

    def kill_strays(self, pids: Iterable[int], keep: tuple[str, ...] = ()) -> int:
        provisioner = self._km.provisioner if self._km is not None else None
        kernel_pid = getattr(provisioner, "kernel_pid", lambda: self._pid)()
        return kill_new_processes(pids, kernel_pid, keep)


def kill_new_processes(pids: Iterable[int], kernel_pid: int | None, keep: tuple[str, ...]) -> int:
    """SIGKILL ``pids`` (processes a cell started), sparing the kernel's resident
    children named in ``keep``; returns how many were signalled."""
    import psutil

    killed = []
    for pid in pids:
        if pid == kernel_pid:
            continue
        try:
            proc = psutil.Process(pid)
            if keep and proc.ppid() == kernel_pid and proc.name() in keep:
                continue
            proc.kill()
            killed.append(proc)
        except psutil.Error:
            continue
    # SIGKILL is asynchronous: wait (bounded) so "gone after the cell" holds when we return.
    psutil.wait_procs(killed, timeout=1.0)
    return len(killed)


class _Outbox:
    """Non-blocking sends to one socket, with a bounded backlog retried on a timer."""

    def __init__(self, sock: zmq.Socket, on_stall: Callable[[str], None]) -> None:
        self._sock = sock
        self._backlog: collections.deque[list[bytes]] = collections.deque()
        self._bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._on_stall = on_stall

    def send(self, frames: list[bytes]) -> None:
        size = sum(len(f) for f in frames)
        if len(self._backlog) >= _BACKLOG_MESSAGES or self._bytes + size > _BACKLOG_BYTES:
            self._on_stall(
                f"{len(self._backlog)} messages ({self._bytes:,} bytes) were waiting for it "
                "to read them"
            )
            return
        self._backlog.append(frames)
        self._bytes += size
        self._flush()

    def clear(self) -> None:
        self._backlog.clear()
        self._bytes = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _flush(self) -> None:
        self._timer = None
        while self._backlog:
            frames = self._backlog[0]
            if not self._sock.closed:  # the shadow must never touch a closed socket
                try:
                    _shadow(self._sock).send_multipart(frames, zmq.NOBLOCK)
                except zmq.Again:
                    break
                except zmq.ZMQError as exc:
                    log.debug("dropped a message to a kernel: %s", exc)
            self._backlog.popleft()
            self._bytes -= sum(len(f) for f in frames)
        if self._backlog and self._timer is None:
            with contextlib.suppress(RuntimeError):  # no running loop: the next send retries
                self._timer = asyncio.get_running_loop().call_later(_RETRY_S, self._flush)


def _pid_of(km: AsyncKernelManager) -> int | None:
    process = getattr(km.provisioner, "process", None)
    return getattr(process, "pid", None)


def _create_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


async def _get(
    sock: zmq.asyncio.Socket, session: Any, timeout: float, max_bytes: int
) -> dict[str, Any] | None:
    # A kernel sends its messages in bursts (busy, input, outputs, idle, reply): take what is
    # already queued without creating a future and a timer per message, and only wait (with
    # the liveness timeout) when the queue is empty.
    shadow = _shadow(sock)
    loop = asyncio.get_running_loop()
    # One deadline for the whole call: a kernel sending a steady stream of undecodable
    # messages must not keep us here past it (callers check their execution timeout then).
    deadline = loop.time() + timeout
    while True:
        try:
            # Uncopied: an oversized message is measured and dropped, never copied.
            frames = shadow.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            remaining = deadline - loop.time()
            if remaining <= 0 or not await sock.poll(int(remaining * 1000)):
                return None
            continue
        try:
            return decode_message(session, frames, max_bytes)
        except ValueError as exc:  # never let one bad message end an execution
            _warn_dropped(exc)
            if loop.time() >= deadline:
                return None


_dropped = 0


def _warn_dropped(exc: ValueError) -> None:
    # A hostile kernel can send junk at line rate: log the first few, then every 1000th.
    global _dropped
    _dropped += 1
    if _dropped <= 5 or _dropped % 1000 == 0:
        log.warning("dropped a message from a kernel (%d so far): %s", _dropped, exc)


_SHADOWS: weakref.WeakKeyDictionary[zmq.asyncio.Socket, zmq.Socket] = weakref.WeakKeyDictionary()


def _shadow(sock: zmq.asyncio.Socket) -> zmq.Socket:
    """A blocking-API view of the same zmq socket (no copy, no second connection)."""
    shadow = _SHADOWS.get(sock)
    if shadow is None:
        shadow = _SHADOWS[sock] = zmq.Socket.shadow(sock.underlying)
    return shadow


def decode_message(
    session: Any, frames: list[bytes] | list[zmq.Frame], max_bytes: int | None = None
) -> dict[str, Any]:
    """Verify and decode one message; like `Session.deserialize` without date parsing.

    Dates stay ISO strings: nothing here reads them, and parsing them with dateutil cost
    more than everything else the engine does per message. A message over `max_bytes` is
    returned undecoded, with only its headers and `oversized` (its size) set, so that its
    execution can be marked truncated; content that does not decode (bad JSON, absurd
    nesting) comes back empty with `malformed` saying why. Raises `ValueError` for what
    cannot be attributed to an execution at all (bad signature, unreadable headers).
    """
    views = [f.buffer if isinstance(f, zmq.Frame) else f for f in frames]
    _, parts = session.feed_identities(views)
    if len(parts) < 5:
        raise ValueError(f"malformed message: {len(parts)} frames, at least 5 expected")
    signed = session.auth is None or (
        len(parts[0]) and hmac.compare_digest(bytes(parts[0]), session.sign(parts[1:5]))
    )
    if not signed:
        raise ValueError("invalid message signature")
    header = _load(parts[1], "header", _MAX_HEADER_BYTES)
    msg_type = header.get("msg_type")
    if not isinstance(msg_type, str):
        raise ValueError("malformed message: the header has no msg_type")
    msg: dict[str, Any] = {
        "header": header,
        "msg_id": header.get("msg_id"),
        "msg_type": msg_type,
        "parent_header": _load(parts[2], "parent header", _MAX_HEADER_BYTES),
        "metadata": {},
        "content": {},
        "buffers": [],
    }
    size = sum(len(p) for p in parts)
    if max_bytes is not None and size > max_bytes:
        msg["oversized"] = size
        return msg
    try:
        msg["metadata"] = _load(parts[3], "metadata", None)
        msg["content"] = _load(parts[4], "content", None)
    except ValueError as exc:
        msg["malformed"] = str(exc)
        msg["metadata"], msg["content"] = {}, {}
        return msg
    msg["buffers"] = [memoryview(b) for b in parts[5:]]
    return msg


def _load(frame: Any, what: str, max_bytes: int | None) -> dict[str, Any]:
    """One JSON object frame; every failure, deep nesting included, is a `ValueError`."""
    if max_bytes is not None and len(frame) > max_bytes:
        raise ValueError(f"malformed message: its {what} is {len(frame):,} bytes")
    try:
        value = json.loads(bytes(frame))
    except RecursionError:
        raise ValueError(f"malformed message: its {what} is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"malformed message: its {what} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"malformed message: its {what} is a {type(value).__name__}")
    return value


def kill_process_tree(pid: int, create_time: float | None = None) -> None:
    """SIGKILL a process, its process group and any descendants still alive.

    With `create_time` (from `psutil.Process.create_time()` when it was started), a pid
    that now belongs to a different process is left alone: pids are reused.
    """
    import psutil

    try:
        root = psutil.Process(pid)
        if create_time is not None and abs(root.create_time() - create_time) > 0.01:
            return
        victims = [root, *root.children(recursive=True)]
    except psutil.Error:
        # Gone (reaped): its group may still hold processes it started. The kernel's pid is
        # the group's id, and Linux does not hand out a pid while a group still uses it.
        victims = []
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    for proc in victims:
        with contextlib.suppress(psutil.Error, ChildProcessError):
            proc.wait(0.5)
