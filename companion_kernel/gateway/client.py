"""REST calls to Jupyter Kernel Gateways and the choice of gateway for each new kernel."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .config import GatewayConfig

__all__ = ["Gateway", "GatewayRequestError", "Gateways"]


class GatewayRequestError(Exception):
    """A REST call to a gateway failed (`status` None: no HTTP answer at all)."""

    def __init__(self, url: str, status: int | None, message: str) -> None:
        super().__init__(message)
        self.url = url
        self.status = status

    @property
    def unauthorized(self) -> bool:
        """The gateway refused the token."""
        return self.status in (401, 403)


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
        self._abandoned: set[asyncio.Future[Any]] = set()

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
            self._abandoned.add(fetch)
            fetch.add_done_callback(self._abandoned.discard)
            fetch.add_done_callback(_retrieve)
            raise
        except HTTPClientError as exc:
            status = None if exc.code == 599 else exc.code
            detail = _error_detail(exc)
            raise GatewayRequestError(url, status, f"{method} {url}: {detail}") from exc
        except OSError as exc:  # refused, unreachable, TLS failures
            raise GatewayRequestError(url, None, f"{method} {url}: {exc}") from exc
        return json.loads(response.body) if response.body else None

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

    async def restart_kernel(self, gateway: Gateway, kernel_id: str) -> None:
        """Restart a kernel in place (its state is lost, its id kept)."""
        await self.request(gateway.kernel_url(kernel_id, "/restart"), "POST")

    async def aclose(self) -> None:
        """Wait (bounded) for abandoned requests to end, then close the HTTP client."""
        if self._abandoned:
            await asyncio.wait(set(self._abandoned), timeout=self.config.request_timeout_s)
        if self._http is not None:
            self._http.close()
            self._http = None


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


def _error_detail(exc: HTTPClientError) -> str:
    body = exc.response.body if exc.response is not None else b""
    with_reason = f"HTTP {exc.code}" if exc.code != 599 else str(exc)
    try:
        message = json.loads(body).get("message") if body else None
    except (ValueError, AttributeError):
        message = None
    return f"{with_reason} ({message})" if message else with_reason
