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
async and generator ones) except ``x.constructor.name``, and ``Object.getPrototypeOf`` of
a function literal; ``__proto__`` and the legacy accessor methods;
``Error.prepareStackTrace``; ``arguments.callee``/``.caller``; ``process`` beyond a small
safe subset, bare or destructured; ``module`` beyond ``module.exports``; ``globalThis``/
``global`` used bare, computed or to reach blocked names; ``Reflect``/``Object`` helpers
given blocked property names; ``with``; a bare ``this`` outside class code (at top level,
or in a plain function called without a receiver, it is the global object in sloppy
mode); syntax errors (``js.syntax``).

Not seen (the sandbox must contain it): property names computed at run time
(``obj[k]`` with ``k`` built by code), and values that reach the global object through
data rather than syntax.
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
_STRING_SUBSCRIPT_RE = re.compile(rb"(?:[\w$)\]]|\?\.)\s*\[[^\]\n]*[\"'`\[]")
_IDENT_ESCAPE_RE = re.compile(r"\\u(?:\{([0-9a-fA-F]+)\}|([0-9a-fA-F]{4}))")

_SPECIAL = frozenset({"require", "module", "process", "globalThis", "global", "Reflect"})
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
}
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
    source = f"""
    ([(identifier) (shorthand_property_identifier)] @ident (#any-of? @ident {idents}))
    ((property_identifier) @prop (#any-of? @prop {props}))
    ((shorthand_property_identifier_pattern) @pattern (#any-of? @pattern {props}))
    (subscript_expression index: [(string) (template_string) (binary_expression)
        (parenthesized_expression) (array) (sequence_expression) (ternary_expression)]) @sub
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
    ) | {b"import", b"export", b"with", b"getPrototypeOf"}
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
    return _STRING_SUBSCRIPT_RE.search(data) is not None


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

    def report(self, rule: str, message: str, node: Node) -> None:
        if self._lines is None:
            self._lines = self.data.split(b"\n")
        row, col = node.start_point
        raw = self._lines[row] if row < len(self._lines) else b""
        self.out.add(rule, message, row + 1, _byte_to_char(raw, col) + 1, _text(node))

    # -- syntax ---------------------------------------------------------------------------

    def syntax(self, root: Node) -> None:
        stack = [root]
        found = 0
        while stack and found < 5:
            node = stack.pop()
            if node.is_missing:
                self.report("js.syntax", f"syntax error: missing {node.type!r}", node)
                found += 1
            elif node.type == "ERROR":
                text = _text(node).strip()
                shown = f" near {text[:30]!r}" if text else ""
                self.report("js.syntax", f"syntax error{shown}", node)
                found += 1
            else:
                stack.extend(c for c in reversed(node.children) if c.has_error or c.is_missing)

    # -- captures -------------------------------------------------------------------------

    def run(self, root: Node) -> None:
        captures = QueryCursor(self.rules.query).captures(root)
        handlers = {
            "ident": lambda n: self.identifier(n, _text(n)),
            "prop": lambda n: self.property(n, _text(n)),
            "pattern": lambda n: self.pattern(n, _text(n)),
            "sub": self.subscript,
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
        values = fold(node.child_by_field_name("index"))
        if not values:
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
