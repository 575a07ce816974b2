"""`execute(input=...)` with real sandboxed kernels: Python `input()`/`getpass()`,
JavaScript `$$.input()` and shell `read`, answered from a string, a list or a callback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sandbox._sandbox_support import requires_bwrap

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel.errors import InvalidRequest
from companion_kernel.languages import get_language
from companion_kernel.stdin import InputRequest

pytestmark = [pytest.mark.kernel, requires_bwrap]
module_loop = pytest.mark.asyncio(loop_scope="module")

JS_PROBLEM = get_language("javascript").check()
LANGUAGES = ("python", "shell") if JS_PROBLEM else ("python", "javascript", "shell")

# Two prompts, the second a secret; prints both answers on one line.
TWO_PROMPTS = {
    "python": (
        "import getpass\na = input('name? ')\nb = getpass.getpass('pw? ')\nprint(f'{a}|{b}')"
    ),
    "javascript": (
        "const a = await $$.input('name? ');\n"
        "const b = await $$.input({ prompt: 'pw? ', password: true });\n"
        "console.log(`${a}|${b}`)"
    ),
    "shell": 'read -r -p "name? " a\nread -r -s -p "pw? " b\necho "$a|$b"',
}
# One prompt; what end of input looks like in each language.
ONE_PROMPT = {
    "python": "x = input('q? ')\nprint('got', x)",
    "javascript": "const x = await $$.input('q? '); console.log('got', x)",
    "shell": 'if read -r -p "q? " x; then echo "got $x"; else echo "eof $?"; fi',
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[Engine]:
    config = EngineConfig(
        languages=LANGUAGES,
        pools={lang: PoolConfig(min_idle=1, max_kernels=4) for lang in LANGUAGES},
        isolation="require",
        policy="off",
        timeout_s=30,
        interrupt_grace_s=1.5,
        session_idle_timeout_s=None,
    )
    async with Engine(config, tools=False) as eng:
        yield eng


@module_loop
@pytest.mark.parametrize("language", LANGUAGES)
class TestAnswers:
    async def test_a_string_answers_line_by_line(self, engine: Engine, language: str) -> None:
        result = await engine.execute(TWO_PROMPTS[language], language, input="alice\ns3 cret\n")
        assert result.status == "ok", result.error
        assert result.stdout == "alice|s3 cret\n"

    async def test_a_list_answers_in_order(self, engine: Engine, language: str) -> None:
        result = await engine.execute(TWO_PROMPTS[language], language, input=["bob", "pa ss"])
        assert result.status == "ok", result.error
        assert result.stdout == "bob|pa ss\n"

    async def test_a_callback_sees_each_prompt_and_the_secret_flag(
        self, engine: Engine, language: str
    ) -> None:
        seen: list[InputRequest] = []

        def answer(request: InputRequest) -> str:
            seen.append(request)
            return "carol" if request.number == 1 else "hunter2"

        result = await engine.execute(TWO_PROMPTS[language], language, input=answer)
        assert result.status == "ok", result.error
        assert result.stdout == "carol|hunter2\n"
        assert [(r.prompt, r.password, r.number) for r in seen] == [
            ("name? ", False, 1),
            ("pw? ", True, 2),
        ]

    async def test_an_async_callback_in_a_session_keeps_state(
        self, engine: Engine, language: str
    ) -> None:
        async def answer(request: InputRequest) -> str:
            await asyncio.sleep(0.05)
            return request.prompt.strip().upper()

        async with engine.session(language) as session:
            first = await session.execute(ONE_PROMPT[language], input=answer)
            assert first.status == "ok", first.error
            assert first.stdout == "got Q?\n"
            again = await session.execute(ONE_PROMPT[language], input=["two"])
            assert again.stdout == "got two\n"

    async def test_answers_running_out_is_end_of_input(self, engine: Engine, language: str) -> None:
        result = await engine.execute(ONE_PROMPT[language], language, input=[])
        if language == "shell":
            assert result.status == "ok" and result.stdout == "eof 1\n"
        else:
            assert result.status == "error" and result.error is not None
            assert result.error.ename == "EOFError"
            assert "no more input" in result.error.evalue

    async def test_without_input_prompts_fail_at_once(self, engine: Engine, language: str) -> None:
        started = time.monotonic()
        result = await engine.execute(ONE_PROMPT[language], language, timeout=20)
        assert time.monotonic() - started < 10
        if language == "shell":
            assert "no input" in result.stdout and "eof 1" in result.stdout
        else:
            assert result.status == "error" and result.error is not None
            assert result.error.ename == "EOFError"
            assert "no input" in result.error.evalue

    async def test_a_raising_callback_is_a_clean_error_result(
        self, engine: Engine, language: str
    ) -> None:
        def answer(request: InputRequest) -> str:
            raise RuntimeError("the user went away")

        async with engine.session(language) as session:
            result = await session.execute(ONE_PROMPT[language], input=answer)
            assert result.status == "error" and result.error is not None
            assert result.error.ename == "InputCallbackError"
            assert "RuntimeError: the user went away" in result.error.evalue
            after = await session.execute(
                "print('fine')"
                if language == "python"
                else "console.log('fine')"
                if language == "javascript"
                else "echo fine"
            )
            assert after.status == "ok" and after.stdout == "fine\n"

    async def test_a_callback_slower_than_the_timeout_is_a_timeout_that_names_it(
        self, engine: Engine, language: str
    ) -> None:
        async def answer(request: InputRequest) -> str:
            await asyncio.sleep(30)
            return "too late"

        async with engine.session(language) as session:
            setup = {"python": "kept = 7", "javascript": "var kept = 7", "shell": "kept=7"}
            await session.execute(setup[language])
            started = time.monotonic()
            result = await session.execute(ONE_PROMPT[language], input=answer, timeout=2)
            assert time.monotonic() - started < 10
            assert result.status == "timeout" and result.error is not None
            assert "waiting for the input callback" in result.error.evalue
            assert "'q? '" in result.error.evalue
            show = {"python": "print(kept)", "javascript": "console.log(kept)"}
            after = await session.execute(show.get(language, 'echo "$kept"'))
            assert after.status == "ok" and after.stdout == "7\n"


@module_loop
async def test_bad_input_is_refused_before_anything_runs(engine: Engine) -> None:
    with pytest.raises(InvalidRequest, match="input must be a string"):
        await engine.execute("1", "python", input=42)  # type: ignore[arg-type]


@module_loop
async def test_shell_read_options_work_with_answers(engine: Engine) -> None:
    code = (
        'read -r -a words\necho "${#words[@]} ${words[1]}"\n'
        'read -r -n 2 two\necho "[$two]"\n'
        'read\necho "REPLY=$REPLY"\n'
        'echo piped | { read p; echo "$p"; }'
    )
    result = await engine.execute(code, "shell", input=["a b c", "xyz", " r "])
    assert result.status == "ok", result.error
    assert result.stdout == "3 b\n[xy]\nREPLY= r \npiped\n"  # REPLY keeps its blanks
    # Nothing was left in the terminal for bash to run as a command.
    async with engine.session("shell") as session:
        await session.execute('read -r -n 1 c\necho "$c"', input=["long answer"])
        after = await session.execute("echo next")
        assert after.stdout == "next\n"


@module_loop
async def test_output_that_merely_looks_like_the_marker_is_plain_output(engine: Engine) -> None:
    fake = r"printf '\033]companion-read;0000000000000000;0;who\a'; echo; echo done"
    result = await engine.execute(fake, "shell", input=["unused"], timeout=10)
    assert result.status == "ok", result.error
    assert result.stdout.endswith("done\n")


def test_sync_engine_passes_input_and_runs_callbacks_off_its_loop() -> None:
    import threading

    from companion_kernel import SyncEngine

    config = EngineConfig(
        languages=("python",),
        pools={"python": PoolConfig(min_idle=0)},
        isolation="require",
        policy="off",
    )
    threads: list[str] = []

    def answer(request: InputRequest) -> str:
        threads.append(threading.current_thread().name)
        return "sync"

    with SyncEngine(config, tools=False) as engine, engine.session("python") as session:
        result = session.execute("print(input('? '))", input=answer)
        assert result.status == "ok" and result.stdout == "sync\n"
        one_shot = engine.execute("print(input(), input())", "python", input="a\nb")
        assert one_shot.stdout == "a b\n"
    assert threads and threads[0] not in ("ck-loop", threading.current_thread().name)
