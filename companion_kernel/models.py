"""Typed results of an execution; outputs map 1:1 to nbformat v4 outputs."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
)

from .charts import CHART_MIME, Chart
from .validation.report import Violation

__all__ = [
    "DisplayDataOutput",
    "ErrorInfo",
    "ErrorOutput",
    "ExecuteResultOutput",
    "ExecutionEvent",
    "ExecutionResult",
    "ExecutionStatus",
    "ImageData",
    "Output",
    "StreamOutput",
]

ExecutionStatus = Literal["ok", "error", "timeout", "rejected", "died", "cancelled"]


def _from_base64(value: Any) -> Any:
    return base64.b64decode(value, validate=True) if isinstance(value, str) else value


def _to_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


FileBytes = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(_to_base64, return_type=str, when_used="json"),
]
"""File content: bytes in Python, base64 text in JSON."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


_IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _decode(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:  # Jupyter may wrap base64 in lines
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


class ImageData(_Model):
    """One image from the outputs, decoded."""

    mime: str
    """`image/png`, `image/jpeg`, `image/gif` or `image/webp`."""
    data: bytes
    """The image file's bytes."""


class StreamOutput(_Model):
    """Text written to stdout or stderr."""

    output_type: Literal["stream"] = "stream"
    name: Literal["stdout", "stderr"]
    """Which stream the text went to."""
    text: str
    """The text, exactly as written."""


class DisplayDataOutput(_Model):
    """A rich output shown with `display(...)` (HTML, images, JSON, ...)."""

    output_type: Literal["display_data"] = "display_data"
    data: dict[str, Any]
    """Representations keyed by MIME type (binary ones base64-encoded, as in Jupyter)."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Per-MIME-type metadata such as image sizes."""
    display_id: str | None = None
    """Set when the display can be updated later with `update_display_data`."""

    @property
    def text(self) -> str | None:
        """The `text/plain` representation, if any."""
        value = self.data.get("text/plain")
        return value if isinstance(value, str) else None

    @property
    def html(self) -> str | None:
        """The `text/html` representation, if any."""
        value = self.data.get("text/html")
        return value if isinstance(value, str) else None

    @property
    def png(self) -> bytes | None:
        """The `image/png` representation as bytes, if any."""
        return _decode(self.data.get("image/png"))

    @property
    def jpeg(self) -> bytes | None:
        """The `image/jpeg` representation as bytes, if any."""
        return _decode(self.data.get("image/jpeg"))

    @property
    def image(self) -> ImageData | None:
        """The first image representation (PNG preferred), decoded."""
        for mime in _IMAGE_MIMES:
            data = _decode(self.data.get(mime))
            if data is not None:
                return ImageData(mime=mime, data=data)
        return None

    @property
    def chart(self) -> Chart | None:
        """The chart description of a matplotlib figure (see `companion_kernel.charts`)."""
        value = self.data.get(CHART_MIME)
        if not isinstance(value, dict):
            return None
        try:
            return Chart.model_validate(value)
        except ValidationError:
            return None


class ExecuteResultOutput(DisplayDataOutput):
    """The value of the cell's last expression."""

    output_type: Literal["execute_result"] = "execute_result"  # type: ignore[assignment]
    execution_count: int | None = None
    """The kernel's execution counter for the cell that produced it."""


class ErrorOutput(_Model):
    """An exception raised by the cell."""

    output_type: Literal["error"] = "error"
    ename: str
    """Exception class name, e.g. `ZeroDivisionError`."""
    evalue: str
    """Exception message."""
    traceback: list[str] = Field(default_factory=list)
    """Traceback lines as plain text (ANSI colour codes removed)."""


Output = Annotated[
    StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput,
    Field(discriminator="output_type"),
]


class ErrorInfo(_Model):
    """Why an execution did not succeed."""

    ename: str
    """Exception class name (or a condition such as `Timeout`, `KernelDied`)."""
    evalue: str
    """A message a person can act on."""
    traceback: list[str] = Field(default_factory=list)
    """Traceback lines as plain text, without ANSI codes."""

    @property
    def traceback_text(self) -> str:
        """The traceback as one string."""
        return "\n".join(self.traceback)

    def __str__(self) -> str:
        return f"{self.ename}: {self.evalue}" if self.evalue else self.ename


class ExecutionResult(_Model):
    """Everything one execution produced. Exactly one is returned per submitted execution."""

    kind: Literal["execution"] = "execution"
    status: ExecutionStatus
    """`ok`, `error` (the code raised), `timeout`, `rejected` (by the validator), `died`
    (the kernel died or stopped answering; it is replaced) or `cancelled` (the session or
    engine was closed before the execution finished)."""
    language: str
    """Language the code ran in (after detection, if it was not given)."""
    stdout: str = ""
    """All stdout text, in order (what a notebook would show after any `clear_output`)."""
    stderr: str = ""
    """All stderr text, in order."""
    result: ExecuteResultOutput | None = None
    """The value of the last expression, if the cell had one."""
    outputs: list[Output] = Field(default_factory=list)
    """Every output in order, nbformat-compatible (see `to_nbformat`)."""
    error: ErrorInfo | None = None
    """Set when status is not `ok`."""
    execution_count: int | None = None
    """The kernel's counter after this execution (None if it never reached a kernel)."""
    duration_s: float = 0.0
    """Wall time from submission to result."""
    truncated: bool = False
    """Output went past the byte cap and was cut (a marker shows where)."""
    state_lost: bool = False
    """Variables from earlier cells are gone: this execution lost the kernel (or the shell
    restarted inside it), or it is the first to run on a replacement kernel."""
    violations: list[Violation] = Field(default_factory=list)
    """Validator findings (set when status is `rejected`)."""
    session_id: str | None = None
    """The session that ran it (None for a one-shot execution)."""
    files: dict[str, FileBytes] = Field(default_factory=dict)
    """Workspace files the caller asked to `collect` (relative path -> content; base64
    in JSON)."""

    @property
    def ok(self) -> bool:
        """True when the status is `ok`."""
        return self.status == "ok"

    @property
    def text(self) -> str | None:
        """The result's `text/plain`, if there was a result."""
        return self.result.text if self.result else None

    @property
    def displays(self) -> list[DisplayDataOutput]:
        """Rich outputs in order: `display_data` and the `execute_result`."""
        return [out for out in self.outputs if isinstance(out, DisplayDataOutput)]

    @property
    def images(self) -> list[ImageData]:
        """Every image shown (figures, `display(Image(...))`), decoded, in order."""
        return [image for out in self.displays if (image := out.image) is not None]

    @property
    def html(self) -> list[str]:
        """Every `text/html` representation (DataFrames, `display(HTML(...))`), in order."""
        return [html for out in self.displays if (html := out.html) is not None]

    @property
    def charts(self) -> list[Chart]:
        """Every matplotlib figure shown, described as data, in order."""
        return [chart for out in self.displays if (chart := out.chart) is not None]

    def to_text(self, max_chars: int | None = 20_000) -> str:
        """Everything the execution produced as plain text, for a model's context.

        Streams, `text/plain` of displays and the result, charts summarised, images
        named by type and size, and the error; cut to `max_chars` (None: no cut).
        """
        parts: list[str] = []
        for out in self.outputs:
            if isinstance(out, StreamOutput):
                parts.append(out.text if out.name == "stdout" else f"[stderr] {out.text}")
            elif isinstance(out, DisplayDataOutput):
                chart, image = out.chart, out.image
                if chart is not None:
                    parts.append(f"[chart]\n{chart.summary()}\n")
                elif image is not None:
                    parts.append(f"[{image.mime} image, {len(image.data)} bytes]\n")
                if out.text is not None and not (chart or image):
                    parts.append(out.text + "\n")
        if self.error is not None:
            parts.append(f"[{self.status}] {self.error}\n")
        text = "".join(parts)
        if max_chars is not None and len(text) > max_chars:
            text = text[:max_chars] + f"\n[... {len(text) - max_chars} more characters]"
        return text

    def to_nbformat(self) -> list[Any]:
        """The outputs as `nbformat.NotebookNode` objects, ready for a code cell."""
        from nbformat import v4

        converted = []
        for out in self.outputs:
            if isinstance(out, StreamOutput):
                converted.append(v4.new_output("stream", name=out.name, text=out.text))
            elif isinstance(out, ExecuteResultOutput):
                converted.append(
                    v4.new_output(
                        "execute_result",
                        data=out.data,
                        metadata=out.metadata,
                        execution_count=out.execution_count,
                    )
                )
            elif isinstance(out, DisplayDataOutput):
                node = v4.new_output("display_data", data=out.data, metadata=out.metadata)
                converted.append(node)
            else:
                converted.append(
                    v4.new_output(
                        "error", ename=out.ename, evalue=out.evalue, traceback=out.traceback
                    )
                )
        return converted


class ExecutionEvent(_Model):
    """One streamed event: an output as it arrives, a display update, a clear, or the end."""

    kind: Literal["output", "update", "clear", "done"]
    """`output` (new output), `update` (a display was updated), `clear`, `done` (final)."""
    output: Output | None = None
    """The output, for `output` and `update` events."""
    result: ExecutionResult | None = None
    """The final result, for the `done` event."""
