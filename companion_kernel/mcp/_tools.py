"""The MCP tools: run code, manage sessions, and (optionally) the host tool registry."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool as McpTool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import ConfigDict, Field

from companion_kernel.errors import CompanionKernelError
from companion_kernel.languages import canonical_language
from companion_kernel.models import ExecutionResult

from ._clients import Client, ClientRegistry, UnknownSession
from .content import error_result, result_to_content

if TYPE_CHECKING:
    from companion_kernel.engine import Engine
    from companion_kernel.session import Session
    from companion_kernel.tools import Tool

    from .config import McpConfig

__all__ = ["CodeTools", "registry_tools"]

log = logging.getLogger(__name__)

_SESSION_ID = Annotated[str, Field(description="A session id (or name) from create_session.")]


class CodeTools:
    """The tool functions, bound to one engine (given by a getter: it starts with the server)."""

    def __init__(
        self, engine: Callable[[], Engine], clients: ClientRegistry, config: McpConfig
    ) -> None:
        self._engine = engine
        self._clients = clients
        self._config = config

    def register(self, add_tool: Callable[..., None]) -> None:
        """Register every tool with `MCPServer.add_tool`."""
        languages = ", ".join(self._config.engine.languages)
        add_tool(
            self.run_code,
            name="run_code",
            description=(
                f"Run code ({languages}) and return its stdout, stderr, result value, images "
                "and errors. Without session_id it runs in a fresh kernel that is discarded "
                "afterwards; with session_id it runs in that session, where variables, "
                "imports and files persist between calls. language is detected from the code "
                "when omitted. Code the policy forbids comes back as an error listing the "
                "violations; nothing runs then."
            ),
            annotations=ToolAnnotations(
                title="Run code", destructive_hint=False, open_world_hint=False
            ),
            structured_output=False,
        )
        add_tool(
            self.create_session,
            name="create_session",
            description=(
                f"Start a stateful session in a language ({languages}); returns its "
                "session_id for run_code. Sessions idle for "
                f"{_idle(self._config)} are closed."
            ),
            annotations=ToolAnnotations(title="Create session", destructive_hint=False),
            structured_output=False,
        )
        add_tool(
            self.list_sessions,
            name="list_sessions",
            description="List this client's open sessions.",
            annotations=ToolAnnotations(title="List sessions", read_only_hint=True),
            structured_output=False,
        )
        add_tool(
            self.close_session,
            name="close_session",
            description="Close a session; its state is gone.",
            annotations=ToolAnnotations(
                title="Close session", destructive_hint=True, idempotent_hint=True
            ),
            structured_output=False,
        )
        add_tool(
            self.restart_session,
            name="restart_session",
            description="Restart a session's kernel: variables and imports are lost.",
            annotations=ToolAnnotations(title="Restart session", destructive_hint=True),
            structured_output=False,
        )
        add_tool(
            self.interrupt,
            name="interrupt",
            description="Interrupt the code running in a session (its state is kept).",
            annotations=ToolAnnotations(title="Interrupt", destructive_hint=False),
            structured_output=False,
        )

    # -- tools -------------------------------------------------------------------------------

    async def run_code(
        self,
        code: Annotated[str, Field(description="The code to run.")],
        ctx: Context,
        language: Annotated[
            str | None,
            Field(description="python, javascript or shell (aliases: py, js, bash, sh...)."),
        ] = None,
        session_id: Annotated[
            str | None, Field(description="Run in this session (from create_session).")
        ] = None,
        timeout: Annotated[
            float | None, Field(description="Seconds before the run is interrupted.")
        ] = None,
    ) -> CallToolResult:
        client = self._clients.for_context(ctx)
        if timeout is not None and not 0 < timeout <= self._config.max_timeout_s:
            return error_result(
                f"timeout must be between 0 and {self._config.max_timeout_s:g} seconds, "
                f"not {timeout!r}"
            )
        relay = _ProgressRelay(
            ctx, self._config.progress_interval_s, self._config.max_progress_chars
        )
        try:
            if session_id is not None:
                session = client.find(session_id)
                if language is not None and canonical_language(language) != session.language:
                    return error_result(
                        f"session {session_id!r} runs {session.language}, not {language}; "
                        "leave language out or use another session"
                    )
                result = await relay.run(
                    session.execute(
                        code, timeout=timeout, on_stdout=relay.stdout, on_stderr=relay.stderr
                    )
                )
            else:
                result = await relay.run(
                    self._engine().execute(
                        code,
                        language,
                        timeout=timeout,
                        on_stdout=relay.stdout,
                        on_stderr=relay.stderr,
                    )
                )
        except UnknownSession as exc:
            return error_result(str(exc))
        except CompanionKernelError as exc:
            return error_result(f"{type(exc).__name__}: {exc}")
        return self._convert(client, result)

    async def create_session(
        self,
        language: Annotated[str, Field(description="python, javascript or shell.")],
        ctx: Context,
        name: Annotated[
            str | None, Field(description="Optional name, usable in place of the id.")
        ] = None,
    ) -> CallToolResult:
        client = self._clients.for_context(ctx)
        client.prune()
        if len(client.sessions) >= self._config.max_sessions_per_client:
            return error_result(
                f"this client already has {len(client.sessions)} open sessions (the limit); "
                "close one with close_session first"
            )
        if name is not None:
            name = name.strip()
            if not name:
                return error_result("a session name must not be empty")
            if name in client.names or name in client.sessions:
                return error_result(f"you already have a session named {name!r}")
        try:
            session = await self._engine().create_session(language)
        except CompanionKernelError as exc:
            return error_result(f"{type(exc).__name__}: {exc}")
        client.sessions[session.id] = session
        if name is not None:
            client.names[name] = session.id
        label = f" named {name!r}" if name else ""
        return CallToolResult(
            content=[
                TextContent(
                    text=f"Created a {session.language} session{label}: session_id={session.id}"
                )
            ],
            structured_content={"session_id": session.id, "language": session.language},
        )

    async def list_sessions(self, ctx: Context) -> CallToolResult:
        client = self._clients.for_context(ctx)
        client.prune()
        now = time.monotonic()
        rows = [
            {
                "session_id": s.id,
                "name": client.name_of(s.id),
                "language": s.language,
                "busy": s.busy,
                "idle_s": 0.0 if s.busy else round(now - s.last_used, 1),
                "restarts": s.restarts,
            }
            for s in client.sessions.values()
        ]
        lines = [
            f"- {r['session_id']} ({r['language']}"
            + (f", name {r['name']!r}" if r["name"] else "")
            + (", busy" if r["busy"] else f", idle {r['idle_s']:g}s")
            + ")"
            for r in rows
        ]
        text = "\n".join(lines) if lines else "No open sessions."
        return CallToolResult(
            content=[TextContent(text=text)], structured_content={"sessions": rows}
        )

    async def close_session(self, session_id: _SESSION_ID, ctx: Context) -> CallToolResult:
        return await self._on_session(ctx, session_id, "closed", _close)

    async def restart_session(self, session_id: _SESSION_ID, ctx: Context) -> CallToolResult:
        return await self._on_session(
            ctx, session_id, "restarted (variables and imports are gone)", _restart
        )

    async def interrupt(self, session_id: _SESSION_ID, ctx: Context) -> CallToolResult:
        return await self._on_session(ctx, session_id, "interrupted", _interrupt)

    # -- helpers -----------------------------------------------------------------------------

    async def _on_session(
        self, ctx: Context, key: str, done: str, action: Callable[[Client, Session], Any]
    ) -> CallToolResult:
        client = self._clients.for_context(ctx)
        try:
            session = client.find(key)
            await action(client, session)
        except UnknownSession as exc:
            return error_result(str(exc))
        except CompanionKernelError as exc:
            return error_result(f"{type(exc).__name__}: {exc}")
        return CallToolResult(content=[TextContent(text=f"Session {key} {done}.")])

    def _convert(self, client: Client, result: ExecutionResult) -> CallToolResult:
        converted = result_to_content(result, self._config.content_options)
        for attachment in converted.attachments:
            client.attachments.add(attachment)
        return converted.result


async def _close(client: Client, session: Session) -> None:
    client.forget(session.id)
    await session.close("closed by the MCP client")


async def _restart(client: Client, session: Session) -> None:
    await session.restart()


async def _interrupt(client: Client, session: Session) -> None:
    await session.interrupt()


def _idle(config: McpConfig) -> str:
    idle = config.engine.session_idle_timeout_s
    return "never" if idle is None else f"{idle:g}s"


class _ProgressRelay:
    """Sends a running cell's output as progress notifications, batched and bounded.

    Kernel callbacks are synchronous and must never wait on the client, so output is
    buffered here and a separate task sends it; a slow client only delays its own progress.
    """

    def __init__(self, ctx: Context, interval: float, max_chars: int) -> None:
        self._ctx = ctx
        self._interval = interval
        self._max_chars = max_chars
        self._pending: list[str] = []
        self._pending_chars = 0
        self._skipped = 0
        self._wake = asyncio.Event()
        self._sent = 0

    def stdout(self, text: str) -> None:
        self._add(text)

    def stderr(self, text: str) -> None:
        self._add(text, "[stderr] ")

    def _add(self, text: str, prefix: str = "") -> None:
        room = self._max_chars - self._pending_chars
        if room <= 0:
            self._skipped += len(text)
        else:
            piece = prefix + text[:room]
            self._skipped += max(0, len(text) - room)
            self._pending.append(piece)
            self._pending_chars += len(piece)
        self._wake.set()

    async def run(self, execution: Any) -> ExecutionResult:
        """Await `execution` while relaying its output; cancellation reaches it."""
        sender = asyncio.ensure_future(self._send_loop())
        try:
            result: ExecutionResult = await execution
            return result
        finally:
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender

    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            message = "".join(self._pending)
            if self._skipped:
                message += f"\n[{self._skipped:,} characters of output skipped in progress]"
            self._pending.clear()
            self._pending_chars = 0
            self._skipped = 0
            self._sent += 1
            try:
                await self._ctx.report_progress(self._sent, None, message)
            except Exception:  # a client that went away must not fail the execution
                log.debug("progress notification failed", exc_info=True)
                return
            await asyncio.sleep(self._interval)


class _RegistryArguments(ArgModelBase):
    """Accepts any arguments object: the registry validates against the tool's own schema."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"arguments": dict(self.__pydantic_extra__ or {})}


