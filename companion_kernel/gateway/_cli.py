"""`companion-kernel gateway`: serve this host's sandboxed kernels to remote engines."""

from __future__ import annotations

import argparse

__all__ = ["add_commands"]

_EPILOG = """\
examples:
  companion-kernel gateway                             # http://127.0.0.1:8888, no token
  COMPANION_GATEWAY_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') \\
    companion-kernel gateway --host 0.0.0.0 --port 8888

Engines connect with Engine(gateway=GatewayConfig(url="http://HOST:8888", token=TOKEN)).
A token (COMPANION_GATEWAY_TOKEN) is required unless the gateway listens on loopback only.
Serve TLS when it is reachable from other machines: --certfile/--keyfile (engines use
https:// URLs, with GatewayConfig.ca_certs for a private CA), or a reverse proxy.
"""


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the `gateway` command."""
    p = sub.add_parser(
        "gateway",
        help="serve this host's sandboxed kernels to remote engines (Jupyter Kernel Gateway)",
        description="Start a Jupyter Kernel Gateway offering the engine's kernel specs\n"
        "(companion-python, companion-javascript, companion-shell), each kernel sandboxed\n"
        "with bubblewrap and the engine's resource limits on this host.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8888, help="port to listen on (8888)")
    p.add_argument("--max-kernels", type=int, default=None, help="cap on running kernels")
    p.add_argument(
        "--languages", default=None, help="comma-separated languages to offer (default: all)"
    )
    p.add_argument(
        "--isolation",
        choices=("require", "auto", "off"),
        default="auto",
        help="bubblewrap for every kernel: require it, use it when it works, or off",
    )
    p.add_argument("--certfile", default=None, help="PEM certificate (chain): serve https/wss")
    p.add_argument("--keyfile", default=None, help="private key of --certfile")
    p.set_defaults(func=_cmd_gateway)


def _cmd_gateway(args: argparse.Namespace) -> int:
    import logging

    from ..config import EngineConfig
    from .server import run_gateway

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    values: dict[str, object] = {"isolation": args.isolation}
    if args.languages:
        values["languages"] = tuple(s.strip() for s in args.languages.split(",") if s.strip())
    config = EngineConfig.model_validate(values)
    return run_gateway(
        args.host,
        args.port,
        config,
        max_kernels=args.max_kernels,
        certfile=args.certfile,
        keyfile=args.keyfile,
    )
