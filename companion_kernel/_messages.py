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


def _size(data: dict[str, Any]) -> int:
    return sum(len(v) if isinstance(v, str) else len(str(v)) for v in data.values())


class OutputCollector:
    """Builds the outputs of one execution from its iopub messages, as a notebook would.

    Handles streams, rich displays, `clear_output(wait=...)`, `update_display_data` by
    `display_id`, the execute result, errors, and a byte cap on what is kept.
    """

    def __init__(
        self,
        max_output_bytes: int,
        on_event: Callable[[ExecutionEvent], None] | None = None,
    ) -> None:
        self.max_output_bytes = max_output_bytes
        self.on_event = on_event
        self.outputs: list[Output] = []
        self.result: ExecuteResultOutput | None = None
        self.error: ErrorOutput | None = None
        self.execution_count: int | None = None
        self.truncated = False
        self.dropped_bytes = 0
        self.idle = False
        self._kept = 0
        self._clear_pending = False

    # -- feeding -------------------------------------------------------------------------------

    def feed(self, msg: dict[str, Any]) -> None:
        """Apply one iopub message (already filtered to this execution's parent)."""
        msg_type = msg["header"]["msg_type"]
        content = msg.get("content", {})
        if msg_type == "status":
            if content.get("execution_state") == "idle":
                self.idle = True
        elif msg_type == "stream":
            self._add_stream(content.get("name", "stdout"), content.get("text", ""))
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
            self.execution_count = content.get("execution_count", self.execution_count)

    def _emit(self, kind: str, output: Output | None = None) -> None:
        if self.on_event is not None:
            self.on_event(ExecutionEvent(kind=kind, output=output))  # type: ignore[arg-type]

    def _before_output(self) -> None:
        if self._clear_pending:
            self._clear_pending = False
            self._clear()

    def _clear(self) -> None:
        self.outputs.clear()
        self.result = None
        self._kept = 0
        self._emit("clear")

    def _admit(self, nbytes: int) -> bool:
        """Account for `nbytes` of new output; False once the cap is passed."""
        if self.truncated:
            self.dropped_bytes += nbytes
            return False
        if self._kept + nbytes <= self.max_output_bytes:
            self._kept += nbytes
            return True
        return False

    def _mark_truncated(self, name: str = "stderr") -> None:
        self.truncated = True
        self._append_stream(name, truncation_marker(self.max_output_bytes))

    def _append_stream(self, name: str, text: str) -> None:
        chunk = StreamOutput(name=name, text=text)  # type: ignore[arg-type]
        last = self.outputs[-1] if self.outputs else None
        if isinstance(last, StreamOutput) and last.name == name:
            last.text += text
        else:
            self.outputs.append(chunk.model_copy())
        self._emit("output", chunk)

    def _add_stream(self, name: str, text: str) -> None:
        if name not in ("stdout", "stderr"):
            name = "stdout"
        self._before_output()
        data = text.encode("utf-8", "replace")
        if self._admit(len(data)):
            self._append_stream(name, text)
            return
        if self.truncated:
            return
        room = max(self.max_output_bytes - self._kept, 0)
        head = data[:room].decode("utf-8", "ignore")
        self._kept += len(head.encode())
        self.dropped_bytes += len(data) - len(head.encode())
        if head:
            self._append_stream(name, head)
        self._mark_truncated(name)

    def _add_display(self, msg_type: str, content: dict[str, Any]) -> None:
        self._before_output()
        data = content.get("data", {}) or {}
        if not self._admit(_size(data)):
            if not self.truncated:
                self.dropped_bytes += _size(data)
                self._mark_truncated()
            return
        display_id = (content.get("transient") or {}).get("display_id")
        out: DisplayDataOutput
        if msg_type == "execute_result":
            out = ExecuteResultOutput(
                data=data,
                metadata=content.get("metadata", {}) or {},
                display_id=display_id,
                execution_count=content.get("execution_count"),
            )
            self.result = out
        else:
            out = DisplayDataOutput(
                data=data, metadata=content.get("metadata", {}) or {}, display_id=display_id
            )
        self.outputs.append(out)
        self._emit("output", out)

    def _update_display(self, content: dict[str, Any]) -> None:
        display_id = (content.get("transient") or {}).get("display_id")
        if not display_id:
            return
        data = content.get("data", {}) or {}
        for out in self.outputs:
            if isinstance(out, DisplayDataOutput) and out.display_id == display_id:
                delta = _size(data) - _size(out.data)
                if not self._admit(max(delta, 0)):
                    if not self.truncated:
                        self._mark_truncated()
                    return
                out.data = data
                out.metadata = content.get("metadata", {}) or {}
                self._emit("update", out)

    def _add_error(self, content: dict[str, Any]) -> None:
        self._before_output()
        ename, evalue = str(content.get("ename") or ""), str(content.get("evalue", ""))
        if not ename and evalue.isdigit():
            # bash_kernel reports a failing command as ename "" and the exit status as evalue.
            ename, evalue = "ExitStatus", f"the last command exited with status {evalue}"
        err = ErrorOutput(
            ename=ename or "Error",
            evalue=evalue,
            traceback=[strip_ansi(str(line)) for line in content.get("traceback", [])],
        )
        self.error = err
        # Errors are always kept, even past the cap: they are what the caller needs most.
        self.outputs.append(err)
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
        return ExecutionResult(
            status=status,
            language=language,
            stdout=self.stream_text("stdout"),
            stderr=self.stream_text("stderr"),
            result=self.result,
            outputs=list(self.outputs),
            error=error,
            execution_count=execution_count
            if execution_count is not None
            else self.execution_count,
            duration_s=duration_s,
            truncated=self.truncated,
            state_lost=state_lost,
            session_id=session_id,
        )
