"""MCP file tools (write_file, read_file, list_files) driven by the SDK client in memory,
against real kernels: content kinds, limits, bad paths and per-client ownership."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from _support import python_engine_config
from mcp import Client
from mcp_types import (
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
)

from companion_kernel import Engine
from companion_kernel.mcp import CompanionMcpServer, McpConfig
from companion_kernel.mcp._files import file_to_content, listing_to_content
from companion_kernel.workspace import FileEntry

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _text(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


class TestConversion:
    """Pure: file bytes and listings to MCP content, no kernels."""

    def test_text_image_and_binary(self) -> None:
        text = file_to_content("a/notes.txt", "héllo\n".encode(), 7)
        assert _text(text) == "héllo\n"
        assert text.structured_content == {
            "path": "a/notes.txt",
            "size": 7,
            "truncated": False,
            "encoding": "utf-8",
        }
        image = file_to_content("plot.png", PNG, len(PNG))
        assert isinstance(image.content[0], ImageContent)
        assert image.content[0].mime_type == "image/png"
        assert base64.b64decode(image.content[0].data) == PNG
        blob = file_to_content("data.bin", b"\x00\xff\xfe", 3)
        embedded = blob.content[1]
        assert isinstance(embedded, EmbeddedResource)
        assert isinstance(embedded.resource, BlobResourceContents)
        assert base64.b64decode(embedded.resource.blob) == b"\x00\xff\xfe"
        assert str(embedded.resource.uri) == "file:///workspace/data.bin"

    def test_text_cut_inside_a_character_is_still_text_and_says_so(self) -> None:
        data = "aé".encode()[:2]  # the cut falls inside 'é'
        result = file_to_content("t.txt", data, 100)
        assert _text(result).startswith("a\n[truncated: the first 2 of 100 bytes")
        assert result.structured_content is not None
        assert result.structured_content["truncated"] is True

    def test_listing_is_capped(self) -> None:
        when = datetime(2026, 1, 1, tzinfo=UTC)
        entries = [
            FileEntry(name=f"f{i}", path=f"f{i}", size=i, is_dir=False, modified=when)
            for i in range(12)
        ]
        result = listing_to_content(".", entries, 10)
        assert _text(result).splitlines()[-1] == "[2 more entries not shown]"
        assert result.structured_content is not None
        assert len(result.structured_content["entries"]) == 10
        assert result.structured_content["truncated"] is True


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    async with Engine(python_engine_config()) as eng:
        yield eng


@pytest.fixture
def server(engine: Engine) -> CompanionMcpServer:
    return CompanionMcpServer(engine, McpConfig(engine=engine.config, max_file_bytes=64 * 1024))


async def _session(client: Client) -> str:
    created = await client.call_tool("create_session", {"language": "python"})
    assert created.structured_content is not None
    return str(created.structured_content["session_id"])


@pytest.mark.kernel
class TestFileTools:
    async def test_written_files_are_seen_by_the_code_and_its_files_read_back(
        self, server: CompanionMcpServer
    ) -> None:
        async with Client(server.mcp) as client:
            sid = await _session(client)
            wrote = await client.call_tool(
                "write_file", {"session_id": sid, "path": "in/data.csv", "content": "a,b\n1,2\n"}
            )
            assert not wrote.is_error, _text(wrote)
            assert wrote.structured_content == {"path": "in/data.csv", "size": 8}
            run = await client.call_tool(
                "run_code",
                {
                    "session_id": sid,
                    "code": (
                        "import csv\nrows = list(csv.reader(open('in/data.csv')))\n"
                        "open('out.txt', 'w').write(f'{len(rows)} rows')\n"
                        "open('blob.bin', 'wb').write(bytes(range(256)))\n"
                        "print(rows[1])"
                    ),
                },
            )
            assert _text(run) == "[stdout]\n['1', '2']\n"
            read = await client.call_tool("read_file", {"session_id": sid, "path": "out.txt"})
            assert _text(read) == "2 rows"
            blob = await client.call_tool("read_file", {"session_id": sid, "path": "blob.bin"})
            embedded = blob.content[1]
            assert isinstance(embedded, EmbeddedResource)
            assert isinstance(embedded.resource, BlobResourceContents)
            assert base64.b64decode(embedded.resource.blob) == bytes(range(256))

    async def test_base64_upload_and_image_download(self, server: CompanionMcpServer) -> None:
        async with Client(server.mcp) as client:
            sid = await _session(client)
            wrote = await client.call_tool(
                "write_file",
                {
                    "session_id": sid,
                    "path": "img/dot.png",
                    "content": base64.b64encode(PNG).decode(),
                    "encoding": "base64",
                },
            )
            assert not wrote.is_error, _text(wrote)
            seen = await client.call_tool(
                "run_code",
                {"session_id": sid, "code": "open('img/dot.png','rb').read()[:4]"},
            )
            assert _text(seen) == "[result]\nb'\\x89PNG'"
            read = await client.call_tool("read_file", {"session_id": sid, "path": "img/dot.png"})
            assert isinstance(read.content[0], ImageContent)
            assert base64.b64decode(read.content[0].data) == PNG

    async def test_list_files_flat_and_recursive(self, server: CompanionMcpServer) -> None:
        async with Client(server.mcp) as client:
            sid = await _session(client)
            for path in ("a.txt", "sub/b.txt", "sub/deeper/c.txt"):
                await client.call_tool(
                    "write_file", {"session_id": sid, "path": path, "content": "x" * 3}
                )
            flat = await client.call_tool("list_files", {"session_id": sid})
            assert flat.structured_content is not None
            names = [(e["path"], e["is_dir"]) for e in flat.structured_content["entries"]]
            assert ("a.txt", False) in names and ("sub", True) in names
            assert not any(p.startswith("sub/") for p, _ in names)
            deep = await client.call_tool(
                "list_files", {"session_id": sid, "path": "sub", "recursive": True}
            )
            assert _text(deep).splitlines() == [
                "sub/b.txt (3 bytes)",
                "sub/deeper/",
                "sub/deeper/c.txt (3 bytes)",
            ]

    async def test_limits(self, server: CompanionMcpServer) -> None:
        async with Client(server.mcp) as client:
            sid = await _session(client)
            big = await client.call_tool(
                "write_file", {"session_id": sid, "path": "big.txt", "content": "x" * 70_000}
            )
            assert big.is_error and "over the 65,536-byte file limit" in _text(big)
            await client.call_tool(
                "run_code",
                {
                    "session_id": sid,
                    "code": (
                        "open('log.txt','w').write('line\\n' * 40000)\n"
                        "open('noise.bin','wb').write(bytes(range(256)) * 1000)"
                    ),
                },
            )
            head = await client.call_tool(
                "read_file", {"session_id": sid, "path": "log.txt", "max_bytes": 10}
            )
            assert not head.is_error
            assert _text(head).startswith("line\nline\n\n[truncated: the first 10 of 200,000")
            capped = await client.call_tool("read_file", {"session_id": sid, "path": "log.txt"})
            assert capped.structured_content is not None
            assert capped.structured_content["truncated"] is True
            binary = await client.call_tool("read_file", {"session_id": sid, "path": "noise.bin"})
            assert binary.is_error and "binary data, over max_bytes" in _text(binary)
            bad = await client.call_tool(
                "write_file",
                {
                    "session_id": sid,
                    "path": "x.bin",
                    "content": "not base64!",
                    "encoding": "base64",
                },
            )
            assert bad.is_error and "not valid base64" in _text(bad)

    async def test_bad_paths_are_clear_errors_and_the_server_keeps_serving(
        self, server: CompanionMcpServer
    ) -> None:
        async with Client(server.mcp) as client:
            sid = await _session(client)
            await client.call_tool(
                "run_code",
                {
                    "session_id": sid,
                    "code": "import os\nos.symlink('/etc', 'etc')\nos.mkdir('dir')",
                },
            )
            cases = [
                ("read_file", {"path": "../../etc/passwd"}, "WorkspacePathError"),
                ("read_file", {"path": "/etc/passwd"}, "absolute"),
                ("read_file", {"path": "etc/passwd"}, "symlink"),
                ("write_file", {"path": "etc/evil", "content": "x"}, "symlink"),
                ("write_file", {"path": "../escape.txt", "content": "x"}, "climbs out"),
                ("list_files", {"path": "etc"}, "symlink"),
                ("read_file", {"path": "missing.txt"}, "no such file"),
                ("read_file", {"path": "dir"}, "is a directory"),
                ("list_files", {"path": "nowhere"}, "WorkspaceFileNotFound"),
            ]
            for tool, args, expected in cases:
                result = await client.call_tool(tool, {"session_id": sid, **args})
                assert result.is_error, (tool, args)
                assert expected in _text(result), (tool, args, _text(result))
            alive = await client.call_tool("list_files", {"session_id": sid})
            assert not alive.is_error

    async def test_clients_cannot_touch_each_others_files(self, server: CompanionMcpServer) -> None:
        async with (
            Client(server.mcp, mode="legacy") as alice,
            Client(server.mcp, mode="legacy") as bob,
        ):
            sid = await _session(alice)
            await alice.call_tool(
                "write_file", {"session_id": sid, "path": "secret.txt", "content": "mine"}
            )
            attempts = [
                ("read_file", {"path": "secret.txt"}),
                ("write_file", {"path": "secret.txt", "content": "yours"}),
                ("list_files", {}),
            ]
            for tool, args in attempts:
                refused = await bob.call_tool(tool, {"session_id": sid, **args})
                assert refused.is_error and "no open session" in _text(refused)
            still = await alice.call_tool("read_file", {"session_id": sid, "path": "secret.txt"})
            assert _text(still) == "mine"
