"""``doctor``: check what this machine can do, measuring every limit instead of assuming it.

Starts one probe kernel under the provisioner (sandboxed when bubblewrap works) and
attacks it mildly: a TCP connect to a listener on the host's loopback, more forks and
open files than allowed, a write past the file-size limit, an allocation past the
memory limit. Also checks Node, our Node kernel's modules and the kernel specs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from . import _cgroups, _seccomp
from ._bwrap import sandbox_env
from ._isolation import IsolationMode, bwrap_available, engine_is_root, python_roots
from ._probe import probe_kernel, run_code
from .limits import MIB, Limits
from .provisioner import SandboxConfig

__all__ = ["KERNEL_SPECS", "Check", "all_required_ok", "run_checks"]

KERNEL_SPECS = ("companion-python", "companion-javascript", "companion-shell")
"""The kernel specs the engine installs."""

_PACKAGE = Path(__file__).resolve().parents[1]
_NODE_DIR = _PACKAGE / "kernels" / "node"

# Runs inside the probe kernel; PARAMS is replaced by a JSON object.
_PROBE_CODE = r"""
import errno as _e, json as _j, os as _o, resource as _r, socket as _s
_p = _j.loads(PARAMS)
_out = {"rlimits": {n: list(_r.getrlimit(getattr(_r, "RLIMIT_" + n)))
                    for n in ("AS", "FSIZE", "NOFILE", "CPU", "CORE")}}
def _err(exc):
    return _e.errorcode.get(getattr(exc, "errno", None) or 0, type(exc).__name__)
try:
    _s.create_connection(("127.0.0.1", _p["port"]), timeout=2).close()
    _out["connect"] = "connected"
except OSError as exc:
    _out["connect"] = _err(exc)
_out["interfaces"] = sorted(n for _, n in _s.if_nameindex())
_out["ids"] = [_o.getuid(), _o.geteuid(), _o.getgid()]
_st = dict(_l.split(":", 1) for _l in open("/proc/self/status") if ":" in _l)
_out["status"] = {_k: _st[_k].strip() for _k in ("CapEff", "NoNewPrivs", "Seccomp") if _k in _st}
_out["hostwide"] = []
for _path in _p["hostwide"]:
    try:
        open(_path, "r+b").close()  # opened only: nothing is ever written
        _out["hostwide"].append(_path)
    except OSError:
        pass
_ws = _o.statvfs(".")
_out["workspace"] = [_ws.f_blocks * _ws.f_frsize, _ws.f_files]
_out["visible"] = [p for p in _p["hidden"] if _o.path.exists(p)]
_out["env"] = dict(_o.environ)
_out["writable"] = []
for _path in _p["readonly"]:
    try:
        with open(_path, "w") as _f:
            _f.write("x")
        _out["writable"].append(_path)
        _o.unlink(_path)
    except OSError:
        pass
try:
    with open("ck-doctor-probe", "w") as _f:
        _f.write("ok")
    _o.unlink("ck-doctor-probe")
    _out["cwd_writable"] = True
except OSError:
    _out["cwd_writable"] = False
_st = _o.statvfs("/tmp")
_out["tmp_bytes"] = _st.f_blocks * _st.f_frsize
try:
    _b = bytearray(_p["alloc"])
    _out["alloc"] = "allocated"
    del _b
except MemoryError:
    _out["alloc"] = "MemoryError"
_name = "/tmp/ck-fsize-probe-%d" % _o.getpid()
_fd = _o.open(_name, _o.O_WRONLY | _o.O_CREAT | _o.O_EXCL, 0o600)
try:
    _o.pwrite(_fd, b"x", _p["fsize"])
    _out["fsize"] = "written"
except OSError as exc:
    _out["fsize"] = _err(exc)
finally:
    _o.close(_fd)
    _o.unlink(_name)
_fds = []
try:
    while len(_fds) < _p["nofile"]:
        _fds.append(_o.open("/dev/null", _o.O_RDONLY))
    _out["nofile"] = "unlimited"
except OSError as exc:
    _out["nofile"] = _err(exc)
finally:
    for _fd in _fds:
        _o.close(_fd)
_out["opened"] = len(_fds)
_rd, _wr = _o.pipe()
_kids = []
try:
    while len(_kids) < _p["forks"]:
        _pid = _o.fork()
        if _pid == 0:
            _o.close(_wr)
            _o.read(_rd, 1)
            _o._exit(0)
        _kids.append(_pid)
    _out["fork"] = "unlimited"
