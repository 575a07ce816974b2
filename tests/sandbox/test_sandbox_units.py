"""Pure units: the bubblewrap argv, the launcher, the environment, Limits and the config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.provisioning import KernelProvisionerFactory
from pydantic import ValidationError

from companion_kernel import sandbox
from companion_kernel.sandbox import (
    PROVISIONER_NAME,
    BubblewrapProvisioner,
    Limits,
    SandboxConfig,
    kernel_spec_metadata,
)
from companion_kernel.sandbox._bwrap import (
    SANDBOX_HOME,
    SANDBOX_WORKDIR,
    BwrapPlan,
    bwrap_argv,
    group_file,
    hidden_paths,
    is_node_command,
    launcher_argv,
    passwd_file,
    sandbox_env,
    tuned_env,
)
from companion_kernel.sandbox.limits import MIB

PLAN = BwrapPlan(
    command=["/venv/bin/python", "-m", "ipykernel_launcher", "-f", "/rt/kernel.json"],
    system_ro=["/usr"],
    symlinks=[("usr/lib", "/lib"), ("usr/bin", "/bin")],
    etc_files=["/etc/ld.so.cache"],
    data_files=[(7, "/etc/passwd")],
    ro_binds=["/venv", "/opt/py/3.11", "/opt/py"],
    rw_binds=["/rt/sbx-1"],
    ro_files=["/rt/kernel.json"],
    workdir="/srv/work/abc",
    tmpfs_bytes=32 * MIB,
)


def pairs(argv: list[str], flag: str) -> list[tuple[str, str]]:
    """(src, dest) of every two-argument ``flag`` in ``argv``."""
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == flag]


class TestBwrapArgv:
    def test_every_namespace_is_unshared_and_privileges_dropped(self) -> None:
        argv = bwrap_argv("/usr/bin/bwrap", PLAN)
        for flag in (
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-net",
            "--die-with-parent",
            "--new-session",
            "--disable-userns",
        ):
            assert flag in argv
        assert argv[argv.index("--cap-drop") + 1] == "ALL"
        assert "--share-net" not in argv

    def test_disable_userns_only_when_supported(self) -> None:
        plan = BwrapPlan(command=["true"], disable_userns=False)
        assert "--disable-userns" not in bwrap_argv("bwrap", plan)

    def test_command_comes_last_after_remounting_root_read_only(self) -> None:
        argv = bwrap_argv("/usr/bin/bwrap", PLAN)
        sep = argv.index("--")
        assert argv[sep + 1 :] == list(PLAN.command)
        assert argv[sep - 2 : sep] == ["--remount-ro", "/"]
        assert argv[0] == "/usr/bin/bwrap"

    def test_tmpfs_mounts_are_capped_and_come_before_binds(self) -> None:
        argv = bwrap_argv("bwrap", PLAN)
        tmpfs = [argv[i + 1] for i, a in enumerate(argv) if a == "--tmpfs"]
        assert tmpfs == ["/dev/shm", "/tmp", SANDBOX_HOME]
        for i, a in enumerate(argv):
            if a == "--tmpfs":
                assert argv[i - 2 : i] == ["--size", str(32 * MIB)]
        last_tmpfs = max(i for i, a in enumerate(argv) if a == "--tmpfs")
        first_bind = min(i for i, a in enumerate(argv) if a == "--bind")
        first_user_ro = argv.index("/venv")
        assert last_tmpfs < first_user_ro and last_tmpfs < first_bind

    def test_no_size_without_a_cap(self) -> None:
        argv = bwrap_argv("bwrap", BwrapPlan(command=["true"]))
        assert "--size" not in argv and argv.count("--tmpfs") == 3

    def test_only_the_ipc_dir_and_workdir_are_writable(self) -> None:
        argv = bwrap_argv("bwrap", PLAN)
        assert pairs(argv, "--bind") == [
            ("/rt/sbx-1", "/rt/sbx-1"),
            ("/srv/work/abc", SANDBOX_WORKDIR),
        ]
        assert argv[argv.index("--chdir") + 1] == SANDBOX_WORKDIR
        ro = pairs(argv, "--ro-bind")
        assert ("/usr", "/usr") in ro and ("/rt/kernel.json", "/rt/kernel.json") in ro
        assert all(src == dest for src, dest in ro)

    def test_parents_are_bound_before_children(self) -> None:
        ro = [src for src, _ in pairs(bwrap_argv("bwrap", PLAN), "--ro-bind")]
        assert ro.index("/opt/py") < ro.index("/opt/py/3.11")

    def test_connection_file_is_bound_after_the_ipc_dir(self) -> None:
        argv = bwrap_argv("bwrap", PLAN)
        assert argv.index("/rt/kernel.json", argv.index("--bind")) > argv.index("/rt/sbx-1")

    def test_without_workdir_the_cwd_is_home(self) -> None:
        argv = bwrap_argv("bwrap", BwrapPlan(command=["true"]))
        assert argv[argv.index("--chdir") + 1] == SANDBOX_HOME
        assert "--bind" not in argv

    def test_symlinks_etc_and_generated_files(self) -> None:
        argv = bwrap_argv("bwrap", PLAN)
        assert pairs(argv, "--symlink") == [("usr/lib", "/lib"), ("usr/bin", "/bin")]
        assert pairs(argv, "--ro-bind-try") == [("/etc/ld.so.cache", "/etc/ld.so.cache")]
        assert pairs(argv, "--ro-bind-data") == [("7", "/etc/passwd")]


class TestLauncher:
    def test_prlimit_form(self) -> None:
        argv = launcher_argv(
            ["bwrap", "x"], rlimits={"nofile": (64, 64), "as": (1, 2)}, prlimit="/usr/bin/prlimit"
        )
        assert argv == ["/usr/bin/prlimit", "--as=1:2", "--nofile=64:64", "--", "bwrap", "x"]

    def test_cgroup_join_wraps_everything(self) -> None:
        argv = launcher_argv(["k"], rlimits={}, cgroup_procs=["/a/cgroup.procs", "/b/cgroup.procs"])
        assert argv[:2] == ["/bin/sh", "-c"]
        assert argv[3:] == ["companion-sandbox", "2", "/a/cgroup.procs", "/b/cgroup.procs", "k"]

    def test_nothing_to_do_leaves_the_command_alone(self) -> None:
        assert launcher_argv(["k", "-f"], rlimits={}) == ["k", "-f"]

    @pytest.mark.parametrize("use_prlimit", [True, False], ids=["prlimit", "python-shim"])
    def test_limits_really_apply(self, use_prlimit: bool) -> None:
        prlimit = shutil.which("prlimit") if use_prlimit else None
        if use_prlimit and prlimit is None:
            pytest.skip("util-linux prlimit is not installed")
        argv = launcher_argv(
            ["/bin/sh", "-c", "ulimit -n; ulimit -c"],
            rlimits={"nofile": (77, 77), "core": (0, 0)},
            prlimit=prlimit,
            python=sys.executable,
        )
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30)
        assert out.stdout.split() == ["77", "0"]

    def test_cgroup_join_writes_the_final_pid(self, tmp_path) -> None:
        files = [tmp_path / "a.procs", tmp_path / "b.procs"]
        for f in files:
            f.write_text("")
        argv = launcher_argv(
            ["/bin/sh", "-c", "echo $$"], rlimits={}, cgroup_procs=[str(f) for f in files]
        )
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30)
        assert [f.read_text().strip() for f in files] == [out.stdout.strip()] * 2

    def test_cgroup_join_failure_stops_the_launch(self, tmp_path) -> None:
        argv = launcher_argv(
            ["/bin/echo", "launched"],
            rlimits={},
            cgroup_procs=[str(tmp_path / "missing" / "cgroup.procs")],
        )
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
        assert out.returncode == 125 and "launched" not in out.stdout
        assert "cannot join cgroup" in out.stderr


class TestEnvironment:
    def test_nothing_from_the_host(self, monkeypatch) -> None:
        monkeypatch.setenv("CK_HOST_SECRET", "x")
        env = sandbox_env(path=["/usr/bin"], extra={"EXTRA": "1"}, node_heap_mb=256)
        assert "CK_HOST_SECRET" not in env
        assert env["HOME"] == SANDBOX_HOME and env["PATH"] == "/usr/bin"
        assert env["EXTRA"] == "1" and env["JPY_PARENT_PID"] == "1"
        assert env["NODE_OPTIONS"] == "--max-old-space-size=256"
        assert env["MALLOC_ARENA_MAX"] == "2"
        for key in ("IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "MPLCONFIGDIR", "XDG_CACHE_HOME"):
            assert env[key].startswith(SANDBOX_HOME + "/")

    def test_extra_overrides_the_base(self) -> None:
        assert sandbox_env(path=[], extra={"LANG": "de_DE.UTF-8"})["LANG"] == "de_DE.UTF-8"

    def test_tuned_env_appends_to_node_options(self) -> None:
        env = tuned_env(
            {"NODE_OPTIONS": "--trace-warnings", "MALLOC_ARENA_MAX": "4"}, node_heap_mb=128
        )
        assert env["NODE_OPTIONS"] == "--trace-warnings --max-old-space-size=128"
        assert env["MALLOC_ARENA_MAX"] == "4"
        assert "NODE_OPTIONS" not in tuned_env({}, node_heap_mb=None)

    def test_passwd_and_group(self) -> None:
        assert passwd_file().decode().startswith(f"sandbox:x:1000:1000:sandbox:{SANDBOX_HOME}:")
        assert group_file().decode().splitlines()[0] == "sandbox:x:1000:"


class TestPaths:
    def test_hidden_paths(self) -> None:
        visible = ["/usr", "/work/main/.venv", "/rt/k.json"]
        paths = [
            "/usr/bin/node",
            "/work/main/.venv/bin/python",
            "/work/main/kernel.js",
            "/usr2/x",
            "/rt/k.json",
            "relative/ignored",
        ]
        assert hidden_paths(paths, visible) == ["/work/main/kernel.js", "/usr2/x"]

    def test_is_node_command(self) -> None:
        assert is_node_command(["/usr/bin/node", "kernel.js"])
        assert is_node_command(["nodejs"])
        assert not is_node_command(["python", "-m", "node"])
        assert not is_node_command([])


class TestLimits:
    def test_documented_defaults(self) -> None:
        limits = Limits()
        assert (limits.memory_mb, limits.node_heap_mb, limits.node_as_headroom_mb) == (
            1024,
            512,
            2048,
        )
        assert (limits.pids, limits.fsize_mb, limits.nofile) == (128, 64, 256)
        assert (limits.cpu_seconds, limits.tmpfs_mb) == (1800, 256)

    def test_rlimits_for_python_and_node(self) -> None:
        limits = Limits()
        py = limits.rlimits(node=False)
        assert py["as"] == (1024 * MIB, 1024 * MIB)
        assert py["fsize"] == (64 * MIB, 64 * MIB) and py["nofile"] == (256, 256)
        assert py["cpu"] == (1800, 1805) and py["core"] == (0, 0)
        assert limits.rlimits(node=True)["as"] == (2560 * MIB, 2560 * MIB)

    def test_none_switches_a_limit_off(self) -> None:
        limits = Limits(
            memory_mb=None, fsize_mb=None, nofile=None, cpu_seconds=None, node_heap_mb=None
        )
        assert limits.rlimits(node=False) == {"core": (0, 0)}
        assert limits.rlimits(node=True) == {"core": (0, 0)}
        assert limits.memory_bytes() is None

    def test_frozen_and_strict(self) -> None:
        with pytest.raises(ValidationError):
            Limits(memory=5)  # type: ignore[call-arg]
        with pytest.raises(ValidationError):
            Limits(pids=1)
        with pytest.raises(ValidationError):
            Limits().memory_mb = 5  # type: ignore[misc]


class TestConfig:
    def test_metadata_selects_the_provisioner(self) -> None:
        meta = kernel_spec_metadata(SandboxConfig(limits=Limits(pids=64), ro_binds=("/opt/k",)))
        stanza = meta["kernel_provisioner"]
        assert stanza["provisioner_name"] == PROVISIONER_NAME == "companion-bwrap-provisioner"
        assert stanza["config"] == {"limits": {"pids": 64}, "ro_binds": ["/opt/k"]}
        assert SandboxConfig.model_validate(stanza["config"]).limits.pids == 64

    def test_default_metadata_has_an_empty_config(self) -> None:
        assert kernel_spec_metadata()["kernel_provisioner"]["config"] == {}

    def test_entry_point_is_registered(self) -> None:
        factory = KernelProvisionerFactory.instance()
        assert factory._check_availability(PROVISIONER_NAME)
        assert factory.provisioners[PROVISIONER_NAME].load() is BubblewrapProvisioner

    def test_public_names_are_sorted_and_complete(self) -> None:
        def isort_style(name: str) -> tuple[int, str]:  # ruff's RUF022 order
            return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

        assert sandbox.__all__ == sorted(sandbox.__all__, key=isort_style)
        assert all(hasattr(sandbox, name) for name in sandbox.__all__)
        public = {n for n in vars(sandbox) if not n.startswith("_") and n[0].isupper()}
        assert public - {"annotations"} <= set(sandbox.__all__)


class TestSeccompFilter:
    def test_filter_compiles_from_the_deny_list(self) -> None:
        from companion_kernel.sandbox import _seccomp

        ok, detail = _seccomp.available()
        assert ok, detail
        program = _seccomp.compile_filter()
        assert len(program) % 8 == 0 and len(program) > 8 * len(_seccomp.DENIED)

    def test_filter_fd_holds_the_program(self) -> None:
        from companion_kernel.sandbox import _seccomp

        fd = _seccomp.filter_fd()
        try:
            assert os.read(fd, 1 << 16) == _seccomp.compile_filter()
        finally:
            os.close(fd)


class TestUnconfinedEnv:
    def test_only_locale_paths_identity_jupyter_and_named_variables_pass(self) -> None:
        from companion_kernel.sandbox._bwrap import unconfined_env

        host = {
            "PATH": "/usr/bin",
            "LC_CTYPE": "C.UTF-8",
            "JPY_SESSION_NAME": "x",
            "AWS_SECRET_ACCESS_KEY": "s",
            "OPENAI_API_KEY": "k",
            "SPEC_VAR": "v",
        }
        env = unconfined_env(host, keep=["SPEC_VAR"], node_heap_mb=None)
        assert set(env) == {"PATH", "LC_CTYPE", "JPY_SESSION_NAME", "SPEC_VAR", "MALLOC_ARENA_MAX"}


class TestHostIdentityArgv:
    def test_root_plan_drops_to_the_host_uid_without_a_user_namespace(self) -> None:
        from companion_kernel.sandbox._bwrap import BwrapPlan, bwrap_argv

        argv = bwrap_argv("bwrap", BwrapPlan(command=["k"], host_uid=4242, host_gid=4343))
        assert "--unshare-user" not in argv and "--uid" not in argv
        tail = argv[argv.index("--") + 1 :]
        assert tail[:3] == ["/usr/bin/setpriv", "--reuid=4242", "--regid=4343"]
        assert {"--no-new-privs", "--bounding-set=-all", "--clear-groups"} <= set(tail)
        assert tail[-1] == "k"

    def test_parents_of_mount_points_are_made_traversable(self) -> None:
        from companion_kernel.sandbox._bwrap import BwrapPlan, bwrap_argv

        argv = bwrap_argv(
            "bwrap", BwrapPlan(command=["k"], host_uid=1, ro_binds=["/opt/a/b/venv"])
        )
        text = " ".join(argv)
        for parent in ("/opt", "/opt/a", "/opt/a/b"):
            assert f"--perms 0755 --dir {parent} " in text
        assert text.index("--dir /opt/a/b ") < text.index("--ro-bind /opt/a/b/venv")
        assert "--dir /tmp " not in text  # never re-create (and chmod) our own tmpfs


class TestRemoveTree:
    def test_trees_deeper_than_the_recursion_limit_are_removed(self, tmp_path: Path) -> None:
        from companion_kernel.sandbox import remove_tree

        root = tmp_path / "deep"
        fd = os.open(tmp_path, os.O_RDONLY)
        try:
            os.mkdir("deep", dir_fd=fd)
            for _ in range(sys.getrecursionlimit() + 100):
                nxt = os.open("deep" if _ == 0 else "d", os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = nxt
                os.mkdir("d", dir_fd=fd)
        finally:
            os.close(fd)
        (tmp_path / "outside").write_text("keep")
        os.symlink(tmp_path / "outside", root / "link")
        remove_tree(root)
        assert not root.exists()
        assert (tmp_path / "outside").read_text() == "keep"  # symlinks are not followed
