"""Guess whether a snippet is Python, JavaScript or shell.

``detect_language(code)`` returns a :class:`Detection`. Two kinds of evidence:

* **Decisive**: a shebang on the first line (``#!/bin/bash``, ``#!/usr/bin/env node``,
  ``#!/usr/bin/env python3``, ...) or a Jupyter cell magic on the first non-blank line
  (``%%bash``, ``%%sh``, ``%%script bash``, ``%%javascript``, ``%%js``, ``%%python``). Any
  other cell magic (``%%time``, ``%%capture``, ...) only IPython understands, so it means
  Python. These give confidence 1.0.
* **Scored**: a weighted sum of cheap regex signals per language (``def f(...):``,
  ``console.log``, ``=>``, ``$HOME``, a first word that is a common command, ...). Strings
  and comments are blanked first so ``echo "print(1)"`` stays shell.

**Default.** When nothing fires, or the two best languages are within
``_MIN_MARGIN`` points of each other, the result is *ambiguous* and the language is
``default`` — ``"python"`` unless the caller passes another. Bare expressions such as
``x = 1`` or ``2 + 2`` are valid Python, the engine's most common language.

**Cost.** Only the first 6,000 characters (cut at a line break) are scanned, and nearly
every pattern starts with a literal so the regex engine skips ahead: a 100-line snippet
takes about 0.25 ms (``benchmarks/bench_detection.py``), any input at most a few ms.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from companion_kernel.errors import UnknownLanguage

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "DetectedLanguage", "Detection", "detect_language"]

DetectedLanguage = Literal["python", "javascript", "shell"]
LANGUAGES: tuple[DetectedLanguage, ...] = get_args(DetectedLanguage)
DEFAULT_LANGUAGE: DetectedLanguage = "python"

_MAX_CHARS = 6000
_MIN_SCORE = 1.0
_MIN_MARGIN = 1.0
_CONFIDENCE_SCALE = 4.0  # score at which a lone language reaches ~63% confidence


class Detection(BaseModel):
    """The guessed language of a snippet and why."""

    model_config = ConfigDict(frozen=True)

    language: DetectedLanguage
    """The language to run the snippet as (``default`` when ``ambiguous``)."""
    confidence: float = Field(ge=0.0, le=1.0)
    """How sure the guess is: 1.0 for a shebang or cell magic, 0.0 for empty input."""
    scores: dict[str, float]
    """Raw signal score per language (all zero for decisive or empty input)."""
    reason: str
    """Short human explanation: which signals fired."""
    ambiguous: bool
    """True when the evidence was too weak or too close to call and the default was used."""


# --- signals -----------------------------------------------------------------------

_PY, _JS, _SH = "python", "javascript", "shell"


@dataclass(frozen=True, eq=False)  # identity hash: signals are dict keys
class _Signal:
    label: str
    weights: dict[str, float]
    cap: int = 1
    """Occurrences beyond this add nothing: one signal must not drown the others."""


def _h(pattern: str) -> str:
    # \h (horizontal space) keeps line patterns from running onto the next line.
    return pattern.replace(r"\h", r"[ \t]")


_COMMAND_WORDS = """
    ls cd pwd echo printf cat grep egrep fgrep rg mkdir rmdir rm cp mv touch chmod chown
    chgrp ln find xargs sed awk head tail wc sort uniq cut tr tee diff patch stat du df ps
    kill pkill killall pgrep uname hostname whoami id groups uptime date sleep which whereis
    env printenv export source alias unalias history clear curl wget ssh scp rsync tar gzip
    gunzip zip unzip bzip2 xz git pip pip3 npm npx yarn pnpm node deno bun python python3
    conda apt apt-get yum dnf brew sudo su systemctl service journalctl docker kubectl make
    cmake gcc cargo rustc jq yq sha256sum md5sum base64 openssl seq yes nohup exit set read
    trap bash sh zsh lsof netstat ss ping dig nslookup ifconfig mount umount crontab tmux
    vim nano basename dirname realpath readlink mktemp nproc lscpu lsblk dmesg getent
    useradd passwd test exec eval ulimit umask cmp paste hexdump bc time pytest ruff uv pipx
