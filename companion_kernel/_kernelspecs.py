"""Install the engine's kernel specs into a prefix (the virtual environment by default)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

from .languages import get_language, known_languages

__all__ = ["install_kernelspecs"]


def install_kernelspecs(prefix: str | None = None, user: bool = False) -> dict[str, str]:
    """Install `companion-<language>` specs; returns where each went (or why it was skipped).

    Never writes to the user's global Jupyter folders unless `user=True`.
    """
    manager = KernelSpecManager()
    prefix = prefix or (None if user else sys.prefix)
    done: dict[str, str] = {}
    for name in known_languages():
        lang = get_language(name)
        problem = lang.check()
        if problem is not None:
            done[lang.kernel_name] = f"skipped: {problem}"
            continue
        spec = {
            "argv": lang.argv(),
            "display_name": lang.display_name,
            "language": lang.name,
            "env": lang.env,
            "interrupt_mode": "signal",
            "metadata": {"companion_kernel": {"language": lang.name}},
        }
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "kernel.json").write_text(json.dumps(spec, indent=1))
            done[lang.kernel_name] = manager.install_kernel_spec(
                tmp, lang.kernel_name, user=user, prefix=prefix
            )
    return done
