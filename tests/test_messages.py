"""Pure translation of iopub messages into outputs (no kernel)."""

from __future__ import annotations

from companion_kernel._messages import OutputCollector, strip_ansi
from companion_kernel.models import DisplayDataOutput, ExecuteResultOutput, StreamOutput


def msg(msg_type: str, **content: object) -> dict:
    return {"header": {"msg_type": msg_type}, "parent_header": {"msg_id": "p"}, "content": content}


def build(c: OutputCollector):
    return c.build(status="ok", language="python", duration_s=0.0)


class TestStreams:
    def test_consecutive_chunks_merge_per_stream(self) -> None:
        c = OutputCollector(10_000)
        for m in (
            msg("stream", name="stdout", text="a"),
            msg("stream", name="stdout", text="b"),
            msg("stream", name="stderr", text="E"),
            msg("stream", name="stdout", text="c"),
        ):
            c.feed(m)
        r = build(c)
        assert r.stdout == "abc"
        assert r.stderr == "E"
        assert [o.text for o in r.outputs] == ["ab", "E", "c"]

    def test_events_carry_each_chunk(self) -> None:
        seen: list[str] = []
        c = OutputCollector(10_000, lambda e: seen.append(e.output.text))
        c.feed(msg("stream", name="stdout", text="a"))
        c.feed(msg("stream", name="stdout", text="b"))
        assert seen == ["a", "b"]


class TestDisplays:
    def test_execute_result_sets_result_and_count(self) -> None:
        c = OutputCollector(10_000)
        c.feed(msg("execute_input", code="1+1", execution_count=3))
        c.feed(msg("execute_result", data={"text/plain": "2"}, metadata={}, execution_count=3))
        r = build(c)
        assert isinstance(r.result, ExecuteResultOutput)
        assert r.text == "2"
        assert r.execution_count == 3

    def test_update_display_data_replaces_in_place(self) -> None:
        c = OutputCollector(10_000)
        c.feed(msg("display_data", data={"text/plain": "0%"}, transient={"display_id": "bar"}))
        c.feed(msg("stream", name="stdout", text="x"))
        c.feed(
            msg("update_display_data", data={"text/plain": "100%"}, transient={"display_id": "bar"})
        )
        r = build(c)
        assert len(r.outputs) == 2
        assert isinstance(r.outputs[0], DisplayDataOutput)
        assert r.outputs[0].data == {"text/plain": "100%"}

    def test_clear_output_wait_defers_until_next_output(self) -> None:
        c = OutputCollector(10_000)
        c.feed(msg("stream", name="stdout", text="old"))
        c.feed(msg("clear_output", wait=True))
        assert build(c).stdout == "old"
        c.feed(msg("stream", name="stdout", text="new"))
        assert build(c).stdout == "new"

    def test_clear_output_now(self) -> None:
        c = OutputCollector(10_000)
        c.feed(msg("stream", name="stdout", text="old"))
        c.feed(msg("clear_output", wait=False))
        assert build(c).outputs == []

    def test_to_nbformat_roundtrip_validates(self) -> None:
        import nbformat

        c = OutputCollector(10_000)
        c.feed(msg("stream", name="stdout", text="hi\n"))
        c.feed(msg("display_data", data={"text/html": "<b>x</b>"}, metadata={}))
        c.feed(msg("execute_result", data={"text/plain": "1"}, metadata={}, execution_count=1))
        c.feed(msg("error", ename="E", evalue="v", traceback=["\x1b[31mred\x1b[0m"]))
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("x", outputs=build(c).to_nbformat(), execution_count=1)
        nb.cells.append(cell)
        nbformat.validate(nb)
        assert cell.outputs[-1].traceback == ["red"]


class TestCaps:
    def test_stream_past_cap_is_cut_with_marker(self) -> None:
        c = OutputCollector(1024)
        for _ in range(100):
            c.feed(msg("stream", name="stdout", text="#" * 100))
        r = build(c)
        assert r.truncated
        assert "output truncated" in r.stdout
        assert r.stdout.count("#") == 1024
        assert c.dropped_bytes == 100 * 100 - 1024

    def test_memory_stays_bounded_after_cap(self) -> None:
        c = OutputCollector(2048)
        for _ in range(10_000):
            c.feed(msg("stream", name="stdout", text="y" * 1000))
        assert sum(len(o.text) for o in c.outputs if isinstance(o, StreamOutput)) < 4096

    def test_large_display_dropped(self) -> None:
        c = OutputCollector(1024)
        c.feed(msg("display_data", data={"image/png": "A" * 5000}, metadata={}))
        r = build(c)
        assert r.truncated
        assert not any(isinstance(o, DisplayDataOutput) for o in r.outputs)

    def test_errors_kept_past_cap(self) -> None:
        c = OutputCollector(1024)
        c.feed(msg("stream", name="stdout", text="z" * 5000))
        c.feed(msg("error", ename="ValueError", evalue="bad", traceback=[]))
        r = build(c)
        assert r.error is not None and r.error.ename == "ValueError"


def test_strip_ansi() -> None:
    assert strip_ansi("\x1b[0;31mZeroDivisionError\x1b[0m: x") == "ZeroDivisionError: x"


class TestDecode:
    def test_signed_message_roundtrip_and_tampering(self) -> None:
        import pytest
        from jupyter_client.session import Session

        from companion_kernel._kernel import decode_message

        session = Session(key=b"secret")
        msg = session.msg("stream", {"name": "stdout", "text": "hi"})
        frames = session.serialize(msg)
        decoded = decode_message(session, frames)
        assert decoded["content"] == {"name": "stdout", "text": "hi"}
        assert decoded["header"]["msg_type"] == "stream"
        assert decoded["parent_header"] == {}
        tampered = [*frames]
        tampered[-1] = b'{"name": "stdout", "text": "evil"}'
        with pytest.raises(ValueError, match="signature"):
            decode_message(session, tampered)
        with pytest.raises(ValueError, match="malformed"):
            decode_message(session, frames[:3])
