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

**Cost.** Only the first ``_MAX_CHARS`` characters (cut at a line break) are scanned, and
every pattern starts with a literal so the regex engine skips ahead; a 100-line snippet
takes a small fraction of a millisecond (``benchmarks/bench_detection.py``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from companion_kernel.errors import UnknownLanguage

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "DetectedLanguage", "Detection", "detect_language"]

DetectedLanguage = Literal["python", "javascript", "shell"]
LANGUAGES: tuple[DetectedLanguage, ...] = get_args(DetectedLanguage)
DEFAULT_LANGUAGE: DetectedLanguage = "python"

_MAX_CHARS = 8192
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
    words: frozenset[str] | None = field(default=None)
    """If set, the pattern's first group must be one of these words."""


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
    ("py_for", [r"for\h+[\w, ()]+\h+in\h+[^\n;]+:"], _Signal("for ... in ...:", {_PY: 3}, 2)),
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
    ("py_print", [r"print\h*\("], _Signal("print()", {_PY: 4}, 2)),
    (
        "py_statement",
        [r"pass\b", r"raise\b", r"assert\b", r"del\b", r"nonlocal\b", r"global\b"],
        _Signal("pass/raise/assert", {_PY: 3}, 2),
    ),
    ("py_decorator", [r"@[\w.]+"], _Signal("@decorator", {_PY: 3}, 2)),
    ("py_magic", [r"%{1,2}\w+", r"![\w./]"], _Signal("IPython %magic/!cmd", {_PY: 3}, 2)),
    ("sh_prompt", [r"\$\h+[a-z]"], _Signal("$ prompt", {_SH: 4})),
    (
        "sh_export",
        [r"(?:export|local|readonly|declare|typeset|unset|alias)\h+-?[A-Za-z_]"],
        _Signal("export/local", {_SH: 5}, 2),
    ),
    (
        "sh_source",
        [r"\.\h+[\w~./$\"]", r"source\h+[\w~./$\"]", r"\.{1,2}/[\w.-]"],
        _Signal("./script", {_SH: 3}, 2),
    ),
    # Lines starting with a word: one pattern reads the word, the rest is decided after it.
    (
        "sh_funcdef",
        [r"[\w-]+\h*\(\)\h*\{"],
        _Signal("f() {", {_SH: 2.5}, 2),
    ),
    (
        "sh_assign",
        [
            r"[A-Za-z_]\w*=(?:\"\"|\$\([^\n]*\)|\$\{?[\w#@?]+\}?|[\w./:~@%+,-]+|\([^\n,]*\))?"
            r"\h*(?:;|&&|\|\||$)"
        ],
        _Signal("NAME=value", {_SH: 3}, 3),
    ),
    ("sh_env_prefix", [r"[A-Z_][A-Z0-9_]*=\S+\h+[a-z]"], _Signal("VAR=x cmd", {_SH: 3})),
    ("py_unpack", [r"\w+(?:\h*,\h*\w+)+\h*=[^=]"], _Signal("a, b = ...", {_PY: 2.5})),
    (
        "py_assign",
        [r"[A-Za-z_][\w.]*(?:\[[^\]\n]*\])?\h+[-+*/%|&]?=\h+[^\n;{]*$"],
        _Signal("x = ...", {_PY: 1}, 3),
    ),
    (
        "sh_command",
        [
            r"(?:sudo\h+)?(?P<word>[a-z][\w.+-]*)"
            # an argument, not an operator: `cat /etc/x`, `chmod +x`, but not `date + 1`
            r"(?=\h+(?:[^\s=(,:\[%<>!*/+.-]|[/+.*~-](?![\s=]))|\h*(?:$|[;|&>]))"
        ],
        _Signal("command", {_SH: 3.5}, 3, _COMMANDS),
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
    (r"lambda\b[^\n:]*:", _Signal("lambda", {_PY: 3}, 2)),
    (r" for\h+[\w, ()]+\h+in\h+[^\n;$]*[\])}]", _Signal("comprehension", {_PY: 3}, 2)),
    (r":\h*$", _Signal(": at line end", {_PY: 1}, 3)),
    (r" (?:and|or|not|is)\h+[\w(\[\"-]", _Signal("and/or/not", {_PY: 1}, 3)),
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
    (r" (?<=[\w\"'/.] )--?[a-zA-Z][\w-]*(?=\h|$)", _Signal("-flag", {_SH: 1}, 4)),
    (
        r"(?:\|\|?|&&|;)\h*([a-z][\w.+-]*)(?=\h|$)",
        _Signal("| command", {_SH: 3}, 3, _COMMANDS),
    ),
]

# Shell expansions: searched with only double-quoted strings kept (the shell expands there).
_DQ_SIGNALS: list[tuple[str, _Signal]] = [
    (r"\$(?:[A-Za-z_]\w*|[0-9@#?*!$])(?![\w(]|\.\w)", _Signal("$VAR", {_SH: 2.5}, 4)),
    (
        r"\$\{[#!]?[A-Za-z_]\w*(?:\[[^\]\n]*\])?(?:[:#%/^,][^}\n]*)?\}",
        _Signal("${VAR}", {_SH: 2}, 2),
    ),
    (r"\$\((?![\s\"'])", _Signal("$(...)", {_SH: 3}, 2)),
]

