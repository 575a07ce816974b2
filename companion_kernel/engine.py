"""Engine: composes per-language kernel pools, sessions, the validator and detection."""

from __future__ import annotations

import ast
import asyncio
import atexit
import contextlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import weakref
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_client.kernelspec import KernelSpec

from . import _signals
from ._kernel import KernelHandle, LocalKernel, kill_process_tree
from ._validation_worker import OffLoopValidator
from .config import EngineConfig
from .errors import (
    EngineClosed,
    InvalidRequest,
    KernelStartError,
    SessionNotFound,
    UnknownLanguage,
)
from .languages import canonical_language, get_language, kernel_command, python_interpreter
from .models import ErrorInfo, ExecutionResult
from .pool import KernelPool, PoolStats
from .sandbox import remove_tree
from .session import Session, _check_code, run_setup_cell
from .stdin import InputSource
from .tools.bridge import ToolAccess, ToolBridge
from .workspace import SyncFiles

if TYPE_CHECKING:
    from .gateway.client import Gateways
    from .tools import ToolRegistry, ToolResult

log = logging.getLogger(__name__)

__all__ = ["Engine", "SyncEngine", "SyncSession"]

T = TypeVar("T")


class _Reaper:
    """Kills kernel processes and removes the runtime directory, even without a clean exit.

    It holds no reference to the engine, so `weakref.finalize` can call it when the engine
    is garbage-collected or the interpreter exits. Kernels report their processes as they
    spawn and once they are reaped (`ProcessTracker`), so only live kernels are listed.
    """

    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        self.processes: dict[int, float | None] = {}
        """Live kernel pids and their creation times (a reused pid is never killed)."""

    def track(self, pid: int, create_time: float | None) -> None:
        self.processes[pid] = create_time

    def untrack(self, pid: int) -> None:
        self.processes.pop(pid, None)

    def __call__(self) -> None:
        from .sandbox import _cgroups

        # Every cgroup made for this engine's kernels (their connection files live in the
        # runtime directory), even one whose kernel is gone or has not started yet.
        groups = _cgroups.live_dirs(str(self.runtime_dir) + os.sep)
        for pid in self.processes:
            groups |= _cgroups.kernel_dirs_of(pid)
        for pid, create_time in list(self.processes.items()):
            kill_process_tree(pid, create_time)
        self.processes.clear()
        groups |= _kill_strays(self.runtime_dir)
        _cgroups.remove_dirs(groups)  # normally gone already; not when a close was cut short
        remove_tree(self.runtime_dir)


def _kill_strays(runtime_dir: Path) -> set[str]:
    """Kill our own descendants launched for this runtime directory; return the kernel
    cgroups they were in.

    A kernel still starting is not tracked yet (its pid is known once jupyter_client
    returns); its command line names its connection file, which lives in `runtime_dir`.
    """
    import psutil

    from .sandbox import _cgroups

    groups: set[str] = set()
    marker = str(runtime_dir) + os.sep
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return groups
    for child in children:
        with contextlib.suppress(psutil.Error):
            if any(marker in arg for arg in child.cmdline()):
                groups |= _cgroups.kernel_dirs_of(child.pid)
                kill_process_tree(child.pid, child.create_time())
    return groups


# ipc socket paths (runtime dir + kernel id + sandbox dir + port) must fit in the 107 bytes of
# a Unix socket address; a deep TMPDIR (pytest's, a notebook server's) would not leave room.
_MAX_TEMP_DIR_CHARS = 40


# Runtime directories are named `ck-<engine pid>-<random>`, so a later engine can tell those
# of dead engines (killed before they could clean up) and remove them.
_RUNTIME_PREFIX = "ck-"
_RUNTIME_NAME = re.compile(r"ck-(\d+)-[A-Za-z0-9_]+")


def _sweep_stale_runtime_dirs(parent: Path) -> int:
    """Remove runtime directories (ours by uid) whose engine process is gone, and kill
    kernels still running from them; returns how many were removed. Blocking."""
    import psutil

    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(parent):
            match = _RUNTIME_NAME.fullmatch(entry.name)
            if match is None or not entry.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_uid != os.geteuid():
                    continue
            if psutil.pid_exists(int(match.group(1))):
                continue
            removed.append(entry.path)
    if not removed:
        return 0
    prefixes = tuple(path + os.sep for path in removed)
    for proc in psutil.process_iter(["cmdline", "uids"]):
        with contextlib.suppress(psutil.Error, TypeError):
            if proc.info["uids"].real == os.getuid() and any(
                arg.startswith(prefixes) for arg in proc.info["cmdline"] or ()
            ):
                kill_process_tree(proc.pid, proc.create_time())
    for path in removed:
        log.info("removing the runtime directory of a dead engine: %s", path)
        remove_tree(path)
    return len(removed)