"""
_COMMANDS = frozenset(_COMMAND_WORDS.split())

_LineRule = tuple[_Signal, Callable[[str], bool] | None]

# Line signals: tried in order at the start of each line (indentation removed); the first
# alternative that matches claims the line. Every alternative starts with a literal where
# possible: the regex engine then rejects a non-matching branch after one character.
_LINE_SIGNALS: list[tuple[str, list[str], _Signal]] = [
    ("py_def", [r"def\h+\w+\h*\(", r"async\h+def\h"], _Signal("def", {_PY: 5}, 3)),
    ("py_class", [r"class\h+\w+\h*(?:\([^)\n]*\))?\h*:"], _Signal("class X:", {_PY: 5}, 2)),
    (
        "py_import",
        [
            r"import\h+[\w.]+(?:\h+as\h+\w+)?(?:\h*,\h*[\w.]+(?:\h+as\h+\w+)?)*\h*(?:;|$)",
            r"from\h+\.*[\w.]*\h+import\h",
        ],
        _Signal("import", {_PY: 5}, 2),
    ),
    (
        "js_import",
        [r"import\h+(?:[\w$*{][^\n]*?\h+from\h*[\"'`]|[\"'`])"],
        _Signal("import from", {_JS: 5}, 2),
    ),
    (
        "js_export",
        [
            r"export\h+(?:default|const|let|var|class|async|function|\{|\*)",
            r"module\.exports",
            r"exports\.\w",
        ],
        _Signal("export", {_JS: 5}, 2),
    ),
    (
        "py_else",
        [r"elif\b[^\n]*:", r"else\h*:", r"try\h*:", r"finally\h*:", r"except\b[^\n]*:"],
        _Signal("elif/except", {_PY: 4}, 2),
    ),
    (
        "py_block",
        [r"if\b[^\n]*:\h*$", r"while\b[^\n]*:\h*$", r"with\b[^\n]*:\h*$", r"async\h[^\n]*:\h*$"],
        _Signal("block:", {_PY: 3}, 3),
    ),
    (
        "py_for",
        [r"for\h+\(?\w+(?:\h*,\h*\w+)*\)?\h+in\h+[^\n;:]*:"],
        _Signal("for ... in ...:", {_PY: 3}, 2),
    ),
    ("sh_for", [r"for\h+\w+\h+in\b[^\n:]*(?:;\h*do\b|$)"], _Signal("for x in", {_SH: 3}, 2)),
    (
        "sh_test",
        [
            r"if\h+(?:\[\[?\h|!\h|test\h|\(\()",
            r"elif\h+(?:\[\[?\h|test\h)",
            r"while\h+(?:\[\[?\h|test\h|\(\()",
            r"until\h",
            r"\[\[?\h+(?:-[a-zA-Z]\b|!|\"\"|\$)",
        ],
        _Signal("[ test ]", {_SH: 5}, 2),
    ),
    (
        "sh_keyword",
        [
            r"fi\h*(?:$|[;&|)])",
            r"done\h*(?:$|[;&|)<>])",
            r"esac\h*(?:$|[;&|)])",
            r"then\h*(?:$|[;&|)]|\h[\w$])",
            r"do\h*(?:$|[;&|)]|\h[\w$])",
            r"else\h*$",
        ],
        _Signal("fi/done/then", {_SH: 5}, 3),
    ),
    ("sh_case", [r"case\h+\S+\h+in\h*$"], _Signal("case ... in", {_SH: 5})),
    (
        "js_decl",
        [r"const\h+[\w$\[{]", r"let\h+[\w$\[{]", r"var\h+[\w$\[{]"],
        _Signal("const/let/var", {_JS: 5}, 3),
    ),
    (
        "js_function",
        [r"function\h*\*?\h*\(", r"function\h*\*?\h*[\w$]+\h*\((?!\))", r"async\h+function\b"],
        _Signal("function", {_JS: 5}, 2),
    ),
    ("fn_empty", [r"function\h+[\w$-]+\h*\(\)"], _Signal("function f()", {_JS: 2, _SH: 1.5}, 2)),
    ("sh_function", [r"function\h+[\w-]+\h*\{"], _Signal("function f {", {_SH: 5})),
    (
        "js_class",
        [r"class\h+[\w$]+(?:\h+extends\h+[\w$.]+)?\h*\{"],
        _Signal("class X {", {_JS: 5}, 2),
    ),
    (
        "js_control",
        [
            r"if\h*\((?!\()[^\n]*[^:\s]\h*$",
            r"while\h*\([^\n]*[^:\s]\h*$",
            r"for\h*\(",
            r"switch\h*\(",
        ],
        _Signal("if (...)", {_JS: 2.5}, 3),
    ),
    (
        "js_close",
        [r"\}\h*(?:else|catch|finally|while)\b", r"\}\h*\)"],
        _Signal("} else / })", {_JS: 2}, 3),
    ),
    ("js_block", [r"try\h*\{", r"do\h*\{", r"else\h*\{"], _Signal("try {", {_JS: 3}, 2)),
    ("js_return", [r"return\b[^\n]*;\h*$"], _Signal("return ...;", {_JS: 2}, 2)),
    ("js_block_comment", [r"/\*"], _Signal("/* comment", {_JS: 1.5})),
    ("py_print", [r"print\h*\("], _Signal("print()", {_PY: 4}, 2)),
    (
        "py_statement",
        [r"pass\b", r"raise\b", r"assert\b", r"del\b", r"nonlocal\b", r"global\b"],
        _Signal("pass/raise/assert", {_PY: 3}, 2),
    ),
    ("py_decorator", [r"@[\w.]+"], _Signal("@decorator", {_PY: 3}, 2)),
    ("py_magic", [r"%%?\w+", r"![\w./]"], _Signal("IPython %magic/!cmd", {_PY: 3}, 2)),
    ("sh_prompt", [r"\$\h+[a-z]"], _Signal("$ prompt", {_SH: 4})),
    (
        "sh_export",
        [
            rf"{word}\h+-?[A-Za-z_]"
            for word in ["export", "local", "readonly", "declare", "typeset", "unset", "alias"]
        ],
        _Signal("export/local", {_SH: 5}, 2),
    ),
    (
        "sh_source",
        [r"\.\h+[\w~./$\"]", r"source\h+[\w~./$\"]", r"\.{1,2}/[\w.-]"],
        _Signal("./script", {_SH: 3}, 2),
    ),
]

# Lines starting with a word, tried last: the word is read once (possessively, so a failed
# line costs one pass), then each tail is tried; a tail may also check the word itself.
_WORD_LINE_SIGNALS: list[tuple[str, str, _Signal, Callable[[str], bool] | None]] = [
    ("sh_funcdef", r"\h*\(\)\h*\{", _Signal("f() {", {_SH: 2.5}, 2), None),
    (
        "sh_assign",
        r"=(?:\"\"|\$\([^\n]*\)|\$\{?[\w#@?]+\}?|[\w./:~@%+,-]+|\([^\n,]*\))?"
        r"\h*(?:;|&&|\|\||$)",
        _Signal("NAME=value", {_SH: 3}, 3),
        str.isidentifier,
    ),
    ("sh_env_prefix", r"=\S+\h+[a-z]", _Signal("VAR=x cmd", {_SH: 3}), str.isupper),
    ("py_unpack", r"(?:\h*,\h*\w+)+\h*=[^=]", _Signal("a, b = ...", {_PY: 2.5}), None),
    (
        "py_assign",
        r"(?:\[[^\]\n]*\])?\h+[-+*/%|&]?=\h+[^\n;{]*$",
        _Signal("x = ...", {_PY: 1}, 3),
        None,
    ),
    (
        "sh_command",
        # an argument, not an operator: `cat /etc/x`, `chmod +x`, but not `date + 1`
        r"(?=\h+(?:[^\s=(,:\[%<>!*/+.-]|[/+.*~-](?![\s=]))|\h*(?:$|[;|&>]))",
        _Signal("command", {_SH: 3.5}, 3),
        _COMMANDS.__contains__,
    ),
]

# Code signals: searched anywhere in the text with strings and comments blanked.
_CODE_SIGNALS: list[tuple[str, _Signal]] = [
    (r"=>", _Signal("=>", {_JS: 3.5}, 3)),
    (r"===|!==", _Signal("===", {_JS: 3.5}, 3)),
    (r";(?<!;;)\h*$", _Signal("; at line end", {_JS: 1}, 6)),
    (r"\{\h*$", _Signal("{ at line end", {_JS: 0.7, _SH: 0.2}, 5)),
    (r"new\h+[A-Z][\w$]*\h*\(", _Signal("new X()", {_JS: 2.5}, 2)),
    (r"process\.(?:env|argv|exit|stdout|cwd)\b", _Signal("process.env", {_JS: 3}, 2)),
    (r"async\h+(?:function\b|\(|[\w$]+\h*=>)", _Signal("async function", {_JS: 4}, 2)),
    (r"\+\+", _Signal("++", {_JS: 2}, 2)),
    (r"\?\.|\?\?", _Signal("?. / ??", {_JS: 3}, 2)),
    (r"!(?![=\s!])(?<!\$!)(?<!\n!)", _Signal("!x", {_JS: 1.5}, 3)),
    (r"\{\h*[\w$]+\h*:\h*(?![\s}])", _Signal("{key: value}", {_JS: 1.5}, 2)),
    (r"\.(?:replace|match|test|split|search)\(/", _Signal("regex literal", {_JS: 3})),
    (r"\.\.\.[\w$\[{\"]", _Signal("...spread", {_JS: 2.5}, 2)),
    (r"__[a-z]\w*__\b", _Signal("__dunder__", {_PY: 2}, 2)),
    (
        # bounded: an unclosed bracket must not make every ` for` scan to the line's end
        r" for\h+\(?\w+(?:\h*,\h*\w+)*\)?\h+in\h+[^\n;$\])}]{0,200}[\])}]",
        _Signal("comprehension", {_PY: 3}, 2),
    ),
    (r":\h*$", _Signal(": at line end", {_PY: 1}, 3)),
    (r"\[-?\w*:-?\w*(?::-?\d+)?\]", _Signal("slice", {_PY: 2}, 2)),
    (r"->\h*[\w\[\]., |]+:", _Signal("-> annotation", {_PY: 3})),
    (r":=", _Signal(":=", {_PY: 2})),
    (r";\h*(?:then|do)\b", _Signal("; then / ; do", {_SH: 5}, 2)),
    (r";\h*(?:fi|done|esac)\b", _Signal("; fi / ; done", {_SH: 5}, 2)),
    (r";;\h*$", _Signal(";;", {_SH: 4})),
    (r"\[\[\h", _Signal("[[ ]]", {_SH: 3})),
    (r"\*\.[a-z]{1,4}\b", _Signal("*.ext glob", {_SH: 2})),
    (r"~/(?<=[\s=:]~/)", _Signal("~/path", {_SH: 2})),
    (r"<<-?\h*(?:\"\"|[A-Z_]{2,})", _Signal("heredoc", {_SH: 4})),
    (
        r">>?\h*(?:/dev/null|&\d|\$\w+|[\w~./$-]*\.(?:txt|log|out|err|csv|json|md|tmp|html|xml"
        r"|ya?ml|conf|sh|py|js|gz|tar)\b)",
        _Signal("redirect", {_SH: 3}, 2),
    ),
    (r"-(?<=[\w\"'/.] -)-?[a-zA-Z][\w-]*(?=\h|$)", _Signal("-flag", {_SH: 1}, 4)),
]

# A command after `|`, `||`, `&&` or `;` (the word is checked against _COMMANDS).
_CHAINED_COMMAND = (r"(?:\|\|?|&&|;)\h*([a-z][\w.+-]*)(?=\h|$)", _Signal("| command", {_SH: 3}, 3))

# Shell expansions: searched with only double-quoted strings kept (the shell expands there).
_DQ_SIGNALS: list[tuple[str, _Signal]] = [
    (r"\$(?:[A-Za-z_]\w*|[0-9@#?*!$])(?![\w(]|\.\w)", _Signal("$VAR", {_SH: 2.5}, 4)),
    (
        r"\$\{[#!]?[A-Za-z_]\w*(?:\[[^\]\n]{0,100}\])?(?:[:#%/^,][^}\n]{0,100})?\}",
        _Signal("${VAR}", {_SH: 2}, 2),
    ),
    (r"\$\((?![\s\"'])", _Signal("$(...)", {_SH: 3}, 2)),
]

# Word signals, looked up in a dict per distinct identifier chain (`self.items.append(`):
# `name` and `name(` match the whole chain, `name.` its head, `.name` its last part.
_WORD_SIGNALS: list[tuple[str, _Signal]] = [
    ("None True False", _Signal("None/True/False", {_PY: 2}, 3)),
    ("self self.", _Signal("self", {_PY: 2}, 3)),
    ("lambda", _Signal("lambda", {_PY: 3}, 2)),
    ("and or not is", _Signal("and/or/not", {_PY: 1}, 3)),
    (
        "len( range( isinstance( enumerate( sorted( zip( str( int( float( dict( list( tuple( "
        "set( open( input( super( hasattr( getattr( setattr( abs( sum( min( max( repr( round( "
        "any( all( type( bool( map( filter(",
        _Signal("Python builtin", {_PY: 1.5}, 4),
    ),
    (
        ".append .items .strip .lstrip .rstrip .startswith .endswith .lower .upper .format "
        ".extend .update .decode .encode .iterrows .groupby",
        _Signal("Python method", {_PY: 1.5}, 3),
    ),
    (
        "os. sys. re. json. math. np. pd. plt. random. datetime. collections. itertools. "
        "pathlib. subprocess. asyncio. time. shutil. logging. torch.",
        _Signal("Python module", {_PY: 1.5}, 3),
    ),
    ("null undefined", _Signal("null/undefined", {_JS: 2}, 3)),
    ("this this.", _Signal("this", {_JS: 3}, 3)),
    ("typeof instanceof", _Signal("typeof", {_JS: 3}, 2)),
    ("console.", _Signal("console.log", {_JS: 6}, 2)),
    (
        "JSON. Math. Object. Array. Promise. Number. String. Date. Symbol. Reflect. document.",
        _Signal("JS global", {_JS: 3}, 3),
    ),
    (
        "parseInt( parseFloat( setTimeout( setInterval( clearTimeout( clearInterval( isNaN( "
        "require( fetch( Boolean( Number( String( BigInt( Symbol( alert(",
        _Signal("JS function", {_JS: 3}, 3),
    ),
    (
        ".forEach .push .length .then .catch .toFixed .toString .toUpperCase .toLowerCase "
        ".indexOf .includes .splice .addEventListener .querySelector .getElementById "
        ".innerHTML .textContent .padStart .padEnd .trim .charAt .substring .some .every "
        ".findIndex .unshift",
        _Signal("JS method", {_JS: 2}, 4),
    ),
]

# Signals counted while blanking strings and comments.
_STRING_SIGNALS: dict[str, _Signal] = {
    "fstring": _Signal('f"..."', {_PY: 3.5}, 2),
    "triple": _Signal('"""', {_PY: 3}, 2),
    "template": _Signal("`${...}`", {_JS: 5}, 2),
    "slash_comment": _Signal("// comment", {_JS: 2.5}, 3),
    "hash_comment": _Signal("# comment", {_PY: 0.5, _SH: 0.5}, 4),
}


