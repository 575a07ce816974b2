"""JavaScript specifics: folding of constant strings, module names, context rules."""

from __future__ import annotations

import pytest

from companion_kernel.validation import get_policy, validate
from companion_kernel.validation._javascript import LANGUAGE, fold, module_allowed


def rules_of(code: str, policy: str = "strict") -> list[str]:
    return [v.rule for v in validate(code, "javascript", policy).violations]


def folded(expression: str) -> set[str] | None:
    from tree_sitter import Parser

    tree = Parser(LANGUAGE).parse(f"x = {expression};".encode())
    node = tree.root_node.named_children[0].named_children[0].child_by_field_name("right")
    return fold(node)


class TestFolding:
    @pytest.mark.parametrize(
        ("expression", "values"),
        [
            ("'a' + 'b'", {"ab"}),
            ("`con` + `structor`", {"constructor"}),
            ("'\\x63\\u006f\\u{6e}st'", {"const"}),
            ("('a', 'b')", {"b"}),
            ("c ? 'x' : 'y'", {"x", "y"}),
            ("['ab']", {"ab"}),
            ("'a' + 1", {"a1"}),
            ("`a${b}`", None),
            ("name", None),
            ("'a' - 'b'", None),
        ],
    )
    def test_fold(self, expression: str, values: set[str] | None) -> None:
        assert folded(expression) == values


class TestModules:
    @pytest.mark.parametrize(
        ("spec", "allowed"),
        [
            ("util", True),
            ("node:util", True),
            ("util/types", True),
            ("node:fs", False),
            ("fs/promises", False),
            ("child_process", False),
            ("./x", False),
            ("/abs", False),
            ("data:text/javascript,1", False),
            ("lodash", False),
        ],
    )
    def test_strict_module_list(self, spec: str, allowed: bool) -> None:
        assert module_allowed(spec, get_policy("strict").javascript) is allowed

    def test_blocked_beats_allowed(self) -> None:
        policy = get_policy("strict").allow_modules("vm", language="javascript")
        assert module_allowed("vm", policy.javascript)
        assert not module_allowed("child_process", policy.javascript)


class TestContext:
    def test_constructor_name_is_fine_but_not_constructor_chains(self) -> None:
        assert rules_of("x.constructor.name") == []
        assert rules_of("x.constructor.prototype") == ["js.constructor"]

    def test_bare_this_only_in_class_code(self) -> None:
        code = "function F() { this.a = 1; }\nclass A { m() { return [1].map(() => this); } }"
        assert rules_of(code) == []
        # A plain function called without a receiver gets the global object (sloppy mode).
        assert rules_of("function g() { return this; }") == ["js.this"]
        assert rules_of("const o = { m() { return this; } }") == ["js.this"]
        assert rules_of("const f = () => this") == ["js.this"]
        assert rules_of("function g() { return this.process; }") == ["js.this"]

    def test_prototype_walks_are_rejected_on_any_object(self) -> None:
        # Any value may be a function, whose prototype chain holds its constructor.
        assert "js.constructor" in rules_of("Object.getPrototypeOf(async () => {})")
        assert rules_of("Object.getPrototypeOf(obj)") == ["js.reflect"]
        assert rules_of("Reflect.getPrototypeOf(obj)") == ["js.reflect"]

    def test_computed_reads_are_data_only(self) -> None:
        assert rules_of("for (const k in o) console.log(k, o[k])") == []
        assert rules_of("const n = o[k] + 1; if (o[k]) x = `${o[k]}`") == []
        assert rules_of("o[k] = 1; delete o[k]; o[k] += 2; o[k]?.toFixed(2)") == []
        assert rules_of("o[k]('x')") == ["js.computed-member"]
        assert rules_of("o[k]?.('x')") == ["js.computed-member"]
        assert rules_of("f(o[k])") == ["js.computed-member"]
        assert rules_of("o[k].call(null, 'x')") == ["js.computed-member"]
        assert rules_of("o[k]['apply'](null, ['x'])") == ["js.computed-member"]
        assert rules_of("x = o[k]") == ["js.computed-member"]

    def test_numeric_keys_are_unrestricted(self) -> None:
        assert rules_of("fs[i - 1]('x'); fs[0]('y'); fs[-n](1)") == []
        assert rules_of("for (let i = 0; i < fs.length; i++) fs[i]()") == []
        # A counter that is also given a string is not a counter.
        bad = "for (let i = 0; i < 2; i++) { i = s; f[i]() }"
        assert rules_of(bad) == ["js.computed-member"]

    def test_bindings_of_computed_reads(self) -> None:
        assert rules_of("function f() { const v = o[k]; return v > 1; }") == []
        assert rules_of("function f() { const v = o[k]; return v; }") == ["js.computed-member"]
        assert rules_of("const v = o[k]; v > 1") == ["js.computed-member"]

    def test_trusted_sinks_may_not_be_rebound(self) -> None:
        for code in (
            "var console = { log: (F) => F('x') }",
            "console.log = (F) => F('x')",
            "function f(String) { return String(o[k]) }",
            "const { JSON } = lib",
        ):
            assert "js.global" in rules_of(code), code

    def test_process_allow_list_follows_the_policy(self) -> None:
        assert rules_of("process.cwd()") == ["js.process"]
        assert rules_of("process.cwd()", "standard") == []

    def test_positions(self) -> None:
        (v,) = validate("const a = 1;\n  eval('2')", "javascript").violations
        assert (v.line, v.column, v.snippet) == (2, 3, "eval")

    def test_syntax_errors_are_reported_with_other_problems(self) -> None:
        rules = rules_of("eval('1');\nconst = ;")
        assert "js.eval" in rules and "js.syntax" in rules

    def test_escaped_identifiers_are_decoded(self) -> None:
        assert rules_of("\\u{65}val('1')") == ["js.eval"]
        assert rules_of("x.\\u0063onstructor") == ["js.constructor"]
