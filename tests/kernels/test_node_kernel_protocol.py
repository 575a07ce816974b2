"""The Node kernel over the real protocol (tcp and ipc): semantics, $$ API, comms, bad input."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from kernels._node_support import MAX_OUTPUT, iopub_for, node_kernel, run, wait_reply

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module", params=["tcp", "ipc"])
def kc(request: pytest.FixtureRequest) -> Iterator[BlockingKernelClient]:
    with node_kernel(request.param) as (_km, client):
        yield client


def send_shell(kc: BlockingKernelClient, msg_type: str, content: dict[str, Any]) -> str:
    msg = kc.session.msg(msg_type, content)
    kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


class TestBasics:
    def test_kernel_info(self, kc: BlockingKernelClient) -> None:
        reply = wait_reply(kc, kc.kernel_info())
        content = reply["content"]
        node_version = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert reply["header"]["version"] == "5.3"
        assert content["protocol_version"] == "5.3"
        assert content["implementation"] == "companion-node"
        assert content["language_info"]["name"] == "javascript"
        assert content["language_info"]["file_extension"] == ".js"
        assert content["language_info"]["mimetype"] == "application/javascript"
        assert "v" + content["language_info"]["version"] == node_version

    def test_streams_and_last_expression(self, kc: BlockingKernelClient) -> None:
        r = run(kc, 'console.log("out", 1); console.error("err"); 40 + 2')
        assert (r.status, r.stream("stdout"), r.stream("stderr"), r.result) == (
            "ok",
            "out 1\n",
            "err\n",
            "42",
        )
        assert run(kc, "undefined").of("execute_result") == []
        assert run(kc, "'text'").result == "'text'"

    def test_execution_count_silent_and_store_history(self, kc: BlockingKernelClient) -> None:
        first = run(kc, "1").reply["content"]["execution_count"]
        silent = run(kc, "console.log('hidden'); 2", silent=True)
        assert silent.outputs == []
        assert silent.reply["content"]["execution_count"] == first
        unstored = run(kc, "3", store_history=False)
        assert unstored.result == "3"
        assert unstored.reply["content"]["execution_count"] == first
        assert run(kc, "4").reply["content"]["execution_count"] == first + 1

    def test_user_expressions(self, kc: BlockingKernelClient) -> None:
        r = run(kc, "globalThis.ue = 5", user_expressions={"a": "ue * 2", "b": "nope_zz"})
        exprs = r.reply["content"]["user_expressions"]
        assert exprs["a"]["data"]["text/plain"] == "10"
        assert exprs["b"]["status"] == "error"
        assert exprs["b"]["ename"] == "ReferenceError"


class TestGlobalScope:
    def test_redeclaring_const_let_class_function(self, kc: BlockingKernelClient) -> None:
        cell = (
            "const rd = {n}; let rl = rd + 1; class RC {{ v() {{ return {n} }} }}\n"
            "function rf() {{ return 'f{n}' }}\n[rd, rl, new RC().v(), rf()]"
        )
        assert run(kc, cell.format(n=1)).result == "[ 1, 2, 1, 'f1' ]"
        again = run(kc, cell.format(n=2))
        assert again.status == "ok", again.of("error")
        assert again.result == "[ 2, 3, 2, 'f2' ]"
        assert run(kc, "[rd, rl, typeof RC, rf()]").result == "[ 2, 3, 'function', 'f2' ]"

    def test_top_level_await_keeps_declarations(self, kc: BlockingKernelClient) -> None:
        cell = (
            "const tv = await new Promise(r => setTimeout(() => r(3), 10));\n"
            "const { tw, tz = 4 } = { tw: 5 };\nfunction tf() { return tv + tw + tz }\n"
            "class TK {}\ntf()"
        )
        assert run(kc, cell).result == "12"
        assert run(kc, cell).result == "12"
        assert run(kc, "[tv, tw, tz, tf(), typeof TK]").result == "[ 3, 5, 4, 12, 'function' ]"
        assert run(kc, "for await (const i of [1, 2]) console.log(i)").stream() == "1\n2\n"

    def test_returned_promise_is_awaited(self, kc: BlockingKernelClient) -> None:
        assert run(kc, "Promise.resolve(7)").result == "7"
        assert run(kc, "new Promise(r => setTimeout(() => r('t'), 10))").result == "'t'"
        assert run(kc, "Promise.resolve(undefined)").of("execute_result") == []

    def test_imports_and_require(self, kc: BlockingKernelClient) -> None:
        r = run(kc, "import path from 'path'\nimport { sep } from 'node:path'\n[path.sep, sep]")
        assert r.result == "[ '/', '/' ]"
        assert run(kc, "(await import('node:os')).EOL").result == "'\\n'"
        assert run(kc, "require('fs').existsSync('/')").result == "true"


class TestDollarApi:
    def test_async_done_and_send_result(self, kc: BlockingKernelClient) -> None:
        r = run(kc, "$$.async(); setTimeout(() => $$.sendResult({ done: true }), 10)")
        assert (r.status, r.result) == ("ok", "{ done: true }")
        r = run(kc, "$$.async(); setTimeout(() => $$.done(), 10); 'ignored'")
        assert (r.status, r.of("execute_result")) == ("ok", [])
        assert run(kc, "$$.async(); setTimeout(() => $$.done('bye'), 10)").result == "'bye'"
        assert run(kc, "$$.sendResult(Promise.resolve(5))").result == "5"

    def test_send_error(self, kc: BlockingKernelClient) -> None:
        r = run(kc, "$$.async(); setTimeout(() => $$.sendError(new RangeError('bad')), 10)")
        assert r.status == "error"
        assert r.reply["content"]["ename"] == "RangeError"
        assert r.of("error")[0]["evalue"] == "bad"

    def test_mime_helpers(self, kc: BlockingKernelClient) -> None:
        expected = {
            "$$.html('<b>b</b>')": ("text/html", "<b>b</b>"),
            "$$.svg('<svg/>')": ("image/svg+xml", "<svg/>"),
            "$$.png('iVBO')": ("image/png", "iVBO"),
            "$$.jpeg('/9j/')": ("image/jpeg", "/9j/"),
            "$$.text('plain')": ("text/plain", "plain"),
            "$$.json({ a: [1] })": ("application/json", {"a": [1]}),
            "$$.mime({ 'text/markdown': '**m**' })": ("text/markdown", "**m**"),
        }
        for code, (mime, value) in expected.items():
            r = run(kc, code)
            assert r.of("execute_result")[0]["data"][mime] == value, code

    def test_display_and_update_and_clear(self, kc: BlockingKernelClient) -> None:
        r = run(
            kc, "const dd = $$.display('prog'); dd.text('0%'); dd.text('100%'); display(1, 'two')"
        )
        kinds = [(m["msg_type"], m["content"]["data"]["text/plain"]) for m in r.outputs]
        assert kinds == [
            ("display_data", "0%"),
            ("update_display_data", "100%"),
            ("display_data", "1"),
            ("display_data", "'two'"),
        ]
        assert r.outputs[1]["content"]["transient"] == {"display_id": "prog"}
        assert run(kc, "$$.clear({ wait: true })").of("clear_output") == [{"wait": True}]

    def test_rich_representation_hooks(self, kc: BlockingKernelClient) -> None:
        r = run(kc, "({ _toHtml() { return '<p>x</p>' }, toString() { return 'x' } })")
        data = r.of("execute_result")[0]["data"]
        assert data["text/html"] == "<p>x</p>"
        assert "text/plain" in data


class TestLateOutput:
    def test_timer_and_promise_output_after_the_cell_keeps_its_parent(
        self, kc: BlockingKernelClient
    ) -> None:
        msg_id = kc.execute(
            "setTimeout(() => console.log('late timer'), 150);\n"
            "new Promise(r => setTimeout(r, 100)).then(() => console.error('late promise'));\n"
            "'scheduled'"
        )
        assert wait_reply(kc, msg_id)["content"]["status"] == "ok"
        texts: list[str] = []

        def until(msg: dict[str, Any]) -> bool:
            if msg["msg_type"] == "stream":
                texts.append(msg["content"]["text"])
            return "late timer" in "".join(texts)

        seen = iopub_for(kc, msg_id, until)
        idle = [m for m in seen if m["content"].get("execution_state") == "idle"]
        assert idle and seen.index(idle[0]) < seen.index(seen[-1])
        assert "late promise\n" in texts


class TestBadInput:
    def test_syntax_error(self, kc: BlockingKernelClient) -> None:
        r = run(kc, "x = (")
        assert r.status == "error"
        assert r.reply["content"]["ename"] == "SyntaxError"
        assert run(kc, "1 + 1").result == "2"

    @pytest.mark.parametrize(
        ("code", "ename", "evalue"),
        [
            ("throw 42", "number", "42"),
            ("throw null", "object", "null"),
            ("throw { code: 7 }", "object", "{ code: 7 }"),
            ("throw 'text'", "string", "'text'"),
            ("await Promise.reject(new TypeError('t'))", "TypeError", "t"),
            ("throw { get message() { throw 1 } }", "Error", "{ message: [Getter] }"),
        ],
    )
    def test_thrown_values(
        self, kc: BlockingKernelClient, code: str, ename: str, evalue: str
    ) -> None:
        r = run(kc, code)
        assert r.status == "error"
        assert (r.reply["content"]["ename"], r.reply["content"]["evalue"]) == (ename, evalue)
        assert len(r.of("error")) == 1
        assert all(isinstance(line, str) for line in r.reply["content"]["traceback"])

    def test_unhandled_rejection_fails_the_cell(self, kc: BlockingKernelClient) -> None:
        r = run(kc, "Promise.reject(new Error('nobody caught me')); 1")
        assert r.status == "error"
        assert r.reply["content"]["evalue"] == "nobody caught me"
        assert r.of("execute_result") == []

    def test_background_errors_after_the_cell_go_to_stderr(self, kc: BlockingKernelClient) -> None:
        msg_id = kc.execute(
            "setTimeout(() => { throw new TypeError('late throw') }, 50);\n"
            "setTimeout(() => Promise.reject(new Error('late reject')), 80); 'ok'"
        )
        assert wait_reply(kc, msg_id)["content"]["status"] == "ok"
        errs: list[str] = []

        def until(msg: dict[str, Any]) -> bool:
            if msg["msg_type"] == "stream":
                errs.append(msg["content"]["text"])
            return "late reject" in "".join(errs)

        iopub_for(kc, msg_id, until)
        text = "".join(errs)
        assert "Uncaught exception: TypeError: late throw" in text
        assert "Unhandled promise rejection: Error: late reject" in text
        assert run(kc, "'alive'").result == "'alive'"

    def test_invalid_utf8_and_lone_surrogates(self, kc: BlockingKernelClient) -> None:
        r = run(
            kc,
            "process.stdout.write(Buffer.from([0x61, 0xff, 0x62, 0x0a]));\n"
            "process.stdout.write(Buffer.from([0xe2, 0x82]));\n"
            "process.stdout.write(Buffer.from([0xac, 0x0a]));\n"
            "console.log('\\ud800x'); '\\udfff'",
        )
        assert r.stream() == "a\ufffdb\n€\n\ufffdx\n"
        assert r.result == "'\\udfff'"

    def test_huge_output_is_capped(self, kc: BlockingKernelClient) -> None:
        r = run(kc, f"console.log('y'.repeat({MAX_OUTPUT + 50_000})); 'after'")
        assert r.stream("stdout") == "y" * MAX_OUTPUT
        assert "output limit reached" in r.stream("stderr")
        assert r.result == "'after'"
        many = run(kc, "for (let i = 0; i < 20000; i++) console.log(i)")
        assert many.stream().count("\n") == 20000
        assert len(many.of("stream")) <= 5, "a synchronous burst is coalesced"

    def test_stop_on_error_aborts_queued_cells(self, kc: BlockingKernelClient) -> None:
        first = kc.execute("await new Promise(r => setTimeout(r, 100)); throw new Error('first')")
        queued = [kc.execute("globalThis.abortedRan = true"), kc.execute("2")]
        assert wait_reply(kc, first)["content"]["status"] == "error"
        assert [wait_reply(kc, m)["content"]["status"] for m in queued] == ["aborted", "aborted"]
        assert run(kc, "typeof abortedRan").result == "'undefined'"


class TestIntrospection:
    def test_complete(self, kc: BlockingKernelClient) -> None:
        run(kc, "const myObj = { alpha: 1, alps: 2, beta: 3 }")
        reply = wait_reply(kc, kc.complete("myObj.al"))["content"]
        assert sorted(reply["matches"]) == ["alpha", "alps"]
        assert (reply["cursor_start"], reply["cursor_end"]) == (6, 8)
        code = "'é😀'; myO"
        reply = wait_reply(kc, kc.complete(code, cursor_pos=len(code)))["content"]
        assert reply["matches"] == ["myObj"]
        assert reply["cursor_start"] == len(code) - 3
        assert wait_reply(kc, kc.complete("1.to"))["content"]["matches"] == []

    def test_inspect(self, kc: BlockingKernelClient) -> None:
        run(kc, "function documented(a, b) { return a + b }")
        content = wait_reply(kc, kc.inspect("documented", detail_level=1))["content"]
        assert content["found"]
        assert "return a + b" in content["data"]["text/plain"]
        assert not wait_reply(kc, kc.inspect("nope_zzz.x"))["content"]["found"]

    @pytest.mark.parametrize(
        ("code", "status"),
        [
            ("const a = 1", "complete"),
            ("function f() {", "incomplete"),
            ("`open template", "incomplete"),
            ("1 +* 2", "invalid"),
            ("import fs from 'fs'", "complete"),
        ],
    )
    def test_is_complete(self, kc: BlockingKernelClient, code: str, status: str) -> None:
        assert wait_reply(kc, kc.is_complete(code))["content"]["status"] == status


class TestComms:
    def test_kernel_opened_comm_round_trip_while_the_cell_awaits(
        self, kc: BlockingKernelClient
    ) -> None:
        msg_id = kc.execute(
            "const calc = $$.comm.open('test.calc', { hello: 1 });\n"
            "const answer = new Promise(res => calc.onMsg((data, msg) => res(data)));\n"
            "calc.send({ op: 'add', a: 20, b: 22 });\n"
            "(await answer).sum"
        )
        seen = iopub_for(kc, msg_id, lambda m: m["msg_type"] == "comm_msg")
        opened = next(m["content"] for m in seen if m["msg_type"] == "comm_open")
        assert (opened["target_name"], opened["data"]) == ("test.calc", {"hello": 1})
        request = seen[-1]["content"]
        assert request["comm_id"] == opened["comm_id"]
        data = request["data"]
        send_shell(
            kc, "comm_msg", {"comm_id": opened["comm_id"], "data": {"sum": data["a"] + data["b"]}}
        )
        reply = wait_reply(kc, msg_id)
        assert reply["content"]["status"] == "ok"
        results = iopub_for(kc, msg_id, lambda m: m["msg_type"] == "execute_result")
        assert results[-1]["content"]["data"]["text/plain"] == "42"

    def test_host_opened_comm_to_registered_target(self, kc: BlockingKernelClient) -> None:
        run(
            kc,
            "$$.comm.registerTarget('test.echo', (comm, data) => {\n"
            "  comm.send({ opened: data });\n"
            "  comm.onMsg(d => comm.send({ echo: d }));\n"
            "  comm.onClose(() => console.log('closed'));\n"
            "})",
        )
        open_id = send_shell(
            kc, "comm_open", {"comm_id": "c-echo", "target_name": "test.echo", "data": {"x": 1}}
        )
        first = iopub_for(kc, open_id, lambda m: m["msg_type"] == "comm_msg")[-1]["content"]
        assert first == {"comm_id": "c-echo", "data": {"opened": {"x": 1}}}
        msg_id = send_shell(kc, "comm_msg", {"comm_id": "c-echo", "data": {"y": 2}})
        echoed = iopub_for(kc, msg_id, lambda m: m["msg_type"] == "comm_msg")[-1]["content"]
        assert echoed["data"] == {"echo": {"y": 2}}
        info = wait_reply(kc, kc.comm_info(target_name="test.echo"))["content"]
        assert info["comms"] == {"c-echo": {"target_name": "test.echo"}}
        close_id = send_shell(kc, "comm_close", {"comm_id": "c-echo", "data": {}})
        closed = iopub_for(kc, close_id, lambda m: m["msg_type"] == "stream")
        assert closed[-1]["content"]["text"] == "closed\n"
        assert "c-echo" not in wait_reply(kc, kc.comm_info())["content"]["comms"]

    def test_comm_open_to_unknown_target_is_closed(self, kc: BlockingKernelClient) -> None:
        msg_id = send_shell(kc, "comm_open", {"comm_id": "c-x", "target_name": "nope", "data": {}})
        closed = iopub_for(kc, msg_id, lambda m: m["msg_type"] == "comm_close")
        assert closed[-1]["content"]["comm_id"] == "c-x"


class TestStdin:
    def test_input_request(self, kc: BlockingKernelClient) -> None:
        msg_id = kc.execute("const who = await $$.input('Name? '); 'hi ' + who", allow_stdin=True)
        request = kc.get_stdin_msg(timeout=10)
        assert request["content"] == {"prompt": "Name? ", "password": False}
        kc.input("Bob")
        assert wait_reply(kc, msg_id)["content"]["status"] == "ok"
        assert run(kc, "who").result == "'Bob'"

    def test_input_without_stdin_is_an_error(self, kc: BlockingKernelClient) -> None:
        r = run(kc, "await $$.input('x')", allow_stdin=False)
        assert r.status == "error"
        assert "stdin" in r.reply["content"]["evalue"]
