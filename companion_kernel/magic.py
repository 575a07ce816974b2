"""IPython magics: run cells in pooled companion kernels from a notebook.

```
%load_ext companion_kernel

%%companion -l javascript -s web
console.log([1, 2, 3].map(x => x * 2))
```

Cell magics: `%%companion [-l LANG] [-s SESSION] [--timeout S] [--policy P] [-o VAR]`
and the short forms `%%py`, `%%node` and `%%shell` (`%%js` is left to IPython, which
runs it in the browser); P is a preset or a policy file (`.toml`). Line magics:
`%companion sessions|stats|restart NAME|close NAME|doctor|config [KEY=VALUE ...]|
upload LOCAL [REMOTE]|download REMOTE [LOCAL]|shutdown`, `%tools [QUERY]` and
`%tool NAME ARGS...`.

Outputs appear as they arrive. When the code itself raises, the cell fails with the
companion kernel's traceback; rejections, timeouts and dead kernels print a short message.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import queue
import shlex
import sys
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .config import EngineConfig, PoolConfig
from .engine import SyncEngine, SyncSession
from .errors import CompanionKernelError, SessionNotFound, ToolError, UnknownLanguage
from .languages import canonical_language
from .models import (
    DisplayDataOutput,
    ErrorOutput,
    ExecuteResultOutput,
    ExecutionEvent,
    ExecutionResult,
    StreamOutput,
)
from .workspace import CHUNK_BYTES

__all__ = [
    "CompanionCellError",
    "CompanionMagics",
    "load_ipython_extension",
    "magic_engine_config",
    "shared_engine",
    "unload_ipython_extension",
]

# Settings the running engine reads at each execution: changed in place, sessions kept.
_LIVE_SETTINGS = frozenset(
    {"policy", "timeout_s", "interrupt_grace_s", "max_code_bytes", "default_language"}
)
_DEFAULT_SESSION = "python"
_PREFIX = "[companion]"
_DONE = object()


def magic_engine_config(**overrides: Any) -> EngineConfig:
    """The engine settings the magics start with.

    Only Python is kept warm: JavaScript and shell kernels start on first use, so a
    notebook that runs only Python never starts Node. Sessions never expire while the
    notebook is open (a notebook left alone for an hour still has its variables).
    """
    pools = {
        "python": PoolConfig(min_idle=1, max_kernels=8),
        "javascript": PoolConfig(min_idle=0, max_kernels=8),
        "shell": PoolConfig(min_idle=0, max_kernels=8),
    }
    settings: dict[str, Any] = {"pools": pools, "session_idle_timeout_s": None}
    return EngineConfig.model_validate({**settings, **overrides})


class CompanionCellError(Exception):
    """The code of a companion cell raised; IPython shows the companion kernel's traceback."""

    def __init__(self, ename: str, evalue: str, traceback: list[str] | None = None) -> None:
        super().__init__(evalue)
        self.ename = ename
        self.evalue = evalue
        self.traceback = list(traceback or [])

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of formatting our own frames: the user sees the
        # traceback from the companion kernel (or one clear line), never our internals.
        return self.traceback or [f"{self.ename}: {self.evalue}" if self.evalue else self.ename]


_ERROR_CLASSES: dict[str, type[CompanionCellError]] = {}


def _cell_error(ename: str, evalue: str, traceback: list[str] | None = None) -> CompanionCellError:
    """A `CompanionCellError` whose class is named `ename`, so the notebook shows that name."""
    name = ename if ename.isidentifier() else "CompanionCellError"
    cls = _ERROR_CLASSES.get(name)
    if cls is None:
        cls = type(name, (CompanionCellError,), {"__module__": __name__})
        _ERROR_CLASSES[name] = cls
    return cls(ename, evalue, traceback)


def _failure(exc: BaseException) -> CompanionCellError:
    """One clear line for an error raised by the engine or a tool."""
    return _cell_error(type(exc).__name__, str(exc) or type(exc).__name__)