def registry_tools(
    engine: Callable[[], Engine], tools: list[Tool], taken: set[str]
) -> list[McpTool]:
    """MCP tools that call the host tool registry, with its schemas and annotations."""
    exposed = []
    for tool in tools:
        if tool.runs != "host":
            continue  # kernel-side tools need a session; they stay reachable from code
        if tool.name in taken:
            log.warning("host tool %r is not exposed: the name is an MCP tool already", tool.name)
            continue
        exposed.append(
            McpTool(
                fn=_registry_caller(engine, tool.name),
                name=tool.name,
                title=tool.annotations.title,
                description=tool.description or tool.name,
                parameters=tool.input_schema,
                fn_metadata=FuncMetadata(arg_model=_RegistryArguments),
                is_async=True,
                annotations=ToolAnnotations(
                    title=tool.annotations.title,
                    read_only_hint=tool.annotations.read_only,
                    destructive_hint=tool.annotations.destructive,
                    idempotent_hint=tool.annotations.idempotent,
                    open_world_hint=tool.annotations.open_world,
                ),
            )
        )
    return exposed


def _registry_caller(engine: Callable[[], Engine], name: str) -> Callable[..., Any]:
    async def call(arguments: dict[str, Any]) -> CallToolResult:
        outcome = await engine().call_tool(name, arguments)
        if outcome.ok:
            value = outcome.value
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            return CallToolResult(
                content=[TextContent(text=text)], structured_content={"result": value}
            )
        assert outcome.error is not None
        return error_result(f"{outcome.error.type}: {outcome.error.message}")

    return call
