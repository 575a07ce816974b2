"""Our Node.js kernel, side by side with ipykernel and with `node -e` per snippet.

- cold start: process launch to the first kernel_info_reply (ipc transport);
- idle RSS after start-up and one execution;
- a trivial execution ('1+1', and a cell that needs the acorn rewrite) over a hand-written
  jupyter_client Session + pyzmq loop: execute_request to execute_reply plus idle;
- `node -e 'console.log(1+1)'`: what each snippet costs without a warm kernel.

Run alone: `python benchmarks/bench_node_kernel.py [--quick]`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import psutil
import zmq
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

from companion_kernel._bench import ratio, summarize
from companion_kernel.kernels import node


class RawKernel:
    """A kernel process plus signed shell/iopub sockets: no client library in the way."""

    def __init__(self, argv: list[str], runtime: str) -> None:
        key = uuid.uuid4().hex.encode()
        self.conn_file, info = write_connection_file(
            os.path.join(runtime, "kernel.json"),
            transport="ipc",
            ip=os.path.join(runtime, "k"),
            key=key,
        )
        self.session = Session(key=key, signature_scheme=info["signature_scheme"])
        self.ctx = zmq.Context()
        self.shell = self.ctx.socket(zmq.DEALER)
        self.shell.connect(f"ipc://{info['ip']}-{info['shell_port']}")
        self.iopub = self.ctx.socket(zmq.SUB)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(f"ipc://{info['ip']}-{info['iopub_port']}")
        self.control = self.ctx.socket(zmq.DEALER)
        self.control.connect(f"ipc://{info['ip']}-{info['control_port']}")
        cmd = [a.replace("{connection_file}", self.conn_file) for a in argv]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 30) -> float:
        """Seconds from launch to the first kernel_info_reply (requests are repeated)."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            self.session.send(self.shell, "kernel_info_request", {})
            if self.shell.poll(50):
                self.session.recv(self.shell)
                elapsed = time.perf_counter() - self.started
                while self.shell.poll(200):  # replies to the repeated requests
                    self.session.recv(self.shell)
                self._drain_iopub()
                return elapsed
        raise TimeoutError("kernel did not answer kernel_info_request")

    def _drain_iopub(self) -> None:
        while self.iopub.poll(100):
            self.session.recv(self.iopub)

    def execute(self, code: str) -> float:
        """Seconds from execute_request to both the reply and the idle status."""
        t0 = time.perf_counter()
        msg = self.session.send(self.shell, "execute_request", {"code": code, "silent": False})
        msg_id = msg["header"]["msg_id"]
        replied = idle = False
        poller = zmq.Poller()
        poller.register(self.shell, zmq.POLLIN)
        poller.register(self.iopub, zmq.POLLIN)
        while not (replied and idle):
            for sock, _ in poller.poll(10_000):
                _, m = self.session.recv(sock)
                if m["parent_header"].get("msg_id") != msg_id:
                    continue
                if sock is self.shell:
                    replied = True
                elif m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                    idle = True
        return time.perf_counter() - t0

    def rss_mb(self) -> float:
        proc = psutil.Process(self.proc.pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20

    def close(self) -> None:
        try:
            self.session.send(self.control, "shutdown_request", {"restart": False})
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        finally:
            self.ctx.destroy(linger=0)


def _kernel_numbers(label: str, argv: list[str], n: int, starts: int) -> dict[str, Any]:
    cold, rss, trivial, rewrite = [], [], [], []
    for i in range(starts):
        runtime = tempfile.mkdtemp(prefix="ck-bench-")
        k = RawKernel(argv, runtime)
        try:
            cold.append(k.wait_ready())
            k.execute("1+1")
            time.sleep(0.3)
            rss.append(k.rss_mb())
            if i == 0:
                for _ in range(20):
                    k.execute("1+1")
                for _ in range(n):
                    trivial.append(k.execute("1+1"))
                if label == "node":
                    for _ in range(n):
                        rewrite.append(k.execute("const a = 1; let b = a + 1; b"))
        finally:
            k.close()
            shutil.rmtree(runtime, ignore_errors=True)
    return {"cold": cold, "rss": sorted(rss)[len(rss) // 2], "trivial": trivial, "rewrite": rewrite}


def _node_e(n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(["node", "-e", "console.log(1+1)"], check=True, capture_output=True)
        samples.append(time.perf_counter() - t0)
    return samples


def _node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


def run(quick: bool = False) -> dict[str, Any]:
    """Benchmark group entry point."""
    problem = node.check_installed()
    if problem:
        return {"title": "Node.js kernel", "rows": [], "ratios": [], "notes": [problem]}
    n, starts = (50, 3) if quick else (300, 7)
    ours = _kernel_numbers("node", node.kernel_argv(), n, starts)
    ipy_argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    ipy = _kernel_numbers("ipykernel", ipy_argv, n, starts)
    node_e = _node_e(max(10, n // 10))

    r_cold = summarize("node kernel: cold start to kernel_info_reply", ours["cold"])
    r_cold_ipy = summarize("ipykernel: cold start to kernel_info_reply", ipy["cold"])
    r_exec = summarize("node kernel: execute '1+1' (reply + idle)", ours["trivial"])
    r_rewrite = summarize("node kernel: execute 'const a = 1; let b = a + 1; b'", ours["rewrite"])
    r_exec_ipy = summarize("ipykernel: execute '1+1' (reply + idle)", ipy["trivial"])
    r_node_e = summarize("node -e 'console.log(1+1)' per snippet", node_e)
    r_cold["idle_rss_mb"] = round(ours["rss"], 1)
    r_cold_ipy["idle_rss_mb"] = round(ipy["rss"], 1)
    return {
        "title": "Node.js kernel (companion-node) vs ipykernel and node -e",
        "rows": [r_cold, r_cold_ipy, r_exec, r_rewrite, r_exec_ipy, r_node_e],
        "ratios": [
            ratio("node kernel cold start p50 (s)", r_cold["p50_ms"] / 1000, "<= 1.0"),
            ratio("node kernel idle RSS (MB)", ours["rss"], "<= 120"),
            ratio(
                "node -e / node kernel execute (p50)",
                r_node_e["p50_ms"] / r_exec["p50_ms"],
                ">= 10",
            ),
            ratio(
                "node kernel / ipykernel execute (p50)",
                r_exec["p50_ms"] / r_exec_ipy["p50_ms"],
                "<= 1.5",
            ),
        ],
        "notes": [
            f"ipc transport; node {_node_version()}; ipykernel from {sys.executable}",
            "cold start includes the worker thread that answers heartbeat and control",
            "RSS counts the kernel process (Node: one process with two threads)",
        ],
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
