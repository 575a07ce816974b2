"""Start, restart, shutdown and misuse of the provisioner: nothing may be left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from sandbox._sandbox_support import (
    alive,
    cgroup_dirs_of,
    last_json,
    process_tree,
    requires_bwrap,
    wait_until_gone,
)

from companion_kernel.errors import SandboxError
from companion_kernel.sandbox import Limits, SandboxConfig, _cgroups, kernel_spec_metadata
from companion_kernel.sandbox._probe import PYTHON_ARGV, probe_kernel, run_code
from companion_kernel.sandbox.limits import MIB

pytestmark = [pytest.mark.kernel, requires_bwrap]


def manager(
    tmp_path: Path,
    metadata: dict[str, Any],
    *,
    argv: list[str] | None = None,
    transport: str = "ipc",
) -> AsyncKernelManager:
    """A kernel manager over a throw-away kernel spec (no global Jupyter folders)."""
    spec_dir = tmp_path / "kernels" / "k"
    spec_dir.mkdir(parents=True)
    spec = KernelSpec(
        argv=argv or list(PYTHON_ARGV),
        display_name="k",
        language="python",
        interrupt_mode="message",
        metadata=metadata,
    )
    (spec_dir / "kernel.json").write_text(spec.to_json())
    runtime = tmp_path / "rt"
    runtime.mkdir()
    km = AsyncKernelManager(
        kernel_name="k",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]),
        transport=transport,
        **({"ip": str(runtime / "kernel")} if transport == "ipc" else {}),
    )
    km.connection_file = str(runtime / "kernel.json")
    return km


@pytest.mark.parametrize("now", [False, True], ids=["graceful", "kill"])
async def test_shutdown_leaves_no_process_cgroup_or_directory(now: bool) -> None:
    async with probe_kernel(SandboxConfig()) as (km, kc):
        prov: Any = km.provisioner
        tree = process_tree(prov.pid)
        kernel_pid = prov.kernel_pid()
        assert kernel_pid in [p.pid for p in tree] and len(tree) == 3  # bwrap, its init, kernel
        names = {p.name() for p in tree}
        assert "bwrap" in names
        groups = [str(path) for path, _ in prov.cgroup.dirs.values()] if prov.cgroup else []
        ipc_dir, workdir = os.path.dirname(km.ip), prov.host_workdir
        assert os.path.isdir(ipc_dir) and os.path.isdir(workdir)
        kc.stop_channels()
        await km.shutdown_kernel(now=now)
        assert await wait_until_gone(tree) == []
        assert not any(os.path.exists(g) for g in groups)
        assert not os.path.exists(ipc_dir) and not os.path.exists(workdir)
        assert cgroup_dirs_of(os.getpid()) == []


async def test_restart_gets_new_cgroups_and_keeps_the_workdir(tmp_path: Path) -> None:
    async with probe_kernel(SandboxConfig(workdir=str(tmp_path))) as (km, kc):
        prov: Any = km.provisioner
        _, reply = await run_code(kc, "x = 1; open('kept.txt', 'w').write('yes')")
        assert reply["status"] == "ok"
        old_tree = process_tree(prov.pid)
        old_groups = [p for p, _ in prov.cgroup.dirs.values()] if prov.cgroup else []
        ip = km.ip
        await km.restart_kernel(now=True)
        await kc.wait_for_ready(timeout=60)
        assert km.ip == ip  # same private sockets directory
        text, _ = await run_code(kc, "print('x' in globals(), open('kept.txt').read())")
        assert text.split() == ["False", "yes"]
        assert await wait_until_gone(old_tree) == []
        assert not any(p.exists() for p in old_groups)
        if prov.cgroup:
            assert prov.kernel_pid() in prov.cgroup.pids()
    assert (tmp_path / "kept.txt").exists()  # not ours to delete
    assert cgroup_dirs_of(os.getpid()) == []


async def test_cwd_given_to_start_kernel_becomes_the_workdir(tmp_path: Path) -> None:
    async with probe_kernel(SandboxConfig(), cwd=str(tmp_path)) as (_, kc):
        text, _ = await run_code(kc, "import os; open('w.txt', 'w').write('1'); print(os.getcwd())")
        assert text.strip() == "/workspace"
    assert (tmp_path / "w.txt").read_text() == "1"


async def test_tcp_transport_is_refused_clearly(tmp_path: Path) -> None:
    km = manager(tmp_path, kernel_spec_metadata(), transport="tcp")
    with pytest.raises(SandboxError, match="ipc transport"):
        await km.start_kernel()
    assert cgroup_dirs_of(os.getpid()) == []


async def test_unknown_config_key_is_refused(tmp_path: Path) -> None:
    metadata = kernel_spec_metadata()
    metadata["kernel_provisioner"]["config"] = {"limitz": {}}
    with pytest.raises(SandboxError, match="limitz"):
        await manager(tmp_path, metadata).start_kernel()


async def test_invalid_limits_are_refused(tmp_path: Path) -> None:
    metadata = kernel_spec_metadata()
    metadata["kernel_provisioner"]["config"] = {"limits": {"pids": 0}}
    with pytest.raises(SandboxError, match="pids"):
        await manager(tmp_path, metadata).start_kernel()


async def test_missing_ro_bind_is_refused_and_cleaned_up(tmp_path: Path) -> None:
    km = manager(tmp_path, kernel_spec_metadata(SandboxConfig(ro_binds=("/nonexistent/ck",))))
    with pytest.raises(SandboxError, match="/nonexistent/ck"):
        await km.start_kernel()
    assert cgroup_dirs_of(os.getpid()) == []
    assert list((tmp_path / "rt").iterdir()) == []  # private ipc dir removed


async def test_kernel_file_outside_the_binds_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "outside" / "kernel.py"
    script.parent.mkdir()
    script.write_text("")
    argv = [sys.executable, str(script), "{connection_file}"]
    km = manager(tmp_path, kernel_spec_metadata(), argv=argv)
    with pytest.raises(SandboxError, match="ro_binds"):
        await km.start_kernel()
    assert list((tmp_path / "rt").iterdir()) == []  # connection file and ipc dir removed


async def test_unsandboxed_mode_still_applies_the_limits() -> None:
    limits = Limits(memory_mb=900, pids=40, nofile=100)
    async with probe_kernel(SandboxConfig(isolate=False, limits=limits)) as (km, kc):
        prov: Any = km.provisioner
        text, _ = await run_code(
            kc,
            """
