"""Helpers shared by the tests (importable as `_support`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from companion_kernel import EngineConfig, PoolConfig


def python_engine_config(**overrides: object) -> EngineConfig:
    """A small Python-only engine: one warm kernel, no validator, no sandbox."""
    values: dict[str, object] = {
        "languages": ("python",),
        "pools": {"python": PoolConfig(min_idle=1, max_kernels=4)},
        "isolation": "off",
        "policy": "off",
        "timeout_s": 30.0,
        "interrupt_grace_s": 1.5,
    }
    values.update(overrides)
    return EngineConfig.model_validate(values)


def kernel_processes() -> list[psutil.Process]:
    """Kernel processes started by this test process (any depth)."""
    me = psutil.Process(os.getpid())
    found = []
    for child in me.children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "ipykernel_launcher" in cmd or "bash_kernel" in cmd or "kernel.js" in cmd:
            found.append(child)
    return found


def rss() -> int:
    return psutil.Process().memory_info().rss


@contextmanager
def peak_rss() -> Iterator[dict[str, int]]:
    """This process's resident memory before and at its highest during the block."""
    seen = {"base": rss(), "peak": rss()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            seen["peak"] = max(seen["peak"], rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
        seen["peak"] = max(seen["peak"], rss())
