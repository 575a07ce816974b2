"""Python checks: judge what the IPython kernel will actually run, with one `ast` walk.

Pipeline: first a lexical fast path (`companion_kernel.validation._pyscan`): an ordinary
multi-line ASCII cell whose text holds no trigger word of the policy, no ``__``, no IPython
syntax and only plain, allowed import lines is accepted without parsing (the parse alone
costs more than the time budget). That path does not prove the cell parses: a cell with a
syntax error it cannot see (balanced brackets and quotes, say ``x = = 1``) is accepted and
the kernel reports the SyntaxError; unbalanced brackets or quotes still get
``python.syntax`` here. Everything else takes the full path: IPython syntax (``!cmd``,
``%magic``, ``%%cell``, ``x?``, prompts) is rewritten by IPython's own
``TransformerManager`` - only when a cheap regular expression says the cell could contain
such syntax. The result is parsed once with `ast` (identifiers come out NFKC-normalised,
so look-alike letters cannot hide ``eval``). A lexical scan (`scan_words`: identifiers and
the words of string values, escapes and implicit concatenation included) then decides how
much to walk: code that mentions no trigger word (a blocked name, a dunder, a frame
attribute, ``getattr``, ``type``, ...) only has its import statements checked; anything
else gets the full single-pass walk.

What the walk rejects, and why:

- imports outside the policy's module allow-list, relative imports, and ``import a.b``
  that would bind a blocked ``a``;
- blocked built-ins (``eval``, ``exec``, ``compile``, ``open``, ``globals``, ...) whether
  called, aliased or passed around;
- dunder attributes and names that are not ordinary protocol methods (``__class__``,
  ``__subclasses__``, ``__globals__``, ``__builtins__``, ...), and frame, generator,
  coroutine, traceback and code-object internals (``gi_frame``, ``f_back``, ``co_code``);
- attributes through which an allowed module hands out a blocked one or an internal helper
  that runs code (``typing.sys``, ``dataclasses.builtins``, ``collections._sys``,
  ``dataclasses._create_fn``, ``uuid._get_command_stdout``), found by introspecting the
  allowed standard-library modules once per policy;
- evaluators of strings: ``typing.get_type_hints``, ``ForwardRef``, ``singledispatch``
  (string annotations are themselves checked as code), ``string.Formatter.get_field``;
- ``getattr``/``setattr``/``delattr``/``hasattr`` and ``operator.attrgetter``/``methodcaller``
  unless called directly with a literal, harmless name; three-argument ``type(...)``;
- format strings with attribute or index fields that reach dunders (``"{0.__class__}"``);
- shell escapes and magics, unless the policy allows them (bodies of ``%time``/``%timeit``/
  ``%%capture`` and ``%%bash`` are validated in turn, ``%load_ext NAME`` as ``import NAME``,
  ``%config`` only for ``InlineBackend``); in allowed magics' lines, the ``{expr}`` and
  ``$name`` that IPython would expand (evaluate) before the magic runs;
- process and network classes by name and pattern, whatever the receiver (``system``,
  ``popen``, ``exec*``/``spawn*``/``fork``, anything ``*subprocess*``, asyncio's private
  ``_make_*transport``, connections and servers, logging's network handlers, ``listen``,
  ``fileConfig``; ``dictConfig`` only with a literal dict naming safe classes);
- string.Formatter machinery (the class, its hooks, overriding them) and, without
  ``dynamic_attributes``, ``str.format`` on strings built at run time;
- ``_private`` attributes of modules and of the engine's injected objects (``tools``), and
  computed access (getattr, ``vars``, ``__dict__``) to either; with ``dynamic_attributes``,
  names visibly assembled in the call and strings spelling blocked dunders.
"""

from __future__ import annotations

import _string  # the str.format field parser, the same code str.format uses
import ast
import bisect
import gc
import importlib
import re
import sys
import threading
import types
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from ._budget import BudgetExceeded, run_with_budget
from ._common import Collector, char_column, names, position_of, split_lines
from ._pyscan import ESCAPE_RE, fast_path_ok, scan_words
from ._pyscan import may_use_ipython_syntax as _may_use_ipython_syntax
from .policy import Policy, PythonPolicy
from .report import Violation

_MAX_NESTING = 4
TRANSFORM_BUDGET_S = 2.0

_ARITHMETIC = names(
    """add sub mul matmul truediv floordiv mod divmod pow lshift rshift and xor or"""
)
SAFE_DUNDER_ATTRIBUTES = names(
    """__init__ __new__ __post_init__ __repr__ __str__ __format__ __hash__ __bool__ __len__
    __length_hint__ __iter__ __next__ __aiter__ __anext__ __reversed__ __contains__ __getitem__
    __setitem__ __delitem__ __missing__ __enter__ __exit__ __aenter__ __aexit__ __await__
    __call__ __eq__ __ne__ __lt__ __le__ __gt__ __ge__ __neg__ __pos__ __abs__ __invert__
    __round__ __trunc__ __floor__ __ceil__ __index__ __int__ __float__ __complex__ __bytes__
    __copy__ __deepcopy__ __sizeof__ __fspath__ __init_subclass__ __class_getitem__ __set_name__
    __name__ __qualname__ __doc__ __module__ __wrapped__ __members__ __version__ __all__
    __slots__ __match_args__ __file__"""
) | frozenset(f"__{p}{op}__" for op in _ARITHMETIC for p in ("", "r", "i"))
SAFE_DUNDER_NAMES = SAFE_DUNDER_ATTRIBUTES | {"__debug__"}
# Module globals whose rebinding changes how imports or builtins resolve.
_DUNDER_STORE_BLOCKED = names(
    """__builtins__ __import__ __loader__ __spec__ __package__ __path__ __name__ __build_class__
    __class__ __dict__ __annotations__"""
)
_DUNDER_DEFINITIONS = frozenset({"__reduce__", "__reduce_ex__"})
# Dunders no rule of any policy objects to, in any position (attribute, name, string, format
# field, definition); those that may not be rebound as names only as attributes.
_FAST_DUNDERS = (SAFE_DUNDER_ATTRIBUTES, SAFE_DUNDER_ATTRIBUTES - _DUNDER_STORE_BLOCKED)
_DYNAMIC_ATTR_FUNCS = frozenset({"getattr", "setattr", "delattr", "hasattr"})
_ATTR_GETTERS = frozenset({"attrgetter", "methodcaller"})

