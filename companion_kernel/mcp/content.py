"""Pure translation of an `ExecutionResult` into MCP tool-result content.

Text blocks are labelled (`[stdout]`, `[stderr]`, `[result]`, `[error]`, ...) so a model can
tell them apart. Images small enough go inline; a larger one is downscaled for the inline
copy (when Pillow is importable) and its original is offered as a resource link, so an
answer never carries a large base64 blob. Chart data (`CHART_MIME`) becomes structured
content. Resource links name their data by content hash, which keeps this module pure:
the caller stores the returned `Attachment`s where `resources/read` finds them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp_types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent

from companion_kernel.charts import CHART_MIME, Chart
from companion_kernel.models import (
    DisplayDataOutput,
    ExecuteResultOutput,
    ExecutionResult,
)

__all__ = [
    "ATTACHMENT_URI_PREFIX",
    "CHART_MIME",
    "Attachment",
    "ContentOptions",
    "Converted",
    "error_result",
    "result_to_content",
]


ATTACHMENT_URI_PREFIX = "companion://outputs/"
"""Resource URIs of outputs too large to inline."""

_IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/svg+xml": "svg",
}


@dataclass(frozen=True)
class ContentOptions:
    """Size bounds of the content sent back to a model."""

    max_text_chars: int = 20_000
    """Characters kept per text block; the middle of longer text is cut (head and tail kept)."""
    max_inline_image_bytes: int = 64 * 1024
    """Largest decoded image sent inline; larger ones are downscaled and linked."""
    max_image_side: int = 1024
    """Longest side, in pixels, of a downscaled inline copy."""


@dataclass(frozen=True)
class Attachment:
    """Output data offered as a resource instead of inline content."""

    uri: str
    """`companion://outputs/<sha256>.<ext>`: the same data always has the same URI."""
    mime_type: str
    """MIME type of `data`."""
    data: bytes
    """The original bytes."""


@dataclass
class Converted:
    """A tool result plus the attachments its resource links point to."""

    result: CallToolResult
    """What the client receives."""
    attachments: list[Attachment] = field(default_factory=list)
    """Data the caller must make readable under each link's URI."""


def error_result(message: str, **structured: Any) -> CallToolResult:
    """An `is_error` tool result with one text block (bad input, unknown session, ...)."""
    return CallToolResult(
        content=[TextContent(text=message)],
        structured_content=structured or None,
        is_error=True,
    )


def result_to_content(result: ExecutionResult, options: ContentOptions | None = None) -> Converted:
    """Translate one execution's result into MCP content; `is_error` unless status is `ok`."""
    options = options or ContentOptions()
    blocks: list[ContentBlock] = []
    attachments: list[Attachment] = []
    charts: list[Any] = []

    def text(label: str, body: str) -> None:
        blocks.append(TextContent(text=f"[{label}]\n{_clip(body, options.max_text_chars)}"))

    if result.stdout:
        text("stdout", result.stdout)
    if result.stderr:
        text("stderr", result.stderr)
    for out in result.outputs:
        if isinstance(out, DisplayDataOutput):  # execute_result is a subclass
            label = "result" if isinstance(out, ExecuteResultOutput) else "display"
            _rich_output(out, label, options, blocks, attachments, charts, text)
    if result.status == "rejected":
        text("rejected", _rejection_text(result))
    elif result.error is not None:
        text(result.status if result.status != "error" else "error", _error_text(result))
    if result.truncated:
        blocks.append(
            TextContent(text="[note] output went past the byte cap and was cut where marked")
        )
    if result.state_lost:
        blocks.append(
            TextContent(
                text="[note] the kernel was replaced: variables and imports from earlier "
                "calls are gone"
            )
        )
    if not blocks:
        blocks.append(TextContent(text="[ok] (no output)"))
    structured = {"charts": charts} if charts else None
    converted = CallToolResult(
        content=blocks, structured_content=structured, is_error=result.status != "ok"
    )
    return Converted(result=converted, attachments=attachments)


def _rich_output(
    out: DisplayDataOutput,
    label: str,
    options: ContentOptions,
    blocks: list[ContentBlock],
    attachments: list[Attachment],
    charts: list[Any],
    text: Callable[[str, str], None],
) -> None:
    data = out.data
    if CHART_MIME in data:
        charts.append(_chart(data[CHART_MIME], len(charts), text))
    mime = next((m for m in _IMAGE_MIMES if m in data), None)
    if mime is not None:
        _image(data[mime], mime, label, options, blocks, attachments, text)
        return
    if CHART_MIME in data:
        return
    if "image/svg+xml" in data:
        svg = data["image/svg+xml"]
        svg_bytes = (svg if isinstance(svg, str) else "".join(svg)).encode("utf-8")
        attachment = _attach(svg_bytes, "image/svg+xml")
        attachments.append(attachment)
        blocks.append(_link(attachment, "SVG image"))
        return
    for kind in ("text/markdown", "text/plain"):
        value = data.get(kind)
        if isinstance(value, str):
            text(label, value)
            return
    text(label, f"(a {', '.join(sorted(data))} output with no text form)")


