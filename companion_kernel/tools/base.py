"""`Tool`: a function with its name, schema, validator and metadata; `@tool` makes one."""

from __future__ import annotations

import hashlib
import inspect
import json
import marshal
import re
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, overload

from pydantic import BaseModel, ConfigDict, TypeAdapter

from companion_kernel.errors import InvalidToolName
from companion_kernel.tools._arguments import ArgumentBinder, resolve_hints
from companion_kernel.tools._docstrings import parse_docstring

__all__ = [
    "Tool",
    "ToolAnnotations",
    "ToolInfo",
    "check_tool_name",
    "tool",
]

_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

Runs = Literal["host", "kernel"]
_HINTS = ("title", "read_only", "destructive", "idempotent", "open_world")


def check_tool_name(name: object) -> str:
    """Return `name` if LLM APIs accept it (letters, digits, `_`, `-`, 1-64 chars), else raise."""
    if not isinstance(name, str):
        raise InvalidToolName(f"tool name must be a string, got {type(name).__name__}")
    if not _NAME_RE.fullmatch(name):
        raise InvalidToolName(
            f"invalid tool name {name!r}: use 1-64 characters from letters, digits, '_' and '-'"
        )
    return name


class ToolAnnotations(BaseModel):
    """Hints about a tool's behaviour, as MCP defines them (`None` = not stated)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str | None = None
    """A human-readable title."""
    read_only: bool | None = None
    """The tool does not modify its environment."""
    destructive: bool | None = None
    """The tool may perform destructive updates (meaningful when not read-only)."""
    idempotent: bool | None = None
    """Calling it again with the same arguments has no additional effect."""
    open_world: bool | None = None
    """The tool interacts with external entities (the web, other systems)."""


class ToolInfo(BaseModel):
    """A JSON-able description of a registered tool."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The name LLMs call the tool by."""
    description: str
    """What the tool does (from the decorator or the docstring)."""
    category: str
    """Group used for listing (`math`, `text`, ...)."""
    tags: tuple[str, ...]
    """Free-form labels used by search."""
    signature: str
    """The parameters in Python notation, e.g. `add(a: int, b: int)`."""
    version: str
    """Hash of the source, the schemas and the declared version; changes when the tool does."""
    declared_version: str | None
    """The version label given to `@tool(version=...)`, if any."""
    is_async: bool
    """Whether the function is a coroutine function."""
    runs: Runs
    """Where the tool is meant to run: on the host, or installed into kernels."""
    timeout: float | None
    """Seconds before a call is abandoned with `ToolTimeout` (`None` = no limit)."""
    cache_ttl: float | None
    """Seconds a result stays cached (`None` = not cached, `inf` = until evicted)."""
    annotations: ToolAnnotations
    """Behaviour hints (read-only, idempotent, ...)."""
    input_schema: dict[str, Any]
    """JSON schema of the arguments object."""
    output_schema: dict[str, Any] | None
    """JSON schema of the return value, when the return type allows one."""
    metadata: dict[str, Any]
    """Extra user data attached with `@tool(metadata=...)`."""


def _positive(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number or None, got {value!r}")
    return float(value)


def _output_schema(fn: Callable[..., Any], description: str) -> dict[str, Any] | None:
    try:
        hints = resolve_hints(fn)
    except Exception:  # an unresolvable return type only costs the output schema
        return None
    annotation = hints.get("return", inspect.Signature.empty)
    if annotation in (inspect.Signature.empty, None, type(None), Any):
        return None
    try:
        schema = TypeAdapter(annotation).json_schema(mode="serialization")
    except Exception:  # the return type has no JSON schema; the tool still works
        return None
    if description and "description" not in schema:
        schema["description"] = description
    return schema


def _source(fn: Callable[..., Any]) -> str | None:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return None


def _code_fingerprint(fn: Callable[..., Any]) -> str:
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is not None:
        return hashlib.sha256(marshal.dumps(code)).hexdigest()
    return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(type(fn)))}"


