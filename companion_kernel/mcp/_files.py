"""The MCP file tools: write, read and list files in a session's workspace.

Each call goes through the calling client's own sessions (another client's session id is
unknown here) and the workspace API, which refuses any path that leaves the workspace.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import mimetypes
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import (
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
    ToolAnnotations,
)
from pydantic import Field

from companion_kernel.errors import CompanionKernelError
from companion_kernel.workspace import FileEntry, WorkspaceFiles

from ._clients import ClientRegistry, UnknownSession
from .content import error_result

if TYPE_CHECKING:
    from .config import McpConfig

__all__ = ["FileTools", "file_to_content", "listing_to_content"]

_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_SESSION_ID = Annotated[str, Field(description="A session id (or name) from create_session.")]
_PATH = Annotated[
    str, Field(description="Path relative to the session's workspace, e.g. 'data/in.csv'.")
]


def file_to_content(path: str, data: bytes, size: int) -> CallToolResult:
    """One file's bytes as MCP content: an image, UTF-8 text, or a base64 blob.

    `data` may be the first bytes of a file of `size` bytes (then the text says so).
    """
    mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
    truncated = len(data) < size
    structured: dict[str, Any] = {"path": path, "size": size, "truncated": truncated}
    if mime in _IMAGE_TYPES and not truncated:
        encoded = base64.b64encode(data).decode("ascii")
        return CallToolResult(
            content=[ImageContent(data=encoded, mime_type=mime)],
            structured_content={**structured, "encoding": "base64", "mime_type": mime},
        )
    text = _utf8(data, truncated)
    if text is not None:
        note = (
            f"\n[truncated: the first {len(data):,} of {size:,} bytes; "
            "raise max_bytes to read more]"
            if truncated
            else ""
        )
        return CallToolResult(
            content=[TextContent(text=text + note)],
            structured_content={**structured, "encoding": "utf-8"},
        )
    encoded = base64.b64encode(data).decode("ascii")
    blob = BlobResourceContents(uri=_uri(path), mime_type=mime, blob=encoded)
    what = f"the first {len(data):,} of {size:,}" if truncated else f"{size:,}"
    return CallToolResult(
        content=[
            TextContent(text=f"{path}: {what} bytes of binary data ({mime}), base64 below"),
            EmbeddedResource(type="resource", resource=blob),
        ],
        structured_content={**structured, "encoding": "base64", "mime_type": mime},
    )


def listing_to_content(path: str, entries: list[FileEntry], limit: int) -> CallToolResult:
    """A directory listing as text lines and structured entries (at most `limit`)."""
    shown = entries[:limit]
    lines = [f"{e.path}/" if e.is_dir else f"{e.path} ({e.size:,} bytes)" for e in shown]
    if not entries:
        lines = [f"{path} is empty."]
    elif len(entries) > limit:
        lines.append(f"[{len(entries) - limit:,} more entries not shown]")
    rows = [
        {
            "path": e.path,
            "size": e.size,
            "is_dir": e.is_dir,
            "is_symlink": e.is_symlink,
            "modified": e.modified.isoformat(),
        }
        for e in shown
    ]
    return CallToolResult(
        content=[TextContent(text="\n".join(lines))],
        structured_content={"path": path, "entries": rows, "truncated": len(entries) > limit},
    )


def _utf8(data: bytes, truncated: bool) -> str | None:
    # A cut file may end inside a character: drop at most its 3 first bytes.
    for cut in range(4 if truncated else 1):
        try:
            return data[: len(data) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


def _uri(path: str) -> str:
    return "file:///workspace/" + "/".join(p for p in PurePosixPath(path).parts if p != "/")


class FileTools:
    """`write_file`, `read_file` and `list_files`, for the calling client's sessions."""

    def __init__(self, clients: ClientRegistry, config: McpConfig) -> None:
        self._clients = clients
        self._config = config

    def register(self, add_tool: Callable[..., None]) -> None:
        """Register the file tools with `MCPServer.add_tool`."""
        limit = f"{self._config.max_file_bytes:,}"
        add_tool(
            self.write_file,
            name="write_file",
            description=(
                "Write a file into a session's workspace (the code's working directory), "
                "replacing it; missing parent directories are created. content is text "
                f"(encoding utf-8) or base64 for binary data; at most {limit} bytes."
            ),
            annotations=ToolAnnotations(
                title="Write file", destructive_hint=True, idempotent_hint=True
            ),
            structured_output=False,
        )
        add_tool(
            self.read_file,
            name="read_file",
            description=(
                "Read a file from a session's workspace: text comes back as text, images "
                "as images, other binary data as base64. Text longer than max_bytes "
                f"(default and maximum {limit}) is cut and says so."
            ),
            annotations=ToolAnnotations(title="Read file", read_only_hint=True),
            structured_output=False,
        )
        add_tool(
            self.list_files,
            name="list_files",
            description=(
                "List a directory of a session's workspace (recursive: the whole tree "
                "below it), with sizes."
            ),
            annotations=ToolAnnotations(title="List files", read_only_hint=True),
            structured_output=False,
        )

    async def write_file(
        self,
        session_id: _SESSION_ID,
        path: _PATH,
        content: Annotated[str, Field(description="The file's content (see encoding).")],
        ctx: Context,
        encoding: Annotated[
            Literal["utf-8", "base64"],
            Field(description="utf-8 for text, base64 for binary data."),
        ] = "utf-8",
    ) -> CallToolResult:
        limit = self._config.max_file_bytes
        if encoding == "base64":
            if len(content) > 4 * (limit // 3 + 1) + 8:
                return error_result(f"content is over the {limit:,}-byte file limit")
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError) as exc:
                return error_result(f"content is not valid base64: {exc}")
        else:
            data = content.encode("utf-8", "surrogatepass")
        if len(data) > limit:
            return error_result(
                f"content is {len(data):,} bytes, over the {limit:,}-byte file limit"
            )

        async def write(files: WorkspaceFiles) -> CallToolResult:
            parent = str(PurePosixPath(path).parent)
            if parent not in (".", "/"):
                await files.mkdir(parent)
            entry = await files.write(path, data)
            return CallToolResult(
                content=[TextContent(text=f"Wrote {entry.size:,} bytes to {entry.path}.")],
                structured_content={"path": entry.path, "size": entry.size},
            )

        return await self._with_files(ctx, session_id, write)

    async def read_file(
        self,
        session_id: _SESSION_ID,
        path: _PATH,
        ctx: Context,
        max_bytes: Annotated[
            int | None, Field(description="Read at most this many bytes.", gt=0)
        ] = None,
    ) -> CallToolResult:
        limit = min(max_bytes or self._config.max_file_bytes, self._config.max_file_bytes)

        async def read(files: WorkspaceFiles) -> CallToolResult:
            entry = await files.stat(path)
            if entry is None:
                return error_result(f"no such file in the workspace: {path!r}")
            if entry.is_dir:
                return error_result(f"{path!r} is a directory; use list_files")
            head, total = [], 0
            chunks = files.stream(path, chunk_bytes=min(limit, 1024 * 1024))
            async with contextlib.aclosing(chunks):  # closes the file after an early stop
                async for chunk in chunks:
                    head.append(chunk[: limit - total])
                    total += len(head[-1])
                    if total >= limit:
                        break
            data = b"".join(head)
            size = max(entry.size, len(data))
            mime = mimetypes.guess_type(path)[0]
            if len(data) < size and (mime in _IMAGE_TYPES or _utf8(data, True) is None):
                return error_result(
                    f"{entry.path} is {size:,} bytes of binary data, over max_bytes "
                    f"({limit:,}); only text files are read in part"
                )
            return file_to_content(entry.path, data, size)

        return await self._with_files(ctx, session_id, read)

    async def list_files(
        self,
        session_id: _SESSION_ID,
        ctx: Context,
        path: Annotated[
            str, Field(description="Directory relative to the workspace ('.': its root).")
        ] = ".",
        recursive: Annotated[bool, Field(description="List the whole tree below it.")] = False,
    ) -> CallToolResult:
        async def listing(files: WorkspaceFiles) -> CallToolResult:
            entries = await files.list(path, recursive=recursive)
            return listing_to_content(path, entries, self._config.max_list_entries)

        return await self._with_files(ctx, session_id, listing)

    async def _with_files(
        self, ctx: Context, key: str, action: Callable[[WorkspaceFiles], Any]
    ) -> CallToolResult:
        client = self._clients.for_context(ctx)
        try:
            session = client.find(key)
            result: CallToolResult = await action(session.files)
        except UnknownSession as exc:
            return error_result(str(exc))
        except CompanionKernelError as exc:  # WorkspacePathError, WorkspaceFull, ...
            return error_result(f"{type(exc).__name__}: {exc}")
        return result
