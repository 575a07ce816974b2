"""Containment of one real sandboxed ipykernel, probed from inside and outside."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from jupyter_client import AsyncKernelClient, AsyncKernelManager
from sandbox._sandbox_support import KERNEL_UID, PROJECT_ROOT, last_json, requires_bwrap

from companion_kernel.sandbox import Limits, SandboxConfig
from companion_kernel.sandbox._probe import probe_kernel, run_code
from companion_kernel.sandbox.limits import MIB

pytestmark = [pytest.mark.kernel, requires_bwrap, pytest.mark.asyncio(loop_scope="module")]

LIMITS = Limits(memory_mb=768, pids=48, fsize_mb=8, nofile=128, cpu_seconds=600, tmpfs_mb=32)
HOST_ENV_CANARY = "CK_HOST_CANARY_" + uuid.uuid4().hex[:8].upper()


class Box:
    """The shared kernel and the host-side canaries planted before it started."""

    def __init__(self, km: AsyncKernelManager, kc: AsyncKernelClient, **canaries: Any) -> None:
        self.km, self.kc = km, kc
        self.provisioner: Any = km.provisioner
        self.canaries = canaries

    async def run(self, code: str) -> str:
        text, reply = await run_code(self.kc, code)
        assert reply["status"] == "ok", text
        return text

    async def json(self, code: str) -> Any:
        return last_json(await self.run(code))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Box]:
    workdir = tmp_path_factory.mktemp("workdir")
    home_canary = Path.home() / f".ck-canary-{uuid.uuid4().hex[:8]}"
    home_canary.write_text("host secret")
    fd, tmp_canary = tempfile.mkstemp(prefix="ck-canary-")
    os.close(fd)
    os.environ[HOST_ENV_CANARY] = "leaked"
    config = SandboxConfig(limits=LIMITS, workdir=str(workdir), env={"CK_EXTRA": "allowed"})
    try:
        async with probe_kernel(config) as (km, kc):
            yield Box(km, kc, home=str(home_canary), tmp=tmp_canary, workdir=str(workdir))
    finally:
        os.environ.pop(HOST_ENV_CANARY, None)
        home_canary.unlink()
        os.unlink(tmp_canary)


async def test_kernel_info_round_trip(box: Box) -> None:
    reply = await box.kc.kernel_info(reply=True, timeout=10)
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["language_info"]["name"] == "python"


async def test_no_network_not_even_the_hosts_loopback(box: Box) -> None:
    with socket.create_server(("127.0.0.1", 0)) as canary:
        canary.setblocking(False)
        port = canary.getsockname()[1]
        got = await box.json(f"""
import json, socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close(); r = "connected"
except OSError as e:
    r = type(e).__name__
print(json.dumps([r, [n for _, n in socket.if_nameindex()]]))
""")
        with pytest.raises(BlockingIOError):
            canary.accept()
    assert got == ["ConnectionRefusedError", ["lo"]]


async def test_host_environment_is_invisible(box: Box) -> None:
    env = await box.json("import os, json; print(json.dumps(dict(os.environ)))")
    assert HOST_ENV_CANARY not in env
    assert env["CK_EXTRA"] == "allowed"
    assert env["HOME"] == "/home/sandbox"
    assert "JPY_SESSION_NAME" not in env


async def test_host_home_and_tmp_are_invisible(box: Box) -> None:
    home, tmp = box.canaries["home"], box.canaries["tmp"]
    got = await box.json(f"""
import json, os
print(json.dumps([os.path.exists({home!r}), os.path.exists({tmp!r}),
                  os.path.basename({home!r}) in os.listdir(os.path.dirname({home!r}))
                  if os.path.isdir(os.path.dirname({home!r})) else False]))
""")
    assert got == [False, False, False]


async def test_project_is_invisible_and_our_package_unimportable(box: Box) -> None:
    paths = [str(PROJECT_ROOT / "pyproject.toml"), str(PROJECT_ROOT / "companion_kernel")]
    got = await box.json(f"""
import json, os, importlib.util
print(json.dumps([[os.path.exists(p) for p in {paths!r}],
                  importlib.util.find_spec("companion_kernel") is None]))
""")
    assert got == [[False, False], True]


async def test_host_paths_are_read_only(box: Box) -> None:
    venv = os.path.realpath(sys.prefix)
    targets = ["/usr/ck-probe", "/etc/ck-probe", "/ck-probe", f"{venv}/ck-probe"]
    got = await box.json(f"""
import errno, json
out = {{}}
for path in {targets!r}:
    try:
        open(path, "w").close(); out[path] = "written"
    except OSError as e:
        out[path] = errno.errorcode[e.errno]
print(json.dumps(out))
""")
    assert set(got.values()) <= {"EROFS", "EACCES"}, got
    assert not any(os.path.exists(t) for t in targets[3:])


async def test_workdir_is_writable_and_shared_with_the_host(box: Box) -> None:
    cwd = await box.json("""
import json, os
open("from-kernel.txt", "w").write("hello host")
print(json.dumps(os.getcwd()))
""")
    assert cwd == "/workspace"
    assert box.provisioner.host_workdir == os.path.realpath(box.canaries["workdir"])
    assert (Path(box.canaries["workdir"]) / "from-kernel.txt").read_text() == "hello host"


async def test_tmp_and_home_are_private_capped_tmpfs(box: Box) -> None:
    name = f"ck-private-{uuid.uuid4().hex[:8]}"
    got = await box.json(f"""
