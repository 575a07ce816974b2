"""Per-kernel cgroups for the pids, memory and CPU limits (cgroup v1 or v2, where writable).

Each kernel gets a child of *our own* cgroup for each controller, so it stays inside
whatever limits the host already puts on this process. The launch wrapper writes its
pid into ``cgroup.procs`` before it execs bubblewrap, so the kernel and everything it
starts are counted from the first instruction.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CgroupSupport",
    "KernelCgroup",
    "detect",
    "kernel_dirs_of",
    "live_dirs",
    "remove_dirs",
    "sweep_stale",
]

Controller = Literal["pids", "memory", "cpu"]
_CONTROLLERS: tuple[Controller, ...] = ("pids", "memory", "cpu")
_CPU_PERIOD_US = 100_000
_PREFIX = "companion-kernel-"
_MOUNTINFO = Path("/proc/self/mountinfo")
_SELF_CGROUP = Path("/proc/self/cgroup")
_live: dict[str, str] = {}
"""Kernel cgroup directories created by this process and not yet removed -> owner."""


class CgroupSupport(BaseModel):
    """Where each controller can be used, as found on this machine."""

    model_config = ConfigDict(frozen=True)

    pids: str | None = None
    """Parent directory for per-kernel pids cgroups, or None when not usable."""
    pids_version: Literal["v1", "v2"] | None = None
    """Hierarchy of the pids controller."""
    memory: str | None = None
    """Parent directory for per-kernel memory cgroups, or None when not usable."""
    memory_version: Literal["v1", "v2"] | None = None
    """Hierarchy of the memory controller."""
    cpu: str | None = None
    """Parent directory for per-kernel cpu cgroups, or None when not usable."""
    cpu_version: Literal["v1", "v2"] | None = None
    """Hierarchy of the cpu controller."""
    detail: str = ""
    """Why a controller is not usable (empty when all are)."""

    def describe(self, controller: Controller) -> str:
        """A short human description, e.g. ``pids cgroup v1``, or ``none``."""
        version = getattr(self, f"{controller}_version")
        return f"{controller} cgroup {version}" if version else "none"


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(fstype, mount point, super options) of every cgroup mount."""
    out = []
    with contextlib.suppress(OSError):
        for line in _MOUNTINFO.read_text().splitlines():
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if len(rfields) >= 3 and rfields[0] in ("cgroup", "cgroup2"):
                out.append((rfields[0], fields[4], set(rfields[2].split(","))))
    return out


def _own_paths() -> dict[str, str]:
    """Our cgroup path per v1 controller, plus ``""`` for the v2 hierarchy."""
    out: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in _SELF_CGROUP.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                out[name] = path
    return out


def _writable(parent: Path) -> bool:
    probe = parent / f"{_PREFIX}probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        probe.mkdir()
    except OSError:
        return False
    with contextlib.suppress(OSError):
        probe.rmdir()
    return True


def _v2_ready(parent: Path, controller: str) -> bool:
    """True when children of ``parent`` get ``controller`` (enabling it if we may)."""
    try:
        if controller not in (parent / "cgroup.controllers").read_text().split():
            return False
        if controller in (parent / "cgroup.subtree_control").read_text().split():
            return True
        (parent / "cgroup.subtree_control").write_text(f"+{controller}")
    except OSError:  # EBUSY when our own cgroup holds processes: no delegation
        return False
    return True


@functools.cache
def detect() -> CgroupSupport:
    """Find a writable place for the pids, memory and cpu controllers (cached)."""
    mounts, own = _mounts(), _own_paths()
    found: dict[str, tuple[str, Literal["v1", "v2"]]] = {}
    reasons = []
    for controller in _CONTROLLERS:
        for fstype, point, opts in mounts:
            if fstype == "cgroup" and controller in opts and controller in own:
                parent = Path(point + own[controller])
                if _writable(parent):
                    found[controller] = (str(parent), "v1")
                    break
        if controller in found:
            continue
        for fstype, point, _ in mounts:
            if fstype == "cgroup2" and "" in own:
                parent = Path(point + own[""])
                if _v2_ready(parent, controller) and _writable(parent):
                    found[controller] = (str(parent), "v2")
                    break
        if controller not in found:
            reasons.append(f"no writable {controller} cgroup")
    fields: dict[str, str] = {}
    for controller, (parent, version) in found.items():
        fields[controller] = parent
        fields[f"{controller}_version"] = version
    return CgroupSupport.model_validate({**fields, "detail": "; ".join(reasons)})


