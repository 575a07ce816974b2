"""A hostile kernel against the tool bridge: floods, huge and absurd requests (validator off).

The attacker talks to the host over the bridge's own comm, found through the interpreter
(never through `tools`), as kernel code with the validator off can.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import AsyncIterator

import pytest
from _support import python_engine_config

from companion_kernel import Engine, SessionClosed
from companion_kernel.tools import ToolRegistry, default_registry, tool
from companion_kernel.tools.bridge import ToolAccess

pytestmark = pytest.mark.kernel

FIND_COMM = """
import json, queue, time
_bridge = next(c for c in get_ipython().kernel.comm_manager.comms.values()
               if c.target_name == "companion.tools")
"""

# Blocks the thread that reads the host's replies, then sends requests without end: the
# host's replies pile up in front of a kernel that no longer reads them.
STALL_AND_FLOOD = (
    FIND_COMM
    + """
_bridge.on_msg(lambda msg: time.sleep(3600))
print("flooding", flush=True)
for i in range(10**7):
    _bridge.send({"v": 1, "id": str(i), "type": "list"})
"""
)


def slow_registry() -> ToolRegistry:
    registry = default_registry()

    @tool
    async def slow_echo(text: str, seconds: float = 1.0) -> str:
        """Echo text after a pause."""
        await asyncio.sleep(seconds)
        return text

    registry.register(slow_echo)
    return registry


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    async with Engine(python_engine_config(), tools=slow_registry()) as e:
        yield e


async def test_flooding_kernel_that_stops_reading_loses_its_session_only(engine: Engine) -> None:
    flooding = asyncio.Event()
    async with engine.session() as victim, engine.session() as bystander:
        await bystander.execute("x = 1")
        attack = asyncio.ensure_future(
            victim.execute(STALL_AND_FLOOD, timeout=600, on_stdout=lambda text: flooding.set())
        )
        await asyncio.wait_for(flooding.wait(), 60)
        # Before the fix, the host's blocking reply send froze the event loop here forever.
        started = time.monotonic()
        other = await asyncio.wait_for(
            bystander.execute("import time; time.sleep(5); x + tools.add(1, 1)", timeout=60),
            120,
        )
        took = time.monotonic() - started
        lost = await asyncio.wait_for(attack, 120)
        after = await bystander.execute("tools.add(2, 2)")
        with pytest.raises(SessionClosed):
            await victim.execute("1")
    assert other.status == "ok" and other.text == "3", other.error
    assert took < 30
    assert lost.status == "cancelled"
    assert "stopped reading the tool bridge's replies" in lost.error.evalue
    assert after.text == "4"


RAW = (
    FIND_COMM
    + """
_replies = queue.SimpleQueue()
_handler = _bridge._msg_callback
_bridge.on_msg(lambda m: _replies.put(m["content"]["data"]))

def replies(n, wait=20.0):
    return [_replies.get(timeout=wait).get("error", {}).get("message", "ok") for _ in range(n)]

def ask(**request):
    _bridge.send({"v": 1, "type": "call", **request})
    return _replies.get(timeout=20.0).get("value")

def send_raw(data_json):
    # A signed comm_msg whose content is written by hand (json.dumps cannot nest this deep).
    k = get_ipython().kernel
    content = ('{"comm_id": "%s", "data": %s}' % (_bridge.comm_id, data_json)).encode()
    parts = [json.dumps(k.session.msg_header("comm_msg"), default=str).encode(),
             json.dumps(k.get_parent().get("header", {}), default=str).encode(), b"{}", content]
    k.iopub_socket.send_multipart([_bridge.topic, b"<IDS|MSG>", k.session.sign(parts), *parts])
"""
)


async def test_requests_in_flight_and_per_minute_are_bounded() -> None:
    access = ToolAccess(max_pending=4, max_requests_per_minute=30)
    async with Engine(python_engine_config(), tools=slow_registry(), tool_access=access) as e:
        async with e.session() as s:
            await s.execute(RAW)
            await s.execute(
                "for i in range(10):\n"
                "    _bridge.send({'v': 1, 'id': f'p{i}', 'type': 'call', 'tool': 'slow_echo',"
                " 'args': ['x', 3]})"
            )
            refused = await s.execute("sum('in flight' in m for m in replies(6))")
            rated = await s.execute(
                "for i in range(30):\n"
                "    _bridge.send({'v': 1, 'id': f'r{i}', 'type': 'list'})\n"
                "sum('rate limit' in m for m in replies(34))"
            )
    assert refused.text == "6"  # 4 run, the other 6 are refused at once
    assert rated.text == "10"  # 30 requests per minute get through: 10 + 20 of the 30


async def test_huge_request_is_dropped_before_decoding(engine: Engine) -> None:
    async with engine.session() as s:
        await s.execute(RAW)
        tracemalloc.start()
        try:
            r = await s.execute(
                "_bridge.send({'v': 1, 'id': 'big', 'type': 'call', 'tool': 'count_characters',"
                " 'args': ['x' * 150_000_000]})",
                timeout=120,
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # ZeroMQ may have cut the kernel's output channel over the oversized frame; then the
        # kernel is replaced (state lost) on a later execution, which must still answer.
        await s.execute("_bridge.on_msg(_handler)")
        for _ in range(3):
            alive = await s.execute("tools.add(2, 3)")
            if alive.status == "ok":
                break
    assert r.status == "ok", r.error
    assert peak < 64 * 1024 * 1024  # decoding it would have cost at least 150 MB
    assert alive.text == "5", alive.error


async def test_pathological_json_gives_errors_not_exceptions(engine: Engine) -> None:
    async with engine.session() as s:
        await s.execute(RAW)
        deep = await s.execute(
            'send_raw(\'{"v": 1, "id": "deep", "type": "call", "tool": "add", '
            "\"args\": ' + '[' * 200_000 + ']' * 200_000 + '}')"
        )
        # Deep enough for the host's own handling, yet decodable: answered with an error.
        nested = await s.execute(
            'send_raw(\'{"v": 1, "id": "n", "type": "call", "tool": "add", '
            "\"args\": [' + '[' * 900 + ']' * 900 + ', 1]}')\n"
            "replies(1)[0]"
        )
        alive = await s.execute("ask(id='after', tool='add', args=[2, 3])")
    assert deep.status == "ok", deep.error
    assert nested.status == "ok", nested.error
    assert nested.text not in (None, "'ok'")  # an error message came back
    assert alive.text == "5"
