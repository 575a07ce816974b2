"""10 MB of output, in short lines or as one line, finishes quickly and truncated in every
language: each kernel caps a cell's output itself and the host marks the cut."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel._bench import OUTPUT_FLOODS

pytestmark = [pytest.mark.kernel, pytest.mark.asyncio(loop_scope="module")]

TEN_MB = 10_000_000

FLOODS = OUTPUT_FLOODS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[Engine]:
    languages = ["python", "shell"]
    if shutil.which("node"):
        languages.append("javascript")
    config = EngineConfig(
        languages=tuple(languages),
        pools={lang: PoolConfig(min_idle=1) for lang in languages},
        isolation="off",
        policy="off",
        timeout_s=120,
    )
    async with Engine(config) as eng:
        yield eng


@pytest.mark.parametrize(("language", "shape"), sorted(FLOODS))
async def test_flood_is_truncated_with_the_marker(
    engine: Engine, language: str, shape: str
) -> None:
    if language not in engine.config.languages:
        pytest.skip(f"{language} is not available here")
    async with engine.session(language) as session:
        # The timeout only guards against a hang; a flood takes a second or two.
        result = await session.execute(FLOODS[language, shape], timeout=100)
        after = await session.execute("echo done" if language == "shell" else "'done'")
    cap = engine.config.max_output_bytes
    assert result.status == "ok", result.error
    assert result.truncated
    assert "output truncated" in result.stdout
    kept = result.stdout.split("\n[companion-kernel: output truncated")[0]
    assert cap // 2 < kept.count("x") <= cap
    assert len(result.stdout.encode()) + len(result.stderr.encode()) < cap + 1024
    assert after.status == "ok" and "done" in after.stdout + (after.text or "")


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("javascript", "process.stdout.write(process.env.COMPANION_NODE_MAX_OUTPUT)"),
        ("shell", "echo $COMPANION_BASH_MAX_OUTPUT"),
    ],
)
async def test_kernels_cap_at_twice_the_hosts_cap(engine: Engine, language: str, code: str) -> None:
    # Below the host's cap the host could not see, or mark, the truncation.
    if language not in engine.config.languages:
        pytest.skip(f"{language} is not available here")
    async with engine.session(language) as session:
        result = await session.execute(code)
    assert result.stdout.strip() == str(2 * engine.config.max_output_bytes)
