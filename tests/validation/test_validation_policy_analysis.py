"""The default policy on model-written analysis code and on the escape classes.

Figures for the README come from here: run
``pytest -q -s tests/validation/test_validation_policy_analysis.py -k figures``.
"""

from __future__ import annotations

import pytest
from validation._validation_analysis_corpus import ANALYSIS
from validation._validation_corpus import PYTHON_ATTACKS, PYTHON_ESCAPES

from companion_kernel.config import EngineConfig
from companion_kernel.validation import get_policy, validate
from companion_kernel.validation._python import check, module_allowed

DEFAULT = get_policy(EngineConfig().policy)
STRICT = get_policy("strict")

# Strict-corpus entries the default policy accepts on purpose: each is the first link of a
# chain whose escaping links stay blocked, or file/help access the default allows.
STRICT_ONLY = {
    "reduce-gadget": "__reduce__ definitions are a warning; pickle loads are blocked",
    "getattr-dunder": "__class__ alone is ordinary introspection",
    "getattr-variable": "computed names on ordinary objects are allowed",
    "getattr-reduce": "reaches only __class__",
    "fstring-dunder": "reaches only __class__.__base__ (formatted, not called)",
    "attrgetter": "reaches only __class__",
    "help": "help() is allowed",
    "license": "license() is allowed",
    "metaclass-mro": "__mro__ alone is ordinary introspection",
    "object-getattribute": "__getattribute__/__dict__ are ordinary introspection",
    "setattr-class": "__class__ assignment changes only the object itself",
    "match-class-pattern": "a class pattern reading __class__",
    "match-args": "__match_args__ naming __class__",
    "open-file": "files are allowed",
}


def _ids(corpus: list[tuple[str, ...]]) -> list[str]:
    return [entry[0] for entry in corpus]


def _acceptance() -> tuple[int, list[str]]:
    rejected = [name for name, code in ANALYSIS if not validate(code, "python", DEFAULT).ok]
    return len(ANALYSIS) - len(rejected), rejected


def _escapes() -> list[tuple[str, str]]:
    strict_attacks = [(n, c) for n, c, _ in PYTHON_ATTACKS if n not in STRICT_ONLY]
    return strict_attacks + [(n, c) for n, c, _ in PYTHON_ESCAPES]


class TestFigures:
    def test_the_engine_default_is_the_policy_measured_here(self) -> None:
        assert DEFAULT.name == "standard" and DEFAULT.python.dynamic_attributes

    def test_figures(self) -> None:
        accepted, rejected = _acceptance()
        escapes = _escapes()
        caught = sum(not validate(code, "python", DEFAULT).ok for _, code in escapes)
        print(
            f"\ndefault policy {DEFAULT.name!r}: analysis corpus {accepted}/{len(ANALYSIS)} "
            f"accepted ({100 * accepted / len(ANALYSIS):.1f}%, refused: {rejected}); "
            f"escape corpus {caught}/{len(escapes)} rejected "
            f"({100 * caught / len(escapes):.1f}%)"
        )
        assert len(ANALYSIS) >= 60
        assert accepted / len(ANALYSIS) >= 0.98, rejected
        assert caught == len(escapes)

    def test_strict_only_entries_exist(self) -> None:
        assert set(STRICT_ONLY) <= set(_ids(PYTHON_ATTACKS))


class TestEscapeClasses:
    @pytest.mark.parametrize(("name", "code", "rule"), PYTHON_ESCAPES, ids=_ids(PYTHON_ESCAPES))
    def test_rejected_by_default_with_its_rule(self, name: str, code: str, rule: str) -> None:
        report = validate(code, "python", DEFAULT)
        assert not report.ok
        assert rule in {v.rule for v in report.errors}, report.summary()

    @pytest.mark.parametrize(("name", "code", "rule"), PYTHON_ESCAPES, ids=_ids(PYTHON_ESCAPES))
    def test_rejected_by_strict(self, name: str, code: str, rule: str) -> None:
        assert not validate(code, "python", STRICT).ok

    @pytest.mark.parametrize(("name", "code"), _escapes(), ids=[e[0] for e in _escapes()])
    def test_no_escape_takes_a_shortcut(self, name: str, code: str) -> None:
        assert check(code, DEFAULT) == check(code, DEFAULT, full=True)

    def test_classes_are_covered(self) -> None:
        prefixes = {name.split("-")[0] for name in _ids(PYTHON_ESCAPES)}
        assert {"format", "asyncio", "logging", "injected", "process", "network"} <= prefixes
        assert {"interp", "dunder"} <= prefixes


