"""Running tool calls: timeouts, worker threads, caching, envelopes and batches.

Async tools are awaited on the caller's loop. Sync tools run on a worker thread when called
through the async API, so they never block the loop; through the sync API they run on the
calling thread (on a worker thread only when they have a timeout). A sync tool that times out
is abandoned, not killed: Python cannot kill a thread, so it finishes in the background.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from companion_kernel.errors import (
    ToolArgumentError,
    ToolError,
    ToolExecutionError,
    ToolTimeout,
)
from companion_kernel.tools._threads import (
    call_in_thread,
    in_running_loop,
    run_coroutine_sync,
    run_in_thread,
)
from companion_kernel.tools.cache import LeaderGone, copy_out
from companion_kernel.tools.results import ToolResult

if TYPE_CHECKING:
    from companion_kernel.tools.base import Tool
    from companion_kernel.tools.registry import ToolRegistry

__all__ = [
    "BatchItem",
    "ProgressCallback",
    "ToolExecutor",
    "ainvoke",
    "failure",
    "invoke",
    "settle",
]

logger = logging.getLogger(__name__)

BatchItem = (
    tuple[str]
    | tuple[str, Sequence[Any]]
    | tuple[str, Sequence[Any], Mapping[str, Any] | str | None]
)
"""`(name,)`, `(name, args)` or `(name, args, kwargs)`; kwargs may be a dict or a JSON string."""

ProgressCallback = Callable[[int, int, ToolResult], Awaitable[None] | None]
"""Called as `(done, total, result)` after each batch item finishes (sync or async)."""

_MESSAGE_LIMIT = 500


def failure(tool: Tool, exc: BaseException) -> ToolError:
    """The `ToolError` to raise when a tool raised `exc` (tool errors pass through)."""
    if isinstance(exc, ToolError):
        return exc
    text = str(exc)
    if len(text) > _MESSAGE_LIMIT:
        text = text[:_MESSAGE_LIMIT] + "..."
    err = ToolExecutionError(f"tool {tool.name!r} failed: {type(exc).__name__}: {text}")
    err.__cause__ = exc
    return err


def _timed_out(tool: Tool, limit: float) -> ToolTimeout:
    note = "" if tool.is_async else "; its thread was abandoned and may still be running"
    return ToolTimeout(f"tool {tool.name!r} did not finish within {limit:g} s{note}")


def _clone(exc: ToolError) -> ToolError:
    """A copy of a shared error, so callers in other tasks do not share one traceback."""
    try:
        clone = copy.copy(exc)
    except Exception:
        return exc
    clone.__cause__ = exc.__cause__
    clone.__traceback__ = None
    return clone


async def _guard(tool: Tool, awaitable: Awaitable[Any], limit: float | None) -> Any:
    """Await a tool's work under its time limit, turning failures into `ToolError`s."""
    scope = asyncio.timeout(limit)
    try:
        async with scope:
            return await awaitable
    except ToolError:
        raise
    except TimeoutError as exc:
        if scope.expired():
            raise _timed_out(tool, limit or 0.0) from None
        raise failure(tool, exc) from exc
    except (Exception, SystemExit) as exc:
        raise failure(tool, exc) from exc


