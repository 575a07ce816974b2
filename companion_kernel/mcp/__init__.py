"""The engine as an MCP server: code-interpreter tools over stdio and streamable HTTP.

```python
from companion_kernel.mcp import CompanionMcpServer, McpConfig

async with CompanionMcpServer(config=McpConfig()) as server:
    await server.run_stdio()
```

From a shell: `companion-kernel mcp` (stdio) or
`COMPANION_MCP_TOKEN=... companion-kernel mcp --transport http --port 8765`.
"""

from __future__ import annotations

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
