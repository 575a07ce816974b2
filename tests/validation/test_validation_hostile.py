"""Hostile input: huge, deeply nested or parser-confusing code still gets a report, quickly.

The per-test timeout is the hang detector; nothing here asserts on time.
"""

from __future__ import annotations

import pytest

from companion_kernel.validation import _shell, validate
from companion_kernel.validation._budget import BudgetExceeded, run_with_budget
from companion_kernel.validation._common import MAX_VIOLATIONS

pytestmark = pytest.mark.timeout(60)

HOSTILE = [
    ("shell", "$((" * 60_000),
    ("shell", "${" * 60_000),
    ("shell", "((" * 60_000),
    ("shell", "$[" * 60_000),
    ("shell", "'${'" * 40_000),
    ("shell", "<<EOF " * 30_000),
    ("shell", "$(" * 60_000),
    ("javascript", "(()=>" * 3_000 + "this" + ")" * 3_000),
    ("javascript", "x" + "['a'+" * 5_000 + "'b'" + "]" * 5_000),
    ("javascript", "a" + "+'x'" * 100_000),
    ("javascript", "[" * 100_000),
    ("python", "-" * 100_000 + "1"),
    ("python", "x = " + "(" * 150 + ")" * 150),
    ("python", "def f(x: '" + "List[" * 90 + "eval" + "]" * 90 + "'): pass"),
]


class TestHostileInput:
    @pytest.mark.parametrize(("language", "code"), HOSTILE, ids=lambda v: repr(v[:16]))
    def test_report_comes_back(self, language: str, code: str) -> None:
        report = validate(code, language)
        for v in report.violations:
            assert v.line >= 1 and v.column >= 1

    @pytest.mark.parametrize(
        ("language", "code"), [("javascript", "eval;" * 50_000), ("python", "eval\n" * 50_000)]
    )
    def test_violation_lists_are_capped(self, language: str, code: str) -> None:
        report = validate(code, language)
        assert not report.ok
        assert len(report.violations) == MAX_VIOLATIONS + 1
        assert any(v.rule.endswith(".more") and v.severity == "error" for v in report.violations)

    def test_known_bashlex_loop_is_caught_before_parsing(self) -> None:
        (v,) = validate("echo 'a${b'c", "shell").violations
        assert v.rule == "shell.syntax" and "unclosed" in v.message


class TestBudget:
    def test_runaway_python_code_is_interrupted(self) -> None:
        def forever() -> None:
            while True:
                pass

        with pytest.raises(BudgetExceeded):
            run_with_budget(forever, 0.2)

    def test_result_passes_through(self) -> None:
        assert run_with_budget(lambda: 42, 5.0) == 42

    def test_a_looping_shell_parser_becomes_a_violation(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def stuck(_source: str) -> None:
            while True:
                pass

        monkeypatch.setattr(_shell.bashlex, "parse", stuck)
        monkeypatch.setattr(_shell, "PARSE_BUDGET_S", 0.2)
        (v,) = validate("ls", "shell").violations
        assert v.rule == "shell.syntax" and "gave up" in v.message
