"""Chaos and containment (issue 5): hostile code against sandboxed kernels, validator off.

Every test runs real Python and JavaScript kernels under bubblewrap with small limits and
checks both the result the engine reports and that the host (this process, its files, its
network, its other kernels) is unaffected. The last test checks that nothing leaked.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import pytest_asyncio
from _support import kernel_processes, peak_rss, rss
from sandbox._sandbox_support import (
    PROJECT_ROOT,
    alive,
    cgroup_dirs_of,
    process_tree,
    requires_bwrap,
    wait_until_gone,
)

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel.languages import get_language
from companion_kernel.models import ExecutionResult
from companion_kernel.sandbox import Limits
from companion_kernel.session import Session

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.kernel,
    requires_bwrap,
    pytest.mark.asyncio(loop_scope="module"),
]

MIB = 1024 * 1024
LIMITS = Limits(
    memory_mb=512, node_heap_mb=256, pids=64, fsize_mb=16, nofile=256, cpu_seconds=600, tmpfs_mb=64
)
# Deaths must be reported long before this; a hang would show up as a timeout instead.
DEATH_TIMEOUT_S = 60.0
JS_PROBLEM = get_language("javascript").check()
LANGUAGES = ("python",) if JS_PROBLEM else ("python", "javascript")
needs_js = pytest.mark.skipif(
    JS_PROBLEM is not None, reason=f"the JavaScript kernel cannot run here: {JS_PROBLEM}"
)

# Planted on the host before the engine starts; the kernels must never see them.
SECRET_NAME = "CK_CANARY_SECRET"
SECRET_VALUE = f"ck-canary-{uuid.uuid4().hex}"
HOME_CANARY = Path.home() / f".ck_canary-{uuid.uuid4().hex[:8]}"  # unique: runs may overlap
# Children of the fork bombs run `sleep MARK`: easy to find on the host if any survive.
SLEEP_MARK = f"{900 + uuid.uuid4().int % 99}.{uuid.uuid4().int % 10**9:09d}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[Engine]:
    os.environ[SECRET_NAME] = SECRET_VALUE
    HOME_CANARY.write_text(SECRET_VALUE)
    config = EngineConfig(
        languages=LANGUAGES,
        pools={lang: PoolConfig(min_idle=1, max_kernels=4) for lang in LANGUAGES},
        isolation="require",
        policy="off",
        limits=LIMITS,
        timeout_s=DEATH_TIMEOUT_S,
        interrupt_grace_s=1.5,
        session_idle_timeout_s=None,
    )
    try:
        async with Engine(config) as eng:
            assert eng.sandboxed
            await eng.wait_ready()
            yield eng
    finally:
        os.environ.pop(SECRET_NAME, None)
        HOME_CANARY.unlink(missing_ok=True)


@pytest_asyncio.fixture(loop_scope="module")
async def python(engine: Engine) -> AsyncIterator[Session]:
    async with engine.session("python") as session:
        yield session


@pytest_asyncio.fixture(loop_scope="module")
async def session(engine: Engine, request: pytest.FixtureRequest) -> AsyncIterator[Session]:
    """A session in the language the test is parametrized with."""
    async with engine.session(request.param) as s:
        yield s


def lang_case(lang: str, value: Any = None, id: str | None = None) -> Any:
    """One parametrization of `session` and the test's `case`; JavaScript skips when absent."""
    marks = needs_js if lang == "javascript" else ()
    return pytest.param(lang, value, marks=marks, id=id or lang)


def by_language(*cases: Any) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(("session", "case"), cases, indirect=["session"])


async def ok(session: Session, code: str, **kwargs: Any) -> ExecutionResult:
    result = await session.execute(code, **kwargs)
    assert result.status == "ok", (result.error, result.stderr[-2000:])
    return result


def last_json(result: ExecutionResult) -> Any:
    return json.loads(result.stdout.strip().splitlines()[-1])


