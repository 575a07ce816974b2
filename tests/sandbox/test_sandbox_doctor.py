"""``doctor``: real checks on this machine, the CLI and the table."""

from __future__ import annotations

import argparse
import io
import json
import os

import pytest
from rich.console import Console
from sandbox._sandbox_support import requires_bwrap

from companion_kernel.sandbox import _cgroups
from companion_kernel.sandbox._cli import add_commands, render_checks
from companion_kernel.sandbox.doctor import Check, all_required_ok, run_checks


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="companion-kernel")
    add_commands(root.add_subparsers())
    return root


@pytest.mark.kernel
@requires_bwrap
async def test_sandbox_and_every_limit_are_measured_in_force() -> None:
    checks = {c.name: c for c in await run_checks("require")}
    must_pass = [
        "bubblewrap",
        "isolation",
        "probe kernel",
        "sandbox: no network",
        "sandbox: host hidden",
        "sandbox: read-only host",
        "limit: tmpfs size",
        "limit: memory (address space)",
        "limit: file size",
        "limit: open files",
        "limit: CPU time",
        "sandbox: host identity",
        "sandbox: seccomp",
        "sandbox: host-wide settings",
        "node",
    ]
    if _cgroups.detect().cpu:
        must_pass.append("limit: CPU share")
    if os.geteuid() == 0:
        must_pass.append("limit: workspace quota")
    if _cgroups.detect().pids:
        must_pass.append("limit: processes")
    if _cgroups.detect().memory:
        must_pass.append("limit: memory (cgroup)")
    failed = {n: checks[n].detail for n in must_pass if not checks[n].ok}
    assert failed == {}
    assert checks["bubblewrap"].required  # 'require' makes the sandbox mandatory
    assert "ECONNREFUSED" in checks["sandbox: no network"].detail
    assert "[0, 0, 0]" not in checks["sandbox: host identity"].detail
    assert {"kernelspec companion-python", "node kernel under limits"} <= set(checks)


@pytest.mark.kernel
def test_cli_json_output_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["doctor", "--json", "--isolation", "off"])
    status = args.func(args)
    payload = json.loads(capsys.readouterr().out)
    checks = [Check.model_validate(c) for c in payload["checks"]]
    assert payload["ok"] == all_required_ok(checks)
    assert status == (0 if payload["ok"] else 1)
    by_name = {c.name: c for c in checks}
    assert by_name["isolation"].detail.startswith("off:")
    assert by_name["probe kernel"].ok and "plain" in by_name["probe kernel"].detail
    assert "sandbox: no network" not in by_name  # not sandboxed: not claimed
    assert by_name["limit: file size"].ok and by_name["limit: open files"].ok


def test_table_marks_failures_and_fixes() -> None:
    checks = [
        Check(name="bubblewrap", ok=True, detail="bubblewrap 0.8.0"),
        Check(
            name="limit: processes",
            ok=False,
            detail="forked 300",
            fix="pids cgroup",
            required=False,
        ),
        Check(name="kernelspec x", ok=False, detail="not installed", fix="make setup"),
    ]
    out = io.StringIO()
    render_checks(checks, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert "ok" in text and "warn" in text and "FAIL" in text and "make setup" in text
    assert "Some required checks failed" in text
    assert not all_required_ok(checks)
    assert all_required_ok(checks[:2])


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["doctor", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "companion-kernel doctor --json" in text
