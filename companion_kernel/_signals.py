"""Clean exit on SIGTERM (and, for the CLI, SIGINT): open engines close (kernels,
cgroups, runtime directory) before the process ends the way it would have without us.

A library must not take signals away from its application. Engines install a handler
for SIGTERM only, only from the main thread and only while SIGTERM still has its default
disposition; after closing, it restores that disposition and re-delivers the signal, so
the process ends by SIGTERM as before. SIGINT is left to Python: its KeyboardInterrupt
unwinds `async with Engine()` blocks (`asyncio.run` cancels the main task), and at exit
`SyncEngine.close` and the engines' finalizers stop what is left; in a REPL, Ctrl-C only
interrupts the running cell. Applications with handlers of their own call
`Engine.aclose()` (or `SyncEngine.close()`) from them. The CLI, which owns its process,
installs the handler for both signals explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)

__all__ = ["install_signal_handlers", "register", "unregister"]

# A close that takes longer (a stuck kernel) gives way to killing the processes outright.
_CLOSE_TIMEOUT_S = 20.0

_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
_previous: dict[int, Any] = {}
_closing = False
_tasks: set[asyncio.Future[None]] = set()


def register(engine: Engine) -> None:
    """Close `engine` when a handled signal arrives."""
    _engines.add(engine)


def unregister(engine: Engine) -> None:
    """`engine` closed by itself."""
    _engines.discard(engine)


def _is_default(signum: int, handler: Any) -> bool:
    if signum == signal.SIGINT:
        return handler is signal.default_int_handler
    return handler == signal.SIG_DFL


def install_signal_handlers(
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM,), *, force: bool = False
) -> list[signal.Signals]:
    """Close every open engine on these signals, then chain to the previous handler.

    Without `force`, only signals still at their default disposition are taken. Does
    nothing outside the main thread. Returns the signals now handled.
    """
    if threading.current_thread() is not threading.main_thread():
        return []
    handled = []
    for signum in signals:
        current = signal.getsignal(signum)
        if current is _handle:
            handled.append(signum)
            continue
        if current is None or current == signal.SIG_IGN:
            continue  # set outside Python, or deliberately ignored: not ours to change
        if not force and not _is_default(signum, current):
            continue
        _previous[signum] = current
        signal.signal(signum, _handle)
        handled.append(signum)
    return handled


def _handle(signum: int, frame: Any) -> None:
    global _closing
    if _closing:  # a second signal while closing: no more waiting
        _reap_all()
        _chain(signum, frame)
        return
    _closing = True
    log.warning("%s: closing companion_kernel engines", signal.Signals(signum).name)
    in_this_thread: list[Engine] = []
    for engine in list(_engines):
        loop = engine._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            engine._reap_now()
        elif engine._loop_thread is threading.current_thread():
            in_this_thread.append(engine)  # the handler runs inside that loop: cannot block
        else:
            future = asyncio.run_coroutine_threadsafe(engine.aclose(), loop)
            try:
                future.result(_CLOSE_TIMEOUT_S)
            except BaseException as exc:  # any failure: kill outright
                log.warning("closing an engine on a signal failed (%s); killing its kernels", exc)
            engine._reap_now()
    if not in_this_thread:
        _chain(signum, frame)
        return
    loop = in_this_thread[0]._loop
    assert loop is not None
    loop.call_soon_threadsafe(_close_then_chain, in_this_thread, signum)


def _close_then_chain(engines: list[Engine], signum: int) -> None:
    async def close() -> None:
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                await asyncio.gather(*(e.aclose() for e in engines), return_exceptions=True)
        finally:
            for engine in engines:
                engine._reap_now()
            _chain(signum, None)

    task = asyncio.ensure_future(close())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _reap_all() -> None:
    for engine in list(_engines):
        with contextlib.suppress(Exception):
            engine._reap_now()


def _chain(signum: int, frame: Any) -> None:
    """Behave as the handler we replaced would have."""
    global _closing
    _closing = False
    previous = _previous.pop(signum, signal.SIG_DFL)
    signal.signal(signum, previous)
    if callable(previous):
        handler: Callable[[int, Any], Any] = previous
        handler(signum, frame)  # e.g. raises KeyboardInterrupt
    elif previous == signal.SIG_DFL:
        os.kill(os.getpid(), signum)  # ends the process as the default action does
