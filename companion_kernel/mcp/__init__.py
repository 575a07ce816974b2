"""The engine as an MCP server: code-interpreter tools over stdio and streamable HTTP.

```python
from companion_kernel.mcp import CompanionMcpServer, McpConfig

async with CompanionMcpServer(config=McpConfig()) as server:
    await server.run_stdio()
```

From a shell: `companion-kernel mcp` (stdio) or
`COMPANION_MCP_TOKEN=... companion-kernel mcp --transport http --port 8765`.

Names load on first use: the MCP SDK takes a second or more to import, which the
other `companion-kernel` commands should not pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import McpConfig, load_config
    from .content import (
        CHART_MIME,
        Attachment,
        ContentOptions,
        Converted,
        error_result,
        result_to_content,
    )
    from .server import CompanionMcpServer

__all__ = [
    "CHART_MIME",
    "Attachment",
    "CompanionMcpServer",
    "ContentOptions",
    "Converted",
    "McpConfig",
    "error_result",
    "load_config",
    "result_to_content",
]

_HOMES = {
    "CHART_MIME": "content",
    "Attachment": "content",
    "CompanionMcpServer": "server",
    "ContentOptions": "content",
    "Converted": "content",
    "McpConfig": "config",
    "error_result": "content",
    "load_config": "config",
    "result_to_content": "content",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
