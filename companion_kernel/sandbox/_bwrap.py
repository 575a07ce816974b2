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
- everything else, ``/`` included, is read-only and empty; there is no ``/sys``.
- ``/proc`` is the sandbox's own; the host-wide interfaces in it are read-only
  (``PROC_READONLY``) or masked (``PROC_MASKED``), as container runtimes do.

Host identity: when the engine runs as root, bubblewrap sets the sandbox up as root
without a user namespace and the kernel is started through ``setpriv`` as an
unprivileged host uid/gid (``host_uid``, default 65534, "nobody", which owns no
files), with no capabilities, no bounding set and ``no_new_privs``. Otherwise a
user namespace maps the sandbox user (uid 1000) to the engine's own, unprivileged,
uid. Either way the kernel's host identity is never 0.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_HOST_GID",
    "DEFAULT_HOST_UID",
    "PROC_MASKED",
    "PROC_READONLY",
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
    "proc_layout",
    "sandbox_env",
    "tuned_env",
    "unconfined_env",
]

SANDBOX_HOME = "/home/sandbox"
"""HOME inside the sandbox (a private tmpfs)."""
SANDBOX_WORKDIR = "/workspace"
"""Where the per-session working directory appears inside the sandbox (the cwd)."""
SANDBOX_USER = "sandbox"
"""User name inside the sandbox."""
SANDBOX_UID = 1000
"""uid inside the sandbox when a user namespace maps it to the engine's own uid."""
SANDBOX_GID = 1000
"""gid inside the sandbox in that case."""
DEFAULT_HOST_UID = 65534
"""Host uid of kernels started by a root engine ("nobody": owns no files)."""
DEFAULT_HOST_GID = 65534
"""Host gid of kernels started by a root engine ("nogroup")."""

PROC_READONLY: tuple[str, ...] = (
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/irq",
    "/proc/bus",
    "/proc/fs",
)
"""Host-wide settings under /proc, bound read-only over the sandbox's own /proc."""
PROC_MASKED: tuple[str, ...] = (
    "/proc/kcore",
    "/proc/keys",
    "/proc/key-users",
    "/proc/kallsyms",
    "/proc/kmsg",
    "/proc/kpagecgroup",
    "/proc/kpagecount",
    "/proc/kpageflags",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/sysvipc",
    "/proc/acpi",
    "/proc/asound",
    "/proc/scsi",
    "/proc/driver",
    "/proc/dynamic_debug",
)
"""Kernel internals under /proc hidden from the sandbox: files are covered by an empty
read-only file, directories by an empty read-only tmpfs."""

# setpriv (util-linux) drops to the host uid/gid inside the sandbox: after it the kernel
# has no capabilities, an empty bounding set and no_new_privs (setuid files do nothing).
_SETPRIV = (
    "--clear-groups",
    "--inh-caps=-all",
    "--ambient-caps=-all",
    "--bounding-set=-all",
    "--no-new-privs",
)

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
    workdir_readonly: bool = False
    """Bind the working directory read-only instead."""
    tmpfs_bytes: int | None = None
    """Size cap of each tmpfs mount; None for the kernel's default (half of RAM)."""
    disable_userns: bool = True
    """Forbid new user namespaces inside (needs bubblewrap >= 0.8; user-namespace mode)."""
    host_uid: int | None = None
    """Run the kernel as this host uid (root engines): no user namespace, setpriv inside.
    None: a user namespace maps SANDBOX_UID to the caller's own uid."""
    host_gid: int | None = None
    """Host gid that goes with ``host_uid``."""
    setpriv: str = "/usr/bin/setpriv"
    """Path of util-linux ``setpriv`` inside the sandbox (with ``host_uid``)."""
    seccomp_fd: int | None = None
    """Descriptor holding the compiled seccomp filter (``--seccomp``), or None."""
    proc_readonly: Sequence[str] = ()
    """Paths under /proc bound read-only (existing ones from PROC_READONLY)."""
    proc_masked_files: Sequence[str] = ()
    """Files under /proc covered by an empty file."""
    proc_masked_dirs: Sequence[str] = ()
    """Directories under /proc covered by an empty read-only tmpfs."""


def _depth_order(paths: Iterable[str]) -> list[str]:
    """Unique paths, parents before children, so no bind hides another."""
    return sorted(set(paths), key=lambda p: (p.rstrip("/").count("/"), p))


