"""A throw-away kernel spec directory for the Node kernel tests (never the user's folders)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import psutil
import pytest
from kernels._node_support import MAX_OUTPUT, SIGNAL_SPEC, SPEC

from companion_kernel.kernels import node


@pytest.fixture(autouse=True, scope="session")
def node_kernel_specs() -> Iterator[str]:
    """Write both specs (message and signal interrupts) and point JUPYTER_PATH at them."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed")
    problem = node.check_installed()
    if problem:
        pytest.fail(problem)
    root = tempfile.mkdtemp(prefix="ck-specs-")
    env = {"COMPANION_NODE_MAX_OUTPUT": str(MAX_OUTPUT)}
    node.write_kernel_spec(os.path.join(root, "kernels"), SPEC, env=env)
    node.write_kernel_spec(
        os.path.join(root, "kernels"), SIGNAL_SPEC, env=env, interrupt_mode="signal"
    )
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = root + (os.pathsep + old if old else "")
    try:
        yield root
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True, scope="module")
def no_orphan_node_kernels() -> Iterator[None]:
    """After each module, no Node kernel started by this test process may still run."""
    yield
    script = str(node.kernel_dir() / "kernel.js")
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if script in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.Error:
            continue
    for proc in alive:
        proc.kill()
    assert not alive, f"orphan node kernels: {[p.pid for p in alive]}"
