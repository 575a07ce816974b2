"""A stateful session: one kernel, executions queued in order, timeouts that escalate."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import os
import re
import shlex
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._kernel import KernelHandle
from ._messages import OutputCollector
from .errors import InvalidRequest, SessionClosed, SessionError
from .languages import get_language
from .models import ErrorInfo, ExecutionEvent, ExecutionResult, Output, StreamOutput
from .sandbox._mounts import remove_tree
from .stdin import InputAnswers, InputSource
from .workspace import WorkspaceFiles

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Session", "SessionState"]

# How often a waiting execution wakes to check that its kernel is still alive.
_LIVENESS_SLICE_S = 0.25
# If the execute_reply came but the idle status never does (dropped iopub), give up after this.
_IDLE_AFTER_REPLY_S = 1.0
# A reply with no iopub message at all for this long means the kernel's iopub is gone: every
# later cell would come back `ok` and empty, so the kernel is replaced instead.
_IOPUB_SILENCE_S = 5.0
# While stopping a cell, the interrupt is repeated this often until the kernel reacts.
_REINTERRUPT_S = 0.5

Callback = Callable[[Any], None]
CommHandler = Callable[["Session", dict[str, Any]], None]


class SessionState(enum.Enum):
    """Lifecycle of a session."""

    NEW = "new"
    """Created, no kernel yet (one is acquired on first use)."""
    READY = "ready"
    """Has a live kernel."""
    DEAD = "dead"
    """The kernel died; the next execution (or `restart()`) brings a fresh one."""
    CLOSED = "closed"
    """Closed for good."""


@dataclass
class _Outcome:
    status: str
    error: ErrorInfo | None = None
    kernel_usable: bool = True
    execution_count: int | None = None
    state_lost: bool = False


class Session:
    """A kernel of one language that keeps its state between executions.

    Get one with `engine.session(language)` (an async context manager) or
    `await engine.create_session(language, name=...)`.
    """

    def __init__(
        self,
        engine: Engine,
        language: str,
        *,
        name: str | None = None,
        policy: Any = None,
        timeout: float | None = None,
        background_processes: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        workspace: str | os.PathLike[str] | None = None,
        workspace_readonly: bool = False,
        keep_workspace: bool = False,
    ) -> None:
        self.id: str = uuid.uuid4().hex
        """Unique id; `engine.get_session(id)` finds the session again."""
        self.name: str | None = name
        """Optional name given at creation; also accepted by `engine.get_session`."""
        self.language: str = language
        """Canonical language name."""
        self.policy = policy
        """Validator policy for this session (None: the engine's)."""
        self.timeout: float | None = timeout
        """Default execution timeout for this session (None: the engine's)."""
        self.background_processes: bool = background_processes
        """Keep processes a cell started after the cell ends (default: they are killed)."""
        self.env: dict[str, str] = _check_env(env or {})
        """Environment variables set in every kernel of this session."""
        self.cwd: str | None = _check_cwd(cwd)
        """Working directory of the session's kernels, relative to the workspace (or
        absolute inside the sandbox), created if missing; None: the workspace itself."""
        self.workspace: Path | None = None
        """Host directory of the session's workspace (the kernel's /workspace): set once
        the first kernel comes, kept across kernel replacements, removed at close unless
        attached or kept."""
        self.keep_workspace: bool = keep_workspace
        """Leave the workspace on disk when the session closes."""
        self._workspace_attached = workspace is not None
        self._workspace_readonly = workspace_readonly
        if workspace is not None:
            path = Path(workspace).resolve()
            if not path.is_dir():
                raise InvalidRequest(f"workspace {str(workspace)!r} is not a directory")
            self.workspace = path
        elif workspace_readonly:
            raise InvalidRequest("workspace_readonly needs an attached workspace=path")
        self.created_at: float = time.time()
        self.last_used: float = time.monotonic()
        self.state: SessionState = SessionState.NEW
        self.restarts: int = 0
        """How many times the kernel was replaced (each time, state was lost)."""
        self._engine = engine
        self._kernel: KernelHandle | None = None
        self._lock = asyncio.Lock()
        self._pending_state_lost = False
        self._resident: frozenset[int] = frozenset()
        self._busy = False
        self._current: asyncio.Task[ExecutionResult] | None = None
        self._close_reason: str | None = None
        self.comm_handler: CommHandler | None = None
        """Called with every comm message the kernel sends (used by the tool bridge)."""
        self.on_kernel_start: list[Callable[[Session], Any]] = []
        """Async callbacks run whenever this session gets a (new) kernel."""

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Session:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> Session:
        """Acquire a warm kernel now (otherwise it happens on first execution)."""
        async with self._lock:
            await self._ensure_kernel()
        self.last_used = time.monotonic()  # a slow cold start is not idle time
        return self

    @property
    def busy(self) -> bool:
        """True while an execution is running or queued."""
        return self._busy or self._lock.locked()

    @property
    def kernel(self) -> KernelHandle | None:
        """The current kernel handle (None before start and after close)."""
        return self._kernel

    async def _ensure_kernel(self) -> None:
        if self.state is SessionState.CLOSED:
            raise SessionClosed(f"session {self.label} is closed; create a new one")
        if self._kernel is not None and self.state is SessionState.READY:
            return
        if self._kernel is not None:
            self._engine._discard_kernel(self._kernel)
            self._kernel = None
        if self.workspace is None:
            # The first kernel is a warm one; its workspace becomes the session's.
            kernel = await self._engine._acquire_kernel(self.language)
            self.workspace = kernel.release_workspace()
        else:
            # Later kernels (and any kernel of an attached workspace) are started bound
            # to the session's workspace, so files survive restarts and deaths.
            kernel = await self._engine._start_kernel_for(
                self.language,
                self.workspace,
                attached=self._workspace_attached,
                read_only=self._workspace_readonly,
            )
        if self.state is SessionState.CLOSED:  # closed while the kernel was coming
            self._engine._discard_kernel(kernel)
            raise SessionClosed(f"session {self.label} was closed while it started")
        if self.env or self.cwd:
            failed = await run_setup_cell(kernel, _setup_code(self.language, self.env, self.cwd))
            if failed:
                self._engine._discard_kernel(kernel)
                raise InvalidRequest(f"could not apply the session's env/cwd: {failed}")
        self._kernel = kernel
        # What the kernel runs when idle: anything beyond it was started by a cell.
        self._resident = kernel.processes()
        self.state = SessionState.READY
        for hook in self.on_kernel_start:
            await hook(self)

    async def _end_strays(self, kernel: KernelHandle) -> None:
        """Kill what a cell started beyond the kernel's idle processes: no spinner left
        eating the CPU quota, no server left listening (unless the session opted in)."""
        if self.background_processes:
            return
        keep = get_language(self.language).resident_children
        for _ in range(3):  # a process may fork while we kill: a few rounds catch chains
            strays = kernel.processes() - self._resident
            if not strays:
                return
            await asyncio.to_thread(kernel.kill_strays, strays, keep)

    async def restart(self) -> None:
        """Replace the kernel with a fresh one. All state (variables, imports) is lost."""
        async with self._lock:
            if self.state is SessionState.CLOSED:
                raise SessionClosed(f"session {self.label} is closed; create a new one")
            self._drop_kernel_locked(SessionState.NEW)
            await self._ensure_kernel()

    def _drop_kernel_locked(self, state: SessionState) -> None:
        """Give the kernel up for good: its state is lost; the next execution gets a new one."""
        if self._kernel is not None:
            self._engine._discard_kernel(self._kernel)
            self._kernel = None
        self.state = state
        self.restarts += 1
        self._pending_state_lost = True

    async def interrupt(self) -> None:
        """Interrupt the running execution (it returns with an error, state kept)."""
        if self._kernel is not None:
            await self._kernel.interrupt()

    async def close(self, reason: str | None = None) -> None:
        """Close the session and give its kernel back (it is shut down, never reused).

        Executions still running or queued each return a result with status `cancelled`
        (`reason`, if given, is in its error message).
        """
        if self.state is SessionState.CLOSED:
            return
        self.state = SessionState.CLOSED
        self._close_reason = reason
        # Stop the running execution before its kernel goes: it must not read from sockets
        # being closed, nor mistake the shutdown for a crash.
        current = self._current
        if current is not None and current is not asyncio.current_task():
            current.cancel()
        kernel, self._kernel = self._kernel, None
        if kernel is not None:
            self._engine._discard_kernel(kernel)
        self._engine._forget_session(self)
        if self.workspace is not None and not (self._workspace_attached or self.keep_workspace):
            await asyncio.to_thread(remove_tree, self.workspace)

    @property
    def files(self) -> WorkspaceFiles:
        """File operations on the session's workspace (write, read, stream, list, ...).

        Available once the session has started (``async with`` or ``start()``).
        """
        if self.workspace is None:
            raise SessionError(
                f"session {self.label} has no workspace yet: start it first "
                "(`async with engine.session(...)` or `await session.start()`)"
            )
        kernel = self._kernel
        limits = self._engine.config.limits
        return WorkspaceFiles(
            self.workspace,
            owner=None if self._workspace_attached or kernel is None else kernel.workspace_owner,
            max_file_bytes=limits.fsize_mb * 1024 * 1024 if limits.fsize_mb else None,
            read_only=self._workspace_readonly,
        )

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self.state is SessionState.CLOSED

    @property
    def label(self) -> str:
        """The name if it has one, else the id."""
        return self.name or self.id

    # -- execution -----------------------------------------------------------------------------

    async def execute(
        self,
        code: str | bytes,
        *,
        timeout: float | None = None,
        on_stdout: Callable[[str], None] | None = None,
        on_stderr: Callable[[str], None] | None = None,
        on_output: Callable[[Output], None] | None = None,
        on_event: Callable[[ExecutionEvent], None] | None = None,
        policy: Any = None,
        validate: bool = True,
        input: InputSource | None = None,
    ) -> ExecutionResult:
        """Run `code` in this session's kernel and return its result.

        Executions on one session run one at a time, in submission order. Callbacks see
        outputs as they are produced. `timeout` (seconds) interrupts the kernel at the
        deadline and replaces it if it does not stop within the grace period. `input`
        answers the code's prompts (`input()`, `$$.input()`, `read`): a string (each line
        one answer), a list of answers, or a callback (see `companion_kernel.stdin`);
        without it, prompts fail at once.
        """
        config = self._engine.config
        code = _check_code(code, config.max_code_bytes)
        timeout = _check_timeout(timeout if timeout is not None else self.timeout, config.timeout_s)
        answers = InputAnswers(input) if input is not None else None
        started = time.monotonic()
        if self.state is SessionState.CLOSED:
            raise SessionClosed(f"session {self.label} is closed; create a new one")
        if validate:
            rejected = await self._engine._validate(code, self.language, policy or self.policy)
            if rejected is not None:
                rejected.session_id = self.id
                rejected.duration_s = time.monotonic() - started
                return rejected
        handler = _event_handler(on_stdout, on_stderr, on_output, on_event)
        # The execution runs in a task of its own: when the caller is cancelled (or gives up
        # on a sync call), it is abandoned, not torn down half-way. It then stops its cell
        # (interrupt, or a new kernel) and keeps the session's lock until the cell has ended,
        # so the next execution neither waits behind the cell nor sees its messages.
        abandoned = asyncio.Event()
        work = asyncio.ensure_future(
            self._run_submission(code, timeout, handler, started, abandoned, answers)
        )
        work.add_done_callback(_retrieve)
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            abandoned.set()
            raise

    async def _run_submission(
        self,
        code: str,
        timeout: float,
        handler: Callable[[ExecutionEvent], None] | None,
        started: float,
        abandoned: asyncio.Event,
        answers: InputAnswers | None = None,
    ) -> ExecutionResult:
        async with self._lock:
            if self.state is SessionState.CLOSED or abandoned.is_set():
                return self._cancelled(started)  # queued when the session closed: never sent
            self._busy = True
            self._current = asyncio.current_task()  # type: ignore[assignment]
            try:
                return await self._execute_locked(
                    code, timeout, handler, started, abandoned, answers
                )
            finally:
                self._current = None
                self._busy = False
                self.last_used = time.monotonic()

    def _cancelled(
        self, started: float, collector: OutputCollector | None = None
    ) -> ExecutionResult:
        why = self._close_reason or "the session (or its engine) was closed"
        error = ErrorInfo(
            ename="Cancelled",
            evalue=f"{why} before this execution finished; it was stopped with its kernel",
        )
        fields: dict[str, Any] = {
            "status": "cancelled",
            "language": self.language,
            "duration_s": time.monotonic() - started,
            "error": error,
            "state_lost": True,
            "session_id": self.id,
        }
        if collector is None:
            return ExecutionResult(**fields)
        return collector.build(**fields, execution_count=collector.execution_count)

    async def stream(
        self, code: str | bytes, *, timeout: float | None = None, **kwargs: Any
    ) -> AsyncIterator[ExecutionEvent]:
        """Yield events as the execution produces them; the last one has kind `done`."""
        queue: asyncio.Queue[ExecutionEvent] = asyncio.Queue()
        task = asyncio.ensure_future(
            self.execute(code, timeout=timeout, on_event=queue.put_nowait, **kwargs)
        )
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield getter.result()
                    continue
                getter.cancel()
                while not queue.empty():
                    yield queue.get_nowait()
                yield ExecutionEvent(kind="done", result=task.result())
                return
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _execute_locked(
        self,
        code: str,
        timeout: float,
        handler: Callable[[ExecutionEvent], None] | None,
        started: float,
        abandoned: asyncio.Event,
        answers: InputAnswers | None = None,
    ) -> ExecutionResult:
        config = self._engine.config
        collector = OutputCollector(config.max_output_bytes, handler)
        try:
            if self._kernel is not None and not self._kernel.is_alive():
                # It died between executions (killed, OOM, ...): start over on a fresh kernel
                # rather than send this cell into the void.
                self._drop_kernel_locked(SessionState.DEAD)
            await self._ensure_kernel()
            if abandoned.is_set():
                return self._cancelled(started)  # the caller left before it was sent
            state_lost, self._pending_state_lost = self._pending_state_lost, False
            kernel = self._kernel
            assert kernel is not None
            await self._end_strays(kernel)  # started late by the previous cell
            outcome = await run_cell(
                kernel,
                code,
                collector,
                timeout=timeout,
                grace=config.interrupt_grace_s,
                on_comm=self._dispatch_comm,
                stop=abandoned,
                answers=answers,
            )
        except asyncio.CancelledError:
            if self.state is not SessionState.CLOSED:
                raise
            return self._cancelled(started, collector)
        if self.state is SessionState.CLOSED and not outcome.kernel_usable:
            return self._cancelled(started, collector)  # its kernel went with the session
        if outcome.kernel_usable:
            await self._end_strays(kernel)
        if not outcome.kernel_usable:
            self._drop_kernel_locked(
                SessionState.DEAD if outcome.status == "died" else SessionState.NEW
            )
            state_lost = True
        return collector.build(
            status=outcome.status,  # type: ignore[arg-type]
            language=self.language,
            duration_s=time.monotonic() - started,
            error=outcome.error,
            state_lost=state_lost or outcome.state_lost,
            session_id=self.id,
            execution_count=outcome.execution_count,
        )

    def _dispatch_comm(self, msg: dict[str, Any]) -> None:
        if self.comm_handler is not None:
            self.comm_handler(self, msg)

    def __repr__(self) -> str:
        name = f" name={self.name!r}" if self.name else ""
        return f"<Session {self.id[:8]}{name} {self.language} {self.state.value}>"


async def run_cell(
    kernel: KernelHandle,
    code: str,
    collector: OutputCollector,
    *,
    timeout: float,
    grace: float,
    on_comm: Callable[[dict[str, Any]], None] | None = None,
    silent: bool = False,
    stop: asyncio.Event | None = None,
    answers: InputAnswers | None = None,
) -> _Outcome:
    """Send one execute_request and follow it to the end, a timeout, or the kernel's death.

    Setting `stop` ends the cell early as a timeout would (interrupt, then a new kernel).
    With `answers`, the kernel may ask for input and is answered from them.
    """
    if answers is None:
        # Without `allow_stdin`: handles that predate stdin support keep working.
        msg_id = kernel.send_execute(code, silent=silent, store_history=not silent)
        return await _follow_cell(kernel, msg_id, collector, timeout, grace, on_comm, stop)
    msg_id = kernel.send_execute(code, silent=silent, store_history=not silent, allow_stdin=True)
    server = asyncio.ensure_future(answers.serve(kernel, msg_id))
    try:
        outcome = await _follow_cell(kernel, msg_id, collector, timeout, grace, on_comm, stop)
    finally:
        waiting = answers.waiting
        server.cancel()
        with contextlib.suppress(BaseException):
            await server
    if answers.error is not None and outcome.status in ("ok", "error"):
        # The kernel's own error is only the end of input the failed callback caused.
        collector.error = None
        outcome.status, outcome.error = "error", answers.error
    elif outcome.status == "timeout" and waiting is not None and outcome.error is not None:
        outcome.error.evalue += (
            f" (it was waiting for the input callback to answer prompt {waiting.number}, "
            f"{waiting.prompt!r})"
        )
    return outcome


async def _follow_cell(
    kernel: KernelHandle,
    msg_id: str,
    collector: OutputCollector,
    timeout: float,
    grace: float,
    on_comm: Callable[[dict[str, Any]], None] | None,
    stop: asyncio.Event | None,
) -> _Outcome:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    reply: dict[str, Any] | None = None
    reply_at = 0.0
    heard = False
    while not collector.idle:
        remaining = deadline - loop.time()
        if remaining <= 0 or (stop is not None and stop.is_set()):
            return await _on_timeout(kernel, msg_id, collector, timeout, grace, on_comm)
        msg = await kernel.get_iopub(min(remaining, _LIVENESS_SLICE_S))
        if msg is None:
            if not kernel.is_alive():
                return _died(kernel)
            if reply is None:
                reply = await _read_reply(kernel, msg_id, 0)
                reply_at = loop.time()
            elif not heard and loop.time() - reply_at > _IOPUB_SILENCE_S:
                return _iopub_lost(kernel)
            elif heard and loop.time() - reply_at > _IDLE_AFTER_REPLY_S:
                break  # the idle status was lost (iopub overflow); the reply is authoritative
            continue
        heard = True
        _route(msg, msg_id, collector, on_comm)
    if reply is None:
        reply = await _read_reply(kernel, msg_id, max(deadline - loop.time(), 0) + grace)
        if reply is None and not kernel.is_alive():
            return _died(kernel)
    content = (reply or {}).get("content", {})
    status = "ok"
    if content.get("status") == "error" or collector.error is not None:
        status = "error"
    elif content.get("status") == "aborted":
        status = "error"
        collector.error = None
    return _Outcome(
        status=status,
        execution_count=content.get("execution_count"),
        # Set by our shell kernel when bash exited or was killed and had to be restarted.
        state_lost=content.get("companion_state_lost") is True,
    )


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_env(env: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name, value in env.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise InvalidRequest(f"environment variable name {name!r} is not a valid name")
        if not isinstance(value, str) or "\0" in value:
            raise InvalidRequest(f"environment variable {name} must be a string without NUL")
        out[name] = value
    return out


def _check_cwd(cwd: str | None) -> str | None:
    if cwd is None:
        return None
    if not isinstance(cwd, str) or not cwd or "\0" in cwd:
        raise InvalidRequest(f"cwd must be a non-empty path, not {cwd!r}")
    return cwd


def _setup_code(language: str, env: Mapping[str, str], cwd: str | None) -> str:
    """A cell that sets the session's environment and working directory in a kernel."""
    values = json.dumps(dict(env))
    where = json.dumps(cwd) if cwd is not None else None
    if language == "python":
        code = f"import os as _o\n_o.environ.update({values})\n"
        if where:
            code += f"_o.makedirs({where}, exist_ok=True)\n_o.chdir({where})\n"
        return code + "del _o\n"
    if language == "javascript":
        code = f"Object.assign(process.env, {values});\n"
        if where:
            code += f"require('fs').mkdirSync({where}, {{recursive: true}});\n"
            code += f"process.chdir({where});\n"
        return code
    lines = [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    if cwd is not None:
        lines.append(f"mkdir -p -- {shlex.quote(cwd)} && cd -- {shlex.quote(cwd)}")
    return "\n".join(lines) + "\n"


async def run_setup_cell(
    kernel: KernelHandle,
    code: str,
    *,
    on_comm: Callable[[dict[str, Any]], None] | None = None,
) -> str | None:
    """Run set-up code silently (no history, no counter); return why it failed, or None."""
    collector = OutputCollector(64 * 1024)
    outcome = await run_cell(
        kernel, code, collector, timeout=30, grace=1, on_comm=on_comm, silent=True
    )
    if outcome.status == "ok":
        return None
    return str(collector.error or outcome.error or outcome.status)


def _route(
    msg: dict[str, Any],
    msg_id: str,
    collector: OutputCollector,
    on_comm: Callable[[dict[str, Any]], None] | None,
) -> None:
    msg_type = msg["header"]["msg_type"]
    if msg_type.startswith("comm_"):
        # An oversized or undecodable comm message arrives without content: nothing to handle.
        if on_comm is not None and not (msg.get("oversized") or msg.get("malformed")):
            on_comm(msg)
        return
    if msg.get("parent_header", {}).get("msg_id") == msg_id:
        collector.feed(msg)


async def _read_reply(kernel: KernelHandle, msg_id: str, timeout: float) -> dict[str, Any] | None:
    """The shell reply to `msg_id`, skipping stale replies to earlier requests."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await kernel.get_shell(max(deadline - loop.time(), 0))
        if msg is None:
            return None
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg


def _retrieve(task: asyncio.Future[Any]) -> None:
    # An abandoned execution's outcome has no reader; fetch it so asyncio does not warn.
    if not task.cancelled():
        task.exception()


def _iopub_lost(kernel: KernelHandle) -> _Outcome:
    return _Outcome(
        status="died",
        error=ErrorInfo(
            ename="KernelDied",
            evalue=(
                f"the {kernel.language} kernel answered but sent no output for "
                f"{_IOPUB_SILENCE_S:g}s: its output channel (iopub) is gone, so this cell's "
                "output is lost. The kernel was replaced and its state is lost."
            ),
        ),
        kernel_usable=False,
    )


def _died(kernel: KernelHandle) -> _Outcome:
    return _Outcome(
        status="died",
        error=ErrorInfo(
            ename="KernelDied",
            evalue=(
                f"the {kernel.language} kernel died during execution "
                f"({kernel.lost or _exit_cause(kernel.exit_status, kernel.limits_reached())}); "
                "its state is "
                "lost. The session gets "
                "a fresh kernel on its next execution, or call restart()."
            ),
        ),
        kernel_usable=False,
    )


# What usually sends each signal to a kernel running under the sandbox's limits.
_SIGNAL_CAUSES = {
    signal.SIGKILL: "killed: by the memory limit (out of memory), the CPU limit or from outside",
    signal.SIGABRT: "aborted: out of memory, or a thread or process could not be created",
    signal.SIGSEGV: "crashed with a segmentation fault",
    signal.SIGBUS: "crashed with a bus error",
    signal.SIGXCPU: "stopped by the CPU time limit",
    signal.SIGXFSZ: "stopped by the file size limit",
}


# Counted by the kernel's cgroups, so more certain than what a signal suggests.
_LIMIT_CAUSES = {
    "memory": "killed by the memory limit (out of memory)",
    "pids": (
        "the process/thread limit (Limits.pids) was reached: a thread or process could "
        "not be created"
    ),
}


def _exit_cause(status: int | None, limits: frozenset[str] = frozenset()) -> str:
    reached = "; ".join(_LIMIT_CAUSES[name] for name in ("memory", "pids") if name in limits)
    if reached:
        return reached if status is None else f"{reached}; exit status {status}"
    if status is None:
        return "the process exited or crashed"
    # Popen reports signal N as -N; bubblewrap and shells exit with 128 + N instead.
    signum = -status if status < 0 else status - 128 if status > 128 else 0
    try:
        sig = signal.Signals(signum)
    except ValueError:
        return f"the process exited with status {status}"
    return f"{_SIGNAL_CAUSES.get(sig, 'killed by a signal')}; {sig.name}, exit status {status}"


async def _on_timeout(
    kernel: KernelHandle,
    msg_id: str,
    collector: OutputCollector,
    timeout: float,
    grace: float,
    on_comm: Callable[[dict[str, Any]], None] | None,
) -> _Outcome:
    loop = asyncio.get_running_loop()
    # Kernels ignore an interrupt that arrives before the cell runs (between cells SIGINT is
    # ignored): interrupt once the cell has started (execute_input), or after `grace` without
    # a sign of it, and again until the cell reports its error. `grace` counts from then.
    start_by = loop.time() + grace
    deadline: float | None = None
    next_interrupt = 0.0
    error_before = collector.error
    while not collector.idle:
        now = loop.time()
        if deadline is None and (collector.execution_count is not None or now >= start_by):
            deadline = now + grace
        reacted = collector.error is not error_before
        if deadline is not None:
            if now >= deadline:
                break
            if now >= next_interrupt and not reacted:
                await kernel.interrupt()
                next_interrupt = now + _REINTERRUPT_S
        until = start_by if deadline is None else deadline
        if deadline is not None and not reacted:
            until = min(until, next_interrupt)
        msg = await kernel.get_iopub(min(max(until - now, 0.01), _LIVENESS_SLICE_S))
        if msg is None:
            if not kernel.is_alive():
                break
            continue
        _route(msg, msg_id, collector, on_comm)
    # The interrupt's own KeyboardInterrupt traceback is noise next to the timeout error.
    collector.error = None
    if collector.idle:
        reply = await _read_reply(kernel, msg_id, grace)
        count = (reply or {}).get("content", {}).get("execution_count")
        return _Outcome(
            status="timeout",
            error=ErrorInfo(
                ename="Timeout",
                evalue=(
                    f"execution exceeded the {timeout:g}s timeout and was interrupted; "
                    "the session's state was kept"
                ),
            ),
            execution_count=count,
        )
    return _Outcome(
        status="timeout",
        error=ErrorInfo(
            ename="Timeout",
            evalue=(
                f"execution exceeded the {timeout:g}s timeout and did not stop within "
                f"{grace:g}s of an interrupt, so the kernel was replaced; state was lost"
            ),
        ),
        kernel_usable=False,
    )


def _check_code(code: str | bytes, max_bytes: int) -> str:
    if isinstance(code, bytes | bytearray):
        try:
            code = bytes(code).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidRequest(
                f"code is not valid UTF-8 (byte {exc.start}: {exc.reason}); decode it first"
            ) from None
    if not isinstance(code, str):
        raise InvalidRequest(f"code must be str or bytes, not {type(code).__name__}")
    if not code.strip():
        raise InvalidRequest("code is empty")
    if "\x00" in code:
        raise InvalidRequest(f"code contains a NUL byte (at offset {code.index(chr(0))})")
    size = len(code.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise InvalidRequest(
            f"code is {size:,} bytes, over the {max_bytes:,}-byte limit "
            "(EngineConfig.max_code_bytes)"
        )
    return code


def _check_timeout(timeout: float | None, default: float) -> float:
    if timeout is None:
        return default
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout != timeout:
        raise InvalidRequest(f"timeout must be a positive number of seconds, not {timeout!r}")
    if timeout <= 0:
        raise InvalidRequest(f"timeout must be > 0 seconds, not {timeout!r}")
    return float(timeout)


def _event_handler(
    on_stdout: Callable[[str], None] | None,
    on_stderr: Callable[[str], None] | None,
    on_output: Callable[[Output], None] | None,
    on_event: Callable[[ExecutionEvent], None] | None,
) -> Callable[[ExecutionEvent], None] | None:
    if not (on_stdout or on_stderr or on_output or on_event):
        return None

    def handle(event: ExecutionEvent) -> None:
        if on_event is not None:
            on_event(event)
        out = event.output
        if event.kind != "output" or out is None:
            return
        if on_output is not None:
            on_output(out)
        if isinstance(out, StreamOutput):
            callback = on_stdout if out.name == "stdout" else on_stderr
            if callback is not None:
                callback(out.text)

    return handle
