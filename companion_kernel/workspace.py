"""Files in and out of a session's workspace, safely, from the host side.

The workspace is a host directory the kernel sees as ``/workspace`` and may change at
any moment, so every operation resolves paths itself, one component at a time,
relative to an open directory descriptor and without following symlinks: ``..``,
absolute paths, symlinks (to ``/etc`` or anywhere) and symlinks swapped in during a
transfer are refused with ``WorkspacePathError``. Reads refuse anything that is not a
regular file (a FIFO would block the host). Writes go to a temporary name and are
renamed into place, so a failed or over-limit write leaves nothing behind. Files the
host writes are handed to the kernel's uid.

Every method is async (the blocking work runs in a worker thread); ``SyncFiles`` is
the synchronous twin.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fnmatch
import os
import stat
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict

from .errors import WorkspaceError, WorkspaceFileNotFound, WorkspaceFull, WorkspacePathError

__all__ = ["CHUNK_BYTES", "FileEntry", "SyncFiles", "WorkspaceFiles"]

CHUNK_BYTES = 1024 * 1024
"""Size of the chunks ``stream`` yields."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_TMP_PREFIX = ".companion-upload-"


class FileEntry(BaseModel):
    """One file or directory of the workspace."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The last path component."""
    path: str
    """Path relative to the workspace root, with ``/`` separators."""
    size: int
    """Size in bytes (0 for directories)."""
    is_dir: bool
    """True for a directory."""
    is_symlink: bool = False
    """True for a symlink (never followed by the host)."""
    modified: datetime
    """Last modification time (UTC)."""


def _parts(path: str | os.PathLike[str], *, allow_root: bool = False) -> list[str]:
    """The components of a workspace-relative path, or WorkspacePathError."""
    text = os.fspath(path)
    if not isinstance(text, str) or "\0" in text:
        raise WorkspacePathError(f"invalid path {path!r}")
    pure = PurePosixPath(text)
    if pure.is_absolute():
        raise WorkspacePathError(
            f"{text!r} is absolute; give a path relative to the workspace (e.g. 'data.csv')"
        )
    parts = [p for p in pure.parts if p != "."]
    if ".." in parts:
        raise WorkspacePathError(f"{text!r} climbs out of the workspace ('..' is not allowed)")
    if not parts and not allow_root:
        raise WorkspacePathError("a file path is needed, not the workspace itself")
    return parts


