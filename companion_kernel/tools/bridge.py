"""The tool bridge: host tools callable from kernel code over one Jupyter comm.

Protocol (JSON only, never pickle), comm target `companion.tools`, version 1:

```
kernel -> host   comm_open  data {"v": 1, "language": "python"|"javascript"}
kernel -> host   comm_msg   data {"v": 1, "id": ID, "type": "call", "tool": NAME,
                                  "args": [...], "kwargs": {...}}
                            data {"v": 1, "id": ID, "type": "list"}
                            data {"v": 1, "id": ID, "type": "describe", "tool": NAME}
host -> kernel   comm_msg   data {"v": 1, "id": ID, "ok": true,  "value": ...}
                            data {"v": 1, "id": ID, "ok": false,
                                  "error": {"type": ..., "message": ..., "details": ...}}
```

The host validates arguments with the tool's schema, applies the session's `ToolAccess`
(allow-list, rate limit, concurrency, timeout) and the tool's cache, and answers every
request that carries an id exactly once. Python cells block while they wait, so replies go
to a kernel *subshell* (ipykernel 7) that runs beside the busy main shell; JavaScript cells
`await` their calls, so the Node kernel reads replies on its shell channel directly.
"""

from __future__ import annotations

import ast
import asyncio
import collections
import json
import logging
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import cachetools
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python

from companion_kernel.errors import ToolError, ToolExecutionError

if TYPE_CHECKING:
    from companion_kernel._kernel import KernelHandle
    from companion_kernel.session import Session
    from companion_kernel.tools.registry import ToolRegistry
    from companion_kernel.tools.results import ToolResult

log = logging.getLogger(__name__)

__all__ = ["PROTOCOL_VERSION", "TARGET_NAME", "ToolAccess", "ToolBridge"]

PROTOCOL_VERSION = 1
TARGET_NAME = "companion.tools"


