"""The Python side of the Node kernel: paths, launch command, kernel spec, install check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpec

from companion_kernel.kernels import node


def test_kernel_argv_points_at_kernel_js() -> None:
    argv = node.kernel_argv("/opt/node/bin/node")
    assert argv[0] == "/opt/node/bin/node"
    assert Path(argv[1]) == node.kernel_dir() / "kernel.js"
    assert Path(argv[1]).is_file()
    assert argv[2] == "{connection_file}"


def test_check_installed_passes_here() -> None:
    assert node.check_installed() is None


def test_check_installed_explains_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(node, "kernel_dir", lambda: tmp_path)
    problem = node.check_installed()
    assert problem is not None
    assert "make setup" in problem and "npm ci" in problem


def test_write_kernel_spec_is_a_valid_jupyter_spec(tmp_path: Path) -> None:
    folder = node.write_kernel_spec(
        tmp_path, "js", interrupt_mode="signal", env={"COMPANION_NODE_MAX_OUTPUT": "10"}
    )
    spec = KernelSpec.from_resource_dir(str(folder))
    assert spec.language == "javascript"
    assert spec.interrupt_mode == "signal"
    assert spec.argv == node.kernel_argv()
    assert spec.env == {"COMPANION_NODE_MAX_OUTPUT": "10"}
    assert json.loads((folder / "kernel.json").read_text())["metadata"] == {"debugger": False}


def test_default_interrupt_mode_is_message() -> None:
    assert node.kernel_spec()["interrupt_mode"] == "message"


def test_node_package_is_pinned() -> None:
    package = json.loads((node.kernel_dir() / "package.json").read_text())
    lock = json.loads((node.kernel_dir() / "package-lock.json").read_text())
    assert set(package["dependencies"]) == {"zeromq", "acorn"}
    for name, version in package["dependencies"].items():
        assert version[0].isdigit(), f"{name} must be pinned exactly"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
