"""Our JavaScript kernel (``kernel.js``): where it lives, how to launch it, whether it is installed.

The kernel itself is Node.js code; this module only gives Python the paths and the kernel
spec. ``node_modules`` is installed by ``make setup`` (``npm ci`` in this folder).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
from typing import Any, Literal

__all__ = [
    "DISPLAY_NAME",
    "check_installed",
    "kernel_argv",
    "kernel_dir",
    "kernel_spec",
    "write_kernel_spec",
]

DISPLAY_NAME = "JavaScript (Node.js, companion)"


def kernel_dir() -> pathlib.Path:
    """The folder holding ``kernel.js``, ``package.json`` and ``node_modules``."""
    return pathlib.Path(__file__).resolve().parent


def _node(node: str | None) -> str:
    if node:
        return node
    return os.environ.get("COMPANION_NODE") or shutil.which("node") or "node"


def kernel_argv(node: str | None = None) -> list[str]:
    """The launch command, with jupyter_client's ``{connection_file}`` placeholder."""
    return [_node(node), str(kernel_dir() / "kernel.js"), "{connection_file}"]


def check_installed() -> str | None:
    """None when the kernel can run; otherwise what is missing and how to fix it."""
    if shutil.which(_node(None)) is None and not pathlib.Path(_node(None)).exists():
        return "Node.js (`node`) was not found on PATH; install Node.js 20 or newer."
    modules = kernel_dir() / "node_modules"
    for package in ("zeromq", "acorn"):
        if not (modules / package / "package.json").is_file():
            return (
                f"the Node kernel's dependencies are missing ({modules / package}); "
                f"run `make setup` or `cd {kernel_dir()} && npm ci`."
            )
    return None


def kernel_spec(
    node: str | None = None,
    *,
    interrupt_mode: Literal["message", "signal"] = "message",
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``kernel.json`` content. Message interrupts work everywhere, sandbox included."""
    spec: dict[str, Any] = {
        "argv": kernel_argv(node),
        "display_name": DISPLAY_NAME,
        "language": "javascript",
        "interrupt_mode": interrupt_mode,
        "metadata": {"debugger": False},
    }
    if env:
        spec["env"] = dict(env)
    return spec


def write_kernel_spec(
    directory: str | os.PathLike[str],
    name: str = "companion-javascript",
    **options: Any,
) -> pathlib.Path:
    """Write ``<directory>/<name>/kernel.json`` (options go to :func:`kernel_spec`)."""
    target = pathlib.Path(directory) / name
    target.mkdir(parents=True, exist_ok=True)
    (target / "kernel.json").write_text(json.dumps(kernel_spec(**options), indent=2) + "\n")
    return target
