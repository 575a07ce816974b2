"""KernelPool: warm kernels of one language, handed out once, replaced after use."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ._kernel import KernelHandle
from .config import PoolConfig
from .errors import EngineClosed, KernelStartError, PoolExhausted

log = logging.getLogger(__name__)

__all__ = ["KernelPool", "PoolStats"]

# Idle kernels are checked (process and heartbeat) this often.
_HEALTH_INTERVAL_S = 5.0


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of one pool."""

    language: str
    idle: int
    starting: int
    in_use: int
    stopping: int
    started_total: int
    failed_total: int
    replaced_dead: int


class KernelPool:
    """Keeps `min_idle` ready kernels of one language and never hands a kernel out twice.

    `acquire()` returns a ready kernel (starting one if none is idle and the cap allows);
    `discard()` shuts a used kernel down in the background and the pool refills.
    The pool only sees `KernelHandle`s, so kernels may be local processes or remote.
    """

    def __init__(
        self,
        language: str,
        config: PoolConfig,
        factory: Callable[[], KernelHandle],
        on_start: Callable[[KernelHandle], None] | None = None,
        prepare: Callable[[KernelHandle], Awaitable[None]] | None = None,
    ) -> None:
        self.language = language
        self.config = config
        self._factory = factory
        self._on_start = on_start
        self._prepare = prepare
        self._idle: deque[KernelHandle] = deque()
        self._in_use: set[KernelHandle] = set()
        self._starting: set[asyncio.Task[None]] = set()
        # Every start task until it has finished, including its clean-up after set-up
        # (a task leaves `_starting` before it is done; close() must still wait for it).
        self._start_tasks: set[asyncio.Task[None]] = set()
        self._stopping: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._waiting = 0
        self._closed = False
        self._failures = 0
        self._last_failure: BaseException | None = None
        self._started_total = 0
        self._replaced_dead = 0
        self._health: asyncio.Task[None] | None = None

    # -- public --------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin warming `min_idle` kernels in the background (returns at once)."""
        self._refill()
        if self._health is None:
            self._health = asyncio.ensure_future(self._health_loop())

    async def wait_ready(self, count: int | None = None, timeout: float = 60.0) -> None:
        """Wait until `count` (default `min_idle`) kernels are idle and ready."""
        want = self.config.min_idle if count is None else count
        async with asyncio.timeout(timeout):
            while len(self._idle) < want and not (self._last_failure and not self._starting):
                await self._changed.wait()
        if len(self._idle) < want and self._last_failure is not None:
            raise KernelStartError(str(self._last_failure)) from self._last_failure

    async def acquire(self, timeout: float | None = None) -> KernelHandle:
        """A ready kernel for exclusive use; raises `PoolExhausted` after `timeout`."""
        if self._closed:
            raise EngineClosed(f"the {self.language} pool is closed")
        timeout = self.config.acquire_timeout_s if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        failures_seen = self._failures
        self._waiting += 1
        try:
            while True:
                if self._closed:
                    raise EngineClosed(f"the {self.language} pool is closed")
                kernel = self._pop_live_idle()
                if kernel is not None:
                    self._in_use.add(kernel)
                    return kernel
                if self._failures > failures_seen and not self._starting:
                    raise KernelStartError(
                        f"could not start a {self.language} kernel: {self._last_failure}"
                    ) from self._last_failure
                self._refill()
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise PoolExhausted(self._exhausted_message(timeout))
                try:
                    async with asyncio.timeout(remaining):
                        await self._changed.wait()
                except TimeoutError:
                    raise PoolExhausted(self._exhausted_message(timeout)) from None
        finally:
            self._waiting -= 1
            self._refill()

    def discard(self, kernel: KernelHandle) -> None:
        """Take back a used kernel: it is shut down (never reused) and replaced."""
        self._in_use.discard(kernel)
        with contextlib.suppress(ValueError):
            self._idle.remove(kernel)
        self._stop_in_background(kernel)
        if not self._closed:
            self._refill()
            self._notify()

    def stats(self) -> PoolStats:
        """Counts of idle, starting, in-use and stopping kernels."""
        return PoolStats(
            language=self.language,
            idle=len(self._idle),
            starting=len(self._starting),
            in_use=len(self._in_use),
            stopping=len(self._stopping),
            started_total=self._started_total,
            failed_total=self._failures,
            replaced_dead=self._replaced_dead,
        )

    def kernels(self) -> list[KernelHandle]:
        """Every kernel the pool knows (idle and in use)."""
        return [*self._idle, *self._in_use]

    async def close(self) -> None:
        """Stop every kernel, including ones still starting; wait for them to be gone."""
        self._closed = True
        if self._health is not None:
            self._health.cancel()
            with contextlib.suppress(BaseException):
                await self._health
        # Only tasks still setting up are cancelled: one past set-up is shutting its kernel
        # down (it saw `_closed`), and cancelling that would leave the process behind.
        for task in list(self._starting):
            task.cancel()
        if self._start_tasks:  # no new ones: `_refill` does nothing once closed
            await asyncio.gather(*self._start_tasks, return_exceptions=True)
        for kernel in [*self._idle, *self._in_use]:
            self._stop_in_background(kernel)
        self._idle.clear()
        self._in_use.clear()
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)
        self._notify()

    # -- internals -----------------------------------------------------------------------------

    @property
    def _total(self) -> int:
        return len(self._idle) + len(self._starting) + len(self._in_use)

    def _exhausted_message(self, timeout: float) -> str:
        s = self.stats()
        return (
            f"no {self.language} kernel became available within {timeout:g}s "
            f"(max_kernels={self.config.max_kernels}: {s.in_use} in use, {s.starting} starting); "
            "close idle sessions or raise PoolConfig.max_kernels"
        )

    def _pop_live_idle(self) -> KernelHandle | None:
        while self._idle:
            kernel = self._idle.popleft()
            if kernel.is_alive():
                return kernel
            self._replaced_dead += 1
            self._stop_in_background(kernel)
        return None

    def _refill(self) -> None:
        if self._closed:
            return
        want = self.config.min_idle + self._waiting
        have = len(self._idle) + len(self._starting)
        room = self.config.max_kernels - self._total
        # After a failed start, only waiting acquirers trigger new attempts (no retry storms).
        if self._last_failure is not None and self._waiting == 0:
            return
        for _ in range(max(0, min(want - have, room))):
            task = asyncio.ensure_future(self._start_one())
            self._starting.add(task)
            self._start_tasks.add(task)
            task.add_done_callback(self._starting.discard)
            task.add_done_callback(self._start_tasks.discard)

    async def _start_one(self) -> None:
        kernel: KernelHandle | None = None
        try:
            try:
                kernel = self._factory()
                await kernel.start(self.config.start_timeout_s)
                if self._on_start is not None:
                    self._on_start(kernel)
                if self._prepare is not None:
                    await self._prepare(kernel)
            finally:
                # Leave `_starting` before joining `_idle`: a done callback would run too late
                # and make an acquirer woken in between count this kernel twice.
                self._starting.discard(asyncio.current_task())  # type: ignore[arg-type]
        except asyncio.CancelledError:
            if kernel is not None:
                await kernel.shutdown(now=True)
            raise
        except BaseException as exc:
            if kernel is not None:
                await kernel.shutdown(now=True)
            self._failures += 1
            self._last_failure = exc
            log.warning("%s kernel failed to start: %s", self.language, exc)
            self._notify()
            return
        if self._closed:
            await kernel.shutdown(now=True)
            return
        self._started_total += 1
        self._last_failure = None
        self._idle.append(kernel)
        self._notify()

    async def start_dedicated(self, factory: Callable[[], KernelHandle]) -> KernelHandle:
        """Start one kernel from `factory` for immediate exclusive use (not from the warm
        set: e.g. a kernel bound to a session's own workspace). `discard()` it as usual."""
        if self._closed:
            raise EngineClosed(f"the {self.language} pool is closed")
        kernel = factory()
        try:
            await kernel.start(self.config.start_timeout_s)
            if self._on_start is not None:
                self._on_start(kernel)
            if self._prepare is not None:
                await self._prepare(kernel)
        except BaseException:
            await kernel.shutdown(now=True)
            raise
        if self._closed:
            await kernel.shutdown(now=True)
            raise EngineClosed(f"the {self.language} pool is closed")
        self._started_total += 1
        self._in_use.add(kernel)
        return kernel

    def _notify(self) -> None:
        # Wake every waiter once; later waiters wait on a fresh event.
        self._changed.set()
        self._changed = asyncio.Event()

    def _stop_in_background(self, kernel: KernelHandle) -> None:
        task = asyncio.ensure_future(kernel.shutdown(now=True))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _health_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(_HEALTH_INTERVAL_S)
            for kernel in list(self._idle):
                if kernel not in self._idle:
                    continue
                if not kernel.is_alive() or not await kernel.heartbeat(timeout=2.0):
                    log.warning("idle %s kernel %s is dead; replacing it", self.language, kernel.id)
                    with contextlib.suppress(ValueError):
                        self._idle.remove(kernel)
                    self._replaced_dead += 1
                    self._stop_in_background(kernel)
                    self._refill()
