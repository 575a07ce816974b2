"""ExecutionResult -> MCP content: a pure function, tested without kernels."""

from __future__ import annotations

import base64
import io
import json
import random
from typing import Any

import pytest
from mcp_types import ImageContent, ResourceLink, TextContent

from companion_kernel.mcp.content import (
    ATTACHMENT_URI_PREFIX,
    CHART_MIME,
    ContentOptions,
    error_result,
    result_to_content,
)
from companion_kernel.models import (
    DisplayDataOutput,
    ErrorInfo,
    ExecuteResultOutput,
    ExecutionResult,
    StreamOutput,
)
from companion_kernel.validation import Violation


def _texts(converted: object) -> list[str]:
    blocks = converted.result.content  # type: ignore[attr-defined]
    return [b.text for b in blocks if isinstance(b, TextContent)]


def _png(width: int, height: int, *, noisy: bool) -> bytes:
    image_module = pytest.importorskip("PIL.Image")
    rng = random.Random(7)
    if noisy:
        data = bytes(rng.randrange(256) for _ in range(width * height * 3))
        image = image_module.frombytes("RGB", (width, height), data)
    else:
        image = image_module.new("RGB", (width, height), (200, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _display(mime: str, payload: object) -> DisplayDataOutput:
    return DisplayDataOutput(data={mime: payload, "text/plain": "<Figure>"})


class TestText:
    def test_stdout_stderr_and_result_are_labelled_blocks(self) -> None:
        value = ExecuteResultOutput(data={"text/plain": "42"}, execution_count=1)
        result = ExecutionResult(
            status="ok",
            language="python",
            stdout="hello\n",
            stderr="careful\n",
            result=value,
            outputs=[
                StreamOutput(name="stdout", text="hello\n"),
                StreamOutput(name="stderr", text="careful\n"),
                value,
            ],
        )
        converted = result_to_content(result)
        assert not converted.result.is_error
        assert _texts(converted) == ["[stdout]\nhello\n", "[stderr]\ncareful\n", "[result]\n42"]
        assert converted.result.structured_content is None
        assert converted.attachments == []

    def test_no_output_still_says_so(self) -> None:
        converted = result_to_content(ExecutionResult(status="ok", language="shell"))
        assert _texts(converted) == ["[ok] (no output)"]

    def test_long_text_keeps_head_and_tail(self) -> None:
        text = "A" * 5000 + "MIDDLE" + "Z" * 5000
        result = ExecutionResult(status="ok", language="python", stdout=text)
        (block,) = _texts(result_to_content(result, ContentOptions(max_text_chars=1000)))
        assert block.startswith("[stdout]\nAAA")
        assert block.endswith("ZZZ")
        assert "MIDDLE" not in block
        assert "characters omitted" in block
        assert len(block) < 1200

    def test_truncated_and_state_lost_add_notes(self) -> None:
        result = ExecutionResult(
            status="ok", language="python", stdout="x", truncated=True, state_lost=True
        )
        notes = [t for t in _texts(result_to_content(result)) if t.startswith("[note]")]
        assert len(notes) == 2
        assert "cut" in notes[0]
        assert "gone" in notes[1]


class TestErrors:
    def test_exception_is_an_error_result_with_traceback(self) -> None:
        error = ErrorInfo(
            ename="ZeroDivisionError",
            evalue="division by zero",
            traceback=[
                "Traceback (most recent call last):",
                "  line 1",
                "ZeroDivisionError: division by zero",
            ],
        )
        result = ExecutionResult(status="error", language="python", error=error)
        converted = result_to_content(result)
        assert converted.result.is_error
        (block,) = _texts(converted)
        assert block.startswith("[error]\nTraceback")
        assert block.count("ZeroDivisionError: division by zero") == 1

    def test_error_without_traceback_names_it(self) -> None:
        error = ErrorInfo(ename="KernelDied", evalue="the kernel died (exit code 3)")
        result = ExecutionResult(status="died", language="python", error=error)
        converted = result_to_content(result)
        assert converted.result.is_error
        assert _texts(converted) == ["[died]\nKernelDied: the kernel died (exit code 3)"]

    def test_rejection_lists_every_violation(self) -> None:
        violations = [
            Violation(
                rule="python.process",
                message="os.system runs a shell command",
                line=1,
                column=11,
                snippet="os.system('id')",
            ),
            Violation(
                rule="python.import",
                message="subprocess is blocked",
                line=2,
                column=1,
                snippet="import subprocess",
            ),
        ]
        result = ExecutionResult(
            status="rejected",
            language="python",
            violations=violations,
            error=ErrorInfo(ename="Rejected", evalue="the validator rejected this code"),
        )
        converted = result_to_content(result)
        assert converted.result.is_error
        (block,) = _texts(converted)
        assert block.startswith("[rejected]\n")
        assert "nothing was executed" in block
        assert "- line 1:11 python.process: os.system runs a shell command" in block
        assert "- line 2:1 python.import: subprocess is blocked `import subprocess`" in block

    def test_error_result_helper(self) -> None:
        result = error_result("no session 'x'", session_id="x")
        assert result.is_error
        assert result.structured_content == {"session_id": "x"}
        assert isinstance(result.content[0], TextContent)


class TestImages:
    def test_small_image_is_inline(self) -> None:
        png = _png(20, 10, noisy=False)
        out = _display("image/png", base64.b64encode(png).decode())
        result = ExecutionResult(status="ok", language="python", outputs=[out])
        converted = result_to_content(result)
        (image,) = converted.result.content
        assert isinstance(image, ImageContent)
        assert image.mime_type == "image/png"
        assert base64.b64decode(image.data) == png
        assert converted.attachments == []

    def test_large_image_is_downscaled_and_linked(self) -> None:
        image_module = pytest.importorskip("PIL.Image")
        png = _png(600, 400, noisy=True)
        options = ContentOptions(max_inline_image_bytes=48 * 1024, max_image_side=256)
        assert len(png) > options.max_inline_image_bytes
        out = _display("image/png", base64.b64encode(png).decode())
        result = ExecutionResult(status="ok", language="python", outputs=[out])
        converted = result_to_content(result, options)
        preview, note, link = converted.result.content
        assert isinstance(preview, ImageContent)
        data = base64.b64decode(preview.data)
        assert len(data) <= options.max_inline_image_bytes
        with image_module.open(io.BytesIO(data)) as small:
            assert max(small.size) <= 256
        assert isinstance(note, TextContent) and "downscaled" in note.text
        assert isinstance(link, ResourceLink)
        (attachment,) = converted.attachments
        assert attachment.data == png
        assert str(link.uri) == attachment.uri
        assert attachment.uri.startswith(ATTACHMENT_URI_PREFIX) and attachment.uri.endswith(".png")
        # Pure: the same image always gets the same link.
        again = result_to_content(result, options)
        assert again.attachments[0].uri == attachment.uri

    def test_undecodable_large_image_is_only_linked(self) -> None:
        blob = b"\x89PNG not really" + bytes(100_000)
        out = _display("image/png", base64.b64encode(blob).decode())
        result = ExecutionResult(status="ok", language="python", outputs=[out])
        converted = result_to_content(result, ContentOptions(max_inline_image_bytes=1024))
        assert not any(isinstance(b, ImageContent) for b in converted.result.content)
        assert any(isinstance(b, ResourceLink) for b in converted.result.content)
        assert "too large to inline" in " ".join(_texts(converted))

    def test_invalid_base64_is_reported_not_raised(self) -> None:
        out = _display("image/png", "abc")
        result = ExecutionResult(status="ok", language="python", outputs=[out])
        assert _texts(result_to_content(result)) == [
            "[display]\n(an image/png output that is not valid base64)"
        ]


_CHART: dict[str, Any] = {
    "version": 1,
    "axes": [
        {
            "chart_type": "bar",
            "title": "Sales",
            "x_label": "region",
            "series": [{"kind": "bar", "points": [["a", 1.0], ["b", 2.0]], "total_points": 2}],
        }
    ],
}


class TestCharts:
    def test_chart_data_is_structured_content_next_to_the_image(self) -> None:
        out = DisplayDataOutput(data={CHART_MIME: _CHART, "image/png": "aGVsbG8="})
        result = ExecutionResult(status="ok", language="python", outputs=[out])
        converted = result_to_content(result)
        assert converted.result.structured_content == {"charts": [_CHART]}
        assert _texts(converted) == [
            "[chart]\nbar chart 'Sales' (x: region, y: -)\n  bar: a: 1, b: 2\n"
            "(data in structured content, charts[0])"
        ]
        assert any(isinstance(b, ImageContent) for b in converted.result.content)

    def test_chart_as_json_text_is_parsed(self) -> None:
        out = DisplayDataOutput(data={CHART_MIME: json.dumps(_CHART)})
        result = ExecutionResult(status="ok", language="python", outputs=[out])
        converted = result_to_content(result)
        assert converted.result.structured_content == {"charts": [_CHART]}
        assert _texts(converted)[0].startswith("[chart]\nbar chart 'Sales'")

    def test_unknown_chart_shape_is_kept_and_said(self) -> None:
        out = DisplayDataOutput(data={CHART_MIME: {"type": "line"}})
        result = ExecutionResult(status="ok", language="python", outputs=[out])
        converted = result_to_content(result)
        assert converted.result.structured_content == {"charts": [{"type": "line"}]}
        assert "unknown shape" in _texts(converted)[0]

    def test_chart_from_a_real_figure_is_summarised(self) -> None:
        pytest.importorskip("matplotlib")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from companion_kernel._kernel_charts import describe_figure

        fig, ax = plt.subplots()
        ax.plot([1, 2, 3], [4, 5, 6], label="temp")
        ax.set_title("Week")
        data = describe_figure(fig)
        plt.close(fig)
        out = DisplayDataOutput(data={CHART_MIME: data})
        result = ExecutionResult(status="ok", language="python", outputs=[out])
        first = _texts(result_to_content(result))[0]
        assert first.startswith("[chart]\nline chart 'Week'\n  line temp: 1.0: 4, 2.0: 5, 3.0: 6")


def test_html_only_output_falls_back_to_its_text() -> None:
    out = DisplayDataOutput(data={"text/html": "<b>x</b>", "text/plain": "x"})
    result = ExecutionResult(status="ok", language="python", outputs=[out])
    assert _texts(result_to_content(result)) == ["[display]\nx"]


def test_svg_is_linked_not_inlined() -> None:
    out = DisplayDataOutput(data={"image/svg+xml": "<svg/>"})
    result = ExecutionResult(status="ok", language="python", outputs=[out])
    converted = result_to_content(result)
    (link,) = converted.result.content
    assert isinstance(link, ResourceLink)
    assert converted.attachments[0].data == b"<svg/>"
