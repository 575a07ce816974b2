"""Per-kernel resource limits: what we cap, our defaults, and why.

Each field caps one resource of one kernel (the kernel process and everything it
starts). ``None`` switches a limit off. The wall-clock timeout and the output cap
are per execution and live in the engine's config, not here.

How each limit is enforced (``doctor`` measures that each one is really in force):

| field              | mechanism                                                        |
|--------------------|------------------------------------------------------------------|
| memory_mb          | RLIMIT_AS (non-Node kernels) + memory cgroup (all processes)     |
| node_heap_mb       | V8 ``--max-old-space-size`` through NODE_OPTIONS                 |
| node_as_headroom_mb| RLIMIT_AS of Node kernels = node_heap_mb + node_as_headroom_mb   |
| pids               | pids cgroup ``pids.max``; RLIMIT_NPROC fallback when not root    |
| fsize_mb           | RLIMIT_FSIZE                                                     |
| nofile             | RLIMIT_NOFILE                                                    |
| cpu_seconds        | RLIMIT_CPU (soft; SIGKILL 5 s later at the hard limit)           |
| tmpfs_mb           | ``size=`` of the /tmp, HOME and /dev/shm tmpfs mounts            |
| cpus               | cpu cgroup quota (``cpu.cfs_quota_us`` / ``cpu.max``)            |
| workspace_mb/files | a tmpfs of that size and inode count on /workspace (root engine) |
| (core dumps)       | RLIMIT_CORE = 0, always                                          |

Our defaults beside those of other code runners (their documented defaults):

| limit            | companion_kernel | Judge0 (isolate) | Piston     | nsjail        |
|------------------|------------------|------------------|------------|---------------|
| memory           | 1024 MiB         | 128 MB (AS)      | unlimited  | 4096 MiB (AS) |
| processes        | 128 (threads too)| 60               | 64         | not capped    |
| file size        | 64 MiB           | 1 MiB            | 10 MB      | 1 MiB         |
| open files       | 256              | 64               | 64         | 32            |
| CPU time         | 1800 s / kernel  | 5 s / run        | 3 s / run  | 600 s         |
| wall clock       | engine timeout   | 10 s             | 3 s        | 600 s         |
| network          | none             | off              | off        | none          |

Those tools run one short program per sandbox; we keep a warm, stateful kernel for
a whole session, so CPU time is a lifetime backstop rather than a per-run budget
and memory and open files are sized for a Python or Node interpreter with data
libraries loaded.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MIB", "Limits"]

MIB = 1024 * 1024
"""Bytes in a mebibyte."""


class Limits(BaseModel):
    """Resource limits applied to each kernel; ``None`` disables a limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    memory_mb: int | None = Field(default=1024, ge=64)
    """Memory cap in MiB (default 1024). Enforced as RLIMIT_AS for Python and other
    non-Node kernels and as a memory cgroup limit on the kernel's whole process tree
    (resident memory, tmpfs files included) where cgroups are writable. 1 GiB holds
    pandas/numpy work on medium data while several warm kernels still fit on a
    laptop; an ipykernel needs about 220 MiB of address space at rest."""

    node_heap_mb: int | None = Field(default=512, ge=16)
    """V8 old-space heap cap of Node kernels in MiB (default 512), set with
    ``--max-old-space-size``: V8 stops with "heap out of memory" instead of growing
    until the address-space limit makes allocations fail at random."""

    node_as_headroom_mb: int = Field(default=2048, ge=512)
    """Extra address space for Node kernels on top of the heap, in MiB (default 2048).
    V8 reserves large virtual ranges: our Node kernel (main thread plus the worker that
    runs user code) maps about 1.3 GiB at rest whatever the heap size, and Buffers live
    outside the heap. Node's RLIMIT_AS is ``node_heap_mb + node_as_headroom_mb``; real
    memory use is held to ``memory_mb`` by the memory cgroup."""

    pids: int | None = Field(default=128, ge=8)
    """Processes plus threads of the kernel's tree (default 128). Stops fork bombs.
    An ipykernel runs about 13 threads and Node about 11, and BLAS libraries start one
    per core, so 128 leaves room for real subprocess and thread pools. Enforced by the
    pids cgroup; RLIMIT_NPROC is only a fallback for non-root users (the kernel does
    not enforce it for root)."""

    fsize_mb: int | None = Field(default=64, ge=1)
    """Largest file the kernel may write, in MiB (default 64): RLIMIT_FSIZE. Enough
    for CSV and plot exports, small enough that a runaway writer cannot fill the
    per-session working directory, which is a host directory with no quota."""

    nofile: int | None = Field(default=256, ge=32)
    """Open file descriptors per process (default 256): RLIMIT_NOFILE. ZeroMQ and
    the interpreter use about 40; the rest is for user code."""

    cpu_seconds: int | None = Field(default=1800, ge=1)
    """CPU seconds per process over the kernel's lifetime (default 1800): RLIMIT_CPU.
    A backstop for spinning code that escapes the per-execution wall-clock timeout
    (background threads, orphaned subprocesses). Warm kernels serve many cells, so it
    must be generous; the kernel gets SIGXCPU at the limit and SIGKILL 5 s later."""

    tmpfs_mb: int | None = Field(default=256, ge=1)
    """Size of each private tmpfs (/tmp, HOME and /dev/shm) in MiB (default 256).
    Their pages also count against ``memory_mb`` through the memory cgroup."""

    cpus: float | None = Field(default=1.0, gt=0, le=1024)
    """CPU time per wall-clock second for the kernel's whole tree (default 1.0, one
    core): a cpu cgroup quota. One kernel spinning on every core cannot starve the
    engine or the other sessions."""

    workspace_mb: int | None = Field(default=512, ge=1)
    """Disk quota of the kernel's /workspace in MiB (default 512). When the engine is
    root, the workspace is a tmpfs of this size: a write past it fails with ENOSPC
    inside the kernel. Its pages count against ``memory_mb`` when the kernel writes
    them, so the default stays below the memory cap. Not enforced for non-root
    engines (they cannot mount); ``doctor`` says which is in force."""

    workspace_files: int | None = Field(default=50_000, ge=16)
    """Files and directories the workspace may hold (default 50,000): the inode cap
    of the workspace tmpfs, so a cell cannot fill the host with empty files."""

    def memory_bytes(self) -> int | None:
        """The memory cap in bytes, or None."""
        return None if self.memory_mb is None else self.memory_mb * MIB

    def address_space_bytes(self, *, node: bool) -> int | None:
        """RLIMIT_AS for a kernel: the heap plus headroom for Node, memory_mb otherwise."""
        if node:
            if self.node_heap_mb is None:
                return None
            return (self.node_heap_mb + self.node_as_headroom_mb) * MIB
        return self.memory_bytes()

    def rlimits(self, *, node: bool) -> dict[str, tuple[int, int]]:
        """The rlimits to set, as ``{prlimit option: (soft, hard)}``; core dumps are off."""
        out: dict[str, tuple[int, int]] = {"core": (0, 0)}
        address_space = self.address_space_bytes(node=node)
        if address_space is not None:
            out["as"] = (address_space, address_space)
        if self.fsize_mb is not None:
            out["fsize"] = (self.fsize_mb * MIB, self.fsize_mb * MIB)
        if self.nofile is not None:
            out["nofile"] = (self.nofile, self.nofile)
        if self.cpu_seconds is not None:
            out["cpu"] = (self.cpu_seconds, self.cpu_seconds + 5)
        return out
