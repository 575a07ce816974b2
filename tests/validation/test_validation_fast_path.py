"""The lexical fast path: it skips the parse only where the full check finds nothing.

Differential: for every corpus entry and for generated or mutated sources, whenever the
fast path accepts a cell, the full check (parse plus full walk) reports nothing but, at
most, ``python.syntax`` - and nothing at all when the cell parses.
"""

from __future__ import annotations

import ast
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from validation._validation_corpus import PYTHON_ATTACKS, PYTHON_BENIGN

from companion_kernel.validation import Policy, get_policy, validate
from companion_kernel.validation._python import check, fast_path_applies

STRICT = get_policy("strict")
POLICIES = [
    STRICT,
    get_policy("standard"),
    STRICT.allow_modules("os").allow_builtins("open").block_builtins("print").renamed("custom"),
]
ATTACKS = [c[1] for c in PYTHON_ATTACKS]
BENIGN = [c[1] for c in PYTHON_BENIGN]


def _parses(code: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _assert_agrees(code: str, policy: Policy) -> None:
    """Fast path taken -> the full check finds at most a syntax error (none if it parses)."""
    if not fast_path_applies(code, policy):
        return
    full = check(code, policy, full=True)
    assert all(v.rule == "python.syntax" for v in full), (code, full)
    if _parses(code):
        assert full == [], (code, full)
        assert validate(code, "python", policy).ok == (check(code, policy, fast=False) == [])


class TestCorpus:
    @pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
    @pytest.mark.parametrize("code", ATTACKS, ids=[c[0] for c in PYTHON_ATTACKS])
    def test_no_attack_takes_the_fast_path(self, code: str, policy: Policy) -> None:
        if not any(v.severity == "error" for v in check(code, policy, full=True)):
            return  # accepted by this policy on purpose (standard allows help(), open(), ...)
        assert not fast_path_applies(code, policy)
        for benign in BENIGN[:5]:
            assert not fast_path_applies(benign + "\n" + code, policy)
            assert not fast_path_applies(code + "\n" + benign, policy)

    @pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
    @pytest.mark.parametrize("code", BENIGN, ids=[c[0] for c in PYTHON_BENIGN])
    def test_benign_verdicts_are_identical(self, code: str, policy: Policy) -> None:
        _assert_agrees(code, policy)
        fast, slow = check(code, policy), check(code, policy, fast=False)
        assert fast == slow or (fast == [] and fast_path_applies(code, policy))
        assert (fast == []) == (check(code, policy, full=True) == [])

    def test_the_fast_path_is_actually_taken(self) -> None:
        taken = [code for code in BENIGN if fast_path_applies(code, STRICT)]
        assert len(taken) >= len(BENIGN) // 3

    def test_trigger_words_come_from_the_policy(self) -> None:
        code = "x = open\ny = 1\n"
        assert not fast_path_applies(code, STRICT)
        assert fast_path_applies(code, STRICT.allow_builtins("open"))
        code = "import csv as c, json\nx = 1\n"
        assert not fast_path_applies(code, STRICT)
        assert fast_path_applies(code, STRICT.allow_modules("csv"))
        assert not fast_path_applies("x = print\ny = 1\n", POLICIES[2])


REJECTED_BY_FULL_CHECK = [
    # implicit concatenation joins words (a format field, a dunder) across literals
    'g = (i for i in [1])\nprint("{0.gi_fr" "ame}".format(g))',
    'g = (i for i in [1])\nprint("{0.gi_fr"  # split\n      "ame}".format(g))',
    'g = (i for i in [1])\nprint("{0.gi_fr" f"ame}".format(g))',
    'g = (i for i in [1])\nprint("{0.gi" "_fr" "" "ame}".format(g))',
    'x = 1\nprint("{0._" "_class_" "_}".format(x))',
    # ... also inside an f-string's replacement field
    """g = (i for i in [1])\nprint(f'{"{0.gi_fr" "ame}".format(g)}')""",
    """g = (i for i in [1])\nprint(f'''{f"{'{0.gi_fr' rf'ame}'.format(g)}"}''')""",
    # escapes: `\n` ends a word in the value, `\x5f` spells one
    'x: "\\neval(1)" = 1\ny = 1',
    "x = 1\nprint('{0.\\x5f_class__}'.format(1))",
    # imports the plain-line check must not wave through
    "import os\nx = 1",
    "import math, os\nx = 1",
    "from os import system\nx = 1",
    "x = 1; import os\ny = 2",
    "from math import (\n    pi,\n)\nimport os",
    "if True: import os\nx = 1",
    # IPython syntax, look-alikes, odd line breaks
    "x = 1\n!ls",
    "x = 1\ny = !ls",
    "x = 1\n%time y = 2",
    "x = 1\n\x0c!ls",
    "x = 1\r!ls",
    "x = 1\nｅval('1')",
    "x = 1\nls -la\n" + "y = get_ipython()",
]
NOT_FAST = [
    *REJECTED_BY_FULL_CHECK,
    "run evil.py",  # a single line: IPython's automagic could run it
    "run evil.py\n",
    "x = 1\ny = (\\\n 2)",  # backslash continuation
    "x = 1\ndef f(:\n",  # open bracket: the full path reports python.syntax with a position
    "x = 1\ns = 'abc\n",
    "x = 1\nprint('import os')",
    "s = '''\nimport os\n'''\nt = 2",  # conservative: lines in strings are checked too
]


class TestTricky:
    @pytest.mark.parametrize("code", NOT_FAST, ids=repr)
    def test_not_fast(self, code: str) -> None:
        assert not fast_path_applies(code, STRICT)

    @pytest.mark.parametrize("code", REJECTED_BY_FULL_CHECK, ids=repr)
    def test_rejected(self, code: str) -> None:
        assert check(code, STRICT, full=True) != []
        assert not validate(code, "python").ok

    def test_syntax_errors_with_open_brackets_keep_their_position(self) -> None:
        (v,) = validate("x = 1\ndef f(:\n", "python").violations
        assert (v.rule, v.line, v.column) == ("python.syntax", 2, 7)

    def test_other_syntax_errors_are_left_to_the_kernel(self) -> None:
        code = "x = 1\ny = = 2\n"
        assert fast_path_applies(code, STRICT) and validate(code, "python").ok
        assert [v.rule for v in check(code, STRICT, fast=False)] == ["python.syntax"]

    @pytest.mark.parametrize(
        "code",
        [
            "import math\nfrom collections import Counter as C, deque  # note\nx = 1",
            'x = "a" "b"\ny = f"{x!r:>10}"  # comment with \'quote\nz = r"\\d+"',
            'def f(p: "Point") -> "list[int]":\n    return [1]\n',
            "x = 1\nprint('important')",  # `import` inside a longer word needs no import line
        ],
    )
    def test_ordinary_code_is_fast(self, code: str) -> None:
        assert fast_path_applies(code, STRICT)
        assert check(code, STRICT, full=True) == []


PIECES = [
    *"()[]{}'\"\\#\n\t .,:;=!%?",
    '" "',
    "' '",
    '"{0.',
    "}",
    "f'",
    "r'",
    '"""',
    "_",
    "__",
    "\\n",
    "\\\n",
    "import os",
    "import math",
    "from math import pi",
    "gi_fr",
    "ame",
    "ev",
    "al",
    "eval",
    "type",
    "  # c\n",
    "ｅ",
    "\r",
    "\x0c",
]


FAST_BENIGN = [code for code in BENIGN if fast_path_applies(code, STRICT)]


@st.composite
def mutated(draw: st.DrawFn, base: list[str]) -> str:
    text = draw(st.sampled_from(base))
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)))
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 6)) :]
        else:
            text = text[:position] + piece + text[position + len(piece) :]
    return text


