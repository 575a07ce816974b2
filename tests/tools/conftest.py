"""Fixtures for the tool layer: fresh registries, no kernels."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from companion_kernel.tools import ToolRegistry, default_registry


@pytest.fixture
def registry() -> ToolRegistry:
    """A fresh registry with the 23 built-in tools."""
    return default_registry()


@pytest.fixture
def empty() -> ToolRegistry:
    """A fresh registry with no tools."""
    return ToolRegistry()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event that blocked test tools wait on; set at teardown so no thread outlives a test."""
    event = threading.Event()
    yield event
    event.set()
