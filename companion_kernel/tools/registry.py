"""`ToolRegistry`: the set of tools a caller may use, and the entry points to run them."""

from __future__ import annotations

import re
import threading
import time
import types
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ArgsKwargs

from companion_kernel.errors import (
    ToolAlreadyRegistered,
    ToolError,
    ToolNotFound,
    ToolPermissionError,
)
from companion_kernel.tools.base import Tool, ToolInfo, tool
from companion_kernel.tools.cache import CacheStats, ToolCache
from companion_kernel.tools.executor import (
    BatchItem,
    ProgressCallback,
    ToolExecutor,
    failure,
    settle,
)
from companion_kernel.tools.results import ToolResult
from companion_kernel.tools.schemas import SchemaFormat, render_tool

__all__ = ["PermissionHook", "ToolRegistry", "default_registry"]

PermissionHook = Callable[[str | None, Tool], bool]
"""`(caller, tool) -> allowed`; may also raise `ToolPermissionError` with its own message."""

_WORD = re.compile(r"[a-z0-9]+")


class ToolRegistry:
    """Tools by name: register, find, describe and run them.

    Running: `execute`/`aexecute` take Python values and return the value or raise a
    `ToolError` subclass; `call`/`acall` take a dict or JSON string (as models send them) and
    return a `ToolResult` envelope that never raises; `execute_batch` runs many at once.
    """

    def __init__(
        self,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        *,
        cache_maxsize: int = 1024,
        cache_timer: Callable[[], float] = time.monotonic,
        max_concurrency: int = 32,
        max_argument_bytes: int = 4 * 1024 * 1024,
        permission_hook: PermissionHook | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if max_argument_bytes < 1:
            raise ValueError("max_argument_bytes must be at least 1")
        self._tools: dict[str, Tool] = {}
        self._lock = threading.Lock()
        self.max_concurrency = max_concurrency
        """Default cap on calls running at once in `execute_batch`."""
        self.max_argument_bytes = max_argument_bytes
        """Largest JSON argument string accepted by `call`/`acall`."""
        self.permission_hook = permission_hook
        """Checked before every call; `None` allows everything."""
        self.cache = ToolCache(maxsize=cache_maxsize, timer=cache_timer)
        """Result caches of the tools that opted in with `cache_ttl`."""
        self.executor = ToolExecutor(self)
        """Runs the calls; the call methods below forward to it."""
        for item in tools:
            self.register(item)

    # -- registration --------------------------------------------------------------------------

    def register(
        self, fn: Tool | Callable[..., Any], /, *, replace: bool = False, **options: Any
    ) -> Tool:
        """Add a tool (a `Tool`, or a function made into one with `@tool` options).

        A taken name raises `ToolAlreadyRegistered` unless `replace=True`.
        """
        if isinstance(fn, Tool):
            new = fn.with_options(**options) if options else fn
        else:
            new = tool(**options)(fn)
        with self._lock:
            if new.name in self._tools and not replace:
                raise ToolAlreadyRegistered(
                    f"a tool named {new.name!r} is already registered; "
                    "pass replace=True to replace it"
                )
            self._tools[new.name] = new
        self.cache.forget(new.name)
        return new

    def tool(
        self, fn: Callable[..., Any] | None = None, /, *, replace: bool = False, **options: Any
    ) -> Any:
        """Decorator form of `register`: `@registry.tool` or `@registry.tool(name=...)`."""
        if fn is not None:
            return self.register(fn, replace=replace, **options)

        def decorate(func: Callable[..., Any]) -> Tool:
            return self.register(func, replace=replace, **options)

        return decorate

    def unregister(self, name: str) -> Tool:
        """Remove a tool and its cache; returns it."""
        with self._lock:
            removed = self._tools.pop(name, None)
        if removed is None:
            raise self._not_found(name)
        self.cache.forget(name)
        return removed

    def get(self, name: str) -> Tool:
        """The tool called `name`, or `ToolNotFound`."""
        found = self._tools.get(name) if isinstance(name, str) else None
        if found is None:
            raise self._not_found(name)
        return found

    def _not_found(self, name: object) -> ToolNotFound:
        hint = ""
        if isinstance(name, str):
            close = [t.name for t in self.search(name, limit=3)]
            if close:
                hint = f"; did you mean {', '.join(close)}?"
        return ToolNotFound(f"no tool named {name!r} is registered{hint}")

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.list_tools())

    def __repr__(self) -> str:
        return f"<ToolRegistry {len(self)} tools>"

    # -- discovery -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._tools)

    def list_tools(self, *, category: str | None = None, tag: str | None = None) -> list[Tool]:
        """Tools sorted by name, optionally only one category and/or tag."""
        tools = sorted(self._tools.values(), key=lambda t: t.name)
        if category is not None:
            tools = [t for t in tools if t.category == category]
        if tag is not None:
            tools = [t for t in tools if tag in t.tags]
        return tools

    def categories(self) -> dict[str, list[Tool]]:
        """Tools grouped by category (categories and tools sorted by name)."""
        groups: dict[str, list[Tool]] = {}
        for item in self.list_tools():
            groups.setdefault(item.category, []).append(item)
        return dict(sorted(groups.items()))

    def search(
        self, query: str, *, limit: int | None = None, category: str | None = None
    ) -> list[Tool]:
        """Tools matching `query` in name, tags, category or description, best first."""
        terms = query.lower().split()
        candidates = self.list_tools(category=category)
        if not terms:
            return candidates[:limit]
        scored = [(score, t) for t in candidates if (score := _score(t, terms)) > 0]
        scored.sort(key=lambda pair: (-pair[0], pair[1].name))
        return [t for _, t in scored][:limit]

    def info(self, name: str) -> ToolInfo:
        """The metadata of one tool."""
        return self.get(name).info()

    def schemas(
        self,
        format: SchemaFormat = "openai",
        *,
        strict: bool = False,
        names: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Tool definitions ready to paste into an LLM API call."""
        tools = [self.get(n) for n in names] if names is not None else self.list_tools()
        return [render_tool(t, format, strict=strict) for t in tools]

    # -- permissions ---------------------------------------------------------------------------

    def check_allowed(self, name: str, caller: str | None, allowed: Collection[str]) -> None:
        """Raise `ToolPermissionError` unless `name` is in the allow-list."""
        if name not in allowed:
            who = f"caller {caller!r}" if caller else "this caller"
            raise ToolPermissionError(f"{who} may not call tool {name!r} (not in its allow-list)")

    def check_permission(self, caller: str | None, tool: Tool) -> None:
        """Ask the permission hook; raise `ToolPermissionError` if it refuses."""
        hook = self.permission_hook
        if hook is None:
            return
        try:
            allowed = hook(caller, tool)
        except ToolPermissionError:
            raise
        except Exception as exc:
            raise ToolPermissionError(
                f"the permission check for tool {tool.name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not allowed:
            who = f"caller {caller!r}" if caller else "this caller"
            raise ToolPermissionError(f"{who} may not call tool {tool.name!r}")

    # -- running (forwarded to the executor) ---------------------------------------------------

    def execute(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Validate and run a tool; return its value or raise a `ToolError` subclass.

        Works from sync code and from inside a running event loop (async tools then get a
        private loop on a worker thread).
        """
        # The hot path is inlined (one frame per layer costs ~10% of a small call); it does
        # what `ToolExecutor.execute` does.
        try:
            found = self._tools[name]
        except (KeyError, TypeError):
            raise self._not_found(name) from None
        if self.permission_hook is not None:
            self.check_permission(None, found)
        try:
            args, kwargs = found._validate_args(ArgsKwargs(args, kwargs))
        except ValidationError as exc:
            raise found._binder.error_from(exc) from None
        if not found._direct:
            return self.executor.run(found, args, kwargs)[0]
        try:
            result = found.fn(*args, **kwargs)
        except ToolError:
            raise
        except (Exception, SystemExit) as exc:
            raise failure(found, exc) from exc
        if isinstance(result, types.CoroutineType):  # a sync wrapper around a coroutine
            return settle(found, result)
        return result

    async def aexecute(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Async twin of `execute`; sync tools run on a worker thread."""
        return await self.executor.aexecute(name, *args, **kwargs)

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
        """Run from a dict or JSON string of arguments; return a `ToolResult` (never raises)."""
        return self.executor.call(
            name, arguments, args=args, caller=caller, allowed=allowed, timeout=timeout
        )

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
        """Async twin of `call` (cancellation still propagates)."""
        return await self.executor.acall(
            name, arguments, args=args, caller=caller, allowed=allowed, timeout=timeout
        )

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
        """Run `[(name, args, kwargs), ...]` concurrently; one `ToolResult` per item, in order."""
        return await self.executor.execute_batch(
            calls,
            max_concurrency=max_concurrency,
            per_tool_concurrency=per_tool_concurrency,
            on_progress=on_progress,
            caller=caller,
            allowed=allowed,
        )

    # -- cache ---------------------------------------------------------------------------------

    def cache_stats(self, name: str | None = None) -> dict[str, CacheStats]:
        """Cache counters of every caching tool, or of the one named (after its first call)."""
        if name is None:
            return self.cache.all_stats()
        self.get(name)
        stats = self.cache.stats(name)
        return {name: stats} if stats is not None else {}

    def invalidate_cache(self, name: str | None = None) -> int:
        """Drop cached results of one tool (or all); returns how many were dropped."""
        if name is not None:
            self.get(name)
        return self.cache.invalidate(name)


def _score(item: Tool, terms: Sequence[str]) -> int:
    name = item.name.lower()
    tags = [t.lower() for t in item.tags]
    words = set(_WORD.findall(item.description.lower()))
    description = item.description.lower()
    total = 0
    for term in terms:
        if name == term:
            total += 100
        elif name.startswith(term):
            total += 60
        elif term in name:
            total += 40
        if term in tags:
            total += 30
        elif any(term in t for t in tags):
            total += 15
        if term == item.category.lower():
            total += 20
        if term in words:
            total += 10
        elif term in description:
            total += 5
    return total


def default_registry() -> ToolRegistry:
    """A new registry holding the 23 built-in tools.

    Each call returns a fresh registry (its own cache, registrations and permission hook), so
    callers never share mutable state; the `Tool` objects themselves are immutable and shared.
    """
    from companion_kernel.tools.builtins import BUILTIN_TOOLS

    return ToolRegistry(BUILTIN_TOOLS)
