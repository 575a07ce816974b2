"""Launch bash_kernel without pexpect's 50 ms pause before every write to bash.

pexpect waits `delaybeforesend` (50 ms) before each send, for programs that read a password
prompt too early; bash reading commands does not need it. bash_kernel sends twice per cell
(the code, then `echo $?`) and several times at start-up, so the pause cost ~100 ms a cell.

Standalone on purpose (imports nothing from companion_kernel): sandboxed kernels see only
this directory, not the package.
"""

import pexpect
from bash_kernel import kernel as bash_kernel_module
from ipykernel.kernelapp import IPKernelApp


class _Spawn(pexpect.spawn):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.delaybeforesend = None


class _Pexpect:
    """bash_kernel's view of pexpect, with our spawn."""

    def __getattr__(self, name: str):
        return _Spawn if name == "spawn" else getattr(pexpect, name)


if __name__ == "__main__":
    bash_kernel_module.pexpect = _Pexpect()
    IPKernelApp.launch_instance(kernel_class=bash_kernel_module.BashKernel)