import json, os, resource as r
print(json.dumps([r.getrlimit(r.RLIMIT_AS)[0], r.getrlimit(r.RLIMIT_NOFILE)[0], os.getcwd()]))
""",
        )
        assert last_json(text) == [900 * MIB, 100, prov.host_workdir]
        assert prov.kernel_pid() == prov.pid
        if prov.cgroup and "pids" in prov.cgroup.dirs:
            assert prov.pid in prov.cgroup.pids()
            assert prov.cgroup.read("pids", "pids.max") == "40"
            assert prov.enforcement["pids"].startswith("pids cgroup")
    assert cgroup_dirs_of(os.getpid()) == []


def test_sandbox_dies_with_a_killed_engine_and_its_cgroups_are_swept() -> None:
    script = """
import asyncio, json, os
from companion_kernel.sandbox import SandboxConfig
from companion_kernel.sandbox._probe import probe_kernel
async def main():
    async with probe_kernel(SandboxConfig()) as (km, kc):
        p = km.provisioner
        tmp = os.path.dirname(os.path.dirname(km.connection_file))
        print(json.dumps([p.pid, p.kernel_pid(), tmp]), flush=True)
        await asyncio.sleep(120)
asyncio.run(main())
"""
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as engine:
        try:
            assert engine.stdout is not None
            bwrap_pid, kernel_pid, tmp = json.loads(engine.stdout.readline())
            tree = process_tree(bwrap_pid)
            assert kernel_pid in [p.pid for p in tree]
            assert cgroup_dirs_of(engine.pid) != []
        finally:
            engine.kill()
    deadline = time.monotonic() + 10
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(tree) == []  # --die-with-parent: no orphaned kernel
    shutil.rmtree(tmp, ignore_errors=True)
    _cgroups.sweep_stale(_cgroups.detect())
    assert cgroup_dirs_of(engine.pid) == []


async def test_unsandboxed_kernels_get_no_host_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"ck-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("CK_TEST_API_TOKEN", secret)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    async with probe_kernel(SandboxConfig(isolate=False, env={"KEEP_ME": "1"})) as (_, kc):
        text, _ = await run_code(kc, "import json, os; print(json.dumps(dict(os.environ)))")
    env = last_json(text)
    assert "CK_TEST_API_TOKEN" not in env
    assert secret not in text
    assert env.get("LC_ALL") == "C.UTF-8" and "PATH" in env


_SIGTERM_ENGINE = """
import asyncio, json
from companion_kernel import Engine, EngineConfig, PoolConfig

