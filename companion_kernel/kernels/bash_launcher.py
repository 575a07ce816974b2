"""Launch bash_kernel without pexpect's 50 ms pause before every write, reading output fast.

pexpect waits `delaybeforesend` (50 ms) before each send, for programs that read a password
prompt too early; bash reading commands does not need it. bash_kernel sends twice per cell
(the code, then `echo $?`) and several times at start-up, so the pause cost ~100 ms a cell.

bash_kernel reads a cell's output one line per pexpect search, over a buffer holding the
whole unfinished line: a message per line for short lines, quadratic time for one long line
(10 MB never finished). `_Wrapper` reads in blocks instead, and `_Kernel` caps a cell's
output (`COMPANION_BASH_MAX_OUTPUT` characters), as the engine does in Python kernels.

`read` from the kernel's terminal asks the frontend instead, when the execution allows
stdin: the shell function `read` writes a private marker (with the prompt) to the terminal,
`_Wrapper` takes it out of the output and calls the kernel's `raw_input`/`getpass`, and
answers the function with one status line on the terminal; the answer itself goes through
a private file, so any length and any `read` option works and nothing is left in the
terminal for bash to run as a command.

Standalone on purpose (imports nothing from companion_kernel): sandboxed kernels see only
this directory, not the package.
"""

import atexit
import os
import re
import secrets
import shutil
import tempfile

import pexpect
from bash_kernel import kernel as bash_kernel_module
from ipykernel.kernelapp import IPKernelApp


class _Spawn(pexpect.spawn):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.delaybeforesend = None


_MAX_OUTPUT = int(os.environ.get("COMPANION_BASH_MAX_OUTPUT") or 16 * 1024 * 1024)
_READ_SIZE = 64 * 1024
# An unfinished line longer than this is passed on in pieces rather than held to its end.
_MAX_PENDING = 64 * 1024
# How far before new data a prompt may begin (the prompt and a conda-style prefix).
_PROMPT_OVERLAP = 256
# bash_kernel's display helpers print lines starting with this; only they need its parser.
_RICH_PREFIX = "bash_kernel: saved "


# A prompt longer than this is cut by the `read` function; a marker that does not end
# within this many characters after its start is passed on as ordinary output.
_MAX_PROMPT = 4096
_MAX_MARKER = 2 * _MAX_PROMPT + 256


class _Wrapper(bash_kernel_module.IREPLWrapper):
    """bash_kernel's REPL wrapper, reading a running cell's output in blocks of whole lines."""

    read_marker: str = ""
    """Start of the marker the `read` function writes to ask for input."""
    on_read = None
    """Called with (prompt, secret) for each marker; returns the status line to send."""

    def _take_read(self, pending: str) -> tuple[str, str] | None:
        """Handle a complete read marker in `pending`: returns (output before it, the rest),
        or None when there is none yet (a started one is held back until it ends)."""
        start = pending.find(self.read_marker) if self.read_marker else -1
        if start == -1:
            return None
        end = pending.find("\a", start)
        if end == -1:
            return None
        secret, _, prompt = pending[start + len(self.read_marker) : end].partition(";")
        status = self.on_read(prompt.replace("\r\n", "\n"), secret == "1")
        self.child.send(status + "\n")
        return pending[:start], pending[end + 1 :]

    def _expect_prompt(self, timeout=-1):
        if timeout is not None:  # not a cell: bash_kernel's own short exchanges
            return super()._expect_prompt(timeout)
        child = self.child
        prompts = (re.compile(self.ps1_re), re.compile(self.ps2_re))
        pending, child.buffer = child.buffer, ""
        searched = 0
        try:
            while True:
                taken = self._take_read(pending)
                if taken is not None:
                    before, pending = taken
                    if before:
                        self.line_output_callback(before)
                    searched = 0
                    continue
                found = self._find_prompt(pending, max(searched - _PROMPT_OVERLAP, 0), prompts)
                if found is not None:
                    index, match = found
                    child.before, child.after = pending[: match.start()], match.group()
                    child.buffer = pending[match.end() :]
                    if child.before:
                        self.line_output_callback(child.before)
                    return index
                cut = _cut(pending)
                held = pending.find(self.read_marker) if self.read_marker else -1
                if held != -1 and len(pending) - held < _MAX_MARKER:
                    cut = held  # an unfinished marker: pass on only what precedes it
                if cut:
                    self.line_output_callback(pending[:cut])
                    pending = pending[cut:]
                searched = len(pending)
                pending += child.read_nonblocking(_READ_SIZE, None)
        except pexpect.EOF:
            child.before = pending
            raise
        except BaseException:  # an interrupt: bash_kernel reads on to the prompt itself
            child.buffer = pending + child.buffer
            raise

    def _find_prompt(self, text: str, start: int, prompts: tuple) -> tuple[int, re.Match] | None:
        at = text.find(self.unique_prompt, start)
        while at != -1:
            for index, prompt in enumerate(prompts):
                match = prompt.search(text, max(at - _PROMPT_OVERLAP, 0), at + _PROMPT_OVERLAP)
                if match is not None:
                    return index, match
            at = text.find(self.unique_prompt, at + 1)
        return None


def _cut(text: str) -> int:
    """How much of `text` can be passed on now: whole lines, or a piece of a very long one."""
    end = text.rfind("\n") + 1
    # A bare carriage return (a progress bar) ends a line too; one at the very end may be
    # the first half of "\r\n".
    bare = text.rfind("\r", end, len(text) - 1)
    if bare != -1:
        end = bare + 1
    if len(text) - end > _MAX_PENDING:
        end = len(text) - _PROMPT_OVERLAP
    return end


