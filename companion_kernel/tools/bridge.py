"""The tool bridge: host tools callable from kernel code over one Jupyter comm.

Protocol (JSON only, never pickle), comm target `companion.tools`, version 1:

```
kernel -> host   comm_open  data {"v": 1, "language": "python"|"javascript"}
kernel -> host   comm_msg   data {"v": 1, "id": ID, "type": "call", "tool": NAME,
                                  "args": [...], "kwargs": {...}}
                            data {"v": 1, "id": ID, "type": "list"}
                            data {"v": 1, "id": ID, "type": "describe", "tool": NAME}
host -> kernel   comm_msg   data {"v": 1, "id": ID, "ok": true,  "value": ...}
                            data {"v": 1, "id": ID, "ok": true,  "run_local": {...}}
                            data {"v": 1, "id": ID, "ok": false,
                                  "error": {"type": ..., "message": ..., "details": ...}}
```

The host validates arguments with the tool's schema, applies the session's `ToolAccess`
(allow-list, rate limits, requests in flight, timeout) and the tool's cache, and answers
every request that carries an id exactly once. Python cells block while they wait, so
replies go to a kernel *subshell* (ipykernel 7) that runs beside the busy main shell;
JavaScript cells `await` their calls, so the Node kernel reads replies on its shell channel.

The engine never waits on a kernel: replies are sent without blocking (a kernel that stops
reading them loses its bridge and its session), a session has a bounded number of requests
in flight and per minute, and a request is checked for size (oversized messages are
dropped undecoded by the kernel handle) and shape before anything else reads it.

What kernel code can reach (threat model, validator off)
---------------------------------------------------------
Cell code runs in the same process as the kernel, so with the validator off it can always
reach the kernel through the interpreter itself (`get_ipython()`, `gc.get_objects()`,
`sys._current_frames()`; `require` and `process` in Node). There the sandbox is the
boundary. The bridge therefore promises two things:

1. *The injected objects add no capability.* From `tools`, its tool functions and
   `ToolError` (Python), and from `tools`, `$$` and display handles (JavaScript), nothing
   reachable - attributes, `vars()`, `dir()`, closures and globals of every function
   (`__closure__`, `__globals__`, `__self__`, `__func__`, `inspect.getclosurevars`),
   `gc.get_referents` - leads to a comm, the kernel, the IPython shell or code that runs
   source. In Python, `tools` is a slot-less instance whose methods only put fixed-shape
   requests into a `queue.SimpleQueue` (C-level: it exposes nothing but put/get) and wait on
   a per-request SimpleQueue; a private sender thread moves requests to the comm, and the
   comm's handler routes replies back. The comm, its handler and the installed kernel
   tools live only in that thread's and the handler's closures, which no injected object
   refers to. Their functions' globals are a private namespace (builtins only), not the
   session's. In Node, closures are not introspectable, display handles keep their state
   in `#private` fields, comms keep theirs in a module-private WeakMap, and the bridge's
   comm is unlisted (`$$.comm.get/list` do not return it).
2. *Kernel-run tool source comes only from the host.* A `runs="kernel"` tool is compiled
   by the comm handler from a host reply (a message only the host can put on the kernel's
   shell channel), or run by a cell the host writes itself (`call_tool`). No injected
   function accepts source or a function to run; forging a reply means reaching the
   per-request queue, which yields at most a value for one's own call.

With the validator on, dunder attributes, `vars`, `gc`, `inspect`, `get_ipython` and the
injected objects' private attributes are rejected, so only the documented calls remain.
"""

from __future__ import annotations

import ast
import asyncio
import collections
import inspect
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
from companion_kernel.tools._arguments import resolve_hints, type_label

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
    """Tool calls per minute per session (None: unlimited)."""
    max_requests_per_minute: int | None = Field(6000, ge=1)
    """Bridge requests of any kind (calls, lists, descriptions) per minute per session
    (None: unlimited); past it, requests are refused without being read further."""
    max_concurrent: int = Field(16, ge=1)
    """Calls of one session running at once; more wait their turn."""
    max_pending: int = Field(64, ge=1)
    """Requests of one session queued or running at once; more are refused at once."""
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