class TestAnalysisCorpus:
    @pytest.mark.parametrize(("name", "code"), ANALYSIS, ids=_ids(ANALYSIS))
    def test_shortcuts_agree_with_the_full_check(self, name: str, code: str) -> None:
        assert check(code, DEFAULT) == check(code, DEFAULT, full=True)

    def test_names_are_unique(self) -> None:
        assert len(set(_ids(ANALYSIS))) == len(ANALYSIS)


class TestDefaultPolicyIdioms:
    @pytest.mark.parametrize(
        "code",
        [
            "import pandas as pd\nimport numpy as np\nimport matplotlib.pyplot as plt",
            "import sys, os, warnings, traceback\nfrom IPython.display import display",
            "try:\n    import numpy\nexcept ImportError:\n    numpy = None",
            "value = getattr(obj, name, None)\nsetattr(obj, name, 1)\nhasattr(obj, name)",
            "print(vars(obj), obj.__dict__, type(obj).__name__, obj.__class__.__name__)",
            "try:\n    f()\nexcept Exception as e:\n    tb = e.__traceback__\n    c = e.__cause__",
            "class A:\n    def __getattr__(self, n):\n        return n\n"
            "    def __setattr__(self, n, v):\n        super().__setattr__(n, v)",
            "with open('out.txt', 'w') as f:\n    f.write('x')",
            "import asyncio\nawait asyncio.sleep(0)",
            "handler = getattr(self, 'on_' + event, None)",
            "print(tools.list())\nresult = tools.add(1, 2)\ntools.call('add', 1, 2)",
            "try:\n    tools.missing()\nexcept ToolError as exc:\n    print(exc)",
            "model.modules()",
            "import logging\nlogging.Formatter('%(message)s')",
            "from string import Template\nTemplate('$a').substitute(a=1)",
            "fmt = '{:.2f}'\nprint(fmt.format(3.14159))",
            "np.load('a.npy', allow_pickle=False)",
        ],
    )
    def test_accepted(self, code: str) -> None:
        report = validate(code, "python", DEFAULT)
        assert report.ok and not report.errors, report.summary()

    def test_strict_keeps_its_allow_list(self) -> None:
        for code in ("import numpy", "import os", "getattr(obj, name)", "vars(obj)"):
            assert not validate(code, "python", STRICT).ok, code

    def test_strict_needs_literal_format_strings(self) -> None:
        assert not validate("fmt.format(x)", "python", STRICT).ok
        assert not validate("str.format(fmt, x)", "python", STRICT).ok
        assert validate("'{} {x}'.format(1, x=2)\nstr.format('{}', 1)", "python", STRICT).ok

    def test_any_module_but_private_names(self) -> None:
        allowed = frozenset({"*", "numpy._core"})
        blocked = frozenset({"subprocess", "importlib"})
        assert module_allowed("sklearn.linear_model", allowed, blocked)
        assert not module_allowed("subprocess", allowed, blocked)
        assert not module_allowed("_posixsubprocess", allowed, blocked)
        assert not module_allowed("pandas._libs", allowed, blocked)
        assert module_allowed("numpy._core.multiarray", allowed, blocked)

    def test_blocking_a_module_in_the_default_policy(self) -> None:
        policy = DEFAULT.block_modules("pandas")
        assert not validate("import pandas as pd", "python", policy).ok
        assert validate("import numpy as np", "python", policy).ok

    def test_dict_config_names_only_safe_classes(self) -> None:
        ok = (
            "import logging.config\nlogging.config.dictConfig({'version': 1, 'handlers': "
            "{'f': {'class': 'logging.handlers.RotatingFileHandler', 'filename': 'a.log'}}})"
        )
        assert validate(ok, "python", DEFAULT).ok
