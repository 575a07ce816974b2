"""`ToolResult`: the JSON-able envelope of a tool call, for callers feeding a model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr

from companion_kernel.errors import ToolError, ToolExecutionError

__all__ = ["ToolErrorInfo", "ToolResult"]


class ToolErrorInfo(BaseModel):
    """Why a tool call failed, in a form a model can read."""

    model_config = ConfigDict(frozen=True)

    type: str
    """The error class name, e.g. `ToolArgumentError`, `ToolTimeout`, `ToolExecutionError`."""
    message: str
    """A sentence (or a list of problems) saying what went wrong and how to fix the call."""
    details: Any = None
    """Structured extras: per-argument problems, the original exception type, ..."""


class ToolResult(BaseModel):
    """The outcome of one call: a JSON-able value, or an error; never an exception."""

    model_config = ConfigDict(frozen=True)

    tool: str
    """The tool name as requested."""
    ok: bool
    """True when the tool returned a value."""
    value: Any = None
    """The return value converted to JSON-able data (`None` on error)."""
    error: ToolErrorInfo | None = None
    """What went wrong (`None` on success)."""
    cached: bool = False
    """True when the value came from the cache or from an identical call already running."""
    duration_s: float = 0.0
    """Wall time of the call in seconds, validation included."""

    _exception: ToolError | None = PrivateAttr(default=None)

    @classmethod
    def success(cls, tool: str, value: Any, *, cached: bool, duration_s: float) -> ToolResult:
        """An envelope for a returned value (already JSON-able)."""
        return cls(tool=tool, ok=True, value=value, cached=cached, duration_s=duration_s)

    @classmethod
    def failure(cls, tool: str, exc: ToolError, *, duration_s: float) -> ToolResult:
        """An envelope for a failed call; `unwrap()` re-raises `exc`."""
        details = getattr(exc, "details", None)
        if details is None and isinstance(exc, ToolExecutionError) and exc.__cause__ is not None:
            details = {"exception": type(exc.__cause__).__name__}
        result = cls(
            tool=tool,
            ok=False,
            error=ToolErrorInfo(type=type(exc).__name__, message=str(exc), details=details),
            duration_s=duration_s,
        )
        result._exception = exc
        return result

    def unwrap(self) -> Any:
        """Return the value, or raise the error (the original exception when available)."""
        if self.ok:
            return self.value
        if self._exception is not None:
            raise self._exception
        assert self.error is not None
        raise ToolError(f"{self.error.type}: {self.error.message}")
