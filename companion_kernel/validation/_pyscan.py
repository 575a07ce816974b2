"""Lexical scans of Python source: what the checks can decide without building the AST.

`scan_words` is a superset of every identifier-like word that the AST checks can look at,
at any depth: identifiers, and the words of every string value (escapes and implicit
concatenation included), which the format-string and forward-reference rules read.

`fast_path_ok` answers "no rule can fire" for ordinary cells without calling `ast.parse`
(which alone costs more than the time budget for a 100-line cell). It only ever says yes;
any doubt sends the cell to the full path. It says yes when all of these hold:

- the cell has at least two non-blank lines (IPython rewrites single-line cells
  dynamically: automagic, aliases, autocall), is pure ASCII (no NFKC look-alikes), has no
  control character but tab and newline (``\\r``, ``\\f`` and friends are line breaks or
  blanks to IPython), no backslash continuation, no ``\\x``/``\\u``/``\\U``/``\\N``/octal
  escape, and no ``__`` except in the caller's safe dunders (protocol methods, which every
  rule accepts wherever they appear; names such as ``__name__`` that may not be rebound only
  right after a dot), and none at all after joining adjacent string literals;
- there is no IPython syntax (`may_use_ipython_syntax`, the full path's own pre-check);
- no word of the text, of its strings read with escapes, or of adjacent string literals
  joined, is one of the policy's trigger words (`_Rules.triggers`: blocked built-ins,
  dynamic-attribute functions, ``type``, evaluators, frame and module-leak attributes, ...),
  and the caller's ``doubt`` test (rules keyed on patterns: ``*subprocess*``, private
  transports, ``x._private``) holds for neither the text nor any joined literals;
- every ``import`` word sits on a line that is exactly one plain ``import a.b [as c], ...``
  or ``from a.b import x [as y], ...`` statement (no parentheses, ``;``, ``*`` or relative
  dots), and the policy's own module resolution allows what the full path would check;
- quotes and brackets balance outside strings and comments: a cheap guard that keeps the
  usual syntax errors (an open bracket or string) on the full path, which reports them
  as ``python.syntax`` with a position.

It does not prove the cell parses. A cell with another syntax error (``x = = 1``) is
accepted, and the kernel reports the SyntaxError itself. That is safe because no rule
could fire on any reading of the text, and IPython leaves such a cell unchanged, so the
kernel compiles exactly this text, fails, and runs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# For ASCII text, maximal runs of identifier characters are a superset of its identifiers.
_NOT_WORD = str.maketrans(
    {chr(i): " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")}
)
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# String escapes can spell a word that the raw source does not show.
ESCAPE_RE = re.compile(r"\\[xuUN0-7]")
# One escape: `\n` ends a word in the string's value while the source shows `\neval`.
_ESCAPE_PAIR_RE = re.compile(r"\\.", re.DOTALL)
# String literals and comments, left to right as the tokenizer sees them (for valid code).
_LEXEME_RE = re.compile(
    r"""\#[^\n]*
    | \'\'\'(?:\\.|[^\\])*?\'\'\'
    | \"\"\"(?:\\.|[^\\])*?\"\"\"
    | \'(?:\\.|[^\\\'\n])*\'
    | \"(?:\\.|[^\\\"\n])*\"
    """,
    re.DOTALL | re.VERBOSE,
)
# What may separate two string literals that Python joins: blanks and a string prefix.
_JOIN_GAP_RE = re.compile(r"\s*[rRbBuUfF]{0,2}")
# Inside a string that holds quotes (an f-string's fields can hold adjacent literals): every
# run of quotes, blanks and prefixes, removed, so whatever those literals join is joined.
_INNER_GAP_RE = re.compile(r"""['"](?:[\s'"]|[rRbBuUfF]{1,2}(?=['"]))*""")
# A string prefix with `f` right before a literal's opening quote: an f-string.
_FSTRING_PREFIX_RE = re.compile(r"(?<![A-Za-z0-9_])[rRbB]?[fF][rRbB]?$")
# Two string literals next to each other (a quote, blanks, a prefix, a quote).
_NESTED_JOIN_RE = re.compile(r"""['"]\s*[rRbBuUfF]{0,2}['"]""")
# Joined text that sends the cell to the full path (`__` is never fast-path material).
DOUBT = "__doubt__"
# The same without taking letters for prefixes: in `{"f" "_globals"}` the `f` is content.
_INNER_QUOTES_RE = re.compile(r"""['"][\s'"]*""")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# What IPython's input transformer could rewrite: escapes at a line start (!, %, ?, /, ",",
# ;), `x = !cmd`, `x?`, pasted prompts, an indented first line. Cheap tests first.
_IPYTHON_LINE_RE = re.compile(r"\n[ \t]*(?:[!%/,;]|\.\.\.)")
_IPYTHON_ASSIGN_RE = re.compile(r"=[ \t]*[!%]")
_IPYTHON_INDENT_RE = re.compile(r"(?:[ \t]*\r?\n)*[ \t]+\S")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*+"
_DOTTED = rf"{_NAME}(?:\.{_NAME})*"
_IMPORT_LINE_RE = re.compile(
    rf"""[ \t]*(?:
        import[ \t]+(?P<modules>{_DOTTED}(?:[ \t]+as[ \t]+{_NAME})?
            (?:[ \t]*,[ \t]*{_DOTTED}(?:[ \t]+as[ \t]+{_NAME})?)*)
      | from[ \t]+(?P<module>{_DOTTED})[ \t]+import[ \t]+(?P<names>{_NAME}(?:[ \t]+as[ \t]+{_NAME})?
            (?:[ \t]*,[ \t]*{_NAME}(?:[ \t]+as[ \t]+{_NAME})?)*)
    )[ \t]*(?:\#[^\n]*)?""",
    re.VERBOSE,
)
_QUOTES = "'\""
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_WORD_CHARS = _NAME_CHARS | frozenset("0123456789")


