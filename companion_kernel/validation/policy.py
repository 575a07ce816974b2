"""Validation policies: what code may use, per language, as frozen data.

A `Policy` bundles one sub-policy per language plus a few cross-language
settings. Policies are immutable; derive new ones with the helper methods
(``strict.allow_modules("numpy")``) or ``model_copy(update=...)``.

Presets (see `get_policy`):

- ``strict`` (the default, for untrusted code): a small allow-list of pure
  standard-library modules, no ``open``/``input``/``help``, no magics or shell
  escapes; JavaScript without ``fs``/``os``; shell restricted to text tools,
  writes only below the working directory and no bash arithmetic on variables.
- ``standard`` (for code you mostly trust): everything in ``strict`` plus file
  access (``open``, ``pathlib``, ``os.path``, ``csv``, ``shutil``, archives, ...),
  ``asyncio``, ``%time``/``%timeit``, Node's ``fs`` and ``os``, archive tools and
  arithmetic in the shell. Still blocked: ``eval``/``exec``/``compile``, dunder
  and frame escapes, subprocesses, sockets and network tools, privilege tools.
  Third-party packages (numpy, pandas, ...) are never pre-approved: add them with
  `Policy.allow_modules`.
- ``off``: no checks at all; every report is ``ok``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..errors import InvalidRequest
from ._common import names

__all__ = [
    "PRESETS",
    "JavaScriptPolicy",
    "Policy",
    "PythonPolicy",
    "ShellPolicy",
    "get_policy",
]

LanguageName = Literal["python", "javascript", "shell"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


# -- Python ---------------------------------------------------------------------------------

_PY_STRICT_MODULES = names(
    """__future__ abc array base64 binascii bisect calendar cmath collections colorsys copy
    dataclasses datetime decimal difflib enum fractions functools graphlib hashlib heapq hmac
    itertools json keyword math numbers operator pprint random re secrets statistics string
    struct textwrap time typing unicodedata uuid zlib zoneinfo"""
)
_PY_STANDARD_EXTRA_MODULES = names(
    """asyncio bz2 contextlib csv fnmatch glob gzip html io ipaddress logging lzma os.path pathlib
    queue shutil sqlite3 tarfile tempfile threading urllib.parse warnings weakref zipfile"""
)
# Modules that run code from strings, reach the interpreter's internals, start processes or
# open sockets: blocked even when a prefix of them is allowed.
_PY_ALWAYS_BLOCKED_MODULES = names(
    """_ctypes _posixsubprocess _thread asyncio.subprocess builtins code codeop concurrent ctypes
    gc importlib inspect logging.config marshal multiprocessing os pickle pty runpy shelve
    signal socket subprocess sys timeit types"""
)
_PY_STRICT_BUILTINS = names(
    """__import__ breakpoint compile copyright credits eval exec exit get_ipython globals help
    input license locals open quit vars"""
)
_PY_STANDARD_BUILTINS = names(
    """__import__ breakpoint compile eval exec exit get_ipython globals locals quit vars"""
)


class PythonPolicy(_Frozen):
    """Rules for Python (IPython) code."""

    allowed_modules: frozenset[str] = _PY_STRICT_MODULES
    """Importable modules; an entry also covers submodules (``json`` allows ``json.decoder``).
    For a dotted name the longest matching entry of either list decides (a tie blocks), so
    ``os.path`` can be allowed while ``os`` stays blocked."""
    blocked_modules: frozenset[str] = _PY_ALWAYS_BLOCKED_MODULES
    """Modules (and their submodules) that may not be imported."""
    blocked_builtins: frozenset[str] = _PY_STRICT_BUILTINS
    """Built-in names that may not be used at all (called, aliased or passed around)."""
    blocked_attributes: frozenset[str] = frozenset()
    """Extra attribute names to reject, on top of the built-in dunder and frame rules."""
    allowed_magics: frozenset[str] = frozenset()
    """IPython magics that may run; ``time``/``timeit`` bodies and ``bash``/``sh`` cells are
    validated in turn (as Python and as shell)."""
    shell_escapes: bool = False
    """Allow ``!cmd`` / ``x = !cmd``; the command is then validated with the shell policy."""


# -- JavaScript ----------------------------------------------------------------------------

_JS_STRICT_MODULES = names(
    """assert assert/strict buffer crypto events path path/posix path/win32 querystring stream
    stream/promises string_decoder timers timers/promises url util util/types zlib"""
)
_JS_STANDARD_EXTRA_MODULES = frozenset(["fs", "fs/promises", "os", "perf_hooks", "readline"])
_JS_ALWAYS_BLOCKED_MODULES = names(
    """async_hooks child_process cluster dgram diagnostics_channel dns http http2 https inspector
    module net process repl sea sqlite test tls trace_events v8 vm wasi worker_threads"""
)
_JS_STRICT_PROCESS = names(
    """arch cpuUsage hrtime memoryUsage nextTick platform stderr stdout uptime version versions"""
)
_JS_STANDARD_EXTRA_PROCESS = frozenset(["argv", "cwd", "emitWarning", "pid"])
_JS_BLOCKED_GLOBALS = frozenset(["Function", "WebSocket", "XMLHttpRequest", "eval", "fetch"])


class JavaScriptPolicy(_Frozen):
    """Rules for JavaScript (Node) code."""

    allowed_modules: frozenset[str] = _JS_STRICT_MODULES
    """Modules ``require``/``import`` may load (``node:`` prefix optional, subpaths included)."""
    blocked_modules: frozenset[str] = _JS_ALWAYS_BLOCKED_MODULES
    """Never loadable, even when allowed above."""
    allowed_process_properties: frozenset[str] = _JS_STRICT_PROCESS
    """The only ``process.<name>`` properties code may touch."""
    blocked_globals: frozenset[str] = _JS_BLOCKED_GLOBALS
    """Global names that may not appear at all (``eval``, ``Function``, ``fetch``, ...)."""


# -- Shell ---------------------------------------------------------------------------------

_SH_STRICT_COMMANDS = names(
    """: [ awk base64 basename break cat cd cmp comm continue cp cut date declare diff dirname echo
    egrep expand export expr false fgrep file find fmt fold grep head join local ls md5sum mkdir
    mv nl od paste printf pwd read readlink readonly realpath return rev rm rmdir sed seq set
    sha1sum sha256sum sha512sum shift sleep sort stat tac tail tee test touch tr true tsort
    uname unexpand uniq unset wc yes"""
)
_SH_STANDARD_EXTRA_COMMANDS = names(
    """bunzip2 bzip2 du df gunzip gzip jq ps tar tree unxz unzip which xz zcat zip"""
)


class ShellPolicy(_Frozen):
    """Rules for shell (bash) code."""

    allowed_commands: frozenset[str] = _SH_STRICT_COMMANDS
    """Commands (and builtins) that may run; everything else is rejected."""
    blocked_commands: frozenset[str] = frozenset()
    """Commands rejected even when allowed above."""
    arithmetic: bool = False
    """Allow bash arithmetic (``$((..))``, ``((..))``, ``[[ a -eq b ]]``, ``let``) on variables.
    Bash evaluates ``$(..)`` hidden in a variable's value there, so strict forbids it."""
    max_source_chars: int = 200_000
    """Longer scripts are rejected (the shell parser is slow on huge input)."""


# -- Policy --------------------------------------------------------------------------------


class Policy(_Frozen):
    """A complete validation policy: one sub-policy per language."""

    name: str
    """Shown in reports (``strict``, ``standard``, ``off`` or your own)."""
    enabled: bool = True
    """False turns every check off (the ``off`` preset)."""
    max_source_chars: int = 1_000_000
    """Longer code is rejected without being parsed."""
    warn_rules: frozenset[str] = frozenset()
    """Rule ids reported as warnings instead of errors (they do not reject the code)."""
    disabled_rules: frozenset[str] = frozenset()
    """Rule ids not reported at all."""
    python: PythonPolicy = PythonPolicy()
    """Rules for Python."""
    javascript: JavaScriptPolicy = JavaScriptPolicy()
    """Rules for JavaScript."""
    shell: ShellPolicy = ShellPolicy()
    """Rules for shell."""

    def renamed(self, name: str) -> Policy:
        """The same rules under another name."""
        return self.model_copy(update={"name": name})

    def allow_modules(self, *modules: str, language: LanguageName = "python") -> Policy:
        """Add modules to the allow-list (and lift any block on exactly those names)."""
        sub = self._sub(language)
        names = frozenset(modules)
        update = {
            "allowed_modules": sub.allowed_modules | names,
            "blocked_modules": sub.blocked_modules - names,
        }
        return self._with(language, sub.model_copy(update=update))

    def block_modules(self, *modules: str, language: LanguageName = "python") -> Policy:
        """Block modules (and their submodules) even if an allow-list entry covers them."""
        sub = self._sub(language)
        names = frozenset(modules)
        update = {
            "allowed_modules": sub.allowed_modules - names,
            "blocked_modules": sub.blocked_modules | names,
        }
        return self._with(language, sub.model_copy(update=update))

    def allow_builtins(self, *names: str) -> Policy:
        """Let Python code use these blocked built-ins (e.g. ``open``)."""
        python = self.python.model_copy(
            update={"blocked_builtins": self.python.blocked_builtins - frozenset(names)}
        )
        return self.model_copy(update={"python": python})

    def block_builtins(self, *names: str) -> Policy:
        """Forbid more Python built-ins."""
        python = self.python.model_copy(
            update={"blocked_builtins": self.python.blocked_builtins | frozenset(names)}
        )
        return self.model_copy(update={"python": python})

    def allow_commands(self, *commands: str) -> Policy:
        """Add shell commands to the allow-list."""
        names = frozenset(commands)
        shell = self.shell.model_copy(
            update={
                "allowed_commands": self.shell.allowed_commands | names,
                "blocked_commands": self.shell.blocked_commands - names,
            }
        )
        return self.model_copy(update={"shell": shell})

    def block_commands(self, *commands: str) -> Policy:
        """Forbid shell commands even if allowed."""
        names = frozenset(commands)
        shell = self.shell.model_copy(
            update={"blocked_commands": self.shell.blocked_commands | names}
        )
        return self.model_copy(update={"shell": shell})

    def _sub(self, language: LanguageName) -> PythonPolicy | JavaScriptPolicy:
        if language == "python":
            return self.python
        if language == "javascript":
            return self.javascript
        raise InvalidRequest(f"modules are configured for python or javascript, not {language!r}")

    def _with(self, language: str, sub: BaseModel) -> Policy:
        return self.model_copy(update={language: sub})


STRICT = Policy(name="strict")
STANDARD = Policy(
    name="standard",
    warn_rules=frozenset({"python.dunder-definition"}),
    python=PythonPolicy(
        allowed_modules=_PY_STRICT_MODULES | _PY_STANDARD_EXTRA_MODULES,
        blocked_builtins=_PY_STANDARD_BUILTINS,
        allowed_magics=frozenset({"time", "timeit", "matplotlib"}),
    ),
    javascript=JavaScriptPolicy(
        allowed_modules=_JS_STRICT_MODULES | _JS_STANDARD_EXTRA_MODULES,
        allowed_process_properties=_JS_STRICT_PROCESS | _JS_STANDARD_EXTRA_PROCESS,
    ),
    shell=ShellPolicy(
        allowed_commands=_SH_STRICT_COMMANDS | _SH_STANDARD_EXTRA_COMMANDS, arithmetic=True
    ),
)
OFF = Policy(name="off", enabled=False)

PRESETS: MappingProxyType[str, Policy] = MappingProxyType(
    {"strict": STRICT, "standard": STANDARD, "off": OFF}
)
"""The built-in policies by name."""


def get_policy(policy: str | Policy | None = None) -> Policy:
    """Resolve a preset name (or pass a `Policy` through); ``None`` means ``strict``."""
    if policy is None:
        return STRICT
    if isinstance(policy, Policy):
        return policy
    try:
        return PRESETS[policy]
    except (KeyError, TypeError):
        names = ", ".join(PRESETS)
        raise InvalidRequest(f"unknown policy {policy!r}; presets are: {names}") from None