def kernel_tree(session: Session) -> list[psutil.Process]:
    assert session.kernel is not None
    return [p for pid in session.kernel.pids for p in process_tree(pid)]


async def settled(engine: Engine) -> None:
    """Wait until no pool is starting or stopping a kernel."""
    for _ in range(400):
        if all(s.starting == 0 and s.stopping == 0 for s in engine.stats().values()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"pools did not settle: {engine.stats()}")


def stray_processes(engine: Engine) -> list[psutil.Process]:
    """Our descendants that belong to no kernel the pools know about."""
    known: set[int] = set()
    for lang in engine.config.languages:
        for kernel in engine.pool(lang).kernels():
            known.update(p.pid for pid in kernel.pids for p in process_tree(pid))
    mine = alive(psutil.Process().children(recursive=True))
    return [p for p in mine if p.pid not in known]


def marked_processes() -> list[psutil.Process]:
    """Processes anywhere on the host whose command line carries the fork bombs' mark."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if SLEEP_MARK in " ".join(proc.info["cmdline"] or ()):
            found.append(proc)
    return alive(found)


# -- runaway code: timeouts and interrupts ---------------------------------------------------


INFINITE_LOOP = {"python": "while True:\n    pass", "javascript": "while (true) {}"}
STATE = {
    "python": ("kept = 41", "kept + 1", "42"),
    "javascript": ("var kept = 41", "kept + 1", "42"),
}


@by_language(
    lang_case("python", INFINITE_LOOP["python"]),
    lang_case("javascript", INFINITE_LOOP["javascript"]),
)
async def test_infinite_loop_times_out_is_interrupted_and_keeps_state(
    session: Session, case: str
) -> None:
    setup, probe, expected = STATE[session.language]
    await ok(session, setup)
    kernel = session.kernel
    result = await session.execute(case, timeout=1.5)
    assert result.status == "timeout", result.error
    assert result.error.ename == "Timeout" and "state was kept" in result.error.evalue
    assert not result.state_lost
    after = await ok(session, probe)
    assert after.text == expected and not after.state_lost
    assert session.kernel is kernel and session.restarts == 0


IGNORES_SIGINT = {
    # The kernel turns an interrupt into SIGINT to itself: ignored here.
    "python": (
        "import signal, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "while True:\n"
        "    time.sleep(0.05)"
    ),
    # V8 cannot break out of a blocking native call; the child shell ignores SIGINT too.
    "javascript": (
        'require("child_process").execSync('
        '"trap \\"\\" INT; while :; do sleep 0.2; done", { shell: "/bin/sh" })'
    ),
}


@by_language(
    lang_case("python", IGNORES_SIGINT["python"]),
    lang_case("javascript", IGNORES_SIGINT["javascript"]),
)
async def test_loop_ignoring_interrupts_escalates_to_a_restart(session: Session, case: str) -> None:
    setup, probe, _ = STATE[session.language]
    await ok(session, setup)
    old = kernel_tree(session)
    result = await session.execute(case, timeout=1.5)
    assert result.status == "timeout" and result.state_lost
    assert "kernel was replaced" in result.error.evalue
    assert not await wait_until_gone(old), "the stuck kernel was not stopped"
    after = await session.execute(probe)
    if session.language == "python":
        assert after.status == "error" and after.error.ename == "NameError"
    else:
        assert after.status == "error" and after.error.ename == "ReferenceError"
    assert (await ok(session, "6 * 7")).text == "42"
    assert session.restarts == 1


# -- the kernel process dies -----------------------------------------------------------------


@by_language(
    lang_case("python", ("import os\nos._exit(1)", "exited with status 1"), id="python-exit"),
    lang_case("python", ("import ctypes\nctypes.string_at(0)", "SIGSEGV"), id="python-segv"),
    lang_case("javascript", ("process.exit(1)", "exited with status 1"), id="javascript-exit"),
    lang_case("javascript", ("process.abort()", "SIGABRT"), id="javascript-abort"),
)
async def test_kernel_death_is_reported_and_the_pool_replaces_it(
    engine: Engine, session: Session, case: tuple[str, str]
) -> None:
    code, cause = case
    setup, probe, _ = STATE[session.language]
    await ok(session, setup)
    pool = engine.pool(session.language)
    await pool.wait_ready()
    started_before = pool.stats().started_total
    dead, old = session.kernel, kernel_tree(session)
    result = await session.execute(code, timeout=DEATH_TIMEOUT_S)
    assert result.status == "died", (result.status, result.error)
    assert result.error.ename == "KernelDied" and "state is lost" in result.error.evalue
    assert cause in result.error.evalue
    # Noticed by the liveness checks, not by running into the execution timeout.
    assert result.duration_s < DEATH_TIMEOUT_S / 2
    assert not await wait_until_gone(old)
    after = await session.execute(probe)
    assert after.state_lost and after.status == "error"  # `kept` is gone with the kernel
    assert session.kernel is not dead and (await ok(session, "6 * 7")).text == "42"
    await pool.wait_ready()
    assert pool.stats().started_total > started_before


# -- memory ----------------------------------------------------------------------------------


async def test_python_huge_allocation_is_a_memory_error_and_state_survives(
    python: Session,
) -> None:
    await ok(python, "kept = 41")
    before = rss()
    result = await python.execute("s = 'a' * 10**11")
    assert result.status == "error" and result.error.ename == "MemoryError"
    assert (await ok(python, "kept + 1")).text == "42"
    assert rss() - before < 50 * MIB


GROWING = {
    "python": "hoard = []\nwhile True:\n    hoard.append(b'x' * 10**7)",
    "javascript": "const hoard = [];\nwhile (true) hoard.push(new Array(1e6).fill(1.5));",
    # Buffers live outside the V8 heap: only the memory cgroup (or RLIMIT_AS) stops these.
    "javascript-buffers": "const bufs = [];\nwhile (true) bufs.push(Buffer.alloc(1 << 24, 1));",
}
# What a contained memory bomb may end as, besides the kernel being killed (`died`).
MEMORY_ERRORS = {"python": {"MemoryError"}, "javascript": {"RangeError"}}


@by_language(
    lang_case("python", GROWING["python"]),
    lang_case("javascript", GROWING["javascript"]),
    lang_case("javascript", GROWING["javascript-buffers"], id="javascript-buffers"),
)
async def test_growing_memory_is_stopped_by_the_limit(session: Session, case: str) -> None:
    before = rss()
    result = await session.execute(case, timeout=DEATH_TIMEOUT_S)
    if result.status == "died":  # killed by the memory cgroup, or aborted out of memory
        assert result.error.ename == "KernelDied" and "out of memory" in result.error.evalue
    else:
        assert result.status == "error", (result.status, result.error)
        assert result.error.ename in MEMORY_ERRORS[session.language], result.error
    assert result.duration_s < DEATH_TIMEOUT_S / 2
    # The host is unaffected and the session goes on (with a fresh kernel after a death).
    assert rss() - before < 50 * MIB
    after = await ok(session, "6 * 7")
    assert after.text == "42" and after.state_lost == (result.status == "died")


# -- processes -------------------------------------------------------------------------------


FORK_BOMB = {
    "python": f"""