async def _call(tool: Tool, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    if tool.is_async:
        result = await tool.fn(*args, **kwargs)
    else:
        ok, result = await run_in_thread(tool.fn, tuple(args), dict(kwargs), name=tool.name)
        if not ok:
            raise failure(tool, result)
    if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
        result = await result
    return result


async def ainvoke(
    tool: Tool, args: Sequence[Any], kwargs: Mapping[str, Any], timeout: float | None = None
) -> Any:
    """Run one validated call on the running loop; raises `ToolError` subclasses."""
    limit = tool.timeout if timeout is None else timeout
    return await _guard(tool, _call(tool, args, kwargs), limit)


def settle(tool: Tool, result: Any, timeout: float | None = None) -> Any:
    """`result` itself, or its outcome when a sync tool returned an awaitable."""
    if not inspect.isawaitable(result):
        return result
    return run_coroutine_sync(lambda: _guard(tool, result, timeout))


def invoke(
    tool: Tool, args: Sequence[Any], kwargs: Mapping[str, Any], timeout: float | None = None
) -> Any:
    """Run one validated call from sync code; raises `ToolError` subclasses."""
    limit = tool.timeout if timeout is None else timeout
    if tool.is_async:
        return run_coroutine_sync(lambda: ainvoke(tool, args, kwargs, limit))
    if limit is None:
        try:
            result = tool.fn(*args, **kwargs)
        except ToolError:
            raise
        except (Exception, SystemExit) as exc:
            raise failure(tool, exc) from exc
    else:
        outcome = call_in_thread(tool.fn, tuple(args), dict(kwargs), timeout=limit, name=tool.name)
        if outcome is None:
            raise _timed_out(tool, limit)
        ok, result = outcome
        if not ok:
            raise failure(tool, result)
    return settle(tool, result, limit)


def _jsonable(tool: Tool, value: Any) -> Any:
    try:
        return to_jsonable_python(value)
    except Exception as exc:
        raise ToolExecutionError(
            f"tool {tool.name!r} returned a value of type {type(value).__name__}, which cannot "
            f"be converted to JSON: {exc}"
        ) from exc


class ToolExecutor:
    """Runs the tools of a registry: validation, permissions, cache, timeouts, batches.

    Every `ToolRegistry` has one (`registry.executor`) and forwards its call methods to it.
    """

    def __init__(self, registry: ToolRegistry, *, max_concurrency: int | None = None):
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.registry = registry
        self.max_concurrency = max_concurrency

    # -- Python values in, value out (raises) ------------------------------------------------

    def execute(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Validate and run a tool; return its value or raise a `ToolError` subclass."""
        tool = self.registry.get(name)
        self.registry.check_permission(None, tool)
        bound_args, bound_kwargs = tool.binder.bind(args, kwargs)
        return self.run(tool, bound_args, bound_kwargs)[0]

    async def aexecute(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Async twin of `execute`."""
        tool = self.registry.get(name)
        self.registry.check_permission(None, tool)
        bound_args, bound_kwargs = tool.binder.bind(args, kwargs)
        return (await self.arun(tool, bound_args, bound_kwargs))[0]

    # -- JSON-ish in, envelope out (never raises) ---------------------------------------------

    def call(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | bytes | None = None,
        /,
        *,
        args: Sequence[Any] = (),
        caller: str | None = None,
        allowed: Collection[str] | None = None,
        timeout: float | None = None,
    ) -> ToolResult:
        """Run a tool from model-style arguments (dict or JSON string); return a `ToolResult`."""
        start = time.perf_counter()
        try:
            tool, bound_args, bound_kwargs = self._prepare(
                name, arguments, args, caller, allowed, timeout
            )
            value, cached = self.run(tool, bound_args, bound_kwargs, timeout)
            return ToolResult.success(
                name, _jsonable(tool, value), cached=cached, duration_s=time.perf_counter() - start
            )
        except Exception as exc:
            return self._failed(name, exc, start)

    async def acall(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | bytes | None = None,
        /,
        *,
        args: Sequence[Any] = (),
        caller: str | None = None,
        allowed: Collection[str] | None = None,
        timeout: float | None = None,
    ) -> ToolResult:
        """Async twin of `call`. Never raises, except `CancelledError` (cancellation propagates).

        `caller` is passed to the registry's permission hook; `allowed`, when given, is the
        allow-list of tool names for this call. Entry point for bridges (such as kernels).
        """
        start = time.perf_counter()
        try:
            tool, bound_args, bound_kwargs = self._prepare(
                name, arguments, args, caller, allowed, timeout
            )
            value, cached = await self.arun(tool, bound_args, bound_kwargs, timeout)
            return ToolResult.success(
                name, _jsonable(tool, value), cached=cached, duration_s=time.perf_counter() - start
            )
        except Exception as exc:
            return self._failed(name, exc, start)

    async def execute_batch(
        self,
        calls: Iterable[BatchItem],
        *,
        max_concurrency: int | None = None,
        per_tool_concurrency: int | Mapping[str, int] | None = None,
        on_progress: ProgressCallback | None = None,
        caller: str | None = None,
        allowed: Collection[str] | None = None,
    ) -> list[ToolResult]:
        """Run many calls concurrently; one `ToolResult` per item, in the order given.

        `max_concurrency` caps calls running at once (default: the executor's, then the
        registry's); `per_tool_concurrency` caps calls per tool (one number for every tool, or
        a mapping of tool name to cap). Cancelling the batch cancels the calls still running.
        """
        items = list(calls)
        cap = max_concurrency or self.max_concurrency or self.registry.max_concurrency
        if cap < 1:
            raise ValueError("max_concurrency must be at least 1")
        overall = asyncio.Semaphore(cap)
        per_tool: dict[str, asyncio.Semaphore] = {}
        results: list[ToolResult | None] = [None] * len(items)
        done = 0

        def tool_cap(name: str) -> int | None:
            if isinstance(per_tool_concurrency, Mapping):
                return per_tool_concurrency.get(name)
            return per_tool_concurrency

        async def run_one(index: int, item: Any) -> None:
            nonlocal done
            start = time.perf_counter()
            try:
                name, args, arguments = _parse_item(index, item)
            except ToolArgumentError as exc:
                result = self._failed(_item_name(item), exc, start)
            else:
                limit = tool_cap(name)
                if limit is not None:
                    gate = per_tool.setdefault(name, asyncio.Semaphore(limit))
                    async with gate, overall:
                        result = await self.acall(
                            name, arguments, args=args, caller=caller, allowed=allowed
                        )
                else:
                    async with overall:
                        result = await self.acall(
                            name, arguments, args=args, caller=caller, allowed=allowed
                        )
            results[index] = result
            done += 1
            if on_progress is not None:
                await _notify(on_progress, done, len(items), result)

        async with asyncio.TaskGroup() as group:
            for index, item in enumerate(items):
                group.create_task(run_one(index, item))
        return [r for r in results if r is not None]

    # -- internals ---------------------------------------------------------------------------

    def _prepare(
        self,
        name: str,
        arguments: Any,
        args: Any,
        caller: str | None,
        allowed: Collection[str] | None,
        timeout: float | None,
    ) -> tuple[Tool, tuple[Any, ...], dict[str, Any]]:
        registry = self.registry
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ToolArgumentError(
                f"timeout must be a positive number of seconds, got {timeout!r}"
            )
        if allowed is not None:
            registry.check_allowed(name, caller, allowed)
        tool = registry.get(name)
        registry.check_permission(caller, tool)
        if not isinstance(args, (list, tuple)):
            raise ToolArgumentError(
                f"positional arguments for tool {name!r} must be a list, got {type(args).__name__}"
            )
        binder = tool.binder
        if arguments is None:
            return tool, *binder.bind_mapping({}, args)
        if isinstance(arguments, (str, bytes, bytearray)):
            return tool, *binder.bind_json(arguments, args, max_bytes=registry.max_argument_bytes)
        return tool, *binder.bind_mapping(arguments, args)

    @staticmethod
    def _failed(name: Any, exc: Exception, start: float) -> ToolResult:
        if not isinstance(exc, ToolError):  # a bug in a hook or in this package: still an envelope
            logger.exception("unexpected error while calling tool %r", name)
            wrapped = ToolExecutionError(f"internal error while calling tool {name!r}: {exc!r}")
            wrapped.__cause__ = exc
            exc = wrapped
        return ToolResult.failure(str(name), exc, duration_s=time.perf_counter() - start)

    def run(
        self,
        tool: Tool,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None = None,
    ) -> tuple[Any, bool]:
        """Run validated arguments through the cache; returns `(value, cached)`."""
        if tool.cache_ttl is None:
            return invoke(tool, args, kwargs, timeout), False
        cache = self.registry.cache
        key = cache.key(tool, tool.binder.named(args, kwargs))
        if key is None:
            return invoke(tool, args, kwargs, timeout), False
        # Joining a call led by a task on this thread's own loop would deadlock it.
        join = not in_running_loop()
        while True:
            state, payload = cache.lookup(tool, key, join=join)
            if state == "hit":
                return copy_out(payload), True
            if state != "join":
                break
            try:
                return copy_out(payload.result()), True
            except LeaderGone:
                continue
            except ToolError as exc:
                raise _clone(exc) from exc.__cause__
        if state == "bypass":
            value = invoke(tool, args, kwargs, timeout)
            cache.store(tool, key, value)
            return value, False
        try:
            value = invoke(tool, args, kwargs, timeout)
        except ToolError as exc:
            cache.resolve(tool, key, payload, error=exc)
            raise
        except BaseException:
            cache.resolve(tool, key, payload)
            raise
        cache.resolve(tool, key, payload, value=value)
        return value, False

    async def arun(
        self,
        tool: Tool,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None = None,
    ) -> tuple[Any, bool]:
        """Async twin of `run`."""
        if tool.cache_ttl is None:
            return await ainvoke(tool, args, kwargs, timeout), False
        cache = self.registry.cache
        key = cache.key(tool, tool.binder.named(args, kwargs))
        if key is None:
            return await ainvoke(tool, args, kwargs, timeout), False
        while True:
            state, payload = cache.lookup(tool, key)
            if state == "hit":
                return copy_out(payload), True
            if state != "join":
                break
            try:
                return copy_out(await asyncio.wrap_future(payload)), True
            except LeaderGone:
                continue
            except ToolError as exc:
                raise _clone(exc) from exc.__cause__
        try:
            value = await ainvoke(tool, args, kwargs, timeout)
        except ToolError as exc:
            cache.resolve(tool, key, payload, error=exc)
            raise
        except BaseException:
            cache.resolve(tool, key, payload)
            raise
        cache.resolve(tool, key, payload, value=value)
        return value, False


def _item_name(item: Any) -> str:
    if isinstance(item, (tuple, list)) and item and isinstance(item[0], str):
        return item[0]
    return "?"


def _parse_item(index: int, item: Any) -> tuple[str, Sequence[Any], Any]:
    if isinstance(item, str) or not isinstance(item, (tuple, list)) or not 1 <= len(item) <= 3:
        raise ToolArgumentError(
            f"batch item {index} must be (name,), (name, args) or (name, args, kwargs), "
            f"got {type(item).__name__}"
        )
    name = item[0]
    if not isinstance(name, str):
        raise ToolArgumentError(f"batch item {index}: the tool name must be a string")
    args = item[1] if len(item) > 1 and item[1] is not None else ()
    arguments = item[2] if len(item) > 2 else None
    return name, args, arguments


async def _notify(callback: ProgressCallback, done: int, total: int, result: ToolResult) -> None:
    try:
        outcome = callback(done, total, result)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception:  # a broken progress callback must not lose the batch's results
        logger.warning("progress callback failed", exc_info=True)