def _line_regex() -> tuple[re.Pattern[str], dict[str, _LineRule]]:
    # An empty group after each alternative names the signal. Alternatives that start with
    # the same letter share one branch (`i(?:f...|mport...)`), and each branch starts with
    # a literal, so the engine rejects most branches after one character.
    by_letter: dict[str, list[str]] = {}
    branches: list[str] = []
    rules: dict[str, _LineRule] = {}
    for name, alternatives, signal in _LINE_SIGNALS:
        for i, alternative in enumerate(alternatives):
            group = f"{name}_{i}"
            rules[group] = (signal, None)
            body = f"{_h(alternative)}(?P<{group}>)"
            if alternative[0].isalpha() and alternative[1:2] not in ("?", "*", "+", "{"):
                by_letter.setdefault(alternative[0], []).append(body[1:])
            else:
                branches.append(body)
    branches += [f"{letter}(?:{'|'.join(rest)})" for letter, rest in by_letter.items()]
    tails = []
    for name, tail, signal, check in _WORD_LINE_SIGNALS:
        tails.append(f"{_h(tail)}(?P<{name}>)")
        rules[name] = (signal, check)
    # Tried last: a line that starts with a word none of the keyword branches claimed.
    branches.append(r"(?P<first_word>[A-Za-z_][\w.+-]*+)(?:" + "|".join(tails) + ")")
    return re.compile(r"\n(?:" + "|".join(branches) + ")", re.M), rules


