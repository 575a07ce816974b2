"""Pure parts of the gateway client: websocket framing, configuration, placement."""

from __future__ import annotations

import contextlib
import json
from io import BytesIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_binary_message,
    serialize_msg_to_ws_v1,
)
from pydantic import ValidationError
from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse

from companion_kernel import EngineConfig, GatewayConfig
from companion_kernel.gateway import _wire
from companion_kernel.gateway.client import GatewayRequestError, Gateways, _server_message
from companion_kernel.gateway.handle import _reason


def _parts(msg_type: str = "stream", content: dict[str, object] | None = None) -> list[bytes]:
    header = {"msg_id": "m1", "msg_type": msg_type}
    values = [header, {"msg_id": "p1"}, {}, content or {"name": "stdout", "text": "hi"}]
    return [json.dumps(v).encode() for v in values]


class TestV1Frames:
    def test_decodes_what_jupyter_server_sends(self) -> None:
        frame = serialize_msg_to_ws_v1([*_parts(), b"buf"], "iopub")
        channel, msg = _wire.decode_v1(frame, None)
        assert channel == "iopub"
        assert msg["msg_type"] == "stream" and msg["parent_header"] == {"msg_id": "p1"}
        assert msg["content"]["text"] == "hi" and [bytes(b) for b in msg["buffers"]] == [b"buf"]

    def test_jupyter_server_reads_what_we_send(self) -> None:
        channel, parts = deserialize_msg_from_ws_v1(_wire.encode_v1("shell", _parts()))
        assert channel == "shell" and parts == _parts()

    def test_oversized_keeps_only_headers(self) -> None:
        frame = _wire.encode_v1("iopub", _parts(content={"text": "x" * 5000}))
        _, msg = _wire.decode_v1(frame, 1000)
        assert msg["oversized"] > 1000 and msg["content"] == {} and msg["msg_type"] == "stream"

    @given(st.binary(max_size=200))
    def test_junk_is_a_value_error(self, data: bytes) -> None:
        with contextlib.suppress(ValueError):
            _wire.decode_v1(data, 1000)

    def test_offsets_past_the_end(self) -> None:
        frame = bytearray(_wire.encode_v1("iopub", _parts()))
        frame[-9] ^= 0xFF
        with pytest.raises(ValueError):
            _wire.decode_v1(bytes(frame[:-10]), None)


class TestLegacyFrames:
    def test_round_trip_text(self) -> None:
        msg = {
            k: json.loads(p)
            for k, p in zip(
                ("header", "parent_header", "metadata", "content"), _parts(), strict=True
            )
        }
        channel, decoded = _wire.decode_legacy(_wire.encode_legacy("shell", msg), None)
        assert channel == "shell" and decoded["content"] == msg["content"]

    def test_binary_with_buffers(self) -> None:
        msg = {
            "header": {"msg_id": "m", "msg_type": "display_data"},
            "parent_header": {},
            "metadata": {},
            "content": {"data": {}},
            "channel": "iopub",
            "buffers": [b"ab"],
        }
        channel, decoded = _wire.decode_legacy(serialize_binary_message(msg), None)
        assert channel == "iopub" and [bytes(b) for b in decoded["buffers"]] == [b"ab"]

    @pytest.mark.parametrize("bad", ["[]", "{}", '{"header": {"msg_type": "x"}}', "nope"])
    def test_malformed(self, bad: str) -> None:
        with pytest.raises(ValueError):
            _wire.decode_legacy(bad, None)


class TestConfig:
    def test_url_alias_and_list(self) -> None:
        one = GatewayConfig(url="http://a:1/")
        two = GatewayConfig(url=["http://a:1", "https://b:2"])
        assert one.urls == ("http://a:1",) and len(two.urls) == 2
        assert EngineConfig(gateway="http://a:1").gateway == one

    @pytest.mark.parametrize("url", ["a:1", "ftp://a", [], "http://"])
    def test_bad_urls(self, url: object) -> None:
        with pytest.raises(ValidationError):
            GatewayConfig(url=url)

    def test_token_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("COMPANION_GATEWAY_TOKEN", "env-token")
        assert GatewayConfig(url="http://a:1").auth_token() == "env-token"
        assert GatewayConfig(url="http://a:1", token="given").auth_token() == "given"
        assert "given" not in repr(GatewayConfig(url="http://a:1", token="given"))

    def test_least_loaded_and_working_first(self) -> None:
        gateways = Gateways(GatewayConfig(url=["http://a:1", "http://b:1", "http://c:1"]))
        a, b, c = gateways.gateways
        a.kernels, b.kernels, c.kernels = 2, 1, 0
        gateways.mark_down(c, "refused")
        assert [g.url for g in gateways.order()] == ["http://b:1", "http://a:1", "http://c:1"]
        assert b.channels_url("k 1", "s").startswith("ws://b:1/api/kernels/k%201/channels?")


class TestErrorMessages:
    @staticmethod
    def _error(code: int, body: bytes) -> HTTPClientError:
        response = HTTPResponse(HTTPRequest("http://a:1/api/kernels"), code, buffer=BytesIO(body))
        return HTTPClientError(code, response=response)

    @pytest.mark.parametrize(
        ("body", "said"),
        [
            # Enterprise Gateway: the explanation in `reason`, `message` empty.
            (
                b'{"reason": "User \'root\' is not authorized", "message": ""}',
                "User 'root' is not authorized",
            ),
            # Jupyter Server / Kernel Gateway: `message` when there is one.
            (
                b'{"reason": "Not Found", "message": "Kernel does not exist: k"}',
                "Kernel does not exist: k",
            ),
            (b"<html>oops</html>", None),
            (b"[1]", None),
            (b"", None),
        ],
    )
    def test_what_the_gateway_said(self, body: bytes, said: str | None) -> None:
        assert _server_message(self._error(403, body)) == said

    def test_a_refusal_is_not_blamed_on_the_token_unless_it_is_401(self) -> None:
        token = GatewayRequestError("u", 401, "POST u: HTTP 401", "Unauthorized")
        assert "refused the token" in _reason(token, 1.0)
        policy = GatewayRequestError("u", 403, "POST u: HTTP 403", "User 'root' is not authorized")
        said = _reason(policy, 1.0)
        assert "refused the token" not in said and "HTTP 403: User 'root' is not authorized" in said
