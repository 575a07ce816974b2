"""List tools: list_sum, list_average, list_min, list_max, list_unique, list_sort."""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from companion_kernel.tools.base import tool
from companion_kernel.tools.builtins._common import PURE, Number

__all__ = ["list_average", "list_max", "list_min", "list_sort", "list_sum", "list_unique"]


def _sum(numbers: list[int | float]) -> int | float:
    if all(isinstance(n, int) for n in numbers):
        return sum(numbers)
    return math.fsum(numbers)  # exact rounding: fsum([0.1] * 10) == 1.0


@tool(category="list", tags=("sum", "total", "numbers"), **PURE)
def list_sum(numbers: list[Number]) -> Number:
    """Sum a list of numbers (0 for an empty list).

    Args:
        numbers: The numbers to add up.
    """
    return _sum(numbers)


@tool(category="list", tags=("average", "mean", "numbers", "statistics"), **PURE)
def list_average(numbers: list[Number]) -> float:
    """Arithmetic mean of a non-empty list of numbers.

    Args:
        numbers: The numbers to average; must not be empty.
    """
    if not numbers:
        raise ValueError("cannot average an empty list")
    return _sum(numbers) / len(numbers)


@tool(category="list", tags=("min", "minimum", "smallest", "numbers"), **PURE)
def list_min(numbers: list[Number]) -> Number:
    """The smallest number of a non-empty list.

    Args:
        numbers: The numbers; must not be empty.
    """
    if not numbers:
        raise ValueError("cannot take the minimum of an empty list")
    return min(numbers)


@tool(category="list", tags=("max", "maximum", "largest", "numbers"), **PURE)
def list_max(numbers: list[Number]) -> Number:
    """The largest number of a non-empty list.

    Args:
        numbers: The numbers; must not be empty.
    """
    if not numbers:
        raise ValueError("cannot take the maximum of an empty list")
    return max(numbers)


def _identity(item: Any) -> str:
    try:
        return json.dumps(item, sort_keys=True)
    except (TypeError, ValueError):
        return repr(item)


@tool(category="list", tags=("unique", "distinct", "deduplicate"), **PURE)
def list_unique(items: list[Any]) -> list[Any]:
    """Remove duplicates, keeping the first occurrence of each item in order.

    Items are compared by their JSON form, so 1, 1.0 and true stay distinct.

    Args:
        items: The items (any JSON values).
    """
    seen: set[str] = set()
    unique: list[Any] = []
    for item in items:
        key = _identity(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


@tool(category="list", tags=("sort", "order"), **PURE)
def list_sort(
    items: list[int | float | str], direction: Literal["asc", "desc"] = "asc"
) -> list[int | float | str]:
    """Sort numbers or strings.

    Args:
        items: The items; all numbers or all strings.
        direction: "asc" for smallest first, "desc" for largest first.
    """
    try:
        return sorted(items, reverse=direction == "desc")
    except TypeError:
        raise ValueError("cannot sort a list that mixes numbers and strings") from None
