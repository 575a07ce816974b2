"""`companion-kernel gateway`: a Jupyter Kernel Gateway serving the engine's kernels.

The gateway offers one kernel spec per language, `companion-<language>`, built exactly as
a local engine builds its own (bubblewrap provisioner, resource limits, output caps,
`interrupt_mode: message`), so remote kernels are as confined as local ones on this host.
Engines elsewhere reach it with `Engine(gateway=GatewayConfig(url=..., token=...))`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from ..config import EngineConfig
from ..errors import InvalidRequest
from .config import TOKEN_ENV

__all__ = ["gateway_config", "run_gateway", "write_kernel_specs"]

log = logging.getLogger(__name__)

_INSTALL_HINT = (
    "`companion-kernel gateway` needs the jupyter-kernel-gateway package: "
    "pip install 'companion-kernel[gateway]'"
)


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False


def write_kernel_specs(config: EngineConfig, directory: Path) -> dict[str, str]:
    """Write `companion-<language>` kernel specs under `directory`; returns name -> path.

    Languages whose kernel cannot run on this host are left out (and logged).
    """
    from ..engine import Engine
    from ..languages import get_language, kernel_command

    engine = Engine(config, tools=False, handle_signals=False)
    engine._sandboxed = engine._resolve_isolation()
    written = {}
    for language in config.languages:
        _, _, problem = kernel_command(get_language(language), config.python_executable)
        if problem is not None:
            log.warning("no %s kernels on this gateway: %s", language, problem)
            continue
        spec = engine.kernel_spec(language).to_dict()
        spec["metadata"]["companion_kernel"] = {"language": language}
        name = f"companion-{language}"
        path = directory / name
        path.mkdir(parents=True, exist_ok=True)
        (path / "kernel.json").write_text(json.dumps(spec, indent=1))
        written[name] = str(path)
    return written


def gateway_config(
    spec_dir: Path,
    host: str,
    port: int,
    *,
    max_kernels: int | None = None,
    tls: tuple[str, str] | None = None,
) -> Any:
    """The traitlets configuration of the Kernel Gateway (token from the environment);
    `tls`: (certificate file, key file) to serve https and wss."""
    from traitlets.config import Config

    c = Config()
    c.KernelGatewayApp.ip = host
    c.KernelGatewayApp.port = port
    if tls is not None:
        c.KernelGatewayApp.certfile, c.KernelGatewayApp.keyfile = tls
    c.KernelGatewayApp.port_retries = 0
    c.KernelGatewayApp.default_kernel_name = "companion-python"
    c.KernelGatewayApp.kernel_websocket_connection_class = _connection_class()
    if max_kernels is not None:
        c.KernelGatewayApp.max_kernels = max_kernels
    c.JupyterWebsocketPersonality.list_kernels = True
    # Only the engine's specs: no user or system kernels are offered.
    c.KernelGatewayApp.kernel_spec_manager_class = _spec_manager_class(spec_dir)
    c.KernelSpecManager.ensure_native_kernel = False
    # The sandbox has its own network namespace: kernels talk over ipc sockets.
    c.KernelManager.transport = "ipc"
    # The engine caps output itself; the server's rate limit would drop outputs silently.
    c.ZMQChannelsWebsocketConnection.limit_rate = False
    # A kernel that died is noticed (and reported to the engine as died) within a second.
    c.KernelRestarter.time_to_dead = 1.0
    return c


def _spec_manager_class(spec_dir: Path) -> type:
    from jupyter_client.kernelspec import KernelSpecManager
    from traitlets import default

    class OwnSpecs(KernelSpecManager):
        """Finds kernel specs in the gateway's own directory only."""

        @default("kernel_dirs")
        def _own_kernel_dirs(self) -> list[str]:
            return [str(spec_dir)]

    return OwnSpecs


def _connection_class() -> type:
    from jupyter_server.services.kernels.connection.channels import (
        ZMQChannelsWebsocketConnection,
    )

    class NoDelayConnection(ZMQChannelsWebsocketConnection):  # type: ignore[misc]
        """Sends each kernel message at once (Nagle's algorithm would hold small frames
        until the previous one is acknowledged: ~40 ms per cell with delayed ACKs)."""

        def connect(self) -> Any:
            self.websocket_handler.set_nodelay(True)
            return super().connect()

    return NoDelayConnection


def run_gateway(
    host: str = "127.0.0.1",
    port: int = 8888,
    config: EngineConfig | None = None,
    *,
    max_kernels: int | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> int:
    """Serve kernels until SIGTERM/SIGINT (blocking); returns the exit status.

    With `certfile` (PEM certificate chain) and `keyfile` (its private key) it serves
    https/wss; engines then use `https://` URLs (and `GatewayConfig.ca_certs` for a
    private CA).
    """
    tls = _tls_files(certfile, keyfile)
    token = os.environ.get(TOKEN_ENV, "")
    if not token and not is_loopback(host):
        raise InvalidRequest(
            f"set {TOKEN_ENV} to serve kernels on {host}: without a token anyone who can reach "
            "the port can run code (only loopback addresses are served without one)"
        )
    try:
        from kernel_gateway.gatewayapp import KernelGatewayApp
    except ImportError as exc:
        raise InvalidRequest(_INSTALL_HINT) from exc
    config = config or EngineConfig()
    with tempfile.TemporaryDirectory(prefix="ckgw-") as tmp:
        root = Path(tmp)
        specs = write_kernel_specs(config, root / "kernels")
        if not specs:
            raise InvalidRequest("no language of this engine can run kernels on this host")
        # Short and private: kernel ipc socket paths must fit in a Unix socket address.
        os.environ["JUPYTER_RUNTIME_DIR"] = str(root / "rt")
        os.environ["KG_AUTH_TOKEN"] = token
        app = KernelGatewayApp.instance(
            config=gateway_config(root / "kernels", host, port, max_kernels=max_kernels, tls=tls)
        )
        app.initialize([])
        scheme = "https" if tls else "http"
        log.info("serving %s on %s://%s:%d", ", ".join(specs), scheme, host, port)
        app.start()
    return 0


def _tls_files(certfile: str | None, keyfile: str | None) -> tuple[str, str] | None:
    if certfile is None and keyfile is None:
        return None
    if not certfile or not keyfile:
        raise InvalidRequest("give both --certfile and --keyfile to serve TLS, or neither")
    for what, path in (("certificate", certfile), ("key", keyfile)):
        if not os.path.isfile(path):
            raise InvalidRequest(f"the TLS {what} file {path!r} does not exist")
    import ssl

    try:  # a wrong file fails here with a reason, not as a server that cannot start
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError) as exc:
        raise InvalidRequest(f"cannot use {certfile!r} with {keyfile!r} for TLS: {exc}") from exc
    return os.path.abspath(certfile), os.path.abspath(keyfile)
