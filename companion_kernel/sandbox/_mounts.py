"""Size-capped workspace mounts, and removing directory trees that may hold them.

As root the engine gives each kernel's workspace a tmpfs of its own with a byte and
an inode cap: the kernel gets ENOSPC at the quota, from the filesystem itself. Any
tree that may contain such mounts is removed with ``remove_tree``, which unmounts
first (lazily) so ``rmtree`` never walks into, or stops at, a mount point.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import shutil
import subprocess
from pathlib import Path

__all__ = [
    "can_mount",
    "mount_quota_tmpfs",
    "mounts_under",
    "remove_tree",
    "unmount",
]

log = logging.getLogger("companion_kernel.sandbox")

_MNT_DETACH = 2
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x2, 0x4, 0x8
_MOUNTINFO = "/proc/self/mountinfo"


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts_under(path: str | os.PathLike[str]) -> list[str]:
    """Mount points at or below ``path``, deepest first."""
    root = os.path.realpath(path)
    found = []
    with contextlib.suppress(OSError):
        with open(_MOUNTINFO, encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                fields = line.split(" ")
                if len(fields) > 4:
                    point = _unescape(fields[4])
                    if point == root or point.startswith(root.rstrip("/") + "/"):
                        found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def unmount(path: str) -> bool:
    """Lazily unmount ``path``; True when it is no longer a mount point."""
    if _libc().umount2(os.fsencode(path), _MNT_DETACH) == 0:
        return True
    return not os.path.ismount(path)


@functools.cache
def can_mount() -> bool:
    """True when this process may mount filesystems (root with CAP_SYS_ADMIN)."""
    if os.geteuid() != 0:
        return False
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / f".ck-mount-probe-{os.getpid()}"
    try:
        probe.mkdir(exist_ok=True)
        mount_quota_tmpfs(str(probe), size_bytes=1024 * 1024, inodes=16, uid=0, gid=0)
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            unmount(str(probe))
            probe.rmdir()
    return True


def mount_quota_tmpfs(
    path: str,
    *,
    size_bytes: int,
    inodes: int,
    uid: int,
    gid: int,
    executable: bool = True,
    source: str = "companion-workspace",
) -> None:
    """Mount a tmpfs capped at ``size_bytes`` and ``inodes`` on ``path`` (raises OSError).

    Always nosuid and nodev; ``executable=False`` adds noexec.
    """
    opts = f"size={size_bytes},nr_inodes={inodes},mode=0700,uid={uid},gid={gid}"
    flags = _MS_NOSUID | _MS_NODEV | (0 if executable else _MS_NOEXEC)
    rc = _libc().mount(source.encode(), os.fsencode(path), b"tmpfs", flags, opts.encode())
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot mount a tmpfs on {path}: {os.strerror(err)}")


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Unmount everything below ``path``, then remove it; missing paths are fine.

    Blocking: call it in a worker thread from async code.
    """
    if not os.path.lexists(path):
        return
    for point in mounts_under(path):
        unmount(point)
    try:
        shutil.rmtree(path, ignore_errors=True)
    except RecursionError:
        # A kernel can nest directories deeper than Python's recursion limit (3.11's
        # rmtree recurses); rm walks iteratively and never follows symlinks.
        subprocess.run(
            ["rm", "-rf", "--one-file-system", "--", os.fspath(path)], check=False, timeout=300
        )
    if os.path.lexists(path):
        log.warning("could not remove %s completely", path)
