"""Helpers for the sandbox tests (importable as `_sandbox_support`)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import psutil
import pytest

from companion_kernel.sandbox import _cgroups, bwrap_available
from companion_kernel.sandbox._bwrap import DEFAULT_HOST_UID, SANDBOX_UID

PROJECT_ROOT = Path(__file__).resolve().parents[2]

KERNEL_UID = DEFAULT_HOST_UID if os.geteuid() == 0 else SANDBOX_UID
"""The uid a sandboxed kernel sees for itself: a root engine's kernels run as the
unprivileged host uid 65534, others in a user namespace as 1000."""

requires_bwrap = pytest.mark.skipif(
    not bwrap_available()[0], reason=f"bubblewrap cannot run here: {bwrap_available()[1]}"
)


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """The processes that still run (zombies count as gone)."""
    out = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except psutil.NoSuchProcess:
            pass
    return out


async def wait_until_gone(
    procs: list[psutil.Process], timeout: float = 10.0
) -> list[psutil.Process]:
    """Wait for processes to exit (reaping is asynchronous); returns those still alive."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while alive(procs) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    return alive(procs)


def last_json(text: str) -> Any:
    """The JSON document on the last non-empty line of ``text``."""
    return json.loads([line for line in text.splitlines() if line.strip()][-1])


def cgroup_dirs_of(pid: int) -> list[str]:
    """Per-kernel cgroup directories created by process ``pid`` that still exist."""
    support = _cgroups.detect()
    found = []
    for parent in {support.pids, support.memory} - {None}:
        assert parent is not None
        found += [
            e.path for e in os.scandir(parent) if e.name.startswith(f"companion-kernel-{pid}-")
        ]
    return found