def _word_tables() -> tuple[dict[str, _Signal], dict[str, _Signal], dict[str, _Signal]]:
    exact: dict[str, _Signal] = {}
    head: dict[str, _Signal] = {}
    tail: dict[str, _Signal] = {}
    for words, signal in _WORD_SIGNALS:
        for word in words.split():
            if word.startswith("."):
                tail[word] = signal
            elif word.endswith("."):
                head[word] = signal
            else:
                exact[word] = signal
    return exact, head, tail


_LINE_RE, _LINE_RULES = _line_regex()
_CODE_RES = [(re.compile(_h(p), re.M), s) for p, s in _CODE_SIGNALS]
_DQ_RES = [(re.compile(_h(p), re.M), s) for p, s in _DQ_SIGNALS]
_CHAINED_RE = re.compile(_h(_CHAINED_COMMAND[0]), re.M)
_WORD_EXACT, _WORD_HEAD, _WORD_TAIL = _word_tables()
_WORDS = re.compile(r"[A-Za-z_$./][\w$.]*\(?")
_STRINGS = re.compile(
    r"\"[^\"\\\n]*(?:\\.[^\"\\\n]*)*\"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'|`[^`]*`"
    r"|#[^\n]*|//[^\n]*"
)
_INDENT = re.compile(r"\n[ \t]+")
_FIRST_LINE = re.compile(r"\A[\s\ufeff]*([^\n]*)")
_SHEBANG_NAMES: dict[str, DetectedLanguage] = {
    **dict.fromkeys(("python", "pypy", "ipython"), "python"),
    **dict.fromkeys(("node", "nodejs", "deno", "bun"), "javascript"),
    **dict.fromkeys(("bash", "sh", "zsh", "dash", "ksh", "ash", "mksh"), "shell"),
}
_CELL_MAGICS: dict[str, DetectedLanguage] = {
    "bash": "shell",
    "sh": "shell",
    "javascript": "javascript",
    "js": "javascript",
    "python": "python",
    "python3": "python",
}


