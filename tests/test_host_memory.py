"""What a kernel sends cannot grow the host's memory past the execution's output cap.

Real Python kernels forge what a hostile cell could: huge display metadata, huge error
messages, and signed messages whose JSON nests absurdly deep.
"""

from __future__ import annotations

import pytest
from _support import peak_rss

from companion_kernel import Engine

pytestmark = pytest.mark.kernel

MIB = 1024 * 1024

# Sends frames as the kernel's own session would, signed, to this cell's parent.
FORGE = """
_k = get_ipython().kernel
def forge(msg_type, content=None, raw_content=None):
    s = _k.session
    frames = s.serialize(s.msg(msg_type, content or {}, parent=_k.get_parent("shell")))
    if raw_content is not None:
        frames[-1] = raw_content
        frames[1] = s.sign(frames[2:6])
    _k.iopub_socket.send_multipart(frames)
"""




async def test_800_mib_of_display_metadata_leaves_host_memory_bounded(engine: Engine) -> None:
    code = (
        "from IPython.display import publish_display_data\n"
        "chunk = 'm' * (20 * 2**20)\n"
        "for i in range(40):\n"
        "    publish_display_data({'text/plain': str(i)}, metadata={'m': chunk})\n"
        "del chunk\n"
    )
    async with engine.session("python") as session:
        await session.execute("1")
        with peak_rss() as memory:
            result = await session.execute(code, timeout=120)
        assert (await session.execute("i")).text == "39"
    assert result.status == "ok", result.error
    assert result.truncated
    assert memory["peak"] - memory["base"] < 150 * MIB, memory


async def test_metadata_under_the_message_cap_still_counts(engine: Engine) -> None:
    # 2 MiB messages are decoded (under the raw message cap), so the collector's own
    # accounting has to stop them.
    code = (
        "from IPython.display import publish_display_data\n"
        "chunk = 'm' * (2 * 2**20)\n"
        "for i in range(100):\n"
        "    publish_display_data({'text/plain': str(i)}, metadata={'m': chunk})\n"
    )
    async with engine.session("python") as session:
        with peak_rss() as memory:
            result = await session.execute(code, timeout=120)
    assert result.status == "ok", result.error
    assert result.truncated
    kept = sum(len(o.metadata.get("m", "")) for o in result.outputs if hasattr(o, "metadata"))
    assert kept <= engine.config.max_output_bytes
    assert memory["peak"] - memory["base"] < 150 * MIB, memory


async def test_forged_huge_errors_are_clipped(engine: Engine) -> None:
    code = FORGE + (
        "value = 'v' * (4 * 2**20)\n"
        "for i in range(100):\n"
        "    forge('error', {'ename': f'Forged{i}', 'evalue': value, 'traceback': [value]})\n"
    )
    async with engine.session("python") as session:
        with peak_rss() as memory:
            result = await session.execute(code, timeout=120)
        assert (await session.execute("6 * 7")).text == "42"
    assert result.status == "error"
    assert result.truncated
    assert result.error is not None and result.error.ename == "Forged99"
    assert len(result.error.evalue) + len(result.error.traceback_text) < 10_000
    assert sum(o.output_type == "error" for o in result.outputs) <= 2
    assert memory["peak"] - memory["base"] < 150 * MIB, memory


async def test_deeply_nested_json_gives_an_error_result(engine: Engine) -> None:
    code = FORGE + "forge('display_data', raw_content=b'[' * 200_000 + b']' * 200_000)\n"
    async with engine.session("python") as session:
        result = await session.execute(code, timeout=60)
        assert result.status == "error"
        assert result.error is not None and result.error.ename == "MalformedMessage"
        assert "nested too deeply" in result.error.evalue
        assert (await session.execute("6 * 7")).text == "42"
