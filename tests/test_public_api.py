"""The curated public surface: sorted, complete, and every name importable."""

from __future__ import annotations

import companion_kernel
from companion_kernel import errors


def test_all_is_sorted_and_resolves() -> None:
    names = companion_kernel.__all__

    def isort_style(name: str) -> tuple[int, str]:  # the order ruff's RUF022 keeps
        kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
        return kind, name

    assert names == sorted(names, key=isort_style)
    for name in names:
        assert hasattr(companion_kernel, name), name


def test_every_public_exception_is_a_companion_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.CompanionKernelError)
    exported = [n for n in companion_kernel.__all__ if n in errors.__all__]
    assert "PoolExhausted" in exported and "ToolError" in exported


def test_public_classes_and_functions_have_docstrings() -> None:
    for name in companion_kernel.__all__:
        obj = getattr(companion_kernel, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"
