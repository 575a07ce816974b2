"""Ordinary analysis code of the kind assistants write, for the default-policy figures.

Each entry is (name, code). The default policy must accept at least 98% of them; the
entries are written as a model would write them, not trimmed to please the validator.
"""

from __future__ import annotations

ANALYSIS: list[tuple[str, str]] = [
    (
        "pandas-groupby",
        """\
import pandas as pd

df = pd.read_csv("sales.csv", parse_dates=["date"])
summary = (
    df.groupby("region")["revenue"]
    .agg(["count", "mean", "sum"])
    .sort_values("sum", ascending=False)
)
print(summary.head(10))
""",
    ),
    (
        "pandas-clean",
        """\
import numpy as np
import pandas as pd

df = pd.read_csv("data.csv")
df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
df = df.drop_duplicates().dropna(subset=["price"])
df["price"] = pd.to_numeric(df["price"], errors="coerce")
df["log_price"] = np.log1p(df["price"])
print(df.describe(include="all").T)
""",
    ),
    (
        "pandas-pivot",
        """\
import pandas as pd

df = pd.DataFrame({
    "month": ["Jan", "Jan", "Feb", "Feb"],
    "team": ["a", "b", "a", "b"],
    "score": [3, 5, 4, 6],
})
table = df.pivot_table(index="month", columns="team", values="score", aggfunc="mean")
table
""",
    ),
    (
        "pandas-merge",
        """\
import pandas as pd

orders = pd.read_csv("orders.csv")
customers = pd.read_csv("customers.csv")
merged = orders.merge(customers, on="customer_id", how="left", validate="many_to_one")
missing = merged["name"].isna().sum()
print(f"{len(merged)} rows, {missing} without a customer")
""",
    ),
    (
        "pandas-resample",
        """\
import pandas as pd

ts = pd.read_csv("metrics.csv", index_col="timestamp", parse_dates=True)
daily = ts["value"].resample("D").mean()
rolling = daily.rolling(window=7, min_periods=1).mean()
print(rolling.tail())
""",
    ),
    (
        "pandas-apply-dtypes",
        """\
import pandas as pd

df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
for col in df.columns:
    print(col, df[col].dtype, type(df[col].iloc[0]).__name__)
df["c"] = df.apply(lambda row: f"{row['b']}{row['a']}", axis=1)
print(df.to_dict(orient="records"))
""",
    ),
    (
        "pandas-style-display",
        """\
import pandas as pd
from IPython.display import display, HTML

df = pd.DataFrame({"x": range(5), "y": [v * v for v in range(5)]})
display(df.style.highlight_max(axis=0))
display(HTML("<b>done</b>"))
""",
    ),
    (
        "pandas-excel-like",
        """\
import pandas as pd

df = pd.read_json("records.json")
df["created"] = pd.to_datetime(df["created"], utc=True)
df["weekday"] = df["created"].dt.day_name()
counts = df.value_counts("weekday").rename("n").reset_index()
counts.to_csv("weekday_counts.csv", index=False)
""",
    ),
    (
        "numpy-stats",
        """\
import numpy as np

rng = np.random.default_rng(42)
samples = rng.normal(loc=10.0, scale=2.0, size=(1000, 3))
means = samples.mean(axis=0)
cov = np.cov(samples, rowvar=False)
print("means", np.round(means, 3))
print("cov\\n", np.round(cov, 3))
""",
    ),
    (
        "numpy-linalg",
        """\
import numpy as np

A = np.array([[3.0, 1.0], [1.0, 2.0]])
b = np.array([9.0, 8.0])
x = np.linalg.solve(A, b)
eigvals, eigvecs = np.linalg.eig(A)
assert np.allclose(A @ x, b)
print(x, eigvals)
""",
    ),
    (
        "numpy-vectorize",
        """\
import numpy as np

x = np.linspace(0, 2 * np.pi, 200)
y = np.sin(x) * np.exp(-x / 5)
peaks = np.where((y[1:-1] > y[:-2]) & (y[1:-1] > y[2:]))[0] + 1
print(f"{len(peaks)} peaks at x = {x[peaks].round(2).tolist()}")
""",
    ),
    (
        "numpy-save-load",
        """\
import numpy as np

data = np.arange(12, dtype=np.float64).reshape(3, 4)
np.save("data.npy", data)
again = np.load("data.npy")
np.savetxt("data.csv", again, delimiter=",", fmt="%.2f")
print(again.shape, again.dtype)
""",
    ),
    (
        "matplotlib-line",
        """\
import matplotlib.pyplot as plt
import numpy as np

x = np.linspace(0, 10, 100)
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(x, np.sin(x), label="sin")
ax.plot(x, np.cos(x), label="cos", linestyle="--")
ax.set_title("Trig functions")
ax.set_xlabel("x")
ax.set_ylabel("value")
ax.legend()
plt.show()
""",
    ),
    (
        "matplotlib-bar-savefig",
        """\
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

labels = ["north", "south", "east", "west"]
values = [23, 17, 35, 29]
fig, ax = plt.subplots()
bars = ax.bar(labels, values, color="steelblue")
ax.bar_label(bars)
fig.tight_layout()
fig.savefig("regions.png", dpi=120)
plt.close(fig)
""",
    ),
    (
        "matplotlib-hist-pandas",
        """\
%matplotlib inline
import pandas as pd
import matplotlib.pyplot as plt

df = pd.read_csv("heights.csv")
ax = df["height"].plot.hist(bins=30, alpha=0.7)
ax.axvline(df["height"].mean(), color="red")
ax.set_title("Height distribution")
""",
    ),
    (
        "matplotlib-subplots-grid",
        """\
import matplotlib.pyplot as plt
import numpy as np

fig, axes = plt.subplots(2, 2, figsize=(8, 6), sharex=True)
for i, ax in enumerate(axes.flat):
    ax.scatter(np.random.rand(50), np.random.rand(50), s=10)
    ax.set_title(f"panel {i}")
fig.suptitle("Random scatter")
fig
""",
    ),
    (
        "csv-reader",
        """\
import csv
from collections import defaultdict

totals = defaultdict(float)
with open("expenses.csv", newline="") as f:
    for row in csv.DictReader(f):
        totals[row["category"]] += float(row["amount"])
for category, total in sorted(totals.items(), key=lambda kv: -kv[1]):
    print(f"{category:<15} {total:>10.2f}")
""",
    ),
    (
        "csv-writer",
        """\
import csv

rows = [{"name": "ada", "score": 91}, {"name": "bob", "score": 78}]
with open("scores.csv", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=["name", "score"])
    writer.writeheader()
    writer.writerows(rows)
print(open("scores.csv").read())
""",
    ),
    (
        "json-roundtrip",
        """\
import json
from pathlib import Path

config = {"threshold": 0.8, "labels": ["cat", "dog"], "nested": {"a": 1}}
path = Path("config.json")
path.write_text(json.dumps(config, indent=2))
loaded = json.loads(path.read_text())
assert loaded == config
print(json.dumps(loaded, sort_keys=True))
""",
    ),
    (
        "json-lines",
        """\
import json

records = []
with open("events.jsonl") as f:
    for line_no, line in enumerate(f, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            print(f"line {line_no}: {exc}")
print(len(records), "events")
""",
    ),
    (
        "sqlite-query",
        """\
import sqlite3

conn = sqlite3.connect("shop.db")
cur = conn.cursor()
cur.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
cur.executemany("INSERT INTO items (name, price) VALUES (?, ?)", [("pen", 1.5), ("book", 12.0)])
conn.commit()
for row in cur.execute("SELECT name, price FROM items WHERE price > ? ORDER BY price", (1,)):
    print(row)
conn.close()
""",
    ),
    (
        "sqlite-pandas",
        """\
import sqlite3
import pandas as pd

with sqlite3.connect(":memory:") as conn:
    pd.DataFrame({"k": ["a", "b"], "v": [1, 2]}).to_sql("t", conn, index=False)
    df = pd.read_sql_query("SELECT k, v * 10 AS v10 FROM t", conn)
print(df)
""",
    ),
    (
        "dataclass-model",
        """\
from dataclasses import dataclass, field, asdict
from typing import Optional


@dataclass(order=True)
class Task:
    priority: int
    title: str = field(compare=False)
    tags: list[str] = field(default_factory=list, compare=False)
    owner: Optional[str] = None


tasks = sorted([Task(2, "write"), Task(1, "plan", ["x"])])
print([asdict(t) for t in tasks])
""",
    ),
    (
        "dataclass-frozen-post-init",
        """\
from dataclasses import dataclass


@dataclass(frozen=True)
class Money:
    amount: float
    currency: str = "EUR"

    def __post_init__(self):
        object.__setattr__(self, "amount", round(self.amount, 2))

    def __add__(self, other):
        return Money(self.amount + other.amount, self.currency)


print(Money(1.005) + Money(2.5))
""",
    ),
    (
        "class-dunders",
        """\
class Matrix:
    def __init__(self, rows):
        self.rows = [list(r) for r in rows]

    def __repr__(self):
        return f"{type(self).__name__}({self.rows!r})"

    def __getitem__(self, idx):
        i, j = idx
        return self.rows[i][j]

    def __matmul__(self, other):
        cols = list(zip(*other.rows))
        return Matrix([[sum(a * b for a, b in zip(r, c)) for c in cols] for r in self.rows])

    def __eq__(self, other):
        return isinstance(other, Matrix) and self.rows == other.rows


print(Matrix([[1, 2], [3, 4]]) @ Matrix([[1, 0], [0, 1]]))
""",
    ),
    (
        "class-getattr-proxy",
        """\
class Config:
    def __init__(self, **values):
        self.__dict__.update(values)

    def __getattr__(self, name):
        return None

    def __setattr__(self, name, value):
        if name.startswith("_"):
            raise AttributeError(name)
        super().__setattr__(name, value)

    def as_dict(self):
        return dict(vars(self))


cfg = Config(alpha=0.1, beta=2)
print(cfg.alpha, cfg.gamma, cfg.as_dict())
""",
    ),
    (
        "getattr-default",
        """\
class Report:
    title = "Q3"
    pages = 12


def describe(obj, fields):
    return {name: getattr(obj, name, None) for name in fields}


print(describe(Report(), ["title", "pages", "author"]))
""",
    ),
    (
        "getattr-dispatch",
        """\
import statistics


class Stats:
    def mean(self, xs):
        return statistics.fmean(xs)

    def median(self, xs):
        return statistics.median(xs)


def compute(kind, xs):
    handler = getattr(Stats(), kind, None)
    if handler is None:
        raise ValueError(f"unknown statistic {kind!r}")
    return handler(xs)


for kind in ("mean", "median"):
    print(kind, compute(kind, [1, 5, 2, 8]))
""",
    ),
    (
        "setattr-loop",
        """\
class Settings:
    pass


defaults = {"retries": 3, "timeout": 2.5, "verbose": False}
s = Settings()
for key, value in defaults.items():
    setattr(s, key, value)
print(vars(s), hasattr(s, "retries"))
""",
    ),
    (
        "obj-dict-introspection",
        """\
from collections import namedtuple

Point = namedtuple("Point", "x y")


class Holder:
    def __init__(self):
        self.a = 1
        self.b = [1, 2]


h = Holder()
print(h.__dict__, h.__class__.__name__, Point(1, 2)._asdict())
print(sorted(k for k in dir(h) if not k.startswith("_")))
""",
    ),
    (
        "exception-traceback",
        """\
import traceback


def risky(x):
    return 10 / x


try:
    risky(0)
except ZeroDivisionError as e:
    tb = e.__traceback__
    print(type(e).__name__, str(e))
    print("".join(traceback.format_exception(type(e), e, tb)))
    traceback.print_exc()
""",
    ),
    (
        "exception-chain",
        """\
class DataError(Exception):
    pass


def load(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError as exc:
        raise DataError(f"missing {path}") from exc


try:
    load("nope.txt")
except DataError as err:
    print(err, "caused by", repr(err.__cause__))
""",
    ),
    (
        "optional-import",
        """\
try:
    import numpy as np
except ImportError:
    np = None

try:
    import scipy.stats as st
except ImportError:
    st = None


def mean(xs):
    return float(np.mean(xs)) if np is not None else sum(xs) / len(xs)


print(mean([1, 2, 3]), st is not None)
""",
    ),
    (
        "sys-os-env",
        """\
import os
import sys

print(sys.version_info[:2], sys.platform)
data_dir = os.environ.get("DATA_DIR", "data")
os.makedirs(data_dir, exist_ok=True)
print(os.path.abspath(data_dir), os.getcwd())
print(sorted(os.listdir(".")))
""",
    ),
    (
        "os-walk",
        """\
import os

total = 0
for root, dirs, files in os.walk("."):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    for name in files:
        total += os.path.getsize(os.path.join(root, name))
print(f"{total / 1024:.1f} KiB")
""",
    ),
    (
        "warnings-filter",
        """\
import warnings

import pandas as pd

warnings.filterwarnings("ignore", category=FutureWarning)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    df = pd.DataFrame({"a": [1, None, 3]}).fillna(0)
print(df)
""",
    ),
    (
        "pathlib-glob",
        """\
from pathlib import Path

root = Path("reports")
root.mkdir(parents=True, exist_ok=True)
(root / "a.txt").write_text("alpha\\n")
(root / "b.md").write_text("# beta\\n")
for p in sorted(root.glob("*")):
    print(p.name, p.suffix, p.stat().st_size)
""",
    ),
    (
        "pathlib-rename-shutil",
        """\
import shutil
import tempfile
from pathlib import Path

with tempfile.TemporaryDirectory() as tmp:
    src = Path(tmp) / "in.txt"
    src.write_text("hello")
    dst = Path(tmp) / "out" / "copy.txt"
    dst.parent.mkdir()
    shutil.copy(src, dst)
    print(dst.read_text(), shutil.disk_usage(tmp).free > 0)
""",
    ),
    (
        "zip-archive",
        """\
import zipfile
from pathlib import Path

Path("notes.txt").write_text("some notes")
with zipfile.ZipFile("bundle.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
    zf.write("notes.txt")
with zipfile.ZipFile("bundle.zip") as zf:
    print(zf.namelist(), zf.read("notes.txt").decode())
""",
    ),
    (
        "asyncio-gather",
        """\
import asyncio


async def fetch(i):
    await asyncio.sleep(0.01 * i)
    return i * i


async def main():
    results = await asyncio.gather(*(fetch(i) for i in range(5)))
    return sum(results)


print(asyncio.run(main()))
""",
    ),
    (
        "asyncio-top-level-await",
        """\
import asyncio

queue = asyncio.Queue()


async def producer(n):
    for i in range(n):
        await queue.put(i)
    await queue.put(None)


async def consumer():
    seen = []
    while (item := await queue.get()) is not None:
        seen.append(item)
    return seen


_, seen = await asyncio.gather(producer(3), consumer())
seen
""",
    ),
    (
        "asyncio-timeout-tasks",
        """\
import asyncio


async def slow():
    await asyncio.sleep(10)


async def main():
    task = asyncio.create_task(slow())
    try:
        await asyncio.wait_for(task, timeout=0.05)
    except asyncio.TimeoutError:
        print("timed out; cancelled:", task.cancelled())


await main()
""",
    ),
    (
        "logging-basic",
        """\
import logging

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("analysis")
log.info("starting with %d rows", 120)
try:
    1 / 0
except ZeroDivisionError:
    log.exception("division failed")
""",
    ),
    (
        "logging-file-handler",
        """\
import logging
from logging.handlers import RotatingFileHandler

logger = logging.getLogger("job")
handler = RotatingFileHandler("job.log", maxBytes=100_000, backupCount=2)
handler.setFormatter(logging.Formatter("{asctime} {levelname} {message}", style="{"))
logger.addHandler(handler)
logger.setLevel(logging.DEBUG)
logger.debug("configured %s handlers", len(logger.handlers))
""",
    ),
    (
        "logging-dictconfig",
        """\
import logging.config

logging.config.dictConfig({
    "version": 1,
    "formatters": {"plain": {"format": "%(levelname)s:%(name)s:%(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain",
                    "stream": "ext://sys.stdout"},
    },
    "root": {"level": "INFO", "handlers": ["console"]},
})
logging.getLogger(__name__).info("ready")
""",
    ),
    (
        "typing-protocols",
        """\
from typing import Iterable, Protocol, TypeVar, Generic

T = TypeVar("T")


class SupportsScore(Protocol):
    def score(self) -> float: ...


class Box(Generic[T]):
    def __init__(self, item: T) -> None:
        self.item = item

    def get(self) -> T:
        return self.item


def best(items: Iterable[SupportsScore]) -> SupportsScore:
    return max(items, key=lambda i: i.score())


print(Box(3).get())
""",
    ),
    (
        "typing-typeddict",
        """\
from typing import TypedDict, Literal, NamedTuple


class Row(TypedDict):
    name: str
    kind: Literal["a", "b"]


class Pair(NamedTuple):
    left: int
    right: int


rows: list[Row] = [{"name": "x", "kind": "a"}]
print(rows, Pair(1, 2)._replace(right=5))
""",
    ),
    (
        "collections-counter",
        """\
import re
from collections import Counter, OrderedDict, deque

text = "the quick brown fox jumps over the lazy dog the end"
words = re.findall(r"[a-z']+", text.lower())
counts = Counter(words)
print(counts.most_common(3))
window = deque(maxlen=3)
for w in words:
    window.append(w)
print(list(window), OrderedDict(sorted(counts.items())[:2]))
""",
    ),
    (
        "collections-chainmap",
        """\
from collections import ChainMap, defaultdict

defaults = {"color": "blue", "size": 3}
overrides = {"size": 5}
settings = ChainMap(overrides, defaults)
index = defaultdict(list)
for i, word in enumerate(["apple", "avocado", "banana"]):
    index[word[0]].append(i)
print(dict(settings), dict(index))
""",
    ),
    (
        "itertools-combos",
        """\
import itertools
import operator

items = ["a", "b", "c", "d"]
pairs = list(itertools.combinations(items, 2))
running = list(itertools.accumulate([3, 1, 4, 1, 5], operator.add))
groups = {k: list(g) for k, g in itertools.groupby(sorted(["ab", "ac", "bd"]), key=lambda s: s[0])}
print(len(pairs), running, groups)
print(list(itertools.islice(itertools.cycle("xy"), 5)))
""",
    ),
    (
        "functools-cache",
        """\
from functools import lru_cache, partial, reduce, wraps


def timed(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


@lru_cache(maxsize=None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


square_sum = partial(reduce, lambda a, b: a + b * b)
print(timed(fib)(30), square_sum([1, 2, 3], 0), fib.cache_info())
""",
    ),
    (
        "regex-parse-log",
        """\
import re
from collections import Counter

LINE = re.compile(
    r"(?P<ip>[\\d.]+) - - \\[(?P<ts>[^\\]]+)\\] \\"(?P<method>\\w+) (?P<path>\\S+)"
)
hits = Counter()
with open("access.log") as f:
    for line in f:
        m = LINE.match(line)
        if m:
            hits[m.group("path")] += 1
print(hits.most_common(5))
""",
    ),
    (
        "regex-sub",
        """\
import re

text = "Call 555-1234 or 555-9876 before 2024-05-01."
masked = re.sub(r"\\d{3}-\\d{4}", lambda m: "XXX-" + m.group()[-4:], text)
dates = re.findall(r"\\b(\\d{4})-(\\d{2})-(\\d{2})\\b", text)
print(masked, dates, re.split(r"\\s+", text.strip())[:3])
""",
    ),
    (
        "datetime-ranges",
        """\
from datetime import date, datetime, timedelta, timezone

start = date(2024, 1, 1)
days = [start + timedelta(days=i) for i in range(0, 30, 7)]
now = datetime.now(timezone.utc)
print([d.isoformat() for d in days])
print(now.strftime("%Y-%m-%d %H:%M"), (now - datetime(2024, 1, 1, tzinfo=timezone.utc)).days)
""",
    ),
    (
        "datetime-parse",
        """\
from datetime import datetime
from zoneinfo import ZoneInfo

stamps = ["2024-03-01T12:00:00", "2024-03-02T08:30:00"]
parsed = [datetime.fromisoformat(s).replace(tzinfo=ZoneInfo("Europe/Berlin")) for s in stamps]
deltas = [(b - a).total_seconds() / 3600 for a, b in zip(parsed, parsed[1:])]
print(deltas, parsed[0].astimezone(ZoneInfo("UTC")))
""",
    ),
    (
        "statistics-summary",
        """\
import statistics

data = [2.5, 3.1, 4.7, 5.0, 3.3, 2.9, 4.1]
print("mean", statistics.mean(data))
print("median", statistics.median(data))
print("stdev", round(statistics.stdev(data), 3))
print("quantiles", statistics.quantiles(data, n=4))
print("corr", statistics.correlation(data, sorted(data)))
""",
    ),
    (
        "statistics-regression",
        """\
import math
import statistics

xs = [1, 2, 3, 4, 5]
ys = [2.1, 3.9, 6.2, 7.8, 10.1]
slope, intercept = statistics.linear_regression(xs, ys)
residuals = [y - (slope * x + intercept) for x, y in zip(xs, ys)]
rmse = math.sqrt(sum(r * r for r in residuals) / len(residuals))
print(f"y = {slope:.2f}x + {intercept:.2f}, rmse={rmse:.3f}")
""",
    ),
    (
        "enum-and-match",
        """\
from enum import Enum, auto


class Status(Enum):
    OK = auto()
    WARN = auto()
    FAIL = auto()


def classify(value):
    match value:
        case int(n) if n < 10:
            return Status.OK
        case int():
            return Status.WARN
        case _:
            return Status.FAIL


print([classify(v).name for v in (3, 30, "x")], Status.__members__.keys())
""",
    ),
    (
        "generator-pipeline",
        """\
def read_numbers(lines):
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            yield float(line)


def moving_average(values, n=3):
    window = []
    for v in values:
        window.append(v)
        if len(window) > n:
            window.pop(0)
        yield sum(window) / len(window)


print(list(moving_average(read_numbers(["1", "# c", "2", "3", "4"]))))
""",
    ),
    (
        "context-manager",
        """\
import time
from contextlib import contextmanager, suppress


@contextmanager
def timer(label):
    start = time.perf_counter()
    try:
        yield
    finally:
        print(f"{label}: {time.perf_counter() - start:.4f}s")


with timer("sum"):
    total = sum(range(1_000_000))
with suppress(KeyError):
    {}["missing"]
print(total)
""",
    ),
    (
        "threads-pool",
        """\
from concurrent.futures import ThreadPoolExecutor, as_completed


def work(n):
    return n, sum(i * i for i in range(n))


with ThreadPoolExecutor(max_workers=4) as pool:
    futures = [pool.submit(work, n) for n in (10, 100, 1000)]
    for fut in as_completed(futures):
        print(fut.result())
""",
    ),
    (
        "decimal-fractions",
        """\
from decimal import Decimal, ROUND_HALF_UP
from fractions import Fraction

prices = [Decimal("19.99"), Decimal("5.01"), Decimal("0.333")]
total = sum(prices, Decimal(0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
print(total, Fraction(3, 4) + Fraction(1, 6))
""",
    ),
    (
        "text-report",
        """\
import textwrap
from string import Template

rows = [("alpha", 0.912), ("beta", 0.873), ("gamma", 0.655)]
header = f"{'model':<10}{'score':>8}"
lines = [header, "-" * len(header)] + [f"{name:<10}{score:>8.3f}" for name, score in rows]
print("\\n".join(lines))
print(textwrap.fill("A long explanation of the result " * 5, width=60))
print(Template("Best: $name").substitute(name=rows[0][0]))
""",
    ),
    (
        "format-template",
        """\
template = "{name} scored {score:.1f} ({rank})"
rows = [{"name": "ann", "score": 9.25, "rank": 1}, {"name": "ben", "score": 7.5, "rank": 2}]
for row in rows:
    print(template.format(**row))
print("{0[name]} / {0[score]}".format(rows[0]), "%s-%d" % ("x", 3))
""",
    ),
    (
        "hashing-uuid",
        """\
import hashlib
import uuid
from pathlib import Path

p = Path("blob.bin")
p.write_bytes(b"\\x00\\x01" * 1000)
digest = hashlib.sha256(p.read_bytes()).hexdigest()
print(digest[:16], uuid.uuid4().hex[:8], uuid.uuid5(uuid.NAMESPACE_URL, "x"))
""",
    ),
    (
        "random-simulation",
        """\
import random
import statistics

random.seed(7)
trials = [sum(random.choice((1, -1)) for _ in range(100)) for _ in range(1000)]
print(statistics.mean(trials), statistics.pstdev(trials))
print(random.sample(range(100), 5), random.uniform(0, 1) < 1)
""",
    ),
    (
        "pandas-numpy-pipeline",
        """\
import numpy as np
import pandas as pd

np.random.seed(0)
df = pd.DataFrame(np.random.randn(200, 3), columns=list("abc"))
df["bucket"] = pd.cut(df["a"], bins=[-np.inf, -1, 0, 1, np.inf], labels=["vl", "l", "h", "vh"])
out = df.groupby("bucket", observed=True).agg(b_mean=("b", "mean"), n=("c", "size"))
corr = df[["a", "b", "c"]].corr().round(2)
print(out, corr, sep="\\n\\n")
""",
    ),
    (
        "pandas-dtypes-info",
        """\
import io
import pandas as pd

csv_text = io.StringIO("id,value,flag\\n1,2.5,true\\n2,3.0,false\\n")
df = pd.read_csv(csv_text, dtype={"id": "int64"})
buf = io.StringIO()
df.info(buf=buf)
print(buf.getvalue())
print({c: str(t) for c, t in df.dtypes.items()})
""",
    ),
    (
        "typing-cast-overload",
        """\
from __future__ import annotations

from typing import Any, cast, overload


@overload
def first(xs: list[int]) -> int: ...
@overload
def first(xs: list[str]) -> str: ...
def first(xs: list[Any]) -> Any:
    return xs[0]


value = cast(int, first([1, 2]))
print(value, first(["a"]))
""",
    ),
    (
        "abc-interfaces",
        """\
from abc import ABC, abstractmethod


class Shape(ABC):
    @abstractmethod
    def area(self) -> float: ...

    def __lt__(self, other):
        return self.area() < other.area()


class Square(Shape):
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side ** 2


print(sorted([Square(3), Square(1)])[0].side, issubclass(Square, Shape))
""",
    ),
    (
        "pprint-nested",
        """\
from pprint import pprint
import json

payload = json.loads('{"a": {"b": [1, 2, {"c": 3}]}, "d": null}')
pprint(payload, width=40)
flat = {}


def flatten(prefix, obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            flatten(f"{prefix}.{k}" if prefix else k, v)
    else:
        flat[prefix] = obj


flatten("", payload)
print(flat)
""",
    ),
    (
        "time-magic",
        """\
%time total = sum(i * i for i in range(100_000))
print(total)
""",
    ),
    (
        "gzip-bz2-lines",
        """\
import gzip

with gzip.open("log.txt.gz", "wt") as f:
    f.write("\\n".join(f"line {i}" for i in range(5)))
with gzip.open("log.txt.gz", "rt") as f:
    print(sum(1 for _ in f), "lines")
""",
    ),
    (
        "heapq-bisect",
        """\
import bisect
import heapq

scores = [52, 88, 71, 95, 60]
print(heapq.nlargest(2, scores), heapq.nsmallest(2, scores))
grades = "FDCBA"
breakpoints = [60, 70, 80, 90]
print([grades[bisect.bisect(breakpoints, s)] for s in scores])
""",
    ),
    (
        "inspectable-repr",
        """\
class Node:
    __slots__ = ("value", "children")

    def __init__(self, value, children=()):
        self.value = value
        self.children = list(children)

    def __iter__(self):
        yield self
        for child in self.children:
            yield from child

    def __len__(self):
        return sum(1 for _ in self)

    def __repr__(self):
        cls = self.__class__.__name__
        return f"{cls}({self.value!r}, n={len(self)})"


tree = Node(1, [Node(2), Node(3, [Node(4)])])
print(tree, [n.value for n in tree])
""",
    ),
    (
        "sys-stdout-exit-code",
        """\
import sys

def main(argv):
    if len(argv) > 5:
        print("too many", file=sys.stderr)
        return 1
    sys.stdout.write("ok\\n")
    return 0


status = main(["a", "b"])
print("status", status, sys.getrecursionlimit() > 100)
""",
    ),
    (
        "importlib-metadata-versions",
        """\
from importlib.metadata import version, PackageNotFoundError

for pkg in ("numpy", "pandas", "matplotlib"):
    try:
        print(pkg, version(pkg))
    except PackageNotFoundError:
        print(pkg, "not installed")
""",
    ),
    (
        "types-simplenamespace",
        """\
import types
from functools import singledispatchmethod

args = types.SimpleNamespace(epochs=3, lr=0.01, verbose=True)
print(vars(args), getattr(args, "batch_size", 32))
""",
    ),
]
