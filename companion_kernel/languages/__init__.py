"""One module per language: how to launch its kernel and what it is called."""

from __future__ import annotations

from ._base import (
    Language,
    PythonInterpreter,
    canonical_language,
    get_language,
    kernel_command,
    known_languages,
    python_interpreter,
)

__all__ = [
    "Language",
    "PythonInterpreter",
    "canonical_language",
    "get_language",
    "kernel_command",
    "known_languages",
    "python_interpreter",
]
