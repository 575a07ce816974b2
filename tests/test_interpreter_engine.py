"""Code-interpreter workloads in real sandboxed kernels: the data stack, charts as data,
a user's own interpreter, preloading, and what a newcomer hit (input, read, const crypto,
limit deaths).

Engines here keep the defaults (isolation, limits, the `standard` policy) and only shrink
the pools to what a test uses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion_kernel import Engine, EngineConfig, KernelStartError, PoolConfig
from companion_kernel.charts import CHART_MIME
from companion_kernel.sandbox import bwrap_available
from companion_kernel.sandbox.limits import Limits

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(not bwrap_available()[0], reason="needs bubblewrap"),
]


def _config(*languages: str, **overrides: object) -> EngineConfig:
    pools = {lang: PoolConfig(min_idle=1, max_kernels=2) for lang in languages}
    return EngineConfig.model_validate({"languages": languages, "pools": pools, **overrides})


ANALYSIS = """
import csv
import pandas as pd
import matplotlib.pyplot as plt

rows = [("north", 10), ("south", 30), ("north", 20), ("east", 5), ("south", 50)]
with open("sales.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["region", "amount"])
    writer.writerows(rows)

df = pd.read_csv("sales.csv")
stats = df.groupby("region")["amount"].agg(["mean", "sum", "count"]).sort_index()
print(stats.to_string())
"""

CHART = """
fig, ax = plt.subplots()
ax.bar(stats.index, stats["sum"])
ax.set(title="Sales by region", xlabel="region", ylabel="amount")
plt.show()
"""


async def test_analysis_session_with_the_default_engine() -> None:
    async with Engine(_config("python"), tools=False) as engine:
        assert engine.sandboxed
        async with engine.session("python") as session:
            first = await session.execute(ANALYSIS, timeout=120)
            assert first.status == "ok", first.error
            assert first.stderr == ""
            assert "south   40.0   80      2" in first.stdout

            chart = await session.execute(CHART)
            assert chart.status == "ok", chart.error
            assert chart.stderr == ""  # no Fontconfig errors, no cache warnings
            (image,) = chart.images
            assert image.mime == "image/png" and image.data.startswith(b"\x89PNG")
            (described,) = chart.charts
            axes = described.axes[0]
            assert (axes.chart_type, axes.title) == ("bar", "Sales by region")
            assert (axes.x_label, axes.y_label) == ("region", "amount")
            assert axes.series[0].points == [("east", 5.0), ("north", 30.0), ("south", 80.0)]

            backend = await session.execute("import matplotlib; matplotlib.get_backend()")
            assert "inline" in (backend.text or "")

            last = await session.execute("fig2, ax2 = plt.subplots(); ax2.plot([1, 2]); fig2")
            assert last.status == "ok" and last.result is not None
            assert last.result.png is not None and CHART_MIME in last.result.data

            html = await session.execute("stats")
            assert "<table" in html.html[0]


async def test_input_and_read_fail_at_once_with_a_clear_message() -> None:
    async with Engine(_config("python", "shell"), tools=False) as engine:
        python = await engine.execute("name = input('name? ')", "python")
        assert python.status == "error" and python.error is not None
        assert python.error.ename == "EOFError"
        assert "no standard input" in python.error.evalue
        assert "ipykernel" not in python.error.traceback_text
        assert "StdinNotImplementedError" not in python.error.traceback_text

        started = time.monotonic()
        shell = await engine.execute('read answer || echo "no answer"', "shell", timeout=20)
        assert time.monotonic() - started < 10
        assert "no input" in shell.stdout and "no answer" in shell.stdout
        piped = await engine.execute('echo 42 | { read n; echo "n=$n"; }', "shell")
        assert piped.stdout == "n=42\n"


async def test_const_over_a_read_only_node_global_binds_the_users_value() -> None:
    async with Engine(_config("javascript"), tools=False) as engine:
        async with engine.session("javascript") as session:
            first = await session.execute("const crypto = require('crypto'); typeof crypto")
            assert first.text == "'object'"
            digest = await session.execute(
                "crypto.createHash('sha256').update('abc').digest('hex').slice(0, 8)"
            )
            assert digest.status == "ok", digest.error
            assert digest.text == "'ba7816bf'"
            wrapped = await session.execute("const navigator = 'mine'; await null; navigator")
            assert wrapped.text == "'mine'"


async def test_a_process_limit_death_is_reported_as_such() -> None:
    config = _config("python", policy="off", limits=Limits(pids=32))
    async with Engine(config, tools=False) as engine:
        result = await engine.execute(
            "import os, subprocess\n"
            "kids = []\n"
            "try:\n"
            "    while True:\n"
            "        kids.append(subprocess.Popen(['sleep', '60']))\n"
            "except OSError:\n"
            "    pass\n"
            "os.abort()",
            "python",
            timeout=60,
        )
        assert result.status == "died" and result.error is not None
        assert "process/thread limit" in result.error.evalue
        assert "out of memory" not in result.error.evalue


@pytest.fixture
def other_venv() -> Iterator[Path]:
    """A venv on the engine's base interpreter that sees the engine's packages through a
    .pth file, plus a module of its own. World-readable: kernels run as nobody."""
    parent = Path(tempfile.mkdtemp(prefix="ck-venv-", dir="/tmp"))
    try:
        os.chmod(parent, 0o755)
        venv = parent / "env"
        base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True)
        site = Path(
            sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
        )
        (site / "engine.pth").write_text(sysconfig.get_path("purelib") + "\n")
        (site / "ck_only_here.py").write_text("WHERE = 'the other venv'\n")
        subprocess.run(["chmod", "-R", "a+rX", str(parent)], check=True)
        yield venv
    finally:
        shutil.rmtree(parent, ignore_errors=True)


async def test_python_kernels_run_on_a_configured_interpreter(other_venv: Path) -> None:
    executable = other_venv / "bin" / "python"
    config = _config("python", policy="off", python_executable=str(executable))
    async with Engine(config, tools=False) as engine:
        assert engine.sandboxed
        result = await engine.execute(
            "import sys, ck_only_here\nprint(sys.prefix)\nprint(ck_only_here.WHERE)", "python"
        )
        assert result.status == "ok", result.error
        assert result.stdout == f"{other_venv}\nthe other venv\n"


async def test_a_broken_interpreter_fails_with_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "python"
    config = _config("python", python_executable=str(missing))
    config = config.model_copy(
        update={"pools": {"python": PoolConfig(min_idle=0, acquire_timeout_s=20)}}
    )
    async with Engine(config, tools=False) as engine:
        with pytest.raises(KernelStartError, match="nope/python is not an executable file"):
            await engine.execute("1", "python")


async def test_preloaded_modules_are_imported_before_the_first_cell() -> None:
    config = _config("python", policy="off", preload=("json", "pandas", "no_such_module_ck"))
    async with Engine(config, tools=False) as engine:
        await engine.wait_ready()
        result = await engine.execute(
            "import sys\nprint('pandas' in sys.modules, 'pd' in dir())", "python"
        )
        assert result.status == "ok", result.error
        assert result.stdout == "True False\n"  # loaded, but no name bound
