"""Kernels and kernel launchers shipped with companion_kernel (our Node kernel: ``node/``)."""