# --- detection ---------------------------------------------------------------------


def detect_language(code: str, default: DetectedLanguage = DEFAULT_LANGUAGE) -> Detection:
    """Guess the language of ``code``; ambiguous input gives ``default`` (``"python"``)."""
    if default not in LANGUAGES:
        raise UnknownLanguage(f"default must be one of {', '.join(LANGUAGES)}, not {default!r}")
    decisive = _decisive(code)
    if decisive is not None:
        language, why = decisive
        return Detection(
            language=language,
            confidence=1.0,
            scores=dict.fromkeys(LANGUAGES, 0.0),
            reason=why,
            ambiguous=False,
        )
    if not code.strip():
        return Detection(
            language=default,
            confidence=0.0,
            scores=dict.fromkeys(LANGUAGES, 0.0),
            reason=f"empty input; default {default}",
            ambiguous=True,
        )
    return _score(code, default)


def _interpreter_language(words: list[str]) -> DetectedLanguage | None:
    """Map ``/usr/bin/env -S python3 -u`` style words to a language."""
    names = [w.rsplit("/", 1)[-1] for w in words]
    if names and names[0] == "env":
        names = [n for n in names[1:] if not n.startswith("-") and "=" not in n]
    if not names:
        return None
    return _SHEBANG_NAMES.get(names[0].rstrip("0123456789.").lower())


