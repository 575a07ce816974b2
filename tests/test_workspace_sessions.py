"""Session workspaces with real sandboxed kernels (issue 14): files in and out, escapes,
the quota, persistence across restart, death and timeout escalation, env and cwd,
one-shot executions with files, attached workspaces."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
import pytest_asyncio
from sandbox._sandbox_support import requires_bwrap

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel.errors import InvalidRequest, WorkspaceFull, WorkspacePathError
from companion_kernel.languages import get_language
from companion_kernel.sandbox import Limits
from companion_kernel.session import Session

pytestmark = [pytest.mark.kernel, requires_bwrap]

JS_PROBLEM = get_language("javascript").check()
LANGUAGES = ("python", "shell") if JS_PROBLEM else ("python", "javascript", "shell")
ROOT = os.geteuid() == 0
MIB = 1024 * 1024


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[Engine]:
    config = EngineConfig(
        languages=LANGUAGES,
        pools={lang: PoolConfig(min_idle=1, max_kernels=4) for lang in LANGUAGES},
        isolation="require",
        policy="off",
        limits=Limits(workspace_mb=200, fsize_mb=150),
        timeout_s=60,
        interrupt_grace_s=1.0,
        session_idle_timeout_s=None,
    )
    async with Engine(config) as eng:
        yield eng


async def ok(session: Session, code: str, **kwargs: object) -> str:
    result = await session.execute(code, **kwargs)  # type: ignore[arg-type]
    assert result.status == "ok", (result.stdout, result.stderr, result.error)
    return result.stdout


@pytest.mark.asyncio(loop_scope="module")
class TestFilesInAndOut:
    async def test_upload_is_read_by_the_kernel_and_its_output_downloaded(
        self, engine: Engine
    ) -> None:
        async with engine.session("python") as s:
            await s.files.mkdir("in")
            await s.files.write("in/data.csv", b"a,b\n1,2\n")
            out = await ok(
                s,
                "import csv\nrows = list(csv.reader(open('in/data.csv')))\n"
                "open('out.txt', 'w').write(str(len(rows)))\nprint(rows[1])",
            )
            assert "['1', '2']" in out
            assert await s.files.read("out.txt") == b"2"
            assert {e.path for e in await s.files.list(recursive=True)} == {
                "in",
                "in/data.csv",
                "out.txt",
            }

    async def test_a_symlink_planted_by_the_kernel_is_not_followed(self, engine: Engine) -> None:
        async with engine.session("shell") as s:
            await ok(s, "ln -s /etc/passwd pw; ln -s /etc etcdir")
            with pytest.raises(WorkspacePathError):
                await s.files.read("pw")
            with pytest.raises(WorkspacePathError):
                await s.files.read("etcdir/hostname")
            await s.files.write("pw", b"mine")  # replaces the link inside the workspace
            assert (await s.files.read("pw")) == b"mine"
            assert Path("/etc/passwd").read_bytes() != b"mine"

    async def test_files_the_host_writes_belong_to_the_kernel(self, engine: Engine) -> None:
        async with engine.session("shell") as s:
            await s.files.write("note.txt", b"host")
            await ok(s, "echo kernel >> note.txt && mkdir -p made && rm note.txt")
            assert not await s.files.exists("note.txt")

    async def test_a_100_mb_file_streams_both_ways_with_bounded_host_memory(
        self, engine: Engine
    ) -> None:
        chunk = os.urandom(MIB)
        proc = psutil.Process()
        async with engine.session("python") as s:
            before = proc.memory_info().rss

            def chunks() -> list[bytes]:
                return [chunk] * 100

            await s.files.write("big.bin", iter(chunks()))
            size = await ok(s, "import os; print(os.path.getsize('big.bin'))")
            assert size.strip() == str(100 * MIB)
            total = 0
            async for piece in s.files.stream("big.bin"):
                assert piece == chunk[: len(piece)] or len(piece) <= MIB
                total += len(piece)
            assert total == 100 * MIB
            assert proc.memory_info().rss - before < 60 * MIB

    @pytest.mark.skipif(not ROOT, reason="the workspace quota needs a root engine")
    async def test_the_quota_gives_a_typed_error_and_leaves_nothing(self, engine: Engine) -> None:
        async with engine.session("python") as s:
            await s.files.write("a.bin", iter([b"x" * MIB] * 120))
            with pytest.raises(WorkspaceFull):
                await s.files.write("b.bin", iter([b"y" * MIB] * 120))
            assert [e.path for e in await s.files.list()] == ["a.bin"]
            err = (await s.execute("open('c.bin','wb').write(b'z' * (120 << 20))")).error
            assert err is not None and "No space left" in err.evalue


@pytest.mark.asyncio(loop_scope="module")
class TestPersistence:
    async def test_files_survive_restart_death_and_timeout_escalation(
        self, engine: Engine
    ) -> None:
        async with engine.session("python") as s:
            await s.files.write("keep.txt", b"v1")
            await s.restart()
            assert "keep.txt" in await ok(s, "import os; print(os.listdir())")
            died = await s.execute("import os; os._exit(3)")
            assert died.status == "died"
            assert "keep.txt" in await ok(s, "import os; print(os.listdir())")
            stuck = await s.execute(
                "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                "open('during.txt', 'w').write('x')\nwhile True: time.sleep(0.1)",
                timeout=2,
            )
            assert stuck.status == "timeout" and stuck.state_lost
            listing = await ok(s, "import os; print(sorted(os.listdir()))")
            assert "keep.txt" in listing and "during.txt" in listing
            assert s.restarts >= 3

    async def test_the_workspace_goes_with_the_session_unless_kept(self, engine: Engine) -> None:
        async with engine.session("shell") as s:
            await ok(s, "echo x > f")
            gone = s.workspace
        assert gone is not None and not gone.exists()
        async with engine.session("shell", keep_workspace=True) as s:
            await ok(s, "echo x > f")
            kept = s.workspace
        assert kept is not None and (kept / "f").exists()
        from companion_kernel.sandbox import remove_tree

        remove_tree(kept.parent)

    async def test_an_attached_directory_is_used_and_never_removed(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        (tmp_path / "given.txt").write_text("from the caller")
        os.chmod(tmp_path, 0o777)  # a root engine's kernel runs as an unprivileged uid
        async with engine.session("python", workspace=tmp_path) as s:
            assert "from the caller" in await ok(s, "print(open('given.txt').read())")
            await ok(s, "open('made.txt', 'w').write('by the kernel')")
        assert (tmp_path / "made.txt").read_text() == "by the kernel"
        async with engine.session("python", workspace=tmp_path, workspace_readonly=True) as s:
            err = (await s.execute("open('nope.txt', 'w')")).error
            assert err is not None and "Read-only" in err.evalue
        assert (tmp_path / "given.txt").exists()


@pytest.mark.asyncio(loop_scope="module")
class TestEnvironment:
    @pytest.mark.parametrize("language", LANGUAGES)
    async def test_env_and_cwd_apply_in_every_kernel_of_the_session(
        self, engine: Engine, language: str
    ) -> None:
        show = {
            "python": "import os; print(os.environ['GREETING'], os.getcwd())",
            "javascript": "console.log(process.env.GREETING, process.cwd())",
            "shell": "echo $GREETING $PWD",
        }[language]
        env = {"GREETING": "hi there"}
        async with engine.session(language, env=env, cwd="work/dir") as s:
            assert (await ok(s, show)).split() == ["hi", "there", "/workspace/work/dir"]
            await s.restart()
            assert (await ok(s, show)).split() == ["hi", "there", "/workspace/work/dir"]

    async def test_bad_env_is_refused(self, engine: Engine) -> None:
        with pytest.raises(InvalidRequest, match="not a valid name"):
            engine.session("python", env={"BAD NAME": "x"})
        with pytest.raises(InvalidRequest, match="NUL"):
            engine.session("python", env={"OK": "a\0b"})


@pytest.mark.asyncio(loop_scope="module")
class TestOneShot:
    async def test_execute_puts_files_in_and_collects_what_matches(self, engine: Engine) -> None:
        result = await engine.execute(
            "import pathlib\n"
            "rows = open('data/in.csv').read().splitlines()\n"
            "pathlib.Path('out').mkdir()\n"
            "pathlib.Path('out/count.txt').write_text(str(len(rows)))\n"
            "pathlib.Path('out/skip.log').write_text('no')",
            language="python",
            files={"data/in.csv": "a\nb\nc\n"},
            collect=["out/*.txt"],
        )
        assert result.status == "ok", result.error
        assert result.files == {"out/count.txt": b"3"}
        assert result.session_id is None


def test_sync_sessions_have_files_too() -> None:
    from companion_kernel import SyncEngine

    config = EngineConfig(
        languages=("python",), pools={"python": PoolConfig(min_idle=0)}, isolation="require"
    )
    with SyncEngine(config) as eng, eng.session("python") as s:
        s.files.write("hello.txt", "hi")
        assert s.execute("print(open('hello.txt').read())").stdout == "hi\n"
        assert [e.name for e in s.files.list()] == ["hello.txt"]
