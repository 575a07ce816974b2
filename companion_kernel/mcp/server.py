"""`CompanionMcpServer`: one engine served to MCP clients over stdio or streamable HTTP.

```python
async with CompanionMcpServer(config=McpConfig()) as server:
    await server.run_stdio()                     # or: await server.run_http(tokens=[...])
```

In tests, `mcp.Client(server.mcp)` talks to it in memory.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError

from companion_kernel import __version__
from companion_kernel.engine import Engine
from companion_kernel.errors import InvalidRequest

from ._auth import StaticTokenVerifier
from ._clients import ClientRegistry
from ._files import FileTools
from ._tools import CodeTools, registry_tools
from .config import McpConfig
from .content import ATTACHMENT_URI_PREFIX

__all__ = ["CompanionMcpServer", "is_loopback"]

log = logging.getLogger(__name__)

_INSTRUCTIONS = """\
Runs code in warm, sandboxed Jupyter kernels (Python, JavaScript, shell).
Use run_code for one-off runs; create_session for state that persists between calls
(variables, imports, files), then pass its session_id to run_code. write_file, read_file
and list_files move files in and out of a session's workspace (its working directory).
Results carry stdout, stderr, the value of the last expression, images and errors with
tracebacks. Code the policy forbids is rejected with the reasons, before it runs."""

_LINK_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "svg": "image/svg+xml",
}


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class CompanionMcpServer:
    """The MCP server of one engine: tools, per-client ownership, transports."""

    def __init__(
        self,
        engine: Engine | None = None,
        config: McpConfig | None = None,
        *,
        tokens: list[str] | None = None,
    ) -> None:
        """`engine`: serve this (started or not; the caller closes it). Without one, an
        engine is built from `config.engine` and closed by `aclose()`. `tokens`: bearer
        tokens the HTTP transport accepts (each is its own client principal)."""
        self.config = config or McpConfig()
        self._owns_engine = engine is None
        self.engine = engine if engine is not None else Engine(self.config.engine)
        self.clients = ClientRegistry(self.config.max_attachment_bytes)
        self._start_lock = asyncio.Lock()
        self.tokens = list(tokens or [])
        auth: dict[str, Any] = {}
        if self.tokens:
            auth = {
                "token_verifier": StaticTokenVerifier(self.tokens),
                # Resource-server-only auth with static tokens: no OAuth routes or metadata
                # are published, so the issuer is never contacted.
                "auth": AuthSettings(
                    issuer_url="http://localhost", resource_server_url=None, required_scopes=[]
                ),
            }
        tools = CodeTools(self._started_engine, self.clients, self.config)
        taken = {
            "run_code",
            "create_session",
            "list_sessions",
            "close_session",
            "restart_session",
            "interrupt",
            "write_file",
            "read_file",
            "list_files",
        }
        extra = []
        if self.config.expose_tools and self.engine.tools is not None:
            extra = registry_tools(self._started_engine, list(self.engine.tools), taken)
        self.mcp: MCPServer[Any] = MCPServer(
            "companion-kernel",
            version=__version__,
            instructions=_INSTRUCTIONS,
            lifespan=self._lifespan,
            tools=extra,
            log_level="WARNING",
            **auth,
        )
        tools.register(self.mcp.add_tool)
        FileTools(self.clients, self.config).register(self.mcp.add_tool)
        for extension, mime in _LINK_TYPES.items():
            self._add_output_resource(extension, mime)

    def _started_engine(self) -> Engine:
        return self.engine

    def _add_output_resource(self, extension: str, mime: str) -> None:
        async def read_output(digest: str, ctx: Context) -> bytes:
            uri = f"{ATTACHMENT_URI_PREFIX}{digest}.{extension}"
            attachment = self.clients.for_context(ctx).attachments.get(uri)
            if attachment is None:
                raise ResourceError(
                    f"no output {uri} for this client (outputs are kept per client, "
                    "the oldest dropped past a memory budget)"
                )
            return attachment.data

        self.mcp.resource(
            f"{ATTACHMENT_URI_PREFIX}{{digest}}.{extension}",
            name=f"output-{extension}",
            description=f"A {mime} output too large to inline in a run_code result.",
            mime_type=mime,
        )(read_output)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> CompanionMcpServer:
        """Start the engine (its pools begin warming); idempotent."""
        async with self._start_lock:
            await self.engine.start()
        return self

    async def aclose(self) -> None:
        """Close every client's sessions, and the engine if this server built it."""
        await self.clients.close_all()
        if self._owns_engine:
            await self.engine.aclose()

    async def __aenter__(self) -> CompanionMcpServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @asynccontextmanager
    async def _lifespan(self, _server: Any) -> AsyncIterator[dict[str, Any]]:
        # Started here, not earlier: over stdio this runs once the transport has moved fd 1
        # off the wire, so kernels inherit stderr and their stray output cannot corrupt it.
        await self.start()
        yield {}

    # -- transports ----------------------------------------------------------------------------

    async def run_stdio(self) -> None:
        """Serve one client over this process's stdin/stdout until it closes them."""
        await self.mcp.run_stdio_async()

    def http_app(self, host: str = "127.0.0.1") -> Any:
        """The Starlette app serving streamable HTTP at `/mcp` (bearer auth if tokens)."""
        if not self.tokens and not is_loopback(host):
            raise InvalidRequest(
                f"refusing to serve {host} without a token: set COMPANION_MCP_TOKEN or "
                "use --token-file (or bind 127.0.0.1)"
            )
        return self.mcp.streamable_http_app(streamable_http_path="/mcp", host=host)

    async def run_http(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        sock: socket.socket | None = None,
        ready: asyncio.Event | None = None,
    ) -> None:
        """Serve streamable HTTP until cancelled; `sock`: an already bound socket to use."""
        import uvicorn

        app = self.http_app(host)
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="on", access_log=False
        )
        server = uvicorn.Server(config)
        if sock is None:
            sock = config.bind_socket()
        # Connections inherit it from the listening socket: without it, Nagle's algorithm
        # and delayed ACKs add about 40 ms to every call.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        try:
            if ready is not None:
                while not server.started and not serving.done():
                    await asyncio.sleep(0.02)
                ready.set()
            await asyncio.shield(serving)
        except asyncio.CancelledError:
            server.should_exit = True
            await serving
            raise