def _decisive(code: str) -> tuple[DetectedLanguage, str] | None:
    first = _FIRST_LINE.match(code)
    line = first.group(1).strip() if first else ""
    if line.startswith("#!"):
        language = _interpreter_language(line[2:].split())
        if language is not None:
            return language, f"shebang {line[:60]}"
    elif line.startswith("%%"):
        words = line[2:].split()
        if not words:
            return None
        name = words[0].lower()
        if name == "script":
            language = _interpreter_language(words[1:])
        else:
            language = _CELL_MAGICS.get(name, "python")
        if language is not None:
            return language, f"cell magic %%{' '.join(words[:2])}"[:70]
    return None


def _is_fstring_prefix(before: str) -> bool:
    """True if the (up to 3) characters before a quote make it an f-string: f, rf, fr."""
    prefix = before.lower()
    for candidate in ("rf", "fr", "f"):
        if prefix.endswith(candidate):
            rest = prefix[: -len(candidate)][-1:]
            return not (rest.isalnum() or rest == "_")
    return False


def _views(code: str, hits: dict[str, int]) -> tuple[str, str]:
    """Return (code with strings and comments blanked, same but double quotes kept).

    Both start with a newline and have indentation removed so line patterns can begin
    with a literal ``\\n``.
    """
    raw = code[:_MAX_CHARS]
    if len(code) > _MAX_CHARS and (cut := raw.rfind("\n")) > 0:
        raw = raw[:cut]
    raw = _INDENT.sub("\n", "\n" + raw.replace("\r\n", "\n"))
    clean: list[str] = []
    dq: list[str] = []
    pos = 0
    for m in _STRINGS.finditer(raw):
        start, end = m.span()
        text = m.group()
        first = text[0]
        if first in "#/":
            if raw[start - 1] not in " \t\n":
                continue  # `$#`, `${#x}`, `http://`: not a comment
            if first == "#":
                kind = "hash_comment"
            else:
                # Only whole-line `//` counts: inline it may be Python floor division.
                kind = "slash_comment" if raw[start - 1] == "\n" else ""
            if kind:
                hits[kind] = hits.get(kind, 0) + 1
            kept = ""
        else:
            kept = first + first
            if first == "`":
                if "${" in text:
                    hits["template"] = hits.get("template", 0) + 1
            else:
                if raw[start - 1] in "fFrR" and _is_fstring_prefix(raw[max(start - 3, 0) : start]):
                    hits["fstring"] = hits.get("fstring", 0) + 1
                if len(text) == 2 and raw[end : end + 1] == first:
                    hits["triple"] = hits.get("triple", 0) + 1
        chunk = raw[pos:start]
        clean.append(chunk)
        clean.append(kept)
        dq.append(chunk)
        dq.append(text if first == '"' else kept)
        pos = end
    clean.append(raw[pos:])
    dq.append(raw[pos:])
    return "".join(clean), "".join(dq)