import errno, json, os
kids, failure = [], None
for _ in range(10000):  # bounded, in case containment fails
    try:
        pid = os.fork()
    except OSError as exc:
        failure = exc
        break
    if pid == 0:
        try:
            os.execv("/bin/sleep", ["sleep", "{SLEEP_MARK}"])
        finally:
            os._exit(0)
    kids.append(pid)
print(json.dumps([len(kids), failure and errno.errorcode[failure.errno]]))
""",
    "javascript": f"""
const cp = require("child_process");
const kids = [];
const errors = {{}};
for (let i = 0; i < 2000; i++) {{  // bounded, in case containment fails
  const child = cp.spawn("/bin/sleep", ["{SLEEP_MARK}"], {{ stdio: "ignore" }});
  child.on("error", (e) => {{ errors[e.code] = (errors[e.code] || 0) + 1; }});
  kids.push(child);
}}
await new Promise((resolve) => setTimeout(resolve, 300));
const spawned = kids.filter((k) => k.pid).length;
console.log(JSON.stringify([spawned, Object.keys(errors).join(",")]));
""",
}


@by_language(
    lang_case("python", FORK_BOMB["python"]), lang_case("javascript", FORK_BOMB["javascript"])
)
async def test_fork_bomb_is_contained_and_leaves_no_process(
    engine: Engine, session: Session, case: str
) -> None:
    result = await ok(session, case, timeout=DEATH_TIMEOUT_S)
    spawned, failure = last_json(result)
    # The pids cgroup (threads count too) stopped it well before the loop's bound.
    assert failure == "EAGAIN" and 0 < spawned < LIMITS.pids
    # What the cell left behind is killed when it ends.
    assert not marked_processes()
    # A session that keeps background processes keeps them until it closes.
    async with engine.session(session.language, background_processes=True) as keeper:
        result = await ok(keeper, case, timeout=DEATH_TIMEOUT_S)
        spawned, failure = last_json(result)
        assert failure == "EAGAIN" and 0 < spawned < LIMITS.pids
        # The children are alive and findable by their mark (so the check below can fail).
        for _ in range(100):
            if len(marked_processes()) == spawned:
                break
            await asyncio.sleep(0.05)
        assert len(marked_processes()) == spawned
        tree = kernel_tree(keeper)
    assert not await wait_until_gone(tree)
    assert not marked_processes()
    await settled(engine)
    assert not stray_processes(engine)


# -- disk ------------------------------------------------------------------------------------


FILL = {
    "python": """
