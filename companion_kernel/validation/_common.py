"""Shared helpers: collecting violations under a policy, positions and snippets."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .report import Violation

if TYPE_CHECKING:
    from .policy import Policy

SNIPPET_MAX = 80
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def names(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


def clip(text: str, limit: int = SNIPPET_MAX) -> str:
    """First line of ``text``, shortened to ``limit`` characters."""
    first, _, rest = text.partition("\n")
    first = first.rstrip("\r")
    if len(first) > limit:
        return first[: limit - 1] + "…"
    return first + " …" if rest.strip() else first


def split_lines(source: str) -> list[str]:
    """Lines as parsers count them (``\\n``, ``\\r\\n`` and ``\\r`` end a line)."""
    return _LINE_BREAK.split(source)


def char_column(line: str, byte_col: int) -> int:
    """0-based character column for a 0-based UTF-8 byte column in ``line``."""
    if line.isascii():
        return byte_col
    return len(line.encode("utf-8", "surrogatepass")[:byte_col].decode("utf-8", "replace"))


MAX_VIOLATIONS = 500


class Collector:
    """Violations for one validation, with the policy's warn and disable lists applied.

    After `MAX_VIOLATIONS` entries only a count is kept (a megabyte of ``eval;`` should not
    cost seconds of report building); `finish` adds one entry that says how many more.
    """

    __slots__ = ("_disabled", "_dropped", "_dropped_error", "_warn", "violations")

    def __init__(self, policy: Policy) -> None:
        self._warn = policy.warn_rules
        self._disabled = policy.disabled_rules
        self._dropped = 0
        self._dropped_error = False
        self.violations: list[Violation] = []

    def add(
        self,
        rule: str,
        message: str,
        line: int,
        column: int,
        snippet: str,
        *,
        ename: str | None = None,
    ) -> None:
        """Record a violation; ``line`` and ``column`` are 1-based; ``ename`` marks a parse
        error (the exception the kernel would raise)."""
        if rule in self._disabled:
            return
        severity = "warning" if rule in self._warn else "error"
        if len(self.violations) >= MAX_VIOLATIONS:
            self._dropped += 1
            self._dropped_error = self._dropped_error or severity == "error"
            return
        self.violations.append(
            Violation(
                rule=rule,
                message=message,
                line=max(line, 1),
                column=max(column, 1),
                snippet=clip(snippet),
                severity=severity,
                ename=ename,
            )
        )

    def extend(self, violations: list[Violation]) -> None:
        """Add violations found by a nested check (already filtered)."""
        self.violations.extend(violations)

    @property
    def full(self) -> bool:
        """True once the list is capped and the code is already rejected: checkers may stop."""
        return self._dropped_error

    def finish(self, prefix: str) -> list[Violation]:
        """The violations, plus a note on any left out."""
        if self._dropped:
            last = self.violations[-1]
            self.violations.append(
                Violation(
                    rule=f"{prefix}.more",
                    message=f"{self._dropped} or more further violation(s) not listed",
                    line=last.line,
                    column=last.column,
                    snippet="",
                    severity="error" if self._dropped_error else "warning",
                )
            )
        return self.violations


def position_of(source: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of a character index in ``source``."""
    index = max(0, min(index, len(source)))
    before = source[:index]
    line = before.count("\n") + 1
    column = index - (before.rfind("\n") + 1) + 1
    return line, column


def line_at(source: str, line: int) -> str:
    """The text of 1-based line ``line`` (empty when out of range)."""
    lines = split_lines(source)
    return lines[line - 1] if 0 < line <= len(lines) else ""
