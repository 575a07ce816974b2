"""Kernel messages over a gateway's channels websocket: pure encoding and decoding.

Two framings exist. The `v1.kernel.websocket.jupyter.org` subprotocol sends binary frames:
an 8-byte little-endian count N, N little-endian 8-byte offsets, then the channel name and
the message parts (header, parent header, metadata, content, buffers...) at those offsets;
the server signs what it forwards to the kernel, so the client sends no signature. Without
the subprotocol the server speaks the legacy framing: one JSON text frame per message with
a `channel` key (or, for messages with buffers, a big-endian offset table and JSON).

Decoded messages have the shape `LocalKernel` returns (see `_kernel.decode_message`):
an oversized message keeps only its headers and says `oversized`.
"""

from __future__ import annotations

import itertools
import json
import struct
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session

from .._kernel import decode_message

__all__ = ["SUBPROTOCOL", "decode_legacy", "decode_v1", "encode_legacy", "encode_v1"]

SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
CHANNELS = ("shell", "iopub", "control", "stdin")

_DELIM = b"<IDS|MSG>"
_MAX_PARTS = 4096
# Over the websocket nothing is signed by the kernel's key: decode without verifying. (An
# empty key would log an "insecure" warning per Session; the gateway signs for the kernel.)
_UNSIGNED = Session(key=b"unused")
_UNSIGNED.auth = None


def encode_v1(channel: str, parts: list[bytes]) -> bytes:
    """One v1 binary frame from a channel name and packed message parts."""
    name = channel.encode()
    offsets = [8 * (len(parts) + 3)]
    for chunk in (name, *parts):
        offsets.append(offsets[-1] + len(chunk))
    table = struct.pack(f"<{len(offsets) + 1}Q", len(offsets), *offsets)
    return b"".join((table, name, *parts))


def decode_v1(data: bytes, max_bytes: int | None) -> tuple[str, dict[str, Any]]:
    """(channel, message) from one v1 binary frame; `ValueError` when it is malformed."""
    view = memoryview(data)
    size = len(view)
    if size < 8:
        raise ValueError("malformed websocket frame: shorter than its offset count")
    (count,) = struct.unpack_from("<Q", view, 0)
    if not 2 <= count <= _MAX_PARTS or 8 * (count + 1) > size:
        raise ValueError(f"malformed websocket frame: {count} offsets in {size} bytes")
    offsets = struct.unpack_from(f"<{count}Q", view, 8)
    if offsets[0] < 8 * (count + 1) or any(b < a for a, b in itertools.pairwise(offsets)):
        raise ValueError("malformed websocket frame: offsets out of order")
    if offsets[-1] > size:
        raise ValueError("malformed websocket frame: offsets past its end")
    chunks = [view[a:b] for a, b in itertools.pairwise(offsets)]
    channel = _channel(bytes(chunks[0]))
    return channel, decode_message(_UNSIGNED, [_DELIM, b"", *chunks[1:]], max_bytes)


def encode_legacy(channel: str, msg: dict[str, Any]) -> str:
    """One legacy JSON text frame."""
    return json.dumps({**msg, "channel": channel, "buffers": []}, default=json_default)


def decode_legacy(data: str | bytes, max_bytes: int | None) -> tuple[str, dict[str, Any]]:
    """(channel, message) from one legacy frame (JSON text, or binary with buffers)."""
    buffers: list[memoryview] = []
    if isinstance(data, bytes):
        view = memoryview(data)
        if len(view) < 4:
            raise ValueError("malformed websocket frame: shorter than its buffer count")
        (count,) = struct.unpack_from("!I", view, 0)
        if not 1 <= count <= _MAX_PARTS or 4 * (count + 1) > len(view):
            raise ValueError(f"malformed websocket frame: {count} buffers in {len(view)} bytes")
        offsets = [*struct.unpack_from(f"!{count}I", view, 4), len(view)]
        if any(b < a for a, b in itertools.pairwise(offsets)) or offsets[0] < 4 * (count + 1):
            raise ValueError("malformed websocket frame: offsets out of order")
        text: str | bytes = bytes(view[offsets[0] : offsets[1]])
        buffers = [view[a:b] for a, b in itertools.pairwise(offsets[1:])]
    else:
        text = data
    try:
        body = json.loads(text)
    except RecursionError:
        raise ValueError("malformed websocket frame: nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"malformed websocket frame: not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ValueError("malformed websocket frame: not a JSON object")
    header, parent = body.get("header"), body.get("parent_header") or {}
    if not isinstance(header, dict) or not isinstance(header.get("msg_type"), str):
        raise ValueError("malformed message: the header has no msg_type")
    if not isinstance(parent, dict):
        raise ValueError("malformed message: its parent header is not an object")
    msg: dict[str, Any] = {
        "header": header,
        "msg_id": header.get("msg_id"),
        "msg_type": header["msg_type"],
        "parent_header": parent,
        "metadata": {},
        "content": {},
        "buffers": [],
    }
    size = len(data)
    if max_bytes is not None and size > max_bytes:
        msg["oversized"] = size
    else:
        metadata, content = body.get("metadata") or {}, body.get("content") or {}
        if isinstance(metadata, dict) and isinstance(content, dict):
            msg["metadata"], msg["content"], msg["buffers"] = metadata, content, buffers
        else:
            msg["malformed"] = "malformed message: its content is not an object"
    return _channel(body.get("channel")), msg


def _channel(raw: Any) -> str:
    name = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if name not in CHANNELS:
        raise ValueError(f"malformed websocket frame: unknown channel {name!r}")
    return name
