"""Render tools in the shapes LLM APIs accept (pure functions: tool in, dict out).

- `openai`: Chat Completions, `{"type": "function", "function": {...}}`
- `openai-responses`: the Responses API's flat `{"type": "function", "name": ...}`
- `anthropic`: Messages API, `{"name", "description", "input_schema"}`
- `mcp`: a Model Context Protocol `Tool` (`inputSchema`, `outputSchema`, `annotations`)

`strict=True` gives the variant for OpenAI strict mode / structured outputs: every object closed
with `additionalProperties: false`, every property required, optional ones nullable. Some
schemas cannot be made strict (free-form dicts, `Any`); those tools are rendered normally with
`"strict": false`, which is what the APIs expect for them.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from companion_kernel.tools.base import Tool

__all__ = [
    "SCHEMA_FORMATS",
    "SchemaFormat",
    "anthropic_tool",
    "is_strict_compatible",
    "mcp_tool",
    "openai_responses_tool",
    "openai_tool",
    "render_tool",
    "strict_json_schema",
]

SchemaFormat = Literal["openai", "openai-responses", "anthropic", "mcp"]
SCHEMA_FORMATS: tuple[str, ...] = get_args(SchemaFormat)


def strict_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Return the strict-mode variant of `schema`; `ValueError` if it cannot be expressed."""
    root = copy.deepcopy(schema)
    _make_strict(root, root, "")
    return root


def is_strict_compatible(schema: dict[str, Any]) -> bool:
    """Whether `schema` has a strict-mode variant."""
    try:
        strict_json_schema(schema)
    except ValueError:
        return False
    return True


_TYPE_KEYS = frozenset(
    {"type", "$ref", "anyOf", "allOf", "oneOf", "enum", "const", "properties", "items"}
)


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _make_strict(node: Any, root: dict[str, Any], path: str) -> None:
    if not isinstance(node, dict):
        return
    where = path or "the arguments"
    if not _TYPE_KEYS.intersection(node):
        raise ValueError(f"{where}: a value of any type cannot be described in strict mode")
    # A $ref with sibling keywords is rejected in strict mode: inline the target instead.
    if "$ref" in node and len(node) > 1:
        target = copy.deepcopy(_resolve(root, node.pop("$ref")))
        for key, value in target.items():
            node.setdefault(key, value)
    if "allOf" in node and len(node["allOf"]) == 1:
        for key, value in node.pop("allOf")[0].items():
            node.setdefault(key, value)
    if "oneOf" in node:
        node["anyOf"] = node.pop("oneOf")
    node.pop("default", None)

    is_object = node.get("type") == "object" or "properties" in node
    if is_object:
        extra = node.get("additionalProperties", False)
        if extra is not False or "properties" not in node:
            raise ValueError(
                f"{where}: an object with free-form keys cannot be described in strict mode"
            )
        required = set(node.get("required", []))
        for name, prop in node["properties"].items():
            _make_strict(prop, root, f"{path}.{name}" if path else name)
            if name not in required:
                node["properties"][name] = _nullable(prop)
        node["required"] = list(node["properties"])
        node["additionalProperties"] = False
    for key in ("items", "additionalItems", "not"):
        if isinstance(node.get(key), dict):
            _make_strict(node[key], root, f"{path}[]")
    for key in ("anyOf", "allOf", "prefixItems"):
        for sub in node.get(key, []):
            _make_strict(sub, root, path)
    for name, sub in node.get("$defs", {}).items():
        _make_strict(sub, root, name)


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    if _allows_null(prop):
        return prop
    outer = {k: prop.pop(k) for k in ("description", "title") if k in prop}
    return {"anyOf": [prop, {"type": "null"}], **outer}


def _allows_null(prop: dict[str, Any]) -> bool:
    kind = prop.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(isinstance(s, dict) and _allows_null(s) for s in prop.get("anyOf", []))


def _parameters(tool: Tool, strict: bool) -> tuple[dict[str, Any], bool]:
    if strict:
        try:
            return strict_json_schema(tool.input_schema), True
        except ValueError:
            pass
    return copy.deepcopy(tool.input_schema), False


def openai_tool(tool: Tool, *, strict: bool = False) -> dict[str, Any]:
    """OpenAI Chat Completions: `{"type": "function", "function": {...}}`."""
    parameters, is_strict = _parameters(tool, strict)
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": parameters,
            "strict": is_strict,
        },
    }


def openai_responses_tool(tool: Tool, *, strict: bool = False) -> dict[str, Any]:
    """OpenAI Responses API: a flat function tool (`strict` is explicit; its default is true)."""
    parameters, is_strict = _parameters(tool, strict)
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": parameters,
        "strict": is_strict,
    }


def anthropic_tool(tool: Tool, *, strict: bool = False) -> dict[str, Any]:
    """Anthropic Messages API: `{"name", "description", "input_schema"}`."""
    parameters, is_strict = _parameters(tool, strict)
    rendered: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "input_schema": parameters,
    }
    if is_strict:
        rendered["strict"] = True
    return rendered


def mcp_tool(tool: Tool) -> dict[str, Any]:
    """A Model Context Protocol tool definition."""
    rendered: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "inputSchema": copy.deepcopy(tool.input_schema),
    }
    annotations = tool.annotations
    if annotations.title:
        rendered["title"] = annotations.title
    output = tool.output_schema
    if output is not None:
        if output.get("type") == "object" and "properties" in output:
            rendered["outputSchema"] = copy.deepcopy(output)
        else:
            # MCP output schemas must describe an object; wrap other values as {"result": ...}.
            inner = copy.deepcopy(output)
            defs = inner.pop("$defs", None)
            wrapped: dict[str, Any] = {
                "type": "object",
                "properties": {"result": inner},
                "required": ["result"],
            }
            if defs:
                wrapped["$defs"] = defs
            rendered["outputSchema"] = wrapped
    hints = {
        "title": annotations.title,
        "readOnlyHint": annotations.read_only,
        "destructiveHint": annotations.destructive,
        "idempotentHint": annotations.idempotent,
        "openWorldHint": annotations.open_world,
    }
    hints = {k: v for k, v in hints.items() if v is not None}
    if hints:
        rendered["annotations"] = hints
    return rendered


def render_tool(
    tool: Tool, format: SchemaFormat = "openai", *, strict: bool = False
) -> dict[str, Any]:
    """Render `tool` in one of `SCHEMA_FORMATS` (`strict` is ignored for MCP)."""
    if format == "openai":
        return openai_tool(tool, strict=strict)
    if format == "openai-responses":
        return openai_responses_tool(tool, strict=strict)
    if format == "anthropic":
        return anthropic_tool(tool, strict=strict)
    if format == "mcp":
        return mcp_tool(tool)
    raise ValueError(f"unknown schema format {format!r}; choose one of {', '.join(SCHEMA_FORMATS)}")
