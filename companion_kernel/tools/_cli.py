"""`companion-kernel tools ...`: list, call and describe the built-in tools."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from companion_kernel.errors import ToolError
from companion_kernel.tools.registry import ToolRegistry, default_registry
from companion_kernel.tools.schemas import SCHEMA_FORMATS

__all__ = ["add_commands"]

_EPILOG = """\
examples:
  companion-kernel tools list
  companion-kernel tools list --category math --json
  companion-kernel tools list --search "average"
  companion-kernel tools call add --args '{"a": 10, "b": 5}'
  companion-kernel tools call extract_numbers --args '{"text": "22.5°C and 18.3°C"}' --json
  companion-kernel tools schema --format anthropic
  companion-kernel tools schema add divide --format openai --strict
"""


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the `tools` command and its sub-commands."""
    raw = argparse.RawDescriptionHelpFormatter
    tools = sub.add_parser(
        "tools",
        help="list, call and describe the built-in tools",
        description="List, call and describe the 23 built-in tools\n"
        "(math, text, datetime, list, data).",
        epilog=_EPILOG,
        formatter_class=raw,
    )
    commands = tools.add_subparsers(dest="tools_command", metavar="COMMAND", required=True)

    listing = commands.add_parser(
        "list",
        help="list tools",
        description="List tools with their category and description.",
        epilog="examples:\n  companion-kernel tools list --category text\n"
        "  companion-kernel tools list --search numbers --json\n",
        formatter_class=raw,
    )
    listing.add_argument("--json", action="store_true", help="print full metadata as JSON")
    listing.add_argument("--category", metavar="C", help="only tools in category C")
    listing.add_argument(
        "--search", metavar="Q", help="rank tools matching Q (name, tags, description)"
    )
    listing.set_defaults(func=_list)

    calling = commands.add_parser(
        "call",
        help="call a tool",
        description="Call a tool with a JSON object of arguments and print the result.\n"
        "Exit status: 0 on success, 1 when the tool call failed.",
        epilog="examples:\n  companion-kernel tools call sqrt --args '{\"x\": 144}'\n"
        "  companion-kernel tools call current_datetime --json\n",
        formatter_class=raw,
    )
    calling.add_argument("name", metavar="NAME", help="the tool name")
    calling.add_argument(
        "--args", metavar="JSON", help="arguments as a JSON object, e.g. '{\"a\": 1}'"
    )
    calling.add_argument(
        "--json", action="store_true", help="print the full result envelope as JSON"
    )
    calling.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds")
    calling.set_defaults(func=_call)

    schema = commands.add_parser(
        "schema",
        help="print tool definitions for LLM APIs",
        description="Print tool definitions as JSON, ready for an LLM API call.\n"
        "Formats: openai (Chat Completions), openai-responses, anthropic, mcp.\n"
        "--strict renders OpenAI/Anthropic strict mode (closed objects, all fields\n"
        "required, optional ones nullable); tools that cannot be strict get strict: false.",
        epilog="examples:\n  companion-kernel tools schema --format mcp\n"
        "  companion-kernel tools schema add sqrt --strict\n",
        formatter_class=raw,
    )
    schema.add_argument("names", nargs="*", metavar="NAME", help="only these tools (default: all)")
    schema.add_argument("--format", choices=SCHEMA_FORMATS, default="openai", help="output format")
    schema.add_argument("--strict", action="store_true", help="strict-mode variant")
    schema.set_defaults(func=_schema)


def _registry() -> ToolRegistry:
    return default_registry()


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _list(args: argparse.Namespace) -> int:
    registry = _registry()
    if args.search:
        tools = registry.search(args.search, category=args.category)
    else:
        tools = registry.list_tools(category=args.category)
    if args.json:
        _print_json([t.info().model_dump(mode="json") for t in tools])
        return 0
    if not tools:
        print("no matching tools", file=sys.stderr)
        return 0
    width = max(len(t.name) for t in tools)
    cat_width = max(len(t.category) for t in tools)
    for item in tools:
        summary = item.description.splitlines()[0] if item.description else ""
        print(f"{item.name:<{width}}  {item.category:<{cat_width}}  {summary}")
    return 0


def _call(args: argparse.Namespace) -> int:
    registry = _registry()
    result = registry.call(args.name, args.args, timeout=args.timeout)
    if args.json:
        _print_json(result.model_dump(mode="json"))
    elif result.ok:
        value = result.value
        print(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    else:
        assert result.error is not None
        print(f"error: {result.error.type}: {result.error.message}", file=sys.stderr)
    return 0 if result.ok else 1


def _schema(args: argparse.Namespace) -> int:
    registry = _registry()
    try:
        definitions = registry.schemas(args.format, strict=args.strict, names=args.names or None)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _print_json(definitions)
    return 0
