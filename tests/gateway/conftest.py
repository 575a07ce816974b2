"""Module-scoped gateways shared by the remote-kernel tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gateway._gateway_support import GatewayServer, companion_gateway, kernel_gateway


@pytest.fixture(scope="module")
def plain_gateway() -> Iterator[GatewayServer]:
    server = kernel_gateway().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def our_gateway() -> Iterator[GatewayServer]:
    server = companion_gateway().start()
    try:
        yield server
    finally:
        server.stop()
