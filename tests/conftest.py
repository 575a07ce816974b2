"""Shared fixtures: real engines with real kernels, cleaned up after every test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from _support import kernel_processes, python_engine_config
from hypothesis import settings

from companion_kernel import Engine

# CI must be reproducible: the same examples every run (local runs keep exploring).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    async with Engine(python_engine_config()) as eng:
        yield eng


@pytest.fixture(autouse=True, scope="session")
def _no_leaked_kernels() -> Iterator[None]:
    """After the whole run, no kernel started by the tests may still be alive."""
    yield
    leaked = [p for p in kernel_processes() if p.is_running() and p.status() != "zombie"]
    for proc in leaked:
        proc.kill()
    assert not leaked, f"leaked kernel processes: {[p.pid for p in leaked]}"
