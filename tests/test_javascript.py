"""JavaScript (our Node kernel) through the engine: sessions, interrupts, crashes, tools."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel.languages import get_language

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(
        get_language("javascript").check() is not None,
        reason=f"Node kernel unavailable: {get_language('javascript').check()}",
    ),
]

SEED_JS = """
const text = 'The temperatures were 22.5°C, 18.3°C, 25.7°C, 20.1°C, and 23.4°C';
const nums = await tools.extract_numbers(text);
const [avg, lo, hi] = await Promise.all([
  tools.list_average(nums), tools.list_min(nums), tools.list_max(nums),
]);
console.log(`Average: ${avg.toFixed(2)}°C, Min: ${lo}°C, Max: ${hi}°C`);
"""


@pytest.fixture(params=["off", "require"])
async def js_engine(request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    cfg = EngineConfig(
        languages=("javascript",),
        pools={"javascript": PoolConfig(min_idle=1)},
        isolation=request.param,
        policy="off",
        interrupt_grace_s=2.0,
    )
    async with Engine(cfg) as engine:
        yield engine


async def test_state_redeclaration_and_results(js_engine: Engine) -> None:
    async with js_engine.session("js") as s:
        await s.execute("const x = 41; let y = 1; class C { v() { return 2 } }")
        again = await s.execute("const x = 41; let y = 1; class C { v() { return 2 } }")
        r = await s.execute("x + new C().v() - y")
        out = await s.execute("console.log('out'); console.error('err')")
        awaited = await s.execute("await new Promise(r => setTimeout(() => r('done'), 50))")
        # Regression: a parenthesised object after top-level await used to be a SyntaxError.
        literal = await s.execute("const v = await Promise.resolve(2); ({a: v});")
    assert again.status == "ok", again.error
    assert r.text == "42"
    assert out.stdout == "out\n" and out.stderr == "err\n"
    assert awaited.text == "'done'"
    assert literal.status == "ok" and literal.text == "{ a: 2 }"


async def test_errors_are_results(js_engine: Engine) -> None:
    async with js_engine.session("js") as s:
        syntax = await s.execute("let = ;")
        thrown = await s.execute("throw new TypeError('nope')")
        alive = await s.execute("1 + 1")
    assert syntax.status == "error" and syntax.error.ename == "SyntaxError"
    assert thrown.status == "error" and thrown.error.ename == "TypeError"
    assert "nope" in thrown.error.evalue
    assert alive.text == "2"


async def test_infinite_loop_interrupted_state_kept(js_engine: Engine) -> None:
    async with js_engine.session("js") as s:
        await s.execute("x = 1")
        r = await s.execute("while (true) {}", timeout=1)
        after = await s.execute("x")
    assert r.status == "timeout" and not r.state_lost
    assert after.text == "1"


async def test_process_exit_is_died_and_session_recovers(js_engine: Engine) -> None:
    async with js_engine.session("js") as s:
        await s.execute("z = 5")
        r = await s.execute("process.exit(3)", timeout=60)
        again = await s.execute("typeof z")
    assert r.status == "died" and r.duration_s < 30
    assert again.text == "'undefined'" and again.state_lost


async def test_async_never_done_times_out_cleanly(js_engine: Engine) -> None:
    async with js_engine.session("js") as s:
        await s.execute("w = 2")
        r = await s.execute("$$.async(); console.log('started')", timeout=1)
        after = await s.execute("w")
    assert r.status == "timeout" and r.stdout == "started\n"
    assert after.text == "2"


async def test_tools_from_javascript(js_engine: Engine) -> None:
    async with js_engine.session("js") as s:
        pos = await s.execute("await tools.add(10, 5)")
        kw = await s.execute("await tools.add({a: 10, b: 5})")
        listed = await s.execute("(await tools.list()).map(t => t.name).includes('list_sort')")
        seed = await s.execute(SEED_JS)
        failed = await s.execute(
            "try { await tools.divide(1, 0) } catch (e) { console.log(e.name, e.message) }"
        )
        concurrent = await s.execute(
            "(await Promise.all([1, 2, 3, 4, 5].map(i => tools.multiply(i, i)))).join(',')"
        )
    assert pos.text == "15" and kw.text == "15"
    assert listed.text == "true"
    assert seed.stdout == "Average: 22.00°C, Min: 18.3°C, Max: 25.7°C\n"
    assert failed.stdout.startswith("ToolError ToolExecutionError")
    assert "zero" in failed.stdout
    assert concurrent.text == "'1,4,9,16,25'"
