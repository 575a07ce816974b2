"""Helpers for the Node kernel tests (importable as `kernels._node_support`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

SPEC = "companion-js-test"
SIGNAL_SPEC = "companion-js-test-signal"
MAX_OUTPUT = 200_000
"""COMPANION_NODE_MAX_OUTPUT for the test kernels: small, so the cap is cheap to hit."""


@dataclass
class Run:
    """One execution: the shell reply and the iopub messages of its request."""

    reply: dict[str, Any]
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    def of(self, msg_type: str) -> list[dict[str, Any]]:
        return [m["content"] for m in self.outputs if m["msg_type"] == msg_type]

    def stream(self, name: str = "stdout") -> str:
        return "".join(c["text"] for c in self.of("stream") if c["name"] == name)

    @property
    def result(self) -> str | None:
        results = self.of("execute_result")
        return results[-1]["data"].get("text/plain") if results else None


def run(kc: BlockingKernelClient, code: str, timeout: float = 15, **kwargs: Any) -> Run:
    """Execute code and collect its outputs until the kernel is idle again."""
    outputs: list[dict[str, Any]] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] not in ("status", "execute_input"):
            outputs.append(msg)

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook, **kwargs)
    return Run(reply, outputs)


def wait_reply(kc: BlockingKernelClient, msg_id: str, timeout: float = 15) -> dict[str, Any]:
    """The shell reply to msg_id (other replies are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def iopub_for(
    kc: BlockingKernelClient, msg_id: str, until: Any, timeout: float = 10
) -> list[dict[str, Any]]:
    """Iopub messages whose parent is msg_id, read until until(msg) is true."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(msg)
        if until(msg):
            return seen


@contextlib.contextmanager
def node_kernel(
    transport: str = "tcp", kernel_name: str = SPEC
) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A started kernel and a ready client; always shut down (no orphan node process)."""
    runtime = tempfile.mkdtemp(prefix="ck-node-")
    km = KernelManager(kernel_name=kernel_name, transport=transport)
    if transport == "ipc":
        km.ip = os.path.join(runtime, "k")
    km.connection_file = os.path.join(runtime, "kernel.json")
    kc = None
    try:
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=30)
        yield km, kc
    finally:
        if kc is not None:
            kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel(now=False)
        km.cleanup_resources()
        shutil.rmtree(runtime, ignore_errors=True)
