"""`companion-kernel tools ...` through the argparse wiring the main CLI uses."""

from __future__ import annotations

import argparse
import json

import pytest

from companion_kernel.tools._cli import add_commands


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="companion-kernel")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


class TestList:
    def test_text(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(["tools", "list"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 23
        assert lines[0].split()[:2] == ["add", "math"]

    def test_json_and_category(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(["tools", "list", "--json", "--category", "data"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert [t["name"] for t in listed] == ["parse_json", "to_json"]
        assert listed[0]["input_schema"]["required"] == ["text"]

    def test_search(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(["tools", "list", "--search", "average"]) == 0
        assert capsys.readouterr().out.split()[0] == "list_average"

    def test_nothing_found(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(["tools", "list", "--category", "nope"]) == 0
        assert "no matching tools" in capsys.readouterr().err


class TestCall:
    def test_value(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(["tools", "call", "add", "--args", '{"a": 10, "b": 5}']) == 0
        assert capsys.readouterr().out == "15\n"

    def test_string_value_printed_raw(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(["tools", "call", "uppercase", "--args", '{"text": "hi"}']) == 0
        assert capsys.readouterr().out == "HI\n"

    def test_json_envelope(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(["tools", "call", "sqrt", "--args", '{"x": 144}', "--json"]) == 0
        envelope = json.loads(capsys.readouterr().out)
        assert envelope["ok"] is True and envelope["value"] == 12.0

    def test_error_exit_status(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(["tools", "call", "divide", "--args", '{"a": 1, "b": 0}']) == 1
        assert "error: ToolExecutionError: tool 'divide' failed" in capsys.readouterr().err
        assert run(["tools", "call", "nope", "--json"]) == 1
        assert json.loads(capsys.readouterr().out)["error"]["type"] == "ToolNotFound"

    def test_no_arguments(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(["tools", "call", "current_timestamp"]) == 0
        assert float(capsys.readouterr().out) > 0


class TestSchema:
    @pytest.mark.parametrize(
        ("fmt", "key"),
        [
            ("openai", "function"),
            ("openai-responses", "parameters"),
            ("anthropic", "input_schema"),
            ("mcp", "inputSchema"),
        ],
    )
    def test_formats(self, capsys: pytest.CaptureFixture[str], fmt: str, key: str) -> None:
        assert run(["tools", "schema", "--format", fmt]) == 0
        definitions = json.loads(capsys.readouterr().out)
        assert len(definitions) == 23 and all(key in d for d in definitions)

    def test_strict_and_names(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(["tools", "schema", "add", "to_json", "--strict"]) == 0
        first, second = json.loads(capsys.readouterr().out)
        assert first["function"]["strict"] is True
        assert second["function"]["strict"] is False

    def test_unknown_name(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run(["tools", "schema", "nope"]) == 1
        assert "no tool named 'nope'" in capsys.readouterr().err

    def test_help_has_examples(self, capsys: pytest.CaptureFixture[str]) -> None:
        for argv in (["tools", "--help"], ["tools", "call", "--help"], ["tools", "schema", "-h"]):
            with pytest.raises(SystemExit) as info:
                run(argv)
            assert info.value.code == 0
            assert "examples:" in capsys.readouterr().out
