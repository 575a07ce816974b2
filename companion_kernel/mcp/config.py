"""Settings of `companion-kernel mcp`: the engine it serves and the server around it.

A TOML file holds both, in two tables; command-line flags override the file:

```toml
[server]
transport = "http"          # or "stdio"
host = "127.0.0.1"
port = 8765
expose_tools = true
max_sessions_per_client = 8

[engine]                    # any EngineConfig field
languages = ["python", "javascript", "shell"]
policy = "standard"         # strict | standard | off
isolation = "auto"          # require | auto | off
timeout_s = 30
session_idle_timeout_s = 900
limits = { memory_mb = 1024 }
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from companion_kernel.config import EngineConfig, PoolConfig
from companion_kernel.errors import InvalidRequest

from .content import ContentOptions

__all__ = ["McpConfig", "load_config"]


def _default_engine() -> EngineConfig:
    # Every language starts one kernel in the background: the first call of a client does
    # not wait for a cold start, and an idle server holds three kernels, not four.
    return EngineConfig(pools={lang: PoolConfig(min_idle=1) for lang in EngineConfig().languages})


class McpConfig(BaseModel):
    """Everything `companion-kernel mcp` needs; every field has a default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: EngineConfig = Field(default_factory=_default_engine)
    """The engine served: languages, policy, isolation, limits, timeouts, pools."""
    transport: Literal["stdio", "http"] = "stdio"
    """`stdio` (one client, the parent process) or streamable `http` at `/mcp`."""
    host: str = "127.0.0.1"
    """HTTP bind address; a non-loopback address needs a token."""
    port: int = Field(8765, ge=0, le=65535)
    """HTTP port (0: any free port)."""
    expose_tools: bool = False
    """Also offer the engine's host tool registry as MCP tools."""
    max_sessions_per_client: int = Field(8, ge=1, le=256)
    """Open sessions one client may hold at once."""
    max_timeout_s: float = Field(600.0, gt=0)
    """Largest `timeout` a client may ask of one `run_code` call."""
    progress_interval_s: float = Field(0.25, gt=0)
    """Stdout and stderr of a running cell are sent as progress at most this often."""
    max_progress_chars: int = Field(4000, ge=100)
    """Characters of output per progress notification (the rest of a burst is skipped)."""
    max_text_chars: int = Field(20_000, ge=200)
    """Characters kept per text block of a result (head and tail of longer text)."""
    max_inline_image_bytes: int = Field(64 * 1024, ge=1024)
    """Largest image sent inline; larger ones are downscaled and linked as resources."""
    max_image_side: int = Field(1024, ge=64)
    """Longest side, in pixels, of a downscaled image."""
    max_attachment_bytes: int = Field(64 * 1024 * 1024, ge=1024 * 1024)
    """Memory one client's linked outputs may use; the oldest are dropped past it."""
    max_file_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    """Largest file `write_file` accepts and `read_file` returns (text beyond it is cut)."""
    max_list_entries: int = Field(1000, ge=10)
    """Entries `list_files` returns at most (the rest are counted)."""

    @property
    def content_options(self) -> ContentOptions:
        """The bounds `result_to_content` applies."""
        return ContentOptions(
            max_text_chars=self.max_text_chars,
            max_inline_image_bytes=self.max_inline_image_bytes,
            max_image_side=self.max_image_side,
        )


def load_config(
    path: str | Path | None = None,
    *,
    server: dict[str, Any] | None = None,
    engine: dict[str, Any] | None = None,
) -> McpConfig:
    """Read the TOML file (if any), then apply overrides (flags); raises `InvalidRequest`."""
    server_values: dict[str, Any] = {}
    engine_values: dict[str, Any] = _default_engine().model_dump()
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InvalidRequest(f"cannot read the config file {path}: {exc}") from None
        unknown = set(data) - {"server", "engine"}
        if unknown:
            raise InvalidRequest(
                f"{path}: unknown table(s) {', '.join(sorted(unknown))}; use [server] and [engine]"
            )
        server_values.update(data.get("server", {}))
        file_engine = data.get("engine", {})
        if "pools" in file_engine:
            engine_values["pools"] = {}
        _merge(engine_values, file_engine)
    server_values.update(server or {})
    _merge(engine_values, engine or {})
    try:
        return McpConfig.model_validate(
            {**server_values, "engine": EngineConfig.model_validate(engine_values)}
        )
    except (ValidationError, ValueError) as exc:
        where = f" in {path}" if path is not None else ""
        raise InvalidRequest(f"invalid MCP server settings{where}: {exc}") from None


def _merge(engine: dict[str, Any], extra: dict[str, Any]) -> None:
    """Update engine settings; `limits` merge field by field (one flag changes one limit)."""
    for key, value in extra.items():
        if key == "limits" and isinstance(value, dict) and isinstance(engine.get(key), dict):
            engine[key] = {**engine[key], **value}
        else:
            engine[key] = value