def may_use_ipython_syntax(code: str) -> bool:
    """False only when IPython's transformer certainly leaves ``code`` as it is."""
    return (
        "?" in code
        or ">>>" in code
        or "In [" in code
        or (code[:1] != "" and code[:1] in "!%/,;")
        or code.startswith("...")
        or _IPYTHON_LINE_RE.search(code) is not None
        or _IPYTHON_ASSIGN_RE.search(code) is not None
        or _IPYTHON_INDENT_RE.match(code) is not None
    )


def words(source: str) -> set[str]:
    """Maximal runs of identifier characters (exact for ASCII text)."""
    if source.isascii():
        return set(source.translate(_NOT_WORD).split())
    return set(_WORD_RE.findall(source))


def _with_escapes(text: str, acc: set[str]) -> set[str]:
    acc |= words(text)
    if "\\" in text:
        acc |= words(_ESCAPE_PAIR_RE.sub("  ", text))
    return acc


def _lex(source: str) -> tuple[list[str], list[str]]:
    """(code between strings and comments, contents of implicitly concatenated strings)."""
    code: list[str] = []
    joined: list[str] = []
    run: list[str] = []  # contents of adjacent string literals
    last = 0
    for match in _LEXEME_RE.finditer(source):
        start, end = match.span()
        gap = source[last:start]
        code.append(gap)
        last = end
        text = match.group()
        adjacent = _JOIN_GAP_RE.fullmatch(gap) is not None
        if text[0] == "#":
            if not adjacent and run:
                if len(run) > 1:
                    joined.append("".join(run))
                run = []
            continue
        if not adjacent and run:
            if len(run) > 1:
                joined.append("".join(run))
            run = []
        content = text.strip(_QUOTES)
        run.append(content)
        if "'" in content or '"' in content:
            joined.append(_INNER_GAP_RE.sub("", content))
            joined.append(_INNER_QUOTES_RE.sub("", content))
            if _FSTRING_PREFIX_RE.search(gap) and _NESTED_JOIN_RE.search(content):
                # Adjacent literals nested in an f-string's field join in ways no regex
                # rebuilds reliably (`{"f" f"_globals"}`): mark the cell as doubtful.
                joined.append(DOUBT)
    if len(run) > 1:
        joined.append("".join(run))
    code.append(source[last:])
    return code, joined