@st.composite
def split_triggers(draw: st.DrawFn) -> str:
    """A trigger word cut into adjacent string literals inside an ordinary cell."""
    word = draw(st.sampled_from(["gi_frame", "f_globals", "__class__", "eval", "co_code"]))
    cut = draw(st.integers(0, len(word)))
    gap = draw(st.sampled_from([" ", "", "\n", "  # c\n  ", ' "" ', " f", " rb"]))
    head, tail = word[:cut], word[cut:]
    field = draw(st.sampled_from(["{0.%s}", "{0[%s]}", "%s", "List[%s]"]))
    left, right = field.split("%s")
    literal = f'"{left}{head}"{gap}"{tail}{right}"'
    use = draw(
        st.sampled_from(
            ["print(({lit}).format(x))", "y: ({lit}) = 1", "z = ({lit})", "z = f'{{{lit}}}'"]
        )
    )
    return "x = 1\n" + use.format(lit=literal) + "\n"


PROFILE = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestDifferential:
    @PROFILE
    @given(code=mutated(BENIGN + ATTACKS), policy=st.sampled_from(POLICIES))
    def test_mutated_sources(self, code: str, policy: Policy) -> None:
        _assert_agrees(code, policy)

    @PROFILE
    @given(code=mutated(FAST_BENIGN), policy=st.sampled_from(POLICIES))
    def test_mutated_fast_path_cells(self, code: str, policy: Policy) -> None:
        _assert_agrees(code, policy)

    @PROFILE
    @given(code=split_triggers())
    def test_split_trigger_words(self, code: str) -> None:
        _assert_agrees(code, STRICT)
        assert not fast_path_applies(code, STRICT)

    @PROFILE
    @given(
        code=st.lists(st.sampled_from(PIECES + list("abcdefgilmnoprstxy01")), max_size=80).map(
            "".join
        ),
        policy=st.sampled_from(POLICIES),
    )
    def test_grammar_heavy_text(self, code: str, policy: Policy) -> None:
        _assert_agrees(code, policy)


def test_letter_before_a_quote_inside_an_fstring_field_is_content_not_a_prefix() -> None:
    # Found by hypothesis: `"f" "_globals"` inside an f-string field joins to `f_globals`;
    # reading the `f` as a string prefix hid the word from the scan.
    from companion_kernel.validation._pyscan import scan_words

    code = "x = 1\nz = f'{\"f\" \"_globals\"}'\n"
    assert "f_globals" in scan_words(code)
    assert not fast_path_applies(code, STRICT)
