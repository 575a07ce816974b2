"""Who is calling: each MCP client owns its sessions and linked outputs, and sees only those.

A client is identified by the bearer token's principal (HTTP) combined with its connection:

- a handshake-era connection (stdio, in-memory, or an HTTP `Mcp-Session-Id` session) is one
  client; when it closes, its sessions are closed too (a running cell is stopped);
- the 2026-07-28 protocol has no connections (every request stands alone), so there the
  principal alone is the client: one per token over HTTP, the parent process over stdio.
  Such sessions end by `close_session` or when idle past the engine's idle timeout.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from companion_kernel.session import Session

from .content import Attachment

__all__ = ["Client", "ClientRegistry", "UnknownSession"]

log = logging.getLogger(__name__)


class UnknownSession(LookupError):
    """The calling client has no open session with that id or name."""


class _Attachments:
    """Linked outputs of one client, the oldest dropped past a byte budget."""

    def __init__(self, max_bytes: int) -> None:
        self._items: OrderedDict[str, Attachment] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes

    def add(self, attachment: Attachment) -> None:
        if attachment.uri in self._items:
            self._items.move_to_end(attachment.uri)
            return
        self._items[attachment.uri] = attachment
        self._bytes += len(attachment.data)
        while self._bytes > self._max_bytes and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= len(dropped.data)

    def get(self, uri: str) -> Attachment | None:
        return self._items.get(uri)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Client:
    """One caller's sessions (by id, with optional names) and linked outputs."""

    key: str
    """Stable identity: principal, plus the connection on handshake-era transports."""
    attachments: _Attachments
    sessions: dict[str, Session] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    """Session name -> session id (names are per client, so two clients may reuse one)."""
    last_seen: float = field(default_factory=time.monotonic)

    def prune(self) -> None:
        """Forget sessions that closed (idle expiry, a closed engine, ...)."""
        for sid in [sid for sid, s in self.sessions.items() if s.closed]:
            self.forget(sid)

    def forget(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)
        for name in [n for n, sid in self.names.items() if sid == session_id]:
            del self.names[name]

    def name_of(self, session_id: str) -> str | None:
        return next((n for n, sid in self.names.items() if sid == session_id), None)

    def find(self, key: str) -> Session:
        """The open session with this id or name; `UnknownSession` otherwise."""
        self.prune()
        session = self.sessions.get(key) or self.sessions.get(self.names.get(key, ""))
        if session is None:
            mine = ", ".join(self.describe(s) for s in self.sessions.values()) or "none"
            raise UnknownSession(
                f"no open session {key!r} for this client (it may have expired after being "
                f"idle, or never existed). Your sessions: {mine}. Create one with "
                "create_session, or call run_code without session_id for a one-off run."
            )
        return session

    def describe(self, session: Session) -> str:
        name = self.name_of(session.id)
        return f"{session.id} ({session.language}{', ' + name if name else ''})"

    async def close_all(self, reason: str) -> None:
        for session in list(self.sessions.values()):
            with contextlib.suppress(Exception):
                await session.close(reason)
        self.sessions.clear()
        self.names.clear()


class ClientRegistry:
    """Maps each request to its `Client`."""

    def __init__(self, max_attachment_bytes: int) -> None:
        self._max_attachment_bytes = max_attachment_bytes
        self._clients: dict[str, Client] = {}
        self._by_connection: weakref.WeakKeyDictionary[Any, Client] = weakref.WeakKeyDictionary()
        self._serial = itertools.count(1)

    def __len__(self) -> int:
        return len(self._clients)

    def for_context(self, ctx: Context[Any, Any]) -> Client:
        """The client making this request (created on first sight)."""
        token = get_access_token()
        principal = f"token:{token.client_id}" if token is not None else "local"
        request = ctx.request_context
        connection = None
        if request.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            # The SDK does not expose the Connection on a tool's context; its per-request
            # ServerSession holds it, and it is the one stable handle of a handshake-era
            # connection (and the owner of its teardown).
            connection = getattr(request.session, "_connection", None)
        if connection is None:
            client = self._clients.get(principal)
            if client is None:
                client = self._clients[principal] = self._new(principal)
        else:
            client = self._by_connection.get(connection)
            if client is None:
                client = self._new(f"{principal}/connection-{next(self._serial)}")
                self._by_connection[connection] = client
                self._clients[client.key] = client
                connection.exit_stack.push_async_callback(self._disconnected, client)
        client.last_seen = time.monotonic()
        return client

    def _new(self, key: str) -> Client:
        log.info("new MCP client %s", key)
        return Client(key=key, attachments=_Attachments(self._max_attachment_bytes))

    async def _disconnected(self, client: Client) -> None:
        log.info(
            "MCP client %s disconnected; closing its %d session(s)",
            client.key,
            len(client.sessions),
        )
        self._clients.pop(client.key, None)
        await client.close_all("the MCP client disconnected")

    async def close_all(self) -> None:
        """Close every client's sessions (server shutdown)."""
        for client in list(self._clients.values()):
            await client.close_all("the MCP server is shutting down")
        self._clients.clear()