def _short_temp_dir() -> str | None:
    default = tempfile.gettempdir()
    if len(default) <= _MAX_TEMP_DIR_CHARS:
        return None
    for candidate in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    return None


_COLLECT_MAX_BYTES = 64 * 1024 * 1024  # files returned by one `execute(collect=...)`


class Engine:
    """Runs code in warm, pooled Jupyter kernels.

    ```python
    async with Engine() as engine:
        result = await engine.execute("print(6 * 7)", language="python")
    ```
    """

    def __init__(
        self,
        config: EngineConfig | None = None,
        *,
        tools: ToolRegistry | bool = True,
        tool_access: ToolAccess | None = None,
        handle_signals: bool = True,
        **overrides: Any,
    ) -> None:
        """`handle_signals`: on SIGTERM/SIGINT close this engine before the process ends
        (only where the process still has the default handlers; see `_signals`)."""
        base = config or EngineConfig()
        self.config: EngineConfig = (
            EngineConfig.model_validate({**base.model_dump(), **overrides}) if overrides else base
        )
        self._pools: dict[str, KernelPool] = {}
        self._sessions: dict[str, Session] = {}
        self._started = False
        self._closed = False
        self._sandboxed: bool | None = None
        self._idle_task: asyncio.Task[None] | None = None
        self._reaper: _Reaper | None = None
        self._finalizer: weakref.finalize | None = None
        self._handle_signals = handle_signals
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._validator = OffLoopValidator()
        self._gateways: Gateways | None = None
        if tools is True:
            from .tools import default_registry

            tools = default_registry()
        self.tools: ToolRegistry | None = tools or None
        """Host tools that kernel code can call as `tools.NAME(...)` (None: no bridge)."""
        self._bridge: ToolBridge | None = (
            ToolBridge(self.tools, tool_access) if self.tools is not None else None
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> Engine:
        """Create the runtime directory and start warming every language's pool."""
        if self._closed:
            raise EngineClosed("this engine was closed; create a new Engine")
        if self._started:
            return self
        # Before anything is created: `require` without bubblewrap must leave nothing behind.
        self._sandboxed = self._resolve_isolation()
        if self.config.runtime_dir:
            parent = Path(self.config.runtime_dir)
            parent.mkdir(parents=True, exist_ok=True)
        else:
            parent = Path(_short_temp_dir() or tempfile.gettempdir())
        await asyncio.to_thread(_sweep_stale_runtime_dirs, parent)
        if self.config.python_executable:  # probed once here, off the loop; cached after
            await asyncio.to_thread(python_interpreter, self.config.python_executable)
        prefix = f"{_RUNTIME_PREFIX}{os.getpid()}-"
        runtime = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        self._reaper = _Reaper(runtime)
        self._finalizer = weakref.finalize(self, self._reaper)
        if self.config.gateway is not None:
            from .gateway.client import Gateways

            self._gateways = Gateways(self.config.gateway)
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.current_thread()
        if self._handle_signals:
            _signals.register(self)
            _signals.install_signal_handlers()
        for language in self.config.languages:
            pool = KernelPool(
                language,
                self.config.pool(language),
                factory=lambda lang=language: self._new_kernel(lang),
                prepare=self._prepare_kernel,
            )
            self._pools[language] = pool
            pool.start()
        self._started = True
        if self.config.session_idle_timeout_s is not None:
            self._idle_task = asyncio.ensure_future(self._close_idle_sessions())
        return self

    async def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every pool has its `min_idle` kernels ready (useful before benchmarks)."""
        self._check_open()
        await asyncio.gather(*(p.wait_ready(timeout=timeout) for p in self._pools.values()))

    async def aclose(self) -> None:
        """Close every session and stop every kernel; leaves no process or file behind."""
        if self._closed:
            return
        self._closed = True
        _signals.unregister(self)
        if self._idle_task is not None:
            self._idle_task.cancel()
            with contextlib.suppress(BaseException):
                await self._idle_task
        for session in list(self._sessions.values()):
            await session.close()
        await asyncio.gather(*(p.close() for p in self._pools.values()), return_exceptions=True)
        if self._gateways is not None:
            await self._gateways.aclose()
        await self._validator.aclose()
        if self._finalizer is not None:
            await asyncio.to_thread(self._finalizer)  # blocking: kills, waits, removes files

    def _reap_now(self) -> None:
        """Kill the kernels and remove the runtime directory at once (blocking; no loop)."""
        if self._finalizer is not None:
            self._finalizer()

    @property
    def closed(self) -> bool:
        """True once `aclose()` ran."""
        return self._closed

    @property
    def sandboxed(self) -> bool:
        """True when kernels run under bubblewrap."""
        return bool(self._sandboxed)

    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosed("the engine is closed; create a new Engine")
        if not self._started:
            raise EngineClosed("the engine is not started; use `async with Engine()` or `start()`")

    # -- kernels -------------------------------------------------------------------------------

    def _resolve_isolation(self) -> bool:
        if self.config.isolation == "off" or self.config.gateway is not None:
            return False  # remote kernels are sandboxed (or not) by their gateway's host
        from .sandbox import resolve_isolation

        return resolve_isolation(self.config.isolation)

    def kernel_spec(
        self,
        language: str,
        workdir: Path | None = None,
        *,
        fresh: bool = True,
        attached: bool = False,
        read_only: bool = False,
    ) -> KernelSpec:
        """The kernel spec the engine launches for `language` (sandboxed when enabled).

        `workdir` is bound at /workspace: a `fresh` one (made for this kernel) gets the
        workspace quota; an `attached` one belongs to the caller and is bound as it is.
        """
        lang = get_language(language)
        argv, binds, _ = kernel_command(lang, self.config.python_executable)
        spec: dict[str, Any] = {
            "argv": argv,
            "display_name": lang.display_name,
            "language": lang.name,
            "env": {**lang.env, **_output_cap_env(lang.name, self.config.max_output_bytes)},
            "interrupt_mode": "signal",
            "metadata": {},
        }
        if self.config.isolation != "off":
            # Limits apply whenever isolation is not switched off, even where bubblewrap
            # cannot run (`auto` then warns once and `doctor` says why).
            from .sandbox import SandboxConfig, kernel_spec_metadata

            sandbox = SandboxConfig(
                isolate=bool(self._sandboxed),
                limits=self.config.limits,
                workdir=str(workdir) if workdir is not None else None,
                workspace_quota=workdir is not None and fresh and not attached,
                attached_workdir=attached,
                workdir_readonly=read_only,
                ro_binds=binds,
            )
            spec["interrupt_mode"] = "message"
            spec["metadata"] = kernel_spec_metadata(sandbox)
        return KernelSpec(**spec)

    def _new_kernel(
        self,
        language: str,
        workspace: Path | None = None,
        *,
        attached: bool = False,
        read_only: bool = False,
    ) -> KernelHandle:
        assert self._reaper is not None
        if self._gateways is not None:
            return self._remote_kernel(language, workspace)
        _, _, problem = kernel_command(get_language(language), self.config.python_executable)
        if problem is not None:
            return _UnavailableKernel(language, problem)
        return LocalKernel(
            language,
            lambda workdir: self.kernel_spec(
                language,
                workdir=workdir,
                fresh=workspace is None,
                attached=attached,
                read_only=read_only,
            ),
            self._reaper.runtime_dir,
            workspace=workspace,
            tracker=self._reaper,
            # Room for a stream chunk the in-kernel cap lets through (2x the cap in
            # characters, up to 4 bytes each); anything bigger can never be kept anyway.
            max_message_bytes=8 * self.config.max_output_bytes + 1024 * 1024,
        )

    def _remote_kernel(self, language: str, workspace: Path | None) -> KernelHandle:
        from .gateway.handle import GatewayKernel

        assert self._gateways is not None
        if workspace is not None:
            return _UnavailableKernel(
                language, "a session workspace on this machine needs local kernels, not a gateway"
            )
        return GatewayKernel(
            language, self._gateways, max_message_bytes=8 * self.config.max_output_bytes + 2**20
        )

    async def _prepare_kernel(self, kernel: KernelHandle) -> None:
        """Set a fresh kernel up before any session sees it (off the hot path)."""
        if kernel.language == "python":
            # Cap output inside the kernel too: ipykernel buffers writes between flushes, so a
            # cell printing gigabytes would otherwise exhaust the kernel's own memory. Twice
            # the host's cap, so the host still sees (and marks) the truncation.
            limit = str(2 * self.config.max_output_bytes)
            for code in _PYTHON_SETUP:
                failed = await run_setup_cell(kernel, code.replace("__LIMIT__", limit))
                if failed:
                    raise KernelStartError(f"setting up the python kernel failed: {failed}")
            if self.config.preload:
                code = _PRELOAD.replace("__MODULES__", repr(self.config.preload))
                failed = await run_setup_cell(kernel, code)
                if failed:
                    log.warning("preloading %s failed: %s", self.config.preload, failed)
        if self._bridge is not None:
            await self._bridge.prepare(kernel)

    def pool(self, language: str) -> KernelPool:
        """The pool of `language` (name or alias)."""
        self._check_open()
        name = canonical_language(language)
        try:
            return self._pools[name]
        except KeyError:
            raise UnknownLanguage(
                f"language {name!r} is not enabled in this engine "
                f"(enabled: {', '.join(self._pools)}); add it to EngineConfig.languages"
            ) from None

    async def _acquire_kernel(self, language: str) -> KernelHandle:
        return await self.pool(language).acquire()

    async def _start_kernel_for(
        self, language: str, workspace: Path, *, attached: bool, read_only: bool
    ) -> KernelHandle:
        """A kernel started for one session, bound to that session's workspace (a cold
        start: warm kernels have workspaces of their own). It counts as in use."""
        return await self.pool(language).start_dedicated(
            lambda: self._new_kernel(
                language, workspace, attached=attached, read_only=read_only
            )
        )

    def _discard_kernel(self, kernel: KernelHandle) -> None:
        pool = self._pools.get(kernel.language)
        if pool is not None:
            pool.discard(kernel)
        if self._bridge is not None:
            self._bridge.forget_kernel(kernel)

    def stats(self) -> dict[str, PoolStats]:
        """Per-language pool statistics."""
        return {name: pool.stats() for name, pool in self._pools.items()}

    # -- sessions ------------------------------------------------------------------------------

    def session(
        self,
        language: str | None = None,
        *,
        name: str | None = None,
        policy: Any = None,
        timeout: float | None = None,
        tools: ToolAccess | None = None,
        background_processes: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        workspace: str | os.PathLike[str] | None = None,
        workspace_readonly: bool = False,
        keep_workspace: bool = False,
    ) -> Session:
        """A new stateful session (an async context manager; the kernel comes on first use).

        `tools` sets which host tools the session's code may call (default: the engine's).
        Processes a cell starts are killed when the cell ends, unless
        `background_processes` is True. `env` and `cwd` are applied in every kernel of
        the session. The session's workspace (``session.files``, the kernel's
        /workspace) survives restarts and kernel deaths and is removed at close, unless
        `keep_workspace`; `workspace=path` attaches an existing host directory instead
        (read-only with `workspace_readonly`), never removed.
        """
        self._check_open()
        lang = canonical_language(language or self.config.default_language)
        self.pool(lang)
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise InvalidRequest("a session name must be a non-empty string")
            if self._find(name) is not None:
                raise InvalidRequest(f"a session named {name!r} already exists")
        session = Session(
            self,
            lang,
            name=name,
            policy=policy,
            timeout=timeout,
            background_processes=background_processes,
            env=env,
            cwd=cwd,
            workspace=workspace,
            workspace_readonly=workspace_readonly,
            keep_workspace=keep_workspace,
        )
        if self._bridge is not None:
            self._bridge.attach(session, tools)
        self._sessions[session.id] = session
        return session

    async def create_session(
        self, language: str | None = None, **options: Any
    ) -> Session:
        """Create a session and acquire its kernel now (options as for `session`)."""
        session = self.session(language, **options)
        try:
            return await session.start()
        except BaseException:
            await session.close()
            raise

    def _find(self, key: str) -> Session | None:
        if key in self._sessions:
            return self._sessions[key]
        return next((s for s in self._sessions.values() if s.name == key), None)

    def get_session(self, key: str) -> Session:
        """The open session with this id or name."""
        session = self._find(key)
        if session is None:
            raise SessionNotFound(f"no open session with id or name {key!r}")
        return session

    def sessions(self) -> list[Session]:
        """Open sessions, oldest first."""
        return list(self._sessions.values())

    async def close_session(self, key: str) -> None:
        """Close the session with this id or name."""
        await self.get_session(key).close()

    def _forget_session(self, session: Session) -> None:
        self._sessions.pop(session.id, None)
        if self._bridge is not None:
            self._bridge.detach(session)

    async def _close_idle_sessions(self) -> None:
        limit = self.config.session_idle_timeout_s
        assert limit is not None
        while True:
            await asyncio.sleep(min(max(limit / 4, 0.05), 30.0))
            now = time.monotonic()
            for session in list(self._sessions.values()):
                if not session.busy and now - session.last_used > limit:
                    log.info("closing idle session %s", session.label)
                    await session.close()

    # -- execution -----------------------------------------------------------------------------

    async def _validate(self, code: str, language: str, policy: Any) -> ExecutionResult | None:
        """None when the code may run, else the result that ends the execution: `rejected`
        for a policy violation, `error` (`SyntaxError`, ...) for code that does not parse.

        Runs off the event loop (a thread, or a worker process for big input) with a time
        bound: hostile input can keep the validator busy for seconds, never the loop.
        """
        policy = policy if policy is not None else self.config.policy
        if policy == "off":
            return None
        from .validation import Violation

        report = await self._validator.validate(code, language, policy, _VALIDATION_TIMEOUT_S)
        if report is None:
            message = f"the validator did not finish within {_VALIDATION_TIMEOUT_S:g}s"
            errors = [
                Violation(rule=f"{language}.input", message=message, line=1, column=1, snippet="")
            ]
            violations = errors
        else:
            if report.ok:
                return None
            if report.syntax_error is not None:
                return _syntax_error_result(report.syntax_error, language)
            errors, violations = list(report.errors), list(report.violations)
        first = errors[0]
        count = len(errors)
        return ExecutionResult(
            status="rejected",
            language=language,
            violations=violations,
            error=ErrorInfo(
                ename="Rejected",
                evalue=(
                    f"the validator rejected this code ({count} "
                    f"violation{'s' if count != 1 else ''}; first: "
                    f"line {first.line}: {first.message})"
                ),
            ),
        )

    async def _resolve_language_off_loop(self, code: str, language: str | None) -> str:
        if language is not None:
            return canonical_language(language)
        default = canonical_language(self.config.default_language)
        return await self._validator.detect_language(code, default, _VALIDATION_TIMEOUT_S)

    def resolve_language(self, code: str, language: str | None) -> str:
        """Canonical language for `code`: the given one, or detected when None."""
        if language is not None:
            return canonical_language(language)
        from .detection import detect_language

        detected = detect_language(code, default=self.config.default_language)
        return detected.language

    async def execute(
        self,
        code: str | bytes,
        language: str | None = None,
        *,
        session: Session | str | None = None,
        timeout: float | None = None,
        policy: Any = None,
        files: Mapping[str, bytes | str] | None = None,
        collect: Sequence[str] | None = None,
        input: InputSource | None = None,
        **callbacks: Any,
    ) -> ExecutionResult:
        """Run `code` and return its `ExecutionResult`.

        With `session` (a `Session`, its id or its name) the code runs there and state is
        kept. Without, it runs in a fresh pooled kernel that is discarded afterwards.
        When `language` is None it is taken from the session or detected from the code.
        `files` ({relative path: content}) are written into the workspace first; the
        workspace files matching any glob in `collect` come back in `result.files`
        (at most 64 MiB in all; read bigger files through a session's `files`).
        `input` answers the code's prompts (see `Session.execute`).
        """
        self._check_open()
        if input is not None:
            callbacks["input"] = input
        if session is not None:
            target = session if isinstance(session, Session) else self.get_session(session)
            if language is not None and canonical_language(language) != target.language:
                raise InvalidRequest(
                    f"session {target.label} runs {target.language}, not {language}"
                )
            if not (files or collect):
                return await target.execute(code, timeout=timeout, policy=policy, **callbacks)
            return await self._execute_with_files(
                target, code, files, collect, timeout=timeout, policy=policy, **callbacks
            )
        text = _check_code(code, self.config.max_code_bytes)
        started = time.monotonic()
        lang = await self._resolve_language_off_loop(text, language)
        rejected = await self._validate(text, lang, policy)
        self._check_open()  # closed while the validator ran (it then stops early)
        if rejected is not None:  # no kernel is even acquired for rejected code
            rejected.duration_s = time.monotonic() - started
            return rejected
        one_shot = self.session(lang)
        try:
            if files or collect:
                await one_shot.start()
                result = await self._execute_with_files(
                    one_shot, text, files, collect, timeout=timeout, validate=False, **callbacks
                )
            else:
                result = await one_shot.execute(text, timeout=timeout, validate=False, **callbacks)
        finally:
            await one_shot.close()
        result.session_id = None
        return result

    async def _execute_with_files(
        self,
        session: Session,
        code: str | bytes,
        files: Mapping[str, bytes | str] | None,
        collect: Sequence[str] | None,
        **kwargs: Any,
    ) -> ExecutionResult:
        if isinstance(collect, str):
            raise InvalidRequest("collect takes a list of glob patterns, e.g. ['*.png']")
        if session.workspace is None:
            await session.start()
        for path, data in (files or {}).items():
            parent = str(PurePosixPath(path).parent)
            if parent != ".":
                await session.files.mkdir(parent)
            await session.files.write(path, data)
        result = await session.execute(code, **kwargs)
        if collect:
            result.files = await session.files.collect(collect, max_bytes=_COLLECT_MAX_BYTES)
        return result

    async def call_tool(
        self,
        name: str,
        arguments: Any = None,
        *,
        args: Any = (),
        session: Session | str | None = None,
    ) -> ToolResult:
        """Call a tool from the host and get its `ToolResult` envelope (never raises).

        Host tools run here; `@tool(runs="kernel")` tools run inside `session`'s kernel,
        next to its data and inside its isolation.
        """
        self._check_open()
        if self._bridge is None:
            raise InvalidRequest("this engine has no tools (it was created with tools=False)")
        target = self.get_session(session) if isinstance(session, str) else session
        return await self._bridge.call_tool(name, arguments, args=args, session=target)

    async def evaluate(
        self, expression: str, language: str = "python", *, timeout: float | None = None
    ) -> Any:
        """The value of one expression, as a Python value where it is JSON/literal-compatible.

        Falls back to the text representation when the value has no literal form. Raises
        `InvalidRequest` when the expression fails, with the kernel's error message.
        """
        result = await self.execute(expression, language, timeout=timeout)
        if result.status != "ok":
            raise InvalidRequest(f"evaluation failed: {result.error}")
        text = result.text
        if text is None:
            return None
        for parse in (json.loads, ast.literal_eval):
            with contextlib.suppress(Exception):
                return parse(text)
        return text

    def stream(self, code: str | bytes, language: str | None = None, **kwargs: Any) -> Any:
        """Async-iterate the events of a one-shot execution (see `Session.stream`)."""
        self._check_open()
        text = _check_code(code, self.config.max_code_bytes)
        if language is not None:
            canonical_language(language)  # an unknown language fails here, not on iteration
        return _one_shot_stream(self, text, language, kwargs)


async def _one_shot_stream(
    engine: Engine, code: str, language: str | None, kwargs: dict[str, Any]
) -> Any:
    session = engine.session(await engine._resolve_language_off_loop(code, language))
    try:
        async for event in session.stream(code, **kwargs):
            yield event
    finally:
        await session.close()


def _output_cap_env(language: str, max_output_bytes: int) -> dict[str, str]:
    """The in-kernel output cap of the Node and bash kernels (Python's is a set-up cell)."""
    name = {"javascript": "COMPANION_NODE_MAX_OUTPUT", "shell": "COMPANION_BASH_MAX_OUTPUT"}
    if language not in name:
        return {}
    # Twice the host's cap, as in Python kernels, so the host still sees and marks the cut.
    return {name[language]: str(2 * max_output_bytes)}


_NO_STDIN = """\
def input(original, prompt="", *args, **kwargs):
    if kernel._allow_stdin:
        try:
            return original(prompt, *args, **kwargs)
        except EOFError:
            raise EOFError("EOF when reading a line: the caller has no more input") from None
    raise EOFError(
        "no input: this kernel has no standard input (code runs unattended; "
        "pass input= to execute to answer prompts)"
    )
"""


def _kernel_charts_source() -> str:
    return (Path(__file__).parent / "_kernel_charts.py").read_text(encoding="utf-8")


def _syntax_error_result(violation: Any, language: str) -> ExecutionResult:
    """Code that does not parse, reported as the kernel would: status `error`, not a rejection."""
    evalue = violation.message.removeprefix(f"{violation.ename}: ")
    where = f"line {violation.line}, column {violation.column}"
    traceback = [f"  Cell, {where}"]
    line = violation.snippet.rstrip()
    if line and "\n" not in line and violation.column <= len(line) + 1:
        traceback += [f"    {line}", "    " + " " * (violation.column - 1) + "^"]
    traceback.append(f"{violation.ename}: {evalue} ({where})")
    return ExecutionResult(
        status="error",
        language=language,
        error=ErrorInfo(ename=violation.ename, evalue=evalue, traceback=traceback),
    )


# Validating ordinary cells takes well under a millisecond; hostile input can take seconds.
# Past this bound the code is rejected (and a stuck worker process killed).
_VALIDATION_TIMEOUT_S = 10.0


# Run once in every pooled Python kernel, as two cells: IPython's tee restores the streams'
# `write` when the cell that patched it ends, so the cap is installed only once the tee is off.
# Neither cell leaves a name behind.
_PYTHON_SETUP = (
    """
import contextlib as __companion_contextlib

# IPython 9 tees every write into an in-kernel output history that is never trimmed: a flood
# would exhaust the kernel's memory there first. The host keeps the outputs.
if hasattr(get_ipython(), "_tee"):
    get_ipython()._tee = lambda channel, _null=__companion_contextlib.nullcontext: _null()
del __companion_contextlib

# Code runs as the validator reads it: with automagic and aliases, a plain line such as
# `ls -la` would silently run a shell command. Explicit `!cmd` and `%magic` still work.
get_ipython().automagic = False
get_ipython().alias_manager.clear_aliases()
""",
    """
def __companion_output_cap(limit):
    import sys

    written = [0]

    def reset(*_):
        written[0] = 0

    get_ipython().events.register("pre_execute", reset)
    for stream in (sys.stdout, sys.stderr):
        def write(text, _write=stream.write):
            room = limit - written[0]
            if room <= 0:
                return len(text)
            written[0] += len(text)
            if len(text) > room:
                # One huge write is cut here too, or it would reach the host whole.
                _write(text[:room])
                return len(text)
            return _write(text)
        stream.write = write


__companion_output_cap(__LIMIT__)
del __companion_output_cap
""",
    # Figures carry a chart description beside their image (see companion_kernel.charts).
    # The code runs in a namespace of its own; a failure only means no descriptions.
    f"""
def __companion_charts(source):
    namespace = {{"__name__": "companion_charts"}}
    try:
        exec(compile(source, "<companion-charts>", "exec"), namespace)
        namespace["install"](get_ipython())
    except Exception:
        pass


__companion_charts({_kernel_charts_source()!r})
del __companion_charts
""",
    # Nothing can answer input() in an unattended kernel: say so at once in one line
    # (EOFError, as for a closed stdin) instead of ipykernel's internal traceback. A
    # frontend that allows stdin still gets ipykernel's input requests.
    """
def __companion_no_stdin(kernel):
    import functools

    import linecache

    # Its own file name and source lines, so the traceback's last frame reads plainly.
    source, name = __COMPANION_NO_STDIN, "<no stdin>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    namespace = {"kernel": kernel}
    exec(compile(source, name, "exec"), namespace)
    kernel.raw_input = functools.partial(namespace["input"], kernel.raw_input)
    kernel.getpass = functools.partial(namespace["input"], kernel.getpass)


__companion_no_stdin(get_ipython().kernel)
del __companion_no_stdin
""".replace("__COMPANION_NO_STDIN", repr(_NO_STDIN)),
)

# Imports `EngineConfig.preload` into sys.modules only: the names stay unbound until a
# cell imports them (then instantly). A module that fails is reported, the rest loaded.
_PRELOAD = """
def __companion_preload(names):
    import importlib

    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name}: {exc!r}")
    if failed:
        raise ImportError("; ".join(failed))


try:
    __companion_preload(__MODULES__)
finally:
    del __companion_preload
"""


class _UnavailableKernel(KernelHandle):
    """Stands in for a kernel whose language cannot run here; fails to start with the reason."""

    def __init__(self, language: str, problem: str) -> None:
        self.id = "unavailable"
        self.language = language
        self._problem = problem

    async def start(self, timeout: float) -> None:
        raise KernelStartError(f"the {self.language} kernel cannot run here: {self._problem}")

    def send_execute(self, code: str, **kwargs: Any) -> str:
        raise NotImplementedError

    def send_shell(
        self, msg_type: str, content: dict[str, Any], *, subshell_id: str | None = None
    ) -> str:
        raise NotImplementedError

    async def control_request(
        self, msg_type: str, content: dict[str, Any], timeout: float = 10.0
    ) -> dict[str, Any] | None:
        return None

    async def get_iopub(self, timeout: float) -> dict[str, Any] | None:
        return None

    async def get_shell(self, timeout: float) -> dict[str, Any] | None:
        return None

    def is_alive(self) -> bool:
        return False

    async def heartbeat(self, timeout: float = 1.0) -> bool:
        return False

    async def interrupt(self) -> None:
        return None

    async def shutdown(self, now: bool = True) -> None:
        return None


# -- synchronous facade -----------------------------------------------------------------------


class _LoopThread:
    """An event loop on a daemon thread; sync calls submit coroutines to it and wait."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.stopped = False
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="ck-loop")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a sync call was made from the engine's own loop thread")
        if self.stopped:
            coro.close()
            raise EngineClosed("the engine is closed; create a new SyncEngine")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except BaseException:
            # Ctrl-C (KeyboardInterrupt) or a timeout: the call is cancelled on the loop too.
            # A cancelled execution interrupts its cell, so the next call does not wait for it.
            future.cancel()
            raise

    def stop(self) -> None:
        self.stopped = True
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
        if not self.loop.is_running():
            self.loop.close()


class SyncSession:
    """Blocking twin of `Session`."""

    def __init__(self, session: Session, runner: _LoopThread) -> None:
        self._session = session
        self._runner = runner

    @property
    def id(self) -> str:
        """The session id."""
        return self._session.id

    @property
    def name(self) -> str | None:
        """The session name."""
        return self._session.name

    @property
    def language(self) -> str:
        """The session language."""
        return self._session.language

    def execute(self, code: str | bytes, **kwargs: Any) -> ExecutionResult:
        """Run code in the session (blocking)."""
        return self._runner.run(self._session.execute(code, **kwargs))

    def start(self) -> None:
        """Get the session's kernel and workspace now rather than at its first execution."""
        self._runner.run(self._session.start())

    @property
    def files(self) -> SyncFiles:
        """Blocking file operations on the session's workspace."""
        return SyncFiles(self._session.files, self._runner.run)

    @property
    def workspace(self) -> Path | None:
        """Host directory of the session's workspace."""
        return self._session.workspace

    def restart(self) -> None:
        """Replace the kernel; state is lost."""
        self._runner.run(self._session.restart())

    def interrupt(self) -> None:
        """Interrupt the running execution (callable from any thread); state is kept."""
        self._runner.run(self._session.interrupt())

    def close(self) -> None:
        """Close the session."""
        self._runner.run(self._session.close())

    def __enter__(self) -> SyncSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncEngine:
    """Blocking twin of `Engine` for scripts; safe to call from inside a running event loop.

    The async engine runs on its own thread, so a notebook's loop is never blocked by it
    nor re-entered.
    """

    def __init__(self, config: EngineConfig | None = None, **overrides: Any) -> None:
        self._runner = _LoopThread()
        try:
            self._engine = self._runner.run(_make_engine(config, overrides))
        except BaseException:
            self._runner.stop()
            raise
        if overrides.get("handle_signals", True):
            _signals.install_signal_handlers()  # from the caller's thread, not the loop's
        atexit.register(self.close)

    @property
    def engine(self) -> Engine:
        """The underlying async engine (use only from its loop)."""
        return self._engine

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until the pools are warm."""
        self._runner.run(self._engine.wait_ready(timeout))

    def execute(
        self, code: str | bytes, language: str | None = None, **kwargs: Any
    ) -> ExecutionResult:
        """Run code (blocking); see `Engine.execute`."""
        return self._runner.run(self._engine.execute(code, language, **kwargs))

    def evaluate(self, expression: str, language: str = "python", **kwargs: Any) -> Any:
        """Evaluate an expression (blocking); see `Engine.evaluate`."""
        return self._runner.run(self._engine.evaluate(expression, language, **kwargs))

    def session(self, language: str | None = None, **kwargs: Any) -> SyncSession:
        """Create a started session (blocking)."""
        session = self._runner.run(self._engine.create_session(language, **kwargs))
        return SyncSession(session, self._runner)

    def get_session(self, key: str) -> SyncSession:
        """Find an open session by id or name."""
        return SyncSession(self._engine.get_session(key), self._runner)

    def sessions(self) -> list[SyncSession]:
        """Open sessions."""
        return [SyncSession(s, self._runner) for s in self._engine.sessions()]

    def close(self) -> None:
        """Shut everything down. Safe to call twice."""
        if self._runner.stopped:
            return
        with contextlib.suppress(Exception):
            self._runner.run(self._engine.aclose(), timeout=60)
        self._runner.stop()
        atexit.unregister(self.close)

    def __enter__(self) -> SyncEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _make_engine(config: EngineConfig | None, overrides: dict[str, Any]) -> Engine:
    return await Engine(config, **overrides).start()
