"""Pure translation of Jupyter iopub messages into result models (no I/O, unit-tested alone)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .models import (
    DisplayDataOutput,
    ErrorInfo,
    ErrorOutput,
    ExecuteResultOutput,
    ExecutionEvent,
    ExecutionResult,
    ExecutionStatus,
    Output,
    StreamOutput,
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def strip_ansi(text: str) -> str:
    """Remove terminal colour and cursor codes."""
    return _ANSI.sub("", text)


def truncation_marker(limit: int) -> str:
    """The visible text put where output was cut."""
    return f"\n[companion-kernel: output truncated, it exceeded the {limit:,}-byte limit]\n"


# Deeper JSON than this in one output is refused: nothing real nests so deep, and callers
# that serialise results recursively would fail on it later, far from the cause.
MAX_JSON_DEPTH = 100
# What an error past the cap may still keep (an error is the one output a caller most needs).
_ERROR_NAME_CHARS = 200
_ERROR_VALUE_CHARS = 2_000
_ERROR_LINES = 20
_ERROR_LINE_CHARS = 1_000


class MalformedMessage(ValueError):
    """A message whose fields do not have the shapes the protocol gives them."""


def _text_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def json_size(value: Any, limit: int) -> int:
    """Bytes `value` takes as JSON, roughly; stops counting once past `limit`.

    Iterative (no recursion), so hostile nesting cannot exhaust the stack; raises
    `MalformedMessage` beyond `MAX_JSON_DEPTH` levels or for values JSON cannot hold.
    """
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            total += _text_bytes(item) + 2
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise MalformedMessage(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
            total += 2 + len(item)
            if isinstance(item, dict):
                for key, sub in item.items():
                    total += _text_bytes(key) + 3 if isinstance(key, str) else 8
                    stack.append((sub, depth + 1))
            else:
                stack.extend((sub, depth + 1) for sub in item)
        elif item is None or isinstance(item, bool | int | float):
            total += 8
        elif isinstance(item, bytes | bytearray | memoryview):
            total += len(item)
        else:
            raise MalformedMessage(f"unexpected {type(item).__name__} in a message")
        if total > limit:
            return total
    return total


def _dict(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedMessage(f"{field} is a {type(value).__name__}, not an object")
    return value


def _str(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedMessage(f"{field} is a {type(value).__name__}, not a string")
    return value


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars] + "…"


class OutputCollector:
    """Builds the outputs of one execution from its iopub messages, as a notebook would.

    Handles streams, rich displays, `clear_output(wait=...)`, `update_display_data` by
    `display_id`, the execute result, errors, and a byte cap on what is kept: every field
    a kernel sends (text, data, metadata, error fields) counts toward it. Malformed
    messages become a `MalformedMessage` error output instead of an exception.
    """

    def __init__(
        self,
        max_output_bytes: int,
        on_event: Callable[[ExecutionEvent], None] | None = None,
    ) -> None:
        self.max_output_bytes = max_output_bytes
        self.on_event = on_event
        self.result: ExecuteResultOutput | None = None
        self.error: ErrorOutput | None = None
        self.execution_count: int | None = None
        self.truncated = False
        self.dropped_bytes = 0
        self.idle = False
        self._outputs: list[Output] = []
        self._kept = 0
        self._clear_pending = False
        # Text of the last output while it is a stream still being written: joined once at
        # the end instead of copied on every chunk (that was quadratic in a flood).
        self._open: StreamOutput | None = None
        self._parts: list[str] = []
        self._display_sizes: dict[int, int] = {}
        # The clipped error kept past the cap; a later one replaces it rather than adding.
        self._spare_error: ErrorOutput | None = None

    @property
    def outputs(self) -> list[Output]:
        """The outputs so far, in order."""
        self._close_stream()
        return self._outputs

    # -- feeding -------------------------------------------------------------------------------

    def feed(self, msg: dict[str, Any]) -> None:
        """Apply one iopub message (already filtered to this execution's parent)."""
        try:
            self._feed(msg)
        except (ValueError, RecursionError) as exc:  # ValueError covers pydantic's errors
            self._malformed(msg, exc)

    def _feed(self, msg: dict[str, Any]) -> None:
        if msg.get("oversized"):
            self._drop(int(msg["oversized"]))
            return
        if msg.get("malformed"):
            raise MalformedMessage(str(msg["malformed"]))
        msg_type = _str(_dict(msg.get("header"), "header").get("msg_type"), "msg_type")
        content = _dict(msg.get("content"), "content")
        if msg_type == "status":
            if content.get("execution_state") == "idle":
                self.idle = True
        elif msg_type == "stream":
            self._add_stream(
                _str(content.get("name"), "stream name"), _str(content.get("text"), "stream text")
            )
        elif msg_type in ("display_data", "execute_result"):
            self._add_display(msg_type, content)
        elif msg_type == "update_display_data":
            self._update_display(content)
        elif msg_type == "error":
            self._add_error(content)
        elif msg_type == "clear_output":
            if content.get("wait"):
                self._clear_pending = True
            else:
                self._clear()
        elif msg_type == "execute_input":
            count = content.get("execution_count")
            if isinstance(count, int) and not isinstance(count, bool):
                self.execution_count = count

    def _emit(self, kind: str, output: Output | None = None) -> None:
        if self.on_event is not None:
            self.on_event(ExecutionEvent(kind=kind, output=output))  # type: ignore[arg-type]

    def _before_output(self) -> None:
        if self._clear_pending:
            self._clear_pending = False
            self._clear()

    def _clear(self) -> None:
        self._outputs.clear()
        self._open, self._parts = None, []
        self._display_sizes.clear()
        self._spare_error = None
        self.result = None
        self._kept = 0
        self._emit("clear")

    def _append(self, out: Output) -> None:
        self._close_stream()
        self._outputs.append(out)

    def _close_stream(self) -> None:
        if self._open is not None:
            self._open.text = "".join(self._parts)
            self._open, self._parts = None, []

    def _room(self) -> int:
        return max(self.max_output_bytes - self._kept, 0)

    def _drop(self, nbytes: int) -> None:
        self.dropped_bytes += nbytes
        if not self.truncated:
            self._mark_truncated()

    def _mark_truncated(self, name: str = "stderr") -> None:
        self.truncated = True
        self._append_stream(name, truncation_marker(self.max_output_bytes))

    def _append_stream(self, name: str, text: str) -> None:
        if self._open is None and self._outputs:
            last = self._outputs[-1]
            if isinstance(last, StreamOutput) and last.name == name:
                self._open, self._parts = last, [last.text]
        if self._open is not None and self._open.name == name:
            self._parts.append(text)
        else:
            self._close_stream()
            self._open = StreamOutput(name=name, text="")  # type: ignore[arg-type]
            self._parts = [text]
            self._outputs.append(self._open)
        if self.on_event is not None:
            self._emit("output", StreamOutput(name=name, text=text))  # type: ignore[arg-type]

    def _add_stream(self, name: str, text: str) -> None:
        if name not in ("stdout", "stderr"):
            name = "stdout"
        self._before_output()
        nbytes = _text_bytes(text)
        if self.truncated:
            self.dropped_bytes += nbytes
            return
        room = self._room()
        if nbytes <= room:
            self._kept += nbytes
            self._append_stream(name, text)
            return
        head = text[:room] if text.isascii() else text.encode()[:room].decode("utf-8", "ignore")
        kept = _text_bytes(head)
        self._kept += kept
        if head:
            self._append_stream(name, head)
        self.dropped_bytes += nbytes - kept
        self._mark_truncated(name)

    def _add_display(self, msg_type: str, content: dict[str, Any]) -> None:
        self._before_output()
        data = _dict(content.get("data"), "data")
        metadata = _dict(content.get("metadata"), "metadata")
        display_id = _display_id(content)
        room = self._room()
        size = json_size(data, room) + json_size(metadata, room)
        if self.truncated or size > room:
            self._drop(size)
            return
        out: DisplayDataOutput
        if msg_type == "execute_result":
            out = ExecuteResultOutput(
                data=data,
                metadata=metadata,
                display_id=display_id,
                execution_count=content.get("execution_count"),
            )
            self.result = out
        else:
            out = DisplayDataOutput(data=data, metadata=metadata, display_id=display_id)
        self._kept += size
        self._display_sizes[id(out)] = size
        self._append(out)
        self._emit("output", out)

    def _update_display(self, content: dict[str, Any]) -> None:
        display_id = _display_id(content)
        if not display_id:
            return
        data = _dict(content.get("data"), "data")
        metadata = _dict(content.get("metadata"), "metadata")
        targets = [
            o
            for o in self._outputs
            if isinstance(o, DisplayDataOutput) and o.display_id == display_id
        ]
        if not targets:
            return
        room = self._room()
        limit = room + sum(self._display_sizes.get(id(o), 0) for o in targets)
        size = json_size(data, limit) + json_size(metadata, limit)
        delta = sum(size - self._display_sizes.get(id(o), 0) for o in targets)
        if self.truncated or delta > room:
            self._drop(size)
            return
        self._kept += delta
        for out in targets:
            out.data = data
            out.metadata = metadata
            self._display_sizes[id(out)] = size
            self._emit("update", out)

    def _add_error(self, content: dict[str, Any]) -> None:
        self._before_output()
        ename = _str(content.get("ename"), "ename")
        evalue = content.get("evalue")
        evalue = str(evalue) if isinstance(evalue, int | float) else _str(evalue, "evalue")
        if not ename and evalue.isdigit():
            # bash_kernel reports a failing command as ename "" and the exit status as evalue.
            ename, evalue = "ExitStatus", f"the last command exited with status {evalue}"
        traceback = content.get("traceback") or []
        if not isinstance(traceback, list):
            raise MalformedMessage(f"traceback is a {type(traceback).__name__}, not a list")
        lines = [_str(line, "traceback line") for line in traceback]
        self._keep_error(ename or "Error", evalue, lines)

    def _malformed(self, msg: dict[str, Any], exc: BaseException) -> None:
        header = msg.get("header")
        msg_type = header.get("msg_type") if isinstance(header, dict) else None
        kind = f"a {msg_type} message" if isinstance(msg_type, str) else "a message"
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        self._keep_error(
            "MalformedMessage",
            f"the kernel sent {_clip(kind, 100)} the engine could not use "
            f"({_clip(detail, 300)}); it was dropped",
            [],
        )

    def _keep_error(self, ename: str, evalue: str, lines: list[str]) -> None:
        """Errors are kept even past the cap (they are what a caller needs most), clipped."""
        size = _text_bytes(ename) + _text_bytes(evalue) + sum(_text_bytes(x) for x in lines)
        room = self._room()
        if not self.truncated and size <= room:
            err = ErrorOutput(ename=ename, evalue=evalue, traceback=[strip_ansi(x) for x in lines])
            self._kept += size
            self._append(err)
        else:
            err = ErrorOutput(
                ename=_clip(ename, _ERROR_NAME_CHARS),
                evalue=_clip(evalue, _ERROR_VALUE_CHARS),
                traceback=[strip_ansi(_clip(x, _ERROR_LINE_CHARS)) for x in lines[-_ERROR_LINES:]],
            )
            self._drop(size - sum(_text_bytes(x) for x in (err.ename, err.evalue, *err.traceback)))
            if self._spare_error is not None and self._spare_error in self._outputs:
                self._outputs[self._outputs.index(self._spare_error)] = err
            else:
                self._append(err)
            self._spare_error = err
        self.error = err
        self._emit("output", err)

    # -- result --------------------------------------------------------------------------------

    def stream_text(self, name: str) -> str:
        """All text of one stream, in order."""
        return "".join(
            o.text for o in self.outputs if isinstance(o, StreamOutput) and o.name == name
        )

    def build(
        self,
        *,
        status: ExecutionStatus,
        language: str,
        duration_s: float,
        error: ErrorInfo | None = None,
        state_lost: bool = False,
        session_id: str | None = None,
        execution_count: int | None = None,
    ) -> ExecutionResult:
        """The final result."""
        if error is None and self.error is not None:
            error = ErrorInfo(
                ename=self.error.ename, evalue=self.error.evalue, traceback=self.error.traceback
            )
        # A kernel's reply is as untrusted as its outputs.
        if not isinstance(execution_count, int) or isinstance(execution_count, bool):
            execution_count = self.execution_count
        return ExecutionResult(
            status=status,
            language=language,
            stdout=self.stream_text("stdout"),
            stderr=self.stream_text("stderr"),
            result=self.result,
            outputs=list(self.outputs),
            error=error,
            execution_count=execution_count,
            duration_s=duration_s,
            truncated=self.truncated,
            state_lost=state_lost,
            session_id=session_id,
        )


def _display_id(content: dict[str, Any]) -> str | None:
    display_id = _dict(content.get("transient"), "transient").get("display_id")
    if display_id is None or isinstance(display_id, str):
        return display_id
    raise MalformedMessage(f"display_id is a {type(display_id).__name__}, not a string")
