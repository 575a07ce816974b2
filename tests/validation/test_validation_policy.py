"""Policies are frozen data with presets and derivation helpers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from companion_kernel.errors import InvalidRequest
from companion_kernel.validation import (
    PRESETS,
    JavaScriptPolicy,
    Policy,
    PythonPolicy,
    ShellPolicy,
    get_policy,
    validate,
)


class TestPresets:
    def test_names(self) -> None:
        assert list(PRESETS) == ["strict", "standard", "off"]
        assert all(PRESETS[name].name == name for name in PRESETS)

    def test_get_policy_passes_policies_through(self) -> None:
        custom = Policy(name="mine")
        assert get_policy(custom) is custom
        assert get_policy(None) is PRESETS["strict"]

    def test_standard_allows_files_but_not_escapes(self) -> None:
        code = "from pathlib import Path\nimport csv\nprint(open('x.txt').read())"
        assert not validate(code, "python", "strict").ok
        assert validate(code, "python", "standard").ok
        for attack in (
            "eval('1')",
            "import subprocess",
            "().__class__.__base__.__subclasses__()",
            "import socket",
        ):
            assert not validate(attack, "python", "standard").ok, attack

    def test_standard_javascript_and_shell(self) -> None:
        assert validate("require('fs')", "js", "standard").ok
        assert not validate("require('child_process')", "js", "standard").ok
        assert validate("tar -czf out.tgz data", "sh", "standard").ok
        # Arithmetic only on values the cell itself sets (the shell validator's rule).
        assert validate("n=1\necho $((n + 1))", "sh", "standard").ok
        assert not validate("n=1\necho $((n + 1))", "sh", "strict").ok
        assert not validate("curl x", "sh", "standard").ok

    def test_standard_reports_some_rules_as_warnings(self) -> None:
        report = validate("class P:\n    def __reduce__(self): ...", "python", "standard")
        assert report.ok and [v.severity for v in report.violations] == ["warning"]


class TestFrozen:
    @pytest.mark.parametrize(
        "model", [Policy(name="x"), PythonPolicy(), JavaScriptPolicy(), ShellPolicy()]
    )
    def test_cannot_be_mutated(self, model) -> None:
        field = next(iter(type(model).model_fields))
        with pytest.raises(ValidationError):
            setattr(model, field, None)

    def test_unknown_fields_are_rejected(self) -> None:
        with pytest.raises(ValidationError):
            Policy(name="x", colour="red")  # type: ignore[call-arg]

    def test_hashable_and_equal_by_value(self) -> None:
        assert Policy(name="x") == Policy(name="x")
        assert hash(Policy(name="x")) == hash(Policy(name="x"))

    def test_fields_are_documented(self) -> None:
        for model in (Policy, PythonPolicy, JavaScriptPolicy, ShellPolicy):
            for name, info in model.model_fields.items():
                assert info.description, f"{model.__name__}.{name}"


class TestDerivation:
    def test_allow_modules(self) -> None:
        strict = get_policy("strict")
        numpy = strict.allow_modules("numpy")
        assert validate("import numpy as np", "python", numpy).ok
        assert not validate("import numpy as np", "python", strict).ok
        assert (
            numpy.name == "strict" and strict.python.allowed_modules < numpy.python.allowed_modules
        )

    def test_allow_module_lifts_a_block(self) -> None:
        policy = get_policy("strict").allow_modules("os")
        assert validate("import os", "python", policy).ok

    def test_block_modules_beats_allow_prefix(self) -> None:
        policy = get_policy("strict").block_modules("json.tool")
        assert validate("import json", "python", policy).ok
        assert not validate("from json import tool", "python", policy).ok

    def test_longest_entry_wins(self) -> None:
        with_path = get_policy("strict").allow_modules("os.path")
        assert validate("from os.path import join\nimport os.path as osp", "py", with_path).ok
        assert not validate("import os", "python", with_path).ok
        report = validate("import os.path", "python", with_path)
        assert "also binds 'os'" in report.violations[0].message

    def test_builtins(self) -> None:
        policy = get_policy("strict").allow_builtins("open")
        assert validate("open('x')", "python", policy).ok
        assert not validate("len('x')", "python", policy.block_builtins("len")).ok

    def test_javascript_modules(self) -> None:
        policy = get_policy("strict").allow_modules("lodash", language="javascript")
        assert validate("const _ = require('lodash')", "js", policy).ok
        with pytest.raises(InvalidRequest):
            get_policy("strict").allow_modules("x", language="shell")

    def test_commands(self) -> None:
        policy = get_policy("strict").allow_commands("git")
        assert validate("git status", "sh", policy).ok
        assert not validate("ls", "sh", policy.block_commands("ls")).ok

    def test_renamed_and_disabled_rules(self) -> None:
        policy = (
            get_policy("strict")
            .renamed("lab")
            .model_copy(update={"disabled_rules": frozenset({"python.import"})})
        )
        report = validate("import os", "python", policy)
        assert report.ok and report.policy == "lab" and report.violations == []

    def test_max_source_chars(self) -> None:
        policy = get_policy("strict").model_copy(update={"max_source_chars": 10})
        assert validate("x = 1", "python", policy).ok
        assert validate("x = 1 + 2 + 3", "python", policy).violations[0].rule == "python.input"


class TestNotebookMagics:
    """Ordinary notebooks pass `standard`; magics that spawn or evaluate hidden code do not."""

    @pytest.mark.parametrize(
        "code",
        [
            "%matplotlib inline",
            "%load_ext autoreload\n%autoreload 2",
            "%reload_ext autoreload",
            "%load_ext line_profiler",
            "%config InlineBackend.figure_format = 'retina'",
            "%%capture captured\nprint('hidden')",
            "%%time\nx = sum(range(10))",
            "%timeit x = {1: 2}",
            "%%writefile notes.txt\nanything, even import subprocess",
            "%%html\n<b>bold</b>",
            "%who\n%pwd\n%precision 3\n%xmode Minimal",
        ],
    )
    def test_accepted_under_standard(self, code: str) -> None:
        report = validate(code, "python", "standard")
        assert report.ok, report.summary()
        assert not validate(code, "python", "strict").ok

    @pytest.mark.parametrize(
        ("code", "needle"),
        [
            ("!ls", "shell escape"),
            ("files = !ls", "shell escape"),
            ("%%bash\nls", "%%bash is not allowed"),
            ("%system ls", "%system is not allowed"),
            ("%sx ls", "%sx is not allowed"),
            ("%run script.py", "%run is not allowed"),
            ("%pip install requests", "%pip is not allowed"),
            ("%env LD_PRELOAD=/tmp/x.so", "%env is not allowed"),
            ("import os\n%matplotlib {os.system('id')}", "IPython evaluates"),
            ("%time x = \"{os.system('id')}\"", "IPython evaluates"),
            ("%pwd $x", "IPython evaluates"),
            ("%%capture out\nimport subprocess", "subprocess"),
            ("%load_ext subprocess", "subprocess"),
            ("%load_ext os.path extra", "one module name"),
            ("%config IPKernelApp.exec_lines = ['x']", "InlineBackend"),
            ("%config InlineBackend.rc = dict(x=__import__('os'))", "InlineBackend"),
        ],
    )
    def test_rejected_under_standard(self, code: str, needle: str) -> None:
        report = validate(code, "python", "standard")
        assert not report.ok
        assert any(needle in v.message for v in report.errors), report.summary()


class TestShellCd:
    @pytest.mark.parametrize("code", ["cd /tmp && GREETING=hi", "cd", "cd ..; ls", 'cd "$HOME"'])
    def test_standard_goes_anywhere_strict_stays_below(self, code: str) -> None:
        assert validate(code, "shell", "standard").ok
        report = validate(code, "shell", "strict")
        assert [v.rule for v in report.errors] == ["shell.write"]

    def test_writes_are_still_checked_after_cd(self) -> None:
        report = validate("cd /tmp; echo x > /dev/tcp/example.com/80", "shell", "standard")
        assert [v.rule for v in report.errors] == ["shell.network"]
