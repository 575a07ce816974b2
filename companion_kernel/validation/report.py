"""What the validator found: typed, serialisable results."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["Severity", "ValidationReport", "Violation"]

Severity = Literal["error", "warning"]


class Violation(BaseModel):
    """One thing the policy does not allow, with where it is."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    rule: str
    """Rule id, ``<language>.<rule>``, e.g. ``python.import`` or ``shell.command``."""
    message: str
    """What is wrong and why, for a person."""
    line: int
    """1-based line of the offending code."""
    column: int
    """1-based column, counted in characters (not bytes)."""
    snippet: str
    """The offending code (shortened to at most 80 characters)."""
    severity: Severity = "error"
    """``error`` rejects the code; ``warning`` is reported but does not."""
    ename: str | None = None
    """For code that does not parse: the exception the kernel would raise (``SyntaxError``,
    ``IndentationError``, ``TabError``); None for policy violations."""

    def __str__(self) -> str:
        text = f"{self.line}:{self.column}: {self.severity} [{self.rule}] {self.message}"
        return f"{text}\n    {self.snippet}" if self.snippet else text


class ValidationReport(BaseModel):
    """The verdict on one piece of code under one policy."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    ok: bool
    """True when there is no violation of severity ``error``."""
    language: str
    """Canonical language name: ``python``, ``javascript`` or ``shell``."""
    policy: str
    """Name of the policy the code was judged by."""
    violations: list[Violation]
    """Everything found, errors and warnings, in source order."""

    @classmethod
    def from_violations(
        cls, language: str, policy: str, violations: Iterable[Violation]
    ) -> ValidationReport:
        """Build a report; ``ok`` follows from the severities."""
        found = sorted(violations, key=lambda v: (v.line, v.column, v.rule))
        ok = not any(v.severity == "error" for v in found)
        return cls(ok=ok, language=language, policy=policy, violations=found)

    @property
    def errors(self) -> list[Violation]:
        """Violations that reject the code."""
        return [v for v in self.violations if v.severity == "error"]

    @property
    def syntax_error(self) -> Violation | None:
        """The parse error when that is all that is wrong (an error, not a policy rejection):
        callers report it as status ``error`` with its ``ename``, line and column."""
        errors = self.errors
        if errors and all(v.ename for v in errors):
            return errors[0]
        return None

    @property
    def warnings(self) -> list[Violation]:
        """Violations that are only reported."""
        return [v for v in self.violations if v.severity == "warning"]

    def summary(self) -> str:
        """A few lines for people: the verdict, then one entry per violation."""
        verdict = "accepted" if self.ok else "rejected"
        head = f"{self.language} code {verdict} by policy {self.policy!r}"
        if not self.violations:
            return head
        counts = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        return "\n".join([f"{head}: {counts}", *(str(v) for v in self.violations)])

    def __str__(self) -> str:
        return self.summary()
