"""Our Node.js and shell kernels under the sandbox: they start under their limits, contained."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import sys

import pytest
from sandbox._sandbox_support import KERNEL_UID, PROJECT_ROOT, last_json, requires_bwrap

from companion_kernel.sandbox import Limits, SandboxConfig
from companion_kernel.sandbox._probe import probe_kernel, run_code
from companion_kernel.sandbox.limits import MIB

KERNELS = PROJECT_ROOT / "companion_kernel" / "kernels"
NODE_DIR = KERNELS / "node"
BASH_LAUNCHER = KERNELS / "bash_launcher.py"
_missing = [
    p for p in (NODE_DIR / "kernel.js", NODE_DIR / "node_modules" / "zeromq") if not p.exists()
]

pytestmark = [pytest.mark.kernel, requires_bwrap]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.skipif(bool(_missing), reason=f"Node kernel not built yet: missing {_missing}")
async def test_node_kernel_runs_sandboxed_under_its_limits() -> None:
    node = shutil.which("node")
    assert node is not None
    argv = [node, str(NODE_DIR / "kernel.js"), "{connection_file}"]
    config = SandboxConfig(limits=Limits(node_heap_mb=256), ro_binds=(str(NODE_DIR),))
    with socket.create_server(("127.0.0.1", 0)) as canary:
        canary.setblocking(False)
        port = canary.getsockname()[1]
        async with probe_kernel(config, argv=argv, language="javascript") as (km, kc):
            info = await kc.kernel_info(reply=True, timeout=10)
            assert info["content"]["status"] == "ok"
            code = f"""
const fs = require("fs"), net = require("net"), v8 = require("v8");
const out = {{
  heap: v8.getHeapStatistics().heap_size_limit,
  project: fs.existsSync({str(PROJECT_ROOT / "pyproject.toml")!r}),
  cwd: process.cwd(),
  uid: process.getuid(),
}};
await new Promise((resolve) => {{
  const s = net.connect({port}, "127.0.0.1");
  s.on("connect", () => {{ out.connect = "connected"; s.destroy(); resolve(); }});
  s.on("error", (e) => {{ out.connect = e.code; resolve(); }});
}});
console.log(JSON.stringify(out));
"""
            text, reply = await run_code(kc, code)
            assert reply["status"] == "ok", text
            got = last_json(text)
            prov = km.provisioner
            assert prov is not None
            enforcement = prov.enforcement  # type: ignore[attr-defined]
        with pytest.raises(BlockingIOError):
            canary.accept()
    assert got["connect"] == "ECONNREFUSED"
    assert got["project"] is False
    assert (got["cwd"], got["uid"]) == ("/workspace", KERNEL_UID)
    assert 256 <= got["heap"] // MIB <= 256 + 64  # V8 adds young-generation space
    assert enforcement["node_heap"] == "--max-old-space-size"


@pytest.mark.skipif(not BASH_LAUNCHER.exists(), reason="the shell kernel launcher is not there yet")
@pytest.mark.skipif(importlib.util.find_spec("bash_kernel") is None, reason="needs bash_kernel")
async def test_shell_kernel_runs_sandboxed_with_only_its_launcher_bound() -> None:
    argv = [sys.executable, str(BASH_LAUNCHER), "-f", "{connection_file}"]
    config = SandboxConfig(ro_binds=(str(BASH_LAUNCHER),))
    async with probe_kernel(config, argv=argv, language="bash") as (_, kc):
        text, reply = await run_code(
            kc, f"id -u; pwd; ls {PROJECT_ROOT}/companion_kernel/kernels; ulimit -n"
        )
    assert reply["status"] == "ok", text
    assert text.split() == [str(KERNEL_UID), "/workspace", "bash_launcher.py", str(Limits().nofile)]