class ToolAccess(BaseModel):
    """Which host tools a session's kernel code may call, and how often."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allow: Literal["all", "none"] | tuple[str, ...] = "all"
    """`all`, `none`, or an allow-list of tool names."""
    max_calls_per_minute: int | None = Field(600, ge=1)
    """Rate limit per session (None: unlimited)."""
    max_concurrent: int = Field(16, ge=1)
    """Calls of one session running at once; more wait their turn."""
    call_timeout_s: float = Field(60.0, gt=0)
    """Upper bound of one call (a tool's own shorter timeout still applies)."""
    max_request_bytes: int = Field(1024 * 1024, ge=1024)
    """Largest JSON request accepted from kernel code."""

    def allowed_names(self, registry: ToolRegistry) -> set[str] | None:
        """None when everything is allowed, else the allowed names."""
        if self.allow == "all":
            return None
        if self.allow == "none":
            return set()
        return set(self.allow)


@dataclass
class _Link:
    """What the bridge knows about one kernel."""

    comm_id: str | None = None
    subshell_id: str | None = None


@dataclass
class _SessionState:
    access: ToolAccess
    calls: collections.deque[float] = field(default_factory=collections.deque)
    semaphore: asyncio.Semaphore | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class ToolBridge:
    """Installs the kernel side of the bridge and answers kernel requests for one engine."""

    def __init__(self, registry: ToolRegistry, default_access: ToolAccess | None = None) -> None:
        self.registry = registry
        self.default_access = default_access or ToolAccess()
        self._links: dict[str, _Link] = {}
        self._sessions: dict[str, _SessionState] = {}
        # Results of kernel tools called from the host, per session (kernel state differs).
        self._kernel_cache: cachetools.TTLCache[tuple[str, str, str], Any] = cachetools.TTLCache(
            maxsize=1024, ttl=300
        )

    # -- kernel set-up -------------------------------------------------------------------------

    async def prepare(self, kernel: KernelHandle) -> None:
        """Install the `tools` object in a fresh kernel (before any session sees it)."""
        from companion_kernel.session import run_setup_cell

        if kernel.language not in ("python", "javascript"):
            return
        link = _Link()
        if kernel.language == "python":
            reply = await kernel.control_request("create_subshell_request", {})
            content = (reply or {}).get("content", {})
            if content.get("status") != "ok":
                raise ToolError(f"the kernel could not create a tool subshell: {content}")
            link.subshell_id = content["subshell_id"]
            code = _python_bootstrap(self.default_access.call_timeout_s + 5)
        else:
            code = _javascript_bootstrap(self.default_access.call_timeout_s + 5)

        def on_comm(msg: dict[str, Any]) -> None:
            content = msg.get("content", {})
            opened = msg["header"]["msg_type"] == "comm_open"
            if opened and content.get("target_name") == TARGET_NAME:
                link.comm_id = content.get("comm_id")

        failed = await run_setup_cell(kernel, code, on_comm=on_comm)
        if failed or link.comm_id is None:
            detail = failed or "no comm was opened"
            raise ToolError(
                f"installing the tool bridge in the {kernel.language} kernel failed: {detail}"
            )
        self._links[kernel.id] = link

    def forget_kernel(self, kernel: KernelHandle) -> None:
        """Drop what the bridge knew about a kernel that is gone."""
        self._links.pop(kernel.id, None)

    # -- sessions ------------------------------------------------------------------------------

    def attach(self, session: Session, access: ToolAccess | None = None) -> None:
        """Route the session's comm messages to the bridge with these permissions."""
        self._sessions[session.id] = _SessionState(access or self.default_access)
        session.comm_handler = self._on_comm

    def detach(self, session: Session) -> None:
        """Stop answering for a session; in-flight calls are cancelled."""
        state = self._sessions.pop(session.id, None)
        if state is not None:
            for task in state.tasks:
                task.cancel()

    def access(self, session: Session) -> ToolAccess:
        """The permissions in force for a session."""
        state = self._sessions.get(session.id)
        return state.access if state else self.default_access

    def _on_comm(self, session: Session, msg: dict[str, Any]) -> None:
        kernel = session.kernel
        if kernel is None or msg["header"]["msg_type"] != "comm_msg":
            return
        link = self._links.get(kernel.id)
        content = msg.get("content", {})
        if link is None or content.get("comm_id") != link.comm_id:
            return
        state = self._sessions.get(session.id)
        if state is None:
            return
        data = content.get("data")
        request_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(request_id, str) or not request_id:
            log.warning("session %s sent a tool request without an id; ignored", session.label)
            return
        task = asyncio.ensure_future(self._answer(session, kernel, link, state, data))
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)

    async def _answer(
        self,
        session: Session,
        kernel: KernelHandle,
        link: _Link,
        state: _SessionState,
        data: dict[str, Any],
    ) -> None:
        try:
            reply = await self._handle(session, state, data)
        except Exception as exc:  # the kernel must always get an answer
            reply = _error("ToolError", f"internal error while handling the request: {exc}")
        reply["v"] = PROTOCOL_VERSION
        reply["id"] = data["id"]
        try:
            payload = json.loads(json.dumps(reply, default=str))
        except (TypeError, ValueError) as exc:
            payload = {"v": 1, "id": data["id"], **_error("ToolError", f"unencodable reply: {exc}")}
        if kernel.is_alive():
            kernel.send_shell(
                "comm_msg",
                {"comm_id": link.comm_id, "data": payload},
                subshell_id=link.subshell_id,
            )

    async def _handle(
        self, session: Session, state: _SessionState, data: dict[str, Any]
    ) -> dict[str, Any]:
        if data.get("v") != PROTOCOL_VERSION:
            return _error(
                "ToolError", f"unsupported protocol version {data.get('v')!r} (expected 1)"
            )
        size = len(json.dumps(data, default=str))
        if size > state.access.max_request_bytes:
            return _error(
                "ToolArgumentError",
                f"the request is {size:,} bytes, over the {state.access.max_request_bytes:,}-byte "
                "limit; pass smaller arguments",
            )
        allowed = state.access.allowed_names(self.registry)
        kind = data.get("type")
        if kind not in ("list", "describe", "call"):
            return _error("ToolError", f"unknown request type {kind!r}")
        if kind == "list":
            names = [n for n in self.registry.names() if allowed is None or n in allowed]
            return {"ok": True, "value": [_describe(self.registry.get(n)) for n in names]}
        name = data.get("tool")
        if not isinstance(name, str):
            return _error("ToolArgumentError", "the request has no tool name")
        if kind == "describe":
            if name not in self.registry or (allowed is not None and name not in allowed):
                return _error("ToolNotFound", f"no tool named {name!r} is available here")
            return {"ok": True, "value": _describe(self.registry.get(name))}
        args, kwargs = data.get("args", []), data.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            return _error("ToolArgumentError", "args must be a list and kwargs an object")
        limit = state.access.max_calls_per_minute
        if limit is not None:
            now = time.monotonic()
            while state.calls and now - state.calls[0] > 60:
                state.calls.popleft()
            if len(state.calls) >= limit:
                return _error(
                    "ToolPermissionError",
                    f"rate limit: this session may make {limit} tool calls per minute",
                )
            state.calls.append(now)
        found = self.registry.get(name) if name in self.registry else None
        if found is not None and found.runs == "kernel":
            if allowed is not None and name not in allowed:
                return _error("ToolPermissionError", f"this session may not call tool {name!r}")
            return _run_local_reply(found, session.language, args, kwargs)
        if state.semaphore is None:
            state.semaphore = asyncio.Semaphore(state.access.max_concurrent)
        async with state.semaphore:
            result = await self.registry.acall(
                name,
                kwargs,
                args=args,
                caller=session.id,
                allowed=allowed,
                timeout=state.access.call_timeout_s,
            )
        if result.ok:
            return {"ok": True, "value": result.value, "cached": result.cached}
        assert result.error is not None
        return {"ok": False, "error": result.error.model_dump(mode="json")}

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        args: Sequence[Any] = (),
        session: Session | None = None,
    ) -> ToolResult:
        """Call a tool from the host; `runs="kernel"` tools run inside `session`'s kernel."""
        from companion_kernel.tools.results import ToolResult

        start = time.monotonic()
        found = self.registry.get(name) if name in self.registry else None
        if found is None or found.runs == "host":
            return await self.registry.acall(name, arguments, args=args)
        try:
            if session is None or session.language != "python":
                raise ToolError(
                    f"tool {name!r} runs inside a Python kernel: pass session= a Python session"
                )
            # The executor's own argument handling: dict or JSON string, size limit, messages.
            _, bound_args, bound_kwargs = self.registry.executor._prepare(
                name, arguments, args, None, None, None
            )
            validated = to_jsonable_python(found.binder.named(bound_args, bound_kwargs))
            key = (session.id, found.version, json.dumps(validated, sort_keys=True))
            if found.cache_ttl is not None and key in self._kernel_cache:
                return ToolResult.success(
                    name, self._kernel_cache[key], cached=True, duration_s=time.monotonic() - start
                )
            payload = json.dumps(_local_payload(found, validated))
            result = await session.execute(
                f"tools._run_local({name!r}, {payload!r})", validate=False, timeout=found.timeout
            )
            if result.status != "ok" or result.text is None:
                raise ToolExecutionError(f"tool {name!r} failed in the kernel: {result.error}")
            try:
                value = json.loads(ast.literal_eval(result.text))
            except (ValueError, SyntaxError) as exc:
                raise ToolExecutionError(
                    f"tool {name!r} returned an unreadable value: {exc}"
                ) from exc
        except ToolError as exc:
            return ToolResult.failure(name, exc, duration_s=time.monotonic() - start)
        if found.cache_ttl is not None:
            self._kernel_cache[key] = value
        return ToolResult.success(name, value, cached=False, duration_s=time.monotonic() - start)


