"""Every kind of bad input gives one clear error, and leaves the registry working."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from companion_kernel.tools import ToolRegistry, default_registry


@pytest.fixture
def reg(release: threading.Event) -> ToolRegistry:
    registry = default_registry()

    @registry.tool
    def raises() -> None:
        raise KeyError("missing key")

    @registry.tool(timeout=0.1)
    def hangs() -> None:
        release.wait(30)

    @registry.tool(timeout=0.1)
    async def hangs_async() -> None:
        await asyncio.sleep(30)

    @registry.tool
    def returns_junk() -> Any:
        return {"handle": threading.Lock()}

    return registry


CASES: list[tuple[str, str, Any, str, str]] = [
    ("unknown tool", "no_such_tool", {}, "ToolNotFound", "no tool named 'no_such_tool'"),
    ("missing argument", "add", {"a": 1}, "ToolArgumentError", "b: required argument is missing"),
    ("extra argument", "add", {"a": 1, "b": 2, "c": 3}, "ToolArgumentError", "c: unexpected"),
    ("wrong type", "list_sum", {"numbers": "1,2"}, "ToolArgumentError", "numbers:"),
    ("not JSON", "add", "a=1, b=2", "ToolArgumentError", "not valid JSON"),
    ("huge arguments", "list_sum", None, "ToolArgumentError", "the limit is"),
    ("tool raises", "raises", {}, "ToolExecutionError", "KeyError: 'missing key'"),
    ("tool hangs", "hangs", {}, "ToolTimeout", "did not finish within 0.1 s"),
    ("async tool hangs", "hangs_async", {}, "ToolTimeout", "did not finish within 0.1 s"),
    ("result not JSON", "returns_junk", {}, "ToolExecutionError", "cannot be converted to JSON"),
]


def _arguments(arguments: Any) -> Any:
    if arguments is None:  # larger than the default 4 MiB limit
        return json.dumps({"numbers": [1] * (3 * 1024 * 1024)})
    return arguments


@pytest.mark.parametrize(
    ("name", "arguments", "error_type", "fragment"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
class TestBadInput:
    def test_sync(
        self, reg: ToolRegistry, name: str, arguments: Any, error_type: str, fragment: str
    ) -> None:
        result = reg.call(name, _arguments(arguments))
        assert result.error is not None
        assert (result.error.type, fragment in result.error.message) == (error_type, True)
        assert reg.execute("add", 1, 2) == 3

    async def test_async(
        self, reg: ToolRegistry, name: str, arguments: Any, error_type: str, fragment: str
    ) -> None:
        result = await reg.acall(name, _arguments(arguments))
        assert result.error is not None
        assert (result.error.type, fragment in result.error.message) == (error_type, True)
        assert await reg.aexecute("add", 1, 2) == 3

    async def test_in_a_batch(
        self, reg: ToolRegistry, name: str, arguments: Any, error_type: str, fragment: str
    ) -> None:
        results = await reg.execute_batch(
            [("add", (1, 2), {}), (name, (), _arguments(arguments)), ("sqrt", (9,), {})]
        )
        assert [r.ok for r in results] == [True, False, True]
        assert results[1].error is not None and results[1].error.type == error_type
