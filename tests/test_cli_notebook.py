"""`companion-kernel run` and `companion-kernel demo`, run as a user would (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat import v4

pytestmark = pytest.mark.kernel

CLI = str(Path(sys.executable).parent / "companion-kernel")


def ck(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def make_notebook(
    path: Path, *sources: str, kernel: str = "python3", language: str = "python"
) -> Path:
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": language}
    nb.cells.append(v4.new_markdown_cell("# a test notebook"))
    nb.cells.extend(v4.new_code_cell(source) for source in sources)
    nbformat.write(nb, path)
    return path


def code_cells(path: Path) -> list[Any]:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def stdout_of(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def leftovers(folder: Path) -> list[str]:
    """Files a run may have left behind besides the ones the test made."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class TestRunScripts:
    @pytest.mark.parametrize(
        ("name", "source", "expected"),
        [
            ("job.py", 'print("hi")\n6 * 7\n', "hi\n42\n"),
            ("job.js", 'console.log("from node")\n', "from node\n"),
            ("job.sh", "echo from bash\n", "from bash\n"),
        ],
    )
    def test_language_from_extension(
        self, tmp_path: Path, name: str, source: str, expected: str
    ) -> None:
        script = tmp_path / name
        script.write_text(source)
        done = ck("run", script, "--isolation", "off")
        assert done.returncode == 0, done.stderr
        assert done.stdout == expected

    def test_json_is_the_execution_result(self, tmp_path: Path) -> None:
        script = tmp_path / "job.py"
        script.write_text("print('hi')\n1 / 0\n")
        done = ck("run", script, "--json", "--isolation", "off")
        assert done.returncode == 1
        result = json.loads(done.stdout)
        assert result["status"] == "error"
        assert result["stdout"] == "hi\n"
        assert result["error"]["ename"] == "ZeroDivisionError"

    def test_rejection_sets_the_exit_status(self, tmp_path: Path) -> None:
        rejected = tmp_path / "bad.py"
        rejected.write_text("import subprocess\nsubprocess.run(['id'])\n")
        done = ck("run", rejected, "--isolation", "off")
        assert done.returncode == 3
        assert "rejected" in done.stderr and "subprocess" in done.stderr

    def test_unknown_extension_needs_lang(self, tmp_path: Path) -> None:
        script = tmp_path / "notes.txt"
        script.write_text("print(1 + 1)\n")
        done = ck("run", script)
        assert done.returncode == 2
        assert "cannot tell the language" in done.stderr and "--lang" in done.stderr
        done = ck("run", script, "--lang", "py", "--isolation", "off")
        assert done.returncode == 0 and done.stdout == "2\n"

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["missing.py"], "no such file"),
            (["job.py", "--output", "out.ipynb"], "--output applies to notebooks"),
            (["job.py", "--timeout", "0"], "--timeout must be a positive number"),
            (["job.py", "--lang", "cobol"], "unknown language 'cobol'"),
        ],
    )
    def test_bad_arguments(self, tmp_path: Path, args: list[str], message: str) -> None:
        (tmp_path / "job.py").write_text("print(1)\n")
        done = subprocess.run(
            [CLI, "run", *args], capture_output=True, text=True, cwd=tmp_path, timeout=60
        )
        assert done.returncode == 2
        assert message in done.stderr
        assert "Traceback" not in done.stderr


