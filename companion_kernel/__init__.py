"""companion_kernel: warm Jupyter kernels, a validator, sandboxing and tools for AI assistants."""

from .charts import Chart
from .config import EngineConfig, PoolConfig
from .detection import Detection, detect_language
from .engine import Engine, SyncEngine, SyncSession
from .errors import (
    CompanionKernelError,
    EngineClosed,
    ExecutionTimeout,
    InvalidRequest,
    KernelDiedError,
    KernelStartError,
    PoolExhausted,
    SandboxUnavailable,
    SessionClosed,
    SessionNotFound,
    ToolError,
    UnknownLanguage,
    WorkspaceError,
    WorkspaceFileNotFound,
    WorkspaceFull,
    WorkspacePathError,
)
from .gateway import GatewayConfig
from .magic import load_ipython_extension, unload_ipython_extension
from .models import (
    DisplayDataOutput,
    ErrorInfo,
    ErrorOutput,
    ExecuteResultOutput,
    ExecutionEvent,
    ExecutionResult,
    ImageData,
    StreamOutput,
)
from .pool import KernelPool, PoolStats
from .sandbox.limits import Limits
from .session import Session, SessionState
from .stdin import InputRequest
from .tools.bridge import ToolAccess
from .validation import Policy, ValidationReport, Violation, get_policy, validate
from .workspace import FileEntry, WorkspaceFiles

__version__ = "0.1.0"

__all__ = [
    "Chart",
    "CompanionKernelError",
    "Detection",
    "DisplayDataOutput",
    "Engine",
    "EngineClosed",
    "EngineConfig",
    "ErrorInfo",
    "ErrorOutput",
    "ExecuteResultOutput",
    "ExecutionEvent",
    "ExecutionResult",
    "ExecutionTimeout",
    "FileEntry",
    "GatewayConfig",
    "ImageData",
    "InputRequest",
    "InvalidRequest",
    "KernelDiedError",
    "KernelPool",
    "KernelStartError",
    "Limits",
    "Policy",
    "PoolConfig",
    "PoolExhausted",
    "PoolStats",
    "SandboxUnavailable",
    "Session",
    "SessionClosed",
    "SessionNotFound",
    "SessionState",
    "StreamOutput",
    "SyncEngine",
    "SyncSession",
    "ToolAccess",
    "ToolError",
    "UnknownLanguage",
    "ValidationReport",
    "Violation",
    "WorkspaceError",
    "WorkspaceFileNotFound",
    "WorkspaceFiles",
    "WorkspaceFull",
    "WorkspacePathError",
    "__version__",
    "detect_language",
    "get_policy",
    "load_ipython_extension",
    "unload_ipython_extension",
    "validate",
]
