"""companion_kernel: warm Jupyter kernels, a validator, sandboxing and tools for AI assistants."""

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
    StreamOutput,
)
from .pool import KernelPool, PoolStats
from .sandbox.limits import Limits
from .session import Session, SessionState
from .tools.bridge import ToolAccess
from .validation import Policy, ValidationReport, Violation, get_policy, validate

__version__ = "0.1.0"

__all__ = [
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
    "GatewayConfig",
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
    "__version__",
    "detect_language",
    "get_policy",
    "load_ipython_extension",
    "unload_ipython_extension",
    "validate",
]