async def main():
    cfg = EngineConfig(languages=("python",), isolation="require", policy="off",
                       pools={"python": PoolConfig(min_idle=1)})
    async with Engine(cfg) as engine:
        await engine.wait_ready()
        s = await engine.create_session("python")
        ran = asyncio.Event()
        cell = asyncio.ensure_future(s.execute(
            "import time\\nprint('x', flush=True)\\ntime.sleep(600)",
            on_stdout=lambda _: ran.set()))
        await asyncio.wait_for(ran.wait(), 120)
        await engine.wait_ready()  # the refill too
        pids = [p for k in engine.pool("python").kernels() for p in k.pids]
        print(json.dumps([pids, str(engine._reaper.runtime_dir)]), flush=True)
        await cell
asyncio.run(main())
"""


def test_sigterm_to_a_sandboxed_engine_leaves_no_kernel_cgroup_or_directory() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _SIGTERM_ENGINE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as engine:
        try:
            assert engine.stdout is not None and engine.stderr is not None
            line = engine.stdout.readline()
            assert line, engine.stderr.read()
            pids, runtime = json.loads(line)
            tree = [p for pid in pids for p in process_tree(pid)]
            assert len(pids) == 2 and cgroup_dirs_of(engine.pid) != []
            engine.send_signal(signal.SIGTERM)
            status = engine.wait(60)
            stderr = engine.stderr.read()
        finally:
            if engine.poll() is None:
                engine.kill()
    assert status == -signal.SIGTERM, stderr
    assert alive(tree) == []
    assert cgroup_dirs_of(engine.pid) == []  # removed by the engine itself, not a later sweep
    assert not os.path.exists(runtime)


async def test_a_kernel_that_fails_to_start_says_why(tmp_path: Path) -> None:
    from companion_kernel._kernel import LocalKernel
    from companion_kernel.errors import KernelStartError

    argv = [sys.executable, "-c", "import sys; sys.exit('boom: bad kernel config')"]
    spec = KernelSpec(
        argv=argv,
        display_name="broken",
        language="python",
        interrupt_mode="message",
        metadata=kernel_spec_metadata(SandboxConfig()),
    )
    kernel = LocalKernel("python", spec, tmp_path)
    with pytest.raises(KernelStartError, match="boom: bad kernel config"):
        await kernel.start(timeout=30)
    assert not (tmp_path / kernel.id).exists()


def test_the_reaper_removes_cgroups_of_kernels_it_never_saw_run(tmp_path: Path) -> None:
    """A kernel's cgroups exist before its process does, and outlive it when a close is
    cut short: the reaper finds them by owner, not through the kernel's processes."""
    from companion_kernel.engine import _Reaper

    support = _cgroups.detect()
    if not (support.pids or support.memory):
        pytest.skip("no usable cgroup controller")
    runtime = tmp_path / "ck-rt"
    runtime.mkdir()
    mine = _cgroups.KernelCgroup.create(
        support, pids=64, memory_bytes=64 * MIB, owner=f"{runtime}/k1/kernel.json"
    )
    other = _cgroups.KernelCgroup.create(
        support, pids=64, memory_bytes=None, owner=f"{tmp_path}/ck-rt2/k1/kernel.json"
    )
    try:
        assert mine.dirs and other.dirs
        assert _cgroups.live_dirs(f"{runtime}/") == {str(p) for p, _ in mine.dirs.values()}
        _Reaper(runtime)()
        assert not any(path.exists() for path, _ in mine.dirs.values())
        assert all(path.exists() for path, _ in other.dirs.values())  # another engine's
        assert _cgroups.live_dirs(f"{runtime}/") == set()
    finally:
        mine.remove_now()
        other.remove_now()
    assert _cgroups.live_dirs(f"{tmp_path}/") == set()
