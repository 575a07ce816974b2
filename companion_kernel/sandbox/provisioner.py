"""A jupyter_client kernel provisioner that runs each kernel under bubblewrap with limits.

Select it from a kernel spec (``kernel.json``)::

    "interrupt_mode": "message",
    "metadata": {"kernel_provisioner": {
        "provisioner_name": "companion-bwrap-provisioner",
        "config": {"limits": {"memory_mb": 1024}, "ro_binds": ["/opt/my-kernel"]}}}

and start it with ``AsyncKernelManager(transport="ipc", ip="<runtime dir>/kernel-<id>")``.
``SandboxConfig`` documents every config key; ``kernel_spec_metadata()`` builds the stanza.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

import psutil
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import SandboxError, SandboxUnavailable
from . import _cgroups, _mounts, _seccomp
from ._bwrap import (
    DEFAULT_HOST_GID,
    DEFAULT_HOST_UID,
    BwrapPlan,
    bwrap_argv,
    group_file,
    hidden_paths,
    is_node_command,
    launcher_argv,
    passwd_file,
    proc_layout,
    sandbox_env,
    unconfined_env,
)
from ._isolation import (
    bwrap_available,
    bwrap_features,
    bwrap_path,
    engine_is_root,
    python_roots,
    setpriv_path,
    system_layout,
)
from .limits import MIB, Limits

__all__ = ["PROVISIONER_NAME", "BubblewrapProvisioner", "SandboxConfig", "kernel_spec_metadata"]

log = logging.getLogger("companion_kernel.sandbox")

PROVISIONER_NAME = "companion-bwrap-provisioner"
"""The entry-point name kernel specs use to select this provisioner."""

_SUN_PATH_MAX = 107  # bytes in sockaddr_un.sun_path, minus the NUL
_OUTPUT_TAIL = 16 * 1024  # bytes of a kernel's own stdout/stderr kept for diagnostics
# The sockets directory holds a handful of socket files: a tiny tmpfs keeps a cell from
# using it as uncapped host disk (or nesting directories without end) when we are root.
_IPC_TMPFS_BYTES, _IPC_TMPFS_INODES = 1024 * 1024, 64
_swept = False


class SandboxConfig(BaseModel):
    """The ``config`` of the provisioner stanza in a kernel spec."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    isolate: bool = True
    """Run the kernel under bubblewrap. False keeps only the resource limits (the
    engine's ``isolation="off"``, or ``"auto"`` on a host without bubblewrap)."""
    limits: Limits = Field(default_factory=Limits)
    """Resource limits of the kernel; see ``Limits`` for the defaults."""
    workdir: str | None = None
    """Host directory bound read-write at /workspace, the kernel's cwd; ``{kernel_id}``
    is replaced and the directory created. Unset: the ``cwd`` given to
    ``start_kernel``, else a fresh temporary directory next to the kernel's sockets,
    removed at shutdown."""
    ro_binds: tuple[str, ...] = ()
    """Extra host paths bound read-only at the same path (e.g. the Node kernel's
    directory). The Python base prefix and the virtual environment are always bound."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables for the kernel; the host's environment is not
    passed in (the kernel spec's own ``env`` is)."""
    host_uid: int = Field(default=DEFAULT_HOST_UID, ge=1, lt=2**32 - 1)
    """Host uid the kernel runs as when the engine is root (default 65534, "nobody").
    Never 0. A non-root engine's kernels run as the engine's own uid."""
    host_gid: int = Field(default=DEFAULT_HOST_GID, ge=1, lt=2**32 - 1)
    """Host gid that goes with ``host_uid``."""
    attached_workdir: bool = False
    """The working directory belongs to the caller: bound as it is (never chowned,
    quota-mounted or removed). A root engine's kernel (uid ``host_uid``) can then write
    only where that uid may."""
    workdir_readonly: bool = False
    """Bind the working directory read-only."""
    workspace_quota: bool = False
    """Give the working directory a tmpfs capped at ``limits.workspace_mb`` and
    ``limits.workspace_files`` (root engines only). Only for directories made for this
    kernel: the mount hides what was in the directory before."""


