"""Answering input prompts from a caller's `input=`, without kernels (companion_kernel.stdin)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from companion_kernel.errors import InvalidRequest
from companion_kernel.stdin import EOF, MAX_ANSWER_BYTES, InputAnswers, InputRequest


def _ask(answers: InputAnswers, prompt: str = "? ", number: int = 1) -> str:
    return asyncio.run(answers.answer(InputRequest(prompt=prompt, number=number)))


class TestStrings:
    def test_each_line_answers_one_prompt_then_end_of_input(self) -> None:
        answers = InputAnswers("alice\r\n42\n")
        assert [_ask(answers), _ask(answers), _ask(answers)] == ["alice", "42", EOF]

    def test_a_string_without_newline_is_one_answer_and_empty_is_an_empty_line(self) -> None:
        assert _ask(InputAnswers("only")) == "only"
        assert _ask(InputAnswers("")) == ""


class TestLists:
    def test_answers_in_order_then_end_of_input(self) -> None:
        answers = InputAnswers(["a", "b\nc"])
        assert [_ask(answers), _ask(answers), _ask(answers)] == ["a", "b\nc", EOF]

    def test_non_string_items_are_refused_up_front(self) -> None:
        with pytest.raises(InvalidRequest, match=r"input\[1\] must be a string, not int"):
            InputAnswers(["a", 1])  # type: ignore[list-item]

    def test_oversized_answers_are_refused_up_front(self) -> None:
        with pytest.raises(InvalidRequest, match="limit for one answer"):
            InputAnswers(["x" * (MAX_ANSWER_BYTES + 1)])

    def test_bytes_and_other_types_are_refused(self) -> None:
        with pytest.raises(InvalidRequest, match="not bytes"):
            InputAnswers(b"abc")  # type: ignore[arg-type]
        with pytest.raises(InvalidRequest, match="not int"):
            InputAnswers(3)  # type: ignore[arg-type]


class TestCallbacks:
    def test_sync_callback_runs_off_the_event_loop_thread(self) -> None:
        threads: list[threading.Thread] = []

        def answer(request: InputRequest) -> str:
            threads.append(threading.current_thread())
            return f"{request.number}:{request.prompt}:{request.password}"

        answers = InputAnswers(answer)
        assert _ask(answers, "name? ", 2) == "2:name? :False"
        assert threads and threads[0] is not threading.main_thread()

    def test_async_callback_and_none_is_end_of_input(self) -> None:
        async def answer(request: InputRequest) -> str | None:
            await asyncio.sleep(0)
            return None if request.number > 1 else "first"

        answers = InputAnswers(answer)
        assert _ask(answers, number=1) == "first"
        assert _ask(answers, number=2) == EOF
        assert answers.error is None

    def test_raising_callback_gives_end_of_input_and_an_error_then_is_not_asked_again(
        self,
    ) -> None:
        calls = []

        def answer(request: InputRequest) -> str:
            calls.append(request)
            raise ValueError("no idea")

        answers = InputAnswers(answer)
        assert _ask(answers, "age? ") == EOF
        assert answers.error is not None
        assert answers.error.ename == "InputCallbackError"
        assert "ValueError: no idea" in answers.error.evalue and "'age? '" in answers.error.evalue
        assert _ask(answers) == EOF
        assert len(calls) == 1

    def test_wrong_or_oversized_answer_is_an_error(self) -> None:
        answers = InputAnswers(lambda request: 42)  # type: ignore[arg-type,return-value]
        assert _ask(answers) == EOF
        assert answers.error is not None and "not int" in answers.error.evalue
        big = InputAnswers(lambda request: "x" * (MAX_ANSWER_BYTES + 1))
        assert _ask(big) == EOF
        assert big.error is not None and "limit for one answer" in big.error.evalue
