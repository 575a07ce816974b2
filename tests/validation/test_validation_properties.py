"""Property tests: random and mutated source always yields a report, never an exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from validation._validation_corpus import (
    JS_ATTACKS,
    JS_BENIGN,
    PYTHON_ATTACKS,
    PYTHON_BENIGN,
    SHELL_ATTACKS,
    SHELL_BENIGN,
)

from companion_kernel.validation import ValidationReport, validate

SAMPLES = {
    "python": [c[1] for c in PYTHON_ATTACKS + PYTHON_BENIGN],
    "javascript": [c[1] for c in JS_ATTACKS + JS_BENIGN],
    "shell": [c[1] for c in SHELL_ATTACKS + SHELL_BENIGN],
}
# Characters that matter to the three grammars, so mutations hit interesting states.
SPECIAL = [*"()[]{}'\"`\\$!%?#;&|<>=.,:@*\n\t \0", "\u00e9", "\ud7ff", "ｅ", "\u2028"]
PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(code: str, language: str) -> None:
    report = validate(code, language)
    assert isinstance(report, ValidationReport)
    assert report.ok == (not any(v.severity == "error" for v in report.violations))
    for v in report.violations:
        assert v.line >= 1 and v.column >= 1
        assert v.rule.split(".")[0] in ("python", "js", "shell")


@st.composite
def mutated(draw: st.DrawFn, language: str) -> str:
    text = draw(st.sampled_from(SAMPLES[language]))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        piece = draw(st.one_of(st.sampled_from(SPECIAL), st.text(max_size=4)))
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 5)) :]
        elif action == "replace":
            text = text[:position] + piece + text[position + len(piece) :]
        else:
            text = text[:position] + text[position:] * 2
    return text


class TestNeverRaises:
    @PROFILE
    @given(code=st.text(max_size=200))
    def test_random_python(self, code: str) -> None:
        _check(code, "python")

    @PROFILE
    @given(code=st.text(max_size=200))
    def test_random_javascript(self, code: str) -> None:
        _check(code, "javascript")

    @PROFILE
    @given(code=st.text(max_size=200))
    def test_random_shell(self, code: str) -> None:
        _check(code, "shell")

    @PROFILE
    @given(
        code=st.text(alphabet=st.sampled_from(SPECIAL + list("abcdeiflmnoprstx_01")), max_size=300)
    )
    def test_grammar_heavy_text(self, code: str) -> None:
        for language in ("python", "javascript", "shell"):
            _check(code, language)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(code=mutated("python"))
    def test_mutated_python(self, code: str) -> None:
        _check(code, "python")

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(code=mutated("javascript"))
    def test_mutated_javascript(self, code: str) -> None:
        _check(code, "javascript")

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(code=mutated("shell"))
    def test_mutated_shell(self, code: str) -> None:
        _check(code, "shell")


class TestStrictness:
    @PROFILE
    @given(prefix=st.sampled_from(SAMPLES["python"]), attack=st.sampled_from(PYTHON_ATTACKS))
    def test_an_attack_appended_to_any_cell_rejects_it(self, prefix: str, attack) -> None:
        # Rejected either by the attack's rule or, if the join breaks the syntax, as a whole.
        assert not validate(prefix + "\n" + attack[1], "python").ok

    @PROFILE
    @given(prefix=st.sampled_from(SAMPLES["javascript"]), attack=st.sampled_from(JS_ATTACKS))
    def test_an_attack_appended_to_any_script_rejects_it(self, prefix: str, attack) -> None:
        assert not validate(prefix + "\n;" + attack[1], "javascript").ok