except OSError as exc:
    _out["fork"] = _err(exc)
finally:
    _o.close(_wr)
    _o.close(_rd)
    for _pid in _kids:
        _o.waitpid(_pid, 0)
_out["forked"] = len(_kids)
print(_j.dumps(_out))
"""


class Check(BaseModel):
    """One doctor finding."""

    model_config = ConfigDict(frozen=True)

    name: str
    """What was checked."""
    ok: bool
    """Whether it works."""
    detail: str
    """What was found or measured."""
    fix: str = ""
    """How to fix it (empty when ok)."""
    required: bool = True
    """Whether a failure should make ``doctor`` exit non-zero."""


def all_required_ok(checks: list[Check]) -> bool:
    """True when no required check failed."""
    return all(c.ok or not c.required for c in checks)


def _check(name: str, ok: bool, detail: str, fix: str = "", *, required: bool = True) -> Check:
    return Check(name=name, ok=ok, detail=detail, fix="" if ok else fix, required=required)


async def run_checks(
    isolation: IsolationMode = "auto", limits: Limits | None = None
) -> list[Check]:
    """Run every check; never raises for a failing check (it becomes ``ok=False``)."""
    limits = limits or Limits()
    checks: list[Check] = []
    ok, detail = bwrap_available()
    sandboxed = ok and isolation != "off"
    checks.append(
        _check(
            "bubblewrap",
            ok,
            detail,
            "install it (apt-get install bubblewrap) and allow user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1 when not root)",
            required=isolation == "require",
        )
    )
    if isolation == "off":
        state, state_ok = "off: kernels run without a sandbox (limits still apply)", True
    elif sandboxed:
        state, state_ok = f"{isolation}: kernels run inside bubblewrap", True
    else:
        state, state_ok = f"{isolation}: bubblewrap unusable, kernels run WITHOUT isolation", False
    checks.append(_check("isolation", state_ok, state, "see the bubblewrap row", required=False))
    checks.append(_cgroup_check(limits))
    checks += await _kernel_checks(sandboxed, limits)
    checks += await asyncio.to_thread(_node_checks)
    checks.append(await _node_kernel_check(sandboxed, limits))
    checks += await asyncio.to_thread(_kernelspec_checks)
    return checks


def _cgroup_check(limits: Limits) -> Check:
    support = _cgroups.detect()
    where = [
        f"{c}: {support.describe(c)} ({getattr(support, c)})"
        for c in ("pids", "memory", "cpu")
        if getattr(support, c)
    ]
    ok = support.pids is not None or os.geteuid() != 0 or limits.pids is None
    return _check(
        "cgroups",
        ok,
        "; ".join(where) or support.detail or "none",
        "mount the pids, memory and cpu cgroup controllers writable for this user "
        "(as root without them, the process limit cannot be enforced)",
        required=False,
    )


def _hidden_candidates() -> list[str]:
    """Host paths a sandboxed kernel must not see: home entries and project files."""
    bound = python_roots()
    home = Path.home()
    out = []
    with contextlib.suppress(OSError):
        for entry in sorted(os.listdir(home))[:20]:
            path = str(home / entry)
            if not any(b == path or b.startswith(path + "/") for b in bound):
                out.append(path)
    out += [str(_PACKAGE / "errors.py"), str(_PACKAGE.parent / "pyproject.toml")]
    return out


async def _kernel_checks(sandboxed: bool, limits: Limits) -> list[Check]:
    checks: list[Check] = []
    kind = "sandboxed" if sandboxed else "plain (limits only)"
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    params = {
        "port": listener.getsockname()[1],
        # Unsandboxed, these paths are the host's own: never try to write them then.
        "hidden": _hidden_candidates() if sandboxed else [],
        "readonly": [f"{root}/ck-doctor-probe" for root in ("/usr", "/etc", *python_roots())]
        if sandboxed
        else [],
        "alloc": (limits.memory_mb or 0) * MIB + 64 * MIB,
        "fsize": (limits.fsize_mb or 0) * MIB + 1,
        "nofile": (limits.nofile or 4096) + 16,
        "forks": (limits.pids or 256) + 16,
        # Opened for writing, never written: host-wide settings a root kernel could abuse.
        "hostwide": list(_HOST_WIDE) if sandboxed else [],
    }
    code = _PROBE_CODE.replace("PARAMS", repr(json.dumps(params)))
    started = time.perf_counter()
    try:
        config = SandboxConfig(isolate=sandboxed, limits=limits, workspace_quota=True)
        async with probe_kernel(config) as (km, kc):
            cold = time.perf_counter() - started
            checks.append(
                _check("probe kernel", True, f"{kind}; kernel_info reply in {cold:.2f} s")
            )
            provisioner: Any = km.provisioner
            group = provisioner.cgroup
            kernel_pid = provisioner.kernel_pid()
            text, reply = await run_code(kc, code, timeout=60)
            if reply.get("status") != "ok":
                raise RuntimeError(f"probe code failed: {text[-500:]}")
            measured = json.loads(text.strip().splitlines()[-1])
            memory_cgroup = group.read("memory", "memory.limit_in_bytes") if group else None
            if memory_cgroup is None and group:
                memory_cgroup = group.read("memory", "memory.max")
            in_group = group is not None and kernel_pid in group.pids()
            host_uids = _host_uids(kernel_pid)
            enforcement = dict(provisioner.enforcement)
            cpu_quota = group.read("cpu", "cpu.cfs_quota_us") if group else None
            if cpu_quota is None and group:
                cpu_quota = (group.read("cpu", "cpu.max") or "").split(" ")[0] or None
    except Exception as exc:
        return [
            _check(
                "probe kernel",
                False,
                f"{kind}: {type(exc).__name__}: {exc}",
                "run with --json for details; check that ipykernel is installed",
            )
        ]
    finally:
        try:
            accepted = listener.accept()[0]
            accepted.close()
            leaked = True
        except BlockingIOError:
            leaked = False
        listener.close()
    if sandboxed:
        checks += _sandbox_checks(measured, leaked, limits)
        checks += _boundary_checks(measured, host_uids, enforcement)
    checks += _limit_checks(measured, limits, memory_cgroup, in_group)
    checks += _quota_checks(measured, limits, cpu_quota, sandboxed)
    return checks


_HOST_WIDE = (
    "/proc/sys/kernel/core_pattern",
    "/proc/sys/kernel/panic",
    "/proc/sys/kernel/randomize_va_space",
    "/proc/sysrq-trigger",
    "/sys/kernel/uevent_helper",
)


def _host_uids(pid: int | None) -> list[int]:
    """The kernel process's real, effective and saved uid as the host sees them."""
    import psutil

    try:
        return list(psutil.Process(pid).uids()) if pid else []
    except psutil.Error:
        return []