class KernelCgroup:
    """The cgroup directories of one kernel; create, inspect, kill, remove."""

    def __init__(
        self, dirs: dict[Controller, tuple[Path, Literal["v1", "v2"]]], owner: str = ""
    ) -> None:
        self.dirs = dirs
        self.owner = owner

    @classmethod
    def create(
        cls,
        support: CgroupSupport,
        *,
        pids: int | None,
        memory_bytes: int | None,
        cpus: float | None = None,
        tag: str = "",
        owner: str = "",
    ) -> KernelCgroup:
        """Create the per-kernel directories and write the limits (raises OSError).

        The pids controller is always joined where it exists, even without a limit:
        its ``cgroup.procs`` lists every process of the kernel's tree. Until removed, the
        directories are listed under ``owner`` (see `live_dirs`).
        """
        name = f"{_PREFIX}{os.getpid()}-{tag[:8]}{uuid.uuid4().hex[:8]}"
        group = cls({}, owner)
        wanted = {"pids": True, "memory": memory_bytes is not None, "cpu": cpus is not None}
        try:
            for controller in _CONTROLLERS:
                parent = getattr(support, controller)
                version = getattr(support, f"{controller}_version")
                if not (wanted[controller] and parent and version):
                    continue
                path = Path(parent) / name
                path.mkdir()
                group.dirs[controller] = (path, version)
                _live[str(path)] = owner
                if controller == "pids" and pids is not None:
                    (path / "pids.max").write_text(str(pids))
                elif controller == "memory" and memory_bytes is not None:
                    group._write_memory(path, version, memory_bytes)
                elif controller == "cpu" and cpus is not None:
                    group._write_cpu(path, version, cpus)
        except OSError:
            group.remove_now()
            raise
        return group

    @staticmethod
    def _write_cpu(path: Path, version: str, cpus: float) -> None:
        quota = max(1000, int(cpus * _CPU_PERIOD_US))
        if version == "v1":
            (path / "cpu.cfs_period_us").write_text(str(_CPU_PERIOD_US))
            (path / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (path / "cpu.max").write_text(f"{quota} {_CPU_PERIOD_US}")

    @staticmethod
    def _write_memory(path: Path, version: str, limit: int) -> None:
        if version == "v1":
            (path / "memory.limit_in_bytes").write_text(str(limit))
            with contextlib.suppress(OSError):  # absent without swap accounting
                (path / "memory.memsw.limit_in_bytes").write_text(str(limit))
        else:
            (path / "memory.max").write_text(str(limit))
            with contextlib.suppress(OSError):
                (path / "memory.swap.max").write_text("0")

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files the launcher must join, one per directory."""
        return [str(path / "cgroup.procs") for path, _ in self.dirs.values()]

    def pids(self) -> list[int]:
        """Pids currently in any of the kernel's cgroups."""
        out: set[int] = set()
        for path, _ in self.dirs.values():
            with contextlib.suppress(OSError, ValueError):
                out.update(int(p) for p in (path / "cgroup.procs").read_text().split())
        return sorted(out)

    def members(self) -> frozenset[int]:
        """Pids in the kernel's first cgroup: every process joins every controller, so one
        ``cgroup.procs`` lists the whole tree. Cheap: it runs before and after each cell."""
        if not self.dirs:
            return frozenset()
        path, _ = next(iter(self.dirs.values()))
        try:
            fd = os.open(f"{path}/cgroup.procs", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return frozenset()
        try:
            data = os.read(fd, 1 << 16)
        except OSError:
            return frozenset()
        finally:
            os.close(fd)
        return frozenset(map(int, data.split()))

    def read(self, controller: Controller, filename: str) -> str | None:
        """The stripped contents of one control file, or None."""
        if controller not in self.dirs:
            return None
        try:
            return (self.dirs[controller][0] / filename).read_text().strip()
        except OSError:
            return None

    def kill(self) -> None:
        """SIGKILL every process in the kernel's cgroups."""
        for path, version in self.dirs.values():
            if version == "v2" and (path / "cgroup.kill").exists():
                with contextlib.suppress(OSError):
                    (path / "cgroup.kill").write_text("1")
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def remove_now(self) -> bool:
        """Try once to remove every directory; True when none is left."""
        for controller, (path, _) in list(self.dirs.items()):
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                continue
            del self.dirs[controller]
            _live.pop(str(path), None)
        return not self.dirs

    async def remove(self, timeout: float = 5.0) -> bool:
        """Kill what is left, wait for the groups to empty, remove them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.remove_now():
            if loop.time() > deadline:
                return False
            self.kill()
            await asyncio.sleep(0.02)
        return True


def sweep_stale(support: CgroupSupport) -> int:
    """Remove empty per-kernel cgroups left behind by engines that died; returns the count."""
    removed = 0
    for parent in {support.pids, support.memory, support.cpu} - {None}:
        assert parent is not None
        with contextlib.suppress(OSError):
            for entry in os.scandir(parent):
                if not entry.name.startswith(_PREFIX) or not entry.is_dir():
                    continue
                owner = entry.name[len(_PREFIX) :].split("-", 1)[0]
                if not owner.isdigit() or _alive(int(owner)):
                    continue
                with contextlib.suppress(OSError):
                    os.rmdir(entry.path)
                    removed += 1
    return removed


def live_dirs(owner_prefix: str) -> set[str]:
    """Kernel cgroup directories this process created and has not removed, whose owner
    starts with ``owner_prefix``: an engine's reaper finds them all this way, including
    those of a kernel whose processes are already gone or not yet started."""
    return {path for path, owner in list(_live.items()) if owner.startswith(owner_prefix)}


def kernel_dirs_of(pid: int) -> set[str]:
    """The per-kernel cgroup directories ``pid`` is in (empty when it is gone)."""
    points: dict[str, str] = {}
    for fstype, point, opts in _mounts():
        if fstype == "cgroup2":
            points[""] = point
        else:
            for opt in opts:
                points.setdefault(opt, point)
    out = set()
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if not os.path.basename(path).startswith(_PREFIX):
                continue
            for name in controllers.split(",") if controllers else [""]:
                if name in points:
                    out.add(points[name] + path)
    return out


def remove_dirs(dirs: set[str], timeout: float = 5.0) -> set[str]:
    """Kill what is left in these cgroups and remove them (blocking); returns those left."""
    import time

    deadline = time.monotonic() + timeout
    left = set(dirs)
    while left:
        for path in list(left):
            with contextlib.suppress(OSError, ValueError):
                for pid in (Path(path) / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), signal.SIGKILL)
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                continue
            left.discard(path)
            _live.pop(path, None)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return left


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
