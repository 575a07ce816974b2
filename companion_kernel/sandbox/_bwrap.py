"""Pure construction of the sandbox command line: bubblewrap, rlimits, cgroup join.

Nothing here touches the system; the provisioner gathers the facts (paths, fds,
cgroup files) and these functions turn them into argv lists and an environment.

Layout inside the sandbox:

- ``/usr`` (and the ``/bin``, ``/lib``... links or dirs), a few ``/etc`` files, the
  Python prefix, the virtual environment and any extra paths: read-only, at the
  same paths as on the host.
- ``/tmp``, ``HOME`` (``/home/sandbox``) and ``/dev/shm``: private tmpfs mounts with
  a size cap.
- the kernel's ipc directory (sockets): read-write at the same path; the connection
  file: read-only at the same path.
- the per-session working directory: read-write at ``/workspace`` (the cwd).
- everything else, ``/`` included, is read-only and empty.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "SANDBOX_GID",
    "SANDBOX_HOME",
    "SANDBOX_UID",
    "SANDBOX_USER",
    "SANDBOX_WORKDIR",
    "BwrapPlan",
    "bwrap_argv",
    "group_file",
    "hidden_paths",
    "is_node_command",
    "launcher_argv",
    "passwd_file",
    "sandbox_env",
    "tuned_env",
]

SANDBOX_HOME = "/home/sandbox"
"""HOME inside the sandbox (a private tmpfs)."""
SANDBOX_WORKDIR = "/workspace"
"""Where the per-session working directory appears inside the sandbox (the cwd)."""
SANDBOX_USER = "sandbox"
"""User name inside the sandbox."""
SANDBOX_UID = 1000
"""uid inside the sandbox (mapped to the engine's own uid outside)."""
SANDBOX_GID = 1000
"""gid inside the sandbox."""

# Joins each cgroup given on the command line, then execs the rest: the kernel is in
# its cgroups before it runs a single instruction. $1 is the number of cgroup files.
_JOIN_CGROUPS = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do '
    'printf "%s\\n" $$ > "$1" || { echo "companion-sandbox: cannot join cgroup $1" >&2; '
    'exit 125; }; shift; n=$((n - 1)); done; exec "$@"'
)

# Fallback when util-linux prlimit is missing: set the rlimits from Python, then exec.
_SET_RLIMITS = (
    "import json, os, resource, sys\n"
    "for name, (soft, hard) in json.loads(sys.argv[1]).items():\n"
    "    resource.setrlimit(getattr(resource, 'RLIMIT_' + name.upper()), (soft, hard))\n"
    "os.execvp(sys.argv[3], sys.argv[3:])\n"
)


@dataclass(frozen=True)
class BwrapPlan:
    """Everything the bubblewrap command line is built from."""

    command: Sequence[str]
    """The kernel's argv, run inside the sandbox."""
    system_ro: Sequence[str] = ("/usr",)
    """System directories bound read-only at the same path."""
    symlinks: Sequence[tuple[str, str]] = ()
    """(target, link) pairs such as ("usr/lib", "/lib") for merged-/usr systems."""
    etc_files: Sequence[str] = ()
    """Files under /etc bound read-only if they exist (ld.so.cache, localtime...)."""
    data_files: Sequence[tuple[int, str]] = ()
    """(fd, destination) of generated read-only files (passwd, group)."""
    ro_binds: Sequence[str] = ()
    """Host paths bound read-only at the same path (Python prefix, venv, extras)."""
    rw_binds: Sequence[str] = ()
    """Host paths bound read-write at the same path (the ipc directory)."""
    ro_files: Sequence[str] = ()
    """Single files bound read-only on top of everything else (the connection file)."""
    workdir: str | None = None
    """Host working directory, bound read-write at SANDBOX_WORKDIR."""
    tmpfs_bytes: int | None = None
    """Size cap of each tmpfs mount; None for the kernel's default (half of RAM)."""
    disable_userns: bool = True
    """Forbid new user namespaces inside (needs bubblewrap >= 0.8)."""


def _depth_order(paths: Iterable[str]) -> list[str]:
    """Unique paths, parents before children, so no bind hides another."""
    return sorted(set(paths), key=lambda p: (p.rstrip("/").count("/"), p))


def bwrap_argv(bwrap: str, plan: BwrapPlan) -> list[str]:
    """The bubblewrap command line for ``plan``; the kernel argv comes after ``--``."""
    argv = [
        bwrap,
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-net",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_GID),
        "--hostname",
        "sandbox",
    ]
    if plan.disable_userns:
        argv.append("--disable-userns")
    for path in _depth_order(plan.system_ro):
        argv += ["--ro-bind", path, path]
    for target, link in plan.symlinks:
        argv += ["--symlink", target, link]
    for path in plan.etc_files:
        argv += ["--ro-bind-try", path, path]
    for fd, dest in plan.data_files:
        argv += ["--ro-bind-data", str(fd), dest]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    # tmpfs first: a later tmpfs on /tmp would hide binds below it.
    for dest in ("/dev/shm", "/tmp", SANDBOX_HOME):
        if plan.tmpfs_bytes is not None:
            argv += ["--size", str(plan.tmpfs_bytes)]
        argv += ["--tmpfs", dest]
    for path in _depth_order(plan.ro_binds):
        argv += ["--ro-bind", path, path]
    for path in _depth_order(plan.rw_binds):
        argv += ["--bind", path, path]
    for path in plan.ro_files:
        argv += ["--ro-bind", path, path]
    if plan.workdir is not None:
        argv += ["--bind", plan.workdir, SANDBOX_WORKDIR, "--chdir", SANDBOX_WORKDIR]
    else:
        argv += ["--chdir", SANDBOX_HOME]
    argv += ["--remount-ro", "/", "--", *plan.command]
    return argv


