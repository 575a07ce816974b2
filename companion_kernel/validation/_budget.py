"""Time budgets for pure-Python parsers that can loop forever on odd input.

bashlex (and, in theory, IPython's input transformer) are third-party pure-Python code;
fuzzing found inputs on which bashlex never returns (``echo '${'i``). `run_with_budget`
lets one shared watchdog thread raise `BudgetExceeded` inside the caller's thread when the
budget runs out (``PyThreadState_SetAsyncExc``), so the normal path costs a lock and a
notify, not a tracer on every call.

An asynchronous exception lands wherever the thread happens to be. Two places would
swallow it: a garbage-collector callback (another library's, run during a collection the
parser triggered; the exception then only surfaces as an "unraisable" warning) and the
parser's own ``except Exception``. So the collector is paused while a budgeted call runs,
and the watchdog raises again every few milliseconds until the call has returned.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = [ctypes.c_ulong, ctypes.py_object]


class BudgetExceeded(Exception):
    """Raised inside a call that ran past its time budget."""


class _Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[int, tuple[float, int]] = {}  # token -> (deadline, thread id)
        self._fired: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> int:
        with self._cond:
            token = next(self._tokens)
            self._pending[token] = (time.monotonic() + seconds, threading.get_ident())
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="companion-validation-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()
            return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._pending.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                # The exception may still be pending (the call returned just in time).
                _set_async_exc(threading.get_ident(), ctypes.py_object())

    def _loop(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (deadline, ident) in list(self._pending.items()):
                    if deadline <= now:
                        # Stays pending: raised again until disarm() says the call is over.
                        self._pending[token] = (now + _REFIRE_S, ident)
                        self._fired.add(token)
                        _set_async_exc(ident, ctypes.py_object(BudgetExceeded))
                waits = [deadline - now for deadline, _ in self._pending.values()]
                self._cond.wait(timeout=max(min(waits), 0.001) if waits else None)


_watchdog = _Watchdog()
_REFIRE_S = 0.02
_gc_lock = threading.Lock()
_gc_paused = 0
_gc_was_enabled = False


def _pause_gc() -> None:
    global _gc_paused, _gc_was_enabled
    with _gc_lock:
        if _gc_paused == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_paused += 1


def _resume_gc() -> None:
    global _gc_paused
    with _gc_lock:
        _gc_paused -= 1
        if _gc_paused == 0 and _gc_was_enabled:
            gc.enable()


def run_with_budget(fn: Callable[[], T], seconds: float) -> T:
    """``fn()``, or `BudgetExceeded` if it runs longer than ``seconds``."""
    _pause_gc()
    try:
        token = _watchdog.arm(seconds)
        try:
            return fn()
        finally:
            while True:  # a re-raise may land in here before disarm() takes its lock
                try:
                    _watchdog.disarm(token)
                    break
                except BudgetExceeded:
                    continue
    finally:
        _resume_gc()
