"""Text tools: uppercase, lowercase, reverse_text, count_words, count_characters,
extract_numbers."""

from __future__ import annotations

import re

from companion_kernel.tools.base import tool
from companion_kernel.tools.builtins._common import PURE

__all__ = [
    "count_characters",
    "count_words",
    "extract_numbers",
    "lowercase",
    "reverse_text",
    "uppercase",
]

# A sign only counts at the start of a token ("x=-3", "-5"), not after a word or digit
# ("10-20" is a range, "2024-01-15" a date); digits never start inside another number.
_NUMBER = re.compile(
    r"(?:(?<![\w.])(?P<sign>[-+\u2212]))?"
    r"(?<![0-9.])(?P<digits>(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
)


@tool(category="text", tags=("case", "upper"), **PURE)
def uppercase(text: str) -> str:
    """Convert text to upper case.

    Args:
        text: The text to convert.
    """
    return text.upper()


@tool(category="text", tags=("case", "lower"), **PURE)
def lowercase(text: str) -> str:
    """Convert text to lower case.

    Args:
        text: The text to convert.
    """
    return text.lower()


@tool(category="text", tags=("reverse",), **PURE)
def reverse_text(text: str) -> str:
    """Reverse the characters of a text.

    Args:
        text: The text to reverse.
    """
    return text[::-1]


@tool(category="text", tags=("count", "words", "length"), **PURE)
def count_words(text: str) -> int:
    """Count the words (runs of non-whitespace) in a text.

    Args:
        text: The text to count words in.
    """
    return len(text.split())


@tool(category="text", tags=("count", "characters", "length"), **PURE)
def count_characters(text: str, include_spaces: bool = True) -> int:
    """Count the characters in a text.

    Args:
        text: The text to measure.
        include_spaces: Whether whitespace characters count.
    """
    if include_spaces:
        return len(text)
    return sum(1 for ch in text if not ch.isspace())


@tool(category="text", tags=("numbers", "parse", "extract"), **PURE)
def extract_numbers(text: str) -> list[int | float]:
    """Extract every number from a text, in order.

    Handles signs, decimals and scientific notation ("-3", "22.5°C", "1.5e-3"). A hyphen
    between numbers is a separator ("10-20" gives 10 and 20); commas separate numbers.

    Args:
        text: The text to scan.

    Returns:
        The numbers found: integers for whole literals, floats otherwise.
    """
    numbers: list[int | float] = []
    for match in _NUMBER.finditer(text):
        digits = match.group("digits")
        sign = "-" if match.group("sign") in ("-", "\u2212") else ""
        if any(ch in digits for ch in ".eE"):
            numbers.append(float(sign + digits))
        else:
            numbers.append(int(sign + digits))
    return numbers