def _score(code: str, default: DetectedLanguage) -> Detection:
    string_hits: dict[str, int] = {}
    flat, dq = _views(code, string_hits)
    fired: list[tuple[_Signal, int]] = [(_STRING_SIGNALS[k], n) for k, n in string_hits.items()]

    line_hits: dict[_Signal, int] = {}
    for m in _LINE_RE.finditer(flat):
        group = m.lastgroup
        if group is None:
            continue
        signal, check = _LINE_RULES[group]
        if check is None or check(m.group("first_word")):
            line_hits[signal] = line_hits.get(signal, 0) + 1
    fired.extend(line_hits.items())

    word_hits: dict[_Signal, int] = {}
    words = Counter(_WORDS.findall(flat))
    for word in words.keys() & _WORD_EXACT.keys():
        found = _WORD_EXACT[word]
        word_hits[found] = word_hits.get(found, 0) + words[word]
    for word in [w for w in words if "." in w]:
        n = words[word]
        dot = word.find(".")
        if dot > 0:
            found = _WORD_HEAD.get(word[: dot + 1])
            if found is not None:
                word_hits[found] = word_hits.get(found, 0) + n
        found = _WORD_TAIL.get(word[word.rfind(".") :].rstrip("("))
        if found is not None:
            word_hits[found] = word_hits.get(found, 0) + n
    fired.extend(word_hits.items())

    for pattern, signal in _CODE_RES:
        count = len(pattern.findall(flat))
        if count:
            fired.append((signal, count))
    count = sum(1 for word in _CHAINED_RE.findall(flat) if word in _COMMANDS)
    if count:
        fired.append((_CHAINED_COMMAND[1], count))
    for pattern, signal in _DQ_RES:
        count = len(pattern.findall(dq))
        if count:
            fired.append((signal, count))

    scores = dict.fromkeys(LANGUAGES, 0.0)
    for signal, count in fired:
        n = min(count, signal.cap)
        for language, weight in signal.weights.items():
            scores[language] += weight * n
    scores = {k: round(v, 2) for k, v in scores.items()}

    ranked = sorted(LANGUAGES, key=scores.__getitem__, reverse=True)
    best, second = ranked[0], ranked[1]
    ambiguous = scores[best] < _MIN_SCORE or scores[best] - scores[second] < _MIN_MARGIN
    language = default if ambiguous else best
    total = sum(scores.values())
    own = scores[language]
    confidence = own / total * (1 - math.exp(-own / _CONFIDENCE_SCALE)) if total else 0.0

    if ambiguous:
        shown = ", ".join(f"{k} {scores[k]:g}" for k in ranked if scores[k]) or "no signals"
        reason = f"ambiguous ({shown}); default {default}"
    else:
        top = sorted(
            ((s.weights[language] * min(n, s.cap), s.label, n) for s, n in fired
             if s.weights.get(language, 0) > 0),
            key=lambda c: c[0],
            reverse=True,
        )[:3]
        reason = f"{language}: " + ", ".join(f"{label} x{n}" for _, label, n in top)
    return Detection(
        language=language,
        confidence=round(min(max(confidence, 0.0), 1.0), 3),
        scores=scores,
        reason=reason,
        ambiguous=ambiguous,
    )
