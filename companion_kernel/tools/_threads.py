"""Run blocking work off the event loop, and coroutines from sync code.

Work runs on daemon threads from a pool that grows without bound and shrinks when idle,
not on a `ThreadPoolExecutor`: a tool that hangs keeps its thread forever, and a bounded
pool would then run out of workers, while its non-daemon threads would block interpreter exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["Outcome", "call_in_thread", "in_running_loop", "run_coroutine_sync", "run_in_thread"]

Outcome = tuple[bool, Any]
"""`(True, value)` or `(False, exception)`: exceptions cross threads as data."""


class _DaemonPool:
    """Daemon worker threads: reuses idle ones, starts a new one when none is idle."""

    def __init__(self, idle_timeout: float = 30.0) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._idle_timeout = idle_timeout

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                self._jobs.put(job)
                return
        threading.Thread(target=self._work, args=(job,), name="tool-worker", daemon=True).start()

    def _work(self, job: Callable[[], None]) -> None:
        while True:
            job()
            with self._lock:
                self._idle += 1
            try:
                job = self._jobs.get(timeout=self._idle_timeout)
            except queue.Empty:
                with self._lock:
                    # `submit` puts under the lock, so an empty queue here is final.
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        self._idle -= 1
                        return


_POOL = _DaemonPool()


def _capture(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Outcome:
    try:
        return True, fn(*args, **kwargs)
    except BaseException as exc:  # the caller decides what to re-raise
        return False, exc


async def run_in_thread(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, name: str
) -> Outcome:
    """Run `fn` on a new daemon thread and await its outcome without blocking the loop.

    Cancelling the await abandons the thread; it runs to completion in the background.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Outcome] = loop.create_future()
    context = contextvars.copy_context()

    def deliver(outcome: Outcome) -> None:
        if not future.done():
            future.set_result(outcome)

    def target() -> None:
        threading.current_thread().name = f"tool-{name}"
        outcome = context.run(_capture, fn, args, kwargs)
        # A closed loop means nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, outcome)

    _POOL.submit(target)
    return await future


def call_in_thread(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    timeout: float | None,
    name: str,
) -> Outcome | None:
    """Run `fn` on a daemon thread and wait up to `timeout` s; `None` when time ran out."""
    box: list[Outcome] = []
    done = threading.Event()
    context = contextvars.copy_context()

    def target() -> None:
        threading.current_thread().name = f"tool-{name}"
        box.append(context.run(_capture, fn, args, kwargs))
        done.set()

    _POOL.submit(target)
    if not done.wait(timeout):
        return None
    return box[0]


def in_running_loop() -> bool:
    """Whether this thread is running an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_coroutine_sync(factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to completion from sync code, even inside a running event loop.

    Inside a loop, `asyncio.run` is not allowed, so the coroutine gets its own loop on a worker
    thread; the calling thread (and its loop) waits, as any blocking call would.
    """
    if not in_running_loop():
        return asyncio.run(factory())
    box: list[Outcome] = []

    def target() -> None:
        box.append(_capture(lambda: asyncio.run(factory()), (), {}))

    worker = threading.Thread(target=target, name="tool-sync-bridge", daemon=True)
    worker.start()
    worker.join()
    ok, payload = box[0]
    if ok:
        return payload
    raise payload
