"""Validation policies: what code may use, per language, as frozen data.

A `Policy` bundles one sub-policy per language plus a few cross-language
settings. Policies are immutable; derive new ones with the helper methods
(``strict.allow_modules("numpy")``) or ``model_copy(update=...)``.

Presets (see `get_policy`):

- ``strict`` (`get_policy`'s default, for untrusted code outside a sandbox): a small
  allow-list of pure standard-library modules, no ``open``/``input``/``help``/``vars``,
  attribute names only as literals, no magics or shell escapes; JavaScript without
  ``fs``/``os``; shell restricted to text tools, writes only below the working directory
  and no bash arithmetic on variables.
- ``standard`` (the engine's default, for model-written code running in the sandbox): any
  installed library and the standard library may be imported, except the escape classes;
  ordinary introspection (``getattr`` with computed names, ``vars(obj)``, ``__dict__``,
  ``__class__``, ``e.__traceback__``), files, ``asyncio``, ``logging``, the magics of
  ordinary notebooks (``%time``/``%timeit``, ``%matplotlib``, ``%%capture``, ``%load_ext``,
  ``%autoreload``, ``%config InlineBackend...``, ``%%writefile``, ``%%html`` ...); Node's
  ``fs`` and ``os``, archive tools, arithmetic and ``cd`` anywhere in the shell.
  Still rejected: process spawning (``subprocess``, ``os.system``/``popen``/``exec*``/
  ``spawn*``/``fork``, ``pty``, ``multiprocessing``, process pools, asyncio subprocess
  transports), the network (sockets, URL/HTTP/mail clients, logging's network handlers,
  asyncio connections and servers), interpreter escape hatches (``eval``/``exec``/
  ``compile``/``__import__``, ``importlib``, ``ctypes``/``cffi``, pickle/marshal/shelve,
  dunder chains toward ``__subclasses__``/``__globals__``/``__builtins__``/frames/code
  objects, format-field tricks) and sandbox internals (private attributes of the objects
  the engine injects, such as ``tools._comm``; ``companion_kernel`` itself).
- ``off``: no checks at all; every report is ``ok``.

Policy files (``load_policy``, the CLI's ``--policy FILE.toml``): either a derivation
from a preset (``base = "standard"`` plus per-language tables of ``allow_*``/``block_*``
lists and field values) or a complete policy as ``policy_to_toml`` writes it; see
``load_policy``.

Module lists: the entry ``"*"`` in ``allowed_modules`` allows every module that no
blocked entry covers, except names with a ``_private`` component (``_posixsubprocess``,
``numpy._core``), which only an explicit allow entry admits.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import InvalidRequest
from ._common import names

__all__ = [
    "PRESETS",
    "JavaScriptPolicy",
    "Policy",
    "PythonPolicy",
    "ShellPolicy",
    "get_policy",
    "load_policy",
    "policy_option",
    "policy_to_toml",
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
    """__import__ breakpoint compile eval exec exit get_ipython globals locals quit"""
)
# The escape classes, for policies that otherwise allow every module ("*").
_PY_STANDARD_BLOCKED_MODULES = names(
    """
    subprocess _posixsubprocess pty tty multiprocessing _multiprocessing concurrent.futures.process
    posix nt _winapi msvcrt asyncio.subprocess asyncio.base_subprocess asyncio.unix_events
    asyncio.windows_events asyncio.windows_utils asyncio.streams asyncio.selector_events
    asyncio.proactor_events asyncio.base_events asyncio.sslproto pexpect ptyprocess sh plumbum
    psutil fabric invoke sarge delegator
    socket _socket ssl _ssl socketserver asyncore asynchat http.client http.server urllib.request
    urllib.robotparser ftplib smtplib smtpd poplib imaplib nntplib telnetlib xmlrpc webbrowser
    wsgiref mailcap requests httpx aiohttp urllib3 pycurl websocket websockets zmq tornado twisted
    paramiko grpc httplib2 treq mechanize scapy
    builtins ctypes _ctypes cffi code codeop runpy importlib imp zipimport marshal pickle _pickle
    pickletools shelve dill cloudpickle joblib gc inspect timeit pdb bdb trace profile cProfile
    doctest pydoc venv ensurepip pip setuptools distutils _thread _string
    IPython ipykernel jupyter_client jupyter_core comm companion_kernel
    """
)
_PY_STANDARD_ALLOWED_MODULES = (
    names(
        """* importlib.metadata importlib.resources IPython.display IPython.core.display
        ipykernel.pylab.backend_inline matplotlib_inline"""
    )
    | _PY_STRICT_MODULES
    | _PY_STANDARD_EXTRA_MODULES
    | names("os sys types traceback")
)
# Dunders that ordinary introspection reads or defines; none leads on to globals, builtins,
# code objects or frames by itself (those stay blocked).
_PY_STANDARD_DUNDERS = names(
    """__class__ __dict__ __traceback__ __cause__ __context__ __suppress_context__ __notes__
    __bases__ __base__ __mro__ __dataclass_fields__ __dataclass_params__
    __getattr__ __getattribute__ __setattr__ __delattr__ __dir__ __del__ __getstate__
    __setstate__ __getnewargs__ __getnewargs_ex__ __instancecheck__ __subclasscheck__
    __subclasshook__ __weakref__ __orig_bases__ __parameters__ __args__ __origin__
    __defaults__ __kwdefaults__ __signature__ __text_signature__ __objclass__ __get__ __set__
    __delete__ __prepare__ __mro_entries__ __array__ __array_ufunc__ __array_function__
    __array_interface__ __array_priority__ __dataframe__ __fields__ __main__ __pycache__"""
)
# What ordinary notebooks use and no process or network comes from: timing, plots, output
# capture, extensions (loaded as imports), inline-plot settings, display cells, namespace
# listings. `!cmd`, %%bash, %system, %sx, %run, %pip and %env stay out.
_PY_STANDARD_MAGICS = names(
    """time timeit matplotlib capture load_ext reload_ext unload_ext autoreload config
    writefile html markdown latex svg who whos who_ls pwd precision pprint xmode"""
)
# What the engine defines in every Python kernel (the tool bridge).
_PY_INJECTED_NAMES = frozenset({"tools", "ToolError"})


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
    """IPython magics that may run; ``time``/``timeit``/``capture`` bodies and ``bash``/``sh``
    cells are validated in turn (as Python and as shell), ``load_ext`` as an import of the
    extension, ``config`` only for ``InlineBackend``; ``{expr}``/``$name`` in a magic's line
    are rejected (IPython would evaluate them)."""
    shell_escapes: bool = False
    """Allow ``!cmd`` / ``x = !cmd``; the command is then validated with the shell policy."""
    dynamic_attributes: bool = False
    """Let ``getattr``/``setattr``/``hasattr``/``delattr`` take names computed at run time,
    ``vars(obj)`` be used, and ``str.format`` run on strings built at run time. Names visibly
    assembled in the call (``'__cla' + 'ss__'``), strings spelling blocked dunders, and
    computed access to modules or injected objects stay rejected; beyond that, a name
    computed from data the validator cannot see is the sandbox's business."""
    allowed_dunders: frozenset[str] = frozenset()
    """Dunder attributes allowed on top of the protocol methods (``__init__``, ``__eq__``,
    ...); format fields still get only those protocol methods."""
    injected_names: frozenset[str] = _PY_INJECTED_NAMES
    """Objects the engine puts in every kernel (``tools``): their ``_private`` attributes
    are internal and rejected under every policy, as is computed access to them."""


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
    cd_anywhere: bool = False
    """Let ``cd`` go anywhere (absolute paths, ``..``, ``$HOME``). Off, ``cd`` stays below the
    working directory, so the write rules' "inside the working directory" keeps holding;
    on, the sandbox's read-only root and private /tmp decide where writes can land."""
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
        allowed_modules=_PY_STANDARD_ALLOWED_MODULES,
        blocked_modules=_PY_STANDARD_BLOCKED_MODULES,
        blocked_builtins=_PY_STANDARD_BUILTINS,
        allowed_magics=_PY_STANDARD_MAGICS,
        dynamic_attributes=True,
        allowed_dunders=_PY_STANDARD_DUNDERS,
    ),
    javascript=JavaScriptPolicy(
        allowed_modules=_JS_STRICT_MODULES | _JS_STANDARD_EXTRA_MODULES,
        allowed_process_properties=_JS_STRICT_PROCESS | _JS_STANDARD_EXTRA_PROCESS,
    ),
    shell=ShellPolicy(
        allowed_commands=_SH_STRICT_COMMANDS | _SH_STANDARD_EXTRA_COMMANDS,
        arithmetic=True,
        cd_anywhere=True,
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


# -- policy files ------------------------------------------------------------------------------

_SUB_POLICIES: dict[str, type[_Frozen]] = {
    "python": PythonPolicy,
    "javascript": JavaScriptPolicy,
    "shell": ShellPolicy,
}


def _add(field: str) -> Callable[[BaseModel, frozenset[str]], dict[str, frozenset[str]]]:
    return lambda sub, names: {field: getattr(sub, field) | names}


def _remove(field: str) -> Callable[[BaseModel, frozenset[str]], dict[str, frozenset[str]]]:
    return lambda sub, names: {field: getattr(sub, field) - names}


def _allow_listed(
    allowed: str, blocked: str
) -> Callable[[BaseModel, frozenset[str]], dict[str, frozenset[str]]]:
    return lambda sub, names: {
        allowed: getattr(sub, allowed) | names,
        blocked: getattr(sub, blocked) - names,
    }


def _block_listed(
    allowed: str, blocked: str
) -> Callable[[BaseModel, frozenset[str]], dict[str, frozenset[str]]]:
    return lambda sub, names: {
        allowed: getattr(sub, allowed) - names,
        blocked: getattr(sub, blocked) | names,
    }


# The derivation verbs of a policy file's language tables: each turns a list of names into
# field updates of that language's sub-policy (the same effect as Policy's helpers).
_VERBS: dict[str, dict[str, Callable[[Any, frozenset[str]], dict[str, frozenset[str]]]]] = {
    "python": {
        "allow_modules": _allow_listed("allowed_modules", "blocked_modules"),
        "block_modules": _block_listed("allowed_modules", "blocked_modules"),
        "allow_builtins": _remove("blocked_builtins"),
        "block_builtins": _add("blocked_builtins"),
        "allow_magics": _add("allowed_magics"),
        "block_magics": _remove("allowed_magics"),
        "allow_dunders": _add("allowed_dunders"),
        "block_attributes": _add("blocked_attributes"),
    },
    "javascript": {
        "allow_modules": _allow_listed("allowed_modules", "blocked_modules"),
        "block_modules": _block_listed("allowed_modules", "blocked_modules"),
        "allow_process_properties": _add("allowed_process_properties"),
        "allow_globals": _remove("blocked_globals"),
        "block_globals": _add("blocked_globals"),
    },
    "shell": {
        "allow_commands": _allow_listed("allowed_commands", "blocked_commands"),
        "block_commands": _add("blocked_commands"),
    },
}


def load_policy(path: str | Path) -> Policy:
    """Read a policy file (TOML); `InvalidRequest` says what is wrong with a bad one.

    A derivation names its preset in ``base`` and changes only what it lists::

        base = "standard"                 # strict, standard or off
        name = "analysis"                 # optional; default: the file name
        warn_rules = ["python.dunder-definition"]   # top-level Policy fields replace

        [python]
        allow_modules = ["requests"]      # allow_/block_ lists add to the preset's
        block_modules = ["sqlite3"]
        allow_builtins = ["eval"]
        allow_magics = ["load_ext"]
        dynamic_attributes = false        # a field of PythonPolicy replaces the preset's

        [javascript]
        allow_modules = ["http"]

        [shell]
        allow_commands = ["curl"]
        arithmetic = false

    Verbs: python ``allow_modules``, ``block_modules``, ``allow_builtins``,
    ``block_builtins``, ``allow_magics``, ``block_magics``, ``allow_dunders``,
    ``block_attributes``; javascript ``allow_modules``, ``block_modules``,
    ``allow_process_properties``, ``allow_globals``, ``block_globals``; shell
    ``allow_commands``, ``block_commands``. Without ``base`` the file is a complete
    policy, every field of `Policy` spelled out (``policy_to_toml`` writes one; a missing
    field takes the model's default, which is the strict value).
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InvalidRequest(f"policy file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"policy file {path}: not UTF-8 (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequest(f"policy file {path}: not valid TOML: {exc}") from None
    try:
        if "base" in data:
            return _derive(data, default_name=path.stem)
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(f"policy file {path}: {_first_problem(exc)}") from None
    except InvalidRequest as exc:
        raise InvalidRequest(f"policy file {path}: {exc}") from None


def _derive(data: dict[str, Any], default_name: str) -> Policy:
    data = dict(data)
    base = data.pop("base")
    if not isinstance(base, str) or base not in PRESETS:
        raise InvalidRequest(f"base = {base!r} is not a preset ({', '.join(PRESETS)})")
    policy = PRESETS[base]
    top: dict[str, Any] = {"name": data.pop("name", default_name)}
    for key, value in data.items():
        if key in _SUB_POLICIES:
            if not isinstance(value, dict):
                raise InvalidRequest(f"[{key}] must be a table")
            policy = policy.model_copy(update={key: _derive_sub(key, getattr(policy, key), value)})
        elif key in Policy.model_fields:
            top[key] = value
        else:
            known = ", ".join(["base", *Policy.model_fields, *_SUB_POLICIES])
            raise InvalidRequest(f"unknown key {key!r}; keys: {known}")
    # Validated as a whole, so a wrong type in any field is reported as pydantic sees it.
    return Policy.model_validate({**policy.model_dump(), **top})


def _derive_sub(language: str, sub: BaseModel, table: dict[str, Any]) -> BaseModel:
    verbs = _VERBS[language]
    fields = type(sub).model_fields
    updates: dict[str, Any] = {}
    for key, value in table.items():
        if key in verbs:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidRequest(f"[{language}] {key} must be a list of strings")
            current = sub.model_copy(update=updates)
            updates.update(verbs[key](current, frozenset(value)))
        elif key in fields:
            updates[key] = value
        else:
            known = ", ".join([*verbs, *fields])
            raise InvalidRequest(f"[{language}] unknown key {key!r}; keys: {known}")
    model = type(sub)
    try:
        return model.model_validate({**sub.model_dump(), **updates})
    except ValidationError as exc:
        raise InvalidRequest(f"[{language}] {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    count = exc.error_count()
    more = f" (and {count - 1} more)" if count > 1 else ""
    return f"{where}: {first['msg']}{more}"


def policy_to_toml(policy: Policy) -> str:
    """The complete policy as a TOML policy file (``load_policy`` reads it back)."""
    data = policy.model_dump(mode="json")
    lines = [f"# companion_kernel validation policy {policy.name!r}, every field spelled out."]
    tables = {k: data.pop(k) for k in _SUB_POLICIES}
    lines += [f"{key} = {_toml_value(value)}" for key, value in data.items()]
    for table, fields in tables.items():
        lines += ["", f"[{table}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid in TOML basic strings
    items = sorted(str(v) for v in value)
    if not items:
        return "[]"
    return "[\n" + "".join(f"    {json.dumps(v)},\n" for v in items) + "]"


def policy_option(value: str | Policy) -> str | Policy:
    """A ``--policy`` argument: a preset name, or the path of a ``.toml`` policy file."""
    if isinstance(value, Policy) or value in PRESETS:
        return value
    if value.endswith(".toml") or Path(value).is_file():
        return load_policy(value)
    raise InvalidRequest(
        f"unknown policy {value!r}: use a preset ({', '.join(PRESETS)}) or the path of a "
        "policy file (.toml)"
    )
