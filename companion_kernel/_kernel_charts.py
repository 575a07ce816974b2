"""Runs inside Python kernels: matplotlib figures described as data, next to their image.

Standalone on purpose (standard library only; matplotlib is only touched through the
figure handed in): the engine sends this file's source to every pooled Python kernel,
whose interpreter may be a user's own environment without companion_kernel. `install`
adds an IPython formatter for `MIME`, so every displayed figure (`plt.show()`, the inline
backend's end-of-cell flush, a figure as the last expression) carries a JSON description
beside `image/png`. The shape is documented by `companion_kernel.charts.Chart`.

Nothing here may fail a user's cell: every step is guarded, and a figure that cannot be
described simply has no description.
"""

from __future__ import annotations

import datetime as _datetime
import itertools
import math
from typing import Any

MIME = "application/vnd.companion.chart+json"
VERSION = 1
MAX_AXES = 12
MAX_SERIES = 20
MAX_POINTS = 200
MAX_TEXT = 200


def _text(value: Any) -> str | None:
    text = str(value or "").strip()
    return text[:MAX_TEXT] or None


def _value(value: Any) -> float | str | None:
    """A JSON scalar for one coordinate: finite float, ISO date, label, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, _datetime.date):
        return value.isoformat()
    kind = type(value).__name__
    if kind == "datetime64":
        return str(value)
    if kind in ("Timestamp", "Period"):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)[:MAX_TEXT]
    return number if math.isfinite(number) else None


def _sample(count: int) -> list[int]:
    """At most MAX_POINTS indexes spread over `count`, first and last included."""
    if count <= MAX_POINTS:
        return list(range(count))
    step = (count - 1) / (MAX_POINTS - 1)
    return sorted({round(i * step) for i in range(MAX_POINTS)})


def _series(kind: str, label: Any, xs: Any, ys: Any, count: int) -> dict[str, Any]:
    picked = _sample(count)
    points = [[_value(xs[i]), _value(ys[i])] for i in picked]
    name = _text(label)
    if name is not None and name.startswith("_"):  # matplotlib's "_child0": no label given
        name = None
    return {
        "kind": kind,
        "label": name,
        "points": points,
        "total_points": count,
        "truncated": len(picked) < count,
    }


def _numeric(text: str) -> bool:
    try:
        float(text.replace("\u2212", "-").replace(",", ""))
    except ValueError:
        return False
    return True


def _tick_labels(axis: Any) -> dict[float, str]:
    """Tick position -> label where ticks name categories (bar charts, pandas plots);
    ticks that merely print their number are left out."""
    labels = {}
    for tick, text in zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=False):
        label = _text(text.get_text())
        if label is not None and not _numeric(label):
            labels[round(float(tick), 6)] = label
    return labels


def _bars(container: Any, x_labels: dict[float, str], y_labels: dict[float, str]) -> Any:
    horizontal = getattr(container, "orientation", "vertical") == "horizontal"
    patches = list(container.patches)
    values = getattr(container, "datavalues", None)
    if values is None:
        values = [p.get_width() if horizontal else p.get_height() for p in patches]
    positions, labels = [], y_labels if horizontal else x_labels
    for patch in patches:
        if horizontal:
            centre = patch.get_y() + patch.get_height() / 2
        else:
            centre = patch.get_x() + patch.get_width() / 2
        positions.append(labels.get(round(float(centre), 6), centre))
    contiguous = len(patches) >= 3 and not labels and all(
        math.isclose(a.get_x() + a.get_width(), b.get_x(), abs_tol=1e-9)
        for a, b in itertools.pairwise(patches)
    )
    kind = "histogram" if contiguous and not horizontal else "barh" if horizontal else "bar"
    return _series(kind, container.get_label(), positions, list(values), len(patches))


def _pie(wedges: list[Any]) -> dict[str, Any]:
    labels = [w.get_label() for w in wedges]
    labels = [None if str(label).startswith("_") else label for label in labels]
    shares = [(w.theta2 - w.theta1) / 360.0 for w in wedges]
    return _series("pie", None, labels, shares, len(wedges))


def _axes(ax: Any) -> dict[str, Any]:
    series: list[dict[str, Any]] = []
    skipped = 0
    x_labels, y_labels = _tick_labels(ax.xaxis), _tick_labels(ax.yaxis)
    bar_patches: set[int] = set()
    makers: list[Any] = []
    for container in getattr(ax, "containers", ()):
        if type(container).__name__ == "BarContainer":
            bar_patches.update(id(p) for p in container.patches)
            makers.append(lambda c=container: _bars(c, x_labels, y_labels))
    for line in ax.get_lines():
        makers.append(
            lambda ln=line: _series(
                "line",
                ln.get_label(),
                ln.get_xdata(orig=True),
                ln.get_ydata(orig=True),
                min(len(ln.get_xdata(orig=True)), len(ln.get_ydata(orig=True))),
            )
        )
    for collection in ax.collections:
        if type(collection).__name__ != "PathCollection":
            skipped += 1
            continue
        makers.append(
            lambda c=collection: _series(
                "scatter", c.get_label(), c.get_offsets()[:, 0], c.get_offsets()[:, 1],
                len(c.get_offsets()),
            )
        )
    wedges = [p for p in ax.patches if type(p).__name__ == "Wedge"]
    if wedges:
        makers.append(lambda: _pie(wedges))
    for image in ax.images:
        makers.append(
            lambda im=image: {
                "kind": "image",
                "label": None,
                "points": [],
                "total_points": 0,
                "truncated": False,
                "shape": [int(n) for n in getattr(im.get_array(), "shape", ())],
            }
        )
    for make in makers:
        if len(series) >= MAX_SERIES:
            skipped += 1
            continue
        try:
            series.append(make())
        except Exception:
            skipped += 1
    kinds = {s["kind"] for s in series}
    chart_type = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "empty")
    return {
        "chart_type": chart_type,
        "title": _text(ax.get_title()),
        "x_label": _text(ax.get_xlabel()),
        "y_label": _text(ax.get_ylabel()),
        "x_scale": str(ax.get_xscale()),
        "y_scale": str(ax.get_yscale()),
        "series": series,
        "series_skipped": skipped,
    }


def describe_figure(figure: Any) -> dict[str, Any] | None:
    """The chart description of a matplotlib figure, or None when it cannot be made."""
    try:
        suptitle = getattr(figure, "_suptitle", None)
        all_axes = [ax for ax in figure.get_axes() if ax.get_visible()]
        out = []
        for ax in all_axes[:MAX_AXES]:
            try:
                out.append(_axes(ax))
            except Exception:
                continue
        return {
            "version": VERSION,
            "title": _text(suptitle.get_text()) if suptitle is not None else None,
            "axes": out,
            "axes_skipped": len(all_axes) - len(out),
        }
    except Exception:
        return None


def _is_figure(obj: Any) -> bool:
    return any(
        cls.__name__ == "Figure" and cls.__module__ == "matplotlib.figure"
        for cls in type(obj).__mro__
    )


def install(shell: Any) -> None:
    """Register the chart formatter on an IPython shell."""
    from IPython.core.formatters import BaseFormatter
    from traitlets import ObjectName, Unicode

    class ChartFormatter(BaseFormatter):
        format_type = Unicode(MIME)
        print_method = ObjectName("_repr_companion_chart_")
        _return_type = dict

        # Matched by class name, not registered per type: the inline backend's
        # `select_figure_formats` removes Figure printers from every formatter.
        def __call__(self, obj: Any) -> dict[str, Any] | None:
            return describe_figure(obj) if self.enabled and _is_figure(obj) else None

    display = shell.display_formatter
    display.formatters[MIME] = ChartFormatter(parent=display)
    if MIME not in display.active_types:
        display.active_types = [*display.active_types, MIME]
