"""JavaScript checks with tree-sitter: one parse, one query, context checks on the hits.

The parser and the compiled query are built once (per thread and per policy). A lexical
scan decides whether the query runs at all: code that mentions none of the trigger words
(``require``, ``process``, ``eval``, ``Function``, ``globalThis``, ``constructor`` outside
a class's own constructor, bare ``this``, identifier escapes, string subscripts, ...) is
accepted after the parse. Identifier escapes (``\\u0072equire``) and string escapes are
decoded, and string arguments are folded (``"child_" + "process"``, templates without
substitutions, ``["constructor"]``) before names are compared.

Rejected: ``require``/``import()``/``import``/``export from`` of modules outside the
allow-list or with computed names (``node:`` prefix, subpaths, relative paths and URLs
handled); ``eval``, ``Function``, ``fetch`` (also as properties: ``g.eval``);
``.constructor`` (which reaches the Function constructor through any function, including
async and generator ones and classes) except ``x.constructor.name``; reflection that hands
out descriptors, keys or prototypes (``getOwnPropertyDescriptor(s)``,
``getOwnPropertyNames``, ``getPrototypeOf``, ``setPrototypeOf``, ``ownKeys``) on any object
and under any alias, ``Reflect.apply``/``construct``, and ``Reflect.get/set/has/...`` with
a computed key; ``__proto__`` (also as an object-literal key) and the legacy accessor
methods; ``Error.prepareStackTrace``; ``arguments.callee``/``.caller``; ``process`` beyond a
small safe subset, bare or destructured; ``module`` beyond ``module.exports``;
``globalThis``/``global`` used bare, computed or to reach blocked names; ``with``; a bare
``this`` outside class code (at top level, or in a plain function called without a
receiver, it is the global object in sloppy mode); syntax errors (``js.syntax``).

Computed reads (``js.computed-member``). A key computed at run time can be any string -
``'con' + x``, templates, ``String.fromCharCode``, ``atob``, ``join``, reversed strings,
data - so ``o[k]`` may yield the Function constructor. No rule about the key can prove
otherwise; the rule is about what happens to the value instead. ``o[k]`` with a key that
is neither a constant (checked against the blocked names) nor evidently a number (number
literals, arithmetic other than ``+``, ``for (let i = 0; ...)`` counters never given
anything but numbers) may only be *used as data*: compared, combined by operators, tested,
put in a template string, written to (``o[k] = v``, ``o[k] += 1``, ``delete``), its
properties and methods read by name (except ``call``/``apply``/``bind``), iterated, or
passed to a trusted sink (``console.*``, ``JSON.stringify``, ``Math.*``, ``Number.*``,
``String()``, ``Number()``, ``parseInt``, ``Object.keys/values/entries``, ``new Date()``,
...). ``&&``/``||``/``??``/``?:``/``await``/commas pass the value through to their own
context. A ``const``/``let`` binding of it is allowed inside a function or block when every
use of the name is a data use; at top level it would outlive the cell. Everything else -
calling it, ``new``, tagged templates, passing it to other functions, returning it,
storing it in objects, arrays or other variables, destructuring with a computed key - is
rejected, so the Function constructor can be reached but never invoked or kept. The sinks
are trusted by name, so rebinding or rewriting those names (``var console = ...``,
``console.log = ...``, a parameter called ``String``) is rejected (``js.global``). Cost:
``rows.map(r => r[col])``, ``out.push(o[k])``, ``ops[name](a, b)`` are rejected; use a
``Map`` (``m.get(k)`` never reaches prototypes), literal names or numeric indices.

Objects the engine injects (``js.private``): ``$$``, ``display``, names bound to values
reached from them (``const h = $$.display()``) may not have ``_``/``#`` members or computed
keys read, and may not be handed to other code; ``_x`` and ``_manager`` (private fields of
display handles and comms, which reach the kernel) are rejected on any object.

Not seen (the sandbox must contain it): values that reach the global object through data
rather than syntax, and private fields reached through objects passed to callbacks under
other names. The kernel should also run with code generation from strings disabled; the
validator is a policy gate, not the boundary.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser, Query, QueryCursor

from ._common import Collector
from .policy import JavaScriptPolicy, Policy
from .report import Violation

LANGUAGE = Language(tree_sitter_javascript.language())
_local = threading.local()

_WORD_RE = re.compile(rb"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPE_RE = re.compile(rb"\\[ux0-7]")
_METHOD_CONSTRUCTOR_RE = re.compile(rb"(?m)^[ \t]*constructor[ \t]*\(")
_BARE_THIS_RE = re.compile(rb"(?<![\w$.])this(?![\w$])(?!\s*\??\.\s*[A-Za-z_$#])")
_IDENT_ESCAPE_RE = re.compile(r"\\u(?:\{([0-9a-fA-F]+)\}|([0-9a-fA-F]{4}))")

_SPECIAL = frozenset({"require", "module", "process", "globalThis", "global", "Reflect"})
_REFLECTION = (
    "hands out property descriptors, keys or prototypes (a way to the Function constructor "
    "without naming it)"
)
BLOCKED_PROPERTIES = {
    "constructor": "reaches the Function constructor (code from strings) through any function",
    "__proto__": "reaches and rewrites prototypes of built-in objects",
    "__defineGetter__": "rewrites properties of built-in objects",
    "__defineSetter__": "rewrites properties of built-in objects",
    "__lookupGetter__": "hands out accessors of built-in objects",
    "__lookupSetter__": "hands out accessors of built-in objects",
    "prepareStackTrace": "hands out call-site objects (functions and receivers up the stack)",
    "callee": "hands out the running function and, through it, its callers",
    "caller": "hands out the calling function",
    "mainModule": "hands out the main module (and its require)",
    "binding": "reaches Node's internal C++ bindings",
    "_linkedBinding": "reaches Node's internal C++ bindings",
    "dlopen": "loads native code",
    "getBuiltinModule": "loads any built-in module",
    "_load": "loads any module",
    "_resolveFilename": "reaches the module loader",
    "eval": "runs a string as code (reached as a property, e.g. of the global object)",
    "Function": "builds functions from strings (reached as a property)",
    "getOwnPropertyDescriptor": _REFLECTION,
    "getOwnPropertyDescriptors": _REFLECTION,
    "getOwnPropertyNames": _REFLECTION,
    "getPrototypeOf": _REFLECTION,
    "setPrototypeOf": "rewires prototypes (a function's prototype chain reaches Function)",
    "ownKeys": _REFLECTION,
    "_x": "is a private field of the engine's display handles (it reaches the kernel)",
    "_manager": "is a private field of the engine's comms (it reaches the kernel)",
}
_REFLECT_KEYED = frozenset({"get", "set", "has", "defineProperty", "deleteProperty"})
_REFLECT_BLOCKED = frozenset(
    {
        "apply",
        "construct",
        "ownKeys",
        "getOwnPropertyDescriptor",
        "getPrototypeOf",
        "setPrototypeOf",
    }
)
# Calls that only read a value as data (never call it, keep it or hand it on), by global
# name; binding or assigning these names is rejected so they keep meaning the built-ins.
_SINK_NAMESPACES = frozenset({"console", "JSON", "Math", "Number", "Object", "Array", "String"})
_SINK_FUNCTIONS = frozenset(
    {"String", "Number", "Boolean", "BigInt", "parseInt", "parseFloat", "isNaN", "isFinite"}
)
_SINK_METHODS = {
    "JSON": frozenset({"stringify"}),
    "Object": frozenset({"keys", "values", "entries"}),
    "Array": frozenset({"isArray"}),
    "String": frozenset(),
}
_DATA_CONSTRUCTORS = frozenset({"Date", "Number", "String", "Boolean"})
_INJECTED = frozenset({"$$", "display"})
_GLOBAL_REASONS = {
    "eval": ("js.eval", "runs a string as code"),
    "Function": ("js.function-constructor", "builds a function from a string of code"),
    "fetch": ("js.network", "makes network requests"),
    "WebSocket": ("js.network", "opens network connections"),
    "XMLHttpRequest": ("js.network", "makes network requests"),
}
# Names that may not be read off globalThis/global (or via string keys anywhere).
_GLOBAL_BLOCKED_NAMES = frozenset(
    {"process", "require", "module", "global", "globalThis", "Reflect"}
)
# Where a bare `this` may stand: class code is strict mode, so `this` is never the global
# object there. In plain functions and object-literal methods, a call without a receiver
# (f(), [].map(f), detached o.m) makes it the global object in sloppy mode.
_NON_ARROW_FUNCTIONS = frozenset(
    {
        "function_declaration",
        "function_expression",
        "function",
        "generator_function_declaration",
        "generator_function",
        "method_definition",
    }
)
_FUNCTION_LITERALS = frozenset(
    {"function_expression", "function", "arrow_function", "generator_function", "class"}
)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_MAX_FOLDS = 16
_MAX_ANCESTORS = 400  # deeper nesting is reported rather than walked (keeps checks linear)


@dataclass(frozen=True)
class _Rules:
    policy: JavaScriptPolicy
    query: Query
    triggers: frozenset[bytes]
    blocked_globals: frozenset[str]


def _quoted(names: frozenset[str] | set[str]) -> str:
    return " ".join(f'"{n}"' for n in sorted(names))


@lru_cache(maxsize=16)
def compile_rules(policy: JavaScriptPolicy) -> _Rules:
    """The query and trigger words for a policy (cached)."""
    idents = _quoted(_SPECIAL | policy.blocked_globals)
    props = _quoted(set(BLOCKED_PROPERTIES))
    sinks = _quoted(_SINK_NAMESPACES | _SINK_FUNCTIONS | _DATA_CONSTRUCTORS)
    source = f"""
    ([(identifier) (shorthand_property_identifier)] @ident (#any-of? @ident {idents}))
    ((property_identifier) @prop (#any-of? @prop {props}))
    ((shorthand_property_identifier_pattern) @pattern (#any-of? @pattern {props}))
    (subscript_expression) @sub
    (pair key: [(property_identifier) (string)] @pairkey)
    (pair_pattern key: (computed_property_name) @computedpattern)
    ((identifier) @injected (#any-of? @injected "$$" "display"))
    ([(identifier) (shorthand_property_identifier_pattern)] @builtin (#any-of? @builtin {sinks}))
    (with_statement) @with
    (this) @this
    (call_expression function: (import)) @dynamic_import
    (import_statement source: (string) @source)
    (export_statement source: (string) @source)
    (call_expression function: (member_expression object: (identifier) @helper
        (#any-of? @helper "Reflect" "Object"))) @reflect
    """
    triggers = frozenset(
        name.encode()
        for name in (_SPECIAL | policy.blocked_globals | set(BLOCKED_PROPERTIES))
        if name != "constructor"
    ) | {b"import", b"export", b"with", b"$$", b"display"}
    triggers |= {name.encode() for name in _SINK_NAMESPACES | _SINK_FUNCTIONS | _DATA_CONSTRUCTORS}
    return _Rules(
        policy=policy,
        query=Query(LANGUAGE, source),
        triggers=triggers,
        blocked_globals=policy.blocked_globals,
    )


_ESCAPED_QUERY = Query(
    LANGUAGE,
    r"""([(identifier) (property_identifier) (shorthand_property_identifier)
          (shorthand_property_identifier_pattern)] @escaped (#match? @escaped "\\\\"))""",
)


def _parser() -> Parser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = Parser(LANGUAGE)
    return parser


def _needs_query(data: bytes, rules: _Rules) -> bool:
    words = set(_WORD_RE.findall(data))
    if not words.isdisjoint(rules.triggers) or _ESCAPE_RE.search(data):
        return True
    if b"constructor" in words and data.count(b"constructor") != len(
        _METHOD_CONSTRUCTOR_RE.findall(data)
    ):
        return True
    if b"this" in words and _BARE_THIS_RE.search(data):
        return True
    return b"[" in data


def _decode_identifier(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        try:
            return chr(int(match.group(1) or match.group(2), 16))
        except (ValueError, OverflowError):
            return ""

    return _IDENT_ESCAPE_RE.sub(one, text)


def _unescape(seq: str) -> str:
    body = seq[1:]
    if not body or body[0] in "\n\r\u2028\u2029":
        return ""
    head = body[0]
    try:
        if head == "x":
            return chr(int(body[1:3], 16))
        if head == "u":
            digits = body[2:-1] if body[1:2] == "{" else body[1:5]
            return chr(int(digits, 16))
        if head in "01234567" and len(body) > 1:
            return chr(int(body, 8))
    except (ValueError, OverflowError):
        return ""
    return _SIMPLE_ESCAPES.get(head, head)


def _string_value(node: Node) -> str | None:
    parts = []
    for child in node.children:
        kind = child.type
        if kind == "string_fragment":
            parts.append(_text(child))
        elif kind == "escape_sequence":
            parts.append(_unescape(_text(child)))
        elif kind == "template_substitution":
            return None
    return "".join(parts)


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def fold(node: Node | None, depth: int = 0) -> set[str] | None:
    """The possible string values of a constant expression, or None if not constant."""
    if node is None or depth > 40:
        return None
    kind = node.type
    if kind in ("string", "template_string"):
        value = _string_value(node)
        return None if value is None else {value}
    if kind == "number":
        return {_text(node)}
    if kind == "parenthesized_expression":
        inner = node.named_children
        return fold(inner[-1], depth + 1) if inner else None
    if kind == "sequence_expression":
        inner = node.named_children
        return fold(inner[-1], depth + 1) if inner else None
    if kind == "binary_expression":
        operator = node.child_by_field_name("operator")
        if operator is None or operator.type != "+":
            return None
        left = fold(node.child_by_field_name("left"), depth + 1)
        right = fold(node.child_by_field_name("right"), depth + 1)
        if left is None or right is None or len(left) * len(right) > _MAX_FOLDS:
            return None
        return {a + b for a in left for b in right}
    if kind == "ternary_expression":
        a = fold(node.child_by_field_name("consequence"), depth + 1)
        b = fold(node.child_by_field_name("alternative"), depth + 1)
        return None if a is None or b is None else a | b
    if kind == "array":
        items = node.named_children
        if not items:
            return {""}
        return fold(items[0], depth + 1) if len(items) == 1 else None
    return None


def module_allowed(spec: str, policy: JavaScriptPolicy) -> bool:
    """Built-in or package name on the allow-list; paths and URLs never are."""
    name = spec[5:] if spec.startswith("node:") else spec
    if not name or name.startswith((".", "/")) or ":" in name or "\\" in name:
        return False
    parts = name.split("/")
    for end in range(len(parts), 0, -1):
        prefix = "/".join(parts[:end])
        if prefix in policy.blocked_modules:
            return False
        if prefix in policy.allowed_modules:
            return True
    return False


class _Checker:
    def __init__(self, rules: _Rules, policy: Policy, data: bytes, out: Collector) -> None:
        self.rules = rules
        self.policy = policy
        self.data = data
        self.out = out
        self._lines: list[bytes] | None = None
        self._root: Node | None = None
        self._counters: dict[str, bool] | None = None
        self._aliases: set[str] | None = None
        self._index: dict[bytes, list[Node]] | None = None
        self._bindings: dict[str, bool] = {}

    def report(self, rule: str, message: str, node: Node, *, ename: str | None = None) -> None:
        if self._lines is None:
            self._lines = self.data.split(b"\n")
        row, col = node.start_point
        raw = self._lines[row] if row < len(self._lines) else b""
        column = _byte_to_char(raw, col) + 1
        self.out.add(rule, message, row + 1, column, _text(node), ename=ename)

    # -- syntax ---------------------------------------------------------------------------

    def syntax(self, root: Node) -> None:
        stack = [root]
        found = 0
        while stack and found < 5:
            node = stack.pop()
            if node.is_missing:
                self.report(
                    "js.syntax", f"syntax error: missing {node.type!r}", node, ename="SyntaxError"
                )
                found += 1
            elif node.type == "ERROR":
                text = _text(node).strip()
                shown = f" near {text[:30]!r}" if text else ""
                self.report("js.syntax", f"syntax error{shown}", node, ename="SyntaxError")
                found += 1
            else:
                stack.extend(c for c in reversed(node.children) if c.has_error or c.is_missing)

    # -- captures -------------------------------------------------------------------------

    def run(self, root: Node) -> None:
        self._root = root
        captures = QueryCursor(self.rules.query).captures(root)
        handlers = {
            "ident": lambda n: self.identifier(n, _text(n)),
            "prop": lambda n: self.property(n, _text(n)),
            "pattern": lambda n: self.pattern(n, _text(n)),
            "sub": self.subscript,
            "pairkey": self.pair_key,
            "computedpattern": self.computed_pattern,
            "injected": self.injected,
            "builtin": self.builtin_binding,
            "with": self.with_statement,
            "this": self.this,
            "dynamic_import": self.dynamic_import,
            "source": lambda n: self.module_spec(n.parent or n, fold(n), "import"),
            "reflect": self.reflect,
        }
        for name, handler in handlers.items():
            for node in captures.get(name, ()):
                if self.out.full:
                    return
                handler(node)
        for name in sorted(self.aliases() - _INJECTED):
            for node in self.identifiers(name):
                if self.out.full:
                    return
                self.injected(node)
        if b"\\u" in self.data:
            for node in QueryCursor(_ESCAPED_QUERY).captures(root).get("escaped", ()):
                if self.out.full:
                    return
                self.escaped(node)

    def with_statement(self, node: Node) -> None:
        self.report(
            "js.with",
            "'with' turns an object's properties into variables, hiding what names mean",
            node,
        )

    def dynamic_import(self, node: Node) -> None:
        arguments = node.child_by_field_name("arguments")
        first = arguments.named_children[0] if arguments and arguments.named_children else None
        self.module_spec(node, fold(first), "import()")

    def escaped(self, node: Node) -> None:
        name = _decode_identifier(_text(node))
        kind = node.type
        if kind in ("identifier", "shorthand_property_identifier"):
            if name in _SPECIAL or name in self.rules.blocked_globals:
                self.identifier(node, name)
        elif name in BLOCKED_PROPERTIES:
            if kind == "property_identifier":
                self.property(node, name)
            else:
                self.pattern(node, name)

    def identifier(self, node: Node, name: str) -> None:
        parent = node.parent
        if name in self.rules.blocked_globals:
            rule, why = _GLOBAL_REASONS.get(name, ("js.global", "is blocked by the policy"))
            self.report(rule, f"{name!r} {why}; not allowed by policy {self.policy.name!r}", node)
            return
        if parent is None:
            return
        if name == "require":
            if parent.type == "call_expression" and parent.child_by_field_name("function") == node:
                arguments = parent.child_by_field_name("arguments")
                args = arguments.named_children if arguments is not None else []
                self.module_spec(parent, fold(args[0]) if args else None, "require()")
            else:
                self.report(
                    "js.require",
                    "'require' may only be called directly with a literal module name "
                    "(require.call, aliases and module.require hide what is loaded)",
                    node,
                )
            return
        props = _member_names(parent, node)
        if name == "module":
            if props != {"exports"}:
                self.report(
                    "js.module",
                    "'module' may only be used as module.exports (module.require and "
                    "module.constructor load any module)",
                    node,
                )
        elif name == "process":
            allowed = self.rules.policy.allowed_process_properties
            if props is None or not props <= allowed:
                shown = ", ".join(sorted(allowed))
                what = f"process.{sorted(props)[0]}" if props else "'process' used as a value"
                self.report(
                    "js.process",
                    f"{what} is not allowed (env, binding, mainModule, dlopen, kill, exit, "
                    f"...); allowed: {shown}",
                    node,
                )
        elif name in ("globalThis", "global"):
            blocked = _GLOBAL_BLOCKED_NAMES | self.rules.blocked_globals
            if props is None or props & blocked:
                self.report(
                    "js.global",
                    f"{name!r} may only be used to read ordinary globals by name (bare, "
                    "computed or blocked-name access reaches process, require or eval)",
                    node,
                )
        elif name == "Reflect" and props is None:
            self.report("js.reflect", "'Reflect' may not be used as a value", node)

    def property(self, node: Node, name: str) -> None:
        parent = node.parent
        if parent is None:
            return
        kind = parent.type
        if kind == "member_expression":
            target = parent.child_by_field_name("object")
            if target is not None and target.type == "identifier" and _text(target) in _SPECIAL:
                return  # reported with the object itself
            if name == "constructor":
                grand = parent.parent
                if (
                    grand is not None
                    and grand.type == "member_expression"
                    and grand.child_by_field_name("object") == parent
                    and _text(grand.child_by_field_name("property") or node) == "name"
                ):
                    return
            self.report(_prop_rule(name), f"property {name!r} {BLOCKED_PROPERTIES[name]}", parent)
        elif kind == "pair_pattern":
            self.pattern(node, name)

    def pattern(self, node: Node, name: str) -> None:
        self.report(
            _prop_rule(name),
            f"destructuring {name!r}: {BLOCKED_PROPERTIES[name]}",
            node,
        )

    def subscript(self, node: Node) -> None:
        index = node.child_by_field_name("index")
        values = fold(index)
        if values is None:
            if not self.numeric(index) and not self.data_use(node):
                self.report(
                    "js.computed-member",
                    "a property read with a key computed at run time can be anything, the "
                    "Function constructor included ('constructor'), so its value may only be "
                    "used as data (compared, combined, printed, its methods called); here it "
                    "is called, kept or handed on. Use a literal name, a Map, or a numeric "
                    "loop index",
                    node,
                )
            return
        for value in sorted(values):
            if value in BLOCKED_PROPERTIES:
                why = BLOCKED_PROPERTIES[value]
                self.report(_prop_rule(value), f"computed access to {value!r}: {why}", node)
                return
            if value in _GLOBAL_BLOCKED_NAMES or value in self.rules.blocked_globals:
                self.report(
                    "js.computed-member",
                    f"computed access to {value!r} reaches a blocked global",
                    node,
                )
                return

    def pair_key(self, node: Node) -> None:
        name = _text(node) if node.type == "property_identifier" else _string_value(node)
        if name is not None and _decode_identifier(name) == "__proto__":
            self.report("js.proto", "'__proto__' in an object literal sets its prototype", node)

    def computed_pattern(self, node: Node) -> None:
        inner = node.named_children[0] if node.named_children else None
        values = fold(inner)
        if values is None:
            if not self.numeric(inner):
                self.report(
                    "js.computed-member",
                    "destructuring with a computed key can take out any property, the "
                    "Function constructor included; read it with a literal name",
                    node,
                )
            return
        blocked = sorted(values & set(BLOCKED_PROPERTIES))
        if blocked:
            self.report(_prop_rule(blocked[0]), f"destructuring {blocked[0]!r}", node)

    # -- computed reads used as data ------------------------------------------------------

    def data_use(self, node: Node, depth: int = 0) -> bool:
        """Is the value of ``node`` only read as data (never called, kept or handed on)?"""
        current = node
        for _ in range(_MAX_ANCESTORS):
            parent = current.parent
            if parent is None:
                return True
            kind = parent.type
            if kind in ("parenthesized_expression", "await_expression"):
                current = parent
                continue
            if kind == "sequence_expression":
                if parent.named_children[-1] != current:
                    return True
                current = parent
                continue
            if kind == "ternary_expression":
                if parent.child_by_field_name("condition") == current:
                    return True
                current = parent
                continue
            if kind == "binary_expression":
                operator = parent.child_by_field_name("operator")
                if operator is not None and operator.type in ("&&", "||", "??"):
                    current = parent
                    continue
                return True
            if kind in _DATA_PARENTS:
                return True
            if kind == "template_substitution":
                template = parent.parent
                return (
                    template is None
                    or template.parent is None
                    or (template.parent.type != "call_expression")
                )
            if kind in ("member_expression", "subscript_expression"):
                if parent.child_by_field_name("object") != current:
                    return True
                if kind == "member_expression":
                    prop = parent.child_by_field_name("property")
                    return _text(prop) not in _INVOKERS if prop is not None else False
                values = fold(parent.child_by_field_name("index"))
                return values is None or not values & _INVOKERS
            if kind == "assignment_expression":
                return parent.child_by_field_name("left") == current
            if kind == "augmented_assignment_expression":
                operator = _text(parent.children[1]) if len(parent.children) > 1 else ""
                return parent.child_by_field_name("left") == current or operator not in (
                    "||=",
                    "&&=",
                    "??=",
                )
            if kind == "for_in_statement":
                return True
            if kind == "arguments":
                return self.sink_call(parent.parent)
            if kind == "variable_declarator":
                return self.binding_is_data(parent, depth)
            return False
        return False

    def sink_call(self, call: Node | None) -> bool:
        if call is None:
            return False
        callee = call.child_by_field_name(
            "function" if call.type == "call_expression" else "constructor"
        )
        if callee is None:
            return False
        if call.type == "new_expression":
            return callee.type == "identifier" and _text(callee) in _DATA_CONSTRUCTORS
        if callee.type == "identifier":
            return _text(callee) in _SINK_FUNCTIONS
        if callee.type != "member_expression":
            return False
        target = callee.child_by_field_name("object")
        prop = callee.child_by_field_name("property")
        if target is None or prop is None or target.type != "identifier":
            return False
        namespace = _text(target)
        if namespace in ("console", "Math", "Number"):
            return True
        return _text(prop) in _SINK_METHODS.get(namespace, ())

    def binding_is_data(self, declarator: Node, depth: int) -> bool:
        """``const v = o[k]`` inside a function or block, with every use of ``v`` as data."""
        name = declarator.child_by_field_name("name")
        if name is None or name.type != "identifier" or depth > 3 or self._root is None:
            return False
        declaration = declarator.parent
        scope = declaration.parent if declaration is not None else None
        if scope is None or scope.type == "program":
            return False  # top-level bindings outlive the cell: a later cell could call it
        text = _text(name)
        if text not in self._bindings:
            self._bindings[text] = False  # a cycle through the same name proves nothing
            self._bindings[text] = all(
                self.data_use(use, depth + 1)
                for use in self.identifiers(text)
                if not _declared_name(use)
            )
        return self._bindings[text]

    def identifiers(self, name: str) -> list[Node]:
        if self._index is None:
            self._index = {}
            for node in _walk(self._root) if self._root is not None else ():
                if node.type == "identifier":
                    self._index.setdefault(node.text or b"", []).append(node)
        return self._index.get(name.encode(), [])

    def numeric(self, node: Node | None) -> bool:
        """Does ``node`` evidently evaluate to a number (or boolean), never a chosen string?"""
        if node is None:
            return False
        kind = node.type
        if kind in ("number", "update_expression", "true", "false"):
            return True
        if kind == "unary_expression":
            operator = node.child_by_field_name("operator")
            return operator is not None and operator.type in ("-", "+", "~", "!", "typeof")
        if kind == "parenthesized_expression":
            inner = node.named_children
            return bool(inner) and self.numeric(inner[-1])
        if kind == "binary_expression":
            operator = node.child_by_field_name("operator")
            if operator is None:
                return False
            if operator.type not in ("+", "&&", "||", "??"):
                return True
            return self.numeric(node.child_by_field_name("left")) and self.numeric(
                node.child_by_field_name("right")
            )
        if kind == "ternary_expression":
            return self.numeric(node.child_by_field_name("consequence")) and self.numeric(
                node.child_by_field_name("alternative")
            )
        if kind == "call_expression":
            callee = _text(node.child_by_field_name("function") or node)
            return self.sink_call(node) and (
                callee in ("Number", "parseInt", "parseFloat") or callee.startswith("Math.")
            )
        if kind == "identifier":
            return self.counter(node)
        return False

    def counter(self, node: Node) -> bool:
        """A ``for (let i = 0; ...; i++)`` counter used inside its loop, only ever numeric."""
        name = _text(node)
        if self._counters is None:
            self._counters = _loop_counters(self._root) if self._root is not None else {}
        if not self._counters.get(name):
            return False
        current = node.parent
        for _ in range(_MAX_ANCESTORS):
            if current is None:
                return False
            if current.type == "for_statement":
                init = current.child_by_field_name("initializer")
                declared = init.named_children if init is not None else []
                if any(
                    d.type == "variable_declarator"
                    and _text(d.child_by_field_name("name") or d) == name
                    for d in declared
                ):
                    return True
            current = current.parent
        return False

    # -- objects the engine injects ($$, display and their handles) ----------------------

    def aliases(self) -> set[str]:
        """``$$``, ``display`` and names bound to them (or to values reached from them)."""
        if self._aliases is None:
            names = set(_INJECTED)
            if self._root is not None and (b"$$" in self.data or b"display" in self.data):
                for _ in range(4):
                    grown = names | _bound_to(self._root, names)
                    if grown == names:
                        break
                    names = grown
            self._aliases = names
        return self._aliases

    def injected(self, node: Node) -> None:
        """No private members, computed keys, or handing the object itself on."""
        current = node
        for _ in range(_MAX_ANCESTORS):
            parent = current.parent
            if parent is None:
                return
            kind = parent.type
            if kind in ("parenthesized_expression", "await_expression"):
                current = parent
                continue
            if kind == "member_expression" and parent.child_by_field_name("object") == current:
                prop = parent.child_by_field_name("property")
                name = _decode_identifier(_text(prop)) if prop is not None else ""
                if name.startswith(("_", "#")) or name in ("constructor", "__proto__"):
                    self.report(
                        "js.private",
                        f"{name!r} is private to the engine's injected objects ($$, display "
                        "and their handles); only their documented methods may be used",
                        parent,
                    )
                    return
                current = parent
                continue
            if kind == "subscript_expression" and parent.child_by_field_name("object") == current:
                values = fold(parent.child_by_field_name("index"))
                if values is None or any(v.startswith("_") for v in values):
                    self.report(
                        "js.private",
                        "computed access on the engine's injected objects can reach their "
                        "private parts; use their documented methods by name",
                        parent,
                    )
                    return
                current = parent
                continue
            if kind == "call_expression" and parent.child_by_field_name("function") == current:
                current = parent
                continue
            if kind in ("variable_declarator", "expression_statement", "arguments"):
                if kind == "arguments" and current == node:
                    self.report(
                        "js.private",
                        f"{_text(node)!r} may not be handed to other code (its private parts "
                        "reach the kernel); call its methods directly",
                        node,
                    )
                return
            if current == node and kind not in ("call_expression", "binary_expression"):
                self.report(
                    "js.private",
                    f"{_text(node)!r} may only be used to call its documented methods",
                    node,
                )
            return

    def builtin_binding(self, node: Node) -> None:
        """Data sinks are trusted by name, so their names may not be rebound or rewritten."""
        parent = node.parent
        if parent is None:
            return
        kind = parent.type
        rebinds = (
            (kind == "variable_declarator" and parent.child_by_field_name("name") == node)
            or kind in _BINDING_PARENTS
            or (
                kind in ("function_declaration", "class_declaration", "class")
                and parent.child_by_field_name("name") == node
            )
            or (
                kind in ("assignment_expression", "augmented_assignment_expression")
                and parent.child_by_field_name("left") == node
            )
            or node.type == "shorthand_property_identifier_pattern"
        )
        if not rebinds and kind == "member_expression":
            grand = parent.parent
            rebinds = (
                parent.child_by_field_name("object") == node
                and grand is not None
                and grand.type in ("assignment_expression", "augmented_assignment_expression")
                and grand.child_by_field_name("left") == parent
            )
        if rebinds:
            self.report(
                "js.global",
                f"{_text(node)!r} names a built-in the validator trusts; do not rebind or "
                "rewrite it (choose another name)",
                node,
            )

    def this(self, node: Node) -> None:
        parent = node.parent
        if (
            parent is not None
            and parent.type == "member_expression"
            and parent.child_by_field_name("object") == node
        ):
            prop = parent.child_by_field_name("property")
            if prop is not None and prop.type in (
                "property_identifier",
                "private_property_identifier",
            ):
                name = _decode_identifier(_text(prop))
                if name in _GLOBAL_BLOCKED_NAMES or name in self.rules.blocked_globals:
                    self.report(
                        "js.this",
                        f"this.{name}: 'this' can be the global object, which holds {name!r}",
                        parent,
                    )
                return
        current = parent
        for _ in range(_MAX_ANCESTORS):
            if current is None:
                break
            kind = current.type
            if kind == "class_body":
                return
            if kind in _NON_ARROW_FUNCTIONS:
                if (
                    kind == "method_definition"
                    and current.parent is not None
                    and (current.parent.type == "class_body")
                ):
                    return
                break
            current = current.parent
        self.report(
            "js.this",
            "bare 'this' outside class code can be the global object (top level, or a plain "
            "function called without a receiver), a way to process and require",
            node,
        )

    def reflect(self, node: Node) -> None:
        arguments = node.child_by_field_name("arguments")
        if arguments is None:
            return
        method = node.child_by_field_name("function")
        prop = method.child_by_field_name("property") if method is not None else None
        first = arguments.named_children[0] if arguments.named_children else None
        if (
            prop is not None
            and _text(prop) == "getPrototypeOf"
            and first is not None
            and first.type in _FUNCTION_LITERALS
        ):
            self.report(
                "js.constructor",
                "the prototype of a function literal is Function.prototype (and, for async "
                "and generator functions, their constructors' prototypes)",
                node,
            )
            return
        helper = method.child_by_field_name("object") if method is not None else None
        if helper is not None and _text(helper) == "Reflect" and prop is not None:
            name = _text(prop)
            args = arguments.named_children
            if name in _REFLECT_BLOCKED or (
                name in _REFLECT_KEYED and (len(args) < 2 or fold(args[1]) is None)
            ):
                self.report(
                    "js.reflect",
                    f"Reflect.{name} with a computed key or target function reaches what "
                    "direct access may not",
                    node,
                )
                return
        blocked = set(BLOCKED_PROPERTIES) | _GLOBAL_BLOCKED_NAMES | self.rules.blocked_globals
        for arg in arguments.named_children:
            values = fold(arg)
            if values and values & blocked:
                name = sorted(values & blocked)[0]
                self.report(
                    "js.reflect",
                    f"reflection with the property name {name!r} reaches what direct access "
                    "may not",
                    node,
                )
                return

    def module_spec(self, node: Node, values: set[str] | None, how: str) -> None:
        if not values:
            self.report(
                "js.require",
                f"{how} needs a literal module name; a computed name can load any module",
                node,
            )
            return
        for spec in sorted(values):
            if not module_allowed(spec, self.rules.policy):
                self.report("js.require", _module_message(spec, self.rules.policy, how), node)
                return


def _module_message(spec: str, policy: JavaScriptPolicy, how: str) -> str:
    name = spec[5:] if spec.startswith("node:") else spec
    if name.startswith((".", "/")) or ":" in name:
        return f"{how} of {spec!r}: files and URLs cannot be loaded, only allowed modules"
    if module_allowed(name, policy.model_copy(update={"allowed_modules": frozenset({name})})):
        return f"{how} of {spec!r}: module is not on the policy's allow-list"
    return f"{how} of {spec!r}: module is blocked (processes, network, files or VM internals)"


def _prop_rule(name: str) -> str:
    if BLOCKED_PROPERTIES.get(name) == _REFLECTION or name == "setPrototypeOf":
        return "js.reflect"
    if name in ("_x", "_manager"):
        return "js.private"
    if name == "constructor":
        return "js.constructor"
    if name == "eval":
        return "js.eval"
    if name == "Function":
        return "js.function-constructor"
    if name in ("callee", "caller"):
        return "js.callee"
    if name == "prepareStackTrace":
        return "js.stack-trace"
    if name.startswith("__"):
        return "js.proto"
    return "js.process"


def _member_names(parent: Node, node: Node) -> set[str] | None:
    """Property names read from ``node`` by its parent, when statically known."""
    kind = parent.type
    if kind == "member_expression" and parent.child_by_field_name("object") == node:
        prop = parent.child_by_field_name("property")
        if prop is not None and prop.type == "property_identifier":
            return {_decode_identifier(_text(prop))}
        return None
    if kind == "subscript_expression" and parent.child_by_field_name("object") == node:
        return fold(parent.child_by_field_name("index"))
    return None


_INVOKERS = frozenset({"call", "apply", "bind"})
# Parents that consume a value as data.
_DATA_PARENTS = frozenset(
    {
        "unary_expression",
        "update_expression",
        "expression_statement",
        "if_statement",
        "while_statement",
        "do_statement",
        "switch_statement",
        "switch_case",
        "for_statement",
    }
)
_BINDING_PARENTS = frozenset(
    {
        "formal_parameters",
        "catch_clause",
        "arrow_function",
        "array_pattern",
        "rest_pattern",
        "assignment_pattern",
        "pair_pattern",
        "for_in_statement",
        "import_specifier",
        "namespace_import",
        "import_clause",
    }
)


def _walk(root: Node):
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def _declared_name(node: Node) -> bool:
    parent = node.parent
    return (
        parent is not None
        and parent.type == "variable_declarator"
        and parent.child_by_field_name("name") == node
    )


def _chain_root(node: Node | None) -> Node | None:
    """The identifier a member/call chain starts from."""
    for _ in range(_MAX_ANCESTORS):
        if node is None:
            return None
        kind = node.type
        if kind == "identifier":
            return node
        if kind in ("member_expression", "subscript_expression"):
            node = node.child_by_field_name("object")
        elif kind == "call_expression":
            node = node.child_by_field_name("function")
        elif kind in ("parenthesized_expression", "await_expression") and node.named_children:
            node = node.named_children[-1]
        else:
            return None
    return None


def _bound_to(root: Node, names: set[str]) -> set[str]:
    """Names declared or assigned with a value reached from ``names``."""
    found: set[str] = set()
    for node in _walk(root):
        if node.type == "variable_declarator":
            target, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        elif node.type == "assignment_expression":
            target, value = node.child_by_field_name("left"), node.child_by_field_name("right")
        else:
            continue
        base = _chain_root(value)
        if (
            target is not None
            and target.type == "identifier"
            and base is not None
            and _text(base) in names
        ):
            found.add(_text(target))
    return found


def _loop_counters(root: Node) -> dict[str, bool]:
    """Names declared in ``for`` initialisers with a number, and whether every write to the
    name anywhere in the cell keeps it a number."""
    counters: dict[str, bool] = {}
    for node in _walk(root):
        if node.type == "for_statement":
            init = node.child_by_field_name("initializer")
            for d in init.named_children if init is not None else []:
                if d.type == "variable_declarator":
                    name, value = d.child_by_field_name("name"), d.child_by_field_name("value")
                    if name is not None and name.type == "identifier":
                        ok = _static_number(value, set(counters) | {_text(name)})
                        counters[_text(name)] = counters.get(_text(name), True) and ok
    if not counters:
        return counters
    for node in _walk(root):
        kind = node.type
        if kind == "variable_declarator":
            name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
            if name is not None and _text(name) in counters:
                parent = node.parent
                in_for = (
                    parent is not None
                    and parent.parent is not None
                    and (parent.parent.type == "for_statement")
                )
                if not in_for and (value is None or value.type != "number"):
                    counters[_text(name)] = False
        elif kind in ("assignment_expression", "augmented_assignment_expression"):
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            if left is not None and left.type == "identifier" and _text(left) in counters:
                operator = _text(node.children[1]) if len(node.children) > 1 else "="
                if operator in ("=", "+=", "||=", "&&=", "??=") and (
                    right is None or right.type != "number"
                ):
                    counters[_text(left)] = False
        elif (
            kind == "identifier"
            and _text(node) in counters
            and node.parent is not None
            and node.parent.type in _BINDING_PARENTS
        ):
            counters[_text(node)] = False
    return counters


def _static_number(node: Node | None, counters: set[str]) -> bool:
    """A number literal, or arithmetic on numbers and loop counters (``i + 1``)."""
    if node is None:
        return False
    kind = node.type
    if kind == "number":
        return True
    if kind == "identifier":
        return _text(node) in counters
    if kind == "parenthesized_expression" and node.named_children:
        return _static_number(node.named_children[-1], counters)
    if kind == "unary_expression":
        operator = node.child_by_field_name("operator")
        return operator is not None and operator.type in ("-", "+", "~")
    if kind == "binary_expression":
        operator = node.child_by_field_name("operator")
        if operator is None or operator.type in ("&&", "||", "??"):
            return False
        return operator.type != "+" or (
            _static_number(node.child_by_field_name("left"), counters)
            and _static_number(node.child_by_field_name("right"), counters)
        )
    return False


def _byte_to_char(raw: bytes, col: int) -> int:
    return len(raw[:col].decode("utf-8", "replace"))


def check(code: str, policy: Policy, *, full: bool = False) -> list[Violation]:
    """All violations of ``policy`` in JavaScript ``code`` (never raises on bad input).

    ``full`` runs the query even when the lexical scan says it is not needed (for tests).
    """
    out = Collector(policy)
    try:
        data = code.encode("utf-8")
    except UnicodeEncodeError as exc:
        out.add("js.input", f"code is not valid Unicode text ({exc.reason})", 1, 1, "")
        return out.violations
    rules = compile_rules(policy.javascript)
    tree = _parser().parse(data)
    root = tree.root_node
    checker = _Checker(rules, policy, data, out)
    if root.has_error:
        checker.syntax(root)
    if full or _needs_query(data, rules):
        checker.run(root)
    return out.finish("js")
