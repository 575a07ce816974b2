"""Pre-submit validation: a policy gate in front of the kernels.

``validate(code, language, policy=None)`` parses code the way its kernel will read it
and returns a `ValidationReport`: ``ok`` plus a list of `Violation` records (rule id,
message, 1-based line and column, snippet, severity). It never raises on any code
string - syntax errors, NUL bytes, huge or deeply nested input all become violations -
and only raises for a bad *request* (`UnknownLanguage`, `InvalidRequest` for an unknown
policy name). One exception to "syntax errors become violations": ordinary multi-line
Python that provably triggers no rule is accepted without being parsed (the lexical fast
path, see `companion_kernel.validation._pyscan`), so a syntax error there that leaves
brackets and quotes balanced (``x = = 1``) is left to the kernel to report; nothing of
such a cell runs. A report whose only errors are parse errors has them as
`ValidationReport.syntax_error` (with ``ename`` ``SyntaxError``/``IndentationError``/
``TabError``, line and column): callers report that as an error, not as a policy rejection.

What it is, and what it is not
------------------------------
The validator is a **policy gate**: it turns away code that plainly reaches for things
the session is not meant to use (subprocesses, the network, ``eval``, sandbox-escape
idioms such as ``().__class__.__base__.__subclasses__()``, ``this.constructor.constructor``,
``curl | sh``) with a message a person or a model can act on, before a kernel is even
involved. It is deliberately conservative and cheap (well under a millisecond for a
typical cell).

It is **not the security boundary**. Static checks of dynamic languages cannot be
complete: values computed at run time (``obj[name]`` in JavaScript with a computed
``name``, format strings assembled at run time, ``this`` in sloppy-mode functions,
objects reached through data structures) can always reach further than any syntax rule
sees. The isolation layer - bubblewrap namespaces, resource limits, no network - is what
contains code that slips through. Keep both on for untrusted code.

Languages and policies
----------------------
Languages are ``python`` (IPython syntax included: ``!cmd`` and ``%magic`` are
transformed with IPython's own input transformer and judged as the calls they become),
``javascript`` (tree-sitter) and ``shell`` (bashlex); aliases ``py``, ``ipython``, ``js``,
``node``, ``bash``, ``sh``. Policies are frozen pydantic models: presets ``strict`` (the
default here; the engine's default is ``standard``, meant for model-written code in the
sandbox), ``standard`` and ``off`` (see `companion_kernel.validation.policy`), derived with
helpers such as ``get_policy("strict").allow_modules("numpy")``.

Rule ids are ``<language>.<rule>``: ``python.import``, ``python.builtin``,
``python.dunder``, ``python.frame``, ``python.module-attribute``, ``python.evaluator``,
``python.dynamic-attribute``, ``python.format-string``, ``python.type-call``,
``python.magic``, ``python.shell-escape``, ``python.dunder-definition``, ``python.process``,
``python.network``, ``python.private``, ``python.internal`` (the engine's injected objects),
``python.logging-config``, ``python.syntax``;
``js.require``, ``js.eval``, ``js.function-constructor``, ``js.constructor``,
``js.process``, ``js.module``, ``js.global``, ``js.reflect``, ``js.stack-trace``,
``js.callee``, ``js.proto``, ``js.with``, ``js.this``, ``js.network``,
``js.computed-member``, ``js.syntax``; ``shell.command``, ``shell.option``,
``shell.write``, ``shell.network``, ``shell.variable``, ``shell.arithmetic``,
``shell.expansion``, ``shell.history``, ``shell.syntax``; and ``<language>.input`` /
``<language>.internal`` (too large, or the validator itself failed - the code is rejected).
"""

from __future__ import annotations

from .. import errors as _errors
from .policy import (
    PRESETS,
    JavaScriptPolicy,
    Policy,
    PythonPolicy,
    ShellPolicy,
    get_policy,
    load_policy,
    policy_option,
    policy_to_toml,
)
from .report import Severity, ValidationReport, Violation

__all__ = [
    "LANGUAGES",
    "PRESETS",
    "JavaScriptPolicy",
    "Policy",
    "PythonPolicy",
    "Severity",
    "ShellPolicy",
    "ValidationReport",
    "Violation",
    "get_policy",
    "load_policy",
    "normalize_language",
    "policy_option",
    "policy_to_toml",
    "validate",
]

LANGUAGES = ("python", "javascript", "shell")
"""Canonical language names."""

_ALIASES = {
    "python": "python",
    "python3": "python",
    "py": "python",
    "ipython": "python",
    "javascript": "javascript",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "shell": "shell",
    "bash": "shell",
    "sh": "shell",
}


def normalize_language(language: str) -> str:
    """Canonical name for a language or alias; `UnknownLanguage` otherwise."""
    try:
        return _ALIASES[language.strip().lower()]
    except (KeyError, AttributeError):
        known = ", ".join(sorted(_ALIASES))
        raise _errors.UnknownLanguage(
            f"no validator for language {language!r}; known: {known}"
        ) from None


def validate(code: str, language: str, policy: Policy | str | None = None) -> ValidationReport:
    """Check ``code`` against ``policy`` (default ``strict``); never raises on the code."""
    lang = normalize_language(language)
    resolved = get_policy(policy)
    if not resolved.enabled:
        return ValidationReport(ok=True, language=lang, policy=resolved.name, violations=[])
    if not isinstance(code, str):
        code = _as_text(code)
    if len(code) > resolved.max_source_chars:
        violation = Violation(
            rule=f"{_PREFIX[lang]}.input",
            message=f"code is longer than {resolved.max_source_chars} characters",
            line=1,
            column=1,
            snippet="",
        )
        return ValidationReport.from_violations(lang, resolved.name, [violation])
    try:
        violations = _CHECKS[lang](code, resolved)
    except Exception as exc:  # fail closed: a checker bug must not let code through
        violations = [
            Violation(
                rule=f"{_PREFIX[lang]}.internal",
                message=f"the validator failed on this code ({type(exc).__name__}: {exc})",
                line=1,
                column=1,
                snippet="",
            )
        ]
    return ValidationReport.from_violations(lang, resolved.name, violations)


def _as_text(code: object) -> str:
    if isinstance(code, bytes | bytearray):
        return bytes(code).decode("utf-8", "replace")
    return str(code)


def _check_python(code: str, policy: Policy) -> list[Violation]:
    from ._python import check

    return check(code, policy)


def _check_javascript(code: str, policy: Policy) -> list[Violation]:
    from ._javascript import check

    return check(code, policy)


def _check_shell(code: str, policy: Policy) -> list[Violation]:
    from ._shell import check

    return check(code, policy)


_PREFIX = {"python": "python", "javascript": "js", "shell": "shell"}
_CHECKS = {"python": _check_python, "javascript": _check_javascript, "shell": _check_shell}
