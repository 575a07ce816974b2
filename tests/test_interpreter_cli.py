"""`companion-kernel exec --json` answers bad input in JSON, before any kernel starts."""

from __future__ import annotations

import json

import pytest

from companion_kernel.cli import main


@pytest.mark.parametrize(
    ("argv", "ename", "fragment"),
    [
        (["--lang", "cobol", "1"], "UnknownLanguage", "unknown language 'cobol'"),
        ([""], "InvalidRequest", "code is empty"),
        (["--timeout", "0", "1"], "InvalidRequest", "timeout must be > 0"),
        (["--policy", "bogus", "--lang", "py", "1"], "InvalidRequest", "unknown policy"),
        (["--policy", "missing.toml", "1"], "InvalidRequest", "policy file missing.toml"),
        (["--file", "a=/nonexistent/x", "1"], "FileNotFoundError", "No such file"),
        (["--file", "../x=/etc/hostname", "1"], "CompanionKernelError", "not a relative path"),
    ],
)
def test_bad_input_is_answered_in_json(
    argv: list[str], ename: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["exec", "--json", *argv]) == 2
    out = capsys.readouterr()
    answer = json.loads(out.out)
    assert answer["kind"] == "invalid_request"
    assert answer["error"]["ename"] == ename
    assert fragment in answer["error"]["evalue"]
    assert out.err == ""


def test_without_json_bad_input_stays_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exec", "--timeout", "0", "1"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert "timeout must be > 0" in out.err


def test_bad_policy_without_json_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exec", "--policy", "bogus", "1"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("companion-kernel: error: unknown policy 'bogus'")
    assert "Traceback" not in out.err
