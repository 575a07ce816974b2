"""Data tools: parse_json, to_json."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field

from companion_kernel.tools.base import tool
from companion_kernel.tools.builtins._common import PURE

__all__ = ["parse_json", "to_json"]


@tool(category="data", tags=("json", "parse", "decode"), **PURE)
def parse_json(text: str) -> Any:
    """Parse a JSON document into a value.

    Args:
        text: The JSON text.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ValueError("the JSON document is nested too deeply") from None


@tool(category="data", tags=("json", "serialize", "encode"), **PURE)
def to_json(
    data: Any,
    indent: Annotated[int | None, Field(ge=0, le=8)] = None,
    sort_keys: bool = False,
) -> str:
    """Serialise a value as JSON text.

    Args:
        data: The value (any JSON value).
        indent: Spaces per indentation level; null for compact output.
        sort_keys: Whether to sort object keys.
    """
    try:
        return json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the value cannot be written as JSON: {exc}") from None
