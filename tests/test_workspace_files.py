"""WorkspaceFiles on a plain directory: every escape refused, nothing partial left behind."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from companion_kernel.errors import (
    WorkspaceError,
    WorkspaceFileNotFound,
    WorkspaceFull,
    WorkspacePathError,
)
from companion_kernel.workspace import WorkspaceFiles


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_text("host secret")
    return path


@pytest.fixture
def files(tmp_path: Path) -> WorkspaceFiles:
    root = tmp_path / "ws"
    root.mkdir()
    return WorkspaceFiles(root, max_file_bytes=1024 * 1024)


class TestPaths:
    @pytest.mark.parametrize(
        "path", ["../outside/secret.txt", "a/../../x", "/etc/passwd", "", ".", "a\0b"]
    )
    async def test_paths_that_leave_the_workspace_are_refused(
        self, files: WorkspaceFiles, path: str
    ) -> None:
        with pytest.raises(WorkspacePathError):
            await files.read(path)
        with pytest.raises(WorkspacePathError):
            await files.write(path, b"x")

    async def test_a_symlinked_file_is_never_followed(
        self, files: WorkspaceFiles, outside: Path
    ) -> None:
        os.symlink(outside / "secret.txt", files.root / "link.txt")
        with pytest.raises(WorkspacePathError):
            await files.read("link.txt")
        await files.write("link.txt", b"replaced")  # replaces the link, not its target
        assert (outside / "secret.txt").read_text() == "host secret"
        assert not (files.root / "link.txt").is_symlink()

    async def test_a_symlinked_directory_is_never_crossed(
        self, files: WorkspaceFiles, outside: Path
    ) -> None:
        os.symlink(outside, files.root / "etc")
        with pytest.raises(WorkspacePathError):
            await files.read("etc/secret.txt")
        with pytest.raises(WorkspacePathError):
            await files.write("etc/new.txt", b"x")
        with pytest.raises(WorkspacePathError):
            await files.list("etc")
        assert sorted(os.listdir(outside)) == ["secret.txt"]
        [entry] = await files.list()
        assert entry.is_symlink and not entry.is_dir

    async def test_a_directory_swapped_for_a_symlink_mid_transfer_stays_inside(
        self, files: WorkspaceFiles, outside: Path
    ) -> None:
        await files.mkdir("out")

        async def chunks() -> AsyncIterator[bytes]:
            yield b"first "
            # What a hostile kernel does between two chunks of an upload.
            os.rename(files.root / "out", files.root / "moved")
            os.symlink(outside, files.root / "out")
            yield b"second"

        await files.write("out/data.txt", chunks())
        assert sorted(os.listdir(outside)) == ["secret.txt"]
        assert (files.root / "moved" / "data.txt").read_bytes() == b"first second"

    async def test_a_fifo_is_refused_without_blocking(self, files: WorkspaceFiles) -> None:
        os.mkfifo(files.root / "pipe")
        with pytest.raises(WorkspaceError, match="not a regular file"):
            await asyncio.wait_for(files.read("pipe"), 5)


class TestLimits:
    async def test_an_oversized_write_leaves_nothing_behind(self, files: WorkspaceFiles) -> None:
        await files.write("keep.bin", b"old")
        with pytest.raises(WorkspaceFull, match="per-file limit"):
            await files.write("keep.bin", b"x" * (2 * 1024 * 1024))
        assert await files.read("keep.bin") == b"old"
        assert sorted(os.listdir(files.root)) == ["keep.bin"]

    async def test_a_failing_stream_leaves_nothing_behind(self, files: WorkspaceFiles) -> None:
        async def broken() -> AsyncIterator[bytes]:
            yield b"partial"
            raise RuntimeError("source failed")

        with pytest.raises(RuntimeError):
            await files.write("new.bin", broken())
        assert os.listdir(files.root) == []

    async def test_read_refuses_more_than_asked(self, files: WorkspaceFiles) -> None:
        await files.write("big.bin", b"x" * 100)
        with pytest.raises(WorkspaceFull):
            await files.read("big.bin", max_bytes=10)

    async def test_read_only_workspaces_refuse_writes(self, tmp_path: Path) -> None:
        ro = WorkspaceFiles(tmp_path, read_only=True)
        for call in (ro.write("a", b"x"), ro.mkdir("d"), ro.remove("a")):
            with pytest.raises(WorkspaceError, match="read-only"):
                await call


class TestOperations:
    async def test_write_read_stream_list_stat_remove(self, files: WorkspaceFiles) -> None:
        await files.mkdir("data/raw")
        entry = await files.write("data/raw/a.csv", "x,y\n1,2\n")
        assert (entry.path, entry.size, entry.is_dir) == ("data/raw/a.csv", 8, False)
        assert await files.read_text("data/raw/a.csv") == "x,y\n1,2\n"
        await files.write("data/b.bin", [b"ab", b"cd"])
        assert b"".join([c async for c in files.stream("data/b.bin", 1)]) == b"abcd"
        listed = [e.path for e in await files.list("data")]
        assert listed == ["data/b.bin", "data/raw"]
        tree = [e.path for e in await files.list(recursive=True, pattern="*.csv")]
        assert tree == ["data/raw/a.csv"]
        assert await files.exists("data/raw") and not await files.exists("nope")
        with pytest.raises(WorkspaceFileNotFound):
            await files.read("nope.txt")
        await files.remove("data")
        assert os.listdir(files.root) == []

    async def test_mkdir_without_parents_needs_the_parent(self, files: WorkspaceFiles) -> None:
        with pytest.raises(WorkspaceFileNotFound):
            await files.mkdir("a/b", parents=False)
        await files.mkdir("a", parents=False)
        with pytest.raises(WorkspaceError, match="exists"):
            await files.mkdir("a", parents=False)

    async def test_collect_matches_globs_and_stays_bounded(self, files: WorkspaceFiles) -> None:
        await files.mkdir("out")
        await files.write("out/chart.png", b"png")
        await files.write("out/table.csv", b"csv")
        await files.write("notes.txt", b"txt")
        got = await files.collect(["out/*.png", "*.txt"], max_bytes=100)
        assert got == {"out/chart.png": b"png", "notes.txt": b"txt"}
        with pytest.raises(WorkspaceFull):
            await files.collect(["**"], max_bytes=4)
