"""companion_kernel: a code-execution engine for AI assistants and notebook users."""

__version__ = "0.1.0"