class Tool:
    """A callable tool: the original function plus name, schemas, validator and metadata.

    Calling the `Tool` object calls the function directly (no validation); registries validate,
    time out, cache and wrap errors. Instances are immutable, so one `Tool` can live in
    several registries.
    """

    __slots__ = (
        "_binder",
        "_direct",
        "_source",
        "_validate_args",
        "_version",
        "annotations",
        "cache_maxsize",
        "cache_ttl",
        "category",
        "declared_version",
        "description",
        "fn",
        "is_async",
        "metadata",
        "name",
        "output_schema",
        "runs",
        "tags",
        "timeout",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        category: str = "general",
        tags: Iterable[str] = (),
        cache_ttl: float | None = None,
        cache_maxsize: int | None = None,
        timeout: float | None = None,
        version: str | None = None,
        runs: Runs = "host",
        annotations: ToolAnnotations | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(fn, Tool):
            fn = fn.fn
        if not callable(fn):
            raise TypeError(f"a tool must wrap a callable, got {type(fn).__name__}")
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError("generator functions cannot be tools: return a list instead")
        self.fn = fn
        self.name = check_tool_name(name if name is not None else getattr(fn, "__name__", None))
        doc = parse_docstring(inspect.getdoc(fn))
        self.description = (description if description is not None else doc.description).strip()
        if not isinstance(category, str) or not category.strip():
            raise ValueError("category must be a non-empty string")
        self.category = category.strip()
        tags = (tags,) if isinstance(tags, str) else tuple(tags)
        if not all(isinstance(t, str) for t in tags):
            raise TypeError("tags must be strings")
        self.tags: tuple[str, ...] = tags
        self.cache_ttl = _positive("cache_ttl", cache_ttl)
        if cache_maxsize is not None and (isinstance(cache_maxsize, bool) or cache_maxsize < 1):
            raise ValueError(
                f"cache_maxsize must be a positive integer or None, got {cache_maxsize!r}"
            )
        self.cache_maxsize = cache_maxsize
        self.timeout = _positive("timeout", timeout)
        if runs not in ("host", "kernel"):
            raise ValueError(f"runs must be 'host' or 'kernel', got {runs!r}")
        self.runs: Runs = runs
        self.declared_version = version
        self.annotations = annotations or ToolAnnotations()
        self.metadata: Mapping[str, Any] = types.MappingProxyType(dict(metadata or {}))
        call_method = fn.__call__ if not inspect.isroutine(fn) else None
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call_method)
        self._binder = ArgumentBinder(fn, tool_name=self.name, param_docs=doc.params)
        self._validate_args = self._binder.validate_args
        # Sync `execute` may call such a tool in place: nothing to await, time or cache.
        self._direct = not self.is_async and self.cache_ttl is None and self.timeout is None
        self.output_schema = _output_schema(fn, doc.returns)
        self._source = _source(fn)
        fingerprint = {
            "code": self._source if self._source is not None else _code_fingerprint(fn),
            "input": self.input_schema,
            "output": self.output_schema,
            "declared": version,
        }
        digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode())
        self._version = digest.hexdigest()[:16]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Tool {self.signature!r} category={self.category!r} version={self.version}>"

    @property
    def version(self) -> str:
        """A stable hash of the source, schemas and declared version (part of the cache key)."""
        return self._version

    @property
    def source(self) -> str | None:
        """The function's source code, when `inspect.getsource` can find it."""
        return self._source

    @property
    def input_schema(self) -> dict[str, Any]:
        """JSON schema of the arguments object (do not mutate; renderers copy it)."""
        return self._binder.input_schema

    @property
    def signature(self) -> str:
        """The parameters in Python notation, e.g. `add(a: int, b: int)`."""
        return self._binder.signature_text

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Parameter names in declaration order."""
        return self._binder.parameter_names

    @property
    def binder(self) -> ArgumentBinder:
        """The argument validator (internal API, used by the executor)."""
        return self._binder

    def validate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Validate Python arguments and return them keyed by parameter name."""
        return self._binder.named(*self._binder.bind(args, kwargs))

    def info(self) -> ToolInfo:
        """A JSON-able description of this tool."""
        return ToolInfo(
            name=self.name,
            description=self.description,
            category=self.category,
            tags=self.tags,
            signature=self.signature,
            version=self.version,
            declared_version=self.declared_version,
            is_async=self.is_async,
            runs=self.runs,
            timeout=self.timeout,
            cache_ttl=self.cache_ttl,
            annotations=self.annotations,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            metadata=dict(self.metadata),
        )

    def with_options(self, **changes: Any) -> Tool:
        """A copy of this tool with some options changed (same function)."""
        options: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "tags": self.tags,
            "cache_ttl": self.cache_ttl,
            "cache_maxsize": self.cache_maxsize,
            "timeout": self.timeout,
            "version": self.declared_version,
            "runs": self.runs,
            "annotations": self.annotations,
            "metadata": self.metadata,
        }
        hints = {k: changes.pop(k) for k in _HINTS if k in changes}
        unknown = set(changes) - set(options)
        if unknown:
            raise TypeError(f"unknown tool options: {', '.join(sorted(unknown))}")
        options.update(changes)
        if hints:
            options["annotations"] = options["annotations"].model_copy(update=hints)
        return Tool(self.fn, **options)


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    category: str = "general",
    tags: Sequence[str] = (),
    cache_ttl: float | None = None,
    cache_maxsize: int | None = None,
    timeout: float | None = None,
    version: str | None = None,
    runs: Runs = "host",
    title: str | None = None,
    read_only: bool | None = None,
    destructive: bool | None = None,
    idempotent: bool | None = None,
    open_world: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    category: str = "general",
    tags: Sequence[str] = (),
    cache_ttl: float | None = None,
    cache_maxsize: int | None = None,
    timeout: float | None = None,
    version: str | None = None,
    runs: Runs = "host",
    title: str | None = None,
    read_only: bool | None = None,
    destructive: bool | None = None,
    idempotent: bool | None = None,
    open_world: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a `Tool` from a function; use bare (`@tool`) or with options (`@tool(name=...)`).

    - `cache_ttl`: seconds to cache results (`None`, the default, disables caching;
      `math.inf` keeps results until evicted by `cache_maxsize`).
    - `timeout`: seconds before a call fails with `ToolTimeout`. A timed-out sync tool's thread
      is abandoned, not killed (Python cannot kill threads); it finishes in the background.
    - `version`: a label to bump when behaviour changes without a source change; it is mixed
      into `Tool.version`, the hash that keys the cache.
    - `runs`: `"host"` (default) or `"kernel"` for tools meant to be installed into kernels.
    - `title`, `read_only`, `destructive`, `idempotent`, `open_world`: MCP behaviour hints.
    """
    annotations = ToolAnnotations(
        title=title,
        read_only=read_only,
        destructive=destructive,
        idempotent=idempotent,
        open_world=open_world,
    )

    def decorate(func: Callable[..., Any]) -> Tool:
        return Tool(
            func,
            name=name,
            description=description,
            category=category,
            tags=tags,
            cache_ttl=cache_ttl,
            cache_maxsize=cache_maxsize,
            timeout=timeout,
            version=version,
            runs=runs,
            annotations=annotations,
            metadata=metadata,
        )

    if fn is not None:
        if isinstance(fn, str):
            raise TypeError("use @tool(name=...) to name a tool; @tool takes the function itself")
        return decorate(fn)
    return decorate
