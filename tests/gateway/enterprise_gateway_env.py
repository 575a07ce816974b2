"""The Jupyter Enterprise Gateway environment of the gateway tests: `.venv-eg` in the repo root.

Enterprise Gateway 3.x pins jupyter_server<2, jupyter_client<7 and pyzmq<25, which cannot
live in the project's own `.venv` (jupyter_client 8, ipykernel 7), so it gets a virtual
environment of its own, with the ipykernel EG supports (6.x) and that ipykernel's
`python3` kernel spec installed into the environment itself (`--sys-prefix`), never into
the user's or the system's Jupyter folders.

    python3 tests/gateway/enterprise_gateway_env.py           # build it unless up to date
    python3 tests/gateway/enterprise_gateway_env.py --force   # rebuild it

Idempotent: a stamp file records what was installed, so a run with nothing to do costs a
file read. The tests only check it (`problem()`); `make test` builds it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-eg"
STAMP = VENV / ".installed"
PYTHON = VENV / "bin" / "python"
EXECUTABLE = VENV / "bin" / "jupyter-enterprisegateway"
KERNEL_NAME = "python3"
KERNELS = VENV / "share" / "jupyter" / "kernels"

# EG 3.3.0 is the newest 3.x. Its own metadata bounds the rest: jupyter_client>=6.1.12,<7,
# jupyter_server>=1.7,<2, pyzmq>=20,<25, tornado>=6.1,<7 (restated here so a resolver
# surprise fails loudly instead of installing something EG was never run with).
# ipykernel: what EG tests with (its `test` extra: >=6.29,<7); ipykernel 7 needs
# jupyter_client 8.
REQUIREMENTS = (
    "jupyter_enterprise_gateway==3.3.0",
    "ipykernel>=6.29,<7",
    "jupyter_client>=6.1.12,<7",
    "jupyter_server>=1.24,<2",
    "pyzmq>=24,<25",
)
_SETUP_HINT = "run: python3 tests/gateway/enterprise_gateway_env.py (`make test` does it)"


def _wanted() -> dict[str, object]:
    return {"requirements": list(REQUIREMENTS), "kernel": KERNEL_NAME}


def problem() -> str | None:
    """Why the environment cannot be used as it is (missing or out of date), else None."""
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return f"the Enterprise Gateway environment {VENV} is missing or incomplete; {_SETUP_HINT}"
    if stamp.get("requirements") != _wanted()["requirements"] or stamp.get("kernel") != KERNEL_NAME:
        return f"the Enterprise Gateway environment {VENV} is out of date; {_SETUP_HINT}"
    for path in (PYTHON, EXECUTABLE, KERNELS / KERNEL_NAME / "kernel.json"):
        if not path.exists():
            return f"{path} is missing; {_SETUP_HINT} --force"
    return None


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    """One builder at a time (make and a developer, or two checkouts of CI steps). The lock is
    on this script, which is never deleted, unlike anything inside the environment."""
    with open(__file__, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: list[str]) -> None:
    # The caller's own virtual environment or PYTHONPATH must not leak into the new one.
    leaks = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if k not in leaks}
    print("+", " ".join(argv), flush=True)
    subprocess.run(argv, check=True, env=env, cwd=ROOT)


def build(python: str = sys.executable, *, force: bool = False) -> bool:
    """Create `.venv-eg` unless it is up to date; True when something was installed."""
    if not force and problem() is None:
        return False
    with _exclusive():
        if not force and problem() is None:  # built by whoever held the lock before us
            return False
        started = time.monotonic()
        with contextlib.suppress(FileNotFoundError):
            STAMP.unlink()  # a build cut short leaves no stamp, so the next run redoes it
        _run([python, "-m", "venv", "--clear", str(VENV)])
        _run([str(PYTHON), "-m", "pip", "install", "--quiet", *REQUIREMENTS])
        _run([str(PYTHON), "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME])
        # Fail here, not in the tests, when the environment does not hold together.
        _run([str(PYTHON), "-m", "pip", "check"])
        _run([str(EXECUTABLE), "--version"])
        STAMP.write_text(json.dumps(_wanted(), indent=1) + "\n")
        print(f"built {VENV} in {time.monotonic() - started:.0f}s", flush=True)
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter to base the venv on (3.10 or 3.11)"
    )
    args = parser.parse_args(argv)
    if not build(args.python, force=args.force):
        STAMP.touch()  # newer than this script: make's rule for the stamp is satisfied
        print(f"{VENV} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
