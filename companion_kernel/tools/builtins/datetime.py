"""Date and time tools: current_datetime, current_timestamp, format_date."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from typing import Annotated

from pydantic import Field

from companion_kernel.tools.base import tool

__all__ = ["current_datetime", "current_timestamp", "format_date"]

_NOW = {"read_only": True, "idempotent": False, "open_world": False}


@tool(category="datetime", tags=("now", "time", "date", "clock"), **_NOW)
def current_datetime(timezone: str = "UTC") -> str:
    """The current date and time as an ISO 8601 string.

    Args:
        timezone: An IANA time zone name such as "UTC" or "Europe/Paris".
    """
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {timezone!r}; use an IANA name like 'Europe/Paris'"
        ) from None
    return dt.datetime.now(zone).isoformat()


@tool(category="datetime", tags=("now", "time", "epoch", "unix"), **_NOW)
def current_timestamp() -> float:
    """The current Unix timestamp (seconds since 1970-01-01 UTC)."""
    return time.time()


@tool(
    category="datetime",
    tags=("date", "format", "strftime"),
    read_only=True,
    idempotent=True,
    open_world=False,
)
def format_date(
    date: str,
    format: Annotated[str, Field(min_length=1, max_length=200)] = "%Y-%m-%d",
) -> str:
    """Format an ISO 8601 date or date-time with a strftime format.

    Args:
        date: An ISO 8601 date such as "2024-03-15" or "2024-03-15T14:30:00+01:00".
        format: A strftime format such as "%d %B %Y" or "%A, %H:%M".
    """
    try:
        parsed = dt.datetime.fromisoformat(date.strip())
    except ValueError:
        raise ValueError(f"{date!r} is not an ISO 8601 date (expected e.g. '2024-03-15')") from None
    return parsed.strftime(format)