import errno, json, os
def fill(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while True:
            os.write(fd, b"x" * 2**20)
    except OSError as exc:
        return [errno.errorcode[exc.errno], os.fstat(fd).st_size]
    finally:
        os.close(fd)
""",
    "javascript": """
const fs = require("fs");
function fill(path) {
  const fd = fs.openSync(path, "w");
  const chunk = Buffer.alloc(1 << 20, 120);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    return [e.code, fs.fstatSync(fd).size];
  } finally {
    fs.closeSync(fd);
  }
}
""",
}
FILL_WORKSPACE = {
    "python": 'print(json.dumps(fill("/workspace/huge")))',
    "javascript": 'console.log(JSON.stringify(fill("/workspace/huge")))',
}
FILL_TMP = {
    # Files of at most fsize each, until the 64 MiB tmpfs is full.
    "python": """
os.remove("/workspace/huge")
for i in range(20):
    outcome = fill(f"/tmp/fill{i}")
    if outcome[0] != "EFBIG":
        break
print(json.dumps([outcome[0], sum(os.path.getsize(f"/tmp/fill{j}") for j in range(i + 1))]))
""",
    "javascript": """
fs.unlinkSync("/workspace/huge");
let outcome;
for (let i = 0; i < 20; i++) {
  outcome = fill(`/tmp/fill${i}`);
  if (outcome[0] !== "EFBIG") break;
}
const total = fs
  .readdirSync("/tmp")
  .filter((f) => f.startsWith("fill"))
  .reduce((n, f) => n + fs.statSync(`/tmp/${f}`).size, 0);