def launcher_argv(
    inner: Sequence[str],
    *,
    rlimits: Mapping[str, tuple[int, int]],
    cgroup_procs: Sequence[str] = (),
    prlimit: str | None = "prlimit",
    python: str = "python3",
    shell: str = "/bin/sh",
) -> list[str]:
    """Wrap ``inner`` so it starts inside its cgroups and under its rlimits.

    ``rlimits`` maps prlimit option names (``as``, ``fsize``, ``nofile``, ``cpu``,
    ``core``, ``nproc``) to (soft, hard). Without ``prlimit`` a small Python shim
    sets them instead.
    """
    argv = list(inner)
    if rlimits:
        if prlimit:
            opts = [f"--{name}={soft}:{hard}" for name, (soft, hard) in sorted(rlimits.items())]
            argv = [prlimit, *opts, "--", *argv]
        else:
            payload = json.dumps({k: list(v) for k, v in sorted(rlimits.items())})
            argv = [python, "-I", "-S", "-c", _SET_RLIMITS, payload, "--", *argv]
    if cgroup_procs:
        argv = [
            shell,
            "-c",
            _JOIN_CGROUPS,
            "companion-sandbox",
            str(len(cgroup_procs)),
            *cgroup_procs,
            *argv,
        ]
    return argv


def is_node_command(command: Sequence[str]) -> bool:
    """True when the kernel is started by ``node`` (it gets Node's memory limits)."""
    return bool(command) and os.path.basename(command[0]) in ("node", "nodejs")


def tuned_env(env: Mapping[str, str], *, node_heap_mb: int | None) -> dict[str, str]:
    """``env`` plus the settings that make the memory limits work well.

    MALLOC_ARENA_MAX=2 keeps glibc from reserving 64 MiB of address space per thread
    (an ipykernel drops from about 810 to 220 MiB), and NODE_OPTIONS caps the V8 heap
    of every Node process, not only a Node kernel.
    """
    out = dict(env)
    out.setdefault("MALLOC_ARENA_MAX", "2")
    if node_heap_mb is not None:
        heap = f"--max-old-space-size={node_heap_mb}"
        out["NODE_OPTIONS"] = f"{out['NODE_OPTIONS']} {heap}" if out.get("NODE_OPTIONS") else heap
    return out


def sandbox_env(
    *,
    path: Sequence[str],
    extra: Mapping[str, str] = {},
    node_heap_mb: int | None = None,
) -> dict[str, str]:
    """The whole environment of a sandboxed kernel: a minimal base plus ``extra``.

    Jupyter, IPython and matplotlib state goes to the tmpfs HOME, so nothing needs
    to write outside /tmp, HOME and the working directory.
    """
    home = SANDBOX_HOME
    env = {
        "PATH": ":".join(path),
        "HOME": home,
        "USER": SANDBOX_USER,
        "LOGNAME": SANDBOX_USER,
        "SHELL": "/bin/sh",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": f"{home}/.ipython",
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
        "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": f"{home}/.local/share/jupyter/runtime",
        "JUPYTER_PLATFORM_DIRS": "1",
        "MPLCONFIGDIR": f"{home}/.config/matplotlib",
        "XDG_CACHE_HOME": f"{home}/.cache",
        # pid 1 is bubblewrap's init, the kernel's parent: ipykernel then neither polls
        # for parent death (bubblewrap handles that) nor prints its Ctrl-C banner.
        "JPY_PARENT_PID": "1",
    }
    env.update(extra)
    return tuned_env(env, node_heap_mb=node_heap_mb)


def passwd_file() -> bytes:
    """/etc/passwd inside the sandbox: our user and nobody (unmapped ids)."""
    return (
        f"{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}:{SANDBOX_USER}:{SANDBOX_HOME}:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    ).encode()


def group_file() -> bytes:
    """/etc/group inside the sandbox."""
    return f"{SANDBOX_USER}:x:{SANDBOX_GID}:\nnogroup:x:65534:\n".encode()


def hidden_paths(paths: Iterable[str], visible: Iterable[str]) -> list[str]:
    """The absolute ``paths`` that lie outside every ``visible`` root."""
    roots = [v.rstrip("/") or "/" for v in visible]

    def seen(path: str) -> bool:
        return any(r == "/" or path == r or path.startswith(r + "/") for r in roots)

    return [p for p in paths if os.path.isabs(p) and not seen(os.path.normpath(p))]
