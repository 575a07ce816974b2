"""Shared types and options of the built-in tools."""

from __future__ import annotations

import decimal
import fractions
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

__all__ = ["PURE", "Number"]


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (decimal.Decimal, fractions.Fraction)):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace("\u2212", "-")
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            pass
    raise ValueError("expected a number")


Number = Annotated[int | float, PlainValidator(_number), WithJsonSchema({"type": "number"})]
"""An int or a float; numeric strings are accepted, booleans are not; ints stay ints."""

PURE: dict[str, Any] = {"read_only": True, "idempotent": True, "open_world": False}
"""Behaviour hints of tools that only compute."""
