"""A syntax error is an error, not a rejection: status `error`, the kernel's ename, line and
column, whether the validator or the kernel found it."""

from __future__ import annotations

import pytest
from _support import python_engine_config

from companion_kernel import Engine

pytestmark = pytest.mark.kernel


async def test_python_syntax_errors_found_by_the_validator() -> None:
    async with Engine(python_engine_config(policy="standard")) as engine:
        async with engine.session() as s:
            before = await s.execute("1")
            unclosed = await s.execute("x = 1\ny = (")
            after = await s.execute("2")
            # Found by the validator or, when its fast path does not parse, by the kernel.
            indent = await s.execute("def f():\nreturn 1")
        one_shot = await engine.execute("print('a'", "python")
    assert unclosed.status == "error" and not unclosed.violations
    assert unclosed.error.ename == "SyntaxError"
    assert unclosed.error.evalue == "'(' was never closed"
    assert unclosed.error.traceback[-1] == "SyntaxError: '(' was never closed (line 2, column 5)"
    assert unclosed.error.traceback[1:3] == ["    y = (", "        ^"]
    assert unclosed.session_id == s.id
    assert indent.status == "error" and indent.error.ename == "IndentationError"
    assert "line 2" in "\n".join(indent.error.traceback)
    assert one_shot.status == "error" and one_shot.error.ename == "SyntaxError"
    assert after.execution_count == before.execution_count + 1  # the kernel never saw them


async def test_policy_violation_next_to_a_syntax_error_is_a_rejection() -> None:
    async with Engine(python_engine_config(policy="standard")) as engine:
        result = await engine.execute("require('child_process');\nlet = ;", "javascript")
    assert result.status == "rejected"
    assert {v.rule for v in result.violations} >= {"js.syntax", "js.require"}


async def test_syntax_error_with_the_validator_off_comes_from_the_kernel() -> None:
    async with Engine(python_engine_config(policy="off")) as engine:
        result = await engine.execute("y = (", "python")
    assert result.status == "error" and result.error.ename == "SyntaxError"
    assert "line 1" in result.error.evalue


async def test_javascript_syntax_error_found_by_the_validator() -> None:
    async with Engine(python_engine_config(policy="standard")) as engine:
        result = await engine.execute("let = ;", "javascript")
    assert result.status == "error" and result.error.ename == "SyntaxError"
    assert not result.violations and "line 1, column 5" in result.error.traceback[-1]