console.log(JSON.stringify([outcome[0], total]));
""",
}


@by_language(lang_case("python", None), lang_case("javascript", None))
async def test_disk_fill_stops_at_file_size_limit_and_tmpfs_cap(
    session: Session, case: None
) -> None:
    lang = session.language
    await ok(session, FILL[lang])
    assert last_json(await ok(session, FILL_WORKSPACE[lang])) == ["EFBIG", LIMITS.fsize_mb * MIB]
    # /workspace is a host directory: the file there really stopped at the limit.
    host_file = session.kernel.workdir / "huge"
    assert host_file.stat().st_size == LIMITS.fsize_mb * MIB
    error, total = last_json(await ok(session, FILL_TMP[lang]))
    assert error == "ENOSPC"
    assert LIMITS.fsize_mb * MIB < total <= LIMITS.tmpfs_mb * MIB
    assert not host_file.exists()


# -- output ----------------------------------------------------------------------------------


FLOOD = {
    # 1 GB in 1 MB messages, each flushed: unflushed, ipykernel holds every write until its
    # next 0.2 s flush, GBs of strings inside the kernel (see the unpaced test below).
    "python": (
        "import sys\n"
        "chunk = 'x' * 10**6\n"
        "for _ in range(1000):\n"
        "    sys.stdout.write(chunk)\n"
        "    sys.stdout.flush()\n"
        "finished = True"
    ),
    # 1 GB; the Node kernel itself stops forwarding a cell's output after 16 M characters.
    "javascript": (
        "const chunk = 'x'.repeat(1e6);\n"
        "for (let i = 0; i < 1000; i++) process.stdout.write(chunk);\n"
        "var finished = true;"
    ),
}


async def check_flood(session: Session, max_output_bytes: int) -> None:
    await ok(session, "1")
    with peak_rss() as memory:
        result = await session.execute(FLOOD[session.language], timeout=DEATH_TIMEOUT_S)
    assert result.status == "ok", result.error
    assert result.truncated
    assert len(result.stdout.encode()) <= max_output_bytes + 1024
    assert "output truncated" in result.stdout + result.stderr
    # Nothing past the cap was kept, and ZeroMQ did not queue the flood in our memory.
    assert memory["peak"] - memory["base"] < 100 * MIB, memory
    assert (await ok(session, "finished")).text.lower() == "true"


async def test_python_output_flood_is_truncated_and_host_memory_stays_bounded() -> None:
    # The engine reads only a few dozen messages ahead, so when this 2-core box is busy the
    # flood's backlog waits in the kernel's sender, inside the kernel's memory. That takes
    # the default 1 GiB: in 512 MiB ipykernel may fail its flushes and crawl (10 s each).
    config = EngineConfig(
        languages=("python",),
        pools={"python": PoolConfig(min_idle=1, max_kernels=2)},
        isolation="require",
        policy="off",
        limits=LIMITS.model_copy(update={"memory_mb": 1024}),
    )
    async with Engine(config) as engine, engine.session("python") as session:
        await check_flood(session, engine.config.max_output_bytes)


@needs_js
async def test_javascript_output_flood_is_truncated_and_host_memory_stays_bounded(
    engine: Engine,
) -> None:
    async with engine.session("javascript") as session:
        await check_flood(session, engine.config.max_output_bytes)


async def test_unpaced_python_flood_is_contained(engine: Engine, python: Session) -> None:
    """ipykernel keeps every write until its next flush, and IPython 9 tees every write into
    an in-kernel history: unchecked, a fast flood exhausts the kernel's own memory. The
    engine caps output inside pooled Python kernels too, so the cell runs to its end."""
    code = "import sys\nfor _ in range(1000):\n    sys.stdout.write('x' * 10**6)\nflooded = 1"
    with peak_rss() as memory:
        result = await python.execute(code, timeout=30)
    assert memory["peak"] - memory["base"] < 100 * MIB, memory
    assert result.status == "ok" and result.truncated, result.error
    assert len(result.stdout.encode()) <= engine.config.max_output_bytes + 1024
    after = await python.execute("flooded * 42", timeout=10)
    assert after.status == "ok" and after.text == "42" and not after.state_lost, after.error


async def test_forged_messages_cannot_outlast_the_timeout(python: Session) -> None:
    """Code in the kernel can write to its own iopub socket. Undecodable messages are
    dropped, and a steady stream of them must not keep the engine from its deadline."""
    code = (
        "import time\n"
        "sock = get_ipython().kernel.iopub_socket\n"
        "while True:\n"
        "    sock.send_multipart([b'not', b'a', b'jupyter', b'message'])\n"
        "    time.sleep(0.01)"
    )
    result = await python.execute(code, timeout=1.5)
    assert result.status == "timeout" and not result.state_lost, result.error
    assert (await ok(python, "6 * 7")).text == "42"


# -- network, secrets, host files ------------------------------------------------------------


NETWORK = {
    "python": """
