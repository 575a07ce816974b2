"""Interrupts keep the global state; heartbeat and control answer while user code blocks;
shutdown and process.exit leave no process behind."""

from __future__ import annotations

import queue
import time
from typing import Any

import psutil
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import AsyncKernelManager, KernelManager
from kernels._node_support import SIGNAL_SPEC, SPEC, node_kernel, run, wait_reply

pytestmark = pytest.mark.kernel


def start_until_timeout(kc: BlockingKernelClient, code: str, timeout: float = 1.0) -> str:
    """Submit code and check it is still running after timeout; returns its msg_id."""
    msg_id = kc.execute(code)
    with pytest.raises(queue.Empty):
        wait_reply(kc, msg_id, timeout=timeout)
    return msg_id


def interrupt(km: KernelManager, kc: BlockingKernelClient, msg_id: str) -> dict[str, Any]:
    """Interrupt the kernel the way its spec says; returns the interrupted cell's reply."""
    km.interrupt_kernel()
    return wait_reply(kc, msg_id, timeout=10)["content"]


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
@pytest.mark.parametrize("kernel_name", [SPEC, SIGNAL_SPEC], ids=["message", "signal"])
def test_interrupting_a_busy_loop_keeps_state(transport: str, kernel_name: str) -> None:
    with node_kernel(transport, kernel_name) as (km, kc):
        assert run(kc, "x = 1").status == "ok"
        reply = interrupt(km, kc, start_until_timeout(kc, "while (true) {}"))
        assert (reply["status"], reply["ename"]) == ("error", "Interrupted")
        assert run(kc, "x").result == "1"


def test_interrupting_pending_async_work() -> None:
    with node_kernel("ipc") as (km, kc):
        run(kc, "const kept = 'state'; let ticks = 0")
        cells = [
            "$$.async()",  # never calls $$.done()
            "await new Promise(() => {})",
            "setInterval(() => ticks++, 5); await new Promise(r => setTimeout(r, 1e6))",
        ]
        for code in cells:
            reply = interrupt(km, kc, start_until_timeout(kc, code, timeout=0.5))
            assert (reply["status"], reply["ename"]) == ("error", "Interrupted"), code
        # The interrupted cell's interval was cleared: ticks no longer move.
        assert (
            run(
                kc, "const t0 = ticks; await new Promise(r => setTimeout(r, 100)); ticks - t0"
            ).result
            == "0"
        )
        assert run(kc, "kept").result == "'state'"


def test_interrupt_when_idle_stops_background_timers() -> None:
    with node_kernel("tcp") as (_km, kc):
        run(kc, "globalThis.bg = 0; setInterval(() => bg++, 5); 'started'")
        msg = kc.session.msg("interrupt_request", {})
        kc.control_channel.send(msg)
        assert kc.get_control_msg(timeout=10)["content"]["status"] == "ok"
        time.sleep(0.3)  # the interrupt is a signal: let the kernel's handler run first
        r = run(kc, "const b0 = bg; await new Promise(r => setTimeout(r, 100)); bg - b0")
        assert r.result == "0"


def test_heartbeat_and_control_answer_while_user_code_blocks() -> None:
    with node_kernel("tcp") as (km, kc):
        msg_id = start_until_timeout(kc, "x = 1; while (true) {}", timeout=0.5)
        info = kc.session.msg("kernel_info_request", {})
        kc.control_channel.send(info)
        assert kc.get_control_msg(timeout=10)["content"]["implementation"] == "companion-node"
        time.sleep(2.5)  # longer than the heartbeat's time to dead (1 s)
        assert kc.is_alive()
        assert interrupt(km, kc, msg_id)["ename"] == "Interrupted"


def test_shutdown_leaves_no_process() -> None:
    with node_kernel("ipc") as (km, kc):
        pid = km.provisioner.process.pid  # type: ignore[union-attr]
        assert run(kc, "1").result == "1"
        km.shutdown_kernel(now=False)
        assert not km.is_alive()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_process_exit_in_user_code_ends_the_kernel_cleanly() -> None:
    with node_kernel("tcp") as (km, kc):
        process = km.provisioner.process  # type: ignore[union-attr]
        kc.execute("process.exit(3)")
        assert process.wait(timeout=10) == 3


async def test_async_manager_round_trip_over_ipc(tmp_path_factory: pytest.TempPathFactory) -> None:
    km = AsyncKernelManager(kernel_name=SPEC, transport="ipc")
    km.ip = str(tmp_path_factory.mktemp("ipc") / "k")
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=30)
        outputs: list[dict[str, Any]] = []
        reply = await kc.execute_interactive(
            "const v = await new Promise(r => setTimeout(() => r(20), 10));\n"
            "console.log('v', v); v + 22",
            output_hook=outputs.append,
            timeout=15,
        )
        assert reply["content"]["status"] == "ok"
        kinds = {m["msg_type"]: m["content"] for m in outputs}
        assert kinds["stream"]["text"] == "v 20\n"
        assert kinds["execute_result"]["data"]["text/plain"] == "42"
    finally:
        kc.stop_channels()
        await km.shutdown_kernel()
