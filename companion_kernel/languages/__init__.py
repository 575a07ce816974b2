"""One module per language: how to launch its kernel and what it is called."""

from __future__ import annotations

from ._base import Language, canonical_language, get_language, known_languages

__all__ = ["Language", "canonical_language", "get_language", "known_languages"]
