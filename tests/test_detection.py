"""Language detection: labelled-corpus accuracy, decisive signals, defaults, robustness."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from companion_kernel.detection import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Detection,
    detect_language,
)
from companion_kernel.errors import UnknownLanguage

CORPUS = Path(__file__).parent / "detection_corpus"
SEPARATOR = "\n-----8<-----\n"


def _corpus(language: str) -> list[str]:
    text = (CORPUS / f"{language}.txt").read_text()
    return [s for s in text.strip("\n").split(SEPARATOR) if s.strip()]


CORPUS_BY_LANGUAGE = {language: _corpus(language) for language in LANGUAGES}


def _misses(language: str) -> list[tuple[str, Detection]]:
    found = [(s, detect_language(s)) for s in CORPUS_BY_LANGUAGE[language]]
    return [(s, d) for s, d in found if d.language != language]


def _describe(misses: list[tuple[str, Detection]]) -> str:
    return "\n".join(f"{d.language} ({d.reason}): {s[:60]!r}" for s, d in misses)


class TestCorpus:
    @pytest.mark.parametrize("language", LANGUAGES)
    def test_corpus_is_large_and_mixed(self, language: str) -> None:
        snippets = CORPUS_BY_LANGUAGE[language]
        assert len(snippets) >= 60
        assert sum(1 for s in snippets if "\n" not in s) >= 20  # short, often ambiguous
        assert sum(1 for s in snippets if s.count("\n") >= 29) >= 2  # long programs

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_per_language_accuracy(self, language: str) -> None:
        misses = _misses(language)
        accuracy = 1 - len(misses) / len(CORPUS_BY_LANGUAGE[language])
        assert accuracy >= 0.93, _describe(misses)

    def test_overall_accuracy(self) -> None:
        misses = [m for language in LANGUAGES for m in _misses(language)]
        total = sum(len(s) for s in CORPUS_BY_LANGUAGE.values())
        assert 1 - len(misses) / total >= 0.95, _describe(misses)


class TestShortSnippets:
    @pytest.mark.parametrize(
        ("code", "language"),
        [
            ("print(1)", "python"),
            ("x = 1", "python"),
            ('print(f"{name}!")', "python"),
            ('print("ls -la | grep x")', "python"),
            ("ls -la", "shell"),
            ("echo $HOME", "shell"),
            ('echo "print(1)"', "shell"),
            ("cd /tmp && ls", "shell"),
            ("FOO=bar", "shell"),
            ("console.log(1)", "javascript"),
            ("let x = 1", "javascript"),
            ("`${a} and ${b}`", "javascript"),
            ("const f = x => x * 2;", "javascript"),
        ],
    )
    def test_expected_language(self, code: str, language: str) -> None:
        assert detect_language(code).language == language

    def test_reason_names_the_signal(self) -> None:
        detection = detect_language("console.log(1)")
        assert not detection.ambiguous
        assert "console.log" in detection.reason

    def test_more_evidence_gives_more_confidence(self) -> None:
        long_program = max(CORPUS_BY_LANGUAGE["python"], key=len)
        assert detect_language(long_program).confidence > detect_language("x = 1").confidence


class TestDecisive:
    @pytest.mark.parametrize(
        ("shebang", "language"),
        [
            ("#!/bin/bash", "shell"),
            ("#!/bin/sh", "shell"),
            ("#!/usr/bin/env bash", "shell"),
            ("#!/usr/bin/env zsh", "shell"),
            ("#!/usr/bin/env node", "javascript"),
            ("#!/usr/bin/env -S node --no-warnings", "javascript"),
            ("#!/usr/bin/env python3", "python"),
            ("#!/usr/bin/python3.11 -u", "python"),
        ],
    )
    def test_shebang_wins_over_the_body(self, shebang: str, language: str) -> None:
        # The body looks like another language on purpose.
        body = "print(1)" if language != "python" else "console.log(1);"
        detection = detect_language(f"{shebang}\n{body}\n")
        assert detection.language == language
        assert detection.confidence == 1.0
        assert not detection.ambiguous
        assert "shebang" in detection.reason

    @pytest.mark.parametrize(
        ("magic", "language"),
        [
            ("%%bash", "shell"),
            ("%%sh", "shell"),
            ("%%script bash", "shell"),
            ("%%javascript", "javascript"),
            ("%%js", "javascript"),
            ("%%script node", "javascript"),
            ("%%python3", "python"),
            ("%%time", "python"),  # only IPython understands other cell magics
        ],
    )
    def test_cell_magic(self, magic: str, language: str) -> None:
        body = "ls -la" if language != "shell" else "print(1)"
        detection = detect_language(f"\n  \n{magic}\n{body}")
        assert detection.language == language
        assert detection.confidence == 1.0
        assert "cell magic" in detection.reason

    def test_unknown_interpreter_falls_back_to_scoring(self) -> None:
        detection = detect_language("#!/usr/bin/env ruby\nls -la\n")
        assert detection.language == "shell"
        assert detection.confidence < 1.0


class TestDefault:
    @pytest.mark.parametrize("code", ["", " ", "\n\n\t  \n"])
    def test_empty_input(self, code: str) -> None:
        detection = detect_language(code)
        assert detection.language == DEFAULT_LANGUAGE == "python"
        assert detection.confidence == 0.0
        assert detection.ambiguous

    @pytest.mark.parametrize("code", ["2 + 2", "foo", "x"])
    def test_no_signal_uses_the_given_default(self, code: str) -> None:
        assert detect_language(code).language == "python"
        detection = detect_language(code, default="javascript")
        assert detection.language == "javascript"
        assert detection.ambiguous
        assert "default javascript" in detection.reason

    def test_empty_with_other_default(self) -> None:
        assert detect_language("", default="shell").language == "shell"

    def test_unknown_default_is_rejected(self) -> None:
        with pytest.raises(UnknownLanguage):
            detect_language("print(1)", default="ruby")  # type: ignore[arg-type]


class TestRobustness:
    def test_detection_is_frozen(self) -> None:
        detection = detect_language("print(1)")
        with pytest.raises(ValidationError):
            detection.language = "shell"  # type: ignore[misc]

    def test_crlf_line_endings(self) -> None:
        code = "def f(x):\r\n    return x\r\n\r\nprint(f(1))\r\n"
        assert detect_language(code).language == "python"

    def test_input_beyond_the_scanned_prefix(self) -> None:
        minified = "var a=1;function f(b){return b===a}" * 2000  # one 70 kB line
        assert detect_language(minified).language == "javascript"
        assert detect_language("import os\n" + "x = 1\n" * 50_000).language == "python"

    @settings(max_examples=300, deadline=None)
    @given(st.text())
    def test_any_text_gives_a_detection(self, code: str) -> None:
        _check(detect_language(code))

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet="\n\t {}()[];:=$#!%`'\"\\/.,-+*<>|&?@_fFrxlsie0123456789"))
    def test_code_like_text_gives_a_detection(self, code: str) -> None:
        _check(detect_language(code))


def _check(detection: Detection) -> None:
    assert detection.language in LANGUAGES
    assert 0.0 <= detection.confidence <= 1.0
    assert set(detection.scores) == set(LANGUAGES)
    assert all(v >= 0 for v in detection.scores.values())
    assert detection.reason
