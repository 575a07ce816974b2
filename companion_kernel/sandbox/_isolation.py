"""Can bubblewrap run here? Isolation modes and the host facts the sandbox needs."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from typing import Literal

from ..errors import SandboxUnavailable
from ._bwrap import BwrapPlan, bwrap_argv

__all__ = [
    "IsolationMode",
    "bwrap_available",
    "bwrap_features",
    "bwrap_path",
    "python_roots",
    "resolve_isolation",
    "system_layout",
]

log = logging.getLogger("companion_kernel.sandbox")

IsolationMode = Literal["require", "auto", "off"]
"""``require``: fail when bubblewrap cannot run; ``auto``: use it when it works,
otherwise warn once and run kernels unsandboxed; ``off``: never sandbox."""

_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/mime.types",
)
_TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_warned_auto = False


def bwrap_path() -> str | None:
    """Absolute path of the ``bwrap`` executable, or None."""
    return shutil.which("bwrap")


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
    return BwrapPlan(
        command=command,
        system_ro=system,
        symlinks=links,
        etc_files=etc,
        disable_userns="--disable-userns" in bwrap_features(),
        tmpfs_bytes=16 * 1024 * 1024 if "--size" in bwrap_features() else None,
    )


@functools.cache
def bwrap_available() -> tuple[bool, str]:
    """Whether bubblewrap really starts a sandbox here (run once, then cached)."""
    path = bwrap_path()
    if path is None:
        return False, "bwrap is not installed (apt-get install bubblewrap)"
    argv = bwrap_argv(path, _probe_plan(["/bin/true"]))
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"{path} could not run: {exc}"
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
    if not _warned_auto:
        _warned_auto = True
        log.warning(
            "bubblewrap cannot run (%s); kernels run WITHOUT isolation "
            "(resource limits still apply). See `companion-kernel doctor`.",
            detail,
        )
    return False
