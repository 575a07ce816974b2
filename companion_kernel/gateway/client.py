"""REST calls to Jupyter Kernel Gateways and the choice of gateway for each new kernel."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httputil import HTTPHeaders
from tornado.websocket import WebSocketClientConnection

from .config import GatewayConfig

__all__ = ["Gateway", "GatewayRequestError", "Gateways"]


class GatewayRequestError(Exception):
    """A REST call to a gateway failed (`status` None: no HTTP answer at all)."""

    def __init__(
        self, url: str, status: int | None, message: str, server_message: str | None = None
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.server_message = server_message
        """What the gateway said about the failure, if anything (its JSON error body)."""


@dataclass
class Gateway:
    """One gateway and what this engine knows about it."""

    url: str
    index: int
    kernels: int = 0
    """Kernels of this engine on it, including ones starting (its load)."""
    down_until: float = 0.0
    """Monotonic time before which it is tried only when every other gateway failed."""
    last_error: str | None = None
    kernel_names: dict[str, str] = field(default_factory=dict)
    """Resolved kernel spec name per language."""

    def kernel_url(self, kernel_id: str, suffix: str = "") -> str:
        return f"{self.url}/api/kernels/{quote(kernel_id, safe='')}{suffix}"

    def channels_url(self, kernel_id: str, session_id: str) -> str:
        parts = urlsplit(self.kernel_url(kernel_id, "/channels"))
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path, f"session_id={session_id}", ""))


class Gateways:
    """The configured gateways: authenticated REST calls and least-loaded placement."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.gateways = [Gateway(url, i) for i, url in enumerate(config.urls)]
        self._http: AsyncHTTPClient | None = None
        self._abandoned: dict[asyncio.Future[Any], float] = {}
        """Requests and connections nobody waits for any more -> when their timeout ends."""
        self._connecting: dict[asyncio.Future[Any], WebSocketClientConnection] = {}

    @property
    def http(self) -> AsyncHTTPClient:
        if self._http is None:  # made on first use, inside the engine's event loop
            self._http = AsyncHTTPClient(force_instance=True, max_clients=64)
        return self._http

    def headers(self) -> dict[str, str]:
        token = self.config.auth_token()
        return {"Authorization": f"token {token}"} if token else {}

    def order(self) -> list[Gateway]:
        """Gateways to try for a new kernel: working ones first, least loaded first."""
        now = time.monotonic()
        return sorted(self.gateways, key=lambda g: (g.down_until > now, g.kernels, g.index))

    def mark_down(self, gateway: Gateway, reason: str) -> None:
        gateway.down_until = time.monotonic() + self.config.retry_after_s
        gateway.last_error = reason

    def mark_up(self, gateway: Gateway) -> None:
        gateway.down_until = 0.0
        gateway.last_error = None

    def request_options(self) -> dict[str, Any]:
        """TLS and connect settings shared by REST and websocket requests."""
        return {
            "headers": self.headers(),
            "connect_timeout": self.config.connect_timeout_s,
            "validate_cert": self.config.validate_cert,
            "ca_certs": self.config.ca_certs,
        }

    async def request(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """One REST call; the decoded JSON answer (None when empty)."""
        request = HTTPRequest(
            url,
            method=method,
            body=None if body is None and method != "POST" else json.dumps(body or {}),
            request_timeout=timeout or self.config.request_timeout_s,
            **self.request_options(),
        )
        fetch = asyncio.ensure_future(self.http.fetch(request))
        try:
            response = await asyncio.shield(fetch)
        except asyncio.CancelledError:
            # Cancelling tornado's fetch leaves its connection open until garbage
            # collection; let it finish (or hit request_timeout) and close it itself.
            self.abandon(fetch, request.request_timeout or 0.0)
            raise
        except HTTPClientError as exc:
            status = None if exc.code == 599 else exc.code
            said = _server_message(exc)
            detail = f"HTTP {exc.code}" if status is not None else str(exc)
            if said:
                detail += f" ({said})"
            raise GatewayRequestError(url, status, f"{method} {url}: {detail}", said) from exc
        except OSError as exc:  # refused, unreachable, TLS failures
            hint = (
                "; set GatewayConfig.ca_certs to the CA that signed the gateway's certificate"
                if isinstance(exc, ssl.SSLCertVerificationError)
                else ""
            )
            raise GatewayRequestError(url, None, f"{method} {url}: {exc}{hint}") from exc
        return json.loads(response.body) if response.body else None

    async def connect(self, url: str, timeout: float, **options: Any) -> WebSocketClientConnection:
        """Open a websocket (`options` as for tornado's `websocket_connect`).

        A caller cancelled mid-handshake leaves the connection to finish by itself and be
        closed then; `aclose` aborts it. (The connection object is made here rather than
        by `websocket_connect`, which returns only its future, so that it can be aborted:
        a gateway can hold an upgrade for a kernel deleted while starting until the
        request times out.)
        """
        request = HTTPRequest(
            url,
            request_timeout=timeout,
            follow_redirects=False,
            allow_nonstandard_methods=False,
            decompress_response=True,
            **self.request_options(),
        )
        request.headers = HTTPHeaders(request.headers)
        conn = WebSocketClientConnection(request, **options)
        connecting = conn.connect_future
        try:
            return await asyncio.shield(connecting)
        except asyncio.CancelledError:
            self._connecting[connecting] = conn
            connecting.add_done_callback(lambda f: self._connecting.pop(f, None))
            self.abandon(connecting, timeout, then=_close_connected)
            raise

    async def kernel_name(self, gateway: Gateway, language: str) -> str:
        """The kernel spec to start for `language` on `gateway` (configured or discovered)."""
        name = self.config.kernel_names.get(language) or gateway.kernel_names.get(language)
        if name:
            return name
        specs = (await self.request(f"{gateway.url}/api/kernelspecs") or {}).get("kernelspecs", {})
        name = _pick_spec(specs, language)
        if name is None:
            raise GatewayRequestError(
                gateway.url,
                404,
                f"the gateway at {gateway.url} has no {language} kernel spec "
                f"(it has: {', '.join(sorted(specs)) or 'none'}); set GatewayConfig.kernel_names",
            )
        gateway.kernel_names[language] = name
        return name

    async def list_kernels(self, gateway: Gateway) -> list[dict[str, Any]]:
        """Kernels running on `gateway` (needs `list_kernels` enabled on a Kernel Gateway)."""
        return list(await self.request(f"{gateway.url}/api/kernels") or [])

    def abandon(
        self,
        future: asyncio.Future[Any],
        timeout: float,
        then: Callable[[asyncio.Future[Any]], None] | None = None,
    ) -> None:
        """Let a request or connection nobody awaits any more finish by itself (tornado
        closes its socket on its own timeout at the latest); `aclose` waits for it, so
        no socket outlives the engine's event loop. `then` runs on its outcome."""
        loop = asyncio.get_running_loop()
        self._abandoned[future] = loop.time() + timeout
        future.add_done_callback(lambda f: self._abandoned.pop(f, None))
        future.add_done_callback(then or _retrieve)

    async def aclose(self) -> None:
        """Wait for abandoned requests to end (each within its own timeout, at most
        `request_timeout_s` in all), abort unfinished websocket handshakes, then close the
        HTTP client."""
        loop = asyncio.get_running_loop()
        # A hung gateway's kernel start can have a longer timeout than this; past it the
        # close goes on (what is left is closed by tornado's timeout or the GC).
        until = loop.time() + self.config.request_timeout_s + 1.0
        while self._abandoned:
            for conn in list(self._connecting.values()):
                _abort(conn)
            left = min(max(self._abandoned.values()) + 1.0, until) - loop.time()
            if left <= 0:
                break
            # A connection still opening its socket is aborted once it has one.
            await asyncio.wait(set(self._abandoned), timeout=0.05 if self._connecting else left)
        if self._http is not None:
            self._http.close()
            self._http = None


def _abort(conn: WebSocketClientConnection) -> None:
    """Close a websocket that is still handshaking (its future then fails)."""
    stream = getattr(conn, "stream", None)  # set by tornado once the socket is open
    if stream is not None and not stream.closed():
        stream.close()


def _close_connected(future: asyncio.Future[WebSocketClientConnection]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    ws = future.result()
    protocol = ws.protocol
    ws.close()
    if protocol is not None:
        protocol.stream.close()


def _retrieve(fetch: asyncio.Future[Any]) -> None:
    if not fetch.cancelled():
        fetch.exception()  # an abandoned request's outcome is nobody's concern


def _pick_spec(specs: dict[str, Any], language: str) -> str | None:
    if f"companion-{language}" in specs:
        return f"companion-{language}"
    aliases = {"shell": ("bash", "shell", "sh"), "javascript": ("javascript", "node")}
    wanted = aliases.get(language, (language,))
    for name, entry in sorted(specs.items()):
        spec = (entry or {}).get("spec") or {}
        ours = ((spec.get("metadata") or {}).get("companion_kernel") or {}).get("language")
        if ours == language or str(spec.get("language", "")).lower() in wanted:
            return name
    return None


def _server_message(exc: HTTPClientError) -> str | None:
    """The explanation in a gateway's JSON error body: its `message`, else its `reason`
    (Enterprise Gateway puts the whole story in `reason`, e.g. why a user may not start a
    kernel, and leaves `message` empty)."""
    body = exc.response.body if exc.response is not None else b""
    try:
        error = json.loads(body) if body else None
    except ValueError:
        return None
    if not isinstance(error, dict):
        return None
    said = error.get("message") or error.get("reason")
    return str(said) if said else None
