"""Can bubblewrap run here? Isolation modes and the host facts the sandbox needs."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import shutil
import subprocess
import sys
from typing import Literal

from ..errors import SandboxUnavailable
from . import _seccomp
from ._bwrap import DEFAULT_HOST_GID, DEFAULT_HOST_UID, BwrapPlan, bwrap_argv, proc_layout

__all__ = [
    "IsolationMode",
    "bwrap_available",
    "bwrap_features",
    "bwrap_path",
    "engine_is_root",
    "python_roots",
    "resolve_isolation",
    "setpriv_path",
    "system_layout",
]

log = logging.getLogger("companion_kernel.sandbox")

IsolationMode = Literal["require", "auto", "off"]
"""``require``: fail when bubblewrap cannot run; ``auto``: use it when it works,
otherwise warn once and run kernels unsandboxed (never when the engine is root: then
it fails like ``require``); ``off``: never sandbox."""

_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/mime.types",
    "/etc/fonts",
)
_TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_warned_auto = False


def bwrap_path() -> str | None:
    """Absolute path of the ``bwrap`` executable, or None."""
    return shutil.which("bwrap")


def setpriv_path() -> str | None:
    """Absolute path of util-linux ``setpriv`` under /usr (visible in the sandbox), or None."""
    path = shutil.which("setpriv", path="/usr/bin:/usr/sbin:/bin:/sbin")
    return os.path.realpath(path) if path else None


def engine_is_root() -> bool:
    """True when kernels would inherit host uid 0 (the engine's effective uid)."""
    return os.geteuid() == 0


@functools.cache
def bwrap_features() -> frozenset[str]:
    """Optional bubblewrap options this build supports (``--disable-userns``, ``--size``)."""
    path = bwrap_path()
    if path is None:
        return frozenset()
    try:
        text = subprocess.run(
            [path, "--help"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(opt for opt in ("--disable-userns", "--size") if opt in text)


@functools.cache
def system_layout() -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], tuple[str, ...]]:
    """(read-only system dirs, (target, link) symlinks, /etc files) of this host."""
    dirs, links = ["/usr"], []
    for top in _TOP_LEVEL:
        if os.path.islink(top):
            links.append((os.readlink(top), top))
        elif os.path.isdir(top):
            dirs.append(top)
    return tuple(dirs), tuple(links), tuple(p for p in _ETC_FILES if os.path.exists(p))


def python_roots() -> list[str]:
    """What the current interpreter needs inside: its base prefix and its venv."""
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    return sorted(roots)


def _probe_plan(command: list[str]) -> BwrapPlan:
    system, links, etc = system_layout()
    readonly, masked_files, masked_dirs = proc_layout()
    root = engine_is_root()
    return BwrapPlan(
        command=command,
        system_ro=system,
        symlinks=links,
        etc_files=etc,
        disable_userns="--disable-userns" in bwrap_features(),
        tmpfs_bytes=16 * 1024 * 1024 if "--size" in bwrap_features() else None,
        host_uid=DEFAULT_HOST_UID if root else None,
        host_gid=DEFAULT_HOST_GID if root else None,
        setpriv=setpriv_path() or "/usr/bin/setpriv",
        proc_readonly=readonly,
        proc_masked_files=masked_files,
        proc_masked_dirs=masked_dirs,
    )


@functools.cache
def bwrap_available() -> tuple[bool, str]:
    """Whether bubblewrap really starts a sandbox here (run once, then cached)."""
    path = bwrap_path()
    if path is None:
        return False, "bwrap is not installed (apt-get install bubblewrap)"
    if engine_is_root() and setpriv_path() is None:
        return (
            False,
            "setpriv (util-linux) is missing: kernels of a root engine cannot drop to an "
            "unprivileged uid",
        )
    seccomp_ok, seccomp_detail = _seccomp.available()
    if not seccomp_ok:
        return False, seccomp_detail
    fd = _seccomp.filter_fd()
    argv = bwrap_argv(path, dataclasses.replace(_probe_plan(["/bin/true"]), seccomp_fd=fd))
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=20, check=False, pass_fds=(fd,)
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"{path} could not run: {exc}"
    finally:
        os.close(fd)
    if proc.returncode != 0:
        err = proc.stderr.strip().splitlines()
        return False, f"{path} failed (exit {proc.returncode}): {err[-1] if err else 'no output'}"
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        version = "bubblewrap"
    return True, f"{version or 'bubblewrap'} at {path}"


def resolve_isolation(mode: IsolationMode) -> bool:
    """Whether kernels should be sandboxed under ``mode``.

    Raises SandboxUnavailable for ``require`` when bubblewrap cannot run; logs one
    warning per process for ``auto`` in that case.
    """
    global _warned_auto
    if mode == "off":
        return False
    if mode not in ("require", "auto"):
        raise ValueError(f"isolation must be 'require', 'auto' or 'off', not {mode!r}")
    ok, detail = bwrap_available()
    if ok:
        return True
    if mode == "require":
        raise SandboxUnavailable(
            f"isolation='require' but bubblewrap cannot run: {detail}. Install bubblewrap "
            "(apt-get install bubblewrap), allow user namespaces, or set isolation='auto'."
        )
    if engine_is_root():
        raise SandboxUnavailable(
            f"the engine runs as root and bubblewrap cannot run ({detail}): kernels would "
            "run as host root. Install bubblewrap (apt-get install bubblewrap), run the "
            "engine as an unprivileged user, or set isolation='off' to accept that."
        )
    if not _warned_auto:
        _warned_auto = True
        log.warning(
            "bubblewrap cannot run (%s); kernels run WITHOUT isolation: they can read "
            "and write everything this user can and reach the network (their environment "
            "is cleared and resource limits still apply). See `companion-kernel doctor`.",
            detail,
        )
    return False
