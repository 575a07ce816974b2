"""The `Language` record and the registry of the three built-in languages."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
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


@dataclass(frozen=True)
class PythonInterpreter:
    """What the Python kernels need to know about a configured interpreter."""

    executable: str
    binds: tuple[str, ...] = ()
    """Its prefix and base prefix (real paths), for read-only binds into the sandbox."""
    problem: str | None = None
    """None when it can run ipykernel, else what is wrong and how to fix it."""


# Prints the prefixes, or fails (exit 3) naming the missing module.
_PROBE = """
import sys
try:
    import ipykernel
except ImportError as exc:
    print(exc, file=sys.stderr)
    raise SystemExit(3)
print(sys.prefix)
print(sys.base_prefix)
"""


@functools.lru_cache(maxsize=16)
def python_interpreter(executable: str) -> PythonInterpreter:
    """Probe `executable` (blocking; cached): its prefixes, and whether ipykernel imports."""
    if not os.access(executable, os.X_OK):
        return PythonInterpreter(executable, problem=f"{executable} is not an executable file")
    try:
        proc = subprocess.run(
            [executable, "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return PythonInterpreter(executable, problem=f"{executable} could not run: {exc}")
    if proc.returncode == 3:
        return PythonInterpreter(
            executable,
            problem=(
                f"{executable} cannot import ipykernel ({proc.stderr.strip()}); install it "
                f"there: {executable} -m pip install ipykernel"
            ),
        )
    lines = proc.stdout.split("\n")
    if proc.returncode != 0 or len(lines) < 2:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return PythonInterpreter(executable, problem=f"{executable} failed: {detail}")
    roots = [os.path.realpath(lines[0]), os.path.realpath(lines[1])]
    # A venv's python links to its base interpreter; that file must be visible too.
    roots.append(os.path.dirname(os.path.realpath(executable)))
    # /usr is always bound; a root inside another needs no bind of its own.
    binds = tuple(
        dict.fromkeys(
            r
            for r in roots
            if not _inside(r, "/usr") and not any(o != r and _inside(r, o) for o in roots)
        )
    )
    return PythonInterpreter(executable, binds=binds)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def kernel_command(
    language: Language, python_executable: str | None = None
) -> tuple[list[str], tuple[str, ...], str | None]:
    """(argv, read-only sandbox binds, problem) of `language`'s kernel, with Python kernels
    on `python_executable` when one is configured (probing it blocks the first time)."""
    problem = language.check()
    if language.name != "python" or not python_executable or problem:
        return language.argv(), language.sandbox_binds(), problem
    interpreter = python_interpreter(python_executable)
    argv = [interpreter.executable, *language.argv()[1:]]
    return argv, (*language.sandbox_binds(), *interpreter.binds), interpreter.problem


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