# bash_kernel restarts bash when it exits (`exit`) or is killed, and says only "Restarting
# Bash": variables, functions and the working directory are gone. The cell reports it.
_RESTARTED = (
    "bash exited or was killed during this cell and was restarted: shell state (variables, "
    "functions, working directory) is lost, and the cell may not have run completely"
)


# Nobody types into the kernel's terminal: `read` from it asks the frontend through the
# launcher (the marker ends with BEL; its start holds a per-kernel nonce so that output
# cannot trigger it by accident), and fails at once when the execution does not allow
# stdin. Reads from pipes, files and `-u FD` work as before. The status line starts with
# `#`: if bash itself ever reads it as a command, it is a comment.
_TERMINAL_READ = r"""read() {
  if [ -t 0 ] && [[ " $* " != *" -u"* ]]; then
    local __ck_opt __ck_prompt= __ck_secret=0 OPTIND=1 OPTARG
    while getopts ":ersa:d:i:n:N:p:t:u:" __ck_opt; do
      case $__ck_opt in p) __ck_prompt=$OPTARG ;; s) __ck_secret=1 ;; esac
    done
    __ck_prompt=${__ck_prompt//$'\a'/}
    local __ck_hash __ck_tag __ck_status __ck_file
    if printf '__MARKER__%s;%s\a' "$__ck_secret" "${__ck_prompt:0:__MAX__}" \
        2>/dev/null > /dev/tty; then
      IFS=' ' builtin read -r __ck_hash __ck_tag __ck_status __ck_file < /dev/tty
    fi
    case $__ck_status in
      ok)
        builtin read "$@" < "$__ck_file"
        set -- $? "$__ck_file"
        command rm -f -- "$2"
        return "$1" ;;
      eof) return 1 ;;
    esac
    echo "read: no input: this shell has no standard input (it runs unattended);" \
      "pipe or redirect data into read, or pass input= to execute" >&2
    return 1
  fi
  builtin read "$@"
}"""


class _Kernel(bash_kernel_module.BashKernel):
    """bash_kernel that reports a restart of bash as an error with `companion_state_lost`
    and caps each cell's output."""

    _bash_starts = 0
    _written = 0
    _input_dir: str | None = None

    def _start_bash(self) -> None:
        super()._start_bash()
        self._bash_starts += 1
        marker = f"\x1b]companion-read;{secrets.token_hex(8)};"
        function = _TERMINAL_READ.replace("__MARKER__", marker.replace("\x1b", "\\033"))
        self.bashwrapper.run_command(function.replace("__MAX__", str(_MAX_PROMPT)))
        self.bashwrapper.read_marker = marker
        self.bashwrapper.on_read = self._answer_read

    def _answer_read(self, prompt: str, secret: bool) -> str:
        """Ask the frontend for a line for `read`; the status line for the shell function."""
        if not self._allow_stdin:
            return "# companion-input none"
        try:
            value = self.getpass(prompt) if secret else self.raw_input(prompt)
        except EOFError:
            return "# companion-input eof"
        if self._input_dir is None:
            self._input_dir = tempfile.mkdtemp(prefix="companion-input-")
            atexit.register(shutil.rmtree, self._input_dir, ignore_errors=True)
        path = os.path.join(self._input_dir, secrets.token_hex(8))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(value + "\n")
        return f"# companion-input ok {path}"

    def process_output(self, output: str) -> None:
        """bash_kernel's output handler, capped per cell; plain text skips its line parser."""
        if self.silent or self._written > _MAX_OUTPUT:
            return
        self._written += len(output)
        over = self._written - _MAX_OUTPUT
        if over > 0:
            output = output[: len(output) - over]
        if _RICH_PREFIX in output:
            bash_kernel_module.BashKernel.process_output(self, output)
        elif output:
            text = output.replace("\r\n", "\n")
            self.send_response(self.iopub_socket, "stream", {"name": "stdout", "text": text})
        if over > 0:
            self._written = _MAX_OUTPUT + 1
            notice = (
                f"\n[companion-bash] output limit reached ({_MAX_OUTPUT} characters, "
                "COMPANION_BASH_MAX_OUTPUT); further output of this cell is dropped\n"
            )
            self.send_response(self.iopub_socket, "stream", {"name": "stderr", "text": notice})

    # The exact signature: ipykernel reads it to decide which arguments to pass.
    def do_execute(
        self, code, silent, store_history=True, user_expressions=None, allow_stdin=False
    ):
        self._written = 0
        # ipykernel's IPython kernel sets this itself; bash_kernel's base class does not.
        self._allow_stdin = bool(allow_stdin)
        before = self._bash_starts
        reply = super().do_execute(code, silent, store_history, user_expressions, allow_stdin)
        if self._bash_starts == before:
            return reply
        error = {"ename": "ShellRestarted", "evalue": _RESTARTED, "traceback": []}
        self.send_response(self.iopub_socket, "error", error)
        return {
            **error,
            "status": "error",
            "execution_count": self.execution_count,
            "companion_state_lost": True,
        }


class _Pexpect:
    """bash_kernel's view of pexpect, with our spawn."""

    def __getattr__(self, name: str):
        return _Spawn if name == "spawn" else getattr(pexpect, name)


if __name__ == "__main__":
    bash_kernel_module.pexpect = _Pexpect()
    bash_kernel_module.IREPLWrapper = _Wrapper
    IPKernelApp.launch_instance(kernel_class=_Kernel)
