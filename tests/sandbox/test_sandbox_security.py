"""The boundary holds when the engine is root (issue 11): validator off, isolation required.

Each class of attack is a small named test, run from every language where it applies.
Host-wide settings are only ever *opened* for writing (never written): the open must fail.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import pytest_asyncio
from sandbox._sandbox_support import KERNEL_UID, requires_bwrap

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel.languages import get_language
from companion_kernel.models import ExecutionResult
from companion_kernel.sandbox import Limits, _cgroups
from companion_kernel.sandbox._bwrap import PROC_MASKED
from companion_kernel.session import Session

pytestmark = [pytest.mark.kernel, requires_bwrap, pytest.mark.asyncio(loop_scope="module")]

JS_PROBLEM = get_language("javascript").check()
LANGUAGES = ("python", "shell") if JS_PROBLEM else ("python", "javascript", "shell")
WORKSPACE_MB, WORKSPACE_FILES = 24, 300
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="the engine runs as root only in CI and here")

# Host-wide kernel settings a root kernel could turn into host root (core_pattern runs
# a program as real root on the next crash), or use to break the host.
HOST_WIDE = (
    "/proc/sys/kernel/core_pattern",
    "/proc/sys/kernel/panic",
    "/proc/sys/kernel/randomize_va_space",
    "/proc/sys/kernel/modprobe",
    "/proc/sys/vm/drop_caches",
    "/proc/sys/fs/suid_dumpable",
    "/proc/sys/net/ipv4/ip_forward",
    "/proc/sysrq-trigger",
    "/sys/kernel/uevent_helper",
    "/sys/fs/cgroup/pids/cgroup.procs",
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[Engine]:
    config = EngineConfig(
        languages=LANGUAGES,
        pools={lang: PoolConfig(min_idle=0, max_kernels=3) for lang in LANGUAGES},
        isolation="require",
        policy="off",
        limits=Limits(workspace_mb=WORKSPACE_MB, workspace_files=WORKSPACE_FILES),
        timeout_s=60,
        session_idle_timeout_s=None,
    )
    async with Engine(config) as eng:
        yield eng


@pytest_asyncio.fixture(loop_scope="module")
async def session(engine: Engine, request: pytest.FixtureRequest) -> AsyncIterator[Session]:
    async with engine.session(request.param) as s:
        yield s


def each_language(*only: str) -> pytest.MarkDecorator:
    langs = [lang for lang in LANGUAGES if not only or lang in only]
    return pytest.mark.parametrize("session", langs, indirect=True)


async def run(session: Session, code: str) -> ExecutionResult:
    result = await session.execute(code)
    assert result.status == "ok", (result.stdout, result.stderr, result.error)
    return result


def last_json(result: ExecutionResult) -> Any:
    return json.loads(result.stdout.strip().splitlines()[-1])


# Each language opens every path for reading and writing (no truncation, no write) and
# prints {path: outcome}; "OPENED" would be a hole.
OPEN_RW = {
    "python": """
import json
out = {}
for p in PATHS:
    try:
        open(p, "r+b").close()
        out[p] = "OPENED"
    except OSError as e:
        out[p] = e.errno
print(json.dumps(out))
""",
    "javascript": """
const fs = require('fs');
const out = {};
for (const p of PATHS) {
  try { fs.closeSync(fs.openSync(p, 'r+')); out[p] = 'OPENED'; }
  catch (e) { out[p] = e.code; }
}
console.log(JSON.stringify(out));
""",
    "shell": """
out='{'; sep=
for p in PATHS; do
  if (exec 3<>"$p") 2>/dev/null; then r='"OPENED"'; else r='"refused"'; fi
  out="$out$sep\\"$p\\": $r"; sep=', '
done
echo "$out}"
""",
}


def with_paths(lang: str, paths: tuple[str, ...]) -> str:
    code = OPEN_RW[lang]
    if lang == "shell":
        return code.replace("PATHS", " ".join(paths))
    prefix = "const PATHS = " if lang == "javascript" else "PATHS = "
    return prefix + json.dumps(list(paths)) + "\n" + code


class TestHostIdentity:
    @each_language()
    async def test_kernel_processes_never_run_as_host_root(self, session: Session) -> None:
        got = await run(
            session,
            {
                "python": "import os; print(os.getuid(), os.geteuid(), os.getgid())",
                "javascript": "console.log(process.getuid(), process.geteuid(), process.getgid())",
                "shell": "echo $(id -u) $(id -u) $(id -g)",
            }[session.language],
        )
        assert got.stdout.split() == [str(KERNEL_UID)] * 3
        kernel = session.kernel
        assert kernel is not None
        sandboxed = [p for p in live(kernel.processes()) if p.info["name"] != "bwrap"]
        assert sandboxed, "the kernel's processes were not found"
        for proc in sandboxed:
            assert 0 not in proc.info["uids"], (proc.info["cmdline"], proc.info["uids"])
            assert 0 not in proc.info["gids"], (proc.info["cmdline"], proc.info["gids"])

    @each_language("python")
    async def test_no_capabilities_no_new_privileges_seccomp_on(self, session: Session) -> None:
        got = last_json(
            await run(
                session,
                """
