"""Tools an LLM (or a person) can call: registration, schemas, validation, execution, caching.

```python
from companion_kernel.tools import ToolRegistry, tool

registry = ToolRegistry()

@tool(name="greet", description="Greet someone")
def greet(name: str) -> str:
    return f"Hello, {name}!"

registry.register(greet)
registry.execute("greet", "Alice")                 # 'Hello, Alice!'
registry.call("greet", '{"name": "Bob"}').value    # envelope form, never raises
```

- `default_registry()` returns a *new* registry with the 23 built-in tools on every call, so
  callers never share registrations, caches or permission hooks by accident.
- `execute`/`aexecute` take Python values and return the value or raise a `ToolError`
  subclass; `call`/`acall` take a dict or a JSON string and return a `ToolResult` envelope
  that never raises; `execute_batch` runs many calls concurrently.
- Through the async API, sync tools run on worker threads so they never block the event loop.
  A sync tool that exceeds its timeout is abandoned, not killed (Python cannot kill threads):
  the caller gets `ToolTimeout` while the thread finishes in the background.
- Caching is opt-in per tool (`@tool(cache_ttl=...)`): see `companion_kernel.tools.cache`.
"""

from __future__ import annotations

from companion_kernel.tools.base import Tool, ToolAnnotations, ToolInfo, check_tool_name, tool
from companion_kernel.tools.cache import CacheStats, ToolCache
from companion_kernel.tools.executor import BatchItem, ProgressCallback, ToolExecutor
from companion_kernel.tools.registry import PermissionHook, ToolRegistry, default_registry
from companion_kernel.tools.results import ToolErrorInfo, ToolResult
from companion_kernel.tools.schemas import (
    SCHEMA_FORMATS,
    SchemaFormat,
    render_tool,
    strict_json_schema,
)

__all__ = [
    "SCHEMA_FORMATS",
    "BatchItem",
    "CacheStats",
    "PermissionHook",
    "ProgressCallback",
    "SchemaFormat",
    "Tool",
    "ToolAnnotations",
    "ToolCache",
    "ToolErrorInfo",
    "ToolExecutor",
    "ToolInfo",
    "ToolRegistry",
    "ToolResult",
    "check_tool_name",
    "default_registry",
    "render_tool",
    "strict_json_schema",
    "tool",
]