class TestRunNotebooks:
    def test_outputs_written_back_in_place(self, tmp_path: Path) -> None:
        path = make_notebook(tmp_path / "nb.ipynb", "x = 21", "print(x * 2)", "", "x * 2")
        done = ck("run", path, "--isolation", "off")
        assert done.returncode == 0, done.stderr
        assert "ran 3 of 3 code cells" in done.stdout
        first, second, empty, last = code_cells(path)
        assert first.outputs == [] and first.execution_count == 1
        assert stdout_of(second) == "42\n" and second.execution_count == 2
        assert empty.execution_count is None
        assert last.outputs[0].output_type == "execute_result"
        assert last.outputs[0].data["text/plain"] == "42"
        assert leftovers(tmp_path) == []

    def test_output_option_leaves_the_input_alone(self, tmp_path: Path) -> None:
        path = make_notebook(tmp_path / "nb.ipynb", "print('written elsewhere')")
        before = path.read_bytes()
        out = tmp_path / "done.ipynb"
        done = ck("run", path, "--output", out, "--isolation", "off")
        assert done.returncode == 0, done.stderr
        assert path.read_bytes() == before
        assert stdout_of(code_cells(out)[0]) == "written elsewhere\n"

    def test_stops_at_the_first_failure(self, tmp_path: Path) -> None:
        path = make_notebook(tmp_path / "nb.ipynb", "a = 1", "1 / 0", "print('after')")
        done = ck("run", path, "--isolation", "off")
        assert done.returncode == 1
        assert "ZeroDivisionError" in done.stderr
        assert "1 not run" in done.stdout
        _, failed, skipped = code_cells(path)
        assert failed.outputs[-1].output_type == "error"
        assert failed.outputs[-1].ename == "ZeroDivisionError"
        assert skipped.outputs == [] and skipped.execution_count is None

    def test_allow_errors_runs_everything(self, tmp_path: Path) -> None:
        path = make_notebook(tmp_path / "nb.ipynb", "1 / 0", "print('after')")
        done = ck("run", path, "--allow-errors", "--json", "--isolation", "off")
        assert done.returncode == 1
        report = json.loads(done.stdout)
        assert [c["status"] for c in report["cells"]] == ["error", "ok"]
        assert report["ok"] is False and report["cells_run"] == 2
        assert stdout_of(code_cells(path)[1]) == "after\n"

    def test_rejected_cell_says_why_in_the_notebook(self, tmp_path: Path) -> None:
        path = make_notebook(tmp_path / "nb.ipynb", "import subprocess")
        done = ck("run", path, "--isolation", "off")
        assert done.returncode == 3
        [error] = code_cells(path)[0].outputs
        assert error.output_type == "error" and error.ename == "Rejected"
        assert any("subprocess" in line for line in error.traceback)

    def test_javascript_and_shell_notebooks(self, tmp_path: Path) -> None:
        js = make_notebook(
            tmp_path / "js.ipynb", "const n = 6", "console.log(n * 7)", kernel="javascript"
        )
        # Arithmetic only on variables the same cell sets to integer literals (a value from
        # an earlier cell could hold `a[$(cmd)]`); plain expansion carries state across cells.
        sh = make_notebook(tmp_path / "sh.ipynb", "X=5", 'echo "${X}0 $((2 * 5))"', kernel="bash")
        for path, expected in ((js, "42\n"), (sh, "50 10\n")):
            done = ck("run", path, "--isolation", "off")
            assert done.returncode == 0, done.stderr
            assert stdout_of(code_cells(path)[1]) == expected


class TestOrdinaryNotebooks:
    """Notebooks written for plain Jupyter run under the default policy, in the sandbox."""

    CELLS = (
        "import sys\n%matplotlib inline\n%load_ext autoreload\n%autoreload 2",
        "%config InlineBackend.figure_format = 'png'",
        "%%capture captured\nprint('hidden')",
        "%time rows = open('data.csv').read().splitlines()",
        "print(len(rows), captured.stdout.strip(), sys.version_info.major)",
    )

    @pytest.fixture(autouse=True)
    def _open_folder(self, tmp_path: Path) -> None:
        os.chmod(tmp_path, 0o777)  # a root engine's kernel runs as an unprivileged uid

    def test_magics_and_the_notebook_folder(self, tmp_path: Path) -> None:
        (tmp_path / "data.csv").write_text("a,b\n1,2\n3,4\n")
        path = make_notebook(tmp_path / "plain.ipynb", *self.CELLS)
        done = ck("run", path, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert stdout_of(code_cells(path)[-1]) == "3 hidden 3\n"
        assert json.loads(done.stdout)["cells_run"] == len(self.CELLS)

    def test_folder_is_read_only_unless_writable(self, tmp_path: Path) -> None:
        path = make_notebook(
            tmp_path / "w.ipynb", "open('made.txt', 'w').write('x')", "print('wrote')"
        )
        done = ck("run", path)
        assert done.returncode == 1
        assert "Read-only file system" in done.stderr
        assert not (tmp_path / "made.txt").exists()
        done = ck("run", path, "--writable")
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "made.txt").read_text() == "x"

    def test_shell_escapes_stay_rejected(self, tmp_path: Path) -> None:
        path = make_notebook(tmp_path / "bang.ipynb", "!ls", "%%bash\nls")
        done = ck("run", path, "--allow-errors", "--json")
        assert done.returncode == 3
        assert [c["status"] for c in json.loads(done.stdout)["cells"]] == ["rejected"] * 2

    def test_policy_file(self, tmp_path: Path) -> None:
        (tmp_path / "team.toml").write_text(
            'base = "standard"\n[python]\nblock_modules = ["json"]\n'
        )
        path = make_notebook(tmp_path / "p.ipynb", "import json")
        done = ck("run", path, "--policy", tmp_path / "team.toml")
        assert done.returncode == 3
        assert "json" in done.stderr

    def test_bad_policy_answers_in_json(self, tmp_path: Path) -> None:
        path = make_notebook(tmp_path / "p.ipynb", "1")
        done = ck("run", path, "--json", "--policy", tmp_path / "absent.toml")
        assert done.returncode == 2
        answer = json.loads(done.stdout)
        assert answer["kind"] == "invalid_request"
        assert "absent.toml" in answer["error"]["evalue"]
        done = ck("run", path, "--policy", "bogus")
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "unknown policy 'bogus'" in done.stderr