def kernel_spec_metadata(config: SandboxConfig | None = None) -> dict[str, Any]:
    """The ``metadata`` of a kernel spec that selects this provisioner with ``config``."""
    dumped = (config or SandboxConfig()).model_dump(mode="json", exclude_defaults=True)
    return {"kernel_provisioner": {"provisioner_name": PROVISIONER_NAME, "config": dumped}}


class BubblewrapProvisioner(LocalProvisioner):
    """LocalProvisioner that launches the kernel inside bubblewrap, in its own cgroups,
    under rlimits.

    The process it tracks is bubblewrap's; ``--die-with-parent`` and the pid namespace
    take the kernel down with it. Signals other than SIGKILL go to the kernel process
    itself, so even a signal-mode interrupt reaches it.
    """

    def __init__(self, **kwargs: Any) -> None:
        ours = {k: kwargs.pop(k) for k in list(kwargs) if k in SandboxConfig.model_fields}
        unknown = set(kwargs) - set(type(self).class_trait_names())
        if unknown:
            raise SandboxError(
                f"unknown {PROVISIONER_NAME} config key(s): {', '.join(sorted(unknown))}; "
                f"known: {', '.join(SandboxConfig.model_fields)}"
            )
        super().__init__(**kwargs)
        try:
            self.sandbox = SandboxConfig.model_validate(ours)
        except ValidationError as exc:
            raise SandboxError(f"invalid {PROVISIONER_NAME} config: {exc}") from exc
        self.host_workdir: str | None = None
        """The host path of the kernel's working directory (set at launch)."""
        self.cgroup: _cgroups.KernelCgroup | None = None
        """The kernel's cgroups, while it runs."""
        self.enforcement: dict[str, str] = {}
        """How each limit is enforced for this kernel, e.g. ``{"pids": "pids cgroup v1"}``."""
        self._own_workdir = False
        self._quota_mount: str | None = None
        self._ipc_mount: str | None = None
        self._output = bytearray()
        self._output_stream: Any = None
        self._ipc_dir: str | None = None
        self._fds: list[int] = []

    @property
    def host_identity(self) -> tuple[int, int] | None:
        """(uid, gid) the sandboxed kernel runs as on the host when the engine is root;
        None when it runs as the engine's own (unprivileged) uid or unsandboxed."""
        if self.sandbox.isolate and engine_is_root():
            return self.sandbox.host_uid, self.sandbox.host_gid
        return None

    # -- launch -------------------------------------------------------------------

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Prepare directories, cgroups and the wrapped command line."""
        km = self.parent
        if km is None or not hasattr(km, "transport"):
            raise SandboxError(f"{PROVISIONER_NAME} must be created by a KernelManager")
        try:
            if self.sandbox.isolate:
                self._check_sandbox_possible(km)
                missing = [p for p in self.sandbox.ro_binds if not os.path.exists(p)]
                if missing:
                    raise SandboxError(f"ro_binds path(s) do not exist: {', '.join(missing)}")
                self._private_ipc_dir(km)
            self._prepare_workdir(kwargs.pop("cwd", None))
            kwargs = await super().pre_launch(**kwargs)
            self._hand_over(km)
            cmd, env = list(kwargs.pop("cmd")), kwargs.pop("env")
            limits = self.sandbox.limits
            node = is_node_command(cmd)
            self._make_cgroup()
            rlimits = limits.rlimits(node=node)
            nproc = self._nproc_fallback()
            if nproc is not None:
                rlimits["nproc"] = (nproc, nproc)
            self.enforcement = self._describe(node=node, nproc=nproc is not None)
            if self.sandbox.isolate:
                inner, env = self._sandboxed(cmd, env)
                kwargs["independent"] = True  # no JPY_PARENT_PID: bwrap handles parent death
                kwargs["cwd"] = "/"
            else:
                inner = cmd
                env = unconfined_env(
                    env,
                    keep=[*(self.kernel_spec.env or {}), *self.sandbox.env],
                    node_heap_mb=limits.node_heap_mb,
                )
                kwargs["cwd"] = self.host_workdir
            kwargs["cmd"] = launcher_argv(
                inner,
                rlimits=rlimits,
                cgroup_procs=self.cgroup.procs_files if self.cgroup else (),
                prlimit=shutil.which("prlimit"),
                python=sys.executable,
            )
            kwargs["env"] = env
        except BaseException:
            if getattr(km, "_connection_file_written", False):
                km.cleanup_connection_file()  # written for this failed launch only
            await self._release(restart=False)
            raise
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """Start the wrapped command; the pid tracked is bubblewrap's (or the wrapper's)."""
        if self._fds:
            kwargs["pass_fds"] = tuple(self._fds)
        # Never hand the engine's own stdio to a kernel: a cell could read the user's
        # terminal or rewrite the engine's log through them. Its output goes to a pipe we
        # drain into a small tail kept for diagnostics.
        kwargs["stdin"] = subprocess.DEVNULL
        kwargs["stdout"] = subprocess.PIPE
        kwargs["stderr"] = subprocess.STDOUT
        try:
            info = await super().launch_kernel(cmd, **kwargs)
            self._drain_output()
            return info
        except BaseException:
            await self._release(restart=False)
            raise
        finally:
            self._close_fds()

    def _check_sandbox_possible(self, km: Any) -> None:
        if km.transport != "ipc":
            raise SandboxError(
                f"{PROVISIONER_NAME} needs the ipc transport: TCP cannot cross the sandbox's "
                "network namespace. Create the kernel manager with transport='ipc' and "
                "ip='<runtime dir>/kernel-<id>'."
            )
        ok, detail = bwrap_available()
        if not ok:
            raise SandboxUnavailable(f"bubblewrap cannot run: {detail}")
        if engine_is_root() and setpriv_path() is None:
            raise SandboxUnavailable(
                "the engine is root and setpriv (util-linux) is missing: the kernel "
                "cannot drop to an unprivileged host uid"
            )

    def _private_ipc_dir(self, km: Any) -> None:
        """Move the kernel's sockets into a directory of their own.

        Only that directory is bound into the sandbox, so a kernel never sees the
        sockets or connection files (with their keys) of other kernels.
        """
        if self._ipc_dir and os.path.dirname(km.ip) == self._ipc_dir:
            return  # a restart: keep the same sockets directory
        base = os.path.dirname(km.ip) if os.path.isabs(km.ip) else tempfile.gettempdir()
        self._ipc_dir = tempfile.mkdtemp(prefix="sbx-", dir=base)
        new_ip = os.path.join(self._ipc_dir, os.path.basename(km.ip) or "kernel")
        if len(new_ip.encode()) + 6 > _SUN_PATH_MAX:
            raise SandboxError(
                f"ipc socket path {new_ip!r} is too long for a Unix socket; "
                "use a shorter runtime directory"
            )
        if getattr(km, "_connection_file_written", False):
            km.cleanup_connection_file()  # it names the old socket paths
        km.ip = new_ip
        identity = self.host_identity
        if identity is not None:
            _mounts.mount_quota_tmpfs(
                self._ipc_dir,
                size_bytes=_IPC_TMPFS_BYTES,
                inodes=_IPC_TMPFS_INODES,
                uid=identity[0],
                gid=identity[1],
                executable=False,
                source="companion-ipc",
            )
            self._ipc_mount = self._ipc_dir

    def _prepare_workdir(self, cwd: str | None) -> None:
        if self.host_workdir is not None:
            return  # a restart keeps the working directory
        if self.sandbox.workdir:
            path = self.sandbox.workdir.replace("{kernel_id}", self.kernel_id or "kernel")
            os.makedirs(path, exist_ok=True)
        elif cwd:
            if not os.path.isdir(cwd):
                raise SandboxError(f"working directory {cwd!r} does not exist")
            path = cwd
        else:
            # Next to the sockets, so it goes with the engine's runtime directory.
            km = self.parent
            if self._ipc_dir:
                base = os.path.dirname(self._ipc_dir)
            elif getattr(km, "transport", "") == "ipc" and os.path.isabs(km.ip):
                base = os.path.dirname(km.ip)
            else:
                base = None
            path = tempfile.mkdtemp(prefix="work-", dir=base)
            self._own_workdir = True
        self.host_workdir = os.path.realpath(path)
        self._mount_quota()

    def _mount_quota(self) -> None:
        """Cap the working directory with a tmpfs of its own (root engines only)."""
        limits, identity = self.sandbox.limits, self.host_identity
        if not (self.sandbox.workspace_quota and identity and limits.workspace_mb):
            return
        assert self.host_workdir is not None
        if os.listdir(self.host_workdir):
            raise SandboxError(
                f"workspace_quota needs an empty working directory; {self.host_workdir} "
                "has files (the quota mount would hide them)"
            )
        _mounts.mount_quota_tmpfs(
            self.host_workdir,
            size_bytes=limits.workspace_mb * MIB,
            inodes=limits.workspace_files or 1_000_000,
            uid=identity[0],
            gid=identity[1],
        )
        self._quota_mount = self.host_workdir

    def _hand_over(self, km: Any) -> None:
        """Give the kernel's uid what it must open: its sockets directory, its
        connection file (read-only) and its working directory."""
        identity = self.host_identity
        if identity is None:
            return
        uid, gid = identity
        assert self._ipc_dir is not None and self.host_workdir is not None
        if self._ipc_mount is None:
            os.chown(self._ipc_dir, uid, gid)
        os.chown(km.connection_file, uid, gid)
        os.chmod(km.connection_file, 0o400)
        if self._quota_mount is None and not self.sandbox.attached_workdir:
            os.chown(self.host_workdir, uid, gid)

    def _make_cgroup(self) -> None:
        global _swept
        support = _cgroups.detect()
        if not (support.pids or support.memory or support.cpu):
            return
        if not _swept:
            _swept = True
            _cgroups.sweep_stale(support)
        limits = self.sandbox.limits
        try:
            self.cgroup = _cgroups.KernelCgroup.create(
                support,
                pids=limits.pids,
                memory_bytes=limits.memory_bytes(),
                cpus=limits.cpus,
                tag=(self.kernel_id or "")[:8],
                owner=str(self.parent.connection_file) if self.parent else "",
            )
        except OSError as exc:
            log.warning("could not create the kernel's cgroups (%s); pids/memory not capped", exc)
            self.cgroup = None

    def _nproc_fallback(self) -> int | None:
        """RLIMIT_NPROC when no pids cgroup exists and we are not root (root ignores it).

        RLIMIT_NPROC counts every task of the user, so the cap is the user's current
        count plus the kernel's allowance.
        """
        pids = self.sandbox.limits.pids
        if pids is None or os.geteuid() == 0 or (self.cgroup and "pids" in self.cgroup.dirs):
            return None
        uid, used = os.getuid(), 0
        for proc in psutil.process_iter(["uids", "num_threads"]):
            with contextlib.suppress(psutil.Error, TypeError):
                if proc.info["uids"].real == uid:
                    used += proc.info["num_threads"] or 1
        return used + pids

    def _describe(self, *, node: bool, nproc: bool) -> dict[str, str]:
        limits, dirs = self.sandbox.limits, (self.cgroup.dirs if self.cgroup else {})
        support = _cgroups.detect()
        memory = []
        if limits.address_space_bytes(node=node) is not None:
            memory.append("RLIMIT_AS")
        if "memory" in dirs:
            memory.append(support.describe("memory"))
        if "pids" in dirs:
            pids = support.describe("pids")
        elif nproc:
            pids = "RLIMIT_NPROC"
        else:
            pids = "not enforced" if limits.pids is not None else "off"
        out = {
            "memory": " + ".join(memory) or "off",
            "pids": pids,
            "fsize": "RLIMIT_FSIZE" if limits.fsize_mb is not None else "off",
            "nofile": "RLIMIT_NOFILE" if limits.nofile is not None else "off",
            "cpu": "RLIMIT_CPU" if limits.cpu_seconds is not None else "off",
            "tmpfs": "tmpfs size=" if self.sandbox.isolate and limits.tmpfs_mb else "off",
            "cpus": support.describe("cpu") if "cpu" in dirs else "off",
            "workspace": "tmpfs quota" if self._quota_mount else "not enforced",
        }
        if self.sandbox.isolate:
            identity = self.host_identity
            out["host_uid"] = (
                f"{identity[0]} via setpriv (no user namespace)"
                if identity
                else f"{os.geteuid()}, the engine's own, via a user namespace"
            )
            out["seccomp"] = "libseccomp deny-list"
        if node:
            out["node_heap"] = "--max-old-space-size" if limits.node_heap_mb else "off"
        return out

    def _sandboxed(self, cmd: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """The bubblewrap command line and the kernel's environment."""
        km = self.parent
        assert km is not None and self._ipc_dir is not None
        limits = self.sandbox.limits
        ro = python_roots() + [os.path.realpath(p) for p in self.sandbox.ro_binds]
        conn = os.path.realpath(km.connection_file)
        system, links, etc = system_layout()
        path_dirs = ["/usr/local/bin", "/usr/bin", "/bin"]
        if sys.prefix != sys.base_prefix:
            path_dirs.insert(0, os.path.join(sys.prefix, "bin"))
        self._check_visible(cmd, [*system, *ro, self._ipc_dir, conn], path_dirs)
        identity = self.host_identity
        spec_env = {k: env[k] for k in (self.kernel_spec.env or {}) if k in env}
        kernel_env = sandbox_env(
            path=path_dirs,
            extra={**spec_env, **self.sandbox.env},
            node_heap_mb=limits.node_heap_mb,
        )
        data = []
        files = (
            ((passwd_file(*identity), "/etc/passwd"), (group_file(identity[1]), "/etc/group"))
            if identity
            else ((passwd_file(), "/etc/passwd"), (group_file(), "/etc/group"))
        )
        for content, dest in files:
            read, write = os.pipe()
            self._fds.append(read)
            with os.fdopen(write, "wb") as pipe:
                pipe.write(content)
            data.append((read, dest))
        features = bwrap_features()
        seccomp = _seccomp.filter_fd()
        self._fds.append(seccomp)
        readonly, masked_files, masked_dirs = proc_layout()
        plan = BwrapPlan(
            command=cmd,
            system_ro=system,
            symlinks=links,
            etc_files=etc,
            data_files=data,
            ro_binds=ro,
            rw_binds=[self._ipc_dir],
            ro_files=[conn],
            workdir=self.host_workdir,
            workdir_readonly=self.sandbox.workdir_readonly,
            tmpfs_bytes=(
                limits.tmpfs_mb * MIB if limits.tmpfs_mb and "--size" in features else None
            ),
            disable_userns="--disable-userns" in features,
            host_uid=identity[0] if identity else None,
            host_gid=identity[1] if identity else None,
            setpriv=setpriv_path() or "/usr/bin/setpriv",
            seccomp_fd=seccomp,
            proc_readonly=readonly,
            proc_masked_files=masked_files,
            proc_masked_dirs=masked_dirs,
        )
        bwrap = bwrap_path()
        assert bwrap is not None
        return bwrap_argv(bwrap, plan), kernel_env

    @staticmethod
    def _check_visible(cmd: list[str], visible: list[str], path_dirs: list[str]) -> None:
        """Fail early, with a hint, when the kernel's program or files are not bound."""
        first = cmd[0] if os.path.isabs(cmd[0]) else shutil.which(cmd[0], path=":".join(path_dirs))
        if first is None:
            raise SandboxError(f"{cmd[0]!r} is not on the sandbox PATH ({':'.join(path_dirs)})")
        candidates = [first, *(a for a in cmd[1:] if os.path.isabs(a) and os.path.exists(a))]
        candidates += [os.path.realpath(c) for c in candidates]
        hidden = hidden_paths(candidates, visible)
        if hidden:
            raise SandboxError(
                f"kernel path(s) not visible in the sandbox: {', '.join(sorted(set(hidden)))}; "
                "add their directory to the provisioner's ro_binds"
            )

    # -- lifecycle ------------------------------------------------------------------

    def kernel_pid(self) -> int | None:
        """Host pid of the kernel process itself (bubblewrap's grandchild), or None."""
        if self.process is None or self.pid is None:
            return None
        if not self.sandbox.isolate:
            return self.pid
        try:
            for inner in psutil.Process(self.pid).children():
                for kernel in inner.children():
                    return kernel.pid
        except psutil.Error:
            return None
        return None

    def tree_pids(self) -> set[int]:
        """Host pids of every process of the kernel's tree, bubblewrap included.

        Read from the kernel's cgroup where there is one (a process cannot leave it),
        else from the process tree (a double fork escapes that view).
        """
        if self.cgroup is not None:
            pids = self.cgroup.members()
            if pids:
                return set(pids)
        return _descendants(self.pid) if self.pid is not None else set()

    async def send_signal(self, signum: int) -> None:
        """Deliver ``signum`` to the kernel and its process group; SIGKILL (or no kernel
        yet) goes to bubblewrap, which takes the whole sandbox down."""
        if self.sandbox.isolate and signum != signal.SIGKILL:
            pid = self.kernel_pid()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)
                    self._signal_descendants(pid, signum)
                    return
        await super().send_signal(signum)

    @staticmethod
    def _signal_descendants(pid: int, signum: int) -> None:
        """Signal the kernel's descendants in its process group, as jupyter's killpg does
        outside a sandbox. (bubblewrap's init leads that group inside, so no killpg.)"""
        with contextlib.suppress(psutil.Error, OSError):
            group = os.getpgid(pid)
            for child in psutil.Process(pid).children(recursive=True):
                with contextlib.suppress(OSError):
                    if os.getpgid(child.pid) == group:
                        os.kill(child.pid, signum)

    async def kill(self, restart: bool = False) -> None:
        """SIGKILL bubblewrap (the sandbox dies with it) and anything left in the cgroups."""
        await super().kill(restart=restart)
        if self.cgroup is not None:
            self.cgroup.kill()

    async def cleanup(self, restart: bool = False) -> None:
        """Remove the kernel's cgroups and, unless restarting, its private directories."""
        await super().cleanup(restart=restart)
        await self._release(restart=restart)

    def release_workdir(self) -> None:
        """The working directory now belongs to someone else (a session): cleanup leaves
        it, and its quota mount, alone."""
        self._quota_mount = None
        self._own_workdir = False

    @property
    def output_tail(self) -> str:
        """The last few KiB the kernel process wrote to its stdout/stderr."""
        return self._output.decode("utf-8", "replace")

    def _drain_output(self) -> None:
        stream = self.process.stdout if self.process is not None else None
        if stream is None:
            return
        self._stop_draining()  # a restart: the previous process's pipe
        os.set_blocking(stream.fileno(), False)
        self._output_stream = stream
        asyncio.get_running_loop().add_reader(stream.fileno(), self._read_output, stream)

    def _read_output(self, stream: Any) -> None:
        try:
            chunk = os.read(stream.fileno(), 65536)
        except BlockingIOError:
            return
        except (OSError, ValueError):
            chunk = b""
        if not chunk:
            if stream is self._output_stream:
                self._stop_draining()
            return
        self._output += chunk
        del self._output[: max(0, len(self._output) - _OUTPUT_TAIL)]

    def _stop_draining(self) -> None:
        stream, self._output_stream = self._output_stream, None
        if stream is None:
            return
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            asyncio.get_running_loop().remove_reader(stream.fileno())
        with contextlib.suppress(OSError):
            stream.close()

    def _close_fds(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    async def _release(self, *, restart: bool) -> None:
        self._close_fds()
        if self.cgroup is not None:
            if await self.cgroup.remove():
                self.cgroup = None
            else:
                log.warning(
                    "kernel cgroups still busy, left for the next sweep: %s",
                    self.cgroup.procs_files,
                )
        if restart:
            return
        self._stop_draining()
        if self._quota_mount is not None:
            _mounts.unmount(self._quota_mount)
            self._quota_mount = None
        if self._ipc_dir is not None:
            await asyncio.to_thread(_mounts.remove_tree, self._ipc_dir)
            self._ipc_dir = self._ipc_mount = None
        if self._own_workdir and self.host_workdir is not None:
            await asyncio.to_thread(_mounts.remove_tree, self.host_workdir)
            self.host_workdir = None
            self._own_workdir = False


def _descendants(pid: int) -> set[int]:
    """``pid`` and its descendants, from /proc/PID/task/TID/children (no scan of every
    process, unlike psutil's children())."""
    found, pending = set(), [pid]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.add(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            with contextlib.suppress(OSError, ValueError):
                with open(f"/proc/{current}/task/{tid}/children") as fh:
                    pending.extend(int(child) for child in fh.read().split())
    return found