class _MimeBundle:
    """The last expression's value of a companion cell, shown as this cell's `Out[]`."""

    def __init__(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        self.data = data
        self.metadata = metadata

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.data, self.metadata

    def __repr__(self) -> str:
        return str(self.data.get("text/plain", ""))


class _Renderer:
    """Shows a companion execution's events in the current cell, on IPython's main thread."""

    def __init__(self) -> None:
        self.result: ExecuteResultOutput | None = None
        self.error: ErrorOutput | None = None

    def handle(self, event: ExecutionEvent) -> None:
        from IPython.display import clear_output, publish_display_data

        out = event.output
        if event.kind == "clear":
            clear_output()
            self.result = None
        elif event.kind == "update" and isinstance(out, DisplayDataOutput):
            transient = {"display_id": out.display_id} if out.display_id else None
            publish_display_data(out.data, out.metadata, transient=transient, update=True)
        elif event.kind != "output" or out is None:
            return
        elif isinstance(out, StreamOutput):
            # No flush per chunk: ipykernel batches stream writes, and flushes them itself
            # before any display output, so the order is kept.
            (sys.stdout if out.name == "stdout" else sys.stderr).write(out.text)
        elif isinstance(out, ExecuteResultOutput):
            self.result = out
        elif isinstance(out, DisplayDataOutput):
            transient = {"display_id": out.display_id} if out.display_id else None
            publish_display_data(out.data, out.metadata, transient=transient)
        elif isinstance(out, ErrorOutput):
            self.error = out


def _notice(text: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(f"{_PREFIX} {text}\n")
    sys.stderr.flush()


def _policy_name(policy: Any) -> str:
    return policy if isinstance(policy, str) else str(policy.name)


def _policy(value: str | None) -> Any:
    """A `--policy` value: a preset name, or the `Policy` read from a policy file."""
    if value is None:
        return None
    from .validation import policy_option

    try:
        return policy_option(value)
    except CompanionKernelError as exc:
        raise UsageError(str(exc)) from None


def _report_outcome(result: ExecutionResult, policy: Any, config: EngineConfig) -> None:
    """Short messages for outcomes that are not the code's own exception."""
    if result.state_lost:
        _notice("the kernel was replaced before this cell ran: earlier state is gone")
    if result.truncated:
        _notice(f"output was truncated at {config.max_output_bytes:,} bytes")
    if result.status == "rejected":
        count = len(result.violations)
        name = _policy_name(policy or config.policy)
        lines = [
            f"rejected by the validator (policy {name!r}, {count} violation"
            f"{'s' if count != 1 else ''}); nothing ran:"
        ]
        for violation in result.violations:
            lines.extend(f"    {line}" for line in str(violation).splitlines())
        _notice("\n".join(lines))
    elif result.status == "timeout" and result.error is not None:
        _notice(f"timeout: {result.error.evalue}")
    elif result.status == "died" and result.error is not None:
        _notice(f"kernel died: {result.error.evalue}")


def _parse_value(text: str) -> Any:
    """A command-line token as a Python value: JSON or a literal, else the text itself."""
    for parse in (json.loads, ast.literal_eval):
        with contextlib.suppress(Exception):
            return parse(text)
    return text


def _cell_options(func: Callable[..., Any]) -> Callable[..., Any]:
    decorators = [
        argument(
            "-o",
            "--out",
            metavar="VAR",
            help="store the ExecutionResult in the notebook variable VAR",
        ),
        argument(
            "--policy",
            metavar="POLICY",
            help="validator policy for this cell: strict, standard, off or a policy file "
            "(.toml); default: the engine's ('standard')",
        ),
        argument(
            "--timeout",
            type=float,
            metavar="S",
            help="interrupt the cell after S seconds; the session keeps its state",
        ),
        argument(
            "-s",
            "--session",
            metavar="NAME",
            help="run in the named session (created on first use, kept across cells); "
            "default: one session per language, named after it",
        ),
    ]
    for decorate in decorators:
        func = decorate(func)
    return func


@magics_class
class CompanionMagics(Magics):
    """The `companion` magics. One engine per IPython shell, started on first use."""

    def __init__(self, shell: Any = None, config: EngineConfig | None = None) -> None:
        super().__init__(shell)
        self._config = config or magic_engine_config()
        self._engine: SyncEngine | None = None
        self._lock = threading.Lock()
        self._registry: Any = None

    # -- engine --------------------------------------------------------------------------------

    @property
    def engine(self) -> SyncEngine:
        """The notebook's engine, started now if it is not running yet."""
        with self._lock:
            if self._engine is None:
                # Kernel code (`tools.NAME(...)`) and %tool share one registry.
                self._engine = SyncEngine(self._config, tools=self.registry)
            return self._engine

    @property
    def registry(self) -> Any:
        """The tools of `%tools`, `%tool` and kernel code's `tools.NAME(...)` (built-ins)."""
        if self._registry is None:
            from .tools import default_registry

            self._registry = default_registry()
        return self._registry

    def close(self) -> None:
        """Stop the engine and every companion kernel (the next cell starts a new engine)."""
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()

    def _session(self, name: str | None, language: str | None, code: str) -> SyncSession:
        try:
            lang = canonical_language(language) if language else None
        except UnknownLanguage as exc:
            raise UsageError(str(exc)) from None
        engine = self.engine
        if name is None:
            lang = lang or engine.engine.resolve_language(code, None)
            name = lang
        try:
            existing = engine.get_session(name)
        except SessionNotFound:
            return engine.session(lang or engine.engine.resolve_language(code, None), name=name)
        if lang is not None and existing.language != lang:
            raise UsageError(
                f"session {name!r} runs {existing.language}, not {lang}; pick another -s name"
            )
        return existing

    # -- cell magics ---------------------------------------------------------------------------

    @magic_arguments()
    @argument(
        "-l",
        "--lang",
        metavar="LANG",
        help="python, javascript or shell (aliases: py, js, node, bash, sh); "
        "default: the session's language, else detected from the code",
    )
    @_cell_options
    @cell_magic("companion")
    def companion_cell(self, line: str, cell: str) -> Any:
        """Run the cell in a pooled companion kernel and show its outputs here.

        Examples::

            %%companion
            print("hello from a companion Python kernel")

            %%companion -l js -s web --timeout 5
            console.log(process.version)
        """
        args = parse_argstring(self.companion_cell, line)
        return self._run_cell(args, cell, args.lang)

    @magic_arguments()
    @_cell_options
    @cell_magic("py")
    def py_cell(self, line: str, cell: str) -> Any:
        """Run the cell in a companion Python kernel (same options as %%companion)."""
        return self._run_cell(parse_argstring(self.py_cell, line), cell, "python")

    @magic_arguments()
    @_cell_options
    @cell_magic("node")
    def node_cell(self, line: str, cell: str) -> Any:
        """Run the cell in a companion JavaScript (Node.js) kernel (options as %%companion)."""
        args = parse_argstring(self.node_cell, line)
        return self._run_cell(args, cell, "javascript")

    @magic_arguments()
    @_cell_options
    @cell_magic("shell")
    def shell_cell(self, line: str, cell: str) -> Any:
        """Run the cell in a companion Bash kernel (same options as %%companion)."""
        args = parse_argstring(self.shell_cell, line)
        return self._run_cell(args, cell, "shell")

    def _run_cell(self, args: Any, cell: str, language: str | None) -> Any:
        if not cell.strip():
            raise UsageError("the cell is empty: put the code below the %% line")
        if args.timeout is not None and not args.timeout > 0:
            raise UsageError(f"--timeout must be a positive number of seconds, not {args.timeout}")
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"-o needs a variable name, not {args.out!r}")
        policy = _policy(args.policy)
        try:
            session = self._session(args.session, language, cell)
        except UsageError:
            raise
        except CompanionKernelError as exc:
            raise _failure(exc) from None
        renderer = _Renderer()
        result = self._execute(session, cell, args.timeout, policy, renderer)
        if args.out is not None:
            self.shell.user_ns[args.out] = result
        _report_outcome(result, policy, self.engine.engine.config)
        if result.status == "error" and renderer.error is not None:
            err = renderer.error
            raise _cell_error(err.ename, err.evalue, err.traceback) from None
        if result.status == "error" and result.error is not None:
            raise _cell_error(result.error.ename, result.error.evalue, result.error.traceback)
        if renderer.result is not None:
            return _MimeBundle(renderer.result.data, renderer.result.metadata)
        return None

    def _execute(
        self,
        session: SyncSession,
        code: str,
        timeout: float | None,
        policy: Any,
        renderer: _Renderer,
    ) -> ExecutionResult:
        """Run on a helper thread; render events here, on the thread that owns the cell."""
        events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        outcome: list[Any] = []

        def work() -> None:
            try:
                outcome.append(
                    session.execute(code, timeout=timeout, policy=policy, on_event=events.put)
                )
            except BaseException as exc:
                outcome.append(exc)
            finally:
                events.put(_DONE)

        threading.Thread(target=work, daemon=True, name="ck-magic-cell").start()
        interrupted = False
        while True:
            try:
                item = events.get(timeout=0.5)
                if item is _DONE:
                    break
                renderer.handle(item)
            except queue.Empty:
                continue
            except KeyboardInterrupt:
                # The first Ctrl-C interrupts the companion kernel (its state is kept); a
                # second one stops waiting for it.
                if interrupted:
                    raise
                interrupted = True
                _notice("interrupting the companion kernel (press again to stop waiting)")
                self._interrupt(session)
        value = outcome[0]
        if isinstance(value, CompanionKernelError):
            raise _failure(value) from None
        if isinstance(value, BaseException):
            raise value
        return value

    def _interrupt(self, session: SyncSession) -> None:
        session.interrupt()

    # -- line magics ---------------------------------------------------------------------------

    @line_magic("companion")
    def companion_line(self, line: str) -> Any:
        """Manage the notebook's companion engine.

        Usage::

            %companion sessions            open sessions (name, language, state)
            %companion stats               kernels per language: idle, starting, in use
            %companion restart NAME        fresh kernel for session NAME (its state is lost)
            %companion close NAME          close session NAME
            %companion doctor              check the sandbox, limits, Node and kernel specs
            %companion config [K=V ...]    show or change engine settings (policy=FILE.toml
                                           too); policy and timeouts change in place, other
                                           settings restart the engine
            %companion upload LOCAL [REMOTE] [-s NAME]    put a file into a session's
                                           workspace (default session: python)
            %companion download REMOTE [LOCAL] [-s NAME]  bring one back
            %companion shutdown            stop the engine and every companion kernel
        """
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot parse {line!r}: {exc}") from None
        if not words:
            raise UsageError(_usage())
        command, rest = words[0], words[1:]
        handlers: dict[str, Callable[[list[str]], Any]] = {
            "sessions": self._cmd_sessions,
            "stats": self._cmd_stats,
            "restart": self._cmd_restart,
            "close": self._cmd_close,
            "doctor": self._cmd_doctor,
            "config": self._cmd_config,
            "upload": self._cmd_upload,
            "download": self._cmd_download,
            "shutdown": self._cmd_shutdown,
        }
        handler = handlers.get(command)
        if handler is None:
            raise UsageError(f"unknown command {command!r}\n{_usage()}")
        try:
            return handler(rest)
        except (UsageError, CompanionCellError):
            raise
        except (CompanionKernelError, OSError) as exc:
            raise _failure(exc) from None

    def _no_args(self, command: str, rest: list[str]) -> None:
        if rest:
            raise UsageError(f"%companion {command} takes no arguments (got {' '.join(rest)})")

    def _one_name(self, command: str, rest: list[str]) -> str:
        if len(rest) != 1:
            raise UsageError(f"usage: %companion {command} NAME (see %companion sessions)")
        return rest[0]

    def _cmd_sessions(self, rest: list[str]) -> None:
        self._no_args("sessions", rest)
        if self._engine is None:
            print("no companion engine yet: it starts with the first %%companion cell")
            return
        sessions = self._engine.engine.sessions()
        if not sessions:
            print("no open sessions")
            return
        rows = [("name", "language", "state", "restarts", "id")]
        rows += [
            (s.name or "-", s.language, s.state.value, str(s.restarts), s.id[:12]) for s in sessions
        ]
        print(_table(rows))

    def _cmd_stats(self, rest: list[str]) -> None:
        self._no_args("stats", rest)
        if self._engine is None:
            print("no companion engine yet: it starts with the first %%companion cell")
            return
        rows = [("language", "idle", "starting", "in use", "started", "failed")]
        for name, s in self._engine.engine.stats().items():
            rows.append(
                (
                    name,
                    str(s.idle),
                    str(s.starting),
                    str(s.in_use),
                    str(s.started_total),
                    str(s.failed_total),
                )
            )
        sandbox = "bubblewrap" if self._engine.engine.sandboxed else "none"
        print(f"{_table(rows)}\nsandbox: {sandbox}")

    def _existing(self, name: str) -> SyncSession:
        if self._engine is None:
            raise UsageError(f"no session named {name!r}: no companion cell has run yet")
        try:
            return self._engine.get_session(name)
        except SessionNotFound:
            names = ", ".join(s.name or s.id for s in self._engine.sessions()) or "none"
            raise UsageError(f"no session named {name!r} (open sessions: {names})") from None

    def _cmd_restart(self, rest: list[str]) -> None:
        session = self._existing(self._one_name("restart", rest))
        session.restart()
        print(f"session {session.name or session.id!r} has a fresh {session.language} kernel")

    def _cmd_close(self, rest: list[str]) -> None:
        session = self._existing(self._one_name("close", rest))
        session.close()
        print(f"session {session.name or session.id!r} closed")

    def _cmd_doctor(self, rest: list[str]) -> None:
        self._no_args("doctor", rest)
        from rich.console import Console

        from .sandbox._cli import render_checks
        from .sandbox.doctor import run_checks

        # The notebook's own loop is running on this thread: run the async checks elsewhere.
        found: list[Any] = []
        worker = threading.Thread(
            target=lambda: found.append(asyncio.run(run_checks(self._config.isolation))),
            daemon=True,
        )
        worker.start()
        worker.join()
        if not found:
            raise _cell_error("DoctorError", "the checks did not complete")
        console = Console(file=sys.stdout, width=110, force_jupyter=False, highlight=False)
        render_checks(found[0], console)

    def _cmd_config(self, rest: list[str]) -> None:
        if not rest:
            for key in EngineConfig.model_fields:
                value = getattr(self._config, key)
                shown = _policy_name(value) if key == "policy" else value
                print(f"{key} = {shown!r}")
            return
        changes: dict[str, Any] = {}
        for word in rest:
            key, sep, value = word.partition("=")
            if not sep or not key:
                raise UsageError(f"expected KEY=VALUE, got {word!r} (e.g. isolation=off)")
            if key not in EngineConfig.model_fields:
                fields = ", ".join(EngineConfig.model_fields)
                raise UsageError(f"unknown setting {key!r}; settings: {fields}")
            changes[key] = _policy(value) if key == "policy" else _parse_value(value)
        fields = {key: getattr(self._config, key) for key in EngineConfig.model_fields}
        try:
            config = EngineConfig.model_validate({**fields, **changes})
        except ValueError as exc:
            raise UsageError(f"invalid setting: {_first_error(exc)}") from None
        self._config = config
        engine = self._engine
        if engine is None:
            print("companion engine settings updated")
            return
        restart = sorted(set(changes) - _LIVE_SETTINGS)
        if not restart:
            engine.engine.config = config
            print("companion engine settings updated; sessions kept")
            return
        self.close()
        print(
            f"companion engine settings updated; {', '.join(restart)} needed a new engine: "
            "the running one was stopped and its sessions closed"
        )

    def _transfer_args(self, command: str, rest: list[str]) -> tuple[SyncSession, list[str]]:
        """The session a transfer is for (`-s NAME`, default python) and the paths."""
        usage = {
            "upload": "usage: %companion upload LOCAL [REMOTE] [-s SESSION]",
            "download": "usage: %companion download REMOTE [LOCAL] [-s SESSION]",
        }[command]
        paths: list[str] = []
        name: str | None = None
        words = iter(rest)
        for word in words:
            if word in ("-s", "--session"):
                name = next(words, None)
                if name is None:
                    raise UsageError(usage)
            else:
                paths.append(word)
        if not 1 <= len(paths) <= 2:
            raise UsageError(usage)
        if name is None:
            session = self._session(_DEFAULT_SESSION, "python", "")
        else:
            session = self._existing(name)
        if session.workspace is None:
            session.start()
        return session, paths

    def _cmd_upload(self, rest: list[str]) -> None:
        session, paths = self._transfer_args("upload", rest)
        local = Path(paths[0]).expanduser()
        remote = paths[1] if len(paths) > 1 else local.name
        if not local.is_file():
            raise UsageError(f"{local}: no such file")
        parent = str(PurePosixPath(remote).parent)
        if parent != ".":
            session.files.mkdir(parent)
        with local.open("rb") as handle:
            entry = session.files.write(remote, iter(lambda: handle.read(CHUNK_BYTES), b""))
        print(
            f"uploaded {local} to {entry.path} ({entry.size:,} bytes) in session {_label(session)}"
        )

    def _cmd_download(self, rest: list[str]) -> None:
        session, paths = self._transfer_args("download", rest)
        remote = paths[0]
        local = Path(paths[1] if len(paths) > 1 else PurePosixPath(remote).name).expanduser()
        if local.is_dir():
            local = local / PurePosixPath(remote).name
        data = session.files.read(remote)
        local.write_bytes(data)
        print(
            f"downloaded {remote} from session {_label(session)} to {local} ({len(data):,} bytes)"
        )

    def _cmd_shutdown(self, rest: list[str]) -> None:
        self._no_args("shutdown", rest)
        running = self._engine is not None
        self.close()
        print("companion engine stopped" if running else "no companion engine was running")

    @line_magic("tools")
    def tools_line(self, line: str) -> None:
        """List the tools, or search them: `%tools`, `%tools average`."""
        registry = self.registry
        query = line.strip()
        found = registry.search(query) if query else registry.list_tools()
        if not found:
            print(f"no tool matches {query!r}")
            return
        rows = [("name", "category", "description")]
        for item in found:
            summary = item.description.splitlines()[0] if item.description else ""
            rows.append((item.name, item.category, summary))
        print(_table(rows))

    @line_magic("tool")
    def tool_line(self, line: str) -> Any:
        """Call a tool: `%tool NAME ARGS`; the value becomes `Out[]` (or `x = %tool ...`).

        ARGS are written like a Python call's arguments and evaluated in the notebook
        (`%tool list_average temps`, `%tool add 2, b=3`), or given as words separated by
        spaces, each read as a literal or else as text (`%tool add 2 3`). Examples::

            %tool extract_numbers "It was 22.5°C, then 18.3°C"
            %tool list_average [1, 2, 3.5]
            %tool divide 1 4
        """
        name, _, rest = line.strip().partition(" ")
        if not name:
            raise UsageError("usage: %tool NAME ARGS (see %tools)")
        registry = self.registry
        try:
            params = registry.get(name).parameter_names
        except ToolError as exc:
            raise _failure(exc) from None
        args, kwargs = self._tool_arguments(rest.strip(), params)
        try:
            return registry.execute(name, *args, **kwargs)
        except ToolError as exc:
            raise _failure(exc) from None

    def _tool_arguments(
        self, text: str, params: tuple[str, ...]
    ) -> tuple[list[Any], dict[str, Any]]:
        if not text:
            return [], {}
        try:
            call = ast.parse(f"_({text})", mode="eval").body
        except SyntaxError:
            call = None
        if (
            isinstance(call, ast.Call)
            and not any(isinstance(a, ast.Starred) for a in call.args)
            and all(k.arg is not None for k in call.keywords)
        ):
            namespace = self.shell.user_ns if self.shell is not None else {}

            def value(node: ast.expr) -> Any:
                source = ast.get_source_segment(f"_({text})", node) or ""
                try:
                    return eval(compile(ast.Expression(node), "<%tool>", "eval"), namespace)
                except Exception as exc:
                    raise UsageError(
                        f"cannot evaluate the argument {source!r}: {type(exc).__name__}: {exc}"
                        ' (quote text: %tool NAME "some text")'
                    ) from None

            return [value(a) for a in call.args], {
                str(k.arg): value(k.value) for k in call.keywords
            }
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise UsageError(f"cannot parse the arguments: {exc}") from None
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for word in words:
            key, sep, raw = word.partition("=")
            if sep and key in params:
                kwargs[key] = _parse_value(raw)
            else:
                args.append(_parse_value(word))
        return args, kwargs


def _usage() -> str:
    return (
        "usage: %companion sessions | stats | restart NAME | close NAME | doctor | "
        "config [KEY=VALUE ...] | upload LOCAL [REMOTE] | download REMOTE [LOCAL] | shutdown"
    )


def _label(session: SyncSession) -> str:
    return repr(session.name or session.id)


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg')}"
    return str(exc)


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _magics_of(ipython: Any) -> CompanionMagics | None:
    found = ipython.magics_manager.registry.get(CompanionMagics.__name__)
    return found if isinstance(found, CompanionMagics) else None


def shared_engine(ipython: Any = None) -> SyncEngine:
    """The engine behind the magics of this IPython shell (its named sessions included)."""
    if ipython is None:
        from IPython import get_ipython

        ipython = get_ipython()
    magics = _magics_of(ipython) if ipython is not None else None
    if magics is None:
        raise CompanionKernelError("load the magics first: %load_ext companion_kernel")
    return magics.engine


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext companion_kernel`: register the magics (the engine starts on first use)."""
    if _magics_of(ipython) is None:
        ipython.register_magics(CompanionMagics(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext companion_kernel`: stop the engine and its kernels."""
    magics = _magics_of(ipython)
    if magics is not None:
        magics.close()
