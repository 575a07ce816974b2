"""The attack and benign corpora: every attack is caught by its rule, nothing benign is."""

from __future__ import annotations

import pytest
from validation._validation_corpus import (
    JS_ATTACKS,
    JS_BENIGN,
    PYTHON_ATTACKS,
    PYTHON_BENIGN,
    SHELL_ATTACKS,
    SHELL_BENIGN,
)

from companion_kernel.validation import validate

LANGUAGE_CORPORA = [
    ("python", PYTHON_ATTACKS, PYTHON_BENIGN, 40, 30),
    ("javascript", JS_ATTACKS, JS_BENIGN, 25, 15),
    ("shell", SHELL_ATTACKS, SHELL_BENIGN, 20, 15),
]


def _ids(corpus: list[tuple[str, ...]]) -> list[str]:
    return [entry[0] for entry in corpus]


class TestCorpusSize:
    @pytest.mark.parametrize(
        ("language", "attacks", "benign", "min_attacks", "min_benign"),
        LANGUAGE_CORPORA,
        ids=[c[0] for c in LANGUAGE_CORPORA],
    )
    def test_sizes_and_unique_names(self, language, attacks, benign, min_attacks, min_benign):
        assert len(attacks) >= min_attacks
        assert len(benign) >= min_benign
        names = _ids(attacks) + _ids(benign)
        assert len(names) == len(set(names))


class TestPythonCorpus:
    @pytest.mark.parametrize(("name", "code", "rule"), PYTHON_ATTACKS, ids=_ids(PYTHON_ATTACKS))
    def test_attack_is_rejected_by_its_rule(self, name: str, code: str, rule: str) -> None:
        report = validate(code, "python")
        assert not report.ok
        assert rule in {v.rule for v in report.violations}, report.summary()

    @pytest.mark.parametrize(("name", "code"), PYTHON_BENIGN, ids=_ids(PYTHON_BENIGN))
    def test_benign_is_accepted(self, name: str, code: str) -> None:
        report = validate(code, "python")
        assert report.ok, report.summary()
        assert report.violations == []


class TestJavaScriptCorpus:
    @pytest.mark.parametrize(("name", "code", "rule"), JS_ATTACKS, ids=_ids(JS_ATTACKS))
    def test_attack_is_rejected_by_its_rule(self, name: str, code: str, rule: str) -> None:
        report = validate(code, "javascript")
        assert not report.ok
        assert rule in {v.rule for v in report.violations}, report.summary()

    @pytest.mark.parametrize(("name", "code"), JS_BENIGN, ids=_ids(JS_BENIGN))
    def test_benign_is_accepted(self, name: str, code: str) -> None:
        report = validate(code, "javascript")
        assert report.ok, report.summary()
        assert report.violations == []


class TestShellCorpus:
    @pytest.mark.parametrize(("name", "code", "rule"), SHELL_ATTACKS, ids=_ids(SHELL_ATTACKS))
    def test_attack_is_rejected_by_its_rule(self, name: str, code: str, rule: str) -> None:
        report = validate(code, "shell")
        assert not report.ok
        assert rule in {v.rule for v in report.violations}, report.summary()

    @pytest.mark.parametrize(("name", "code"), SHELL_BENIGN, ids=_ids(SHELL_BENIGN))
    def test_benign_is_accepted(self, name: str, code: str) -> None:
        report = validate(code, "shell")
        assert report.ok, report.summary()
        assert report.violations == []


class TestShortcutsNeverChangeTheVerdict:
    """The lexical pre-scans only skip work: forcing the full check finds the same things."""

    @pytest.mark.parametrize("code", [c[1] for c in PYTHON_ATTACKS + PYTHON_BENIGN])
    def test_python_full_walk_agrees(self, code: str) -> None:
        from companion_kernel.validation import get_policy
        from companion_kernel.validation._python import check

        policy = get_policy("strict")
        assert check(code, policy) == check(code, policy, full=True)

    @pytest.mark.parametrize("code", [c[1] for c in JS_ATTACKS + JS_BENIGN])
    def test_javascript_full_query_agrees(self, code: str) -> None:
        from companion_kernel.validation import get_policy
        from companion_kernel.validation._javascript import check

        policy = get_policy("strict")
        assert check(code, policy) == check(code, policy, full=True)
