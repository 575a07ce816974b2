"""Per-tool result caches with TTL, single flight and statistics.

Built on cachetools containers (`TTLCache`, `LRUCache`), never on its `@cached` decorator, which
would cache coroutine objects. The key is the tool name, its version hash and the canonical JSON
of the validated arguments, so lists and dicts work as arguments. Identical calls that overlap
run once: the first caller runs the tool, the others wait for its result ("joined" calls).
Errors are never cached. Cached values are deep-copied in and out, so callers cannot corrupt
them. Everything here is thread-safe: sync and async callers share one cache.
"""

from __future__ import annotations

import concurrent.futures
import copy
import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import cachetools
from pydantic import BaseModel, ConfigDict, computed_field
from pydantic_core import to_jsonable_python

if TYPE_CHECKING:
    from companion_kernel.tools.base import Tool

__all__ = ["CacheStats", "Flight", "LeaderGone", "ToolCache"]

_MISSING: Any = object()
_LONG_KEY = 512


class CacheStats(BaseModel):
    """Counters for one tool's cache."""

    model_config = ConfigDict(frozen=True)

    tool: str
    """The tool name."""
    hits: int
    """Calls answered from the cache."""
    misses: int
    """Calls that ran the tool."""
    joined: int
    """Calls that waited for an identical call already running instead of running the tool."""
    evictions: int
    """Entries dropped because the cache was full or their TTL ran out."""
    size: int
    """Entries currently cached."""
    maxsize: int
    """Most entries kept for this tool."""
    ttl: float | None
    """Seconds an entry lives (`None` = until evicted)."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def hit_rate(self) -> float:
        """Share of calls served without running the tool: (hits + joined) / all calls."""
        total = self.hits + self.misses + self.joined
        return (self.hits + self.joined) / total if total else 0.0


class LeaderGone(Exception):
    """The call being joined was cancelled; joiners retry (internal signal)."""


class _TTL(cachetools.TTLCache):
    def __init__(
        self, maxsize: int, ttl: float, timer: Callable[[], float], on_evict: Callable[[int], None]
    ):
        super().__init__(maxsize, ttl, timer=timer)
        self._on_evict = on_evict

    def popitem(self) -> tuple[Any, Any]:
        item = super().popitem()
        self._on_evict(1)
        return item

    def expire(self, time: float | None = None) -> list[tuple[Any, Any]]:
        expired = super().expire(time)
        if expired:
            self._on_evict(len(expired))
        return expired


class _LRU(cachetools.LRUCache):
    def __init__(self, maxsize: int, on_evict: Callable[[int], None]):
        super().__init__(maxsize)
        self._on_evict = on_evict

    def popitem(self) -> tuple[Any, Any]:
        item = super().popitem()
        self._on_evict(1)
        return item


@dataclass
class _Entry:
    ttl: float
    maxsize: int
    data: cachetools.Cache = field(init=False)
    inflight: dict[str, Flight] = field(default_factory=dict)
    generation: int = 0
    hits: int = 0
    misses: int = 0
    joined: int = 0
    evictions: int = 0

    def _evicted(self, n: int) -> None:
        self.evictions += n


@dataclass(frozen=True)
class Flight:
    """A call in progress that identical calls can join."""

    future: concurrent.futures.Future[Any]
    generation: int


Lookup = Literal["hit", "join", "lead", "bypass"]


class ToolCache:
    """Result caches for the tools of one registry (one container per tool)."""

    def __init__(self, *, maxsize: int = 1024, timer: Callable[[], float] = time.monotonic):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._timer = timer
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def key(self, tool: Tool, arguments: Mapping[str, Any]) -> str | None:
        """The cache key for validated arguments, or `None` if they have no JSON form."""
        try:
            canonical = json.dumps(
                to_jsonable_python(arguments),
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            )
        except (TypeError, ValueError):
            return None
        if len(canonical) > _LONG_KEY:
            canonical = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
        return f"{tool.version}:{canonical}"

    def _entry(self, tool: Tool) -> _Entry:
        ttl = tool.cache_ttl if tool.cache_ttl is not None else math.inf
        maxsize = tool.cache_maxsize or self.maxsize
        entry = self._entries.get(tool.name)
        if entry is None or entry.ttl != ttl or entry.maxsize != maxsize:
            old = entry
            entry = _Entry(ttl=ttl, maxsize=maxsize)
            if old is not None:  # options changed: keep the counters, drop the data
                entry.hits, entry.misses, entry.joined = old.hits, old.misses, old.joined
                entry.evictions, entry.generation = old.evictions, old.generation + 1
            entry.data = self._container(entry)
            self._entries[tool.name] = entry
        return entry

    def _container(self, entry: _Entry) -> cachetools.Cache:
        if math.isinf(entry.ttl):
            return _LRU(entry.maxsize, entry._evicted)
        return _TTL(entry.maxsize, entry.ttl, self._timer, entry._evicted)

    def lookup(self, tool: Tool, key: str, *, join: bool = True) -> tuple[Lookup, Any]:
        """Find a cached value (`hit`), a call to wait for (`join`), or become the runner.

        `lead` returns a `Flight` the caller must pass to `resolve`; `bypass` (when `join` is
        false and an identical call is running) means run the tool without publishing.
        """
        with self._lock:
            entry = self._entry(tool)
            value = entry.data.get(key, _MISSING)
            if value is not _MISSING:
                entry.hits += 1
                return "hit", value
            flight = entry.inflight.get(key)
            if flight is not None and join:
                entry.joined += 1
                return "join", flight.future
            entry.misses += 1
            if flight is not None:
                return "bypass", None
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            # A running future cannot be cancelled, so a waiter giving up cannot break it.
            future.set_running_or_notify_cancel()
            flight = Flight(future, entry.generation)
            entry.inflight[key] = flight
            return "lead", flight

    def store(self, tool: Tool, key: str, value: Any) -> None:
        """Cache `value` outside single flight (used by `bypass` callers)."""
        stored = _copy_in(value)
        if stored is _MISSING:
            return
        with self._lock:
            self._entry(tool).data[key] = stored

    def resolve(
        self,
        tool: Tool,
        key: str,
        flight: Flight,
        *,
        value: Any = _MISSING,
        error: BaseException | None = None,
    ) -> None:
        """Finish a `lead`: cache a value (never an error) and wake the joined callers.

        With neither `value` nor `error` the leader was cancelled; joiners retry.
        """
        stored = _copy_in(value) if value is not _MISSING and error is None else _MISSING
        with self._lock:
            entry = self._entries.get(tool.name)
            if entry is not None:
                if entry.inflight.get(key) is flight:
                    del entry.inflight[key]
                if stored is not _MISSING and entry.generation == flight.generation:
                    entry.data[key] = stored
        if error is not None:
            flight.future.set_exception(error)
        elif value is _MISSING:
            flight.future.set_exception(LeaderGone())
        else:
            flight.future.set_result(stored if stored is not _MISSING else value)

    def invalidate(self, name: str | None = None) -> int:
        """Drop cached values of one tool (or all); returns how many were dropped."""
        with self._lock:
            names = [name] if name is not None else list(self._entries)
            dropped = 0
            for tool_name in names:
                entry = self._entries.get(tool_name)
                if entry is None:
                    continue
                dropped += len(entry.data)
                entry.generation += 1
                entry.data = self._container(entry)
            return dropped

    def forget(self, name: str) -> None:
        """Drop a tool's cache and its counters (when it is unregistered)."""
        with self._lock:
            self._entries.pop(name, None)

    def stats(self, name: str) -> CacheStats | None:
        """Counters for one tool, or `None` if it was never looked up."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return None
            return CacheStats(
                tool=name,
                hits=entry.hits,
                misses=entry.misses,
                joined=entry.joined,
                evictions=entry.evictions,
                size=len(entry.data),
                maxsize=entry.maxsize,
                ttl=None if math.isinf(entry.ttl) else entry.ttl,
            )

    def all_stats(self) -> dict[str, CacheStats]:
        """Counters for every tool that has a cache."""
        with self._lock:
            names = sorted(self._entries)
        return {n: s for n in names if (s := self.stats(n)) is not None}


_IMMUTABLE = (int, float, str, bytes, bool, type(None), complex)


def _copy_in(value: Any) -> Any:
    if isinstance(value, _IMMUTABLE):
        return value
    try:
        return copy.deepcopy(value)
    except Exception:  # a value that cannot be copied is not cached
        return _MISSING


def copy_out(value: Any) -> Any:
    """A private copy of a cached value for one caller."""
    if isinstance(value, _IMMUTABLE):
        return value
    return copy.deepcopy(value)
