"""Shell checks: a quote-aware pre-scan, then bashlex, then a walk over every command.

bashlex parses pipelines, lists, compound commands, functions, redirections and command
and process substitutions (recursively), but not ``[[ ]]``, arithmetic, ``case``, arrays or
the bodies of ``${...}`` and here-documents. A small quote-aware scanner runs first: it
checks what bashlex cannot see (``${x@P}``, ``$(..)`` inside ``${..}`` or an unquoted
here-document, history expansion ``!!``/``!-1`` - live in the interactive bash the kernel
drives), rewrites ``[[ .. ]]``, ``(( .. ))`` and ``$(( .. ))`` into same-length placeholders
so positions stay exact, and checks every place bash evaluates a variable's *value* as an
arithmetic expression or a name - ``$((x))``, ``((x))``, ``$x`` inside those, subscripts,
``${s:off:len}``, ``${!x}``, ``[[ a -eq b ]]``, ``[[ -v $x ]]``, also nested in ``${a:-...}``
- because any ``$(cmd)`` hidden in the value runs (``x='a[$(id)]'; echo $((x))``). With
``arithmetic`` off no variable may appear there; with it on, only variables this cell
provably sets first to a literal integer (or, for ``${!x}``/``-v``, a plain name) on every
path (see `_Provenance`). ``declare -i``/``-n`` and ``let`` are rejected; read-only values
must be integers where arithmetic is on (they survive re-initialisation).

The walk allows only commands on the policy's allow-list, called by a literal bare name,
plus functions the script defines (their bodies are checked; their names may not shadow a
command or builtin; recursion through a pipeline, ``&``, a subshell or a substitution is a
fork bomb, ``shell.recursion``). Arguments are checked where a tool can execute or write:
``find -exec/-execdir/-ok/-delete/-fprint``, ``sed -i``/``-f``/``e``/``w``, ``awk``
``system``/pipes/redirects, ``sort -o/-T/--compress-program``, ``cp -s/-l/-t``, ``date -s``,
tar's ``--to-command``/``--checkpoint-action``/``--use-compress-program``/... and old-style
clusters, ``zip -TT``. GNU tools accept any unambiguous prefix of a long option, so long
options match by prefix (``--compress=`` is ``--compress-program=``); a word computed at run
time where an option could stand is rejected unless it starts with a literal that is not
``-``, follows an option that takes it as a value, or comes after ``--``. Every path a
command or redirection writes must stay below the working directory (relative, no ``..``,
no ``~``, no variables). Writes by any means (assignment, ``declare``/``export``/``local``,
``read``, ``printf -v``, ``${x:=..}``, ``for``) to ``PATH``, ``LD_*``, ``BASH_ENV``, ``ENV``,
``BASH_CMDS``, ``BASH_ALIASES``, ``PROMPT_COMMAND``, ``PS0``-``PS4``, ``IFS``, ``MAILPATH``,
``TAR_OPTIONS``, ... are rejected, and so is ``set -k``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import bashlex
import bashlex.errors

from ._budget import BudgetExceeded, run_with_budget
from ._common import Collector, names, position_of
from .policy import Policy, ShellPolicy
from .report import Violation

_COMMAND_REASONS = {
    **dict.fromkeys(
        names(
            """curl wget nc ncat netcat socat ssh scp sftp rsync ftp telnet git ping dig nslookup
            host ip ifconfig"""
        ),
        "is a network tool",
    ),
    **dict.fromkeys(
        names(
            """sudo su doas pkexec chroot unshare nsenter setpriv capsh chown chmod chgrp mount
            umount"""
        ),
        "changes privileges, ownership or mounts",
    ),
    **dict.fromkeys(
        names(
            """eval source . exec command builtin enable env xargs nohup timeout nice ionice setsid
            stdbuf script watch strace gdb trap fc alias bash sh dash zsh ksh busybox python
            python3 perl ruby node php lua tclsh"""
        ),
        "runs other commands or code",
    ),
    **dict.fromkeys(
        names(
            """dd mkfs shred kill pkill killall shutdown reboot halt crontab at systemctl service"""
        ),
        "is destructive or affects the whole system",
    ),
}
_SENSITIVE_VARIABLES = names(
    """PATH LD_PRELOAD LD_LIBRARY_PATH LD_AUDIT BASH_ENV ENV IFS PS0 PS1 PS2 PS3 PS4 PROMPT_COMMAND
    SHELLOPTS BASHOPTS CDPATH GLOBIGNORE HOME BASH_LOADABLES_PATH BASH_XTRACEFD PYTHONPATH
    PYTHONSTARTUP NODE_OPTIONS HISTFILE TMPDIR BASH_CMDS BASH_ALIASES BASH_ARGV0 BASH_COMPAT
    EXECIGNORE MAIL MAILPATH MAILCHECK GCONV_PATH LOCPATH NLSPATH HOSTALIASES INPUTRC
    POSIXLY_CORRECT TAR_OPTIONS GZIP XZ_OPT XZ_DEFAULTS BZIP BZIP2 ZIPOPT UNZIP UNZIPOPT ZIPINFO
    GREP_OPTIONS AWKPATH AWKLIBPATH"""
)
# Whole families: the dynamic loader's settings and exported functions.
_SENSITIVE_PREFIXES = ("LD_", "BASH_FUNC_")
_WRITABLE_DEVICES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/fd/1", "/dev/fd/2"})
_WRITE_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FUNCTION_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_SHELL_BUILTINS = names(
    """alias bg bind break builtin caller cd command compgen complete compopt continue declare
    dirs disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill
    let local logout mapfile popd printf pushd pwd read readarray readonly return select set shift
    shopt source suspend test time times trap true type typeset ulimit umask unalias unset wait
    if then else elif fi case esac for while until do done in function coproc"""
)
_CONDITIONAL_ARITH_RE = re.compile(r"(\S+)\s+-(eq|ne|lt|le|gt|ge)\s+(\S+)")
_CONDITIONAL_V_RE = re.compile(r"(?:^|\s)-v\s+(\S+)")
_NAME_OPERAND_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[(?:[0-9]+|[@*])\])?")
# Tokens of an arithmetic expression: numbers, length and special parameters (always
# numbers), variables by name or by $name, and anything else that expands (group 3).
_ARITH_TOKEN_RE = re.compile(
    r"\$\{#[A-Za-z_]\w*\}|\$\{?[#?$!]\}?"
    r"|\$\{?([A-Za-z_]\w*|[0-9]+)\}?"
    r"|[0-9][0-9A-Za-z_#@]*"
    r"|([A-Za-z_]\w*)"
    r"|(\$)"
)
_ARITH_GLUE_RE = re.compile(r"[\s+\-*/%<>=!&|^~?:,()]*")
_VARIABLE_RE = re.compile(r"[A-Za-z_$]")
_COMMAND_START_WORDS = frozenset({"then", "do", "else", "elif", "if", "while", "until", "!"})
_FIND_BLOCKED = frozenset(
    ["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"]
)
_SED_SUBST_RE = re.compile(r"s(.)((?:\\.|(?!\1).)*)\1((?:\\.|(?!\1).)*)\1([A-Za-z0-9]*)", re.S)
_SED_ADDRESS_RE = re.compile(r"/(?:\\.|[^/])*/|\\(.)(?:\\.|(?!\1).)*\1", re.S)
_SED_Y_RE = re.compile(r"y(.)(?:\\.|(?!\1).)*\1(?:\\.|(?!\1).)*\1", re.S)
_SED_TEXT_RE = re.compile(r"(?m)[aic]\\?[ \t].*$|[:bt][ \t]*\w*")
_AWK_BLOCKED_RE = re.compile(
    r"\bsystem\s*\(|\bgetline\b|(?<!\|)\|(?!\|)|\bprintf?\b[^;{}\n]*>|@load|@include"
)
_MAX_SOURCE_DEPTH = 200
# Longest ${...}, $((...)) or [[ ... ]] the scanner looks for a closer in: keeps the scan
# linear on hostile input (thousands of unclosed openers).
_MAX_SPAN = 10_000
_LAST_WORD_RE = re.compile(r"[A-Za-z!]+\Z")
_CONDITIONAL_END_RE = re.compile(r"[ \t]\]\](?=[ \t\n;&|)]|\Z)")
PARSE_BUDGET_S = 2.0  # bashlex loops forever on some inputs (e.g. ``echo '${'i``)


@dataclass
class _Problem:
    rule: str
    message: str
    start: int
    end: int


@dataclass(frozen=True)
class _Use:
    """A variable whose value bash evaluates: as arithmetic (``int``) or as a name (``ref``)."""

    name: str
    kind: str
    start: int
    end: int


@dataclass
class _Scan:
    text: str
    problems: list[_Problem] = field(default_factory=list)
    unparseable: bool = False
    uses: list[_Use] = field(default_factory=list)


def _command_start(src: str, index: int) -> bool:
    """Is ``index`` (in unquoted text) where a command name would begin?"""
    j = index
    while j > 0 and src[j - 1] in " \t":
        j -= 1
    if j == 0 or src[j - 1] in "\n;&|({!":
        return True
    word = _LAST_WORD_RE.search(src, max(0, j - 16), j)
    if word is None or word.group(0) not in _COMMAND_START_WORDS:
        return False
    k = word.start()
    return k == 0 or src[k - 1] in " \t\n;&|({"


class _Scanner:
    """Quote-aware pass over the source; see the module docstring."""

    def __init__(self, src: str, policy: ShellPolicy) -> None:
        self.src = src
        self.out = list(src)
        self.policy = policy
        self.problems: list[_Problem] = []
        self.heredocs: list[tuple[str, bool, bool, int]] = []  # delimiter, quoted, strip, pos
        self.unparseable = False
        self.uses: list[_Use] = []
        # Look-ahead work allowed in total, so hostile input cannot make the scan quadratic.
        self.work = 8 * len(src) + 100_000

    def problem(self, rule: str, message: str, start: int, end: int) -> None:
        self.problems.append(_Problem(rule, message, start, end))

    def replace(self, start: int, end: int, text: str) -> None:
        text = text.ljust(end - start)
        self.out[start:end] = list(text)

    def scan(self) -> _Scan:
        src, n = self.src, len(self.src)
        stack: list[str] = []  # "dq", "sub" ($( or <( ), "paren", "bt"
        i = 0
        while i < n:
            c = src[i]
            top = stack[-1] if stack else ""
            if top == "dq":
                if c == "\\":
                    i += 2
                elif c == '"':
                    stack.pop()
                    i += 1
                elif c == "!":
                    i = self.bang(i)
                elif c == "$" or c == "`":
                    i = self.dollar(i, stack)
                else:
                    i += 1
                continue
            if c == "\\":
                i += 2
            elif c == "'":
                end = src.find("'", i + 1)
                end = n if end < 0 else end + 1
                self.quoted(i, end)
                i = end
            elif c == '"':
                stack.append("dq")
                i += 1
            elif c == "`" and top == "bt":
                stack.pop()
                i += 1
            elif c == "$" or c == "`":
                i = self.dollar(i, stack)
            elif c == "#" and (i == 0 or src[i - 1] in " \t\n;&|()"):
                end = src.find("\n", i)
                i = n if end < 0 else end
            elif c == "!":
                i = self.bang(i)
            elif c == "(":
                if src.startswith("((", i) and _command_start(src, i):
                    i = self.arithmetic(i, 2, command=True)
                else:
                    stack.append("paren")
                    i += 1
            elif c == ")":
                if top in ("sub", "paren"):
                    stack.pop()
                i += 1
            elif c == "[" and src.startswith("[[", i) and _command_start(src, i):
                i = self.conditional(i)
            elif c == "<" and src.startswith("<<<", i):
                i += 3  # here-string, not a here-document
            elif c == "<" and src.startswith("<<", i):
                i = self.heredoc_operator(i)
            elif c in "<>" and src.startswith("(", i + 1):
                stack.append("sub")
                i += 2
            elif c == "\n":
                i = self.heredoc_bodies(i + 1)
            else:
                i += 1
            if len(stack) > _MAX_SOURCE_DEPTH:
                self.unparseable = True
                self.problem("shell.syntax", "nesting too deep to check", i, i + 1)
                break
            if self.work < 0:
                break
        return _Scan("".join(self.out), self.problems, self.unparseable, self.uses)

    # -- pieces -------------------------------------------------------------------------

    def quoted(self, start: int, end: int) -> None:
        """A single-quoted string from ``start`` (its quote) to ``end``."""
        body = self.src[start + 1 : end - 1]
        if body.rfind("${") > body.rfind("}"):
            # bashlex loops forever on these (e.g. echo 'a${b'c); do not hand them over.
            self.unparseable = True
            self.problem(
                "shell.syntax",
                "an unclosed '${' inside single quotes sends the shell parser into a loop; "
                "write it as '$''{' or use double quotes",
                start,
                end,
            )

    def dollar(self, i: int, stack: list[str]) -> int:
        src = self.src
        if src[i] == "`":
            stack.append("bt")
            return i + 1
        if src.startswith("$((", i):
            return self.arithmetic(i, 3, command=False)
        if src.startswith("$[", i):
            end = self._closing(i + 2, "[", "]")
            if end < 0:
                return i + 2
            self.problem(
                "shell.arithmetic",
                "$[...] is old-style arithmetic; use $((...))",
                i,
                end + 1,
            )
            return end + 1
        if src.startswith("$(", i):
            stack.append("sub")
            return i + 2
        if src.startswith("$'", i) and not (stack and stack[-1] == "dq"):
            j = i + 2
            while j < len(src) and src[j] != "'":
                j += 2 if src[j] == "\\" else 1
            self.quoted(i + 1, j + 1)
            return j + 1
        if src.startswith("${", i):
            return self.parameter(i)
        return i + 1

    def _spend(self, start: int) -> int:
        """End of the next look-ahead from ``start``; charges it to the work budget."""
        stop = min(len(self.src), start + _MAX_SPAN)
        self.work -= stop - start
        if self.work < 0 and not self.unparseable:
            self.unparseable = True
            self.problem("shell.syntax", "script too complex to check", start, start + 1)
        return stop if self.work >= 0 else start

    def _closing(self, start: int, opener: str, closer: str) -> int:
        """Index of the closer matching an opener just before ``start`` (-1 if none)."""
        depth = 1
        j = start
        src = self.src
        stop = self._spend(start)
        while j < stop:
            ch = src[j]
            if ch == "\\":
                j += 2
                continue
            if ch == "'":
                end = src.find("'", j + 1)
                if end < 0:
                    return -1
                self.quoted(j, end + 1)
                j = end + 1
                continue
            if ch == opener:
                depth += 1
            elif ch == closer:
                depth -= 1
                if depth == 0:
                    return j
            j += 1
        return -1

    def parameter(self, i: int) -> int:
        end = self._closing(i + 2, "{", "}")
        if end < 0:
            return i + 2
        body = self.src[i + 2 : end]
        if "$(" in body or "`" in body:
            self.problem(
                "shell.expansion",
                "command substitution inside ${...} is not checked by the validator; "
                "assign it to a variable first",
                i,
                end + 1,
            )
            return end + 1
        if body.endswith("@P"):
            self.problem(
                "shell.expansion",
                "${var@P} expands a prompt string, which runs command substitutions",
                i,
                end + 1,
            )
            return end + 1
        if not _parameter_is_literal(body):
            uses = _parameter_uses(body) if self.policy.arithmetic else None
            if uses is None:
                self.problem(
                    "shell.arithmetic",
                    "this expansion evaluates a variable's value as an arithmetic expression "
                    "(subscript, offset or indirection), which can run commands hidden in it",
                    i,
                    end + 1,
                )
            else:
                self.uses.extend(_Use(name, kind, i, end + 1) for name, kind in uses)
        self.nested(i + 2, end)
        return end + 1

    def nested(self, start: int, end: int) -> None:
        """Expansions inside a ``${...}`` word (``${a:-${!b}}``, ``${a:-$((b))}``)."""
        j = start
        while j < end:
            if self.src.startswith("${", j):
                j = self.parameter(j)
            elif self.src.startswith("$((", j):
                j = self.arithmetic(j, 3, command=False)
            elif self.src.startswith("$[", j):
                self.problem("shell.arithmetic", "$[...] is old-style arithmetic", j, j + 2)
                j += 2
            else:
                j += 1

    def arithmetic_names(self, expr: str, start: int, end: int, what: str) -> None:
        """Check the variables an arithmetic expression at ``start..end`` reads."""
        if not _VARIABLE_RE.search(expr):
            return
        names = _arith_names(expr) if self.policy.arithmetic else None
        if names is None:
            self.problem(
                "shell.arithmetic",
                f"{what} on variables is not allowed by this policy: bash evaluates a "
                "variable's value as an expression, including any $(command) hidden in it",
                start,
                end,
            )
            return
        self.uses.extend(_Use(name, "int", start, end) for name in names)

    def arithmetic(self, i: int, open_len: int, command: bool) -> int:
        src = self.src
        start = i + open_len
        depth = 0
        j = start
        stop = min(len(src) - 1, self._spend(start))
        while j < stop:
            ch = src[j]
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0 and src[j + 1] == ")":
                    break
                depth -= 1
            j += 1
        else:
            return i + open_len  # unterminated: bashlex reports it
        body = src[start:j]
        end = j + 2
        if "$(" in body or "`" in body or "[" in body or "'" in body or '"' in body:
            self.problem(
                "shell.arithmetic",
                "command substitution, subscripts or quotes inside arithmetic are not allowed",
                i,
                end,
            )
        else:
            self.arithmetic_names(body, i, end, "arithmetic")
        self.replace(i, end, ":" if command else "0" * (end - i))
        return end

    def conditional(self, i: int) -> int:
        src = self.src
        match = _CONDITIONAL_END_RE.search(src, i + 2, self._spend(i + 2))
        if match is None or "\n" in src[i : match.start()]:
            return i + 2
        end = match.end()
        body = src[i + 2 : match.start()]
        if "$(" in body or "`" in body or "<(" in body or ">(" in body or "${" in body:
            self.problem(
                "shell.expansion",
                "substitutions inside [[ ]] are not checked by the validator; use [ ] or "
                "assign them to a variable first",
                i,
                end,
            )
        elif not self.conditional_operands(body, i, end):
            self.problem(
                "shell.arithmetic",
                "[[ ]] with -eq/-lt/... or -v evaluates variable values as arithmetic (which "
                "can run commands hidden in them); use [ ] (test) instead",
                i,
                end,
            )
        else:
            self.bangs_in(i + 2, match.start())
        self.replace(i, end, ":")
        return end

    def conditional_operands(self, body: str, start: int, end: int) -> bool:
        """Record what ``[[ a -eq b ]]`` and ``[[ -v name ]]`` evaluate; False if unsafe."""
        for match in _CONDITIONAL_ARITH_RE.finditer(body):
            for operand in (match.group(1), match.group(3)):
                expr = operand.replace('"', "")
                if not _VARIABLE_RE.search(expr):
                    continue
                names = _arith_names(expr) if self.policy.arithmetic else None
                if names is None:
                    return False
                self.uses.extend(_Use(name, "int", start, end) for name in names)
        for match in _CONDITIONAL_V_RE.finditer(body):
            operand = match.group(1).replace('"', "")
            if _NAME_OPERAND_RE.fullmatch(operand):
                continue
            ref = re.fullmatch(r"\$\{?([A-Za-z_]\w*)\}?", operand)
            if ref is None or not self.policy.arithmetic:
                return False
            self.uses.append(_Use(ref.group(1), "ref", start, end))
        return True

    def bangs_in(self, start: int, end: int) -> None:
        j = start
        while j < end:
            j = self.bang(j) if self.src[j] == "!" else j + 1

    def bang(self, i: int) -> int:
        src = self.src
        following = src[i + 1 : i + 2]
        previous = src[i - 1 : i] if i else ""
        if following and following not in ' \t\n\r=("' and previous not in ("$", "{", "["):
            self.problem(
                "shell.history",
                "'!' followed by text is history expansion in the interactive shell the "
                "kernel runs (it can re-run or splice earlier commands); quote it as '!'",
                i,
                i + 2,
            )
        return i + 1

    def heredoc_operator(self, i: int) -> int:
        src = self.src
        j = i + 2
        strip = src.startswith("-", j)
        if strip:
            j += 1
        while j < len(src) and src[j] in " \t":
            j += 1
        start = j
        while j < len(src) and src[j] not in " \t\n;&|<>()":
            if src[j] in "'\"":
                close = src.find(src[j], j + 1)
                j = len(src) if close < 0 else close + 1
            else:
                j += 1
        raw = src[start:j]
        delimiter = re.sub(r"[\\'\"]", "", raw)
        quoted = delimiter != raw
        if quoted and "\n" not in raw:
            self.replace(start, j, delimiter)  # bashlex mishandles quoted delimiters
        if delimiter:
            self.heredocs.append((delimiter, quoted, strip, i))
        return j

    def heredoc_bodies(self, i: int) -> int:
        src = self.src
        while self.heredocs:
            delimiter, quoted, strip, op = self.heredocs.pop(0)
            body_start = i
            while i < len(src):
                end = src.find("\n", i)
                end = len(src) if end < 0 else end
                line = src[i:end]
                if (line.lstrip("\t") if strip else line) == delimiter:
                    body = src[body_start:i]
                    i = end + 1
                    break
                i = end + 1
            else:
                body = src[body_start:]
            if not quoted and ("$(" in body or "`" in body or "${" in body):
                self.problem(
                    "shell.expansion",
                    "substitutions in an unquoted here-document are not checked by the "
                    "validator; quote the delimiter (<<'EOF') or use a variable",
                    op,
                    op + 2,
                )
        return i


def _parameter_is_literal(body: str) -> bool:
    """No arithmetic evaluation of variable values in ``${body}``."""
    match = re.match(r"#?([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(\[[^\]]*\])?", body)
    if body.startswith("!"):
        # ${!prefix*}, ${!prefix@}, ${!arr[@]} list names or keys; ${!name} is indirection.
        return re.fullmatch(r"![A-Za-z_][A-Za-z0-9_]*(?:[*@]|\[[@*]\])", body) is not None
    if match is None:
        return False
    subscript = match.group(2)
    if subscript and not re.fullmatch(r"\[(?:[0-9]+|[@*])\]", subscript):
        return False
    rest = body[match.end() :]
    if rest.startswith(":") and rest[1:2] not in ("-", "=", "+", "?"):
        return all(re.fullmatch(r"\s*-?[0-9]+\s*", part) for part in rest[1:].split(":"))
    return True


def _arith_names(expr: str) -> list[str] | None:
    """Variables an arithmetic expression reads by name (None if it holds anything else)."""
    found: list[str] = []
    pos = 0
    for match in _ARITH_TOKEN_RE.finditer(expr):
        if not _ARITH_GLUE_RE.fullmatch(expr, pos, match.start()) or match.group(3):
            return None
        pos = match.end()
        name = match.group(1) or match.group(2)
        if name:
            found.append(name)
    return found if _ARITH_GLUE_RE.fullmatch(expr, pos) else None


def _parameter_uses(body: str) -> list[tuple[str, str]] | None:
    """What a non-literal ``${body}`` evaluates: (variable, kind) pairs, or None if unclear."""
    ref = re.fullmatch(r"!([A-Za-z_][A-Za-z0-9_]*)", body)
    if ref:
        return [(ref.group(1), "ref")]
    match = re.match(r"#?([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(?:\[([^\]]*)\])?", body)
    if match is None:
        return None
    uses: list[tuple[str, str]] = []
    subscript = match.group(2)
    if subscript is not None and not re.fullmatch(r"[0-9]+|[@*]", subscript):
        names = _arith_names(subscript)
        if names is None:
            return None
        uses.extend((name, "int") for name in names)
    rest = body[match.end() :]
    if rest.startswith(":") and rest[1:2] not in ("-", "=", "+", "?"):
        for part in rest[1:].split(":"):
            names = _arith_names(part)
            if names is None:
                return None
            uses.extend((name, "int") for name in names)
    return uses


def _literal(word: object) -> str | None:
    """The value of a word with no expansions in it, else None."""
    if getattr(word, "kind", "") != "word" or getattr(word, "parts", None):
        return None
    return word.word  # type: ignore[attr-defined]


def _path_problem(word: object) -> str | None:
    """Why writing to this path could leave the working directory (None if it cannot)."""
    return _path_value_problem(_literal(word))


def _path_value_problem(value: str | None) -> str | None:
    if value is None:
        return "its path depends on a variable or substitution"
    if value in _WRITABLE_DEVICES:
        return None
    if value.startswith("/"):
        return "it is an absolute path"
    if value.startswith("~"):
        return "it is in a home directory"
    parts = value.split("/")
    if any(p == ".." for p in parts) or ("{" in value and ("," in value or ".." in value)):
        return "it climbs out with '..'"
    if any(p.startswith(".") and any(ch in p for ch in "*?[") for p in parts):
        return "a '.*' pattern also matches '..'"
    return None


def _value_class(value: str | None) -> str:
    if value is not None and re.fullmatch(r"[+-]?[0-9]+", value):
        return "int"
    if value is not None and _IDENT_RE.match(value):
        return "name"
    return "other"


_DECLARE_COMMANDS = frozenset({"declare", "typeset", "local", "export", "readonly"})
_NAME_WRITERS = frozenset({"read", "printf", "mapfile", "readarray", "getopts"})
_SEQ_RE = re.compile(r"\$\(\s*seq(?:\s+-?[0-9]+){1,3}\s*\)")
_RANGE_RE = re.compile(r"\{-?[0-9]+\.\.-?[0-9]+(?:\.\.-?[0-9]+)?\}")


class _Provenance:
    """Where each variable provably holds an integer (or a plain name) in this cell.

    A variable qualifies at a position when every assignment to it anywhere in the cell gives
    it such a value, and an assignment that always runs first covers the position: a plain
    assignment (or ``local``/``declare``) at the head of a list - first, or after ``;``,
    newline or ``&``, not itself backgrounded - covers the rest of that list (of the whole
    script at top level); ``for v in 1 2 3`` / ``{1..9}`` / ``$(seq 1 9)`` covers its body.
    Anything else (``read``, ``printf -v``, a conditional or backgrounded assignment, a value
    from an earlier cell) leaves the value unknown: it may hold ``a[$(cmd)]``.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.classes: dict[str, set[str]] = {}
        self.regions: dict[str, list[tuple[int, int]]] = {}

    def walk(self, trees: list[object]) -> None:
        for tree in trees:
            self.node(tree, len(self.text))

    def allows(self, use: _Use) -> bool:
        classes = self.classes.get(use.name)
        allowed = {"int"} if use.kind == "int" else {"int", "name"}
        return (
            classes is not None
            and classes <= allowed
            and any(start <= use.start < end for start, end in self.regions.get(use.name, ()))
        )

    def assigned(self, name: str, value_class: str) -> None:
        self.classes.setdefault(name, set()).add(value_class)

    def covers(self, name: str, start: int, end: int) -> None:
        self.regions.setdefault(name, []).append((start, end))

    def node(self, node: object, region_end: int | None, depth: int = 0) -> None:
        if depth > _MAX_SOURCE_DEPTH:
            return
        kind = getattr(node, "kind", "")
        if kind == "list":
            parts = node.parts  # type: ignore[attr-defined]
            block_end = region_end if region_end is not None else node.pos[1]  # type: ignore[attr-defined]
            for index, part in enumerate(parts):
                before = parts[index - 1] if index else None
                after = parts[index + 1] if index + 1 < len(parts) else None
                head = (before is None or getattr(before, "op", "") in (";", "\n", "&")) and (
                    getattr(after, "op", "") != "&"
                )
                self.node(part, block_end if head else None, depth + 1)
            return
        if kind == "command":
            self.command(node, region_end)
        elif kind == "for":
            self.for_loop(node)
        elif kind == "parameter":
            match = re.match(r"([A-Za-z_][A-Za-z0-9_]*):?=(.*)\Z", node.value or "", re.S)  # type: ignore[attr-defined]
            if match:
                self.assigned(match.group(1), _value_class(match.group(2)))
        for child in _children(node):
            self.node(child, None, depth + 1)

    def command(self, node: object, region_end: int | None) -> None:
        parts = node.parts  # type: ignore[attr-defined]
        words = [p for p in parts if getattr(p, "kind", "") == "word"]
        assignments = [p for p in parts if getattr(p, "kind", "") == "assignment"]
        pairs: list[tuple[str, str]] = []
        for item in assignments:
            match = re.match(r"([^=+]*)\+?=(.*)\Z", item.word, re.S)
            if match:
                value = None if getattr(item, "parts", None) else match.group(2)
                pairs.append((match.group(1), _value_class(value)))
        name = _literal(words[0]) if words else None
        if name in _DECLARE_COMMANDS:
            for word in words[1:]:
                value = _literal(word)
                if value is not None and "=" in value and not value.startswith(("-", "+")):
                    left, _, right = value.partition("=")
                    pairs.append((left.rstrip("+"), _value_class(right)))
        elif name in _NAME_WRITERS:
            for word in words[1:]:
                value = _literal(word) or ""
                target = value[2:] if value.startswith("-v") and len(value) > 2 else value
                base = target.split("[", 1)[0]
                if _IDENT_RE.match(base):
                    self.assigned(base, "other")
        for variable, value_class in pairs:
            self.assigned(variable.split("[", 1)[0], value_class)
        runs_here = not words or name in _DECLARE_COMMANDS
        if region_end is not None and runs_here:
            for variable, value_class in pairs:
                if "[" not in variable and value_class != "other":
                    self.covers(variable, node.pos[1], region_end)  # type: ignore[attr-defined]

    def for_loop(self, node: object) -> None:
        parts = node.parts  # type: ignore[attr-defined]
        if len(parts) < 2 or getattr(parts[1], "kind", "") != "word":
            return
        variable = parts[1].word
        words = []
        has_in = False
        body_start = None
        for part in parts[2:]:
            word = getattr(part, "word", None)
            if getattr(part, "kind", "") == "reservedword":
                if word == "in":
                    has_in = True
                elif word == "do":
                    body_start = part.pos[1]
                    break
            elif getattr(part, "kind", "") == "word":
                words.append(part)
        classes = {self.item_class(w) for w in words} if has_in else {"other"}
        for value_class in classes or {"int"}:
            self.assigned(variable, value_class)
        if body_start is not None and classes <= {"int", "name"}:
            self.covers(variable, body_start, node.pos[1])  # type: ignore[attr-defined]

    def item_class(self, word: object) -> str:
        text = self.text[word.pos[0] : word.pos[1]]  # type: ignore[attr-defined]
        if _SEQ_RE.fullmatch(text) or _RANGE_RE.fullmatch(text):
            return "int"
        return _value_class(_literal(word))