import json, socket
def attempt(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return "connected"
    except OSError as exc:
        return type(exc).__name__ + ": " + str(exc)
print(json.dumps([attempt("127.0.0.1", PORT), attempt("1.1.1.1", 53)]))
""",
    "javascript": """
const net = require("net");
const attempt = (host, port) => new Promise((resolve) => {
  const s = net.connect({ host, port, timeout: 1000 });
  s.on("connect", () => { s.destroy(); resolve("connected"); });
  s.on("timeout", () => { s.destroy(); resolve("timeout"); });
  s.on("error", (e) => resolve(`${e.code}: ${e.message}`));
});
console.log(JSON.stringify([await attempt("127.0.0.1", PORT), await attempt("1.1.1.1", 53)]));
""",
}


@by_language(lang_case("python", NETWORK["python"]), lang_case("javascript", NETWORK["javascript"]))
async def test_no_network_the_hosts_loopback_canary_gets_no_connection(
    session: Session, case: str
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as canary:
        port = canary.getsockname()[1]
        result = await ok(session, case.replace("PORT", str(port)))
        canary.settimeout(0.5)
        with pytest.raises(TimeoutError):
            canary.accept()
    loopback, outside = last_json(result)
    # The kernel's own loopback (its network namespace) has nobody listening.
    assert "refused" in loopback.lower(), loopback
    # No route out at all: fails at once, nothing is sent.
    assert "unreach" in outside.lower(), outside  # ENETUNREACH


def bound_roots(lang: str) -> set[str]:
    """First path components under the project root that a kernel may legitimately see."""
    paths = [Path(sys.prefix), *map(Path, get_language(lang).sandbox_binds())]
    roots = set()
    for path in paths:
        try:
            roots.add(path.resolve().relative_to(PROJECT_ROOT).parts[0])
        except ValueError:
            continue
    return roots


SECRETS = {
    "python": """
import json, os
environs = []
for pid in os.listdir("/proc"):
    try:
        environs.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
    except (OSError, ValueError):
        pass
print(json.dumps({
    "env_name": NAME in os.environ,
    "env_value": any(VALUE in v for v in os.environ.values()) or any(VALUE in e for e in environs),
    "home_canary": os.path.exists(HOME_CANARY),
    "own_home_canary": os.path.exists(os.path.expanduser("~/.ck_canary")),
    "pyproject": os.path.exists(os.path.join(ROOT, "pyproject.toml")),
}))
""",
    "javascript": """
const fs = require("fs");
const os = require("os");
const environs = [];
for (const pid of fs.readdirSync("/proc")) {
  try { environs.push(fs.readFileSync(`/proc/${pid}/environ`, "latin1")); } catch (e) {}
}
console.log(JSON.stringify({
  env_name: NAME in process.env,
  env_value: Object.values(process.env).some((v) => v.includes(VALUE))
    || environs.some((e) => e.includes(VALUE)),
  home_canary: fs.existsSync(HOME_CANARY),
  own_home_canary: fs.existsSync(`${os.homedir()}/.ck_canary`),
  pyproject: fs.existsSync(`${ROOT}/pyproject.toml`),
}));
""",
}


@by_language(lang_case("python", SECRETS["python"]), lang_case("javascript", SECRETS["javascript"]))
async def test_host_secrets_are_invisible(session: Session, case: str) -> None:
    assert os.environ[SECRET_NAME] == SECRET_VALUE and HOME_CANARY.read_text() == SECRET_VALUE
    code = (
        case.replace("NAME", json.dumps(SECRET_NAME))
        .replace("VALUE", json.dumps(SECRET_VALUE))
        .replace("HOME_CANARY", json.dumps(str(HOME_CANARY)))
        .replace("ROOT", json.dumps(str(PROJECT_ROOT)))
    )
    seen = last_json(await ok(session, code))
    assert seen == {
        "env_name": False,
        "env_value": False,
        "home_canary": False,
        "own_home_canary": False,
        "pyproject": False,
    }


@by_language(lang_case("python", None), lang_case("javascript", None))
async def test_project_directory_shows_only_what_the_kernel_needs(
    session: Session, case: None
) -> None:
    listing = {
        "python": "import os, json\nprint(json.dumps(sorted(os.listdir(ROOT))))",
        "javascript": "console.log(JSON.stringify(require('fs').readdirSync(ROOT).sort()))",
    }[session.language].replace("ROOT", json.dumps(str(PROJECT_ROOT)))
    visible = set(last_json(await ok(session, listing)))
    assert visible <= bound_roots(session.language), visible
    assert "pyproject.toml" not in visible


HOST_WRITES = {
    "python": """
import json
outcome = {}
for path in PATHS:
    try:
        with open(path, "w") as f:
            f.write("x")
        outcome[path] = "written"
    except OSError as exc:
        outcome[path] = type(exc).__name__
print(json.dumps(outcome))
""",
    "javascript": """
const outcome = {};
for (const path of PATHS) {
  try {
    require("fs").writeFileSync(path, "x");
    outcome[path] = "written";
  } catch (e) {
    outcome[path] = e.code;
  }
}
console.log(JSON.stringify(outcome));
""",
}


@by_language(
    lang_case("python", HOST_WRITES["python"]), lang_case("javascript", HOST_WRITES["javascript"])
)
async def test_writes_to_host_paths_fail(session: Session, case: str) -> None:
    name = f"ck-chaos-{uuid.uuid4().hex[:8]}"
    dirs = ["/etc", "/usr", "/usr/bin", sys.prefix, str(PROJECT_ROOT), str(Path.home()), "/"]
    dirs += [str(Path(p).parent) for p in get_language(session.language).sandbox_binds()]
    targets = [os.path.join(d, name) for d in dict.fromkeys(dirs)]
    try:
        outcome = last_json(await ok(session, case.replace("PATHS", json.dumps(targets))))
        # Inside the sandbox /tmp is a private tmpfs: a checkout living under the host's /tmp
        # (as CI's may) has its path recreated there, so a write can "succeed" in the tmpfs.
        # What must never happen is the file appearing on the host (checked below).
        written = [p for p, what in outcome.items() if what == "written"]
        assert all(p.startswith("/tmp/") for p in written), outcome
    finally:
        leaked = [t for t in targets if os.path.exists(t)]
        for path in leaked:
            os.unlink(path)
    assert not leaked, f"the kernel wrote host files: {leaked}"


# -- after everything ------------------------------------------------------------------------


async def test_zz_nothing_leaked_and_a_fresh_engine_still_works(engine: Engine) -> None:
    """Runs last (file order): closes the shared engine, then checks the host is clean."""
    kernels = [p for p in kernel_processes() if p.is_running()]
    await engine.aclose()
    assert not await wait_until_gone(kernels)
    assert not alive(kernel_processes()), "kernel processes outlived their engine"
    assert not marked_processes(), "fork bomb children survived"
    assert not alive(psutil.Process().children(recursive=True))
    assert not cgroup_dirs_of(os.getpid()), "per-kernel cgroups were left behind"
    config = EngineConfig(
        languages=("python",),
        pools={"python": PoolConfig(min_idle=1, max_kernels=2)},
        isolation="require",
        policy="off",
    )
    async with Engine(config) as fresh:
        result = await fresh.execute("print(6 * 7)", "python")
    assert result.status == "ok" and result.stdout == "42\n"
    assert not await wait_until_gone(kernel_processes())
