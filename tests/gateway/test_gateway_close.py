"""Closing an engine while its remote kernels are still starting: nothing is left open."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from typing import Any

import pytest
from gateway._gateway_support import GatewayServer, remote

from companion_kernel import Engine
from companion_kernel.gateway.client import Gateways

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(300)]


@pytest.mark.parametrize("after_s", [0.0, 0.3])
def test_close_during_the_websocket_handshake_leaves_no_socket(
    plain_gateway: GatewayServer, monkeypatch: pytest.MonkeyPatch, after_s: float
) -> None:
    """The pool's kernels are between their POST and their websocket when the engine
    closes (at once, and once the upgrade request is with the gateway, which holds it for
    a kernel deleted meanwhile). Each socket is closed before the event loop ends, and
    the close does not wait for the handshake's timeout."""
    connecting = asyncio.Event()
    original = Gateways.connect

    async def connect(self: Gateways, url: str, timeout: float, **options: Any) -> Any:
        connecting.set()
        return await original(self, url, timeout, **options)

    monkeypatch.setattr(Gateways, "connect", connect)

    async def main() -> float:
        connecting.clear()
        config = remote(plain_gateway.url, min_idle=2)  # start timeout: 90 s
        engine = Engine(config)
        await engine.start()
        await asyncio.wait_for(connecting.wait(), 120)
        await asyncio.sleep(after_s)
        began = time.monotonic()
        await engine.aclose()
        return time.monotonic() - began

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        took = asyncio.run(main())
        gc.collect()  # an unclosed socket warns when collected
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
    assert took < 45, f"closing waited {took:.1f}s: for a handshake's timeout?"
    deadline = time.monotonic() + 30
    while plain_gateway.kernels() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert plain_gateway.kernels() == []
