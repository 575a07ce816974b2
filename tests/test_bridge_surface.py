"""What kernel code can reach from the objects the bridge injects (validator off).

Each test walks, from inside a real kernel, every route an attacker has from `tools`
(and `ToolError`, tool functions, `$$`, display handles): attributes, `vars()`, `dir()`,
closures, globals, bound methods, `gc.get_referents`, `inspect.getclosurevars`. None may
lead to a comm, the kernel, the IPython shell or code that runs source.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from _support import python_engine_config

from companion_kernel import Engine, EngineConfig, PoolConfig
from companion_kernel.languages import get_language
from companion_kernel.tools import ToolRegistry, default_registry, tool

pytestmark = pytest.mark.kernel


def registry_with_kernel_tool() -> ToolRegistry:
    registry = default_registry()

    @tool(runs="kernel")
    def count_var(var: str) -> int:
        """Length of a list in the session's globals (runs inside the kernel)."""
        return len(globals()[var])

    registry.register(count_var)
    return registry


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    async with Engine(python_engine_config(), tools=registry_with_kernel_tool()) as e:
        yield e


# Breadth-first over gc.get_referents from the injected objects (after using them, so that
# caches and kernel tools are filled). Modules, module namespaces and classes from other
# modules are not entered: they are reachable from any cell anyway (`import`), and what
# matters is whether the *bridge's* private objects leak. Prints a JSON report.
WALK = r"""
def __walk():
    import gc, inspect, json, sys, types
    from comm.base_comm import BaseComm
    from ipykernel.kernelbase import Kernel
    from IPython.core.interactiveshell import InteractiveShell
    import zmq

    tools.add(1, 2); tools.list(); tools.count_var("data"); dir(tools)
    roots = [tools, ToolError, tools.add, tools.call, tools.list, tools.count_var,
             type(tools).__getattr__, type(tools).__dir__]
    roots += [inspect.getclosurevars(f) for f in roots if inspect.isfunction(f)]
    module_dicts = {id(m.__dict__) for m in list(sys.modules.values()) if m is not None}
    banned_types = (BaseComm, Kernel, InteractiveShell, zmq.Socket)
    user_ns = get_ipython().user_ns
    found, seen, todo = [], set(), list(roots)
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, banned_types) or (isinstance(obj, type) and issubclass(obj, BaseComm)):
            found.append(f"object {type(obj).__name__}")
            continue
        if obj is user_ns:
            found.append("the session namespace")
            continue
        if isinstance(obj, types.CodeType) and obj.co_filename == "<companion tools>":
            bad = {"exec", "eval", "compile", "Comm", "start_new_thread"} & set(obj.co_names)
            if bad:
                found.append(f"code {obj.co_name} using {sorted(bad)}")
        if isinstance(obj, types.ModuleType) or id(obj) in module_dicts:
            continue
        if isinstance(obj, type) and obj.__module__ != "companion_tools":
            continue
        todo.extend(gc.get_referents(obj))
    return json.dumps({"found": found, "seen": len(seen)})

print(__walk())
del __walk
"""


async def test_private_routes_are_gone(engine: Engine) -> None:
    probes = {
        "tools._comm": "AttributeError",
        "tools._local": "AttributeError",
        "tools._run_local": "AttributeError",
        "tools._request": "AttributeError",
        "tools.__dict__": "AttributeError",
        "vars(tools)": "TypeError",
        "tools.shell": "AttributeError",  # a tool lookup: no such tool
    }
    async with engine.session() as s:
        results = {code: await s.execute(code) for code in probes}
        names = await s.execute("sorted(dir(tools))")
        listed = await s.execute("sorted(t['name'] for t in tools.list())")
    for code, ename in probes.items():
        r = results[code]
        assert r.status == "error" and r.error.ename == ename, (code, r.error)
    assert eval(names.text) == sorted([*eval(listed.text), "call", "list"])


async def test_nothing_private_is_reachable_from_injected_objects(engine: Engine) -> None:
    async with engine.session() as s:
        await s.execute("data = [1, 2, 3]")
        r = await s.execute(WALK)
    assert r.status == "ok", r.error
    report = json.loads(r.stdout)
    assert report["found"] == []
    assert report["seen"] > 20  # the walk really went through closures and classes


async def test_host_runs_kernel_tools_without_the_sessions_objects(engine: Engine) -> None:
    # A cell that rebinds `tools` must neither break nor steer what the host runs in the
    # kernel: the host writes that cell itself and calls nothing the session defined.
    fake = (
        "class Fake:\n"
        "    def __getattr__(self, name):\n"
        "        return lambda *a, **k: '\"forged\"'\n"
        "real_tools, tools = tools, Fake()\n"
    )
    async with engine.session() as s:
        await s.execute("data = [1, 2, 3]")
        await s.execute(fake)
        host = await engine.call_tool("count_var", {"var": "data"}, session=s)
        leftovers = await s.execute("sorted(k for k in globals() if 'companion' in k)")
        direct = await s.execute("real_tools.count_var('data')")
    assert host.ok and host.value == 3, host
    assert leftovers.text == "[]"
    assert direct.text == "3"


NODE = get_language("javascript").check()

# Walks own properties (values and accessor functions, never calling getters) and
# prototypes from the injected objects; JavaScript closures are not reachable at all.
JS_WALK = r"""
(() => {
  const shared = new Set([Object.prototype, Function.prototype, Array.prototype,
    Promise.prototype, Error.prototype, Map.prototype, Set.prototype, globalThis]);
  const handle = $$.display('walk');
  const roots = [$$, tools, display, handle, $$.comm, ToolError, ...$$.comm.list()];
  const found = [];
  const seen = new Set();
  const todo = [...roots];
  const names = new Set(['Kernel', 'Executor', 'CommManager', 'Session', 'Socket', 'Worker']);
  while (todo.length) {
    const obj = todo.pop();
    if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) continue;
    if (seen.has(obj) || shared.has(obj)) continue;
    seen.add(obj);
    const ctor = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(obj) || {}, 'constructor');
    const cname = ctor && typeof ctor.value === 'function' ? ctor.value.name : '';
    if (names.has(cname)) { found.push(cname); continue; }
    for (const key of Reflect.ownKeys(obj)) {
      if (key === 'iopubOut' || key === 'session' || key === 'executor') found.push(String(key));
      const d = Object.getOwnPropertyDescriptor(obj, key);
      if (!d) continue;
      todo.push(d.value, d.get, d.set);
    }
    todo.push(Object.getPrototypeOf(obj));
  }
  return JSON.stringify({ found, seen: seen.size,
    listed: $$.comm.list().map((c) => c.target), keys: Object.keys(handle) });
})()
"""


@pytest.mark.skipif(NODE is not None, reason=f"Node kernel unavailable: {NODE}")
async def test_node_injected_objects_reach_no_internals() -> None:
    cfg = EngineConfig(
        languages=("javascript",),
        pools={"javascript": PoolConfig(min_idle=1)},
        isolation="off",
        policy="off",
    )
    async with Engine(cfg) as engine, engine.session("javascript") as s:
        mine = await s.execute("globalThis.mine = $$.comm.open('user.target', {}); 1")
        r = await s.execute(JS_WALK)
        works = await s.execute("await tools.add(1, 2)")
    assert mine.status == "ok", mine.error
    assert r.status == "ok", r.error
    report = json.loads(eval(r.text))
    assert report["found"] == []
    assert report["listed"] == ["user.target"]  # the bridge's comm is not handed out
    assert not any(k.startswith("_") for k in report["keys"])
    assert report["seen"] > 20
    assert works.text == "3"
