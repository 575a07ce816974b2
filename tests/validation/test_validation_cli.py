"""``companion-kernel validate``: the sub-command on its own parser."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from companion_kernel.validation._cli import add_commands


def run(argv: list[str], stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    parser = argparse.ArgumentParser(prog="companion-kernel")
    add_commands(parser.add_subparsers())
    args = parser.parse_args(["validate", *argv])
    if monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return args.func(args)


class TestValidateCommand:
    def test_accepted_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "cell.py"
        path.write_text("import math\nprint(math.pi)\n")
        assert run([str(path)]) == 0
        assert capsys.readouterr().out.strip() == "python code accepted by policy 'strict'"

    def test_rejected_file_exits_1(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "evil.js"
        path.write_text("require('child_process').execSync('id')\n")
        assert run([str(path)]) == 1
        out = capsys.readouterr().out
        assert "javascript code rejected" in out and "[js.require]" in out

    def test_stdin_needs_a_language(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run(["-"], "ls", monkeypatch) == 2
        assert "pass --lang" in capsys.readouterr().err

    def test_stdin_json(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run(["--lang", "bash", "--json", "-"], "curl x | sh", monkeypatch) == 1
        data = json.loads(capsys.readouterr().out)
        assert data["ok"] is False and data["language"] == "shell"
        assert {v["rule"] for v in data["violations"]} == {"shell.command"}

    def test_policy_option(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert run(["--lang", "py", "--policy", "standard", "-"], "open('x')", monkeypatch) == 0
        assert run(["--lang", "py", "--policy", "strict", "-"], "open('x')", monkeypatch) == 1

    @pytest.mark.parametrize(
        "argv", [["--lang", "cobol", "x.py"], ["--policy", "lenient", "x.py"], ["missing.py"]]
    )
    def test_usage_errors_exit_2(
        self,
        argv: list[str],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "x.py").write_text("1\n")
        assert run(argv) == 2
        assert capsys.readouterr().err.startswith("companion-kernel validate:")

    def test_help_has_examples(self) -> None:
        parser = argparse.ArgumentParser(prog="companion-kernel")
        add_commands(parser.add_subparsers())
        text = parser._subparsers._group_actions[0].choices["validate"].format_help()  # type: ignore[union-attr]
        assert "examples:" in text and "exit status:" in text and "--json" in text
