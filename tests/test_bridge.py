"""Host tools called from kernel code over the comm bridge (real kernels, real registry)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from _support import python_engine_config

from companion_kernel import Engine
from companion_kernel.tools import ToolRegistry, default_registry, tool
from companion_kernel.tools.bridge import ToolAccess

pytestmark = pytest.mark.kernel

SEED_TEXT = "The temperatures were 22.5°C, 18.3°C, 25.7°C, 20.1°C, and 23.4°C"
SEED_OUTPUT = "Average: 22.00°C, Min: 18.3°C, Max: 25.7°C\n"


def registry_with_extras() -> ToolRegistry:
    registry = default_registry()

    @tool(category="test")
    async def slow_echo(text: str, seconds: float = 1.0) -> str:
        """Echo text after a pause."""
        await asyncio.sleep(seconds)
        return text

    @tool(category="test")
    async def hang() -> None:
        """Never finish."""
        await asyncio.sleep(3600)

    registry.register(slow_echo)
    registry.register(hang)
    return registry


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    access = ToolAccess(call_timeout_s=3.0)
    async with Engine(
        python_engine_config(), tools=registry_with_extras(), tool_access=access
    ) as e:
        yield e


async def test_calls_positional_keyword_list_and_help(engine: Engine) -> None:
    async with engine.session() as s:
        r = await s.execute(
            "print(tools.add(10, 5), tools.add(a=10, b=5), tools.multiply(7, 8), tools.sqrt(144))"
        )
        names = await s.execute("sorted(t['name'] for t in tools.list())")
        helped = await s.execute("help(tools.add)")
    assert r.status == "ok", r.error
    assert r.stdout == "15 15 56 12.0\n"
    assert "'add'" in names.text and "'extract_numbers'" in names.text
    assert "add(a:" in helped.stdout and "Parameters:" in helped.stdout


async def test_seed_workflow_from_python(engine: Engine) -> None:
    code = (
        f"text = {SEED_TEXT!r}\n"
        "nums = tools.extract_numbers(text)\n"
        "avg, lo, hi = tools.list_average(nums), tools.list_min(nums), tools.list_max(nums)\n"
        "print(f'Average: {avg:.2f}°C, Min: {lo}°C, Max: {hi}°C')\n"
    )
    r = await engine.execute(code, "python")
    assert r.status == "ok", r.error
    assert r.stdout == SEED_OUTPUT


async def test_failures_raise_tool_error_in_kernel(engine: Engine) -> None:
    async with engine.session() as s:
        div = await s.execute("tools.divide(1, 0)")
        bad = await s.execute("tools.add('x', 'y')")
        missing = await s.execute("tools.no_such_tool(1)")
        caught = await s.execute(
            "try:\n    tools.sqrt(-1)\nexcept ToolError as e:\n    print('caught', e)"
        )
        alive = await s.execute("tools.add(1, 1)")
    assert div.error.ename == "ToolError" and "zero" in div.error.evalue
    assert bad.error.ename == "ToolError" and "ToolArgumentError" in bad.error.evalue
    assert missing.error.ename == "AttributeError" and "no_such_tool" in missing.error.evalue
    assert caught.stdout.startswith("caught ")
    assert alive.text == "2"


async def test_output_flows_while_a_call_is_in_progress(engine: Engine) -> None:
    seen: list[tuple[str, float]] = []
    async with engine.session() as s:
        r = await s.execute(
            "import sys\nprint('waiting', flush=True)\nprint(tools.slow_echo('done', 1.5))",
            on_stdout=lambda t: seen.append((t, time.monotonic())),
        )
        end = time.monotonic()
    assert r.stdout == "waiting\ndone\n"
    first = next(at for text, at in seen if "waiting" in text)
    assert end - first > 0.75  # arrived while the host tool was still running


async def test_hanging_tool_times_out_with_clear_error(engine: Engine) -> None:
    async with engine.session() as s:
        r = await s.execute("tools.hang()", timeout=30)
        after = await s.execute("tools.add(2, 2)")
    assert r.status == "error" and "ToolTimeout" in r.error.evalue
    assert after.text == "4"


async def test_permissions_allow_list_and_none() -> None:
    async with Engine(python_engine_config()) as engine:
        only_add = engine.session(tools=ToolAccess(allow=("add",)))
        nothing = engine.session(tools=ToolAccess(allow="none"))
        async with only_add, nothing:
            ok = await only_add.execute("tools.add(1, 2)")
            refused = await only_add.execute("tools.call('multiply', 2, 3)")
            listed = await only_add.execute("[t['name'] for t in tools.list()]")
            none = await nothing.execute("tools.call('add', 1, 2)")
    assert ok.text == "3"
    assert refused.status == "error" and "ToolPermissionError" in refused.error.evalue
    assert listed.text == "['add']"
    assert none.status == "error" and "ToolPermissionError" in none.error.evalue


async def test_rate_limit_applies_per_session() -> None:
    async with Engine(python_engine_config()) as engine:
        limited = engine.session(tools=ToolAccess(max_calls_per_minute=5))
        other = engine.session()
        async with limited, other:
            r = await limited.execute("for i in range(10):\n    tools.add(i, i)")
            fine = await other.execute("sum(tools.add(i, i) for i in range(10))")
    assert r.status == "error" and "rate limit" in r.error.evalue
    assert fine.text == "90"


# Kernel code that talks to the host over the bridge's own comm, as an attacker with the
# validator off can (through the interpreter, never through `tools`): it takes the comm's
# replies over, so that it sees what the host answers to hand-made requests.
RAW_BRIDGE = """
import queue as _queue
_bridge = next(c for c in get_ipython().kernel.comm_manager.comms.values()
               if c.target_name == "companion.tools")
