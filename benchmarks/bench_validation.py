"""Validator benchmarks, measured side by side in one run.

- a 100-line ordinary Python cell (target: p50 <= 0.5 ms), which `validate` accepts on the
  lexical fast path without parsing; next to the same cell with the fast path off (parse
  plus import check), bare `ast.parse` of it (the floor of any parsing path), a 100-line
  cell that needs the full walk (dunders, getattr, `type(...)`) and a cell with IPython
  syntax (transformed first);
- 100 lines of ordinary JavaScript (target: p50 <= 1 ms), next to the bare tree-sitter parse;
- a 20-line shell script (bashlex is pure Python, so no target).

Run alone: `python benchmarks/bench_validation.py [--quick]`.
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from companion_kernel.validation import ValidationReport, get_policy, validate
from companion_kernel.validation._python import check as check_python
from companion_kernel.validation._python import fast_path_applies

PYTHON_CELL = """\
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class Point:
    x: float
    y: float
    tags: list[str] = field(default_factory=list)

    def dist(self, other: "Point") -> float:
        return math.hypot(self.x - other.x, self.y - other.y)


def summarize(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "mean": 0.0, "stdev": 0.0}
    mean = statistics.fmean(values)
    stdev = statistics.pstdev(values) if len(values) > 1 else 0.0
    return {"n": len(values), "mean": mean, "stdev": stdev}


def histogram(words: list[str], top: int = 3) -> list[tuple[str, int]]:
    counts = Counter(w.lower().strip(".,!") for w in words if w)
    return counts.most_common(top)


def group_by_length(words: list[str]) -> dict[int, list[str]]:
    groups: dict[int, list[str]] = defaultdict(list)
    for word in words:
        groups[len(word)].append(word)
    return dict(groups)


points = [Point(i, i * 2.0) for i in range(10)]
distances = [a.dist(b) for a, b in zip(points, points[1:])]
stats = summarize(distances)
text = "the quick brown fox jumps over the lazy dog the end"
print(f"{stats['mean']:.3f}", histogram(text.split()), group_by_length(text.split()))
"""
PYTHON_FULL_WALK = """\
class Node:
    def __init__(self, name, children=None):
        self.name = name
        self.children = children or []

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"

    def __iter__(self):
        yield self
        for child in self.children:
            yield from child


def depth(node):
    return 1 + max((depth(c) for c in node.children), default=0)


tree = Node("root", [Node("a", [Node("b")]), Node("c")])
names = [getattr(n, "name") for n in tree]
if __name__ == "__main__":
    print(names, depth(tree), repr(tree))
"""
JAVASCRIPT = """\
class Counter {
  constructor(start = 0) {
    this.count = start;
    this.items = new Map();
  }
  inc(by = 1) {
    this.count += by;
    return this.count;
  }
  get value() { return this.count; }
}
function* range(n) {
  for (let i = 0; i < n; i++) yield i;
}
const total = [...range(10)].map((x) => x * 2)
  .filter((x) => x % 3 === 0);
const { a, b: [c, d] } = { a: 1, b: [2, 3] };
async function main() {
  const r = await Promise.all([1, 2].map(async (v) => v + 1));
  console.log(`r=${r}`, total, a, c, d, new Counter(2).inc());
}
"""
SHELL = """\
set -e
mkdir -p out
for f in *.txt; do
  wc -l "$f" >> out/counts.txt
done
grep -h "error" *.log | sort | uniq -c | sort -rn | head -n 5 > out/top.txt
if [ -f out/top.txt ]; then
  cat out/top.txt