def _kernel_source(tool: Any) -> str:
    """The tool's function source without its decorators, ready to exec in a kernel."""
    if tool.source is None:
        raise ToolError(f"tool {tool.name!r} has no source to install in a kernel")
    tree = ast.parse(textwrap.dedent(tool.source))
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    func.decorator_list = []
    return ast.unparse(func)


def _local_payload(tool: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "kwargs": kwargs,
        "source": _kernel_source(tool),
        "function": tool.fn.__name__,
        "version": tool.version,
    }


def _run_local_reply(
    tool: Any, language: str, args: list[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    if language != "python":
        return _error("ToolError", f"tool {tool.name!r} runs inside Python kernels only")
    try:
        validated = to_jsonable_python(tool.validate(*args, **kwargs))
        return {"ok": True, "run_local": _local_payload(tool, validated)}
    except ToolError as exc:
        return _error(type(exc).__name__, str(exc))


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"type": kind, "message": message, "details": None}}


def _describe(tool: Any) -> dict[str, Any]:
    schema = tool.input_schema
    props = schema.get("properties", {})
    return {
        "name": tool.name,
        "description": tool.description,
        "signature": tool.signature,
        "category": tool.category,
        "parameters": [
            {
                "name": n,
                "description": props.get(n, {}).get("description", ""),
                "required": n in schema.get("required", []),
            }
            for n in tool.parameter_names
        ],
    }