_replies = _queue.SimpleQueue()
_bridge.on_msg(lambda m: _replies.put(m["content"]["data"]))

def raw(data, wait=10.0):
    _bridge.send(data)
    return _replies.get(timeout=wait)["error"]["message"] if wait else None
"""


async def test_malformed_and_oversized_requests(engine: Engine) -> None:
    async with engine.session() as s:
        huge = await s.execute("tools.count_characters('x' * 2_000_000)")
        alive = await s.execute("tools.add(1, 2)")
        await s.execute(RAW_BRIDGE)
        no_id = await s.execute("raw({'v': 1, 'type': 'call', 'tool': 'add'}, wait=0)")
        version = await s.execute("raw({'v': 99, 'id': 'a', 'type': 'call', 'tool': 'add'})")
        kind = await s.execute("raw({'v': 1, 'id': 'b', 'type': 'explode'})")
        shape = await s.execute(
            "raw({'v': 1, 'id': 'c', 'type': 'call', 'tool': 'add', 'args': {}})"
        )
    assert no_id.status == "ok"  # ignored by the host, nothing breaks
    assert "unsupported protocol version" in version.text
    assert "unknown request type" in kind.text
    assert "args must be a list" in shape.text
    assert "limit" in huge.error.evalue and "ToolArgumentError" in huge.error.evalue
    assert alive.text == "3"


async def test_kernel_dying_mid_call_leaves_host_and_others_fine(engine: Engine) -> None:
    async with engine.session() as victim, engine.session() as bystander:
        await bystander.execute("x = 1")
        r = await victim.execute(
            "import os, threading\n"
            "threading.Timer(0.5, lambda: os._exit(1)).start()\n"
            "tools.slow_echo('never', 2.5)",
            timeout=30,
        )
        assert r.status == "died"
        await asyncio.sleep(2.5)  # the host call finishes against a dead kernel: no error
        again = await victim.execute("tools.add(1, 2)")
        other = await bystander.execute("x + tools.add(1, 1)")
    assert again.text == "3" and again.state_lost
    assert other.text == "3"


async def test_engine_without_tools_has_no_bridge() -> None:
    async with Engine(python_engine_config(), tools=False) as engine:
        r = await engine.execute("tools", "python")
    assert r.status == "error" and r.error.ename == "NameError"


def kernel_tool_registry() -> ToolRegistry:
    registry = default_registry()

    @tool(runs="kernel", cache_ttl=60)
    def summarize_var(var: str, digits: int = 2) -> dict:
        """Summarise a list held in the session's globals (runs inside the kernel)."""
        import os
        import statistics

        data = globals()[var]
        return {
            "mean": round(statistics.mean(data), digits),
            "n": len(data),
            "pid": os.getpid(),
        }

    registry.register(summarize_var)
    return registry


async def test_kernel_tools_run_inside_the_session() -> None:
    import os

    async with Engine(python_engine_config(), tools=kernel_tool_registry()) as engine:
        async with engine.session() as s:
            await s.execute("temps = [22.5, 18.3, 25.7, 20.1, 23.4]")
            from_kernel = await s.execute("tools.summarize_var('temps')")
            first = await engine.call_tool("summarize_var", {"var": "temps"}, session=s)
            again = await engine.call_tool("summarize_var", '{"var": "temps"}', session=s)
            bad = await engine.call_tool(
                "summarize_var", {"var": "temps", "digits": "x"}, session=s
            )
            no_session = await engine.call_tool("summarize_var", {"var": "temps"})
            clean = await s.execute("'summarize_var' in globals()")
            host = await engine.call_tool("add", {"a": 1, "b": 2})
    assert from_kernel.status == "ok", from_kernel.error
    assert "'mean': 22.0" in from_kernel.text
    assert first.ok and first.value["mean"] == 22.0 and first.value["n"] == 5
    assert first.value["pid"] != os.getpid()  # it ran in the kernel process
    assert again.ok and again.cached
    assert not bad.ok and bad.error.type == "ToolArgumentError"
    assert not no_session.ok and "session" in no_session.error.message
    assert clean.text == "False"
    assert host.ok and host.value == 3


async def test_bridge_works_in_a_sandboxed_kernel() -> None:
    # No network inside: the calls ride the kernel's own (ipc) channels.
    async with Engine(python_engine_config(isolation="require")) as engine:
        assert engine.sandboxed
        r = await engine.execute("print(tools.multiply(7, 8), tools.sqrt(144))", "python")
    assert r.status == "ok", r.error
    assert r.stdout == "56 12.0\n"