fi
find . -name "*.tmp" -type f | wc -l
echo "done at $(date +%H:%M)"
"""


def _lines(text: str, count: int, filler: str) -> str:
    """Whole copies of ``text`` (renamed per copy), padded to ``count`` lines with ``filler``."""
    lines: list[str] = []
    copy = 0
    block = text.splitlines()
    while len(lines) + len(block) <= count:
        lines.extend(
            line.replace("Point", f"Point{copy}")
            .replace("Counter(", f"Counter{copy}(")
            .replace("class Counter", f"class Counter{copy}")
            for line in block
        )
        copy += 1
    lines.extend([filler] * (count - len(lines)))
    return "\n".join(lines) + "\n"


def _row(name: str, samples_s: list[float], **extra: Any) -> dict[str, Any]:
    ordered = sorted(samples_s)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return {
        "name": name,
        "p50_ms": statistics.median(ordered) * 1e3,
        "p90_ms": p90 * 1e3,
        "n": len(ordered),
        **extra,
    }


def _per_call(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def run(quick: bool = False) -> dict[str, Any]:
    from tree_sitter import Parser

    from companion_kernel.validation._javascript import LANGUAGE

    python_cell = _lines(PYTHON_CELL, 100, "result = None")
    python_full = _lines(PYTHON_FULL_WALK, 100, "result = None")
    ipython_cell = "%time x = 1\n!ls\n" + python_cell
    javascript = _lines(JAVASCRIPT, 100, "// filler")
    shell = _lines(SHELL, 20, "true")
    parser = Parser(LANGUAGE)
    js_bytes = javascript.encode()
    strict = get_policy("strict")
    for code, lang in [(python_cell, "python"), (python_full, "python"), (javascript, "js")]:
        report = validate(code, lang)
        if not report.ok:
            raise RuntimeError(f"benchmark input rejected:\n{report.summary()}")
    if not fast_path_applies(python_cell, strict) or fast_path_applies(python_full, strict):
        raise RuntimeError("benchmark inputs no longer exercise the paths they are named after")

    def without_fast_path() -> ValidationReport:
        violations = check_python(python_cell, strict, fast=False)
        return ValidationReport.from_violations("python", strict.name, violations)

    contenders: dict[str, tuple[Callable[[], Any], int]] = {
        "ast.parse, 100-line Python cell (floor)": (lambda: ast.parse(python_cell), 50),
        "validate 100-line Python cell (fast path)": (
            lambda: validate(python_cell, "python"),
            50,
        ),
        "validate 100-line Python cell, fast path off": (without_fast_path, 50),
        "validate 100-line Python cell, full walk": (lambda: validate(python_full, "python"), 50),
        "validate Python cell with IPython syntax": (lambda: validate(ipython_cell, "python"), 20),
        "tree-sitter parse, 100 lines of JavaScript (floor)": (lambda: parser.parse(js_bytes), 50),
        "validate 100 lines of JavaScript": (lambda: validate(javascript, "javascript"), 50),
        "validate 20-line shell script": (lambda: validate(shell, "shell"), 5),
    }
    rounds = 15 if quick else 60
    for fn, _ in contenders.values():  # warm caches (policy compilation, imports)
        fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):  # interleaved, so load drifts hit every contender alike
        for name, (fn, calls) in contenders.items():
            samples[name].append(_per_call(fn, calls))
    rows = [_row(name, s) for name, s in samples.items()]
    py = statistics.median(samples["validate 100-line Python cell (fast path)"]) * 1e3
    floor = statistics.median(samples["ast.parse, 100-line Python cell (floor)"]) * 1e3
    slow = statistics.median(samples["validate 100-line Python cell, fast path off"]) * 1e3
    js = statistics.median(samples["validate 100 lines of JavaScript"]) * 1e3
    js_floor = statistics.median(samples["tree-sitter parse, 100 lines of JavaScript (floor)"])
    ratios = [
        {
            "name": "Python 100-line cell p50 (ms)",
            "value": round(py, 3),
            "target": "<= 0.5",
            "ok": py <= 0.5,
        },
        {
            "name": "Python validate / bare ast.parse",
            "value": round(py / floor, 3),
            "target": "<= 1.25",
            "ok": py / floor <= 1.25,
        },
        {
            "name": "Python validate with fast path off / bare ast.parse",
            "value": round(slow / floor, 3),
            "target": "informational",
            "ok": True,
        },
        {
            "name": "JavaScript 100 lines p50 (ms)",
            "value": round(js, 3),
            "target": "<= 1.0",
            "ok": js <= 1.0,
        },
        {
            "name": "JavaScript validate / bare tree-sitter parse",
            "value": round(js / (js_floor * 1e3), 3),
            "target": "informational",
            "ok": True,
        },
    ]
    notes = [
        f"Python cell: {len(python_cell.splitlines())} lines, {len(python_cell)} characters; "
        f"JavaScript: {len(javascript.splitlines())} lines, {len(javascript)} characters.",
        "Ordinary multi-line code that provably triggers no rule (no trigger word, no "
        "dunder, no IPython syntax, only plain allowed import lines, balanced brackets and "
        "quotes) is accepted by a lexical scan without ast.parse; its other syntax errors "
        "are left to the kernel. Otherwise the cell is parsed and, when trigger words "
        "appear, fully walked; bare ast.parse alone is near 0.5-0.6 ms on this machine.",
        "Samples are per-call means of tight loops, interleaved across contenders.",
    ]
    return {"title": "Pre-submit validator", "rows": rows, "ratios": ratios, "notes": notes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