def _boundary_checks(
    m: dict[str, Any], host_uids: list[int], enforcement: dict[str, str]
) -> list[Check]:
    status = m["status"]
    root_inside = 0 in m["ids"]
    return [
        _check(
            "sandbox: host identity",
            bool(host_uids) and 0 not in host_uids and not root_inside,
            f"kernel runs as host uid {enforcement.get('host_uid', '?')}; measured "
            f"{host_uids}; capabilities {status.get('CapEff', '?')}, "
            f"no_new_privs {status.get('NoNewPrivs', '?')}",
            "the kernel must never be host uid 0: as root, setpriv (util-linux) must be "
            "installed; see SandboxConfig.host_uid",
        ),
        _check(
            "sandbox: seccomp",
            status.get("Seccomp") == "2",
            f"filter mode {status.get('Seccomp', '?')}: {_seccomp.available()[1]}",
            "install libseccomp2 and the pyseccomp package",
        ),
        _check(
            "sandbox: host-wide settings",
            not m["hostwide"],
            "/proc/sys and friends refuse writes; no /sys"
            if not m["hostwide"]
            else f"writable: {m['hostwide']}",
            "the kernel must not run as host root and /proc/sys must be read-only",
        ),
    ]


def _quota_checks(
    m: dict[str, Any], limits: Limits, cpu_quota: str | None, sandboxed: bool
) -> list[Check]:
    out = []
    if limits.cpus is not None:
        want = int(limits.cpus * 100_000)
        out.append(
            _check(
                "limit: CPU share",
                cpu_quota is not None and int(cpu_quota) == want,
                f"cpu cgroup quota {int(cpu_quota) / 100_000:g} CPU"
                if cpu_quota is not None
                else "no cpu cgroup: a kernel may use every core",
                "mount the cpu cgroup controller writable",
                required=False,
            )
        )
    if limits.workspace_mb is not None and sandboxed:
        size, files = m["workspace"]
        ok = size == limits.workspace_mb * MIB
        out.append(
            _check(
                "limit: workspace quota",
                ok,
                f"/workspace is a {size // MIB} MiB tmpfs with {files} inodes"
                if ok
                else "not enforced: the workspace is a plain host directory"
                + ("" if engine_is_root() else " (mounting a capped tmpfs needs root)"),
                "run the engine as root (it mounts a size-capped tmpfs per workspace)",
                required=False,
            )
        )
    return out