def _chart(value: Any, index: int, text: Callable[[str, str], None]) -> Any:
    """The chart's data for structured content, with a text summary for the model."""
    from pydantic import ValidationError

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            text("chart", f"(chart data that is not JSON; as text in charts[{index}])")
            return {"raw": value}
    try:
        if not (isinstance(value, dict) and "axes" in value):
            raise ValueError("no axes")
        summary = Chart.model_validate(value).summary() or "empty figure"
    except (ValidationError, ValueError):
        text("chart", f"(chart data of an unknown shape, in structured content charts[{index}])")
        return value
    text("chart", f"{summary}\n(data in structured content, charts[{index}])")
    return value


def _image(
    value: Any,
    mime: str,
    label: str,
    options: ContentOptions,
    blocks: list[ContentBlock],
    attachments: list[Attachment],
    text: Callable[[str, str], None],
) -> None:
    encoded = "".join(value) if isinstance(value, list) else str(value)
    try:
        raw = base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        text(label, f"(an {mime} output that is not valid base64)")
        return
    if len(raw) <= options.max_inline_image_bytes:
        blocks.append(ImageContent(data=base64.b64encode(raw).decode("ascii"), mime_type=mime))
        return
    attachment = _attach(raw, mime)
    attachments.append(attachment)
    preview = _downscale(raw, options)
    if preview is not None:
        data, preview_mime = preview
        blocks.append(
            ImageContent(data=base64.b64encode(data).decode("ascii"), mime_type=preview_mime)
        )
        note = "a downscaled copy is above; the original is at"
    else:
        note = "too large to inline; the original is at"
    text("image", f"{mime}, {len(raw):,} bytes: {note} {attachment.uri}")
    blocks.append(_link(attachment, f"original {mime} image"))


def _downscale(raw: bytes, options: ContentOptions) -> tuple[bytes, str] | None:
    """A smaller copy within the inline bound, or None (no Pillow, unreadable, still too big)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        return None
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            picture = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    side = options.max_image_side
    while side >= 64:
        copy = picture.copy()
        copy.thumbnail((side, side))
        buffer = io.BytesIO()
        if copy.mode == "RGBA":
            copy.save(buffer, format="PNG", optimize=True)
            mime = "image/png"
        else:
            copy.save(buffer, format="JPEG", quality=80)
            mime = "image/jpeg"
        if buffer.tell() <= options.max_inline_image_bytes:
            return buffer.getvalue(), mime
        side //= 2
    return None


def _attach(data: bytes, mime: str) -> Attachment:
    digest = hashlib.sha256(data).hexdigest()[:32]
    uri = f"{ATTACHMENT_URI_PREFIX}{digest}.{_EXTENSIONS.get(mime, 'bin')}"
    return Attachment(uri=uri, mime_type=mime, data=data)


def _link(attachment: Attachment, description: str) -> ResourceLink:
    return ResourceLink(
        uri=attachment.uri,
        name=attachment.uri.removeprefix(ATTACHMENT_URI_PREFIX),
        description=description,
        mime_type=attachment.mime_type,
        size=len(attachment.data),
    )


def _error_text(result: ExecutionResult) -> str:
    error = result.error
    assert error is not None
    head = str(error)
    if not error.traceback:
        return head
    tb = error.traceback_text
    # Python tracebacks end with the `ename: evalue` line already.
    return tb if tb.rstrip().endswith(head) else f"{head}\n{tb}"


def _rejection_text(result: ExecutionResult) -> str:
    lines = [
        "The validator rejected this code before it ran; nothing was executed. "
        "Rewrite it without the constructs below."
    ]
    for v in result.violations:
        where = f"line {v.line}:{v.column}"
        snippet = f" `{v.snippet}`" if v.snippet else ""
        lines.append(f"- {where} {v.rule}: {v.message}{snippet}")
    if not result.violations and result.error is not None:
        lines.append(str(result.error))
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = limit * 3 // 5
    tail = limit - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n... [{omitted:,} characters omitted] ...\n{text[len(text) - tail :]}"
