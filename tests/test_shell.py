"""The shell language: bash_kernel in the same pools and sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from companion_kernel import Engine, EngineConfig, PoolConfig

pytestmark = pytest.mark.kernel


@pytest.fixture
async def shell_engine() -> AsyncIterator[Engine]:
    cfg = EngineConfig(
        languages=("shell",),
        pools={"shell": PoolConfig(min_idle=1)},
        isolation="off",
        policy="off",
        interrupt_grace_s=2.0,
    )
    async with Engine(cfg) as engine:
        yield engine


async def test_cwd_and_variables_persist(shell_engine: Engine, tmp_path) -> None:
    async with shell_engine.session("bash") as s:
        assert s.language == "shell"
        await s.execute(f"cd {tmp_path} && GREETING=hello && touch marker")
        r = await s.execute("pwd; echo $GREETING; ls")
    assert r.status == "ok"
    assert r.stdout.split() == [str(tmp_path), "hello", "marker"]


async def test_failing_command_is_an_error_with_exit_status(shell_engine: Engine) -> None:
    async with shell_engine.session("shell") as s:
        r = await s.execute("ls /definitely/not/here")
        ok = await s.execute("echo fine")
    assert r.status == "error"
    assert r.error.ename == "ExitStatus" and "status 2" in r.error.evalue
    assert "No such file" in r.stdout  # bash_kernel runs bash on a pty: stderr joins stdout
    assert ok.stdout == "fine\n"


async def test_timeout_interrupts_and_keeps_state(shell_engine: Engine) -> None:
    async with shell_engine.session("shell") as s:
        await s.execute("KEEP=1")
        r = await s.execute("sleep 30", timeout=1)
        after = await s.execute("echo $KEEP")
    assert r.status == "timeout" and not r.state_lost
    assert after.stdout == "1\n"


async def test_one_shot_shell(shell_engine: Engine) -> None:
    r = await shell_engine.execute("echo $((6 * 7))", "sh")
    assert r.stdout == "42\n"
