"""The IPython magics, driven through a real notebook kernel over the Jupyter protocol."""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_client.manager import KernelManager

pytestmark = pytest.mark.kernel

# The notebook kernel is our installed `companion-python` spec (`make setup` installs it).
KERNEL_NAME = "companion-python"


@dataclass
class Cell:
    """What one executed notebook cell produced."""

    status: str
    outputs: list[dict[str, Any]] = field(default_factory=list)

    def stream(self, name: str) -> str:
        return "".join(o["text"] for o in self.outputs if o.get("name") == name)

    @property
    def stdout(self) -> str:
        return self.stream("stdout")

    @property
    def stderr(self) -> str:
        return self.stream("stderr")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs if o["output_type"] == "error"]

    @property
    def result(self) -> str | None:
        found = [o for o in self.outputs if o["output_type"] == "execute_result"]
        return found[-1]["data"].get("text/plain") if found else None

    def displays(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs if o["output_type"] == "display_data"]


class Notebook:
    """A live notebook kernel: run cells, see their outputs as a frontend would."""

    def __init__(self) -> None:
        # The notebook's engine keeps its runtime directory under TMPDIR, so its processes
        # can be told apart by path. Short, because ipc socket paths must fit 107 bytes
        # (the engine would otherwise move to /tmp and the processes could not be found).
        self.runtime = Path(tempfile.mkdtemp(prefix="ckm-", dir="/tmp"))
        env = {**os.environ, "TMPDIR": str(self.runtime)}
        self.km = KernelManager(kernel_name=KERNEL_NAME)
        self.km.start_kernel(env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 90) -> Cell:
        return self.collect(self.kc.execute(code), timeout)

    def collect(self, msg_id: str, timeout: float = 90) -> Cell:
        """The outputs and reply status of execution `msg_id` (read to its end)."""
        outputs: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the notebook kernel did not finish {msg_id}")
            try:
                msg = self.kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append({"output_type": kind, **msg["content"]})
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                break
        while True:
            reply = self.kc.get_shell_msg(timeout=max(deadline - time.monotonic(), 1))
            if reply["parent_header"].get("msg_id") == msg_id:
                return Cell(reply["content"]["status"], outputs)

    def companion_processes(self) -> list[psutil.Process]:
        """Live processes launched from this notebook's engine (their paths name its runtime)."""
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                mine = str(self.runtime) in " ".join(proc.info["cmdline"] or [])
                if mine and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel()

    def cleanup(self) -> None:
        shutil.rmtree(self.runtime, ignore_errors=True)