_FRAME_ATTRIBUTES = names(
    """gi_frame gi_code gi_yieldfrom cr_frame cr_code cr_await cr_origin ag_frame ag_code ag_await
    f_back f_builtins f_code f_globals f_locals f_trace f_lasti tb_frame tb_next tb_lasti
    co_code co_consts co_names co_varnames co_freevars co_cellvars co_filename co_lnotab
    co_linetable co_exceptiontable cell_contents func_globals func_code func_closure _getframe
    _current_frames settrace setprofile walk_stack walk_tb"""
)
_MODULE_ATTRIBUTES = names(
    """builtins _builtins bltns subprocess _posixsubprocess importlib _imp
    _bootstrap _bootstrap_external _frozen_importlib _frozen_importlib_external
    ctypes _ctypes posix nt codecs gc marshal pickle _pickle socket _socket _thread
    _create_fn _get_command_stdout _old_targets _stream pty multiprocessing ssl IPython
    ipykernel cffi runpy shelve dill cloudpickle joblib pexpect psutil base_subprocess
    unix_events urllib3 httpx aiohttp get_ipython"""
)
# Attributes naming a module, blocked only while the policy blocks that module.
_MODULE_ATTRIBUTE_TARGETS = {
    "sys": "sys",
    "_sys": "sys",
    "os": "os",
    "_os": "os",
    "inspect": "inspect",
    "types": "types",
    "_types": "types",
}
_EVALUATORS = {
    "get_type_hints": "evaluates string annotations as code",
    "ForwardRef": "holds a string that typing evaluates as code",
    "_eval_type": "evaluates forward references as code",
    "_evaluate": "evaluates a forward reference as code",
    "get_annotations": "can evaluate string annotations as code",
    "singledispatch": "its register() evaluates string annotations as code",
    "singledispatchmethod": "its register() evaluates string annotations as code",
    "get_field": "looks up arbitrary attribute paths from a string",
    "CodeType": "builds code objects from raw bytecode",
    "get_objects": "hands out every object in the interpreter",
    "get_referrers": "hands out objects that refer to a value",
    "get_referents": "hands out objects a value refers to",
    "enable_load_extension": "loads native code into the interpreter",
    "load_extension": "loads native code into the interpreter",
}
_PROCESS_ATTRIBUTES = names(
    """system popen popen2 popen3 popen4 fork forkpty vfork execl execle execlp execlpe execv
    execve execvp execvpe spawnl spawnle spawnlp spawnlpe spawnv spawnve spawnvp spawnvpe
    posix_spawn posix_spawnp startfile Popen check_output check_call getoutput getstatusoutput
    ProcessPoolExecutor create_subprocess_exec create_subprocess_shell subprocess_exec
    subprocess_shell unshare setns"""
)
# The class behind the names: anything about subprocesses, spawning or exec-ing programs.
_PROCESS_RE = re.compile(r"subprocess|^_*spawn|^_*exec[lv]|^_+fork", re.IGNORECASE)
_NETWORK_ATTRIBUTES = names(
    """open_connection open_unix_connection start_server start_unix_server create_connection
    create_unix_connection create_datagram_endpoint create_server sock_connect sock_accept
    connect_accepted_socket connect_read_pipe connect_write_pipe urlopen urlretrieve
    SocketHandler DatagramHandler SysLogHandler HTTPHandler SMTPHandler NTEventLogHandler
    listen fileConfig"""
)
# asyncio's private transport factories (`loop._make_subprocess_transport`, ...).
_NETWORK_RE = re.compile(r"^_\w*transport", re.IGNORECASE)
_NETWORK_REASONS = {
    "listen": "(logging.config.listen) opens a socket that accepts logging configuration, "
    "which names classes to import and call",
    "fileConfig": "(logging.config.fileConfig) builds handlers named by strings in a file the "
    "validator cannot read (network handlers, any importable callable)",
}
# string.Formatter hooks that receive the object a field path reached (not its text).
_FORMATTER_HOOKS = frozenset({"format_field", "convert_field", "get_field", "_vformat"})
# A cheap superset test for the rules keyed on patterns rather than words.
_DOUBT_RE = re.compile(r"ubprocess|pawn|[Ee]xec[lv]|_fork|ransport|Formatter|dictConfig|_companion")
_PRIVATE_OK_RECEIVERS = frozenset({"self", "cls"})
# Packages whose `Formatter` is not string.Formatter.
_OTHER_FORMATTERS = frozenset({"logging", "matplotlib", "pygments"})
# Reached through allowed modules but harmless: traverse them, do not block their names.
_HARMLESS_MODULES = names(
    """keyword struct binascii warnings copyreg platform _string _sre _random _hashlib _locale
    _struct _bisect _heapq _json _datetime _pydatetime _decimal _pydecimal _functools
    _collections _collections_abc _operator _abc _weakref _weakrefset _blake2 _sha1 _sha2
    _sha256 _sha512 _sha3 _md5 _statistics _bz2 _lzma _csv _queue _contextvars _uuid"""
)
_DANGEROUS_CODE_NAMES = names(
    """exec eval compile __import__ system popen Popen check_output getoutput _getframe modules
    open import_module builtins subprocess os _os sys _sys"""
)
_GENERIC_BUILTINS = frozenset({"list", "dict", "tuple", "set", "frozenset", "type"})
_CODE_MAGICS = frozenset({"time", "timeit", "prun"})
_SHELL_MAGICS = frozenset({"bash", "sh"})
# Cell magics whose body runs as Python while the line holds options.
_BODY_MAGICS = frozenset({"capture"})
_EXTENSION_MAGICS = frozenset({"load_ext", "reload_ext", "unload_ext"})
_BUILTIN_EXTENSIONS = frozenset({"autoreload", "storemagic"})  # shipped inside IPython
# IPython evaluates `{expr}` and `$name` in a magic's line before the magic runs, unless the
# magic opts out (timeit, prun, debug): those lines are code the validator would not see.
_NO_EXPAND_MAGICS = frozenset({"timeit", "prun", "debug"})
_EXPANSION_RE = re.compile(r"[{}]|\$[\w{(]")
_INLINE_CONFIG_RE = re.compile(r"\s*InlineBackend(?:\.(\w+)\s*=\s*(.+?))?\s*")
_IPYTHON_METHODS = frozenset({"system", "getoutput", "run_line_magic", "run_cell_magic"})


def module_allowed(name: str, allowed: frozenset[str], blocked: frozenset[str]) -> bool:
    """Longest matching prefix decides; a tie blocks; no match falls back to ``"*"``.

    ``"*"`` covers any name without a ``_private`` component.
    """
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in blocked:
            return False
        if prefix in allowed:
            return True
    return "*" in allowed and all(part and part[0] != "_" for part in parts)


@dataclass(frozen=True)
class _Rules:
    """A `PythonPolicy` compiled into lookup tables."""

    policy: PythonPolicy
    blocked_builtins: frozenset[str]
    attributes: dict[str, tuple[str, str]]  # name -> (rule, reason)
    triggers: frozenset[str]
    star_unsafe: frozenset[str] = field(default_factory=frozenset)
    dunders: frozenset[str] = SAFE_DUNDER_ATTRIBUTES
    module_cache: dict[str, bool] = field(default_factory=dict, compare=False, hash=False)

    def module_allowed(self, name: str) -> bool:
        decision = self.module_cache.get(name)
        if decision is None:
            policy = self.policy
            decision = module_allowed(name, policy.allowed_modules, policy.blocked_modules)
            if len(self.module_cache) < 4096:
                self.module_cache[name] = decision
        return decision

    def attribute_problem(self, name: str, *, field: bool = False) -> tuple[str, str] | None:
        """(rule, reason) when ``name`` may not be used as an attribute.

        ``field``: the name is read by a format field, which only gets the protocol
        dunders and no ``_private`` names.
        """
        if len(name) > 4 and name[:2] == "__" and name[-2:] == "__":
            if name in (SAFE_DUNDER_ATTRIBUTES if field else self.dunders):
                return None
            hint = "; use type(x) instead" if name == "__class__" and not field else ""
            return (
                "python.dunder",
                f"dunder attribute {name!r} can lead out of the sandbox (class hierarchy, "
                f"globals, builtins, code objects){hint}",
            )
        found = self.attributes.get(name)
        if found is None and name:
            found = _pattern_problem(name)
            if found is None and field and name[0] == "_":
                found = ("python.format-string", "format fields may not read private attributes")
        return found


