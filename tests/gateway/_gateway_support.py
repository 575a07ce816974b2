"""Real gateways on 127.0.0.1 for the remote-kernel tests (importable as
`gateway._gateway_support`), stopped with their kernels, and the engine configuration
that points at them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from companion_kernel import EngineConfig, GatewayConfig, PoolConfig

TOKEN = "test-token-8c1f"
_BIN = Path(sys.executable).parent
# Hang guard only: a gateway on a loaded 2-core machine usually answers in a few seconds.
_READY_TIMEOUT_S = 90.0


def remote(
    urls: str | list[str],
    languages: tuple[str, ...] = ("python",),
    *,
    min_idle: int = 1,
    token: str = TOKEN,
    **overrides: object,
) -> EngineConfig:
    """An engine whose kernels run on the gateways at `urls` (validator off)."""
    pools = {
        lang: PoolConfig(
            min_idle=min_idle, max_kernels=4, start_timeout_s=90, acquire_timeout_s=150
        )
        for lang in languages
    }
    return EngineConfig(
        languages=languages,
        pools=pools,
        policy="off",
        timeout_s=90,
        interrupt_grace_s=3,
        gateway=GatewayConfig(url=urls, token=token),
        **overrides,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class GatewayServer:
    """One gateway process we started (and must stop, kernels included)."""

    argv: list[str]
    env: dict[str, str]
    port: int
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".log")[1]))
    scratch: Path | None = None
    """A temporary directory of the server's own (runtime, config), removed by `stop()`."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayServer:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log.read_text()[-3000:]}")
            try:
                self.get("/api")
                return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"gateway not ready: {self.log.read_text()[-3000:]}")

    def get(self, path: str, token: str | None = TOKEN, method: str = "GET") -> object:
        import json

        request = urllib.request.Request(self.url + path, method=method)
        if token:
            request.add_header("Authorization", f"token {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def kernels(self) -> list[dict[str, object]]:
        return list(self.get("/api/kernels") or [])  # type: ignore[call-overload]

    def delete(self, path: str) -> None:
        self.get(path, method="DELETE")

    def kill(self) -> None:
        """SIGKILL the gateway and every kernel it started (a host going down)."""
        if self.proc is None:
            return
        try:
            tree = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(True)]
        except psutil.Error:
            tree = []
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(tree, timeout=10)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM (the gateway shuts its kernels down), then kill whatever is left."""
        if self.proc is None:
            return
        try:
            tree = psutil.Process(self.proc.pid).children(True)
        except psutil.Error:
            tree = []
        self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(20)
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        self.kill()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def kernel_gateway(port: int | None = None) -> GatewayServer:
    """A plain `jupyter kernelgateway` serving this environment's kernel specs."""
    port = port or free_port()
    env = {
        **os.environ,
        "KG_AUTH_TOKEN": TOKEN,
        "JUPYTER_RUNTIME_DIR": tempfile.mkdtemp(prefix="kgrt-", dir="/tmp"),
    }
    argv = [
        str(_BIN / "jupyter-kernelgateway"),
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port_retries=0",
        "--JupyterWebsocketPersonality.list_kernels=True",
    ]
    return GatewayServer(argv, env, port)


def companion_gateway(port: int | None = None) -> GatewayServer:
    """`companion-kernel gateway`: the engine's sandboxed kernel specs."""
    port = port or free_port()
    env = {**os.environ, "COMPANION_GATEWAY_TOKEN": TOKEN}
    argv = [str(_BIN / "companion-kernel"), "gateway", "--host", "127.0.0.1", f"--port={port}"]
    return GatewayServer(argv, env, port)


def enterprise_gateway(
    port: int | None = None, *, unauthorized_users: tuple[str, ...] = ("nobody",)
) -> GatewayServer:
    """Jupyter Enterprise Gateway from `.venv-eg` (`enterprise_gateway_env.py` builds it),
    serving that environment's `python3` kernel spec and nothing else.

    `unauthorized_users`: users EG refuses kernels to. Its default, root, would refuse every
    kernel when the tests run as root (CI does); the user is the gateway's own unless a
    client sends KERNEL_USERNAME, which ours does not.
    """
    from gateway import enterprise_gateway_env as eg

    port = port or free_port()
    scratch = Path(tempfile.mkdtemp(prefix="egrt-", dir="/tmp"))
    data = str(eg.VENV / "share" / "jupyter")
    leaks = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k not in leaks}
    env.update(
        EG_AUTH_TOKEN=TOKEN,  # EG removes it from its kernels' environment
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        # Kernel specs from the EG environment only (its sys.prefix is searched anyway; the
        # user's data folder would be too), no user configuration, no user IPython profile.
        JUPYTER_DATA_DIR=data,
        JUPYTER_PATH=data,
        JUPYTER_CONFIG_DIR=str(scratch / "config"),
        IPYTHONDIR=str(scratch / "ipython"),
    )
    argv = [
        str(eg.EXECUTABLE),
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port_retries=0",
        # EG refuses GET /api/kernels by default; the tests check nothing is left there.
        "--EnterpriseGatewayApp.list_kernels=True",
        f"--EnterpriseGatewayApp.default_kernel_name={eg.KERNEL_NAME}",
        # EG 3.3 has no allowed_kernels option: jupyter_client 6's spec whitelist it is,
        # without the fallback to whatever ipykernel EG itself runs on.
        f"--KernelSpecManager.whitelist={eg.KERNEL_NAME}",
        "--KernelSpecManager.ensure_native_kernel=False",
        *(f"--EnterpriseGatewayApp.unauthorized_users={user}" for user in unauthorized_users),
    ]
    return GatewayServer(argv, env, port, scratch=scratch)
