"""The 23 built-in tools, in five categories: math, text, datetime, list, data."""

from __future__ import annotations

from companion_kernel.tools.base import Tool
from companion_kernel.tools.builtins.data import parse_json, to_json
from companion_kernel.tools.builtins.datetime import (
    current_datetime,
    current_timestamp,
    format_date,
)
from companion_kernel.tools.builtins.lists import (
    list_average,
    list_max,
    list_min,
    list_sort,
    list_sum,
    list_unique,
)
from companion_kernel.tools.builtins.math import add, divide, multiply, power, sqrt, subtract
from companion_kernel.tools.builtins.text import (
    count_characters,
    count_words,
    extract_numbers,
    lowercase,
    reverse_text,
    uppercase,
)

__all__ = ["BUILTIN_TOOLS"]

BUILTIN_TOOLS: tuple[Tool, ...] = (
    add,
    subtract,
    multiply,
    divide,
    power,
    sqrt,
    uppercase,
    lowercase,
    reverse_text,
    count_words,
    count_characters,
    extract_numbers,
    current_datetime,
    current_timestamp,
    format_date,
    list_sum,
    list_average,
    list_min,
    list_max,
    list_unique,
    list_sort,
    parse_json,
    to_json,
)
"""The built-in tools in the seed's order (immutable; shared by every default registry)."""