def _pattern_problem(name: str) -> tuple[str, str] | None:
    if _PROCESS_RE.search(name):
        return ("python.process", f"{name!r} starts processes")
    if _NETWORK_RE.search(name):
        return ("python.network", f"{name!r} is a private asyncio transport factory")
    return None


def _code_names(code: types.CodeType, acc: set[str]) -> set[str]:
    acc.update(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_names(const, acc)
    return acc


def _runs_dangerous_code(value: object) -> bool:
    if isinstance(value, types.FunctionType):
        codes = [value.__code__]
    elif isinstance(value, type):
        codes = [f.__code__ for f in vars(value).values() if isinstance(f, types.FunctionType)]
    else:
        return False
    names: set[str] = set()
    for code in codes:
        _code_names(code, names)
    return bool(names & _DANGEROUS_CODE_NAMES)


def _introspect(policy: PythonPolicy) -> tuple[dict[str, str], frozenset[str]]:
    """Attribute names through which allowed stdlib modules leak, and star-unsafe modules."""
    leaks: dict[str, str] = {}
    star_unsafe: set[str] = set()
    stdlib = sys.stdlib_module_names
    todo: list[types.ModuleType] = []
    for name in sorted(policy.allowed_modules):
        if name.split(".")[0] not in stdlib or name == "__future__":
            continue
        if not module_allowed(name, policy.allowed_modules, policy.blocked_modules):
            continue
        try:
            todo.append(importlib.import_module(name))
        except Exception:  # a module missing on this platform simply adds nothing
            continue
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module.__name__ in seen:
            continue
        seen.add(module.__name__)
        if not hasattr(module, "__all__"):
            star_unsafe.add(module.__name__)
        for key, value in list(vars(module).items()):
            if isinstance(value, types.ModuleType):
                target = value.__name__
                allowed = module_allowed(target, policy.allowed_modules, policy.blocked_modules)
                if allowed or target in _HARMLESS_MODULES:
                    if target.split(".")[0] in stdlib or target in _HARMLESS_MODULES:
                        todo.append(value)
                else:
                    leaks[key] = f"hands out the module {target!r}, which is not allowed"
            elif key.startswith("_") and not key.endswith("__") and _runs_dangerous_code(value):
                leaks[key] = f"is an internal helper of {module.__name__!r} that can run code"
    return leaks, frozenset(star_unsafe)


@lru_cache(maxsize=32)
def compile_rules(policy: PythonPolicy) -> _Rules:
    """Lookup tables for a policy (cached: policies are frozen and hashable)."""
    attributes: dict[str, tuple[str, str]] = {}
    for name in _FRAME_ATTRIBUTES:
        attributes[name] = (
            "python.frame",
            f"attribute {name!r} exposes frame, generator, traceback or code internals "
            "(a way to the globals and builtins of other code)",
        )
    leaks, star_unsafe = _introspect(policy)
    for name in _MODULE_ATTRIBUTES:
        leaks.setdefault(name, "can hand out a module or helper that is not allowed")
    for name, target in _MODULE_ATTRIBUTE_TARGETS.items():
        if module_allowed(target, policy.allowed_modules, policy.blocked_modules):
            leaks.pop(name, None)
        else:
            leaks.setdefault(name, f"hands out the module {target!r}, which is not allowed")
    for name, reason in leaks.items():
        attributes.setdefault(name, ("python.module-attribute", f"attribute {name!r} {reason}"))
    for name, reason in _EVALUATORS.items():
        attributes[name] = ("python.evaluator", f"{name!r} {reason}")
    attributes["read_pickle"] = (
        "python.evaluator",
        "'read_pickle' unpickles, and unpickling calls whatever the data names",
    )
    for name in _FORMATTER_HOOKS:
        hook = (
            "python.format-string",
            f"{name!r} is a string.Formatter hook that hands out the object a format field "
            "reached (any attribute path, dunders included); use str.format",
        )
        attributes.setdefault(name, hook)
    for name in _PROCESS_ATTRIBUTES:
        attributes[name] = ("python.process", f"{name!r} starts processes")
    for name in _NETWORK_ATTRIBUTES:
        reason = _NETWORK_REASONS.get(name, "opens network connections or servers")
        attributes[name] = ("python.network", f"{name!r} {reason}")
    attributes["modules"] = (
        "python.module-attribute",
        "sys.modules hands out every imported module (subprocess, builtins, ...) by name; "
        "import what you need instead",
    )
    for name in policy.blocked_attributes:
        attributes[name] = ("python.attribute", f"attribute {name!r} is blocked by the policy")
    triggers = (
        frozenset(attributes)
        | policy.blocked_builtins
        | policy.injected_names
        | _DYNAMIC_ATTR_FUNCS
        | _ATTR_GETTERS
        | {"type", "TypeVar", "get_ipython", "vars", "allow_pickle", "Formatter"}
    )
    if not policy.dynamic_attributes:
        triggers |= {"format", "format_map"}
    return _Rules(
        policy=policy,
        blocked_builtins=policy.blocked_builtins,
        attributes=attributes,
        triggers=triggers,
        star_unsafe=star_unsafe,
        dunders=SAFE_DUNDER_ATTRIBUTES | policy.allowed_dunders,
    )


def _doubtful(text: str) -> bool:
    """Could a pattern-keyed rule (processes, transports, private attributes) fire?"""
    if _DOUBT_RE.search(text) is not None:
        return True
    # `x._name` on a module or injected name; `)._replace()` on a call result only matters
    # inside a format field, `x.__dunder__` has rules of its own.
    index = text.find("._")
    while index >= 0:
        start = index
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
            start -= 1
        receiver = text[start:index]
        if (
            text[index + 2 : index + 3] != "_"
            and receiver not in _PRIVATE_OK_RECEIVERS
            and (receiver or "{" in text)
        ):
            return True
        index = text.find("._", index + 2)
    return False


def _needs_full_walk(source: str, words: set[str], rules: _Rules) -> bool:
    if (
        not source.isascii()
        or ESCAPE_RE.search(source)
        or "\\\n" in source
        or not words.isdisjoint(rules.triggers)
        or _doubtful(source)
    ):
        return True
    # Not `"__" in source`: implicit concatenation can join `"_" "_class__"`; words hold
    # the joined strings, so patterns are searched there too.
    if any(w[:2] == "__" and w not in SAFE_DUNDER_NAMES for w in words):
        return True
    # A private name a format field could read once adjacent literals are joined.
    return ("{" in source and any(w[0] == "_" for w in words)) or _doubtful(" ".join(words))


def _text_could_matter(text: str, rules: _Rules) -> bool:
    """Could this string, read as code or as a format field, break a rule?"""
    if not text.isascii():
        return True
    return _needs_full_walk(text, scan_words(text), rules)


_transformer_lock = threading.Lock()
_transformer = None


def _ipython_transform(source: str) -> str:
    global _transformer
    with _transformer_lock:
        if _transformer is None:
            from IPython.core.inputtransformer2 import TransformerManager

            _transformer = TransformerManager()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _transformer.transform_cell(source)


def _parse(source: str, mode: str = "exec") -> ast.AST:
    # SyntaxWarnings (invalid escapes, `is` with a literal) are the kernel's business; under
    # `-W error` they would otherwise turn valid code into a SyntaxError here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source, "<cell>", mode)


def _import_lines(source: str) -> list[int]:
    """Lines on which the text ``import`` appears (a superset of import statements)."""
    lines: list[int] = []
    line, counted = 1, 0
    index = source.find("import")
    while index >= 0:
        line += source.count("\n", counted, index)
        counted = index
        if not lines or lines[-1] != line:
            lines.append(line)
        index = source.find("import", index + 6)
    return lines


def _leading_blank_lines(source: str) -> int:
    count = 0
    for line in source.splitlines():
        if line and not line.isspace():
            break
        count += 1
    return count


def _literal_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _normalised(name: str) -> str:
    return name if name.isascii() else unicodedata.normalize("NFKC", name)


ShellCheck = Callable[[str, Policy, int], list[Violation]]


class _Checker:
    """One pass over one tree; violations go to ``out``."""

    def __init__(
        self,
        rules: _Rules,
        policy: Policy,
        source: str,
        out: Collector,
        line_shift: int = 0,
        depth: int = 0,
        origin: tuple[int, int, str, str] | None = None,
    ) -> None:
        self.rules = rules
        self.policy = policy
        self.source = source
        self.out = out
        self.line_shift = line_shift
        self.depth = depth
        # For code found inside a string: report at the string, with this prefix.
        self.origin = origin
        self.handled: set[int] = set()
        self._lines: list[str] | None = None
        self._tree: ast.AST | None = None
        self._roots: dict[str, str] | None = None

    # -- reporting ----------------------------------------------------------------------

    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = split_lines(self.source)
        return self._lines

    def locate(self, node: ast.AST) -> tuple[int, int, str]:
        """1-based line and column of ``node``, and its source text."""
        lineno = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        lines = self.lines()
        text = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
        raw = text.encode("utf-8", "surrogatepass")
        end_col = getattr(node, "end_col_offset", None)
        if getattr(node, "end_lineno", lineno) == lineno and end_col is not None:
            snippet = raw[col:end_col].decode("utf-8", "replace")
        else:
            snippet = raw[col:].decode("utf-8", "replace")
        return lineno + self.line_shift, char_column(text, col) + 1, snippet or text

    def report(self, rule: str, message: str, node: ast.AST) -> None:
        if self.origin is not None:
            line, column, snippet, prefix = self.origin
            self.out.add(rule, f"{prefix}: {message}", line, column, snippet)
        else:
            line, column, snippet = self.locate(node)
            self.out.add(rule, message, line, column, snippet)

    def origin_of(self, node: ast.AST, prefix: str) -> tuple[int, int, str, str]:
        """Where code nested in ``node`` (a string) is reported, and the message prefix."""
        if self.origin is not None:
            line, column, snippet, outer = self.origin
            return line, column, snippet, f"{outer}: {prefix}"
        return (*self.locate(node), prefix)

    # -- walks --------------------------------------------------------------------------

    def walk(self, tree: ast.AST) -> None:
        self._tree = tree
        handlers = _HANDLERS
        out = self.out
        for node in ast.walk(tree):
            handler = handlers.get(type(node))
            if handler is not None:
                handler(self, node)
                if out.full:
                    return

    def walk_imports(self, tree: ast.Module, lines: list[int]) -> None:
        """Check only import statements, found through the lines where the word appears."""
        self._imports_in(tree.body, lines)

    def _imports_in(self, body: list[ast.stmt], lines: list[int]) -> None:
        starts = [stmt.lineno for stmt in body]
        seen: set[int] = set()
        for line in lines:
            index = bisect.bisect_right(starts, line) - 1
            # Statements holding `line` are contiguous (several can share one line).
            while index >= 0 and (body[index].end_lineno or starts[index]) >= line:
                stmt = body[index]
                index -= 1
                if id(stmt) in seen:
                    continue
                seen.add(id(stmt))
                kind = type(stmt)
                if kind is ast.Import:
                    self.import_(stmt)  # type: ignore[arg-type]
                elif kind is ast.ImportFrom:
                    self.import_from(stmt)  # type: ignore[arg-type]
                else:
                    self._imports_below(stmt, lines)

    def _imports_below(self, stmt: ast.AST, lines: list[int]) -> None:
        for name in ("body", "orelse", "finalbody"):
            block = getattr(stmt, name, None)
            if block:
                self._imports_in(block, lines)
        for handler in getattr(stmt, "handlers", ()):
            self._imports_in(handler.body, lines)
        for case in getattr(stmt, "cases", ()):  # match_case has no position of its own
            self._imports_in(case.body, lines)

    # -- modules and injected objects ---------------------------------------------------

    def roots(self) -> dict[str, str]:
        """Names bound to modules or imported objects in this cell -> the dotted origin."""
        if self._roots is None:
            roots: dict[str, str] = {}
            for node in ast.walk(self._tree) if self._tree is not None else ():
                if type(node) is ast.Import:
                    for alias in node.names:  # type: ignore[attr-defined]
                        if alias.asname:
                            roots[alias.asname] = alias.name
                        else:
                            top = alias.name.split(".")[0]
                            roots[top] = top
                elif type(node) is ast.ImportFrom and not node.level:  # type: ignore[attr-defined]
                    module = node.module or ""  # type: ignore[attr-defined]
                    for alias in node.names:  # type: ignore[attr-defined]
                        roots[alias.asname or alias.name] = f"{module}.{alias.name}"
            self._roots = roots
        return self._roots

    def root_of(self, node: ast.AST) -> tuple[str, str] | None:
        """("module" | "injected", dotted path) when ``node`` is ``name.attr...`` on a module
        (imported in this cell, or a standard-library name) or on an injected object."""
        parts: list[str] = []
        while type(node) is ast.Attribute:
            parts.append(node.attr)  # type: ignore[attr-defined]
            node = node.value  # type: ignore[attr-defined]
        if type(node) is not ast.Name:
            return None
        name = node.id  # type: ignore[attr-defined]
        if name in self.rules.policy.injected_names:
            return "injected", ".".join([name, *reversed(parts)])
        if name in _PRIVATE_OK_RECEIVERS:
            return None
        origin = self.roots().get(name)
        if origin is None and name in sys.stdlib_module_names:
            origin = name
        if origin is None:
            return None
        return "module", ".".join([origin, *reversed(parts)])

    def _private(self, node: ast.AST, receiver: ast.AST, attr: str) -> bool:
        """Report ``receiver._attr`` on an injected object or a module; True if reported."""
        if attr[:1] != "_" or (attr[:2] == "__" and attr[-2:] == "__"):
            return False
        root = self.root_of(receiver)
        if root is None:
            return False
        kind, path = root
        if kind == "injected":
            self.report("python.internal", _injected_message(f"{path}.{attr}"), node)
        else:
            self.report(
                "python.private",
                f"{path}.{attr} is a private internal of the module {path.split('.')[0]!r} "
                "(private helpers can run commands or hand out blocked modules); use its "
                "public API",
                node,
            )
        return True

    def _namespace_of(self, node: ast.AST, receiver: ast.AST, how: str) -> bool:
        """Report computed access (``how``) to a module's or injected object's namespace."""
        root = self.root_of(receiver)
        if root is None:
            return False
        kind, path = root
        if kind == "injected":
            self.report("python.internal", _injected_message(f"{how} on {path}"), node)
        else:
            self.report(
                "python.dynamic-attribute",
                f"{how} on the module {path!r} reaches any of its names, including "
                "process and interpreter functions; name the attribute you need",
                node,
            )
        return True

    # -- imports ------------------------------------------------------------------------

    def import_(self, node: ast.Import) -> None:
        for alias in node.names:
            name = alias.name
            if not self.rules.module_allowed(name):
                self.report("python.import", self._module_message(name), node)
            elif "." in name and alias.asname is None:
                top = name.split(".")[0]
                if not self.rules.module_allowed(top):
                    self.report(
                        "python.import",
                        f"'import {name}' also binds {top!r}, which is not allowed; "
                        f"write 'import {name} as ...' or 'from {name} import ...'",
                        node,
                    )

    def import_from(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.report(
                "python.import",
                "relative imports are not allowed (they resolve against __package__, "
                "which code can point at any package)",
                node,
            )
            return
        module = node.module or ""
        if module == "__future__":
            return
        module_ok = self.rules.module_allowed(module)
        for alias in node.names:
            name = alias.name
            if name == "*":
                if not module_ok:
                    self.report("python.import", self._module_message(module), node)
                elif module in self.rules.star_unsafe:
                    self.report(
                        "python.import",
                        f"'from {module} import *' would also import the modules it uses "
                        f"({module!r} has no __all__); import names explicitly",
                        node,
                    )
                continue
            submodule_ok = self.rules.module_allowed(f"{module}.{name}")
            if not submodule_ok:  # blocked outright, or by a more specific entry
                shown = f"{module}.{name}" if module_ok else module
                self.report("python.import", self._module_message(shown), node)
                return
            problem = self.rules.attribute_problem(_normalised(name))
            if problem is None and module == "string" and name == "Formatter":
                problem = (
                    "python.format-string",
                    "string.Formatter's hooks capture the objects that format fields reach "
                    "(any attribute path, dunders included); use str.format",
                )
            if problem is None and name[:1] == "_" and name[:2] != "__":
                problem = ("python.private", f"{module}.{name} is private to {module!r}")
            if problem is not None:
                self.report(problem[0], f"importing {name!r}: {problem[1]}", node)
            elif alias.asname and name in _ATTR_GETTERS:
                self.report(
                    "python.dynamic-attribute",
                    f"{name!r} may not be renamed on import (its arguments are checked by name)",
                    node,
                )

    def _module_message(self, name: str) -> str:
        shown = name or "(empty)"
        if not name:
            return "import without a module name"
        policy = self.policy.name
        if module_allowed(name, frozenset({name}), self.rules.policy.blocked_modules):
            why = "is not on the policy's module allow-list"
            hint = f"; to allow it, derive a policy: get_policy({policy!r}).allow_modules({name!r})"
            if policy == "strict":
                hint += ", or use the 'standard' policy (any module but the escape classes)"
        else:
            why = "is blocked: it can run code, reach the interpreter or the system"
            hint = (
                f"; if you trust the code, derive a policy: get_policy({policy!r})"
                f".allow_modules({name!r}), or turn validation off (policy 'off')"
            )
        return f"module {shown!r} {why} (policy {policy!r}){hint}"

    # -- names and attributes -----------------------------------------------------------

    def name(self, node: ast.Name) -> None:
        if id(node) in self.handled:
            return
        name = node.id
        if type(node.ctx) is not ast.Load:
            if name in _DUNDER_STORE_BLOCKED:
                self.report(
                    "python.dunder",
                    f"rebinding {name!r} changes how imports or builtins resolve",
                    node,
                )
            return
        dynamic = self.rules.policy.dynamic_attributes
        if name in self.rules.blocked_builtins:
            self.report("python.builtin", _builtin_message(name, self.policy.name), node)
        elif name in self.rules.policy.injected_names:
            if name[:1].islower():  # classes (ToolError) are caught and raised as values
                self.report(
                    "python.internal",
                    _injected_message(
                        f"{name} used as a value ({name} may only be used as {name}.NAME)"
                    ),
                    node,
                )
        elif name[:10] == "_companion" or name[:11] == "__companion":
            self.report("python.internal", f"{name!r} is internal to the engine", node)
        elif name == "vars":
            self.report(
                "python.dynamic-attribute",
                "'vars' may only be called directly with one argument (vars() alone hands out "
                "the namespace, builtins included)",
                node,
            )
        elif dynamic and (name in _DYNAMIC_ATTR_FUNCS or name in _ATTR_GETTERS):
            return
        elif name in _DYNAMIC_ATTR_FUNCS or name in _ATTR_GETTERS:
            self.report(
                "python.dynamic-attribute",
                f"{name!r} may only be called directly with a literal, harmless attribute "
                "name (passing it around hides which attribute it reaches)",
                node,
            )
        elif name in _EVALUATORS:
            self.report("python.evaluator", f"{name!r} {_EVALUATORS[name]}", node)
        elif (
            len(name) > 4
            and name[:2] == "__"
            and name[-2:] == "__"
            and name not in SAFE_DUNDER_NAMES
        ):
            self.report(
                "python.dunder",
                f"name {name!r} reaches interpreter internals (builtins, loader, globals)",
                node,
            )

    def attribute(self, node: ast.Attribute) -> None:
        value = node.value
        if type(value) is ast.Name and value.id in self.rules.policy.injected_names:
            self.handled.add(id(value))  # `tools.NAME` is the documented use
        if id(node) in self.handled:
            return
        attr = node.attr
        if attr == "__dict__" and self._namespace_of(node, value, "__dict__"):
            return
        problem = self.rules.attribute_problem(attr)
        if problem is not None:
            self.report(problem[0], problem[1], node)
        elif attr[:1] == "_":
            self._private(node, value, attr)
        elif attr == "Formatter":
            root = self.root_of(value)
            if root is None or root[1].split(".")[0] not in _OTHER_FORMATTERS:
                self.report(
                    "python.format-string",
                    "string.Formatter can capture the objects that format fields reach (any "
                    "attribute path, dunders included); use str.format (logging.Formatter "
                    "is fine)",
                    node,
                )

    def _literal_attribute(
        self, node: ast.AST, value: ast.AST | None, func: str, receiver: ast.AST | None = None
    ) -> None:
        """A literal attribute name given to getattr & co; computed names are rejected
        unless the policy allows them (and then not on modules or injected objects)."""
        text = _literal_str(value)
        if text is None:
            if self.rules.policy.dynamic_attributes and value is not None:
                if receiver is not None and self._namespace_of(
                    node, receiver, f"{func}() with a computed name"
                ):
                    return
                why = _assembled_name_problem(value)
                if why is not None:
                    self.report("python.dynamic-attribute", f"{func}(): {why}", node)
                    return
                for part in _assembled_parts(value):
                    problem = self.rules.attribute_problem(_normalised(part))
                    if problem is not None:
                        self.report(
                            problem[0],
                            f"{func}() with a name built from {part!r}: {problem[1]}",
                            node,
                        )
                        return
                return
            self.report(
                "python.dynamic-attribute",
                f"{func}() needs a literal attribute name here; a computed name can spell "
                "any blocked attribute",
                node,
            )
            return
        if receiver is not None and text[:1] == "_" and self._private(node, receiver, text):
            return
        names = text.split(".") if func in ("attrgetter", "methodcaller") else [text]
        for part in names:
            problem = self.rules.attribute_problem(_normalised(part))
            if problem is not None:
                self.report(problem[0], f"{func}({text!r}): {problem[1]}", node)
                return

    # -- calls --------------------------------------------------------------------------

    def call(self, node: ast.Call) -> None:
        func = node.func
        kind = type(func)
        for keyword in node.keywords:
            if keyword.arg == "allow_pickle" and not (
                type(keyword.value) is ast.Constant and not keyword.value.value
            ):
                self.report(
                    "python.evaluator",
                    "allow_pickle unpickles, and unpickling calls whatever the data names",
                    keyword.value,
                )
        if kind is ast.Name:
            name = func.id
            if name in _DYNAMIC_ATTR_FUNCS and name not in self.rules.blocked_builtins:
                self.handled.add(id(func))
                args = node.args
                self._literal_attribute(
                    node, args[1] if len(args) > 1 else None, name, args[0] if args else None
                )
            elif name == "vars" and name not in self.rules.blocked_builtins:
                self.handled.add(id(func))
                if len(node.args) != 1 or node.keywords:
                    self.report(
                        "python.builtin",
                        "vars() without an argument hands out the namespace (builtins "
                        "included); pass the object you want to inspect",
                        node,
                    )
                else:
                    self._namespace_of(node, node.args[0], "vars()")
            elif name == "dictConfig":
                self._dict_config(node)
            elif name in _ATTR_GETTERS:
                self.handled.add(id(func))
                self._attr_getter(node, name)
            elif name == "type" and (len(node.args) != 1 or node.keywords):
                self.report(
                    "python.type-call",
                    "type() with three arguments builds classes from a dictionary of "
                    "(possibly dunder) names; use a class statement",
                    node,
                )
            elif name == "TypeVar":
                self._forward_ref_args(node)
        elif kind is ast.Attribute:
            attr = func.attr
            if attr == "modules":
                self.handled.add(id(func))  # a method (`model.modules()`), not sys.modules
            elif attr == "dictConfig":
                self._dict_config(node)
            elif attr in ("format", "format_map", "vformat"):
                self._format_call(node, func)
            if attr in _ATTR_GETTERS:
                self._attr_getter(node, attr)
            elif attr in ("__setattr__", "__delattr__"):
                self.handled.add(id(func))
                args = node.args
                self._literal_attribute(
                    node, args[1] if len(args) > 1 else None, attr, args[0] if args else None
                )
            elif attr == "TypeVar":
                self._forward_ref_args(node)
            elif attr in _IPYTHON_METHODS and _is_get_ipython_call(func.value):
                self.handled.add(id(func))
                self.handled.add(id(func.value.func))  # type: ignore[attr-defined]
                self._ipython(node, attr)

    def _format_call(self, node: ast.Call, func: ast.Attribute) -> None:
        """``fmt.format(...)``: without dynamic attributes the format string must be literal
        (a string built at run time can hold ``{0.__class__...}``)."""
        if self.rules.policy.dynamic_attributes:
            return
        receiver = func.value
        if type(receiver) is ast.Constant and type(receiver.value) is str:
            return  # checked as a constant
        if (
            type(receiver) is ast.Name
            and receiver.id == "str"
            and func.attr != "vformat"
            and node.args
            and _literal_str(node.args[0]) is not None
        ):
            return
        self.report(
            "python.format-string",
            f"{func.attr}() on a format string built at run time: its fields can read any "
            f"attribute path (dunders included); policy {self.policy.name!r} needs a literal "
            "format string",
            node,
        )

    def _dict_config(self, node: ast.Call) -> None:
        """logging's dictConfig imports and calls whatever its strings name."""
        config = node.args[0] if node.args else None
        if config is None or node.keywords or not _is_literal_tree(config):
            self.report(
                "python.logging-config",
                "dictConfig() needs a literal dictionary here: it imports and calls the "
                "classes and factories its strings name (network handlers, any callable)",
                node,
            )
            return
        for sub in ast.walk(config):
            if type(sub) is not ast.Dict:
                continue
            for key, value in zip(sub.keys, sub.values, strict=True):  # type: ignore[attr-defined]
                name, text = _literal_str(key), _literal_str(value)
                resolved = name == "()" or name in _LOGGING_RESOLVED_KEYS
                if text is not None and text.startswith("ext://"):
                    resolved = True
                if not resolved or text in _LOGGING_SAFE_TARGETS:
                    continue
                self.report(
                    "python.logging-config",
                    f"dictConfig() imports and calls what {name!r} names ({text!r}); only "
                    f"these may be named: {', '.join(sorted(_LOGGING_SAFE_TARGETS))}",
                    value,
                )

    def _attr_getter(self, node: ast.Call, name: str) -> None:
        if not node.args:
            self._literal_attribute(node, None, name)
        for arg in node.args if name == "attrgetter" else node.args[:1]:
            self._literal_attribute(node, arg, name)

    # -- strings that become code -------------------------------------------------------

    def constant(self, node: ast.Constant) -> None:
        value = node.value
        if type(value) is not str:
            return
        if "{" in value and _text_could_matter(value, self.rules):
            self._format_fields(node, value, 0)
        if "__" in value and self.rules.policy.dynamic_attributes and not _HAS_SPACE(value):
            # With computed attribute names allowed, a string spelling (part of) a blocked
            # dunder is the visible half of `getattr(x, name)` reaching it (prose is not).
            for word in _UNDERSCORE_WORD_RE.findall(value):
                if (word[:2] == "__" or word[-2:] == "__") and word not in self.rules.dunders:
                    self.report(
                        "python.dunder",
                        f"string {word!r} spells (part of) a dunder name that is not allowed "
                        "(class hierarchy, globals, builtins, code objects)",
                        node,
                    )
                    return

    def _format_fields(self, node: ast.AST, text: str, level: int) -> None:
        try:
            parsed = list(_string.formatter_parser(text))
        except ValueError:
            return  # not a valid format string: str.format would raise
        for _literal, field_name, spec, _conversion in parsed:
            if field_name:
                try:
                    _first, rest = _string.formatter_field_name_split(field_name)
                    parts = list(rest)
                except ValueError:
                    parts = []
                for _is_attr, key in parts:
                    if not isinstance(key, str):
                        continue
                    problem = self.rules.attribute_problem(_normalised(key), field=True)
                    if problem is not None:
                        self.report(
                            "python.format-string",
                            f"format field {{{field_name}}} reads {key!r}: {problem[1]}",
                            node,
                        )
                        return
            if spec and "{" in spec and level < 2:
                self._format_fields(node, spec, level + 1)

    def _forward_ref(self, node: ast.AST) -> None:
        """A string that typing may evaluate as an expression: check it as code."""
        text = _literal_str(node)
        if text is None or not _text_could_matter(text, self.rules):
            return
        if self.depth >= _MAX_NESTING:
            self.report("python.syntax", "strings nested too deeply to check", node)
            return
        try:
            tree = _parse(text.strip(), "eval")
        except Exception:
            return  # typing cannot evaluate it either
        origin = self.origin_of(node, "string evaluated as a type (forward reference)")
        inner = _Checker(
            self.rules, self.policy, text, self.out, depth=self.depth + 1, origin=origin
        )
        inner.walk(tree)

    def _forward_refs_in(self, annotation: ast.AST | None) -> None:
        if annotation is None:
            return
        for sub in ast.walk(annotation):
            if type(sub) is ast.Constant:
                self._forward_ref(sub)

    def _forward_ref_args(self, node: ast.Call) -> None:
        for arg in node.args[1:]:
            self._forward_ref(arg)
        for keyword in node.keywords:
            self._forward_ref(keyword.value)

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in _FORMATTER_HOOKS:
            self.report(
                "python.format-string",
                f"defining {node.name!r} overrides a string.Formatter hook that receives the "
                "object a format field reached (any attribute path, dunders included)",
                node,
            )
        if node.name in _DUNDER_DEFINITIONS:
            self.report(
                "python.dunder-definition",
                f"defining {node.name!r} makes objects that run a chosen callable when "
                "copied or unpickled (a pickle gadget)",
                node,
            )
        self._forward_refs_in(node.returns)

    def class_def(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            root = self.root_of(base)
            path = root[1] if root is not None else ""
            if path == "string.Formatter":
                self.report(
                    "python.format-string",
                    "subclasses of string.Formatter can capture the objects that format "
                    "fields reach (any attribute path, dunders included); use str.format",
                    base,
                )

    def arg(self, node: ast.arg) -> None:
        self._forward_refs_in(node.annotation)

    def ann_assign(self, node: ast.AnnAssign) -> None:
        self._forward_refs_in(node.annotation)

    def subscript(self, node: ast.Subscript) -> None:
        # List["..."] and friends turn strings into forward references; d["key"] does not.
        value = node.value
        name = value.id if type(value) is ast.Name else getattr(value, "attr", "")
        if not (name[:1].isupper() or name in _GENERIC_BUILTINS):
            return
        slice_ = node.slice
        kind = type(slice_)
        if kind is ast.Constant:
            self._forward_ref(slice_)
        elif kind is ast.Tuple or kind is ast.List:
            for element in slice_.elts:  # type: ignore[attr-defined]
                self._forward_refs_in(element)

    def match_class(self, node: ast.MatchClass) -> None:
        for name in node.kwd_attrs:
            problem = self.rules.attribute_problem(name)
            if problem is not None:
                self.report(problem[0], f"class pattern reads {name!r}: {problem[1]}", node)

    def assign(self, node: ast.Assign) -> None:
        # Class patterns read the attributes named in __match_args__.
        if not any(type(t) is ast.Name and t.id == "__match_args__" for t in node.targets):
            return
        values = node.value.elts if isinstance(node.value, ast.Tuple | ast.List) else []
        for element in values:
            text = _literal_str(element)
            problem = self.rules.attribute_problem(text) if text else None
            if problem is not None:
                self.report(problem[0], f"__match_args__ names {text!r}: {problem[1]}", element)

    # -- IPython ------------------------------------------------------------------------

    def _ipython(self, node: ast.Call, method: str) -> None:
        args = [_literal_str(a) for a in node.args]
        if node.keywords or any(a is None for a in args) or not args:
            self.report(
                "python.magic", "get_ipython() calls must come from plain IPython syntax", node
            )
            return
        policy = self.rules.policy
        if method in ("system", "getoutput"):
            command = args[0] or ""
            if not policy.shell_escapes:
                self.report(
                    "python.shell-escape",
                    f"shell escape '!{command}' runs a shell command; the policy "
                    f"{self.policy.name!r} does not allow shell escapes",
                    node,
                )
            else:
                self._nested_shell(node, command, f"in shell escape '!{command}'")
            return
        name = args[0] or ""
        name = name.lstrip("%")
        is_cell = method == "run_cell_magic"
        shown = f"%%{name}" if is_cell else f"%{name}"
        if name not in policy.allowed_magics:
            self.report(
                "python.magic",
                f"magic {shown} is not allowed by policy {self.policy.name!r} (to allow it, "
                "derive a policy whose python.allowed_magics includes it)",
                node,
            )
            return
        line = args[1] if len(args) > 1 else ""
        body = args[2] if len(args) > 2 else ""
        if name not in _NO_EXPAND_MAGICS and _EXPANSION_RE.search(line):
            self.report(
                "python.magic",
                f"{shown} arguments with {{...}} or $name: IPython evaluates those before the "
                "magic runs; use plain text (or assign to a variable in plain Python)",
                node,
            )
            return
        if name in _EXTENSION_MAGICS:
            self._extension(node, line, shown)
        elif name == "config":
            self._inline_config(node, line)
        elif name in _BODY_MAGICS and is_cell:
            if body.strip():
                self._nested_python(node, body, f"in {shown} cell")
        elif name in _CODE_MAGICS:
            if line and line.lstrip().startswith("-"):
                self.report(
                    "python.magic", f"options of {shown} are not supported by the validator", node
                )
                return
            for code in (line, body) if is_cell else (line,):
                if code and code.strip():
                    self._nested_python(node, code, f"in {shown}")
        elif name in _SHELL_MAGICS and is_cell:
            self._nested_shell(node, body, f"in {shown} cell")

    def _extension(self, node: ast.AST, line: str, shown: str) -> None:
        words = line.split()
        if len(words) != 1 or not all(part.isidentifier() for part in words[0].split(".")):
            self.report("python.magic", f"{shown} takes one module name", node)
        elif words[0] not in _BUILTIN_EXTENSIONS:
            # Loading an extension imports its module: the import rules decide.
            self._nested_python(node, f"import {words[0]}", f"in {shown}")

    def _inline_config(self, node: ast.AST, line: str) -> None:
        match = _INLINE_CONFIG_RE.fullmatch(line)
        value = match.group(2) if match else None
        if match is None or (value is not None and not _is_literal_text(value)):
            self.report(
                "python.magic",
                "%config may only show or set InlineBackend options to literal values "
                "(%config InlineBackend.figure_format = 'retina')",
                node,
            )

    def _nested_python(self, node: ast.AST, code: str, prefix: str) -> None:
        if self.depth >= _MAX_NESTING:
            self.report("python.magic", "magics nested too deeply to check", node)
            return
        line, column, snippet, outer = self.origin_of(node, prefix)
        for v in check(code, self.policy, self.depth + 1):
            self.out.extend([_relocate(v, line, column, snippet, outer)])

    def _nested_shell(self, node: ast.AST, code: str, prefix: str) -> None:
        from ._shell import check as check_shell

        line, column, snippet, outer = self.origin_of(node, prefix)
        for v in check_shell(code, self.policy):
            self.out.extend([_relocate(v, line, column, snippet, outer)])


_UNDERSCORE_WORD_RE = re.compile(r"\w*__\w*")
_HAS_SPACE = re.compile(r"\s").search
# Keys whose string values dictConfig resolves as importable names (besides `ext://`).
_LOGGING_RESOLVED_KEYS = frozenset({"class", "()", "queue", "listener"})
_LOGGING_SAFE_TARGETS = names(
    """logging.StreamHandler logging.FileHandler logging.NullHandler logging.Formatter
    logging.Filter logging.handlers.RotatingFileHandler logging.handlers.TimedRotatingFileHandler
    logging.handlers.WatchedFileHandler logging.handlers.MemoryHandler
    logging.handlers.QueueHandler logging.handlers.BufferingHandler ext://sys.stdout
    ext://sys.stderr"""
)


def _is_literal_text(text: str) -> bool:
    """True when `text` is a Python literal (what ``%config`` may assign)."""
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _is_literal_tree(node: ast.AST) -> bool:
    """Only dicts, lists, tuples and constants: what dictConfig reads is all visible."""
    kind = type(node)
    if kind is ast.Constant:
        return True
    if kind is ast.Dict:
        return all(
            k is not None and _is_literal_tree(k) and _is_literal_tree(v)
            for k, v in zip(node.keys, node.values, strict=True)  # type: ignore[attr-defined]
        )
    if kind is ast.List or kind is ast.Tuple:
        return all(_is_literal_tree(e) for e in node.elts)  # type: ignore[attr-defined]
    return False


def _assembled_name_problem(value: ast.AST) -> str | None:
    """Why an attribute name assembled in place is refused (None: a plain value)."""
    kind = type(value)
    if kind is ast.Name or kind is ast.Attribute or kind is ast.Subscript:
        return None
    for sub in ast.walk(value):
        if type(sub) is ast.Call:
            return (
                "an attribute name built by a call here (chr, join, decode, ...) can spell "
                "any blocked attribute"
            )
        text = _literal_str(sub)
        if text is not None and ("__" in text or (text and not text.strip("_"))):
            return f"an attribute name assembled from {text!r} can spell a dunder"
    return None


def _assembled_parts(value: ast.AST) -> list[str]:
    """The literal pieces of a name assembled in place, and their fold when all are literal."""
    parts = [text for sub in ast.walk(value) if (text := _literal_str(sub)) is not None]
    folded = _fold(value)
    if folded is not None and len(folded) > 1:
        parts.append("".join(folded))
    return parts


def _fold(node: ast.AST) -> list[str] | None:
    if type(node) is ast.BinOp and type(node.op) is ast.Add:  # type: ignore[attr-defined]
        left, right = _fold(node.left), _fold(node.right)  # type: ignore[attr-defined]
        return None if left is None or right is None else left + right
    text = _literal_str(node)
    return None if text is None else [text]


def _injected_message(what: str) -> str:
    return (
        f"{what}: the engine's tool bridge is internal; call tools.NAME(...), "
        "tools.call(name, ...) or tools.list()"
    )


def _relocate(v: Violation, line: int, column: int, snippet: str, prefix: str) -> Violation:
    return v.model_copy(
        update={
            "line": line,
            "column": column,
            "snippet": snippet,
            "message": f"{prefix}: {v.message}",
        }
    )


def _is_get_ipython_call(node: ast.AST) -> bool:
    return (
        type(node) is ast.Call
        and type(node.func) is ast.Name  # type: ignore[attr-defined]
        and node.func.id == "get_ipython"  # type: ignore[attr-defined]
        and not node.args  # type: ignore[attr-defined]
    )


def _builtin_message(name: str, policy: str) -> str:
    reasons = {
        "eval": "runs a string as code",
        "exec": "runs a string as code",
        "compile": "turns a string into code",
        "__import__": "imports any module",
        "breakpoint": "starts a debugger with full access",
        "open": "opens files",
        "globals": "hands out the module namespace",
        "locals": "hands out the local namespace",
        "vars": "hands out an object's namespace",
        "input": "waits for keyboard input",
        "get_ipython": "hands out the IPython shell (magics, shell, namespaces)",
        "help": "starts the interactive help system",
        "exit": "shuts the kernel down",
        "quit": "shuts the kernel down",
    }
    why = reasons.get(name, "is blocked")
    return (
        f"built-in {name!r} {why}; not allowed by policy {policy!r} (to allow it, derive a "
        f"policy: get_policy({policy!r}).allow_builtins({name!r}))"
    )


_HANDLERS: dict[type, Callable[[_Checker, ast.AST], None]] = {
    ast.Name: _Checker.name,
    ast.Attribute: _Checker.attribute,
    ast.Call: _Checker.call,
    ast.Import: _Checker.import_,
    ast.ImportFrom: _Checker.import_from,
    ast.Constant: _Checker.constant,
    ast.FunctionDef: _Checker.function,
    ast.AsyncFunctionDef: _Checker.function,
    ast.arg: _Checker.arg,
    ast.AnnAssign: _Checker.ann_assign,
    ast.Subscript: _Checker.subscript,
    ast.MatchClass: _Checker.match_class,
    ast.Assign: _Checker.assign,
    ast.ClassDef: _Checker.class_def,
}  # type: ignore[dict-item]


def fast_path_applies(code: str, policy: Policy) -> bool:
    """True when ``code`` is accepted by the lexical fast path, without `ast.parse`."""
    rules = compile_rules(policy.python)
    return fast_path_ok(code, rules.triggers, rules.module_allowed, _doubtful, _FAST_DUNDERS)


def check(
    code: str, policy: Policy, depth: int = 0, *, full: bool = False, fast: bool = True
) -> list[Violation]:
    """All violations of ``policy`` in Python ``code`` (never raises on bad input).

    ``full`` forces the parse and the full walk even when the lexical scans say they are
    not needed; ``fast=False`` only turns off the fast path that skips the parse (tests use
    both to show the shortcuts never let through what the full check rejects).
    """
    if fast and not full and depth == 0:
        rules = compile_rules(policy.python)
        if fast_path_ok(code, rules.triggers, rules.module_allowed, _doubtful, _FAST_DUNDERS):
            return []
    # The tree is thousands of acyclic objects, freed by reference counting when _check
    # returns; with the collector paused they never trigger (and pay for) a collection.
    enabled = gc.isenabled()
    if enabled:
        gc.disable()
    try:
        return _check(code, policy, depth, full)
    finally:
        if enabled:
            gc.enable()


def _check(code: str, policy: Policy, depth: int, full: bool) -> list[Violation]:
    out = Collector(policy)
    rules = compile_rules(policy.python)
    source, shift = code, 0
    if _may_use_ipython_syntax(code):
        try:
            source = run_with_budget(lambda: _ipython_transform(code), TRANSFORM_BUDGET_S)
        except Exception as exc:
            why = "it took too long" if isinstance(exc, BudgetExceeded) else f"{exc!r}"
            out.add(
                "python.syntax",
                f"IPython could not transform this cell ({why})",
                1,
                1,
                code,
            )
            return out.violations
        shift = _leading_blank_lines(code)
    try:
        tree = _parse(source)
    except (SyntaxError, ValueError) as exc:  # ValueError: NUL bytes, lone surrogates
        index = source.find("\0")
        if index >= 0:
            line, column = position_of(source, index)
            out.add(
                "python.syntax",
                "code contains a NUL byte",
                line + shift,
                column,
                "",
                ename="SyntaxError",
            )
        elif isinstance(exc, SyntaxError):
            line = (exc.lineno or 1) + shift
            message = f"{type(exc).__name__}: {exc.msg}"
            out.add(
                "python.syntax",
                message,
                line,
                exc.offset or 1,
                exc.text or "",
                ename=type(exc).__name__,
            )
        else:
            out.add("python.syntax", f"code cannot be parsed: {exc}", 1, 1, "")
        return out.violations
    except (RecursionError, MemoryError):
        out.add("python.syntax", "code is nested too deeply to parse", 1, 1, "")
        return out.violations
    checker = _Checker(rules, policy, source, out, line_shift=shift, depth=depth)
    words = scan_words(source) if source.isascii() else set()
    if full or _needs_full_walk(source, words, rules):
        checker.walk(tree)
    elif "import" in words:
        checker.walk_imports(tree, _import_lines(source))
    return out.finish("python")