def _python_bootstrap(wait_s: float) -> str:
    return _PYTHON_BOOTSTRAP.replace("__WAIT_S__", repr(float(wait_s)))


def _javascript_bootstrap(wait_s: float) -> str:
    return _JS_BOOTSTRAP.replace("__WAIT_MS__", str(int(wait_s * 1000)))


# Runs inside the Python kernel. It defines `tools` and `ToolError` and nothing else.
_PYTHON_BOOTSTRAP = r'''
def __companion_tools_bootstrap():
    import inspect
    import threading
    import types
    import uuid

    user_ns = globals()

    from ipykernel.comm import Comm

    class ToolError(Exception):
        """A host tool call failed; the message is the host's."""

    class _BridgeComm(Comm):
        # Replies must reach the subshell the host addresses them to: the main shell is
        # busy running the very cell that waits for them.
        def _reply_subshell_for(self, data, default):
            return default

    class Tools:
        """Host tools: `tools.NAME(...)`, `tools.list()`, `help(tools.NAME)`."""

        def __init__(self):
            self._pending = {}
            self._lock = threading.Lock()
            self._cache = {}
            self._kernel_tools = {}
            self._comm = _BridgeComm(
                target_name="companion.tools", data={"v": 1, "language": "python"}
            )
            self._comm.on_msg(self._on_msg)

        def _on_msg(self, msg):
            data = msg["content"]["data"]
            with self._lock:
                slot = self._pending.pop(data.get("id"), None)
            if slot is not None:
                slot[1].update(data)
                slot[0].set()

        def _request(self, kind, **payload):
            request_id = uuid.uuid4().hex
            done, box = threading.Event(), {}
            with self._lock:
                self._pending[request_id] = (done, box)
            self._comm.send({"v": 1, "id": request_id, "type": kind, **payload})
            try:
                if not done.wait(__WAIT_S__):
                    raise ToolError(f"no answer from the host within {__WAIT_S__:g}s")
            finally:
                with self._lock:
                    self._pending.pop(request_id, None)
            if not box.get("ok"):
                err = box.get("error") or {}
                raise ToolError(f"{err.get('type', 'ToolError')}: {err.get('message', 'failed')}")
            if "run_local" in box:
                return self._local(payload.get("tool"), box["run_local"])
            return box.get("value")

        def _local(self, name, spec):
            """Run a `runs="kernel"` tool here, with arguments the host validated."""
            installed = self._kernel_tools.get(name)
            if installed is None or installed[0] != spec["version"]:
                scope = {}
                exec(compile(spec["source"], f"<tool {name}>", "exec"), scope)
                fn = scope[spec["function"]]
                # Run with the session's globals, so the tool sees the session's data,
                # without binding its name there.
                fn = types.FunctionType(fn.__code__, user_ns, fn.__name__, fn.__defaults__)
                fn.__kwdefaults__ = scope[spec["function"]].__kwdefaults__
                installed = (spec["version"], fn)
                self._kernel_tools[name] = installed
            return installed[1](**spec["kwargs"])

        def _run_local(self, name, payload_json):
            import json

            return json.dumps(self._local(name, json.loads(payload_json)), default=str)

        def call(self, name, /, *args, **kwargs):
            """Call host tool `name` with positional and keyword arguments."""
            return self._request("call", tool=name, args=list(args), kwargs=kwargs)

        def list(self):
            """Descriptions of the tools this session may call."""
            return self._request("list")

        def __getattr__(self, name):
            if name.startswith("_"):
                raise AttributeError(name)
            if name not in self._cache:
                try:
                    info = self._request("describe", tool=name)
                except ToolError as exc:
                    raise AttributeError(f"no tool {name!r}: {exc}") from None
                self._cache[name] = _proxy(self, info)
            return self._cache[name]

        def __dir__(self):
            return [t["name"] for t in self.list()] + ["call", "list"]

        def __repr__(self):
            return "<companion tools: tools.list() shows what you may call>"

    def _proxy(hub, info):
        name = info["name"]

        def call(*args, **kwargs):
            return hub._request("call", tool=name, args=list(args), kwargs=kwargs)

        lines = [info.get("description") or name]
        params = [p for p in info.get("parameters", [])]
        if params:
            lines += ["", "Parameters:"]
            for p in params:
                flag = "" if p.get("required") else " (optional)"
                lines.append(f"    {p['name']}{flag}: {p.get('description') or ''}".rstrip())
        call.__name__ = name
        call.__qualname__ = f"tools.{name}"
        call.__doc__ = "\n".join(lines)
        try:
            scope = {}
            exec("from __future__ import annotations\ndef " + info["signature"] + ": pass", scope)
            call.__signature__ = inspect.signature(scope[name])
        except Exception:
            pass
        return call

    return Tools(), ToolError


tools, ToolError = __companion_tools_bootstrap()
del __companion_tools_bootstrap
'''

