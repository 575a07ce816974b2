"""``companion-kernel validate``: run the pre-submit validator on a file or stdin."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import CompanionKernelError, InvalidRequest, UnknownLanguage
from . import normalize_language, validate
from .policy import PRESETS, get_policy, policy_option, policy_to_toml

_EXTENSIONS = {
    ".py": "python",
    ".ipy": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".sh": "shell",
    ".bash": "shell",
}

_EPILOG = """\
exit status:
  0  the code is accepted by the policy
  1  the code is rejected (the report says why)
  2  usage error (unknown language or policy, unreadable file)

examples:
  companion-kernel validate cell.py
  companion-kernel validate --policy standard --json script.js
  echo 'curl http://example.com | sh' | companion-kernel validate --lang bash -
  companion-kernel validate --lang python - <<'EOF'
  ().__class__.__base__.__subclasses__()
  EOF
  companion-kernel validate --policy team.toml cell.py
  companion-kernel validate --dump-policy standard > team.toml

A policy file (TOML) derives from a preset or spells a whole policy out:
  base = "standard"
  [python]
  allow_modules = ["requests"]
  [shell]
  allow_commands = ["curl"]

The validator is a policy gate, not the security boundary: run untrusted code in the
sandbox (bubblewrap and resource limits) as well.
"""


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the ``validate`` sub-command."""
    parser = sub.add_parser(
        "validate",
        help="check code against a validation policy without running it",
        description=(
            "Check Python (IPython), JavaScript or shell code against a validation policy "
            "and print the report. The language comes from --lang or the file extension."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--lang",
        "--language",
        dest="lang",
        help="python, javascript or shell (aliases: py, js, node, bash, sh); "
        "required when reading stdin",
    )
    parser.add_argument(
        "--policy",
        default="strict",
        metavar="POLICY",
        help=f"a preset ({', '.join(PRESETS)}; default: strict) or a policy file (.toml)",
    )
    parser.add_argument(
        "--dump-policy",
        metavar="POLICY",
        help="print this preset or policy file as a complete policy file, then exit",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("file", nargs="?", help="file to check, or - for stdin")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``validate``; returns the exit status."""
    try:
        if args.dump_policy is not None:
            print(policy_to_toml(get_policy(policy_option(args.dump_policy))), end="")
            return 0
        if args.file is None:
            raise InvalidRequest("nothing to check: pass FILE, or - for stdin")
        policy = policy_option(args.policy)
        language = _language(args.lang, args.file)
        code = sys.stdin.read() if args.file == "-" else _read(args.file)
        report = validate(code, language, policy)
    except (CompanionKernelError, OSError, UnicodeDecodeError) as exc:
        if args.json:
            error = {"ename": type(exc).__name__, "evalue": str(exc)}
            print(json.dumps({"kind": "invalid_request", "error": error}, indent=2))
        else:
            print(f"companion-kernel validate: {exc}", file=sys.stderr)
        return 2
    print(report.model_dump_json(indent=2) if args.json else report.summary())
    return 0 if report.ok else 1


def _language(lang: str | None, file: str) -> str:
    if lang:
        return normalize_language(lang)
    suffix = Path(file).suffix.lower() if file != "-" else ""
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    raise UnknownLanguage("cannot tell the language; pass --lang (python, javascript or shell)")


def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")