def scan_words(source: str) -> set[str]:
    """A superset of the words of ``source`` and of its string values (ASCII source).

    Covers escapes other than `ESCAPE_RE` ones (``"\\neval"`` holds ``eval``) and implicit
    concatenation (``"gi_fr" "ame"`` is ``gi_frame``); callers treat `ESCAPE_RE` matches and
    backslash-newline continuations as doubt on their own.
    """
    found = _with_escapes(source, set())
    if _QUOTES[0] in source or _QUOTES[1] in source:
        for text in _lex(source)[1]:
            _with_escapes(text, found)
    return found


def _balanced(code: list[str]) -> bool:
    text = "".join(code)
    return (
        "'" not in text
        and '"' not in text
        and text.count("(") == text.count(")")
        and text.count("[") == text.count("]")
        and text.count("{") == text.count("}")
    )


def _imports_allowed(source: str, module_allowed: Callable[[str], bool]) -> bool:
    index = source.find("import")
    while index >= 0:
        after = index + 6
        if source[index - 1 : index] in _NAME_CHARS or source[after : after + 1] in _WORD_CHARS:
            index = source.find("import", after)
            continue  # part of a longer word: `important`, `reimport`
        start = source.rfind("\n", 0, index) + 1
        end = source.find("\n", index)
        end = len(source) if end < 0 else end
        index = source.find("import", end)
        line = _IMPORT_LINE_RE.fullmatch(source, start, end)
        if line is None:
            return False
        if line["modules"] is not None:
            for alias in line["modules"].split(","):
                name, *rest = alias.split()
                if not module_allowed(name):
                    return False
                if not rest and "." in name and not module_allowed(name.split(".")[0]):
                    return False
        else:
            module = line["module"]
            for alias in line["names"].split(","):
                if not module_allowed(f"{module}.{alias.split()[0]}"):
                    return False
    return True


def _dunders_ok(source: str, safe: frozenset[str], safe_bare: frozenset[str]) -> bool:
    """Every ``__`` in ``source`` is inside a word of ``safe`` right after a dot (an attribute
    such as ``x.__name__``) or a word of ``safe_bare`` anywhere (``def __init__``)."""
    index = source.find("__")
    while index >= 0:
        start, end = index, index + 2
        while start > 0 and source[start - 1] in _WORD_CHARS:
            start -= 1
        while end < len(source) and source[end] in _WORD_CHARS:
            end += 1
        word = source[start:end]
        if word not in safe_bare and not (word in safe and source[start - 1 : start] == "."):
            return False
        index = source.find("__", end)
    return True


def fast_path_ok(
    source: str,
    triggers: frozenset[str],
    module_allowed: Callable[[str], bool],
    doubt: Callable[[str], bool] | None = None,
    dunders: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset()),
) -> bool:
    """True only when no rule keyed on ``triggers`` and the module lists can fire.

    ``doubt``, when given, is asked about the source and about every run of joined string
    literals (rules keyed on patterns rather than whole words). ``dunders`` is (allowed as
    attributes, allowed anywhere): other ``__`` words send the cell to the full path.
    """
    if (
        not source.isascii()
        or ("__" in source and not _dunders_ok(source, *dunders))
        or "\\\n" in source
        or "\n" not in source.strip()
        or _CONTROL_RE.search(source) is not None
        or ESCAPE_RE.search(source) is not None
        or may_use_ipython_syntax(source)
    ):
        return False
    found = _with_escapes(source, set())
    if not found.isdisjoint(triggers) or (doubt is not None and doubt(source)):
        return False
    code, joined = _lex(source)
    for text in joined:
        if "__" in text or not _with_escapes(text, set()).isdisjoint(triggers):
            return False
        if doubt is not None and doubt(text):
            return False
    if not _balanced(code):
        return False
    return "import" not in source or _imports_allowed(source, module_allowed)