# Runs inside our Node kernel (see companion_kernel/kernels/node/README.md for `$$.comm`).
_JS_BOOTSTRAP = r"""
(() => {
  class ToolError extends Error {
    constructor(message, info) { super(message); this.name = 'ToolError'; this.info = info; }
  }
  const pending = new Map();
  let counter = 0;
  const comm = $$.comm.open('companion.tools', { v: 1, language: 'javascript' });
  comm.onMsg((data) => {
    const slot = pending.get(data && data.id);
    if (!slot) return;
    pending.delete(data.id);
    clearTimeout(slot.timer);
    if (data.ok) slot.resolve(data.value);
    else {
      const err = data.error || {};
      slot.reject(new ToolError(`${err.type || 'ToolError'}: ${err.message || 'failed'}`, err));
    }
  });
  const request = (type, payload) => new Promise((resolve, reject) => {
    const id = `js-${process.pid}-${++counter}`;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new ToolError(`no answer from the host within ${__WAIT_MS__ / 1000}s`));
    }, __WAIT_MS__);
    if (timer.unref) timer.unref();
    pending.set(id, { resolve, reject, timer });
    comm.send({ v: 1, id, type, ...payload });
  });
  const isPlainObject = (x) =>
    x !== null && typeof x === 'object' && !Array.isArray(x) &&
    Object.getPrototypeOf(x) === Object.prototype;
  const call = (name, args) => {
    // tools.add({a: 1, b: 2}) passes keyword arguments; tools.add(1, 2) positional ones.
    if (args.length === 1 && isPlainObject(args[0])) {
      return request('call', { tool: name, args: [], kwargs: args[0] });
    }
    return request('call', { tool: name, args, kwargs: {} });
  };
  const base = {
    call: (name, ...args) => call(name, args),
    list: () => request('list', {}),
    describe: (name) => request('describe', { tool: name }),
  };
  globalThis.ToolError = ToolError;
  globalThis.tools = new Proxy(base, {
    get(target, prop) {
      if (prop in target) return target[prop];
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      return (...args) => call(prop, args);
    },
  });
})();
"""