class _Window:
    """Events in the last minute, to enforce a per-minute limit."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._times: collections.deque[float] = collections.deque()

    def admit(self) -> bool:
        if self.limit is None:
            return True
        now = time.monotonic()
        while self._times and now - self._times[0] > 60:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


@dataclass
class _SessionState:
    access: ToolAccess
    calls: _Window = field(init=False)
    requests: _Window = field(init=False)
    semaphore: asyncio.Semaphore | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    refused: int = 0

    def __post_init__(self) -> None:
        self.calls = _Window(self.access.max_calls_per_minute)
        self.requests = _Window(self.access.max_requests_per_minute)


class ToolBridge:
    """Installs the kernel side of the bridge and answers kernel requests for one engine."""

    def __init__(self, registry: ToolRegistry, default_access: ToolAccess | None = None) -> None:
        self.registry = registry
        self.default_access = default_access or ToolAccess()
        self._links: dict[str, _Link] = {}
        self._sessions: dict[str, _SessionState] = {}
        self._closing: set[asyncio.Task[None]] = set()
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
            info = await kernel.control_request("kernel_info_request", {})
            features = ((info or {}).get("content") or {}).get("supported_features") or []
            if "kernel subshells" not in features:
                # ipykernel < 7 (an Enterprise Gateway's, say): a blocked cell could never
                # get its replies, so this kernel has no `tools`; it runs code as usual.
                log.warning(
                    "kernel %s has no subshells (ipykernel < 7): tools are not available in it",
                    kernel.id,
                )
                return
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
        # Runs inline while the session reads its kernel's messages: it must never raise
        # and never do work proportional to what the kernel sends beyond one cheap look.
        try:
            self._admit(session, msg)
        except Exception:
            log.exception("the tool bridge failed to take a request from session %s", session.label)

    def _admit(self, session: Session, msg: dict[str, Any]) -> None:
        kernel = session.kernel
        if kernel is None or msg["header"]["msg_type"] != "comm_msg":
            return
        link = self._links.get(kernel.id)
        content = msg.get("content")
        if link is None or not isinstance(content, dict) or content.get("comm_id") != link.comm_id:
            return  # includes messages dropped undecoded (oversized, malformed)
        state = self._sessions.get(session.id)
        if state is None:
            return
        data = content.get("data")
        request_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(request_id, str) or not request_id or len(request_id) > 200:
            self._refused(session, state, "a tool request without a usable id")
            return
        assert isinstance(data, dict)
        if not state.requests.admit():
            self._refused(session, state, "over the request rate limit")
            self._reply(
                session,
                kernel,
                link,
                request_id,
                _error(
                    "ToolPermissionError",
                    f"rate limit: this session may send {state.access.max_requests_per_minute} "
                    "bridge requests per minute",
                ),
            )
            return
        if len(state.tasks) >= state.access.max_pending:
            self._reply(
                session,
                kernel,
                link,
                request_id,
                _error(
                    "ToolPermissionError",
                    f"too many tool requests in flight (at most {state.access.max_pending} "
                    "per session); wait for some to finish",
                ),
            )
            return
        task = asyncio.ensure_future(self._answer(session, kernel, link, state, data))
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)

    def _refused(self, session: Session, state: _SessionState, why: str) -> None:
        state.refused += 1
        if state.refused <= 3 or state.refused % 1000 == 0:
            log.warning("session %s: ignored %s (%d so far)", session.label, why, state.refused)

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
        self._reply(session, kernel, link, data["id"], reply)

    def _reply(
        self,
        session: Session,
        kernel: KernelHandle,
        link: _Link,
        request_id: str,
        reply: dict[str, Any],
    ) -> None:
        """Send a reply without blocking; a kernel that stopped reading loses its session."""
        reply["v"] = PROTOCOL_VERSION
        reply["id"] = request_id
        try:
            payload = json.loads(json.dumps(reply, default=str))
        except (TypeError, ValueError, RecursionError) as exc:
            payload = {
                "v": PROTOCOL_VERSION,
                "id": request_id,
                **_error("ToolError", f"unencodable reply: {exc}"),
            }
        if self._links.get(kernel.id) is not link or not kernel.is_alive():
            return
        kernel.send_shell(
            "comm_msg", {"comm_id": link.comm_id, "data": payload}, subshell_id=link.subshell_id
        )
        if kernel.stalled is not None:
            self._lose(session, kernel, kernel.stalled)

    def _lose(self, session: Session, kernel: KernelHandle, why: str) -> None:
        """Cut the bridge of a kernel that does not read its replies, and close its session."""
        self.forget_kernel(kernel)
        state = self._sessions.get(session.id)
        if state is not None:
            for task in state.tasks:
                task.cancel()
        reason = (
            f"the {kernel.language} kernel stopped reading the tool bridge's replies ({why}), "
            "so its bridge and session were closed"
        )
        log.warning("session %s: %s", session.label, reason)
        closing = asyncio.ensure_future(session.close(reason=reason))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def _handle(
        self, session: Session, state: _SessionState, data: dict[str, Any]
    ) -> dict[str, Any]:
        if data.get("v") != PROTOCOL_VERSION:
            return _error(
                "ToolError", f"unsupported protocol version {data.get('v')!r} (expected 1)"
            )
        # The kernel handle already dropped messages over its own cap undecoded; this is the
        # (smaller) per-session limit.
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
        if not state.calls.admit():
            return _error(
                "ToolPermissionError",
                f"rate limit: this session may make {state.access.max_calls_per_minute} tool "
                "calls per minute",
            )
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
            result = await session.execute(
                _kernel_tool_cell(found, validated), validate=False, timeout=found.timeout
            )
            if result.status != "ok" or result.text is None:
                raise ToolExecutionError(f"tool {name!r} failed in the kernel: {result.error}")
            try:
                value = json.loads(ast.literal_eval(result.text))
            except (ValueError, SyntaxError, TypeError, RecursionError) as exc:
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


def _kernel_tool_cell(tool: Any, kwargs: dict[str, Any]) -> str:
    """A cell, written by the host, that runs a kernel tool in the session's namespace
    (without binding its name there) and evaluates to its result as JSON text."""
    source, function = _kernel_source(tool), tool.fn.__name__
    run = f"l[{function!r}](**j.loads({json.dumps(kwargs)!r}))"
    return (
        f"(lambda g, l, j=__import__('json'): (exec(compile({source!r}, "
        f"{f'<tool {tool.name}>'!r}, 'exec'), g, l), j.dumps({run}, default=str))[1])"
        "(globals(), {})"
    )


def _run_local_reply(
    tool: Any, language: str, args: list[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    if language != "python":
        return _error("ToolError", f"tool {tool.name!r} runs inside Python kernels only")
    try:
        validated = to_jsonable_python(tool.validate(*args, **kwargs))
        payload = {
            "tool": tool.name,
            "version": tool.version,
            "source": _kernel_source(tool),
            "function": tool.fn.__name__,
            "kwargs": validated,
        }
        return {"ok": True, "run_local": payload}
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
        "params": _signature_data(tool),
    }


def _signature_data(tool: Any) -> list[dict[str, str]]:
    """The signature as data, so kernels build `__signature__` without running any source."""
    try:
        params = inspect.signature(tool.fn).parameters.values()
        hints = resolve_hints(tool.fn, with_return=False)
    except (TypeError, ValueError):
        return []
    out = []
    for p in params:
        item = {
            "name": p.name,
            "kind": p.kind.name,
            "annotation": type_label(hints.get(p.name, inspect.Parameter.empty)),
        }
        if p.default is not inspect.Parameter.empty:
            item["default"] = repr(p.default)[:80]
        out.append(item)
    return out


def _python_bootstrap(wait_s: float) -> str:
    return _PYTHON_BOOTSTRAP.replace("__SOURCE__", repr(_PYTHON_TOOLS)).replace(
        "__WAIT_S__", repr(float(wait_s))
    )


def _javascript_bootstrap(wait_s: float) -> str:
    return _JS_BOOTSTRAP.replace("__WAIT_MS__", str(int(wait_s * 1000)))


# The set-up cell: compiles the bridge below in a namespace of its own (builtins only), so
# none of its functions has the session's globals, and leaves exactly `tools` and `ToolError`.
_PYTHON_BOOTSTRAP = r"""
def __companion_tools_install(source, wait_s):
    import builtins

    scope = {"__builtins__": builtins, "__name__": "companion_tools"}
    exec(compile(source, "<companion tools>", "exec"), scope)
    try:
        return scope["install"](globals(), wait_s)
    finally:  # the helpers were needed once; the functions kept only see builtins
        scope.clear()
        scope["__builtins__"] = builtins