class _Walker:
    def __init__(self, source: str, text: str, policy: Policy, out: Collector) -> None:
        self.source = source
        self.text = text
        self.policy = policy
        self.shell = policy.shell
        self.out = out
        self.functions: set[str] = set()

    def report(self, rule: str, message: str, node: object) -> None:
        start, end = getattr(node, "pos", (0, 0))
        line, column = position_of(self.source, start)
        self.out.add(rule, message, line, column, self.source[start:end])

    def collect_functions(self, trees: list[object]) -> None:
        """Record the functions the script defines; check their names and recursion."""
        bodies: dict[str, list[object]] = {}
        stack = list(trees)
        while stack:
            current = stack.pop()
            if getattr(current, "kind", "") == "function":
                name = current.parts[0]  # type: ignore[attr-defined]
                if getattr(name, "kind", "") == "word" and self.function_name(name.word, name):
                    self.functions.add(name.word)
                    bodies.setdefault(name.word, []).extend(current.parts[1:])  # type: ignore[attr-defined]
            stack.extend(_children(current))
        calls = {name: self.calls(parts) for name, parts in bodies.items()}
        component = _components(calls)
        for name, sites in calls.items():
            for callee, forks, node in sites:
                if forks and component[callee] == component[name]:
                    self.report(
                        "shell.recursion",
                        f"{name!r} calls itself (through {callee!r}) in a pipeline, in the "
                        "background or in a subshell: each call starts more processes (a fork "
                        "bomb); use a loop",
                        node,
                    )
                    break

    def function_name(self, name: str, node: object) -> bool:
        if not _FUNCTION_NAME_RE.match(name):
            self.report("shell.function", f"function name {name!r} is not a plain identifier", node)
            return False
        if (
            name in _SHELL_BUILTINS
            or name in self.shell.allowed_commands
            or name in self.shell.blocked_commands
            or name in _COMMAND_REASONS
        ):
            self.report(
                "shell.function",
                f"function {name!r} would shadow a command or builtin of the same name",
                node,
            )
            return False
        return True

    def calls(self, parts: list[object]) -> list[tuple[str, bool, object]]:
        """(function called, in a forking context, call node) for each call in a body."""
        found: list[tuple[str, bool, object]] = []
        stack: list[tuple[object, bool, int]] = [(p, False, 0) for p in parts]
        while stack:
            node, forks, depth = stack.pop()
            kind = getattr(node, "kind", "")
            if depth > _MAX_SOURCE_DEPTH or kind == "function":
                continue
            if kind == "command":
                words = [p for p in node.parts if getattr(p, "kind", "") == "word"]  # type: ignore[attr-defined]
                name = _literal(words[0]) if words else None
                if name in self.functions:
                    found.append((name, forks, words[0]))
            children = _children(node)
            if kind == "list":
                parts_ = node.parts  # type: ignore[attr-defined]
                for index, child in enumerate(parts_):
                    after = parts_[index + 1] if index + 1 < len(parts_) else None
                    stack.append((child, forks or getattr(after, "op", "") == "&", depth + 1))
                continue
            child_forks = (
                forks
                or kind in ("commandsubstitution", "processsubstitution")
                or (
                    kind == "pipeline"
                    and sum(getattr(c, "kind", "") != "pipe" for c in children) > 1
                )
            )
            if kind == "compound" and children and getattr(children[0], "word", "") == "(":
                child_forks = True
            stack.extend((child, child_forks, depth + 1) for child in children)
        return found

    def visit(self, node: object, depth: int = 0) -> None:
        if depth > _MAX_SOURCE_DEPTH:
            self.report("shell.syntax", "nesting too deep to check", node)
            return
        kind = getattr(node, "kind", "")
        if kind == "command":
            self.command(node)
        elif kind == "for":
            self.for_loop(node)
        elif kind == "redirect":
            self.redirect(node)
        elif kind == "assignment":
            self.assignment(node)
        elif kind == "parameter":
            self.parameter(node)
        for child in _children(node):
            self.visit(child, depth + 1)

    # -- commands -----------------------------------------------------------------------

    def command(self, node: object) -> None:
        words = [p for p in node.parts if getattr(p, "kind", "") == "word"]  # type: ignore[attr-defined]
        if not words:
            return
        name = _literal(words[0])
        raw = self.source[words[0].pos[0] : words[0].pos[1]]
        if name is None or "$" in raw or "`" in raw:
            self.report(
                "shell.command",
                "the command name is computed at run time, so it cannot be checked",
                words[0],
            )
            return
        if name in self.functions:
            return
        if name in self.shell.blocked_commands or name not in self.shell.allowed_commands:
            self.report("shell.command", self._command_message(name), words[0])
            return
        args = words[1:]
        if name in _OPTION_TOOLS and not self.option_words(name, args):
            return
        checker = _ARGUMENT_CHECKS.get(name)
        if checker is not None:
            checker(self, node, name, args)

    def option_words(self, name: str, args: list[object]) -> bool:
        """Long options by any prefix, and words that could become options at run time."""
        options = True
        previous = ""
        for index, word in enumerate(args):
            value = _literal(word)
            if value == "--" and name != "find":
                options = False
            if not options:
                continue
            if value is None:
                if not self.computed_word(name, word, previous):
                    return False
                previous = ""
                continue
            resolved = _long_option(name, value)
            if resolved is not None:
                full, kind, inline = resolved
                if kind == "write":
                    target = inline if inline is not None else None
                    if inline is None and index + 1 < len(args):
                        target = _literal(args[index + 1])
                    why = _path_value_problem(target)
                    if why is None and name == "tar" and full == "file" and ":" in (target or ""):
                        why = "it names an archive on another host"
                    if why is not None:
                        self.report(
                            "shell.write",
                            f"{name} {value} (--{full}) writes outside the working directory "
                            f"({why})",
                            word,
                        )
                        return False
                elif kind != "script":
                    self.option(word, f"{name} {value} (--{full}) {_LONG_KINDS[kind]}")
                    return False
            previous = value
        return True

    def computed_word(self, name: str, word: object, previous: str) -> bool:
        """A word built at run time in option position: could it become an option?"""
        start, end = word.pos  # type: ignore[attr-defined]
        prefix, split = _word_shape(self.text[start:end])
        if not split:
            if prefix and not prefix.startswith("-"):
                return True
            if previous in _VALUE_OPTIONS.get(name, ()):
                return True
            if prefix.startswith("--") and "=" in prefix:
                resolved = _long_option(name, prefix)
                if resolved is None:
                    return True
                full, kind, _ = resolved
                if kind == "write":
                    self.report(
                        "shell.write",
                        f"{name} --{full}: its path depends on a variable or substitution",
                        word,
                    )
                else:
                    self.option(word, f"{name} --{full} {_LONG_KINDS[kind]}")
                return False
            if len(prefix) > 1 and prefix[1] in _SHORT_VALUE_LETTERS.get(name, ""):
                return True
        self.option(
            word,
            f"{name}: an argument computed at run time could turn out to be an option "
            "(such as -exec, -delete or --compress-program=...); quote it and start it with "
            'a literal (./"$f"), or put it after --',
        )
        return False

    def _command_message(self, name: str) -> str:
        policy = self.policy.name
        if "/" in name:
            return f"{name!r}: commands must be called by a bare name from the allow-list"
        reason = _COMMAND_REASONS.get(name)
        if reason:
            return f"{name!r} {reason}; not allowed by policy {policy!r}"
        return f"command {name!r} is not on the allow-list of policy {policy!r}"

    def for_loop(self, node: object) -> None:
        parts = node.parts  # type: ignore[attr-defined]
        if len(parts) > 1 and getattr(parts[1], "kind", "") == "word":
            self.variable_name(parts[1].word, parts[1])

    def variable_name(self, name: str, node: object) -> bool:
        """Check a variable about to be written; False (after reporting) if it may not be."""
        base, bracket, subscript = name.partition("[")
        if base in _SENSITIVE_VARIABLES or base.startswith(_SENSITIVE_PREFIXES):
            self.report(
                "shell.variable",
                f"setting {base} changes which programs run or what the shell executes",
                node,
            )
        elif not _IDENT_RE.match(base):
            self.report("shell.variable", f"{name!r} is not a plain variable name", node)
        elif bracket and not re.fullmatch(r"(?:[0-9]+|[@*])\]", subscript):
            self.report(
                "shell.variable",
                "array subscripts of written variables are evaluated as arithmetic (which can "
                "run commands hidden in variable values); use a literal index",
                node,
            )
        else:
            return True
        return False

    def assignment(self, node: object) -> None:
        word = node.word  # type: ignore[attr-defined]
        name = re.split(r"\+?=", word, maxsplit=1)[0]
        self.variable_name(name, node)

    def parameter(self, node: object) -> None:
        # Also checked by the pre-scan; bashlex does not parse inside ${...}.
        value = getattr(node, "value", "") or ""
        target = re.match(r"([A-Za-z_][A-Za-z0-9_]*):?=", value)
        if target:
            self.variable_name(target.group(1), node)
        if "$(" in value or "`" in value or value.endswith("@P"):
            self.report(
                "shell.expansion",
                "${...} with a command substitution or @P is not checked by the validator",
                node,
            )

    def heredoc(self, node: object, delimiter: object) -> None:
        start, end = getattr(delimiter, "pos", (0, 0))
        raw = self.source[start:end]
        body = getattr(getattr(node, "heredoc", None), "value", "") or ""
        quoted = any(ch in raw for ch in "'\"\\")
        if not quoted and ("$(" in body or "`" in body or "${" in body):
            self.report(
                "shell.expansion",
                "substitutions in an unquoted here-document are not checked by the validator; "
                "quote the delimiter (<<'EOF') or use a variable",
                node,
            )

    def redirect(self, node: object) -> None:
        kind = node.type  # type: ignore[attr-defined]
        target = getattr(node, "output", None)
        if isinstance(target, int) or target is None:
            return
        if kind in ("<<", "<<-"):
            self.heredoc(node, target)
            return
        value = _literal(target) or ""
        if value.startswith(("/dev/tcp/", "/dev/udp/")):
            self.report(
                "shell.network",
                "redirection to /dev/tcp or /dev/udp opens a network connection",
                node,
            )
            return
        if kind not in _WRITE_REDIRECTS:
            return
        why = _path_problem(target)
        if why is not None:
            self.report(
                "shell.write",
                f"redirection writes outside the working directory ({why})",
                node,
            )

    # -- argument checks ----------------------------------------------------------------

    def write_paths(self, words: list[object], what: str) -> None:
        for word in words:
            why = _path_problem(word)
            if why is not None:
                self.report("shell.write", f"{what} outside the working directory ({why})", word)
                return

    def option(self, word: object, message: str) -> None:
        self.report("shell.option", message, word)


