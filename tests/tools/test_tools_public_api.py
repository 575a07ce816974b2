"""The public surface: a sorted, complete `__all__`."""

from __future__ import annotations

import companion_kernel.tools as tools


class TestAll:
    def test_sorted(self) -> None:
        assert tools.__all__ == sorted(tools.__all__, key=lambda n: (not n.isupper(), n))

    def test_every_name_resolves(self) -> None:
        for name in tools.__all__:
            assert getattr(tools, name) is not None, name

    def test_complete(self) -> None:
        public = {
            name
            for name, value in vars(tools).items()
            if not name.startswith("_")
            and getattr(value, "__module__", "").startswith("companion_kernel.tools")
        }
        assert public <= set(tools.__all__)

    def test_core_names_exported(self) -> None:
        core = ("tool", "Tool", "ToolRegistry", "default_registry", "ToolResult", "CacheStats")
        assert set(core) <= set(tools.__all__)
