"""`companion-kernel mcp`: serve the engine to MCP clients."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from typing import Any

from companion_kernel.errors import InvalidRequest

__all__ = ["add_commands"]

_EPILOG = """\
examples:
  companion-kernel mcp                                  # stdio, for a local client
  companion-kernel mcp --languages python,shell --policy strict
  COMPANION_MCP_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') \\
    companion-kernel mcp --transport http --port 8765   # http://127.0.0.1:8765/mcp
  companion-kernel mcp --config mcp.toml --expose-tools

HTTP requires a bearer token (COMPANION_MCP_TOKEN, or --token-file with one token per
line; each token is a separate client). Clients send `Authorization: Bearer TOKEN`.
"""


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the `mcp` command."""
    p = sub.add_parser(
        "mcp",
        help="serve the engine as an MCP server (stdio or streamable HTTP)",
        description="Serve code execution to MCP clients: run_code, sessions, and optionally\n"
        "the host tools. Settings come from --config (TOML) and these flags.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", help="TOML file with [server] and [engine] tables")
    p.add_argument(
        "--transport",
        choices=["stdio", "http"],
        default=None,
        help="stdio (default) or streamable HTTP at /mcp",
    )
    p.add_argument("--host", default=None, help="HTTP bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default 8765; 0: any)")
    p.add_argument("--token-file", default=None, help="file with bearer tokens, one per line")
    p.add_argument(
        "--expose-tools",
        action="store_true",
        default=None,
        help="also expose the host tool registry as MCP tools",
    )
    p.add_argument("--languages", default=None, help="comma-separated, e.g. python,shell")
    p.add_argument("--policy", default=None, help="validator policy: strict|standard|off")
    p.add_argument(
        "--isolation",
        choices=["require", "auto", "off"],
        default=None,
        help="run kernels under bubblewrap (default auto)",
    )
    p.add_argument("--timeout", type=float, default=None, help="default seconds per run")
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help="close sessions idle this many seconds (default 900)",
    )
    p.add_argument("--max-sessions", type=int, default=None, help="open sessions per client")
    p.add_argument("--memory-mb", type=int, default=None, help="memory limit per kernel")
    p.add_argument("--log-level", default="WARNING", help="server log level (stderr)")
    p.set_defaults(func=_cmd_mcp)


def _overrides(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    server = {
        "transport": args.transport,
        "host": args.host,
        "port": args.port,
        "expose_tools": args.expose_tools,
        "max_sessions_per_client": args.max_sessions,
    }
    engine: dict[str, Any] = {
        "policy": args.policy,
        "isolation": args.isolation,
        "timeout_s": args.timeout,
        "session_idle_timeout_s": args.idle_timeout,
    }
    if args.languages:
        engine["languages"] = [x.strip() for x in args.languages.split(",") if x.strip()]
    if args.memory_mb is not None:
        engine["limits"] = {"memory_mb": args.memory_mb}
    return (
        {k: v for k, v in server.items() if v is not None},
        {k: v for k, v in engine.items() if v is not None},
    )


def _cmd_mcp(args: argparse.Namespace) -> int:
    try:
        from .config import load_config
    except ImportError as exc:  # pragma: no cover - mcp is a dependency
        raise InvalidRequest(f"the MCP server needs the `mcp` package: {exc}") from None
    from ._auth import read_tokens
    from .server import CompanionMcpServer, is_loopback

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    server_values, engine_values = _overrides(args)
    config = load_config(args.config, server=server_values, engine=engine_values)
    tokens = read_tokens(args.token_file)
    if config.transport == "http" and not tokens:
        raise InvalidRequest(
            "the HTTP transport needs a bearer token: set COMPANION_MCP_TOKEN or pass --token-file"
        )
    if config.transport == "http" and not is_loopback(config.host) and not tokens:
        raise InvalidRequest(f"refusing to bind {config.host} without a token")
    server = CompanionMcpServer(config=config, tokens=tokens)
    asyncio.run(_serve(server, config.transport, config.host, config.port))
    return 0


async def _serve(server: Any, transport: str, host: str, port: int) -> None:
    async with server:
        if transport == "stdio":
            await server.run_stdio()
            return
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        print(
            f"companion-kernel mcp: serving http://{shown}:{bound}/mcp", file=sys.stderr, flush=True
        )
        try:
            await server.run_http(host, bound, sock=sock)
        finally:
            sock.close()