class TestBadNotebooks:
    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("{not json", "malformed JSON at line 1 column 2"),
            ("[]", "no top-level 'nbformat'"),
            ('{"nbformat": 4, "nbformat_minor": 5, "cells": 3}', "'cells' is not a list"),
            (
                '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"x": 1}]}',
                "not a valid notebook",
            ),
        ],
    )
    def test_malformed_notebook_is_refused(
        self, tmp_path: Path, content: str, message: str
    ) -> None:
        path = tmp_path / "broken.ipynb"
        path.write_text(content)
        done = ck("run", path)
        assert done.returncode == 2
        assert message in done.stderr and "Traceback" not in done.stderr
        assert path.read_text() == content
        assert leftovers(tmp_path) == []

    def test_unknown_kernel_is_refused(self, tmp_path: Path) -> None:
        path = make_notebook(tmp_path / "r.ipynb", "print(1)", kernel="ir", language="R")
        before = path.read_bytes()
        done = ck("run", path, "--output", tmp_path / "out.ipynb")
        assert done.returncode == 2
        assert "cannot run kernel 'ir' (language 'R')" in done.stderr
        assert path.read_bytes() == before
        assert not (tmp_path / "out.ipynb").exists()

    def test_missing_kernel_metadata_needs_lang(self, tmp_path: Path) -> None:
        nb = v4.new_notebook()
        nb.cells.append(v4.new_code_cell("print('guessed')"))
        path = tmp_path / "bare.ipynb"
        nbformat.write(nb, path)
        done = ck("run", path)
        assert done.returncode == 2 and "names no kernel" in done.stderr
        done = ck("run", path, "--lang", "python", "--isolation", "off")
        assert done.returncode == 0, done.stderr
        assert stdout_of(code_cells(path)[0]) == "guessed\n"

    def test_missing_output_folder_is_refused_before_running(self, tmp_path: Path) -> None:
        path = make_notebook(tmp_path / "nb.ipynb", "print(1)")
        done = ck("run", path, "--output", tmp_path / "nowhere" / "out.ipynb")
        assert done.returncode == 2 and "does not exist" in done.stderr

    def test_failed_write_leaves_no_partial_file(self, tmp_path: Path) -> None:
        path = make_notebook(tmp_path / "nb.ipynb", "print(1)")
        before = path.read_bytes()
        target = tmp_path / "taken"
        target.mkdir()
        done = ck("run", path, "--output", target, "--isolation", "off")
        assert done.returncode == 2, done.stdout
        assert "Traceback" not in done.stderr
        assert path.read_bytes() == before
        assert list(target.iterdir()) == []
        assert leftovers(tmp_path) == []


class TestDemo:
    def test_demo_json(self) -> None:
        done = ck("demo", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        steps = {s["step"]: s for s in report["steps"]}
        assert report["ok"] is True
        assert steps["tool workflow"]["detail"] == "Average: 22.00°C, Min: 18.3°C, Max: 25.7°C"
        assert steps["rejected attack"]["status"] == "rejected"
        assert steps["Python cell"]["detail"] == "mean 22.00, stdev 2.88"
        for name in ("JavaScript cell", "shell cell"):
            assert steps[name]["status"] in ("ok", "skipped")

    def test_demo_table_without_node(self, tmp_path: Path) -> None:
        # A PATH with bash and the tools the shell cell uses, but no `node`.
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        for tool in ("bash", "sort", "tr"):
            for folder in ("/usr/bin", "/bin"):
                if Path(folder, tool).exists():
                    (bin_dir / tool).symlink_to(Path(folder, tool))
                    break
        done = ck("demo", "--isolation", "off", env={"PATH": str(bin_dir), "COLUMNS": "200"})
        assert done.returncode == 0, done.stdout + done.stderr
        assert "companion-kernel demo" in done.stdout
        assert "Node.js is not installed" in done.stdout
        assert "all good" in done.stdout


@pytest.mark.parametrize("command", ["run", "demo"])
def test_help_has_examples(command: str) -> None:
    done = ck(command, "--help")
    assert done.returncode == 0
    assert "examples:" in done.stdout and f"companion-kernel {command}" in done.stdout