def _wait_gone(notebook: Notebook, timeout: float = 15.0) -> list[psutil.Process]:
    """Companion processes still alive after `timeout` (killed, so a failure leaks nothing)."""
    deadline = time.monotonic() + timeout
    while (left := notebook.companion_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for proc in left:
        proc.kill()
    return left


def _wait_for_stream(notebook: Notebook, msg_id: str, text: str) -> str:
    """Stream text of execution `msg_id` up to the moment `text` appeared."""
    seen = ""
    deadline = time.monotonic() + 60
    while text not in seen:
        assert time.monotonic() < deadline, f"{text!r} never arrived (got {seen!r})"
        try:
            msg = notebook.kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
            seen += msg["content"]["text"]
    return seen


@pytest.fixture(scope="module")
def nb() -> Iterator[Notebook]:
    notebook = Notebook()
    try:
        assert notebook.run("%load_ext companion_kernel").status == "ok"
        # These tests are about the magics, not isolation (the notebook tests use the default).
        assert notebook.run("%companion config isolation=off").status == "ok"
        yield notebook
    finally:
        notebook.shutdown()
        notebook.cleanup()


class TestCellMagic:
    def test_streams_and_last_value(self, nb: Notebook) -> None:
        cell = nb.run('%%py\nprint("hello")\n6 * 7')
        assert cell.status == "ok"
        assert cell.stdout == "hello\n"
        assert cell.result == "42"

    def test_html_goes_through_display(self, nb: Notebook) -> None:
        code = (
            "%%py\nclass Bold:\n    def _repr_html_(self):\n        return '<b>hi</b>'\n"
            "display(Bold())"
        )
        cell = nb.run(code)
        assert cell.status == "ok"
        [shown] = cell.displays()
        assert shown["data"]["text/html"] == "<b>hi</b>"

    def test_outputs_arrive_while_the_cell_runs(self, nb: Notebook, tmp_path: Path) -> None:
        # The cell only finishes once we saw its first line: proof that output streams.
        flag = tmp_path / "go"
        code = (
            "%%py --policy off\nimport pathlib, time\nprint('first', flush=True)\n"
            f"while not pathlib.Path({str(flag)!r}).exists():\n    time.sleep(0.02)\n"
            "print('second')"
        )
        msg_id = nb.kc.execute(code)
        seen = _wait_for_stream(nb, msg_id, "first")
        assert "second" not in seen
        flag.touch()
        reply = nb.kc.get_shell_msg(timeout=60)
        assert reply["content"]["status"] == "ok"

    def test_interrupting_the_notebook_interrupts_the_companion(self, nb: Notebook) -> None:
        nb.run("%%py -s busy\nkept = 'yes'")
        msg_id = nb.kc.execute(
            "%%py -s busy\nimport time\nprint('started', flush=True)\nwhile True:\n"
            "    time.sleep(0.05)"
        )
        _wait_for_stream(nb, msg_id, "started")
        nb.km.interrupt_kernel()
        cell = nb.collect(msg_id)
        assert cell.status == "error"
        [error] = cell.errors
        assert error["ename"] == "KeyboardInterrupt"
        # The companion kernel's traceback (its cell), not one from the notebook's own code.
        assert "time.sleep(0.05)" in "\n".join(error["traceback"])
        assert nb.run("%%py -s busy\nkept").result == "'yes'"

    def test_code_error_shows_the_companion_traceback(self, nb: Notebook) -> None:
        cell = nb.run("%%py\ndef f():\n    return 1 / 0\nf()")
        assert cell.status == "error"
        [error] = cell.errors
        assert error["ename"] == "ZeroDivisionError"
        text = "\n".join(error["traceback"])
        assert "return 1 / 0" in text
        assert "companion_kernel" not in text and "magic.py" not in text

    def test_rejection_is_a_message(self, nb: Notebook) -> None:
        cell = nb.run("%%py --policy strict\n().__class__.__base__.__subclasses__()")
        assert cell.status == "ok"
        assert not cell.errors
        assert "[companion] rejected by the validator (policy 'strict'" in cell.stderr
        assert "python.dunder" in cell.stderr

    def test_timeout_is_a_message_and_keeps_state(self, nb: Notebook) -> None:
        assert nb.run("%%py -s slow\nx = 1").status == "ok"
        cell = nb.run("%%py -s slow --timeout 0.5\nwhile True:\n    pass")
        assert cell.status == "ok" and not cell.errors
        assert "[companion] timeout" in cell.stderr
        assert "state was kept" in cell.stderr
        assert nb.run("%%py -s slow\nx + 1").result == "2"

    def test_dead_kernel_is_a_message_then_a_fresh_kernel(self, nb: Notebook) -> None:
        assert nb.run("%%py -s fragile\ny = 1").status == "ok"
        cell = nb.run("%%py -s fragile --policy off\nimport os\nos._exit(3)")
        assert cell.status == "ok" and not cell.errors
        assert "[companion] kernel died" in cell.stderr
        after = nb.run("%%py -s fragile\n'y' in dir()")
        assert after.result == "False"
        assert "earlier state is gone" in after.stderr

    def test_named_sessions_persist_and_stay_apart(self, nb: Notebook) -> None:
        nb.run("%%companion -l py -s a\nv = 'a'")
        nb.run("%%companion -l python -s b\nv = 'b'")
        assert nb.run("%%companion -s a\nv").result == "'a'"
        assert nb.run("%%companion -s b\nv").result == "'b'"

    def test_default_session_per_language(self, nb: Notebook) -> None:
        nb.run("%%py\nshared = 5")
        assert nb.run("%%companion -l python\nshared * 2").result == "10"

    def test_javascript_and_shell(self, nb: Notebook) -> None:
        js = nb.run("%%node\nconsole.log([1, 2, 3].map((x) => x * 2).join(','))")
        assert js.status == "ok" and js.stdout == "2,4,6\n"
        sh = nb.run("%%shell\necho $((2 + 3))")
        assert sh.status == "ok" and sh.stdout.strip() == "5"
        assert nb.run("%%companion -l js -s web\n40 + 2").result == "42"

    def test_out_stores_the_result(self, nb: Notebook) -> None:
        nb.run("%%py -o run\nprint('kept')")
        assert nb.run("run.status, run.stdout").result == "('ok', 'kept\\n')"

    def test_tools_are_callable_from_kernel_code(self, nb: Notebook) -> None:
        cell = nb.run("%%py\nprint(tools.list_max(tools.extract_numbers('a 1.5 b 7 c 3')))")
        assert cell.stdout.strip() == "7"


class TestBadInput:
    @pytest.mark.parametrize(
        ("cell", "message"),
        [
            ("%%py --bogus\n1", "unrecognized arguments: --bogus"),
            ("%%py --timeout soon\n1", "invalid float value"),
            ("%%py --timeout -1\n1", "--timeout must be a positive number"),
            ("%%py --policy lax\n1", "unknown policy 'lax'"),
            ("%%py --policy /nonexistent/p.toml\n1", "policy file /nonexistent/p.toml"),
            ("%companion config policy=lax", "unknown policy 'lax'"),
            ("%companion upload", "usage: %companion upload LOCAL"),
            ("%companion upload /nonexistent/x", "/nonexistent/x: no such file"),
            ("%companion download a b c", "usage: %companion download REMOTE"),
            ("%%companion -l cobol\n1", "unknown language 'cobol'"),
            ("%%py\n", "empty"),
            ("%%py -o 1x\n1", "-o needs a variable name"),
            ("%companion frob", "unknown command 'frob'"),
            ("%companion", "usage: %companion sessions"),
            ("%companion restart", "usage: %companion restart NAME"),
            ("%companion restart nobody", "no session named 'nobody'"),
            ("%companion config colour=red", "unknown setting 'colour'"),
            ("%companion config timeout_s=-3", "invalid setting: timeout_s"),
            ("%tool", "usage: %tool NAME"),
            ("%tool uppercase hello", "cannot evaluate the argument 'hello'"),
        ],
    )
    def test_usage_errors_are_one_clear_line(self, nb: Notebook, cell: str, message: str) -> None:
        ran = nb.run(cell)
        assert ran.status == "error"
        assert not ran.errors, "a usage error must not show a traceback"
        assert ran.stderr.startswith("UsageError: ")
        assert message in ran.stderr

    def test_session_language_mismatch(self, nb: Notebook) -> None:
        nb.run("%%node -s jsonly\n1")
        cell = nb.run("%%py -s jsonly\n1")
        assert cell.status == "error"
        assert "session 'jsonly' runs javascript, not python" in cell.stderr

    @pytest.mark.parametrize(
        ("line", "ename", "message"),
        [
            ("%tool nope 1", "ToolNotFound", "no tool named 'nope'"),
            ("%tool list_average []", "ToolExecutionError", "cannot average an empty list"),
        ],
    )
    def test_tool_failures_name_the_problem(
        self, nb: Notebook, line: str, ename: str, message: str
    ) -> None:
        cell = nb.run(line)
        [error] = cell.errors
        assert error["ename"] == ename
        assert len(error["traceback"]) == 1 and message in error["traceback"][0]


class TestLineMagics:
    def test_sessions_restart_and_close(self, nb: Notebook) -> None:
        nb.run("%%py -s keeper\nz = 1")
        listing = nb.run("%companion sessions").stdout
        assert "keeper" in listing and "python" in listing
        assert "fresh python kernel" in nb.run("%companion restart keeper").stdout
        assert nb.run("%%py -s keeper\n'z' in dir()").result == "False"
        assert "closed" in nb.run("%companion close keeper").stdout
        assert "keeper" not in nb.run("%companion sessions").stdout

    def test_stats(self, nb: Notebook) -> None:
        out = nb.run("%companion stats").stdout
        assert out.splitlines()[0].split()[:2] == ["language", "idle"]
        assert "sandbox: none" in out

    def test_tools_lists_and_searches(self, nb: Notebook) -> None:
        everything = nb.run("%tools").stdout
        assert "extract_numbers" in everything and "list_average" in everything
        found = nb.run("%tools average").stdout
        assert "list_average" in found and "extract_numbers" not in found

    def test_tool_workflow(self, nb: Notebook) -> None:
        nb.run('text = "The temperatures were 22.5°C, 18.3°C, 25.7°C, 20.1°C, and 23.4°C"')
        assert nb.run("temps = %tool extract_numbers text").status == "ok"
        code = (
            "avg = %tool list_average temps\nlow = %tool list_min temps\n"
            "high = %tool list_max temps\n"
            'f"Average: {avg:.2f}°C, Min: {low}°C, Max: {high}°C"'
        )
        assert nb.run(code).result == "'Average: 22.00°C, Min: 18.3°C, Max: 25.7°C'"
        assert nb.run("%tool add 2 3").result == "5"
        assert nb.run("%tool add 2, b=3.5").result == "5.5"
        assert nb.run('%tool uppercase "two words"').result == "'TWO WORDS'"


class TestConfigInPlace:
    def test_policy_and_timeout_change_without_closing_sessions(self, nb: Notebook) -> None:
        assert nb.run("%%py -s live\nv = 7").status == "ok"
        try:
            changed = nb.run("%companion config policy=strict timeout_s=5")
            assert changed.stdout == "companion engine settings updated; sessions kept\n"
            assert nb.run("%%py -s live\nprint(v)").stdout == "7\n"
            rejected = nb.run("%%py -s live\nimport os")
            assert "rejected by the validator (policy 'strict'" in rejected.stderr
            assert "timeout_s = 5.0" in nb.run("%companion config").stdout
        finally:
            nb.run("%companion config policy=standard timeout_s=30")
        assert nb.run("%%py -s live\nimport os\nv").result == "7"

    def test_policy_files_for_the_engine_and_one_cell(self, nb: Notebook, tmp_path: Path) -> None:
        path = tmp_path / "no-json.toml"
        path.write_text('base = "standard"\n[python]\nblock_modules = ["json"]\n')
        cell = nb.run(f"%%py --policy {path}\nimport json")
        assert "rejected by the validator (policy 'no-json'" in cell.stderr
        try:
            assert nb.run(f"%companion config policy={path}").status == "ok"
            assert "policy = 'no-json'" in nb.run("%companion config").stdout
            assert "policy 'no-json'" in nb.run("%%py\nimport json").stderr
        finally:
            nb.run("%companion config policy=standard")
        assert nb.run("%%py\nimport json").status == "ok"


class TestFileTransfer:
    def test_upload_then_download(self, nb: Notebook, tmp_path: Path) -> None:
        local = tmp_path / "in.txt"
        local.write_text("some data")
        up = nb.run(f"%companion upload {local} data/in.txt")
        assert up.status == "ok", up.stderr
        assert up.stdout.startswith(f"uploaded {local} to data/in.txt (9 bytes)")
        made = nb.run("%%py\nopen('made.txt', 'w').write(open('data/in.txt').read().upper())")
        assert made.status == "ok", made.errors
        down = nb.run(f"%companion download made.txt {tmp_path}")
        assert down.status == "ok", down.stderr
        assert (tmp_path / "made.txt").read_text() == "SOME DATA"

    def test_named_session_and_errors(self, nb: Notebook, tmp_path: Path) -> None:
        nb.run("%%node -s web\nrequire('fs').writeFileSync('n.json', '[1,2]')")
        down = nb.run(f"%companion download n.json {tmp_path / 'n.json'} -s web")
        assert down.status == "ok", down.stderr
        assert (tmp_path / "n.json").read_text() == "[1,2]"
        [missing] = nb.run("%companion download absent.txt -s web").errors
        assert missing["ename"] == "WorkspaceFileNotFound"
        [escape] = nb.run(f"%companion upload {tmp_path / 'n.json'} ../up.json").errors
        assert escape["ename"] == "WorkspacePathError"


class TestLifecycle:
    def test_lazy_engine_and_no_orphans(self) -> None:
        notebook = Notebook()
        try:
            notebook.run("%load_ext companion_kernel")
            notebook.run("%companion config isolation=off")
            assert "no companion engine yet" in notebook.run("%companion sessions").stdout
            assert not notebook.companion_processes()
            assert notebook.run("%%py\n1").result == "1"
            assert notebook.run("%%shell\necho hi").stdout.strip() == "hi"
            assert notebook.companion_processes()
            # Unloading the extension stops the engine while the notebook goes on.
            notebook.run("%unload_ext companion_kernel")
            assert not _wait_gone(notebook)
            notebook.run("%load_ext companion_kernel")
            assert notebook.run("%%py\n2").result == "2"
            assert notebook.companion_processes()
        finally:
            notebook.shutdown()
        # The notebook's kernel stopped: its companion kernels and their files went with it.
        assert not _wait_gone(notebook)
        assert not list(notebook.runtime.glob("ck-*"))
        notebook.cleanup()

    def test_killed_notebook_kernel_leaves_no_orphans(self) -> None:
        notebook = Notebook()
        try:
            notebook.run("%load_ext companion_kernel")
            assert notebook.run("%%py\n1").result == "1"
            assert notebook.companion_processes()
        finally:
            notebook.kc.stop_channels()
            # SIGKILL: no atexit, no clean shutdown; the kernels must still go.
            notebook.km.shutdown_kernel(now=True)
        assert not _wait_gone(notebook)
        notebook.cleanup()