class WorkspaceFiles:
    """Safe file operations on one workspace directory (``session.files``)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        owner: tuple[int, int] | None = None,
        max_file_bytes: int | None = None,
        read_only: bool = False,
    ) -> None:
        self.root = Path(root)
        """The workspace's host directory."""
        self.owner = owner
        """(uid, gid) files written by the host are given to (the kernel's), or None."""
        self.max_file_bytes = max_file_bytes
        """Largest file ``write`` accepts (None: only the workspace quota applies)."""
        self.read_only = read_only
        """Refuse writes (an attached read-only workspace)."""

    # -- path resolution (blocking) -------------------------------------------------------

    def _open_dir(self, parts: Iterable[str]) -> int:
        """A descriptor of the directory at ``parts``, never leaving the workspace."""
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for part in parts:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except OSError as exc:
            os.close(fd)
            raise self._translate(exc, "/".join(parts)) from exc
        return fd

    @staticmethod
    def _translate(exc: OSError, path: str) -> WorkspaceError:
        if exc.errno == errno.ENOENT:
            return WorkspaceFileNotFound(f"no such file or directory in the workspace: {path!r}")
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            return WorkspacePathError(
                f"{path!r} crosses a symlink or a non-directory; the host never follows links"
            )
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return WorkspaceFull(f"the workspace is full writing {path!r}: {exc.strerror}")
        return WorkspaceError(f"{path!r}: {exc.strerror or exc}")

    def _check_writable(self) -> None:
        if self.read_only:
            raise WorkspaceError("this workspace is attached read-only")

    def _chown(self, fd: int) -> None:
        if self.owner is not None:
            with contextlib.suppress(PermissionError):
                os.fchown(fd, *self.owner)

    # -- blocking implementations ---------------------------------------------------------

    def _open_file(self, path: str) -> int:
        parts = _parts(path)
        parent = self._open_dir(parts[:-1])
        try:
            fd = os.open(
                parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent
            )
        except OSError as exc:
            raise self._translate(exc, path) from exc
        finally:
            os.close(parent)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise WorkspaceError(f"{path!r} is not a regular file")
        os.set_blocking(fd, True)
        return fd

    def _read_all(self, path: str, limit: int | None) -> bytes:
        fd = self._open_file(path)
        try:
            size = os.fstat(fd).st_size
            if limit is not None and size > limit:
                raise WorkspaceFull(f"{path!r} is {size} bytes, more than the {limit} asked for")
            chunks, total = [], 0
            while chunk := os.read(fd, CHUNK_BYTES):
                total += len(chunk)
                if limit is not None and total > limit:
                    raise WorkspaceFull(f"{path!r} grew past the {limit} bytes asked for")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def _begin_write(self, path: str) -> tuple[int, int, str, str]:
        self._check_writable()
        parts = _parts(path)
        parent = self._open_dir(parts[:-1])
        tmp = f"{_TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            fd = os.open(
                tmp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,
                dir_fd=parent,
            )
        except OSError as exc:
            os.close(parent)
            raise self._translate(exc, path) from exc
        return parent, fd, tmp, parts[-1]

    def _write_chunk(self, fd: int, data: bytes, written: int, path: str) -> int:
        if self.max_file_bytes is not None and written + len(data) > self.max_file_bytes:
            raise WorkspaceFull(
                f"{path!r} would exceed the per-file limit of {self.max_file_bytes} bytes"
            )
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except OSError as exc:
                raise self._translate(exc, path) from exc
            view = view[n:]
        return written + len(data)

    def _finish_write(self, parent: int, fd: int, tmp: str, name: str, path: str) -> FileEntry:
        try:
            self._chown(fd)
            st = os.fstat(fd)
            os.close(fd)
            fd = -1
            os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
        except OSError as exc:
            raise self._translate(exc, path) from exc
        finally:
            if fd >= 0:
                os.close(fd)
            os.close(parent)
        return FileEntry(
            name=name,
            path="/".join(_parts(path)),
            size=st.st_size,
            is_dir=False,
            modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )

    @staticmethod
    def _abort_write(parent: int, fd: int, tmp: str) -> None:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=parent)
        with contextlib.suppress(OSError):
            os.close(parent)

    def _entry(self, parent: int, name: str, rel: str) -> FileEntry:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        is_dir = stat.S_ISDIR(st.st_mode)
        return FileEntry(
            name=name,
            path=rel,
            size=0 if is_dir else st.st_size,
            is_dir=is_dir,
            is_symlink=stat.S_ISLNK(st.st_mode),
            modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )

    def _list(self, path: str, pattern: str | None, recursive: bool) -> list[FileEntry]:
        base = _parts(path, allow_root=True)
        out: list[FileEntry] = []
        pending = [base]
        while pending:
            parts = pending.pop()
            fd = self._open_dir(parts)
            try:
                names = sorted(os.listdir(fd))
                for name in names:
                    if name.startswith(_TMP_PREFIX):
                        continue
                    rel = "/".join([*parts, name])
                    try:
                        entry = self._entry(fd, name, rel)
                    except FileNotFoundError:
                        continue  # removed by the kernel while we looked
                    if recursive and entry.is_dir and not entry.is_symlink:
                        pending.append([*parts, name])
                    if pattern is None or fnmatch.fnmatchcase(rel, pattern):
                        out.append(entry)
            finally:
                os.close(fd)
        return sorted(out, key=lambda e: e.path)

    def _stat(self, path: str) -> FileEntry | None:
        parts = _parts(path)
        try:
            parent = self._open_dir(parts[:-1])
        except WorkspaceFileNotFound:
            return None
        try:
            return self._entry(parent, parts[-1], "/".join(parts))
        except FileNotFoundError:
            return None
        finally:
            os.close(parent)

    def _remove(self, path: str) -> None:
        import shutil

        self._check_writable()
        parts = _parts(path)
        parent = self._open_dir(parts[:-1])
        try:
            st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(parts[-1], dir_fd=parent)
            else:
                os.unlink(parts[-1], dir_fd=parent)
        except OSError as exc:
            raise self._translate(exc, path) from exc
        finally:
            os.close(parent)

    def _mkdir(self, path: str, parents: bool) -> None:
        self._check_writable()
        parts = _parts(path)
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                created = False
                if last or parents:
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                        created = True
                    except FileExistsError:
                        if last and not parents:
                            raise WorkspaceError(f"{path!r} already exists") from None
                    except OSError as exc:
                        raise self._translate(exc, path) from exc
                try:
                    nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise self._translate(exc, "/".join(parts[: i + 1])) from exc
                os.close(fd)
                fd = nxt
                if created:
                    self._chown(fd)
        finally:
            os.close(fd)

    # -- async API ------------------------------------------------------------------------

    async def write(
        self, path: str, data: bytes | str | AsyncIterable[bytes] | Iterable[bytes]
    ) -> FileEntry:
        """Write ``data`` to ``path`` (replacing it); a str is written as UTF-8.

        ``data`` may be an (async) iterable of chunks: the file is streamed with bounded
        memory. The parent directory must exist (see ``mkdir``).
        """
        parent, fd, tmp, name = await asyncio.to_thread(self._begin_write, path)
        written = 0
        try:
            if isinstance(data, str):
                data = data.encode()
            if isinstance(data, bytes | bytearray | memoryview):
                written = await asyncio.to_thread(self._write_chunk, fd, bytes(data), 0, path)
            elif isinstance(data, AsyncIterable):
                async for chunk in data:
                    written = await asyncio.to_thread(self._write_chunk, fd, chunk, written, path)
            else:
                for chunk in data:
                    written = await asyncio.to_thread(self._write_chunk, fd, chunk, written, path)
        except BaseException:
            await asyncio.to_thread(self._abort_write, parent, fd, tmp)
            raise
        return await asyncio.to_thread(self._finish_write, parent, fd, tmp, name, path)

    async def read(self, path: str, *, max_bytes: int | None = None) -> bytes:
        """The whole content of ``path`` (``max_bytes`` refuses bigger files)."""
        return await asyncio.to_thread(self._read_all, path, max_bytes)

    async def read_text(self, path: str, encoding: str = "utf-8") -> str:
        """The content of ``path`` decoded as text."""
        return (await self.read(path)).decode(encoding)

    async def stream(self, path: str, chunk_bytes: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
        """Yield the content of ``path`` in chunks (bounded host memory)."""
        fd = await asyncio.to_thread(self._open_file, path)
        try:
            while chunk := await asyncio.to_thread(os.read, fd, chunk_bytes):
                yield chunk
        finally:
            os.close(fd)

    async def list(
        self, path: str = ".", *, pattern: str | None = None, recursive: bool = False
    ) -> list[FileEntry]:
        """Entries of the directory ``path`` (``recursive``: the whole tree below it),
        optionally only those whose relative path matches the glob ``pattern``."""
        return await asyncio.to_thread(self._list, path, pattern, recursive)

    async def stat(self, path: str) -> FileEntry | None:
        """The entry at ``path`` (a symlink is described, not followed), or None."""
        return await asyncio.to_thread(self._stat, path)

    async def exists(self, path: str) -> bool:
        """True when something exists at ``path``."""
        return await self.stat(path) is not None

    async def remove(self, path: str) -> None:
        """Remove the file, symlink or directory tree at ``path``."""
        await asyncio.to_thread(self._remove, path)

    async def mkdir(self, path: str, *, parents: bool = True) -> None:
        """Create the directory ``path`` (and missing parents unless ``parents=False``)."""
        await asyncio.to_thread(self._mkdir, path, parents)

    async def collect(self, patterns: Iterable[str], *, max_bytes: int) -> dict[str, bytes]:
        """Files whose relative path matches any glob in ``patterns``, at most
        ``max_bytes`` in all (the rest are left out and named in the log)."""
        wanted = list(patterns)
        out: dict[str, bytes] = {}
        total = 0
        for entry in await self.list(recursive=True):
            if entry.is_dir or entry.is_symlink:
                continue
            if not any(fnmatch.fnmatchcase(entry.path, p) for p in wanted):
                continue
            if total + entry.size > max_bytes:
                raise WorkspaceFull(
                    f"collected files exceed {max_bytes} bytes at {entry.path!r}; "
                    "narrow the patterns or read the files from a session"
                )
            data = await self.read(entry.path, max_bytes=max_bytes - total)
            out[entry.path] = data
            total += len(data)
        return out


class SyncFiles:
    """The synchronous twin of ``WorkspaceFiles`` (``SyncSession.files``)."""

    def __init__(self, files: WorkspaceFiles, run: Any) -> None:
        self._files = files
        self._run = run

    def write(self, path: str, data: bytes | str | Iterable[bytes]) -> FileEntry:
        """Write ``data`` to ``path``."""
        return self._run(self._files.write(path, data))

    def read(self, path: str, *, max_bytes: int | None = None) -> bytes:
        """The content of ``path``."""
        return self._run(self._files.read(path, max_bytes=max_bytes))

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        """The content of ``path`` as text."""
        return self._run(self._files.read_text(path, encoding))

    def list(
        self, path: str = ".", *, pattern: str | None = None, recursive: bool = False
    ) -> list[FileEntry]:
        """Entries of the directory ``path``."""
        return self._run(self._files.list(path, pattern=pattern, recursive=recursive))

    def exists(self, path: str) -> bool:
        """True when something exists at ``path``."""
        return self._run(self._files.exists(path))

    def remove(self, path: str) -> None:
        """Remove ``path``."""
        self._run(self._files.remove(path))

    def mkdir(self, path: str, *, parents: bool = True) -> None:
        """Create the directory ``path``."""
        self._run(self._files.mkdir(path, parents=parents))
