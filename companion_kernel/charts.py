"""Charts as data: what a matplotlib figure shows, readable by a model without vision.

Every figure a Python kernel displays carries, next to its `image/png`, a
`application/vnd.companion.chart+json` representation (`CHART_MIME`) made inside the
kernel. `ExecutionResult.charts` and `DisplayDataOutput.chart` parse it into `Chart`:

```python
r = await session.execute("plt.bar(['a', 'b'], [3, 5]); plt.title('Sales'); plt.show()")
chart = r.charts[0]
chart.axes[0].chart_type                # "bar"
chart.axes[0].title                     # "Sales"
chart.axes[0].series[0].points          # [["a", 3.0], ["b", 5.0]]
```

Sizes are capped in the kernel: at most 12 axes per figure, 20 series per axes and
200 points per series (evenly sampled, first and last kept; `truncated` says so).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ._kernel_charts import MIME as CHART_MIME

__all__ = ["CHART_MIME", "Chart", "ChartAxes", "ChartSeries", "ChartValue"]

ChartValue = float | str | None
"""One coordinate: a number, a category label or ISO date, or None (NaN, infinite)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ChartSeries(_Model):
    """One plotted thing: a line, a set of bars, a scatter, a pie or an image."""

    kind: Literal["line", "bar", "barh", "histogram", "scatter", "pie", "image"]
    """What was drawn. `barh` bars are horizontal (points are [category, value] all
    the same); `histogram` is contiguous vertical bars (x is the bin centre)."""
    label: str | None = None
    """The legend label, when one was given."""
    points: list[tuple[ChartValue, ChartValue]] = Field(default_factory=list)
    """[x, y] pairs: for bars [category or position, value], for pies [label, share of
    the whole], empty for images."""
    total_points: int = 0
    """How many points the series has before sampling."""
    truncated: bool = False
    """True when `points` is an even sample of a longer series."""
    shape: list[int] | None = None
    """For images: the array's shape."""


class ChartAxes(_Model):
    """One plot area of a figure (a subplot)."""

    chart_type: Literal[
        "line", "bar", "barh", "histogram", "scatter", "pie", "image", "mixed", "empty"
    ]
    """The kind shared by every series, `mixed` when they differ, `empty` without any."""
    title: str | None = None
    """The axes' title."""
    x_label: str | None = None
    """The x axis label."""
    y_label: str | None = None
    """The y axis label."""
    x_scale: str = "linear"
    """`linear`, `log`, ... as matplotlib names it."""
    y_scale: str = "linear"
    """`linear`, `log`, ... as matplotlib names it."""
    series: list[ChartSeries] = Field(default_factory=list)
    """What is plotted, in drawing order (bars, then lines, scatters, pies, images)."""
    series_skipped: int = 0
    """Artists not described: past the cap, or of a kind not covered (fills, patches)."""


class Chart(_Model):
    """A matplotlib figure described as data."""

    version: int = 1
    """Version of this shape."""
    title: str | None = None
    """The figure's `suptitle`."""
    axes: list[ChartAxes] = Field(default_factory=list)
    """Every visible plot area, in creation order."""
    axes_skipped: int = 0
    """Visible axes past the cap or not described."""

    def summary(self) -> str:
        """A few lines of plain text for a prompt: titles, labels, and each series' size."""
        lines = [f"Figure: {self.title}"] if self.title else []
        for ax in self.axes:
            head = f"{ax.chart_type} chart" + (f" {ax.title!r}" if ax.title else "")
            if ax.x_label or ax.y_label:
                head += f" (x: {ax.x_label or '-'}, y: {ax.y_label or '-'})"
            lines.append(head)
            for s in ax.series:
                shown = ", ".join(f"{x}: {_short(y)}" for x, y in s.points[:8])
                more = "" if s.total_points <= 8 else f", ... ({s.total_points} points)"
                lines.append(f"  {s.kind} {s.label or ''}".rstrip() + f": {shown}{more}")
        return "\n".join(lines)


def _short(value: ChartValue) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