# ipykernel sets these in its own process, so a probe kernel has them whatever the sandbox
# passes in; when doctor itself runs inside a notebook the host has the same values.
_KERNEL_SET_ENV = frozenset(
    {"CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "GIT_PAGER", "PAGER", "MPLBACKEND", "TERM"}
)


def _sandbox_checks(measured: dict[str, Any], leaked: bool, limits: Limits) -> list[Check]:
    blocked = measured["connect"] != "connected" and not leaked
    extra_ifaces = [i for i in measured["interfaces"] if i != "lo"]
    # A host variable leaks when it shows up inside with the host's value.
    base = sandbox_env(path=[], node_heap_mb=limits.node_heap_mb)
    inside = measured["env"]
    leaked_env = sorted(
        k
        for k, v in os.environ.items()
        if k not in base and k not in _KERNEL_SET_ENV and inside.get(k) == v
    )
    out = [
        _check(
            "sandbox: no network",
            blocked and not extra_ifaces,
            f"connect to host 127.0.0.1: {measured['connect']}; interfaces: "
            f"{', '.join(measured['interfaces'])}",
            "bubblewrap must get --unshare-net (a network namespace)",
        ),
        _check(
            "sandbox: host hidden",
            not measured["visible"] and not leaked_env,
            "host home, project files and environment invisible"
            if not measured["visible"] and not leaked_env
            else f"visible: {measured['visible'][:3]} env: {leaked_env[:5]}",
            "check the provisioner's ro_binds: bind only what the kernel needs",
        ),
        _check(
            "sandbox: read-only host",
            not measured["writable"] and measured["cwd_writable"],
            "system and venv read-only; working directory writable"
            if not measured["writable"]
            else f"writable: {measured['writable']}",
            "binds of host paths must be read-only (--ro-bind)",
        ),
    ]
    if limits.tmpfs_mb is not None:
        got = measured["tmp_bytes"] // MIB
        out.append(
            _check(
                "limit: tmpfs size",
                got == limits.tmpfs_mb,
                f"/tmp is {got} MiB (limit {limits.tmpfs_mb} MiB)",
                "bubblewrap >= 0.5 is needed for --size",
                required=False,
            )
        )
    return out


def _limit_checks(
    m: dict[str, Any], limits: Limits, memory_cgroup: str | None, in_group: bool
) -> list[Check]:
    rl = m["rlimits"]
    out = []
    if limits.memory_mb is not None:
        want = limits.memory_mb * MIB
        out.append(
            _check(
                "limit: memory (address space)",
                rl["AS"] == [want, want] and m["alloc"] == "MemoryError",
                f"RLIMIT_AS {rl['AS'][0] // MIB} MiB; allocating {limits.memory_mb + 64} MiB: "
                f"{m['alloc']}",
                "prlimit (util-linux) or the Python fallback must run before the kernel",
            )
        )
        out.append(
            _check(
                "limit: memory (cgroup)",
                memory_cgroup is not None and int(memory_cgroup) == want and in_group,
                f"memory cgroup limit {int(memory_cgroup) // MIB} MiB, kernel inside: {in_group}"
                if memory_cgroup is not None
                else "no memory cgroup (only the per-process address-space limit applies)",
                "mount the memory cgroup controller writable",
                required=False,
            )
        )
    if limits.pids is not None:
        out.append(
            _check(
                "limit: processes",
                m["fork"] == "EAGAIN" and m["forked"] < limits.pids,
                f"fork stopped after {m['forked']} children ({m['fork']}); limit {limits.pids} "
                "tasks incl. threads",
                "needs a writable pids cgroup when running as root (RLIMIT_NPROC is not "
                "enforced for root)",
                required=False,
            )
        )
    if limits.fsize_mb is not None:
        out.append(
            _check(
                "limit: file size",
                m["fsize"] == "EFBIG",
                f"RLIMIT_FSIZE {rl['FSIZE'][0] // MIB} MiB; writing past it: {m['fsize']}",
                "prlimit must set --fsize",
            )
        )
    if limits.nofile is not None:
        out.append(
            _check(
                "limit: open files",
                m["nofile"] == "EMFILE" and rl["NOFILE"] == [limits.nofile, limits.nofile],
                f"RLIMIT_NOFILE {rl['NOFILE'][0]}; "
                f"stopped after {m['opened']} more ({m['nofile']})",
                "prlimit must set --nofile",
            )
        )
    if limits.cpu_seconds is not None:
        want_cpu = [limits.cpu_seconds, limits.cpu_seconds + 5]
        out.append(
            _check(
                "limit: CPU time",
                rl["CPU"] == want_cpu and rl["CORE"] == [0, 0],
                f"RLIMIT_CPU {rl['CPU'][0]} s (SIGKILL at {rl['CPU'][1]} s); core dumps off",
                "prlimit must set --cpu",
            )
        )
    return out


def _node_checks() -> list[Check]:
    node = shutil.which("node")
    if node is None:
        return [
            _check(
                "node",
                False,
                "node not found on PATH",
                "install Node.js 20 or newer (the JavaScript kernel needs it)",
            )
        ]
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        version = f"unusable: {exc}"
    checks = [_check("node", version.startswith("v"), f"{version} at {node}", "reinstall Node.js")]
    installed, detail = _node_modules()
    checks.append(
        _check(
            "node kernel modules", installed, detail, f"cd {_NODE_DIR} && npm ci   (or: make setup)"
        )
    )
    return checks


def _node_modules() -> tuple[bool, str]:
    try:
        from ..kernels.node import check_installed
    except ImportError:
        zmq = _NODE_DIR / "node_modules" / "zeromq"
        return zmq.is_dir(), f"{zmq} {'present' if zmq.is_dir() else 'missing'}"
    try:
        problem = check_installed()
    except Exception as exc:
        return False, f"check_installed() failed: {exc}"
    return problem is None, problem or f"installed in {_NODE_DIR}"


async def _node_kernel_check(sandboxed: bool, limits: Limits) -> Check:
    """Our Node kernel must start under its address-space limit, with the heap cap applied."""
    node = shutil.which("node")
    script = _NODE_DIR / "kernel.js"
    if node is None or not script.is_file() or not _node_modules()[0]:
        return _check(
            "node kernel under limits",
            False,
            "Node or our Node kernel is missing",
            "see the node rows above",
        )
    config = SandboxConfig(isolate=sandboxed, limits=limits, ro_binds=(str(_NODE_DIR),))
    argv = [node, str(script), "{connection_file}"]
    address_space = (limits.address_space_bytes(node=True) or 0) // MIB
    where = "sandboxed" if sandboxed else "unsandboxed"
    try:
        async with probe_kernel(config, argv=argv, language="javascript", start_timeout=30) as (
            _,
            kc,
        ):
            text, reply = await run_code(
                kc, "console.log(require('v8').getHeapStatistics().heap_size_limit)"
            )
        heap = int(text.strip().splitlines()[-1]) // MIB
    except Exception as exc:
        return _check(
            "node kernel under limits",
            False,
            f"{where}, RLIMIT_AS {address_space} MiB: {type(exc).__name__}: {exc}",
            "raise Limits.node_as_headroom_mb if V8 reports an OOM at start-up",
        )
    want = limits.node_heap_mb
    return _check(
        "node kernel under limits",
        reply.get("status") == "ok" and (want is None or want <= heap <= want + 64),
        f"starts {where}; V8 heap limit {heap} MiB (node_heap_mb {want}), RLIMIT_AS "
        f"{address_space} MiB",
        "NODE_OPTIONS must carry --max-old-space-size",
    )


def _kernelspec_checks() -> list[Check]:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    out = []
    for name in KERNEL_SPECS:
        try:
            spec = manager.get_kernel_spec(name)
        except NoSuchKernel:
            out.append(
                _check(
                    f"kernelspec {name}",
                    False,
                    "not installed",
                    "companion-kernel install-kernelspecs --sys-prefix (or: make setup)",
                )
            )
            continue
        provisioner = spec.metadata.get("kernel_provisioner", {}).get("provisioner_name", "local")
        out.append(
            _check(f"kernelspec {name}", True, f"{spec.resource_dir} (provisioner: {provisioner})")
        )
    return out