tools, ToolError = __companion_tools_install(__SOURCE__, __WAIT_S__)
del __companion_tools_install
"""

# Runs inside the Python kernel. `install` returns (tools, ToolError); see the module
# docstring for what is reachable from them and what is not.
_PYTHON_TOOLS = r'''
def install(user_ns, wait_s):
    import inspect
    import itertools
    import queue

    from ipykernel.comm import Comm

    class ToolError(Exception):
        """A host tool call failed; the message is the host's."""

    outbox = queue.SimpleQueue()
    empty = queue.Empty
    new_slot = queue.SimpleQueue
    ids = itertools.count(1)

    def request(kind, payload):
        request_id = f"py-{next(ids)}"
        slot = new_slot()
        outbox.put(({"v": 1, "id": request_id, "type": kind, **payload}, slot))
        answered = False
        try:
            answer = slot.get(timeout=wait_s)
            answered = True
        except empty:
            raise ToolError(f"no answer from the host within {wait_s:g}s") from None
        finally:
            if not answered:
                outbox.put((None, request_id))
        if answer[0] == "run":
            return answer[1](**answer[2])
        data = answer[1]
        if not data.get("ok"):
            err = data.get("error") or {}
            raise ToolError(f"{err.get('type', 'ToolError')}: {err.get('message', 'failed')}")
        return data.get("value")

    # Private: the comm, its handler and the kernel tools the host sent.
    serve(outbox, user_ns, Comm)

    proxies = {}
    signature = signature_builder(inspect)

    def make_proxy(info):
        name = info["name"]

        def call(*args, **kwargs):
            return request("call", {"tool": name, "args": list(args), "kwargs": kwargs})

        lines = [info.get("description") or name]
        params = list(info.get("parameters") or [])
        if params:
            lines += ["", "Parameters:"]
            for p in params:
                flag = "" if p.get("required") else " (optional)"
                lines.append(f"    {p['name']}{flag}: {p.get('description') or ''}".rstrip())
        call.__name__ = name
        call.__qualname__ = f"tools.{name}"
        call.__doc__ = "\n".join(lines)
        try:
            call.__signature__ = signature(info.get("params") or [])
        except Exception:
            pass
        return call

    class Tools:
        """Host tools: `tools.NAME(...)`, `tools.list()`, `help(tools.NAME)`."""

        __slots__ = ()

        def call(self, name, /, *args, **kwargs):
            """Call host tool `name` with positional and keyword arguments."""
            return request("call", {"tool": name, "args": list(args), "kwargs": kwargs})

        def list(self):
            """Descriptions of the tools this session may call."""
            return request("list", {})

        def __getattr__(self, name):
            if name.startswith("_"):
                raise AttributeError(name)
            found = proxies.get(name)
            if found is None:
                try:
                    info = request("describe", {"tool": name})
                except ToolError as exc:
                    raise AttributeError(f"no tool {name!r}: {exc}") from None
                found = proxies[name] = make_proxy(info)
            return found

        def __dir__(self):
            return [t["name"] for t in self.list()] + ["call", "list"]

        def __repr__(self):
            return "<companion tools: tools.list() shows what you may call>"

    return Tools(), ToolError