# Word signals, looked up in a dict per distinct identifier chain (`self.items.append(`):
# `name` and `name(` match the whole chain, `name.` its head, `.name` its last part.
_WORD_SIGNALS: list[tuple[str, _Signal]] = [
    ("None True False", _Signal("None/True/False", {_PY: 2}, 3)),
    ("self self.", _Signal("self", {_PY: 2}, 3)),
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
    "block_comment": _Signal("/* */", {_JS: 1.5}),
    "hash_comment": _Signal("# comment", {_PY: 0.5, _SH: 0.5}, 4),
}


def _line_regex() -> tuple[re.Pattern[str], dict[str, _Signal]]:
    # An empty group after each alternative names the signal without hiding the
    # alternative's first literal from the engine's branch fast path.
    branches = []
    by_group: dict[str, _Signal] = {}
    for name, alternatives, signal in _LINE_SIGNALS:
        for i, alternative in enumerate(alternatives):
            group = f"{name}_{i}"
            branches.append(f"{_h(alternative)}(?P<{group}>)")
            by_group[group] = signal
    return re.compile(r"\n(?:" + "|".join(branches) + ")", re.M), by_group


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


_LINE_RE, _LINE_GROUPS = _line_regex()
_CODE_RES = [(re.compile(_h(p), re.M), s) for p, s in _CODE_SIGNALS]
_DQ_RES = [(re.compile(_h(p), re.M), s) for p, s in _DQ_SIGNALS]
_WORD_EXACT, _WORD_HEAD, _WORD_TAIL = _word_tables()
_WORDS = re.compile(r"[A-Za-z_$./][\w$.]*\(?")
_STRINGS = re.compile(
    r"\"[^\"\\\n]*(?:\\.[^\"\\\n]*)*\"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'|`[^`]*`"
    r"|#[^\n]*|//[^\n]*|/\*[^\n]*?\*/"
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
    raw = "\n" + code[:_MAX_CHARS].replace("\r\n", "\n")
    if len(code) > _MAX_CHARS:
        raw = raw[: raw.rfind("\n") + 1] or raw
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
            elif text[1] == "*":
                kind = "block_comment"
            else:
                # Only whole-line `//` counts: inline it may be Python floor division.
                line_start = raw.rfind("\n", 0, start) + 1
                kind = "slash_comment" if not raw[line_start:start].strip() else ""
            if kind:
                hits[kind] = hits.get(kind, 0) + 1
            kept = ""
        else:
            kept = first + first
            if first == "`":
                if "${" in text:
                    hits["template"] = hits.get("template", 0) + 1
            else:
                if _is_fstring_prefix(raw[max(start - 3, 0) : start]):
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
    return _INDENT.sub("\n", "".join(clean)), _INDENT.sub("\n", "".join(dq))


def _word_signals(word: str) -> list[_Signal]:
    """Signals for one identifier chain such as ``len(``, ``Math.max(`` or ``.push(``."""
    found = []
    exact = _WORD_EXACT.get(word)
    if exact is not None:
        found.append(exact)
    dot = word.find(".")
    if dot >= 0:
        if dot > 0:
            head = _WORD_HEAD.get(word[: dot + 1])
            if head is not None:
                found.append(head)
        tail = _WORD_TAIL.get(word[word.rfind(".") :].rstrip("("))
        if tail is not None:
            found.append(tail)
    return found


def _score(code: str, default: DetectedLanguage) -> Detection:
    string_hits: dict[str, int] = {}
    flat, dq = _views(code, string_hits)
    fired: list[tuple[_Signal, int]] = [(_STRING_SIGNALS[k], n) for k, n in string_hits.items()]

    line_hits: dict[str, int] = {}
    for m in _LINE_RE.finditer(flat):
        group = m.lastgroup
        if group is None:
            continue
        signal = _LINE_GROUPS[group]
        if signal.words is not None and m.group("word") not in signal.words:
            continue
        line_hits[group] = line_hits.get(group, 0) + 1
    fired.extend((_LINE_GROUPS[g], n) for g, n in line_hits.items())

    word_hits: dict[_Signal, int] = {}
    for word, n in Counter(_WORDS.findall(flat)).items():
        for signal in _word_signals(word):
            word_hits[signal] = word_hits.get(signal, 0) + n
    fired.extend(word_hits.items())

    for pattern, signal in _CODE_RES:
        if signal.words is None:
            count = len(pattern.findall(flat))
        else:
            count = sum(1 for w in pattern.findall(flat) if w in signal.words)
        if count:
            fired.append((signal, count))
    for pattern, signal in _DQ_RES:
        count = len(pattern.findall(dq))
        if count:
            fired.append((signal, count))

    scores = dict.fromkeys(LANGUAGES, 0.0)
    contributions: list[tuple[float, str, str]] = []
    for signal, count in fired:
        n = min(count, signal.cap)
        for language, weight in signal.weights.items():
            scores[language] += weight * n
            contributions.append((weight * n, language, f"{signal.label} x{count}"))
    scores = {k: round(v, 2) for k, v in scores.items()}

    ranked = sorted(LANGUAGES, key=lambda k: scores[k], reverse=True)
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
        top = sorted((c for c in contributions if c[1] == language), reverse=True)[:3]
        reason = f"{language}: " + ", ".join(label for _, _, label in top)
    return Detection(
        language=language,
        confidence=round(min(max(confidence, 0.0), 1.0), 3),
        scores=scores,
        reason=reason,
        ambiguous=ambiguous,
    )
