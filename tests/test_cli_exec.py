"""`companion-kernel exec` with files in and out, and policy files, run as a user would."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

CLI = str(Path(sys.executable).parent / "companion-kernel")

WRITE_REPORT = (
    "import os\n"
    "os.makedirs('out', exist_ok=True)\n"
    "rows = open('data.csv').read().splitlines()\n"
    "open('out/count.txt', 'w').write(str(len(rows)))\n"
    "open('out/copy.txt', 'w').write(open('in/notes.txt').read().upper())\n"
    "open('skipped.txt', 'w').write('not collected')\n"
    "print('done')\n"
)


def ck(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "notes.txt").write_text("hello")
    return tmp_path


class TestFiles:
    def test_files_in_and_collected_into_the_current_directory(self, inputs: Path) -> None:
        done = ck(
            "exec", "--lang", "python", "--file", "data.csv", "--file", "in/notes.txt=notes.txt",
            "--collect", "out/*", WRITE_REPORT, cwd=inputs,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout == "done\n"
        assert (inputs / "out" / "count.txt").read_text() == "3"
        assert (inputs / "out" / "copy.txt").read_text() == "HELLO"
        assert not (inputs / "skipped.txt").exists()
        assert "collected out/count.txt (1 bytes) -> out/count.txt" in done.stderr

    def test_out_dir(self, inputs: Path) -> None:
        done = ck(
            "exec", "--file", "data.csv", "--file", "in/notes.txt=notes.txt",
            "--collect", "out/count.txt", "--out-dir", "results", WRITE_REPORT, cwd=inputs,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert (inputs / "results" / "out" / "count.txt").read_text() == "3"
        assert not (inputs / "out").exists()

    def test_json_carries_the_files_in_base64(self, inputs: Path) -> None:
        done = ck(
            "exec", "--json", "--file", "data.csv", "--file", "in/notes.txt=notes.txt",
            "--collect", "out/*", WRITE_REPORT, cwd=inputs,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        files = json.loads(done.stdout)["files"]
        assert sorted(files) == ["out/copy.txt", "out/count.txt"]
        assert base64.b64decode(files["out/count.txt"]) == b"3"
        assert not (inputs / "out").exists()  # written to disk only with --out-dir

    def test_nothing_matching_is_said(self, inputs: Path) -> None:
        done = ck("exec", "--collect", "*.png", "print(1)", cwd=inputs)
        assert done.returncode == 0, done.stderr
        assert "collected nothing matching *.png" in done.stderr


class TestPolicyFiles:
    def test_a_derived_policy_allows_and_blocks(self, tmp_path: Path) -> None:
        (tmp_path / "team.toml").write_text(
            'base = "strict"\n[python]\nallow_modules = ["os"]\nblock_modules = ["json"]\n'
        )
        allowed = ck("exec", "--policy", "team.toml", "import os; print(os.sep)", cwd=tmp_path)
        blocked = ck("exec", "--policy", "team.toml", "import json", cwd=tmp_path)
        assert allowed.returncode == 0 and allowed.stdout == "/\n", allowed.stderr
        assert blocked.returncode == 3 and "python.import" in blocked.stderr

    def test_a_broken_file_is_one_clear_line(self, tmp_path: Path) -> None:
        (tmp_path / "bad.toml").write_text('base = "standard"\n[python]\nallow_modules = 3\n')
        done = ck("exec", "--policy", "bad.toml", "1", cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr.strip() == (
            "companion-kernel: error: policy file bad.toml: [python] allow_modules must be a "
            "list of strings"
        )

    def test_validate_reads_policy_files_and_dumps_them(self, tmp_path: Path) -> None:
        dump = ck("validate", "--dump-policy", "standard", cwd=tmp_path)
        assert dump.returncode == 0
        (tmp_path / "full.toml").write_text(dump.stdout)
        (tmp_path / "cell.py").write_text("import pandas\n%matplotlib inline\n")
        done = ck("validate", "--policy", "full.toml", "cell.py", cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "accepted by policy 'standard'" in done.stdout
        missing = ck("validate", "--json", "--policy", "gone.toml", "cell.py", cwd=tmp_path)
        assert missing.returncode == 2
        assert json.loads(missing.stdout)["kind"] == "invalid_request"


def test_readme_shell_line_runs_under_the_default_policy(tmp_path: Path) -> None:
    done = ck(
        "exec", "--lang", "shell", 'cd /tmp && GREETING=hi && echo "$GREETING from $(pwd)"',
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hi from /tmp\n"


def test_syntax_error_is_an_error_exit(tmp_path: Path) -> None:
    done = ck("exec", "--lang", "python", "x = (", cwd=tmp_path)
    assert done.returncode == 1
    assert "SyntaxError: '(' was never closed (line 1, column 5)" in done.stderr
