"""Pure translation of iopub messages into outputs (no kernel)."""

from __future__ import annotations

import pytest

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


class TestEveryByteCounts:
    def test_display_metadata_counts_toward_the_cap(self) -> None:
        c = OutputCollector(4096)
        for _ in range(10):
            c.feed(msg("display_data", data={"text/plain": "x"}, metadata={"m": "#" * 1000}))
        r = build(c)
        assert r.truncated
        kept = [o for o in r.outputs if isinstance(o, DisplayDataOutput)]
        assert 1 <= len(kept) < 4
        assert c.dropped_bytes >= 6 * 1000

    def test_execute_result_metadata_counts(self) -> None:
        c = OutputCollector(1024)
        c.feed(msg("execute_result", data={"text/plain": "1"}, metadata={"m": ["y" * 600] * 3}))
        r = build(c)
        assert r.truncated and r.result is None

    def test_update_display_growth_counts(self) -> None:
        c = OutputCollector(2048)
        c.feed(msg("display_data", data={"text/plain": "0"}, transient={"display_id": "d"}))
        c.feed(
            msg(
                "update_display_data",
                data={"text/plain": "1"},
                metadata={"big": "z" * 5000},
                transient={"display_id": "d"},
            )
        )
        r = build(c)
        assert r.truncated
        assert r.outputs[0].metadata == {}

    def test_huge_error_is_kept_clipped(self) -> None:
        c = OutputCollector(1024)
        c.feed(msg("error", ename="E" * 10_000, evalue="v" * 10**6, traceback=["t" * 10**5] * 500))
        r = build(c)
        assert r.truncated
        assert r.error is not None and r.error.ename.startswith("EEE")
        size = len(r.error.ename) + len(r.error.evalue) + sum(map(len, r.error.traceback))
        assert size < 30_000
        assert c.dropped_bytes > 10**6

    def test_forged_errors_past_the_cap_keep_only_the_last(self) -> None:
        c = OutputCollector(1024)
        c.feed(msg("stream", name="stdout", text="s" * 2000))
        for i in range(1000):
            c.feed(msg("error", ename=f"E{i}", evalue="v" * 5000, traceback=[]))
        r = build(c)
        errors = [o for o in r.outputs if o.output_type == "error"]
        assert len(errors) == 1 and errors[0].ename == "E999"
        assert r.error is not None and r.error.ename == "E999"

    def test_small_errors_are_kept_whole_and_counted(self) -> None:
        c = OutputCollector(1024)
        c.feed(msg("error", ename="ValueError", evalue="v" * 900, traceback=[]))
        c.feed(msg("stream", name="stdout", text="o" * 500))
        r = build(c)
        assert r.error is not None and len(r.error.evalue) == 900
        assert r.truncated and r.stdout.count("o") < 200

    def test_oversized_message_marks_truncated(self) -> None:
        c = OutputCollector(10_000)
        c.feed({**msg("display_data"), "oversized": 50_000_000})
        r = build(c)
        assert r.truncated and "output truncated" in r.stderr
        assert c.dropped_bytes == 50_000_000


class TestMalformed:
    def test_undecodable_content_becomes_an_error(self) -> None:
        c = OutputCollector(10_000)
        c.feed({**msg("display_data"), "malformed": "its content is nested too deeply"})
        r = c.build(status="error", language="python", duration_s=0.0)
        assert r.error is not None and r.error.ename == "MalformedMessage"
        assert "nested too deeply" in r.error.evalue

    def test_wrong_shapes_become_errors_not_exceptions(self) -> None:
        bad = [
            {"header": {"msg_type": "stream"}, "content": {"name": "stdout", "text": ["x"]}},
            {"header": {"msg_type": "display_data"}, "content": {"data": ["not", "a", "dict"]}},
            {"header": {"msg_type": "display_data"}, "content": {"data": {}, "transient": 3}},
            {"header": {"msg_type": "error"}, "content": {"ename": {}, "evalue": "x"}},
            {"header": {"msg_type": "error"}, "content": {"ename": "E", "traceback": "tb"}},
            {"header": {"msg_type": "execute_result"}, "content": {"execution_count": "abc"}},
            {"header": "not a dict", "content": {}},
            {"header": {"msg_type": "stream"}, "content": "not a dict"},
        ]
        for m in bad:
            c = OutputCollector(10_000)
            c.feed(m)
            r = c.build(status="error", language="python", duration_s=0.0)
            assert r.error is not None and r.error.ename == "MalformedMessage", m

    def test_json_nested_past_the_depth_limit_is_refused(self) -> None:
        from companion_kernel._messages import MAX_JSON_DEPTH

        deep: object = "leaf"
        for _ in range(MAX_JSON_DEPTH + 50):
            deep = {"k": deep}
        c = OutputCollector(10**6)
        c.feed(msg("display_data", data={"application/json": deep}, metadata={}))
        r = build(c)
        assert r.error is not None and r.error.ename == "MalformedMessage"
        assert not any(isinstance(o, DisplayDataOutput) for o in r.outputs)

    def test_forged_reply_count_is_ignored(self) -> None:
        c = OutputCollector(10_000)
        c.feed(msg("execute_input", execution_count=4))
        r = c.build(status="ok", language="python", duration_s=0.0, execution_count="x")  # type: ignore[arg-type]
        assert r.execution_count == 4


@pytest.mark.timeout(60)
def test_stream_accumulation_is_linear() -> None:
    # 10 MB in 50-byte chunks: copying the growing text per chunk would take hours.
    c = OutputCollector(100 * 1024 * 1024)
    chunk = "#" * 49 + "\n"
    for _ in range(200_000):
        c.feed(msg("stream", name="stdout", text=chunk))
    r = build(c)
    assert len(r.stdout) == 200_000 * 50
    assert [o.output_type for o in r.outputs] == ["stream"]


class TestDecodeLimits:
    def _session(self):
        from jupyter_client.session import Session

        return Session(key=b"secret")

    def test_oversized_message_keeps_only_its_headers(self) -> None:
        from companion_kernel._kernel import decode_message

        session = self._session()
        parent = session.msg("execute_request", {})
        m = session.msg("display_data", {"data": {"text/plain": "x" * 10_000}}, parent=parent)
        decoded = decode_message(session, session.serialize(m), max_bytes=5_000)
        assert decoded["oversized"] > 10_000
        assert decoded["content"] == {}
        assert decoded["parent_header"]["msg_id"] == parent["header"]["msg_id"]

    def test_deeply_nested_signed_content_is_flagged_not_raised(self) -> None:
        from companion_kernel._kernel import decode_message

        session = self._session()
        frames = session.serialize(session.msg("display_data", {}))
        frames[-1] = b"[" * 200_000 + b"]" * 200_000
        frames[1] = session.sign(frames[2:6])
        decoded = decode_message(session, frames)
        assert "nested too deeply" in decoded["malformed"]
        assert decoded["content"] == {}

    def test_unreadable_header_is_a_value_error(self) -> None:
        from companion_kernel._kernel import decode_message

        session = self._session()
        frames = session.serialize(session.msg("stream", {}))
        frames[2] = b"[1, 2]"
        frames[1] = session.sign(frames[2:6])
        with pytest.raises(ValueError, match="header"):
            decode_message(session, frames)
        frames[2] = b"[" * 200_000
        frames[1] = session.sign(frames[2:6])
        with pytest.raises(ValueError, match="header"):
            decode_message(session, frames)
