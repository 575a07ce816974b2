"""companion_kernel: warm Jupyter kernels, a validator, sandboxing and tools for AI assistants."""

from .config import EngineConfig, PoolConfig
from .engine import Engine, SyncEngine, SyncSession
from .errors import (
    CompanionKernelError,
    EngineClosed,
    InvalidRequest,
    KernelDiedError,
    KernelStartError,
    PoolExhausted,
    SessionClosed,
    SessionNotFound,
    UnknownLanguage,
)
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
from .session import Session, SessionState

__version__ = "0.1.0"

__all__ = [
    "CompanionKernelError",
    "DisplayDataOutput",
    "Engine",
    "EngineClosed",
    "EngineConfig",
    "ErrorInfo",
    "ErrorOutput",
    "ExecuteResultOutput",
    "ExecutionEvent",
    "ExecutionResult",
    "InvalidRequest",
    "KernelDiedError",
    "KernelPool",
    "KernelStartError",
    "PoolConfig",
    "PoolExhausted",
    "PoolStats",
    "Session",
    "SessionClosed",
    "SessionNotFound",
    "SessionState",
    "StreamOutput",
    "SyncEngine",
    "SyncSession",
    "UnknownLanguage",
    "__version__",
    "load_ipython_extension",
    "unload_ipython_extension",
]