def _components(calls: dict[str, list[tuple[str, bool, object]]]) -> dict[str, int]:
    """Strongly connected components of the call graph (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    component: dict[str, int] = {}
    stack: list[str] = []
    for root in calls:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, edge = work.pop()
            if edge == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
            callees = [c for c, _, _ in calls.get(node, ())]
            if edge < len(callees):
                work.append((node, edge + 1))
                callee = callees[edge]
                if callee not in index:
                    work.append((callee, 0))
                elif callee not in component:
                    low[node] = min(low[node], index[callee])
                continue
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    component[member] = index[node]
                    if member == node:
                        break
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return component


def _children(node: object) -> list[object]:
    found: list[object] = []
    for name in ("parts", "list", "redirects"):
        value = getattr(node, name, None)
        if value:
            found.extend(value)
    for name in ("command", "output", "heredoc"):
        value = getattr(node, name, None)
        if value is not None and not isinstance(value, int | str):
            found.append(value)
    return found


# Long options that run programs, write to a path, make links or are refused outright, per
# tool. GNU getopt_long accepts any unambiguous prefix (--compress= is
# --compress-program=), so a word matches when it is a prefix of one of these.
_LONG_OPTIONS: dict[str, dict[str, str]] = {
    "sort": {"compress-program": "exec", "output": "write", "temporary-directory": "write"},
    "cp": {"target-directory": "write", "symbolic-link": "link", "link": "link"},
    "mv": {"target-directory": "write"},
    "sed": {"in-place": "refuse", "file": "refuse", "expression": "script"},
    "date": {"set": "refuse"},
    "tar": {
        "to-command": "exec",
        "checkpoint-action": "exec",
        "use-compress-program": "exec",
        "rsh-command": "exec",
        "rmt-command": "exec",
        "info-script": "exec",
        "new-volume-script": "exec",
        "absolute-names": "refuse",
        "directory": "write",
        "file": "write",
        "listed-incremental": "write",
        "index-file": "write",
        "volno-file": "write",
    },
    "zip": {"unzip-command": "exec"},
}
# Options that are also prefixes of the ones above: an exact match wins.
_LONG_EXACT_SAFE = {"tar": frozenset({"checkpoint", "list"})}
_LONG_KINDS = {
    "exec": "runs a program",
    "link": "creates links, which can point outside",
    "refuse": "is not allowed (in-place edits, script files, absolute names, the clock)",
}
# Tools whose arguments are checked for options; a computed word there must not be one.
_OPTION_TOOLS = frozenset(_LONG_OPTIONS) | {"find", "unzip", "tree"}
# Options whose next word is their value (so a computed word there is data, not an option).
_VALUE_OPTIONS = {
    "find": names(
        """-name -iname -path -ipath -wholename -iwholename -regex -iregex -lname -ilname -newer
        -anewer -cnewer -type -xtype -user -group -uid -gid -size -perm -mtime -atime -ctime -mmin
        -amin -cmin -maxdepth -mindepth -links -inum -samefile -used -fstype -regextype
        -newermt -newerat -newerct"""
    ),
    "sort": names("-k -t --key --field-separator -S --buffer-size"),
    "date": names("-d --date"),
    "sed": names("-e --expression"),
}
_SHORT_VALUE_LETTERS = {"sort": "kt", "date": "d"}


def _long_option(command: str, value: str) -> tuple[str, str, str | None] | None:
    """(option, kind, inline value) when ``value`` names a listed long option of ``command``."""
    if not value.startswith("--") or value == "--":
        return None
    name, equals, inline = value[2:].partition("=")
    table = _LONG_OPTIONS.get(command, {})
    if not name or name in _LONG_EXACT_SAFE.get(command, ()):
        return None
    full = name if name in table else next((o for o in sorted(table) if o.startswith(name)), None)
    if full is None:
        return None
    return full, table[full], inline if equals else None


def _word_shape(text: str) -> tuple[str, bool]:
    """A word's literal text before its first expansion, and whether it has an unquoted one
    (word splitting can then turn it into several arguments)."""
    prefix: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote != "'" and ch in "$`":
            if not quote:
                return "".join(prefix), True
            rest = text[i:]
            return "".join(prefix), _has_unquoted_expansion(rest, quote)
        if ch == "\\" and quote != "'" and i + 1 < len(text):
            prefix.append(text[i + 1])
            i += 2
            continue
        if ch in "'\"" and (not quote or quote == ch):
            quote = "" if quote else ch
        else:
            prefix.append(ch)
        i += 1
    return "".join(prefix), False


def _has_unquoted_expansion(text: str, quote: str) -> bool:
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quote != "'":
            i += 2
            continue
        if ch in "'\"" and (not quote or quote == ch):
            quote = "" if quote else ch
        elif not quote and ch in "$`":
            return True
        i += 1
    return False


def _split(args: list[object]) -> tuple[list[object], list[object]]:
    """(options, operands); ``--`` ends options."""
    options: list[object] = []
    operands: list[object] = []
    ended = False
    for word in args:
        value = _literal(word)
        if not ended and value == "--":
            ended = True
        elif not ended and value is not None and value.startswith("-") and value != "-":
            options.append(word)
        else:
            operands.append(word)
    return options, operands


def _check_rm(w: _Walker, node: object, name: str, args: list[object]) -> None:
    w.write_paths(_split(args)[1], f"{name} changes files")


def _check_cp(w: _Walker, node: object, name: str, args: list[object]) -> None:
    options, operands = _split(args)
    for option in options:
        value = _literal(option) or ""
        if value in ("-s", "-l", "--symbolic-link", "--link") or (
            not value.startswith("--") and any(ch in value[1:] for ch in "sl")
        ):
            w.option(option, f"{name} {value} creates links, which can point outside")
            return
        if value.startswith(("--target-directory=", "-t")):
            target = value.split("=", 1)[1] if "=" in value else value[2:]
            if not target or target.startswith(("/", "~")) or ".." in target.split("/"):
                w.option(option, f"{name} writes outside the working directory")
                return
    if name == "mv":
        w.write_paths(operands, "mv moves files")
    elif operands:
        w.write_paths(operands[-1:], "cp writes")


def _check_tee(w: _Walker, node: object, name: str, args: list[object]) -> None:
    w.write_paths(_split(args)[1], "tee writes")


def _check_find(w: _Walker, node: object, name: str, args: list[object]) -> None:
    for word in args:
        if _literal(word) in _FIND_BLOCKED:
            w.option(word, f"find {_literal(word)} runs commands, deletes or writes files")
            return


def _check_sed(w: _Walker, node: object, name: str, args: list[object]) -> None:
    scripts: list[object] = []
    take_next = False
    skip_next = False
    has_e = False
    for word in args:
        value = _literal(word)
        if take_next or skip_next:
            if take_next:
                scripts.append(word)
            take_next = skip_next = False
            continue
        if value is None:
            scripts.append(word)
            continue
        if value.startswith("--"):
            resolved = _long_option("sed", value)
            if resolved is not None and resolved[0] == "expression":
                has_e = True
                if resolved[2] is None:
                    take_next = True
                else:
                    scripts.append(word)
            elif "=" not in value and "--line-length".startswith(value.split("=")[0]):
                skip_next = True
            continue
        if value.startswith("-") and len(value) > 1:
            letters = value[1:]
            if "i" in letters or "f" in letters:
                w.option(word, "sed -i (in-place editing) and -f are not allowed")
                return
            if "e" in letters:
                has_e = True
                rest = letters[letters.index("e") + 1 :]
                if rest:
                    scripts.append(word)
                else:
                    take_next = True
            elif letters.endswith("l"):
                skip_next = True
            continue
        if not has_e and not scripts:
            scripts.append(word)
    for word in scripts:
        value = _literal(word)
        if value is None:
            w.option(word, "the sed script depends on a variable, so it cannot be checked")
            return
        if value.startswith("--"):
            value = value.split("=", 1)[1]
        elif value.startswith("-"):
            value = value[value.index("e") + 1 :]
        if _sed_script_writes(value):
            w.option(word, "sed commands e, w and W (and s///e, s///w) run commands or write files")
            return


def _sed_script_writes(script: str) -> bool:
    for match in _SED_SUBST_RE.finditer(script):
        if re.search(r"[ewW]", match.group(4)):
            return True
    rest = _SED_SUBST_RE.sub(";", script)
    rest = _SED_Y_RE.sub(";", rest)
    rest = _SED_ADDRESS_RE.sub(" ", rest)
    rest = _SED_TEXT_RE.sub(";", rest)
    return re.search(r"[ewW]", rest) is not None


def _check_awk(w: _Walker, node: object, name: str, args: list[object]) -> None:
    program_seen = False
    skip = False
    for word in args:
        value = _literal(word)
        if skip:
            skip = False
            continue
        if value is None:
            if not program_seen:
                w.option(word, "the awk program depends on a variable, so it cannot be checked")
                return
            continue
        if not program_seen and value.startswith("-") and value != "-":
            if value in ("-v", "-F"):
                skip = True
                continue
            if value.startswith(("-v", "-F")):
                continue
            w.option(word, f"awk option {value} (program files, extensions) is not allowed")
            return
        if not program_seen:
            program_seen = True
            if _AWK_BLOCKED_RE.search(value):
                w.option(
                    word, "awk system(), getline, pipes and output redirection are not allowed"
                )
                return


def _check_sort(w: _Walker, node: object, name: str, args: list[object]) -> None:
    words = list(args)
    for index, word in enumerate(words):
        value = _literal(word) or ""
        if value.startswith("--compress-program"):
            w.option(word, "sort --compress-program runs a program")
            return
        if value in ("-T", "--temporary-directory") and index + 1 < len(words):
            w.write_paths(words[index + 1 : index + 2], "sort -T writes temporary files")
            return
        if value in ("-o", "--output"):
            if index + 1 < len(words):
                w.write_paths(words[index + 1 : index + 2], "sort -o writes")
            return
        if value.startswith(("--output=", "-o")):
            path = value.split("=", 1)[1] if value.startswith("--") else value[2:]
            why = _path_value_problem(path)
            if why is not None:
                w.report(
                    "shell.write", f"sort -o writes outside the working directory ({why})", word
                )
            return


def _check_uniq(w: _Walker, node: object, name: str, args: list[object]) -> None:
    operands = _split(args)[1]
    if len(operands) > 1:
        w.write_paths(operands[1:2], "uniq writes its output file")


def _check_date(w: _Walker, node: object, name: str, args: list[object]) -> None:
    for word in args:
        value = _literal(word) or ""
        if value in ("-s", "--set") or value.startswith("--set="):
            w.option(word, "date -s sets the system clock")
            return


def _check_cd(w: _Walker, node: object, name: str, args: list[object]) -> None:
    if w.shell.cd_anywhere:
        return
    operands = _split(args)[1]
    if not operands or _literal(operands[0]) == "-":
        w.report("shell.write", "cd without a directory inside the working directory", node)
        return
    w.write_paths(operands[:1], "cd moves")


_READ_VALUE_OPTIONS = frozenset("dinNptu")


def _written_names(name: str, args: list[object]) -> list[tuple[object, str | None]]:
    """(word, name) for each variable ``read``/``printf -v``/``test -v`` writes or tests."""
    found: list[tuple[object, str | None]] = []
    if name == "printf":
        first = _literal(args[0]) if args else ""
        if first == "-v" and len(args) > 1:
            found.append((args[1], _literal(args[1])))
        elif first is not None and first.startswith("-v"):
            found.append((args[0], first[2:]))
        return found
    if name in ("test", "["):
        for index, word in enumerate(args[:-1]):
            if _literal(word) == "-v":
                found.append((args[index + 1], _literal(args[index + 1])))
        return found
    take = ""
    options = True
    for word in args:
        value = _literal(word)
        if take:
            if take == "name":
                found.append((word, value))
            take = ""
        elif options and value == "--":
            options = False
        elif options and value is not None and value.startswith("-") and value != "-":
            for position, letter in enumerate(value[1:], start=1):
                if letter == "a" or letter in _READ_VALUE_OPTIONS:
                    rest = value[position + 1 :]
                    if letter == "a" and rest:
                        found.append((word, rest))
                    elif not rest:
                        take = "name" if letter == "a" else "value"
                    break
        else:
            found.append((word, value))
    return found


def _check_names(w: _Walker, node: object, name: str, args: list[object]) -> None:
    """read, printf -v, unset, test -v: written or tested names must be plain identifiers."""
    if name == "printf" and args and _literal(args[0]) is None and len(args) > 1:
        # A computed format may turn out to be -v: the next word is then a variable name.
        candidate = _literal(args[1]) or ""
        base = candidate.split("[", 1)[0]
        if "[" in candidate or base in _SENSITIVE_VARIABLES or base.startswith(_SENSITIVE_PREFIXES):
            w.report(
                "shell.variable", "printf with a computed first word may write a variable", args[1]
            )
            return
    for word, value in _written_names(name, args):
        if value is None:
            w.report(
                "shell.variable",
                f"{name}: variable names must be literal (a computed name can carry an "
                "arithmetic subscript, which can run commands)",
                word,
            )
            return
        if name == "unset":
            if not _IDENT_RE.match(value.split("[", 1)[0]):
                w.report("shell.variable", f"unset: {value!r} is not a plain variable name", word)
                return
        elif not w.variable_name(value, word):
            return


def _check_declare(w: _Walker, node: object, name: str, args: list[object]) -> None:
    readonly = name == "readonly"
    for word in args:
        value = _literal(word)
        if value is None:
            w.report("shell.variable", f"{name}: names must be literal", word)
            return
        if value.startswith(("-", "+")):
            if "n" in value or "i" in value:
                w.option(
                    word,
                    f"{name} {value}: namerefs and integer variables evaluate assigned values "
                    "as names or arithmetic (which can run commands hidden in them)",
                )
                return
            readonly = readonly or (value.startswith("-") and "r" in value)
            continue
        variable, _, assigned = value.partition("=")
        if not w.variable_name(variable.rstrip("+"), word):
            return
        if readonly and w.shell.arithmetic and not re.fullmatch(r"[+-]?[0-9]+", assigned):
            # A read-only variable keeps its value when a later cell re-initialises it, so
            # it could carry a[$(cmd)] into arithmetic that looks safe.
            w.report(
                "shell.variable",
                f"{name}: read-only variables may only hold integer literals under policy "
                f"{w.policy.name!r} (a read-only value survives re-initialisation)",
                word,
            )
            return


def _check_set(w: _Walker, node: object, name: str, args: list[object]) -> None:
    previous = ""
    for word in args:
        value = _literal(word)
        if value is None or value in ("--", "-"):
            return
        if (value.startswith(("-", "+")) and not value.startswith("--") and "k" in value) or (
            previous in ("-o", "+o") and value == "keyword"
        ):
            w.option(
                word,
                "set -k (keyword) turns name=value arguments anywhere into environment "
                "settings, which the validator would read as plain arguments",
            )
            return
        previous = value


def _check_compress(w: _Walker, node: object, name: str, args: list[object]) -> None:
    options, operands = _split(args)
    flags = "".join(
        (_literal(o) or "")[1:] for o in options if not (_literal(o) or "").startswith("--")
    )
    long = {_literal(o) for o in options}
    if set(flags) & set("ctl") or long & {"--stdout", "--to-stdout", "--test", "--list"}:
        return
    w.write_paths(operands, f"{name} replaces files")


_TAR_BLOCKED = (
    "--to-command",
    "--checkpoint-action",
    "--use-compress-program",
    "--rsh-command",
    "--info-script",
    "--new-volume-script",
    "--absolute-names",
    "-I",
    "-F",
    "-P",
)


def _check_tar(w: _Walker, node: object, name: str, args: list[object]) -> None:
    words = list(args)
    for index, word in enumerate(words):
        value = _literal(word)
        if value is None:
            continue
        if index == 0 and re.fullmatch(r"[A-Za-z]+", value):
            value = "-" + value  # old-style option cluster: tar xzf a.tgz
        if value.startswith(_TAR_BLOCKED) or (
            value.startswith("-") and not value.startswith("--") and set(value[1:]) & set("IFP")
        ):
            w.option(word, f"tar {value} runs programs or writes outside the working directory")
            return
        takes_path = value in ("-C", "--directory", "-f", "--file") or (
            value.startswith("-") and not value.startswith("--") and value.endswith(("f", "C", "g"))
        )
        if value.startswith(("--directory=", "--file=")):
            why = _path_value_problem(value.split("=", 1)[1])
            if why is not None:
                w.report("shell.write", f"tar {value}: outside the working directory ({why})", word)
                return
        elif takes_path and index + 1 < len(words):
            target = _literal(words[index + 1]) or ""
            if ":" in target:
                w.option(
                    words[index + 1], "tar archives on other hosts (host:file) are not allowed"
                )
                return
            w.write_paths(words[index + 1 : index + 2], "tar works")


def _check_zip(w: _Walker, node: object, name: str, args: list[object]) -> None:
    for index, word in enumerate(args):
        value = _literal(word) or ""
        if value in ("-TT", "--unzip-command") or value.startswith("--unzip-command="):
            w.option(word, f"{name} {value} runs a program")
            return
        if value == "-d" and index + 1 < len(args):
            w.write_paths(args[index + 1 : index + 2], f"{name} -d writes")
            return


def _check_output_option(w: _Walker, node: object, name: str, args: list[object]) -> None:
    for index, word in enumerate(args):
        if _literal(word) == "-o" and index + 1 < len(args):
            w.write_paths(args[index + 1 : index + 2], f"{name} -o writes")
            return


_ARGUMENT_CHECKS = {
    "gzip": _check_compress,
    "gunzip": _check_compress,
    "bzip2": _check_compress,
    "bunzip2": _check_compress,
    "xz": _check_compress,
    "unxz": _check_compress,
    "tar": _check_tar,
    "zip": _check_zip,
    "unzip": _check_zip,
    "tree": _check_output_option,
    "rm": _check_rm,
    "rmdir": _check_rm,
    "mkdir": _check_rm,
    "touch": _check_rm,
    "cp": _check_cp,
    "mv": _check_cp,
    "tee": _check_tee,
    "find": _check_find,
    "sed": _check_sed,
    "awk": _check_awk,
    "sort": _check_sort,
    "uniq": _check_uniq,
    "date": _check_date,
    "cd": _check_cd,
    "read": _check_names,
    "unset": _check_names,
    "printf": _check_names,
    "test": _check_names,
    "[": _check_names,
    "export": _check_declare,
    "local": _check_declare,
    "declare": _check_declare,
    "readonly": _check_declare,
    "typeset": _check_declare,
    "set": _check_set,
    "mapfile": _check_names,
    "readarray": _check_names,
}


def check(code: str, policy: Policy) -> list[Violation]:
    """All violations of ``policy`` in shell ``code`` (never raises on bad input)."""
    out = Collector(policy)
    if len(code) > policy.shell.max_source_chars:
        out.add(
            "shell.input",
            f"script is longer than {policy.shell.max_source_chars} characters",
            1,
            1,
            "",
        )
        return out.violations
    if "\0" in code:
        line, column = position_of(code, code.index("\0"))
        out.add("shell.input", "script contains a NUL byte", line, column, "")
        return out.violations
    scan = _Scanner(code, policy.shell).scan()
    for p in scan.problems:
        line, column = position_of(code, p.start)
        out.add(p.rule, p.message, line, column, code[p.start : p.end])
    if scan.unparseable or not scan.text.strip():
        return out.violations
    try:
        trees = run_with_budget(lambda: bashlex.parse(scan.text), PARSE_BUDGET_S)
    except BudgetExceeded:
        out.add(
            "shell.syntax",
            f"the shell parser gave up after {PARSE_BUDGET_S:g} s on this script",
            1,
            1,
            code,
        )
        return out.violations
    except bashlex.errors.ParsingError as exc:
        line, column = position_of(code, exc.position)
        out.add("shell.syntax", f"cannot parse: {exc.message}", line, column, code[exc.position :])
        return out.violations
    except NotImplementedError as exc:
        out.add(
            "shell.syntax",
            f"shell syntax the validator cannot check ({exc}); rewrite it with if/for/while",
            1,
            1,
            code,
        )
        return out.violations
    except RecursionError:
        out.add("shell.syntax", "script is nested too deeply to check", 1, 1, code)
        return out.violations
    except Exception as exc:  # bashlex raises assorted errors on odd input
        out.add("shell.syntax", f"cannot parse ({type(exc).__name__}: {exc})", 1, 1, code)
        return out.violations
    walker = _Walker(code, scan.text, policy, out)
    walker.collect_functions(trees)
    for tree in trees:
        walker.visit(tree)
    if scan.uses:
        provenance = _Provenance(scan.text)
        provenance.walk(trees)
        for use in scan.uses:
            if not provenance.allows(use):
                line, column = position_of(code, use.start)
                what = "indirection through" if use.kind == "ref" else "arithmetic on"
                out.add(
                    "shell.arithmetic",
                    f"{what} {use.name!r}: bash evaluates its value (a[$(cmd)] in it runs cmd), "
                    f"and this cell does not first set it to a literal "
                    f"{'integer' if use.kind == 'int' else 'name'} on every path",
                    line,
                    column,
                    code[use.start : use.end],
                )
    # The pre-scan and the walk both look at ${...} and here-documents: report each once.
    seen: set[tuple[str, int, int]] = set()
    unique = []
    for v in out.finish("shell"):
        key = (v.rule, v.line, v.column)
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return unique