def signature_builder(inspect):
    """`__signature__` objects from the host's parameter data (no source is run)."""
    Parameter, Signature = inspect.Parameter, inspect.Signature
    kinds = {
        k: getattr(Parameter, k)
        for k in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD", "VAR_POSITIONAL", "KEYWORD_ONLY")
    }

    class Label:
        """Shows as its text (a type or a default exactly as the host wrote it)."""

        __slots__ = ("text",)

        def __init__(self, text):
            self.text = str(text)

        def __repr__(self):
            return self.text

    def build(params):
        out = []
        for p in params:
            default = Label(p["default"]) if "default" in p else Parameter.empty
            annotation = Label(p["annotation"])
            kind = kinds[p["kind"]]
            out.append(Parameter(p["name"], kind, default=default, annotation=annotation))
        return Signature(out)

    return build


def serve(outbox, user_ns, Comm):
    """Open the comm; a sender thread moves requests to it, its handler routes replies."""
    import _thread
    import threading

    class BridgeComm(Comm):
        # Replies must reach the subshell the host addresses them to: the main shell is
        # busy running the very cell that waits for them.
        def _reply_subshell_for(self, data, default):
            return default

    comm = BridgeComm(
        target_name="companion.tools", data={"v": 1, "language": "python"}, show_warning=False
    )
    waiting = {}
    lock = threading.Lock()
    installed = {}

    def kernel_tool(spec):
        # Source from a host reply only: nothing a cell can call leads here.
        key = (spec["tool"], spec["version"])
        fn = installed.get(key)
        if fn is None:
            scope = {}
            exec(compile(spec["source"], f"<tool {spec['tool']}>", "exec"), user_ns, scope)
            fn = installed[key] = scope[spec["function"]]
        return fn

    def on_msg(msg):
        data = msg["content"].get("data")
        if not isinstance(data, dict):
            return
        with lock:
            slot = waiting.pop(data.get("id"), None)
        if slot is None:
            return
        spec = data.get("run_local")
        if data.get("ok") and isinstance(spec, dict):
            try:
                slot.put(("run", kernel_tool(spec), dict(spec["kwargs"])))
            except Exception as exc:
                error = {"type": "ToolError", "message": f"installing the tool failed: {exc}"}
                slot.put(("reply", {"ok": False, "error": error}))
            return
        slot.put(("reply", data))

    def send_loop():
        while True:
            item, slot = outbox.get()
            if item is None:  # a cell stopped waiting for request `slot`
                with lock:
                    waiting.pop(slot, None)
                continue
            with lock:
                waiting[item["id"]] = slot
            try:
                comm.send(item)
            except Exception as exc:
                with lock:
                    waiting.pop(item["id"], None)
                error = {"type": "ToolError", "message": f"the request was not sent: {exc}"}
                slot.put(("reply", {"ok": False, "error": error}))

    comm.on_msg(on_msg)
    _thread.start_new_thread(send_loop, ())
'''

# Runs inside our Node kernel (see companion_kernel/kernels/node/README.md for `$$.comm`).
# Closures are private in JavaScript; the comm is unlisted, so `$$.comm` does not hand it out.
_JS_BOOTSTRAP = r"""
(() => {
  class ToolError extends Error {
    constructor(message, info) { super(message); this.name = 'ToolError'; this.info = info; }
  }
  const pending = new Map();
  let counter = 0;
  const comm = $$.comm.open('companion.tools', { v: 1, language: 'javascript' },
    undefined, undefined, { unlisted: true });
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
    const id = `js-${++counter}`;
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
  const base = Object.freeze(Object.assign(Object.create(null), {
    call: (name, ...args) => call(String(name), args),
    list: () => request('list', {}),
    describe: (name) => request('describe', { tool: String(name) }),
  }));
  globalThis.ToolError = ToolError;
  globalThis.tools = new Proxy(base, {
    get(target, prop) {
      if (prop in target) return target[prop];
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      return (...args) => call(prop, args);
    },
    set() { return false; },
    defineProperty() { return false; },
  });
})();
"""
