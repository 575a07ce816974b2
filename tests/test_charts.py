"""Charts as data: the in-kernel describer (run here on Agg figures) and the result helpers."""

from __future__ import annotations

import base64
import json

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from companion_kernel import _kernel_charts
from companion_kernel.charts import CHART_MIME, Chart
from companion_kernel.models import (
    DisplayDataOutput,
    ExecuteResultOutput,
    ExecutionResult,
    StreamOutput,
)


@pytest.fixture(autouse=True)
def _close_figures():
    matplotlib.use("agg")  # headless, whatever the environment asks for
    yield
    plt.close("all")


def _chart(fig) -> Chart:
    data = _kernel_charts.describe_figure(fig)
    assert data is not None
    json.dumps(data, allow_nan=False)  # what Jupyter sends must be strict JSON
    return Chart.model_validate(data)


class TestDescribeFigure:
    def test_line_with_title_labels_and_legend_label(self) -> None:
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3], [2.5, 3.0, 4.5], label="revenue")
        ax.set(title="Growth", xlabel="year", ylabel="EUR")
        fig.suptitle("Report")
        chart = _chart(fig)
        assert chart.title == "Report"
        (axes,) = chart.axes
        assert (axes.chart_type, axes.title, axes.x_label, axes.y_label) == (
            "line",
            "Growth",
            "year",
            "EUR",
        )
        assert axes.series[0].label == "revenue"
        assert axes.series[0].points == [(1.0, 2.5), (2.0, 3.0), (3.0, 4.5)]

    def test_bars_are_named_by_their_categories(self) -> None:
        fig, ax = plt.subplots()
        ax.bar(["north", "south"], [10, 20])
        series = _chart(fig).axes[0].series[0]
        assert (series.kind, series.points) == ("bar", [("north", 10.0), ("south", 20.0)])

    def test_pandas_bar_plot_uses_the_index_labels(self) -> None:
        frame = pd.DataFrame({"region": ["east", "west"], "sales": [1.5, 2.0]})
        ax = frame.set_index("region").plot.bar()
        series = _chart(ax.figure).axes[0].series[0]
        assert series.label == "sales"
        assert series.points == [("east", 1.5), ("west", 2.0)]

    def test_histogram_scatter_pie_and_image(self) -> None:
        fig, axs = plt.subplots(2, 2)
        axs[0, 0].hist([1, 2, 2, 3, 3, 3], bins=3)
        axs[0, 1].scatter([1, 2], [3, 4])
        axs[1, 0].pie([1, 3], labels=["a", "b"])
        axs[1, 1].imshow(np.zeros((4, 5)))
        kinds = [a.chart_type for a in _chart(fig).axes]
        assert kinds == ["histogram", "scatter", "pie", "image"]
        pie = _chart(fig).axes[2].series[0]
        assert pie.points == [("a", 0.25), ("b", 0.75)]
        assert _chart(fig).axes[3].series[0].shape == [4, 5]

    def test_long_series_are_sampled_and_say_so(self) -> None:
        fig, ax = plt.subplots()
        ax.plot(np.arange(10_000), np.arange(10_000) * 2.0)
        series = _chart(fig).axes[0].series[0]
        assert series.truncated and series.total_points == 10_000
        assert len(series.points) == _kernel_charts.MAX_POINTS
        assert series.points[0] == (0.0, 0.0) and series.points[-1] == (9999.0, 19998.0)

    def test_series_count_is_capped(self) -> None:
        fig, ax = plt.subplots()
        for i in range(_kernel_charts.MAX_SERIES + 5):
            ax.plot([0, 1], [i, i])
        axes = _chart(fig).axes[0]
        assert len(axes.series) == _kernel_charts.MAX_SERIES
        assert axes.series_skipped == 5

    def test_nan_and_dates_become_json_values(self) -> None:
        fig, ax = plt.subplots()
        ax.plot(pd.date_range("2024-01-01", periods=3), [1.0, np.nan, 3.0])
        points = _chart(fig).axes[0].series[0].points
        assert points[1][1] is None
        assert str(points[0][0]).startswith("2024-01-01")

    def test_anything_else_gives_none_instead_of_raising(self) -> None:
        assert _kernel_charts.describe_figure(object()) is None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class TestResultHelpers:
    def _result(self) -> ExecutionResult:
        fig, ax = plt.subplots()
        ax.bar(["a", "b"], [3, 5])
        ax.set_title("Sales")
        chart = _kernel_charts.describe_figure(fig)
        return ExecutionResult(
            status="ok",
            language="python",
            outputs=[
                StreamOutput(name="stdout", text="hello\n"),
                DisplayDataOutput(
                    data={
                        "text/plain": "<Figure>",
                        "image/png": _b64(b"\x89PNG-bytes"),
                        CHART_MIME: chart,
                    }
                ),
                DisplayDataOutput(data={"image/jpeg": _b64(b"\xff\xd8jpeg")}),
                ExecuteResultOutput(data={"text/plain": "df", "text/html": "<table></table>"}),
            ],
        )

    def test_images_html_and_charts(self) -> None:
        result = self._result()
        assert [(i.mime, i.data) for i in result.images] == [
            ("image/png", b"\x89PNG-bytes"),
            ("image/jpeg", b"\xff\xd8jpeg"),
        ]
        assert result.displays[0].png == b"\x89PNG-bytes"
        assert result.displays[1].jpeg == b"\xff\xd8jpeg"
        assert result.html == ["<table></table>"]
        (chart,) = result.charts
        assert chart.axes[0].series[0].points == [("a", 3.0), ("b", 5.0)]

    def test_to_text_describes_charts_and_names_images(self) -> None:
        text = self._result().to_text()
        assert text.startswith("hello\n[chart]\nbar chart 'Sales'")
        assert "a: 3, b: 5" in text
        assert "[image/jpeg image, 6 bytes]" in text
        assert text.endswith("df\n")
        assert self._result().to_text(max_chars=5).startswith("hello\n[...")

    def test_a_malformed_chart_is_ignored(self) -> None:
        out = DisplayDataOutput(data={CHART_MIME: {"axes": "nope"}, "image/png": "%%%"})
        assert out.chart is None and out.png is None and out.image is None
