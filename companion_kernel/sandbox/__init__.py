"""Kernel isolation: a bubblewrap kernel provisioner, resource limits and doctor checks.

```python
from companion_kernel.sandbox import SandboxConfig, kernel_spec_metadata, resolve_isolation

isolate = resolve_isolation("auto")          # True when bubblewrap works here
spec_metadata = kernel_spec_metadata(SandboxConfig(isolate=isolate))
```
"""

from __future__ import annotations

from ._isolation import IsolationMode, bwrap_available, resolve_isolation
from ._mounts import remove_tree
from .limits import Limits
from .provisioner import (
    PROVISIONER_NAME,
    BubblewrapProvisioner,
    SandboxConfig,
    kernel_spec_metadata,
)

__all__ = [
    "PROVISIONER_NAME",
    "BubblewrapProvisioner",
    "IsolationMode",
    "Limits",
    "SandboxConfig",
    "bwrap_available",
    "kernel_spec_metadata",
    "remove_tree",
    "resolve_isolation",
]
