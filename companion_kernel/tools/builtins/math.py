"""Math tools: add, subtract, multiply, divide, power, sqrt."""

from __future__ import annotations

import math

from companion_kernel.tools.base import tool
from companion_kernel.tools.builtins._common import PURE, Number

__all__ = ["add", "divide", "multiply", "power", "sqrt", "subtract"]

# Past this size an exact integer power takes long to compute and cannot be written as JSON.
_MAX_RESULT_BITS = 10_000


@tool(category="math", tags=("arithmetic", "sum", "plus"), **PURE)
def add(a: Number, b: Number) -> Number:
    """Add two numbers.

    Args:
        a: The first number.
        b: The number to add to it.
    """
    return a + b


@tool(category="math", tags=("arithmetic", "difference", "minus"), **PURE)
def subtract(a: Number, b: Number) -> Number:
    """Subtract the second number from the first.

    Args:
        a: The number to subtract from.
        b: The number to subtract.
    """
    return a - b


@tool(category="math", tags=("arithmetic", "product", "times"), **PURE)
def multiply(a: Number, b: Number) -> Number:
    """Multiply two numbers.

    Args:
        a: The first factor.
        b: The second factor.
    """
    return a * b


@tool(category="math", tags=("arithmetic", "quotient"), **PURE)
def divide(a: Number, b: Number) -> float:
    """Divide the first number by the second (true division).

    Args:
        a: The dividend.
        b: The divisor; must not be zero.
    """
    if b == 0:
        raise ValueError("cannot divide by zero")
    return a / b


@tool(category="math", tags=("arithmetic", "exponent", "pow"), **PURE)
def power(base: Number, exponent: Number) -> Number:
    """Raise a number to a power.

    Args:
        base: The base.
        exponent: The exponent.
    """
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        bits = exponent * math.log2(abs(base))
        if bits > _MAX_RESULT_BITS:
            raise ValueError(
                f"the result would have about {int(bits / math.log2(10)) + 1} digits; "
                "the limit is about 3000"
            )
    if base == 0 and exponent < 0:
        raise ValueError("zero cannot be raised to a negative power")
    try:
        result = base**exponent
    except OverflowError:
        raise ValueError("the result is too large to represent") from None
    if isinstance(result, complex):
        raise ValueError("a negative number raised to a fractional power is not a real number")
    return result


@tool(category="math", tags=("root", "square root"), **PURE)
def sqrt(x: Number) -> float:
    """Square root of a non-negative number.

    Args:
        x: The number; must not be negative.
    """
    if x < 0:
        raise ValueError(f"cannot take the square root of a negative number ({x})")
    try:
        return math.sqrt(x)
    except OverflowError:
        raise ValueError("the number is too large") from None
