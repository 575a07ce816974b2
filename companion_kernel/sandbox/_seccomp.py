"""The kernels' seccomp filter: a deny-list reviewed as data, compiled by libseccomp.

bubblewrap loads the compiled BPF (``--seccomp FD``) just before it executes the
kernel, so every process of the sandbox runs under it and cannot remove it.

Like the default profiles of Docker and containerd, the filter refuses what a kernel
never needs and what widens the kernel's reach: mounting and namespaces, tracing
other processes, kernel keyrings, eBPF, perf, module loading and kexec, clocks and
host administration, userfaultfd and io_uring (used in kernel exploits), handles
that bypass path checks, and socket families that leave the network namespace.
It is a deny-list rather than Docker's allow-list because kernels run arbitrary
interpreters and their native extensions; each entry names why it is here.

Refused calls fail with EPERM (the caller sees an ordinary error); ``clone3`` and
``io_uring_setup`` fail with ENOSYS so libc and libuv fall back to ``clone`` and
thread pools. System calls of other ABIs (i386 ``int 0x80``, x32) kill the process:
libseccomp's default for foreign architectures.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile
from collections.abc import Mapping

__all__ = ["DENIED", "NAMESPACE_FLAGS", "available", "compile_filter", "filter_fd"]

DENIED: Mapping[str, str] = {
    # mounts and namespaces: the sandbox's layout is fixed once bubblewrap is done
    "mount": "mounts",
    "umount": "mounts",
    "umount2": "mounts",
    "pivot_root": "mounts",
    "chroot": "mounts",
    "mount_setattr": "mounts",
    "move_mount": "mounts",
    "open_tree": "mounts",
    "fsopen": "mounts",
    "fsconfig": "mounts",
    "fsmount": "mounts",
    "fspick": "mounts",
    "unshare": "new namespaces",
    "setns": "joining namespaces",
    # other processes' memory and descriptors
    "ptrace": "tracing processes",
    "process_vm_readv": "reading other processes' memory",
    "process_vm_writev": "writing other processes' memory",
    "pidfd_getfd": "stealing other processes' descriptors",
    "kcmp": "probing other processes' kernel objects",
    # kernel attack surface that kernels never need
    "keyctl": "kernel keyrings (not namespaced)",
    "add_key": "kernel keyrings (not namespaced)",
    "request_key": "kernel keyrings (not namespaced)",
    "bpf": "eBPF programs",
    "perf_event_open": "performance counters (side channels)",
    "userfaultfd": "userfaultfd (exploit primitive)",
    "io_uring_setup": "io_uring (bypasses this filter for its operations)",
    "io_uring_enter": "io_uring",
    "io_uring_register": "io_uring",
    "open_by_handle_at": "file handles bypass path checks (container breakout)",
    "name_to_handle_at": "file handles",
    "fanotify_init": "filesystem-wide monitoring",
    "lookup_dcookie": "kernel profiling",
    "uselib": "obsolete loader",
    "vm86": "obsolete",
    "vm86old": "obsolete",
    "_sysctl": "obsolete sysctl",
    "sysfs": "obsolete",
    "ustat": "obsolete",
    "nfsservctl": "obsolete",
    # host administration
    "kexec_load": "replacing the host kernel",
    "kexec_file_load": "replacing the host kernel",
    "init_module": "loading kernel modules",
    "finit_module": "loading kernel modules",
    "delete_module": "unloading kernel modules",
    "create_module": "kernel modules",
    "get_kernel_syms": "kernel modules",
    "query_module": "kernel modules",
    "reboot": "rebooting the host",
    "swapon": "host swap",
    "swapoff": "host swap",
    "acct": "process accounting",
    "quotactl": "filesystem quotas",
    "quotactl_fd": "filesystem quotas",
    "settimeofday": "the host clock",
    "clock_settime": "the host clock",
    "clock_adjtime": "the host clock",
    "adjtimex": "the host clock",
    "stime": "the host clock",
    "syslog": "the kernel log",
    "vhangup": "terminals",
    "iopl": "raw I/O ports",
    "ioperm": "raw I/O ports",
    "sethostname": "host name",
    "setdomainname": "host name",
}
"""System calls every sandboxed kernel is refused, with the reason."""

NAMESPACE_FLAGS: Mapping[str, int] = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
"""``clone`` flags refused: a kernel may start processes and threads, not namespaces."""

_ENOSYS = frozenset({"clone3", "io_uring_setup"})
# ioctls that type into a terminal, control the console, or switch a tty's line
# discipline (rarely used disciplines have a history of kernel bugs).
_TIOCSTI, _TIOCLINUX, _TIOCSETD = 0x5412, 0x541C, 0x5423
_AF_VSOCK = 40  # virtual machine sockets are not part of the network namespace


def _module():  # pyseccomp ships no type information
    import pyseccomp

    return pyseccomp


@functools.cache
def available() -> tuple[bool, str]:
    """Whether libseccomp can compile a filter here, and a short detail."""
    try:
        compile_filter()
    except (ImportError, OSError, RuntimeError) as exc:
        return False, f"libseccomp unavailable ({exc}); apt-get install libseccomp2"
    return True, (
        f"libseccomp deny-list: {len(DENIED)} system calls, namespace flags of clone, "
        "terminal-injection ioctls and vsock sockets refused"
    )


@functools.cache
def compile_filter() -> bytes:
    """The BPF program (raw ``sock_filter`` array) of the kernels' filter."""
    sc = _module()
    arch = sc.system_arch()
    filt = sc.SyscallFilter(sc.ALLOW)
    for name in sorted(set(DENIED) | _ENOSYS):
        if sc.resolve_syscall(arch, name) < 0:
            continue  # not a system call on this architecture
        code = errno.ENOSYS if name in _ENOSYS else errno.EPERM
        filt.add_rule(sc.ERRNO(code), name)
    for flag in NAMESPACE_FLAGS.values():
        filt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    for request in (_TIOCSTI, _TIOCLINUX, _TIOCSETD):
        filt.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    filt.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.EQ, _AF_VSOCK))
    with tempfile.TemporaryFile() as out:
        filt.export_bpf(out)
        out.seek(0)
        return out.read()


def filter_fd() -> int:
    """A readable pipe holding the compiled filter, for ``bwrap --seccomp FD``.

    The caller passes it to the child and closes it afterwards.
    """
    program = compile_filter()
    read, write = os.pipe()
    try:
        # A few KiB: far below the pipe buffer, so the write never blocks.
        os.write(write, program)
    finally:
        os.close(write)
    return read
