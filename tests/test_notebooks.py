"""Every notebook in notebooks/ runs cleanly in a real Jupyter client (nbclient)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# Cells tagged like this are meant to show a companion notice (rejection, timeout, dead kernel).
NOTICE_TAG = "companion-notice"
NOTICE = "[companion]"

# Proof that each notebook did its job, beyond "no error": text that must appear in its outputs.
EXPECTED: dict[str, list[str]] = {
    "01_quickstart": [
        "5 readings, mean 22.00°C",
        "(25.7, 18.3)",
        "mean 22.00 on Node",
        "18.3\n20.1\n22.5",
        "('ok', '20', ",
        "('javascript', 'which language am I?\\n')",
        "('ok', '285', ",
    ],
    "02_tools_and_workflows": [
        "list_average",
        "[22.5, 18.3, 25.7, 20.1, 23.4]",
        "Average: 22.00°C, Min: 18.3°C, Max: 25.7°C",
        "cannot divide by zero",
        "72.5",
        "mean 22.17°C = 71.9°F",
        "[ 18.3, 25.7 ] 25.7",
        "('ok', 'total 10', ['stream'])",
    ],
    "03_safety": [
        "[companion] rejected by the validator (policy 'strict'",
        "python.dunder",
        "python.import",
        "shell.command",
        "subprocess",
        "[companion] timeout",
        "42",
        "network interfaces:",
        "[companion] kernel died",
        "earlier state is gone",
        "('ok', True, ",
        "output truncated",
    ],
    "04_rich_output": [
        "text/html",
        "image/svg+xml",
        "image/png",
        "application/json",
        "text/markdown",
        "<b>Hello</b> from <i>Node.js</i>",
        "<progress value='5' max='5'>",
        "[('execute_result', ['text/html', 'text/plain'])]",
    ],
}


def _texts(outputs: list[dict[str, Any]]) -> list[str]:
    """A cell's outputs as text: stdout and stderr whole (however chunked), then MIME data."""
    texts = [
        "".join(o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == name)
        for name in ("stdout", "stderr")
    ]
    for output in outputs:
        data = output.get("data", {})
        texts += [*data, *(v for v in data.values() if isinstance(v, str))]
    return texts


def _leftovers(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            mine = marker in " ".join(proc.info["cmdline"] or [])
            if mine and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_every_notebook_is_checked() -> None:
    assert {p.stem for p in NOTEBOOKS} == set(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "companion-python"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source


@pytest.mark.kernel
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_clean(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    # The engine inside the notebook puts its runtime under TMPDIR: that marks its kernels.
    client.execute(env={**os.environ, "TMPDIR": str(tmp_path)})

    seen: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o["output_type"] == "error"]
        assert not errors, f"{cell.source!r} failed: {errors}"
        texts = _texts(cell.outputs)
        stderr = texts[1]
        expects_notice = NOTICE_TAG in cell.metadata.get("tags", [])
        assert (NOTICE in stderr) == expects_notice, f"{cell.source!r}: stderr {stderr!r}"
        seen.extend(texts)
    everything = "\n".join(seen)
    missing = [text for text in EXPECTED[path.stem] if text not in everything]
    assert not missing, f"not in the outputs: {missing}"

    # The notebook's kernel has stopped: no companion kernel may outlive it.
    deadline = time.monotonic() + 15
    while (left := _leftovers(str(tmp_path))) and time.monotonic() < deadline:
        time.sleep(0.1)
    for proc in left:
        proc.kill()
    assert not left, f"orphan companion processes: {[p.info['cmdline'] for p in left]}"
    assert not list(tmp_path.glob("ck-*"))


@pytest.mark.kernel
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_with_the_cli(path: Path, tmp_path: Path) -> None:
    """`companion-kernel run` runs them too: trusted host notebooks that start their own
    engine need the host (no sandbox, no validator) and kernels that outlive a cell."""
    copy = Path(shutil.copy(path, tmp_path))
    argv = [str(Path(sys.executable).parent / "companion-kernel"), "run", str(copy)]
    argv += ["--isolation", "off", "--policy", "off", "--keep-processes", "--timeout", "120"]
    done = subprocess.run(
        [*argv, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"]
    nb = nbformat.read(copy, as_version=4)
    seen = [text for cell in nb.cells if cell.cell_type == "code" for text in _texts(cell.outputs)]
    everything = "\n".join(seen)
    missing = [text for text in EXPECTED[path.stem] if text not in everything]
    assert not missing, f"not in the outputs: {missing}"
