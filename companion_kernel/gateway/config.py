"""GatewayConfig: where remote kernels run (Jupyter Kernel Gateway or Enterprise Gateway)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["TOKEN_ENV", "GatewayConfig"]

TOKEN_ENV = "COMPANION_GATEWAY_TOKEN"
"""Environment variable read for the token when `GatewayConfig.token` is not set."""


class GatewayConfig(BaseModel):
    """One or more gateways that run the engine's kernels instead of this machine.

    ```python
    Engine(gateway=GatewayConfig(url=["https://k1:8888", "https://k2:8888"], token="..."))
    ```

    `url` (a string or a list) is accepted as an alias of `urls`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    urls: tuple[str, ...]
    """Base URLs of the gateways (`http://` or `https://`). New kernels go to the one with
    the fewest kernels of this engine; a gateway that fails is skipped for `retry_after_s`."""
    token: SecretStr | None = None
    """Sent as `Authorization: token ...`; None: `$COMPANION_GATEWAY_TOKEN` if set."""
    kernel_names: dict[str, str] = Field(default_factory=dict)
    """Kernel spec name per language (e.g. `{"python": "python3"}`). A language missing here
    uses the gateway's `companion-<language>` spec, else the first spec of that language."""
    connect_timeout_s: float = Field(10.0, gt=0)
    """Bound on opening a connection (REST or websocket)."""
    request_timeout_s: float = Field(30.0, gt=0)
    """Bound on one REST request other than a kernel start (`PoolConfig.start_timeout_s`)."""
    validate_cert: bool = True
    """Verify the gateway's TLS certificate (`https://` URLs)."""
    ca_certs: str | None = None
    """CA bundle (PEM file) to verify the gateway's certificate with; None: the system's."""
    ping_interval_s: float = Field(10.0, gt=0)
    """Websocket pings: a connection silent for 3 intervals counts as lost (kernel died)."""
    kernel_env: dict[str, str] = Field(default_factory=dict)
    """Environment sent with every kernel start (`env` in `POST /api/kernels`). Gateways
    pass on `KERNEL_*` names: Enterprise Gateway reads `KERNEL_USERNAME` (whom the kernel is
    for, checked against its authorized and unauthorized users), `KERNEL_NAMESPACE`, ..."""
    reconnect_s: float = Field(10.0, ge=0)
    """How long a dropped channels websocket is re-opened for while the gateway still has
    the kernel (state kept; output sent meanwhile is replayed by gateways that buffer it,
    as Jupyter Server-based ones do). After that, or at once with 0, the kernel counts as
    dead. A message sent just as the link drops can be lost: that cell ends by timeout."""
    retry_after_s: float = Field(5.0, ge=0)
    """How long a gateway that failed to start a kernel is skipped while others work."""

    @model_validator(mode="before")
    @classmethod
    def _url_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            data = dict(data)
            if "urls" in data:
                raise ValueError("give either url or urls, not both")
            data["urls"] = data.pop("url")
        return data

    @field_validator("urls", mode="before")
    @classmethod
    def _check_urls(cls, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = (value,)
        urls = tuple(dict.fromkeys(str(v).rstrip("/") for v in value))
        if not urls:
            raise ValueError("at least one gateway URL is needed")
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"gateway URL {url!r} must be http://host[:port] or https://...")
        return urls

    def auth_token(self) -> str | None:
        """The token in force (the field, else the environment variable), or None."""
        if self.token is not None:
            return self.token.get_secret_value() or None
        return os.environ.get(TOKEN_ENV) or None
