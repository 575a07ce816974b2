"""Start a throw-away kernel from a temporary kernel spec (for doctor, tests, benchmarks).

Nothing is written to the user's or the environment's Jupyter folders: the spec, the
connection file and the sockets live in one temporary directory.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from jupyter_client import AsyncKernelClient, AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager

from .provisioner import SandboxConfig, kernel_spec_metadata

__all__ = ["PYTHON_ARGV", "probe_kernel", "run_code"]

PYTHON_ARGV = (sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}")
"""The argv of an ipykernel of this interpreter."""


@asynccontextmanager
async def probe_kernel(
    config: SandboxConfig | None,
    *,
    argv: Sequence[str] = PYTHON_ARGV,
    language: str = "python",
    interrupt_mode: str = "message",
    start_timeout: float = 60.0,
    **start_kwargs: Any,
) -> AsyncIterator[tuple[AsyncKernelManager, AsyncKernelClient]]:
    """A started, ready kernel over ipc; ``config=None`` uses jupyter's LocalProvisioner.

    The kernel is killed and every temporary file removed on exit, even on failure.
    """
    spec: dict[str, Any] = {
        "argv": list(argv),
        "display_name": "companion probe",
        "language": language,
        "interrupt_mode": interrupt_mode,
        "metadata": kernel_spec_metadata(config) if config is not None else {},
    }
    with tempfile.TemporaryDirectory(prefix="ck-probe-") as tmp:
        spec_dir = os.path.join(tmp, "kernels", "companion-probe")
        os.makedirs(spec_dir)
        with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
            json.dump(spec, f)
        runtime = os.path.join(tmp, "rt")
        os.makedirs(runtime, mode=0o700)
        km = AsyncKernelManager(
            kernel_name="companion-probe",
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[os.path.join(tmp, "kernels")]),
            transport="ipc",
            ip=os.path.join(runtime, "kernel"),
        )
        km.connection_file = os.path.join(runtime, "kernel.json")
        kc: AsyncKernelClient | None = None
        try:
            await km.start_kernel(**start_kwargs)
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=start_timeout)
            yield km, kc
        finally:
            if kc is not None:
                kc.stop_channels()
            if km.has_kernel:
                await km.shutdown_kernel(now=True)
            elif km.provisioner is not None:
                await km.provisioner.cleanup(restart=False)


async def run_code(
    kc: AsyncKernelClient, code: str, *, timeout: float = 30.0
) -> tuple[str, dict[str, Any]]:
    """Execute ``code``; returns (stdout + stderr text, the execute_reply content)."""
    chunks: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            chunks.append(content["text"])
        elif msg["msg_type"] == "error":
            chunks.append("\n".join(content["traceback"]))

    reply = await kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    return "".join(chunks), reply["content"]
