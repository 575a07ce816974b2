"""The `Language` record and the registry of the three built-in languages."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UnknownLanguage


@dataclass(frozen=True)
class Language:
    """A language the engine can run: its kernel command and how to talk about it."""

    name: str
    display_name: str
    aliases: tuple[str, ...]
    file_extensions: tuple[str, ...]
    argv: Callable[[], list[str]]
    """The kernel command, with `{connection_file}` where the connection file goes."""
    check: Callable[[], str | None] = field(default=lambda: None)
    """None when the kernel can be launched here, else what is missing and how to fix it."""
    env: dict[str, str] = field(default_factory=dict)
    sandbox_binds: Callable[[], tuple[str, ...]] = field(default=tuple)
    """Host paths the kernel needs read-only inside the sandbox (beyond Python itself)."""
    resident_children: tuple[str, ...] = ()
    """Names of the kernel's own long-lived child processes (bash_kernel's bash): never
    killed as processes a cell left behind, even when restarted during a cell."""

    @property
    def kernel_name(self) -> str:
        """The kernel spec name installed into the virtual environment."""
        return f"companion-{self.name}"


def _python_argv() -> list[str]:
    # No history database: a pooled kernel never needs one, and it costs start-up time.
    return [
        sys.executable,
        "-Xfrozen_modules=off",
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
        "--HistoryManager.enabled=False",
    ]


def _node_argv() -> list[str]:
    from ..kernels.node import kernel_argv

    return kernel_argv()


def _node_check() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed (install Node 20+ and run `make setup`)"
    try:
        from ..kernels.node import check_installed
    except ImportError as exc:  # pragma: no cover - the package ships it
        return f"the Node kernel is missing: {exc}"
    return check_installed()


_BASH_LAUNCHER = Path(__file__).resolve().parent.parent / "kernels" / "bash_launcher.py"


def _shell_argv() -> list[str]:
    return [sys.executable, str(_BASH_LAUNCHER), "-f", "{connection_file}"]


def _node_binds() -> tuple[str, ...]:
    from ..kernels.node import kernel_dir

    return (str(kernel_dir()),)


def _shell_check() -> str | None:
    if shutil.which("bash") is None:
        return "bash is not installed"
    try:
        import bash_kernel  # noqa: F401
    except ImportError:
        return "bash_kernel is not installed (run `make setup`)"
    return None


_LANGUAGES: dict[str, Language] = {
    lang.name: lang
    for lang in (
        Language(
            name="python",
            display_name="Python 3 (companion)",
            aliases=("py", "python3", "ipython", "ipykernel"),
            file_extensions=(".py",),
            argv=_python_argv,
        ),
        Language(
            name="javascript",
            display_name="JavaScript (companion Node.js)",
            aliases=("js", "node", "nodejs", "ijavascript"),
            file_extensions=(".js", ".mjs", ".cjs"),
            argv=_node_argv,
            check=_node_check,
            sandbox_binds=_node_binds,
        ),
        Language(
            name="shell",
            display_name="Bash (companion)",
            aliases=("bash", "sh", "zsh"),
            file_extensions=(".sh", ".bash"),
            argv=_shell_argv,
            check=_shell_check,
            # bash_kernel colours its prompt; plain output is what callers want.
            env={"TERM": "dumb"},
            sandbox_binds=lambda: (str(_BASH_LAUNCHER),),
            resident_children=("bash",),
        ),
    )
}
_ALIASES = {
    alias: lang.name for lang in _LANGUAGES.values() for alias in (lang.name, *lang.aliases)
}


def known_languages() -> tuple[str, ...]:
    """Canonical names of the built-in languages."""
    return tuple(_LANGUAGES)


def canonical_language(name: str) -> str:
    """Map a name or alias (`py`, `js`, `bash`, ...) to its canonical language name."""
    key = str(name).strip().lower()
    if key.startswith("companion-"):
        key = key.removeprefix("companion-")
    try:
        return _ALIASES[key]
    except KeyError:
        raise UnknownLanguage(
            f"unknown language {name!r}; known: {', '.join(_LANGUAGES)} "
            f"(aliases: {', '.join(sorted(set(_ALIASES) - set(_LANGUAGES)))})"
        ) from None


def get_language(name: str) -> Language:
    """The `Language` for a name or alias."""
    return _LANGUAGES[canonical_language(name)]
