"""Validation off the event loop: big inputs go to a worker process.

A thread is not enough for them: one regular-expression search over a huge string holds
the GIL for its whole run (0.5 s for a 900 kB literal here), so the loop would stall just
the same. The worker is a plain subprocess (`python -m companion_kernel._validation_worker`)
speaking one JSON line per request, started on first use, killed and restarted when it
runs past its time bound. Small inputs are validated in a thread (well under a
millisecond each).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["OffLoopValidator"]

# Up to this many characters the validator runs in a thread: its longest GIL-holding step
# is then far below a millisecond. Above, it runs in the worker process.
_THREAD_MAX_CHARS = 32 * 1024
# Reports are small, but a line may hold many violations.
_MAX_REPLY_BYTES = 64 * 1024 * 1024

_threads: ThreadPoolExecutor | None = None


def _thread_pool() -> ThreadPoolExecutor:
    # Threads of its own: slow validations must not starve the default executor (file
    # removal, process reaping).
    global _threads
    if _threads is None:
        _threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ck-validate")
    return _threads


class OffLoopValidator:
    """`validate()` and `detect_language()` without blocking the event loop, time-bounded."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._lock: asyncio.Lock | None = None

    async def validate(self, code: str, language: str, policy: Any, timeout: float) -> Any | None:
        """The `ValidationReport`, or None when it did not finish within `timeout`."""
        from .validation import ValidationReport, get_policy, validate

        resolved = get_policy(policy)
        if len(code) <= _THREAD_MAX_CHARS:
            return await self._in_thread(validate, timeout, code, language, resolved)
        request = {
            "op": "validate",
            "code": code,
            "language": language,
            "policy": resolved.model_dump(mode="json"),
        }
        reply = await self._in_worker(request, timeout)
        return None if reply is None else ValidationReport.model_validate(reply)

    async def detect_language(self, code: str, default: str, timeout: float) -> str:
        """The detected language (`default` when detection does not finish in time)."""
        from .detection import detect_language

        if len(code) <= _THREAD_MAX_CHARS:
            found = await self._in_thread(detect_language, timeout, code, default=default)
            return default if found is None else found.language
        reply = await self._in_worker({"op": "detect", "code": code, "default": default}, timeout)
        return default if reply is None else str(reply)

    async def _in_thread(self, fn: Any, timeout: float, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(_thread_pool(), lambda: fn(*args, **kwargs))
        try:
            return await asyncio.wait_for(work, timeout)
        except TimeoutError:
            return None  # the thread finishes on its own (the validator has its own budget)

    async def _in_worker(self, request: dict[str, Any], timeout: float) -> Any | None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            try:
                async with asyncio.timeout(timeout):
                    proc = await self._worker()
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(json.dumps(request).encode() + b"\n")
                    await proc.stdin.drain()
                    line = await proc.stdout.readline()
            except (TimeoutError, OSError, ValueError):
                line = b""
            if not line:  # too slow, or it died: start afresh next time
                await self.aclose()
                return None
            return json.loads(line)["result"]

    async def _worker(self) -> asyncio.subprocess.Process:
        if self._proc is None or self._proc.returncode is not None:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                __name__,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=_MAX_REPLY_BYTES,
            )
        return self._proc

    async def aclose(self) -> None:
        """Stop the worker process, if one runs."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


def _serve() -> None:
    from .detection import detect_language
    from .validation import Policy, validate

    for line in sys.stdin.buffer:
        request = json.loads(line)
        if request["op"] == "validate":
            policy = Policy.model_validate(request["policy"])
            report = validate(request["code"], request["language"], policy)
            result: Any = report.model_dump(mode="json")
        else:
            result = detect_language(request["code"], default=request["default"]).language
        sys.stdout.write(json.dumps({"result": result}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
