"""Engine and pool configuration (frozen pydantic models) with documented defaults."""

from __future__ import annotations

import os
import shutil
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .gateway.config import GatewayConfig
from .sandbox.limits import Limits
from .validation.policy import Policy, get_policy

__all__ = [
    "DEFAULT_POOLS",
    "EngineConfig",
    "GatewayConfig",
    "IsolationMode",
    "Limits",
    "PoolConfig",
]

IsolationMode = Literal["require", "auto", "off"]


class PoolConfig(BaseModel):
    """How many kernels of one language to keep warm, and how many at most."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_idle: int = Field(1, ge=0, le=64)
    """Ready kernels kept started in the background, replenished after every acquire."""
    max_kernels: int = Field(8, ge=1, le=256)
    """Cap on this language's kernels: idle, in use and still starting."""
    acquire_timeout_s: float = Field(60.0, gt=0)
    """How long an acquire waits for a kernel before raising `PoolExhausted`."""
    start_timeout_s: float = Field(60.0, gt=0)
    """How long one kernel may take to start and answer `kernel_info`."""


DEFAULT_POOLS: dict[str, PoolConfig] = {
    "python": PoolConfig(min_idle=2),
    "javascript": PoolConfig(min_idle=1),
    "shell": PoolConfig(min_idle=1),
}


class EngineConfig(BaseModel):
    """Everything an `Engine` needs to know; every field has a sensible default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    languages: tuple[str, ...] = ("python", "javascript", "shell")
    """Languages whose pools the engine runs."""
    pools: dict[str, PoolConfig] = Field(default_factory=lambda: dict(DEFAULT_POOLS))
    """Per-language pool settings; a language missing here gets `PoolConfig()`."""
    default_language: str = "python"
    """Used when no language is given and detection is ambiguous."""
    timeout_s: float = Field(30.0, gt=0)
    """Default wall-clock limit of one execution."""
    interrupt_grace_s: float = Field(2.0, gt=0)
    """After an interrupt, how long the kernel has to become idle before it is replaced."""
    max_output_bytes: int = Field(1024 * 1024, ge=1024)
    """Output kept per execution; the rest is dropped and the result marked `truncated`."""
    max_code_bytes: int = Field(1024 * 1024, ge=1)
    """Largest code accepted in one execution."""
    session_idle_timeout_s: float | None = Field(900.0, gt=0)
    """Sessions unused for this long are closed (None: never)."""
    policy: str | Policy = "standard"
    """Validator policy applied before code reaches a kernel: a preset name (`strict`,
    `standard`, `off`) or a `Policy` with your own allow- and block-lists."""
    isolation: IsolationMode = "auto"
    """`require` bubblewrap, use it when it works (`auto`), or run kernels unconfined (`off`)."""
    limits: Limits = Field(default_factory=Limits)
    """Per-kernel resource limits (memory, processes, file size, open files, CPU, tmpfs),
    enforced unless isolation is `off`."""
    runtime_dir: str | None = None
    """Where connection files and ipc sockets live (default: a private temp directory)."""
    python_executable: str | None = None
    """Interpreter of the Python kernels, e.g. a virtual environment's `bin/python` with
    your own packages (it needs `ipykernel`). None: the engine's own interpreter. Its
    prefix and base prefix are bound read-only into the sandbox."""
    preload: tuple[str, ...] = ()
    """Modules imported by every warm Python kernel before a session gets it (e.g.
    `("numpy", "pandas", "matplotlib.pyplot")`): a session's first `import pandas` is then
    instant, at the cost of each idle kernel's memory (see benchmarks/bench_interpreter.py)."""
    gateway: GatewayConfig | None = None
    """Run kernels on Jupyter Kernel Gateway servers instead of this machine (a URL, a list
    of URLs, or a `GatewayConfig`). Their sandbox is the gateway host's; sessions then have
    no local workspace (`session.files` is unavailable)."""

    @field_validator("gateway", mode="before")
    @classmethod
    def _gateway_urls(cls, value: object) -> object:
        if isinstance(value, str | list | tuple):
            return GatewayConfig(url=value)
        return value

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from .languages import canonical_language

        return tuple(dict.fromkeys(canonical_language(v) for v in value))

    @field_validator("preload")
    @classmethod
    def _module_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not all(part.isidentifier() for part in name.split(".")):
                raise ValueError(f"preload: {name!r} is not a module name")
        return value

    @field_validator("python_executable")
    @classmethod
    def _absolute_executable(cls, value: str | None) -> str | None:
        if value is None or os.sep in value:
            return value and os.path.abspath(os.path.expanduser(value))
        found = shutil.which(value)  # a bare name such as `python3.12` is looked up on PATH
        if found is None:
            raise ValueError(f"python_executable {value!r} is not on PATH")
        return found

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str | Policy) -> str | Policy:
        get_policy(value)  # unknown preset names fail here, not at the first execution
        return value

    def pool(self, language: str) -> PoolConfig:
        """The pool settings of `language`."""
        return self.pools.get(language, PoolConfig())
