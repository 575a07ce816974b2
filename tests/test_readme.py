"""Every ```python example in the README runs and prints what its comments promise."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
# `print(...)   # expected` lines: the comment is what the line must print.
EXPECT = re.compile(r"print\(.*\)\s+# (?P<out>.+)$")


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.kernel
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int) -> None:
    code = BLOCKS[index]
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for line in code.splitlines():
        match = EXPECT.search(line.strip())
        if match:
            expected = re.split(r"\s+\(", match.group("out"))[0].strip()
            assert expected in proc.stdout, f"{expected!r} not in output:\n{proc.stdout}"
