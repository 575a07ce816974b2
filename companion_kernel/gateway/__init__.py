"""Remote kernels on Jupyter Kernel Gateway (or Enterprise Gateway) servers.

`GatewayConfig` says where; `handle.GatewayKernel` is the `KernelHandle` the engine's pools use
for each remote kernel; `companion-kernel gateway` (`companion_kernel.gateway.server`)
starts a Kernel Gateway that serves the engine's sandboxed kernel specs.
"""

from .config import TOKEN_ENV, GatewayConfig

__all__ = ["TOKEN_ENV", "GatewayConfig"]
