"""Answers to the input prompts of a running cell.

Python's `input()` and `getpass()`, JavaScript's `await $$.input(...)` and a shell's `read`
from the terminal each send a Jupyter `input_request` when the execution allows stdin,
which it does when the caller passes `input=` to `execute`:

- a string is standard input text: each line answers one prompt;
- a list of strings gives one answer per prompt, in order;
- a callback (sync or async) gets an `InputRequest` and returns the answer, or None for
  end of input.

Past the last answer a prompt gets end of input (Python `EOFError`, a rejected
`$$.input` promise, `read` returning 1). A callback that raises or returns something
other than a string gets the same end of input in the kernel, and the execution's result
is an error naming the callback's failure. Waiting for a callback counts against the
execution's timeout.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import BaseModel, ConfigDict

from .errors import InvalidRequest
from .models import ErrorInfo

if TYPE_CHECKING:
    from ._kernel import KernelHandle

__all__ = ["MAX_ANSWER_BYTES", "InputAnswers", "InputCallback", "InputRequest", "InputSource"]

MAX_ANSWER_BYTES = 1024 * 1024
"""Largest single answer (UTF-8 bytes)."""

# Jupyter's end-of-input answer: ipykernel raises EOFError when it gets it.
EOF = "\x04"
# How long one wait on the stdin channel lasts before it is simply repeated.
_POLL_S = 1.0
_MAX_PROMPT_CHARS = 64 * 1024


class InputRequest(BaseModel):
    """One prompt of a running cell, as a callback given to `input=` sees it."""

    model_config = ConfigDict(frozen=True)

    prompt: str
    """The prompt text the code gave (may be empty)."""
    password: bool = False
    """True for a secret: `getpass()`, `$$.input({password: true})`, `read -s`."""
    number: int = 1
    """1 for the execution's first prompt, 2 for the next, and so on."""


InputCallback: TypeAlias = Callable[[InputRequest], "str | Awaitable[str | None] | None"]
InputSource: TypeAlias = str | Sequence[str] | InputCallback


def _check_answer(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{what} must be a string, not {type(value).__name__}")
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_ANSWER_BYTES:
        raise InvalidRequest(
            f"{what} is {size:,} bytes, over the {MAX_ANSWER_BYTES:,}-byte limit for one answer"
        )
    return value


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another
    return [line.removesuffix("\r") for line in lines]


class InputAnswers:
    """Answers one execution's prompts from a caller's `input=` (checked on creation)."""

    def __init__(self, source: InputSource) -> None:
        self._answers: list[str] | None = None
        self._callback: InputCallback | None = None
        if isinstance(source, str):
            self._answers = [_check_answer(line, "an input line") for line in _lines(source)]
        elif isinstance(source, Sequence) and not isinstance(source, bytes | bytearray):
            self._answers = [_check_answer(a, f"input[{i}]") for i, a in enumerate(source)]
        elif callable(source):
            self._callback = source
        else:
            raise InvalidRequest(
                "input must be a string, a list of strings or a callback, "
                f"not {type(source).__name__}"
            )
        self._next = 0
        self.asked = 0
        """How many prompts the execution made so far."""
        self.error: ErrorInfo | None = None
        """Set when the callback failed: the execution's result is then this error."""
        self.waiting: InputRequest | None = None
        """The prompt whose callback is running now, if any."""

    async def answer(self, request: InputRequest) -> str:
        """The value to send in the `input_reply` (`EOF` for end of input)."""
        if self._answers is not None:
            if self._next >= len(self._answers):
                return EOF
            self._next += 1
            return self._answers[self._next - 1]
        if self.error is not None:  # a failed callback is not asked again
            return EOF
        assert self._callback is not None
        self.waiting = request
        try:
            value = await _call(self._callback, request)
            if value is None:
                return EOF
            return _check_answer(value, "the input callback's answer")
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self.error = ErrorInfo(
                ename="InputCallbackError",
                evalue=(
                    f"the input callback failed on prompt {request.number} "
                    f"({request.prompt!r}): {detail}; the code got end of input"
                ),
            )
            return EOF
        finally:
            self.waiting = None

    async def serve(self, kernel: KernelHandle, msg_id: str) -> None:
        """Answer the `input_request`s of execution `msg_id` until cancelled."""
        while True:
            msg = await kernel.get_stdin(_POLL_S)
            if msg is None or msg.get("msg_type") != "input_request":
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue  # a late request of a cell that was given up
            content = msg.get("content") or {}
            self.asked += 1
            request = InputRequest(
                prompt=str(content.get("prompt") or "")[:_MAX_PROMPT_CHARS],
                password=content.get("password") is True,
                number=self.asked,
            )
            value = await self.answer(request)
            kernel.send_stdin("input_reply", {"value": value}, parent=msg)


async def _call(callback: InputCallback, request: InputRequest) -> Any:
    if inspect.iscoroutinefunction(callback):
        return await callback(request)
    # A sync callback may block (a person typing): never on the event loop.
    value = await asyncio.to_thread(callback, request)
    if inspect.isawaitable(value):
        value = await value
    return value
