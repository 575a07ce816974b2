"""The public surface: exports, languages, policies by name, reports, bad input."""

from __future__ import annotations

import json

import pytest

import companion_kernel.validation as validation
from companion_kernel.errors import InvalidRequest, UnknownLanguage
from companion_kernel.validation import (
    ValidationReport,
    Violation,
    get_policy,
    normalize_language,
    validate,
)


class TestPublicSurface:
    def test_all_is_sorted_and_complete(self) -> None:
        # ruff's order (RUF022): constants first, then alphabetical.
        assert validation.__all__ == sorted(validation.__all__, key=lambda n: (not n.isupper(), n))
        for name in validation.__all__:
            assert hasattr(validation, name), name
        public = {n for n in vars(validation) if not n.startswith("_")}
        modules = {"policy", "report"}
        assert public - modules - {"annotations"} == set(validation.__all__)


class TestLanguages:
    @pytest.mark.parametrize(
        ("alias", "canonical"),
        [
            ("python", "python"),
            ("py", "python"),
            ("IPython", "python"),
            ("javascript", "javascript"),
            ("js", "javascript"),
            ("node", "javascript"),
            ("shell", "shell"),
            ("bash", "shell"),
            ("sh", "shell"),
            (" Bash ", "shell"),
        ],
    )
    def test_aliases(self, alias: str, canonical: str) -> None:
        assert normalize_language(alias) == canonical
        assert validate("", alias).language == canonical

    @pytest.mark.parametrize("language", ["ruby", "", "pythonx"])
    def test_unknown_language_is_a_clear_error(self, language: str) -> None:
        with pytest.raises(UnknownLanguage, match="no validator for language"):
            validate("x", language)


class TestPolicyByName:
    def test_default_is_strict(self) -> None:
        assert validate("1", "python").policy == "strict"

    def test_preset_names(self) -> None:
        assert validate("1", "py", "standard").policy == "standard"
        assert get_policy("off").enabled is False

    def test_unknown_policy_is_invalid_request(self) -> None:
        with pytest.raises(InvalidRequest, match="unknown policy 'lenient'"):
            validate("1", "python", "lenient")

    def test_off_accepts_anything(self) -> None:
        for language in ("python", "javascript", "shell"):
            report = validate("import os; eval(x); rm -rf /", language, "off")
            assert report.ok and report.violations == [] and report.policy == "off"


class TestReport:
    def test_fields_and_positions(self) -> None:
        report = validate("x = 1\ny = eval('2')\n", "python")
        assert not report.ok
        assert report.language == "python"
        (v,) = report.violations
        assert (v.rule, v.line, v.column, v.snippet, v.severity) == (
            "python.builtin",
            2,
            5,
            "eval",
            "error",
        )
        assert "eval" in v.message and "strict" in v.message

    def test_columns_count_characters_not_bytes(self) -> None:
        (v,) = validate("é = 'ü'; eval('1')", "python").violations
        assert v.column == 10
        (v,) = validate("const é = 'ü'; eval('1')", "javascript").violations
        assert v.column == 16

    def test_summary_and_str(self) -> None:
        report = validate("import os\n", "python")
        text = report.summary()
        assert text.startswith("python code rejected by policy 'strict': 1 error(s)")
        assert "1:1: error [python.import]" in text and "import os" in text
        assert str(report) == text
        assert validate("1", "python").summary() == "python code accepted by policy 'strict'"

    def test_json_round_trip(self) -> None:
        report = validate("eval(1)\n!ls", "python")
        data = json.loads(report.model_dump_json())
        assert data["ok"] is False and data["policy"] == "strict"
        assert ValidationReport.model_validate(data) == report

    def test_violations_are_sorted_and_frozen(self) -> None:
        report = validate("eval(1)\nimport os\nexec(2)", "python")
        lines = [v.line for v in report.violations]
        assert lines == sorted(lines)
        with pytest.raises(Exception, match="frozen"):
            report.violations[0].rule = "x"  # type: ignore[misc]

    def test_errors_and_warnings(self) -> None:
        policy = get_policy("strict").model_copy(
            update={"warn_rules": frozenset({"python.builtin"})}
        )
        report = validate("eval(1)\nimport os", "python", policy)
        assert not report.ok
        assert [v.rule for v in report.warnings] == ["python.builtin"]
        assert [v.rule for v in report.errors] == ["python.import"]

    def test_snippets_are_clipped(self) -> None:
        (v,) = validate("eval('" + "x" * 500 + "')", "python").violations
        assert v.snippet == "eval"
        (v,) = validate("import os" + ", math" * 100, "python").violations
        assert len(v.snippet) <= 80 and v.snippet.endswith("…")

    def test_violation_str(self) -> None:
        v = Violation(rule="python.x", message="m", line=3, column=4, snippet="s")
        assert str(v) == "3:4: error [python.x] m\n    s"


class TestNeverRaisesOnCode:
    @pytest.mark.parametrize("language", ["python", "javascript", "shell"])
    @pytest.mark.parametrize(
        "code",
        [
            "",
            "\0",
            "a\0b",
            "'\ud800'",
            "\ufeff\x0c\x1c\x85",
            "(" * 5000,
            "[" * 5000 + "]" * 5000,
            "-" * 50_000 + "1",
            "$(" * 3000,
            "${" * 3000,
            "`" * 1001,
            "x = 1\r\ny = 2\rz = 3",
        ],
        ids=lambda c: repr(c[:12]),
    )
    def test_odd_input_gives_a_report(self, language: str, code: str) -> None:
        report = validate(code, language)
        assert isinstance(report, ValidationReport)
        for v in report.violations:
            assert v.line >= 1 and v.column >= 1

    def test_nul_byte_is_a_positioned_violation(self) -> None:
        (v,) = validate("x = 1\ny = 2\0", "python").violations
        assert v.rule == "python.syntax" and v.line == 2

    def test_syntax_error_has_a_position(self) -> None:
        (v,) = validate("x = 1\ndef f(:\n", "python").violations
        assert (v.rule, v.line, v.column) == ("python.syntax", 2, 7)

    def test_huge_input_is_rejected_without_parsing(self) -> None:
        report = validate("x = 1\n" * 300_000, "python")
        (v,) = report.violations
        assert v.rule == "python.input" and "longer than" in v.message

    def test_bytes_are_decoded(self) -> None:
        assert not validate(b"eval(1)", "python").ok  # type: ignore[arg-type]
