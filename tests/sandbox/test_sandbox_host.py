"""Host facts: bubblewrap availability, isolation modes and real cgroup directories."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox._sandbox_support import requires_bwrap

from companion_kernel.errors import SandboxUnavailable
from companion_kernel.sandbox import _cgroups, _isolation, bwrap_available, resolve_isolation


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    """A PATH without bubblewrap, with the cached answers forgotten before and after."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_isolation, "_warned_auto", False)
    bwrap_available.cache_clear()
    yield
    bwrap_available.cache_clear()


class TestIsolationModes:
    def test_off_never_sandboxes(self) -> None:
        assert resolve_isolation("off") is False

    def test_unknown_mode_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="require"):
            resolve_isolation("sometimes")  # type: ignore[arg-type]

    @requires_bwrap
    def test_bwrap_really_runs_here(self) -> None:
        ok, detail = bwrap_available()
        assert ok and "bubblewrap" in detail
        assert resolve_isolation("require") is True
        assert resolve_isolation("auto") is True

    @pytest.mark.usefixtures("no_bwrap")
    def test_require_fails_clearly_without_bwrap(self) -> None:
        assert bwrap_available() == (False, "bwrap is not installed (apt-get install bubblewrap)")
        with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
            resolve_isolation("require")

    @pytest.mark.usefixtures("no_bwrap")
    def test_auto_never_runs_root_kernels_unconfined(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("companion_kernel.sandbox._isolation.engine_is_root", lambda: True)
        with pytest.raises(SandboxUnavailable, match="kernels would run as host root"):
            resolve_isolation("auto")

    @pytest.mark.usefixtures("no_bwrap")
    def test_auto_warns_once_and_runs_unsandboxed(
        self, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("companion_kernel.sandbox._isolation.engine_is_root", lambda: False)
        with caplog.at_level(logging.WARNING, logger="companion_kernel.sandbox"):
            assert resolve_isolation("auto") is False
            assert resolve_isolation("auto") is False
        warnings = [r for r in caplog.records if "WITHOUT isolation" in r.getMessage()]
        assert len(warnings) == 1


@pytest.mark.skipif(
    not (_cgroups.detect().pids or _cgroups.detect().memory), reason="no writable cgroups here"
)
class TestCgroups:
    def test_create_limit_and_remove(self) -> None:
        support = _cgroups.detect()
        group = _cgroups.KernelCgroup.create(support, pids=33, memory_bytes=300 * 1024 * 1024)
        try:
            dirs = [path for path, _ in group.dirs.values()]
            assert all(
                p.is_dir() and p.name.startswith(f"companion-kernel-{os.getpid()}-") for p in dirs
            )
            if support.pids:
                assert group.read("pids", "pids.max") == "33"
            assert len(group.procs_files) == len(dirs)
            assert group.pids() == []
        finally:
            assert group.remove_now()
        assert not any(p.exists() for p in dirs)

    def test_stale_groups_of_dead_engines_are_swept(self) -> None:
        support = _cgroups.detect()
        dead = 2**22 + 12345  # above pid_max's default: no such process
        parent = support.pids or support.memory
        assert parent is not None
        stale = os.path.join(parent, f"companion-kernel-{dead}-deadbeef")
        os.mkdir(stale)
        mine = _cgroups.KernelCgroup.create(support, pids=10, memory_bytes=None)
        try:
            assert _cgroups.sweep_stale(support) >= 1
            assert not os.path.exists(stale)
            assert all(p.exists() for p, _ in mine.dirs.values())  # ours: owner alive
        finally:
            mine.remove_now()

    def test_support_is_described(self) -> None:
        support = _cgroups.detect()
        for controller in ("pids", "memory"):
            text = support.describe(controller)  # type: ignore[arg-type]
            assert text == "none" or text.startswith(f"{controller} cgroup v")


@pytest.mark.skipif(not _cgroups.detect().pids, reason="no writable pids cgroup here")
def test_a_reaper_finds_a_kernels_cgroups_by_pid_and_removes_them() -> None:
    group = _cgroups.KernelCgroup.create(_cgroups.detect(), pids=16, memory_bytes=None)
    proc = subprocess.Popen(["sleep", "300"])
    try:
        for procs in group.procs_files:
            Path(procs).write_text(str(proc.pid))
        dirs = _cgroups.kernel_dirs_of(proc.pid)
        assert dirs == {str(path) for path, _ in group.dirs.values()}
        assert _cgroups.remove_dirs(dirs) == set()
        assert proc.wait(10) == -signal.SIGKILL
        assert not any(os.path.exists(d) for d in dirs)
    finally:
        proc.kill()
        proc.wait()
        group.remove_now()
