"""Read a tool's description and parameter descriptions from its docstring (via griffe)."""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field

import griffe

__all__ = ["ParsedDocstring", "parse_docstring"]

_STYLES = ("google", "numpy", "sphinx")


@dataclass(frozen=True)
class ParsedDocstring:
    """What a docstring says about a function."""

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)
    returns: str = ""


def parse_docstring(text: str | None) -> ParsedDocstring:
    """Split a Google, NumPy or Sphinx docstring into description, parameters and returns."""
    if not text or not text.strip():
        return ParsedDocstring()
    doc = griffe.Docstring(inspect.cleandoc(text), lineno=1)
    # griffe logs a warning for every parameter without a type; a bare docstring has none.
    logger = logging.getLogger("griffe")
    previous = logger.disabled
    logger.disabled = True
    try:
        style, sections = griffe.infer_docstring_style(doc, style_order=list(_STYLES))
        if sections is None:
            sections = doc.parse(style or "google", warnings=False)
    except Exception:  # a docstring griffe cannot read must not stop tool registration
        return ParsedDocstring(description=inspect.cleandoc(text))
    finally:
        logger.disabled = previous

    texts: list[str] = []
    params: dict[str, str] = {}
    returns: list[str] = []
    for section in sections:
        kind = section.kind.value
        if kind == "text":
            texts.append(str(section.value).strip())
        elif kind in ("parameters", "other parameters"):
            for param in section.value:
                name = param.name.lstrip("*")
                if param.description:
                    params[name] = " ".join(param.description.split())
        elif kind == "returns":
            returns.extend(" ".join(r.description.split()) for r in section.value if r.description)
    return ParsedDocstring(
        description="\n\n".join(t for t in texts if t),
        params=params,
        returns=" ".join(returns),
    )
