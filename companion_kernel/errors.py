"""Every exception companion_kernel raises, under one base class.

```
CompanionKernelError
├── EngineError
│   ├── EngineClosed            the engine was shut down (or never started)
│   ├── UnknownLanguage         no kernel is configured for that language
│   └── InvalidRequest          bad input: empty code, NUL bytes, timeout <= 0, ...
├── KernelError
│   ├── KernelStartError        a kernel failed to start (cleaned up before raising)
│   ├── KernelDiedError         the kernel process went away
│   └── PoolExhausted           no kernel became available before the acquire timeout
├── SessionError
│   ├── SessionClosed           the session was closed; open a new one
│   └── SessionNotFound         no session with that id or name
├── WorkspaceError
│   ├── WorkspacePathError      the path is absolute, climbs out or crosses a symlink
│   ├── WorkspaceFileNotFound   no such file or directory in the workspace
│   └── WorkspaceFull           the file or workspace limit would be exceeded
├── ExecutionTimeout            a synchronous helper gave up waiting
├── SandboxError
│   └── SandboxUnavailable      isolation was required but bubblewrap cannot run here
└── ToolError
    ├── ToolNotFound            no tool registered under that name
    ├── ToolAlreadyRegistered   the name is taken and replace was not asked for
    ├── InvalidToolName         the name is not accepted by LLM APIs
    ├── ToolArgumentError       arguments do not match the tool's schema
    ├── ToolTimeout             the tool did not finish within its timeout
    ├── ToolPermissionError     the session may not call this tool (or is rate-limited)
    └── ToolExecutionError      the tool itself raised; the cause is chained
```
"""

from __future__ import annotations

__all__ = [
    "CompanionKernelError",
    "EngineClosed",
    "EngineError",
    "ExecutionTimeout",
    "InvalidRequest",
    "InvalidToolName",
    "KernelDiedError",
    "KernelError",
    "KernelStartError",
    "PoolExhausted",
    "SandboxError",
    "SandboxUnavailable",
    "SessionClosed",
    "SessionError",
    "SessionNotFound",
    "ToolAlreadyRegistered",
    "ToolArgumentError",
    "ToolError",
    "ToolExecutionError",
    "ToolNotFound",
    "ToolPermissionError",
    "ToolTimeout",
    "UnknownLanguage",
    "WorkspaceError",
    "WorkspaceFileNotFound",
    "WorkspaceFull",
    "WorkspacePathError",
]


class CompanionKernelError(Exception):
    """Base class of every error raised by companion_kernel."""


class EngineError(CompanionKernelError):
    """A problem with the engine or a request made to it."""


class EngineClosed(EngineError):
    """The engine is closed (or was never started)."""


class UnknownLanguage(EngineError):
    """No kernel is configured for the requested language."""


class InvalidRequest(EngineError, ValueError):
    """The request itself is malformed (empty code, NUL bytes, timeout <= 0, ...)."""


class KernelError(CompanionKernelError):
    """A problem with a kernel process."""


class KernelStartError(KernelError):
    """A kernel failed to start."""


class KernelDiedError(KernelError):
    """The kernel process died."""


class PoolExhausted(KernelError):
    """No kernel became available before the acquire timeout."""


class SessionError(CompanionKernelError):
    """A problem with a session."""


class SessionClosed(SessionError):
    """The session is closed."""


class SessionNotFound(SessionError, KeyError):
    """No session exists with that id or name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class WorkspaceError(CompanionKernelError):
    """A file operation on a session's workspace failed."""


class WorkspacePathError(WorkspaceError, ValueError):
    """The path is absolute, climbs out of the workspace, or crosses a symlink."""


class WorkspaceFileNotFound(WorkspaceError, FileNotFoundError):
    """No such file or directory in the workspace."""


class WorkspaceFull(WorkspaceError, OSError):
    """The per-file limit or the workspace quota would be exceeded; nothing was left behind."""


class ExecutionTimeout(CompanionKernelError, TimeoutError):
    """A blocking helper gave up waiting."""


class SandboxError(CompanionKernelError):
    """A problem with kernel isolation."""


class SandboxUnavailable(SandboxError):
    """Isolation was required but bubblewrap cannot run on this machine."""


class ToolError(CompanionKernelError):
    """Base class of tool errors."""


class ToolNotFound(ToolError, KeyError):
    """No tool is registered under that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ToolAlreadyRegistered(ToolError):
    """A tool with that name is already registered and replace was not requested."""


class InvalidToolName(ToolError, ValueError):
    """The tool name is not accepted by LLM APIs (letters, digits, _ and -, at most 64)."""


class ToolArgumentError(ToolError, ValueError):
    """The arguments do not match the tool's schema."""


class ToolTimeout(ToolError, TimeoutError):
    """The tool did not finish within its timeout."""


class ToolPermissionError(ToolError, PermissionError):
    """The caller is not allowed to call this tool, or exceeded its rate limit."""


class ToolExecutionError(ToolError):
    """The tool raised an exception; the original is chained as the cause."""