import json, os
open("/tmp/{name}", "w").write("x")
open(os.path.expanduser("~/{name}"), "w").write("x")
mounts = {{line.split()[1]: line.split()[2] for line in open("/proc/mounts")}}
sizes = [os.statvfs(p).f_blocks * os.statvfs(p).f_frsize for p in ("/tmp", os.environ["HOME"])]
print(json.dumps([mounts["/tmp"], mounts[os.environ["HOME"]], sizes]))
""")
    assert got == ["tmpfs", "tmpfs", [32 * MIB, 32 * MIB]]
    assert not os.path.exists(f"/tmp/{name}")


async def test_runs_as_an_unprivileged_user_in_its_own_pid_namespace(box: Box) -> None:
    got = await box.json("""
import getpass, json, os, socket
caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
pids = [p for p in os.listdir("/proc") if p.isdigit()]
print(json.dumps([os.getuid(), getpass.getuser(), socket.gethostname(), os.getppid(), caps,
                  len(pids)]))
""")
    uid, user, host, ppid, caps, nprocs = got
    assert (uid, user, host, ppid) == (KERNEL_UID, "sandbox", "sandbox", 1)
    assert int(caps, 16) == 0
    assert nprocs < 10  # bwrap's init and the kernel, not the host's processes


async def test_rlimits_are_in_force(box: Box) -> None:
    got = await box.json("""
import json, resource as r
print(json.dumps({n: r.getrlimit(getattr(r, "RLIMIT_" + n))
                  for n in ("AS", "FSIZE", "NOFILE", "CPU", "CORE")}))
""")
    assert got == {
        "AS": [768 * MIB] * 2,
        "FSIZE": [8 * MIB] * 2,
        "NOFILE": [128, 128],
        "CPU": [600, 605],
        "CORE": [0, 0],
    }


async def test_memory_limit_stops_an_allocation_and_the_kernel_survives(box: Box) -> None:
    got = await box.json("""
import json
try:
    b = bytearray(800 * 1024 * 1024); r = "allocated"
except MemoryError:
    r = "MemoryError"
print(json.dumps(r))
""")
    assert got == "MemoryError"
    assert await box.json("print(6 * 7)") == 42


async def test_file_size_limit_stops_a_large_write(box: Box) -> None:
    got = await box.json(f"""
import errno, json, os
fd = os.open("big.bin", os.O_WRONLY | os.O_CREAT)
try:
    os.pwrite(fd, b"x", {8 * MIB}); r = "written"
except OSError as e:
    r = errno.errorcode[e.errno]
os.close(fd); os.unlink("big.bin")
print(json.dumps(r))
""")
    assert got == "EFBIG"


async def test_pids_limit_stops_a_fork_loop(box: Box) -> None:
    got = await box.json("""
import errno, json, os
rd, wr = os.pipe(); kids = []; err = None
try:
    while len(kids) < 200:
        pid = os.fork()
        if pid == 0:
            os.close(wr); os.read(rd, 1); os._exit(0)
        kids.append(pid)
except OSError as e:
    err = errno.errorcode[e.errno]
finally:
    os.close(wr); os.close(rd)
    for pid in kids:
        os.waitpid(pid, 0)
print(json.dumps([len(kids), err]))
""")
    forked, err = got
    assert err == "EAGAIN" and 0 < forked < 48
    assert await box.json("print(1)") == 1


async def test_kernel_sits_in_its_cgroups_with_the_limits(box: Box) -> None:
    group = box.provisioner.cgroup
    if group is None:
        pytest.skip("no writable cgroups on this machine")
    assert box.provisioner.kernel_pid() in group.pids()
    if "pids" in group.dirs:
        assert group.read("pids", "pids.max") == "48"
    if "memory" in group.dirs:
        limit = group.read("memory", "memory.limit_in_bytes") or group.read("memory", "memory.max")
        assert limit == str(768 * MIB)


async def test_message_interrupt_stops_a_busy_loop_and_keeps_state(box: Box) -> None:
    await box.run("kept = 'state'")
    msg_id = box.kc.execute("print('running', flush=True)\nwhile True: pass")
    await _wait_running(box.kc, msg_id)
    await box.km.interrupt_kernel()
    reply = await _reply(box.kc, msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert await box.json("import json; print(json.dumps(kept))") == "state"


async def test_sigint_is_forwarded_to_the_kernel_not_to_bubblewrap(box: Box) -> None:
    msg_id = box.kc.execute("import time\nprint('running', flush=True)\ntime.sleep(60)")
    await _wait_running(box.kc, msg_id)
    await box.km.signal_kernel(signal.SIGINT)
    reply = await _reply(box.kc, msg_id)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert await box.km.is_alive()
    assert await box.json("import json; print(json.dumps(kept))") == "state"


async def _wait_running(kc: AsyncKernelClient, msg_id: str) -> None:
    """Wait until the cell printed 'running': its code is executing."""
    while True:
        msg = await kc.get_iopub_msg(timeout=30)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "stream"
            and "running" in msg["content"]["text"]
        ):
            return


async def _reply(kc: AsyncKernelClient, msg_id: str) -> dict[str, Any]:
    while True:
        msg = await kc.get_shell_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


async def test_sigint_reaches_the_kernels_subprocesses_too(box: Box) -> None:
    # system() ignores SIGINT in the caller: only a signal to the whole process group
    # (as jupyter sends outside a sandbox) stops the shell it waits for.
    code = "import os\nprint('running', flush=True)\nstatus = os.system('sleep 60')"
    msg_id = box.kc.execute(code)
    await _wait_running(box.kc, msg_id)
    await asyncio.sleep(0.3)  # let system() start the shell
    await box.km.signal_kernel(signal.SIGINT)
    reply = await _reply(box.kc, msg_id)
    assert reply["content"]["status"] == "ok"
    assert await box.json("import json; print(json.dumps(os.WTERMSIG(status)))") == signal.SIGINT