def bwrap_argv(bwrap: str, plan: BwrapPlan) -> list[str]:
    """The bubblewrap command line for ``plan``; the kernel argv comes after ``--``."""
    privileged = plan.host_uid is not None
    argv = [bwrap]
    if not privileged:
        argv.append("--unshare-user")
    argv += [
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-net",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
    ]
    if not privileged:
        # With host_uid, setpriv needs bubblewrap's capabilities to drop to that uid and
        # then drops every capability itself.
        argv += ["--cap-drop", "ALL", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
        if plan.disable_userns:
            argv.append("--disable-userns")
    argv += ["--hostname", "sandbox"]
    for path in _depth_order(plan.system_ro):
        argv += ["--ro-bind", path, path]
    for target, link in plan.symlinks:
        argv += ["--symlink", target, link]
    # bubblewrap running as root creates missing parents of a mount point with mode
    # 0700; the kernel's uid must traverse them, so make them 0755 first.
    host_bound = [*plan.system_ro, "/proc", "/dev"]
    made: set[str] = set()

    def parents(dest: str) -> list[str]:
        out: list[str] = []
        parent = os.path.dirname(dest.rstrip("/"))
        missing = []
        while parent not in ("", "/") and parent not in made:
            missing.append(parent)
            parent = os.path.dirname(parent)
        for path in reversed(missing):
            made.add(path)
            if not _below(path, host_bound):
                out += ["--perms", "0755", "--dir", path]
        return out

    for path in plan.etc_files:
        argv += [*parents(path), "--ro-bind-try", path, path]
    for fd, dest in plan.data_files:
        argv += [*parents(dest), "--ro-bind-data", str(fd), dest]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    for path in plan.proc_readonly:
        argv += ["--ro-bind", path, path]
    for path in plan.proc_masked_files:
        argv += ["--ro-bind", "/dev/null", path]
    for path in plan.proc_masked_dirs:
        argv += ["--perms", "0555", "--tmpfs", path, "--remount-ro", path]
    # tmpfs first: a later tmpfs on /tmp would hide binds below it.
    for dest in ("/dev/shm", "/tmp", SANDBOX_HOME):
        argv += parents(dest)
        if plan.tmpfs_bytes is not None:
            argv += ["--size", str(plan.tmpfs_bytes)]
        if privileged:
            argv += ["--perms", "1777"]  # created by root; the kernel's uid must write
        argv += ["--tmpfs", dest]
        made.add(dest)
    for option, paths in (
        ("--ro-bind", _depth_order(plan.ro_binds)),
        ("--bind", _depth_order(plan.rw_binds)),
        ("--ro-bind", plan.ro_files),
    ):
        for path in paths:
            argv += [*parents(path), option, path, path]
            host_bound.append(path)
            made.add(path)
    if plan.workdir is not None:
        bind = "--ro-bind" if plan.workdir_readonly else "--bind"
        argv += [bind, plan.workdir, SANDBOX_WORKDIR, "--chdir", SANDBOX_WORKDIR]
    else:
        argv += ["--chdir", SANDBOX_HOME]
    if plan.seccomp_fd is not None:
        argv += ["--seccomp", str(plan.seccomp_fd)]
    argv += ["--remount-ro", "/", "--"]
    if privileged:
        gid = plan.host_gid if plan.host_gid is not None else plan.host_uid
        argv += [plan.setpriv, f"--reuid={plan.host_uid}", f"--regid={gid}", *_SETPRIV, "--"]
    return [*argv, *plan.command]


def _below(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def proc_layout() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(read-only paths, masked files, masked directories) that exist on this host."""
    readonly = tuple(p for p in PROC_READONLY if os.path.exists(p))
    files = tuple(p for p in PROC_MASKED if os.path.isfile(p))
    dirs = tuple(p for p in PROC_MASKED if os.path.isdir(p))
    return readonly, files, dirs


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


_UNCONFINED_KEEP = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TERM",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
)


def unconfined_env(
    env: Mapping[str, str],
    *,
    keep: Iterable[str] = (),
    node_heap_mb: int | None = None,
) -> dict[str, str]:
    """The environment of a kernel that runs without bubblewrap: the host's minus its
    secrets. Only locale, paths and identity variables, Jupyter's own ``JPY_*`` and the
    names in ``keep`` (the kernel spec's and the config's) pass."""
    wanted = set(keep)
    out = {
        k: v
        for k, v in env.items()
        if k in _UNCONFINED_KEEP or k in wanted or k.startswith(("LC_", "JPY_"))
    }
    return tuned_env(out, node_heap_mb=node_heap_mb)


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


def passwd_file(uid: int = SANDBOX_UID, gid: int = SANDBOX_GID) -> bytes:
    """/etc/passwd inside the sandbox: our user and, unless it is ours, nobody."""
    text = f"{SANDBOX_USER}:x:{uid}:{gid}:{SANDBOX_USER}:{SANDBOX_HOME}:/bin/sh\n"
    if uid != 65534:
        text += "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    return text.encode()


def group_file(gid: int = SANDBOX_GID) -> bytes:
    """/etc/group inside the sandbox."""
    text = f"{SANDBOX_USER}:x:{gid}:\n"
    if gid != 65534:
        text += "nogroup:x:65534:\n"
    return text.encode()


def hidden_paths(paths: Iterable[str], visible: Iterable[str]) -> list[str]:
    """The absolute ``paths`` that lie outside every ``visible`` root."""
    roots = [v.rstrip("/") or "/" for v in visible]

    def seen(path: str) -> bool:
        return any(r == "/" or path == r or path.startswith(r + "/") for r in roots)

    return [p for p in paths if os.path.isabs(p) and not seen(os.path.normpath(p))]