import json
status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
print(json.dumps({k: status[k].strip() for k in
                  ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")}))
""",
            )
        )
        assert {k: got[k] for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")} == {
            k: "0000000000000000" for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")
        }
        assert got["NoNewPrivs"] == "1"
        assert got["Seccomp"] == "2"  # filter mode


class TestKernelInterfaces:
    @each_language()
    async def test_host_wide_settings_cannot_be_opened_for_writing(self, session: Session) -> None:
        got = last_json(await run(session, with_paths(session.language, HOST_WIDE)))
        assert set(got) == set(HOST_WIDE)
        opened = [p for p, outcome in got.items() if outcome == "OPENED"]
        assert opened == []

    @each_language("python")
    async def test_proc_sys_is_mounted_read_only_and_there_is_no_sys(
        self, session: Session
    ) -> None:
        got = last_json(
            await run(
                session,
                """
import json, os
ro = {}
for line in open("/proc/self/mountinfo"):
    fields = line.split()
    if fields[4] in ("/proc/sys", "/proc/irq", "/proc/bus", "/proc/fs"):
        ro[fields[4]] = "ro" in fields[5].split(",")
print(json.dumps({"ro": ro, "sys": os.path.exists("/sys")}))
""",
            )
        )
        assert got["sys"] is False
        assert got["ro"].get("/proc/sys") is True
        assert all(got["ro"].values()), got["ro"]

    @each_language("python")
    async def test_kernel_internals_under_proc_are_masked(self, session: Session) -> None:
        present = [p for p in PROC_MASKED if os.path.exists(p)]
        got = last_json(
            await run(
                session,
                f"""
import json, os
out = {{}}
for p in {present!r}:
    try:
        if os.path.isdir(p):
            out[p] = len(os.listdir(p))
        else:
            with open(p, "rb") as f:
                out[p] = len(f.read(4096))
    except OSError as e:
        out[p] = "E" + str(e.errno)
print(json.dumps(out))
""",
            )
        )
        leaks = {p: v for p, v in got.items() if isinstance(v, int) and v > 0}
        assert leaks == {}

    @each_language("python")
    async def test_other_kernels_files_are_invisible(
        self, engine: Engine, session: Session
    ) -> None:
        async with engine.session("python") as other:
            await run(other, "secret = 41")
            assert other.kernel is not None
            got = last_json(
                await run(
                    session,
                    """
import json, os, glob
print(json.dumps(sorted(glob.glob("/tmp/**/kernel.json", recursive=True))))
""",
                )
            )
            assert len(got) == 1  # only its own connection file
            assert other.kernel.id not in got[0]


class TestSeccomp:
    @each_language("python")
    async def test_calls_an_unprivileged_process_may_make_are_refused(
        self, session: Session
    ) -> None:
        import pyseccomp

        arch = pyseccomp.system_arch()
        numbers = {
            name: pyseccomp.resolve_syscall(arch, name)
            for name in (
                "keyctl",
                "add_key",
                "name_to_handle_at",
                "process_vm_readv",
                "kcmp",
                "unshare",
                "io_uring_setup",
                "userfaultfd",
                "perf_event_open",
                "bpf",
                "mount",
                "setns",
            )
        }
        # Arguments are harmless whatever happens: null pointers, zero lengths, own pid.
        got = last_json(
            await run(
                session,
                f"""
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
pid = os.getpid()
args = {{
    "keyctl": (0, -1, 0), "add_key": (0, 0, 0, 0, 0), "name_to_handle_at": (-100, 0, 0, 0, 0),
    "process_vm_readv": (pid, 0, 0, 0, 0, 0), "kcmp": (pid, pid, 0, 0, 0),
    "unshare": (0x10000000,), "io_uring_setup": (1, 0), "userfaultfd": (0,),
    "perf_event_open": (0, 0, -1, -1, 0), "bpf": (0, 0, 0), "mount": (0, 0, 0, 0, 0),
    "setns": (-1, 0),
}}
out = {{}}
for name, nr in {numbers!r}.items():
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args[name]])
    out[name] = ctypes.get_errno() if rc == -1 else "ALLOWED"
out["getpid"] = libc.syscall(ctypes.c_long(39)) == pid
print(json.dumps(out))
""",
            )
        )
        assert got.pop("getpid") is True  # the filter does not refuse everything
        expected = {name: errno.EPERM for name in numbers}
        expected["io_uring_setup"] = errno.ENOSYS
        assert got == expected

    @each_language("shell")
    async def test_no_new_namespaces_from_the_shell(self, session: Session) -> None:
        got = await run(session, "unshare -U true; echo rc=$?; unshare -n true; echo rc=$?")
        assert [w for w in got.stdout.split() if w.startswith("rc=")] == ["rc=1", "rc=1"]


@needs_root
class TestWorkspaceQuota:
    @each_language("python")
    async def test_bytes_stop_at_the_quota_with_enospc(self, session: Session) -> None:
        got = last_json(
            await run(
                session,
                f"""
import json, os
written, err = 0, None
try:
    with open("big.bin", "wb") as f:
        for _ in range({WORKSPACE_MB + 8}):
            f.write(b"x" * 1024 * 1024)
            written += 1
            f.flush()
except OSError as e:
    err = e.errno
os.remove("big.bin")
print(json.dumps([written, err]))
""",
            )
        )
        written, err = got
        assert err == errno.ENOSPC
        assert written <= WORKSPACE_MB

    @each_language("shell")
    async def test_files_stop_at_the_inode_quota(self, session: Session) -> None:
        got = await run(
            session,
            f"mkdir many; for i in $(seq {WORKSPACE_FILES + 50}); do "
            ": > many/$i 2>/dev/null || { echo stopped-at $i; break; }; done; rm -rf many",
        )
        assert "stopped-at" in got.stdout
        assert int(got.stdout.split()[-1]) <= WORKSPACE_FILES

    @each_language("python")
    async def test_workspace_is_its_own_capped_mount(self, session: Session) -> None:
        got = last_json(
            await run(
                session,
                """
import json, os
st = os.statvfs("/workspace")
print(json.dumps([st.f_blocks * st.f_frsize, st.f_files]))
""",
            )
        )
        assert got == [WORKSPACE_MB * 1024 * 1024, WORKSPACE_FILES]


class TestProcesses:
    @each_language("python", "shell")
    async def test_processes_a_cell_leaves_behind_are_killed(self, session: Session) -> None:
        start = {
            "python": "import subprocess\nfor _ in range(2): subprocess.Popen(['sleep', '987'])",
            "shell": "sleep 987 & sleep 987 & (while :; do :; done) &",
        }[session.language]
        await run(session, start)
        kernel = session.kernel
        assert kernel is not None
        left = [
            p.info["cmdline"]
            for p in live(kernel.processes())
            if p.info["name"] in ("sleep", "bash", "sh") and p.info["ppid"] != kernel_pid(session)
        ]
        assert left == []

    @each_language("python")
    async def test_a_spinner_left_by_a_cell_stops_using_the_cpu(self, session: Session) -> None:
        await run(
            session,
            "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'while True: pass'])",
        )
        kernel = session.kernel
        assert kernel is not None
        spinners = [p for p in live(kernel.processes()) if "while True" in str(p.info["cmdline"])]
        assert spinners == []

    async def test_background_processes_are_kept_when_the_session_opts_in(
        self, engine: Engine
    ) -> None:
        async with engine.session("shell", background_processes=True) as s:
            await run(s, "sleep 986 &")
            got = await run(s, "pgrep -c -f 'sleep 986'")
            assert got.stdout.strip() == "1"

    @needs_root
    @each_language("shell")
    async def test_the_kernel_tree_shares_one_cpu(self, session: Session) -> None:
        kernel = session.kernel
        assert kernel is not None
        support = _cgroups.detect()
        if support.cpu is None:
            pytest.skip("no writable cpu cgroup here")
        provisioner = kernel._km.provisioner  # type: ignore[attr-defined]
        cpu_dir = provisioner.cgroup.dirs["cpu"][0]
        quota_file = "cpu.cfs_quota_us" if support.cpu_version == "v1" else "cpu.max"
        quota = Path(cpu_dir, quota_file).read_text().split()[0]
        assert int(quota) == 100_000
        # The quota accounts the kernel's whole tree: spinning children add CFS periods.
        # (Whether they get throttled depends on what else the machine runs: not asserted.)
        before = _cpu_stat(cpu_dir)["nr_periods"]
        await run(session, "for i in 1 2; do timeout 0.5 sh -c 'while :; do :; done' & done; wait")
        assert _cpu_stat(cpu_dir)["nr_periods"] > before


def kernel_pid(session: Session) -> int | None:
    kernel = session.kernel
    provisioner = getattr(getattr(kernel, "_km", None), "provisioner", None)
    return provisioner.kernel_pid() if provisioner is not None else None


def _cpu_stat(cgroup_dir: str) -> dict[str, int]:
    lines = Path(cgroup_dir, "cpu.stat").read_text().splitlines()
    return {k: int(v) for k, v in (line.split() for line in lines)}


def live(pids: frozenset[int]) -> list[psutil.Process]:
    """The processes among ``pids`` that still run (not exited, not zombies)."""
    out = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            proc.info = proc.as_dict(["name", "cmdline", "uids", "gids", "ppid", "status"])
        except psutil.Error:
            continue
        if proc.info["status"] != psutil.STATUS_ZOMBIE:
            out.append(proc)
    return out


class TestDefaultEngine:
    async def test_the_core_pattern_chain_fails_with_the_default_engine(self) -> None:
        async with Engine(
            EngineConfig(languages=("python",), pools={"python": PoolConfig(min_idle=0)})
        ) as eng:
            result = await eng.execute(
                "open('/proc/sys/kernel/core_pattern', 'r+').close()", language="python"
            )
        assert result.status in ("error", "rejected"), result
        if result.status == "error":
            assert result.error is not None
            assert result.error.ename in ("PermissionError", "OSError")
