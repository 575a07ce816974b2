"""Input/return schemas from signatures and docstrings, and the LLM API renderers."""

from __future__ import annotations

import dataclasses
import enum
from typing import Annotated, Any, Literal, Optional, Union

import jsonschema
import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from companion_kernel.tools import Tool, ToolRegistry, render_tool, strict_json_schema, tool
from companion_kernel.tools.schemas import (
    anthropic_tool,
    is_strict_compatible,
    mcp_tool,
    openai_responses_tool,
    openai_tool,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(BaseModel):
    x: int
    y: int = 0


@dataclasses.dataclass
class Box:
    width: float
    height: float


class Address(TypedDict):
    street: str
    city: str


def everything(
    ids: list[int],
    weights: dict[str, float],
    note: Optional[str],  # noqa: UP045 - the typing spelling is what is under test
    either: Union[int, str],  # noqa: UP007
    mode: Literal["fast", "slow"],
    color: Color,
    point: Point,
    box: Box,
    address: Address,
    limit: Annotated[int, Field(ge=1, le=10, description="How many, 1-10")] = 5,
    label: str = "x",
) -> list[Point]:
    """Exercise every kind of parameter.

    Args:
        ids: Identifiers to look up.
        weights: Weight per name.
        note: A free note, or null.
        limit: Ignored: the Field description wins.
    """
    return [point]


@pytest.fixture(scope="module")
def rich() -> Tool:
    return tool(everything)


def _prop(t: Tool, name: str) -> dict[str, Any]:
    return t.input_schema["properties"][name]


def _resolve(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in prop:
        return schema["$defs"][prop["$ref"].split("/")[-1]]
    return prop


class TestInputSchema:
    def test_object_shape(self, rich: Tool) -> None:
        schema = rich.input_schema
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert list(schema["properties"]) == list(rich.parameter_names)
        assert schema["required"] == [
            "ids",
            "weights",
            "note",
            "either",
            "mode",
            "color",
            "point",
            "box",
            "address",
        ]
        assert "title" not in schema

    def test_generics(self, rich: Tool) -> None:
        assert _prop(rich, "ids") == {
            "type": "array",
            "items": {"type": "integer"},
            "description": "Identifiers to look up.",
        }
        assert _prop(rich, "weights")["additionalProperties"] == {"type": "number"}

    def test_optional_and_union(self, rich: Tool) -> None:
        assert {"type": "null"} in _prop(rich, "note")["anyOf"]
        assert _prop(rich, "either")["anyOf"] == [{"type": "integer"}, {"type": "string"}]

    def test_literal_and_enum(self, rich: Tool) -> None:
        assert _prop(rich, "mode")["enum"] == ["fast", "slow"]
        color = _resolve(rich.input_schema, _prop(rich, "color"))
        assert color["enum"] == ["red", "blue"]

    def test_nested_model_dataclass_typeddict(self, rich: Tool) -> None:
        schema = rich.input_schema
        point = _resolve(schema, _prop(rich, "point"))
        assert point["required"] == ["x"]
        box = _resolve(schema, _prop(rich, "box"))
        assert set(box["properties"]) == {"width", "height"}
        address = _resolve(schema, _prop(rich, "address"))
        assert address["required"] == ["street", "city"]

    def test_defaults_and_annotated_field(self, rich: Tool) -> None:
        limit = _prop(rich, "limit")
        assert limit["default"] == 5
        assert limit["minimum"] == 1 and limit["maximum"] == 10
        assert limit["description"] == "How many, 1-10"
        assert _prop(rich, "label") == {"default": "x", "type": "string"}

    def test_reserved_parameter_names(self) -> None:
        @tool
        def odd(json: str, schema: int = 1, model_config: bool = False) -> str:
            return json

        assert list(odd.input_schema["properties"]) == ["json", "schema", "model_config"]
        assert odd.input_schema["required"] == ["json"]

    def test_var_positional_becomes_an_array(self) -> None:
        @tool
        def total(*numbers: float) -> float:
            return sum(numbers)

        assert _prop(total, "numbers")["type"] == "array"
        assert "required" not in total.input_schema or total.input_schema["required"] == []

    def test_no_parameters(self) -> None:
        @tool
        def nothing() -> None:
            return None

        assert nothing.input_schema == {
            "additionalProperties": False,
            "properties": {},
            "type": "object",
        }

    def test_schema_accepts_what_validation_accepts(self, rich: Tool) -> None:
        sample = {
            "ids": [1, 2],
            "weights": {"a": 0.5},
            "note": None,
            "either": "s",
            "mode": "fast",
            "color": "red",
            "point": {"x": 1},
            "box": {"width": 1, "height": 2},
            "address": {"street": "Main", "city": "Oslo"},
        }
        jsonschema.validate(sample, rich.input_schema)
        rich.binder.bind_mapping(sample)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**sample, "mode": "medium"}, rich.input_schema)


class TestDocstrings:
    def test_google(self) -> None:
        @tool
        def f(a: int, b: int) -> int:
            """Add things.

            More detail.

            Args:
                a: First value.
                b: Second value,
                    continued.

            Returns:
                The total.
            """
            return a + b

        assert f.description == "Add things.\n\nMore detail."
        assert _prop(f, "a")["description"] == "First value."
        assert _prop(f, "b")["description"] == "Second value, continued."
        assert f.output_schema == {"type": "integer", "description": "The total."}

    def test_numpy(self) -> None:
        @tool
        def f(a: int, b: int) -> int:
            """Add things.

            Parameters
            ----------
            a : int
                First value.
            b : int
                Second value.
            """
            return a + b

        assert f.description == "Add things."
        assert _prop(f, "a")["description"] == "First value."
        assert _prop(f, "b")["description"] == "Second value."

    def test_sphinx(self) -> None:
        @tool
        def f(a: int, b: int) -> int:
            """Add things.

            :param a: First value.
            :param b: Second value.
            :returns: The total.
            """
            return a + b

        assert f.description == "Add things."
        assert _prop(f, "a")["description"] == "First value."
        assert f.output_schema is not None
        assert f.output_schema["description"] == "The total."

    def test_no_docstring(self) -> None:
        @tool
        def f(a: int) -> int:
            return a

        assert f.description == ""
        assert "description" not in _prop(f, "a")


class TestReturnSchema:
    def test_from_annotation(self, rich: Tool) -> None:
        output = rich.output_schema
        assert output is not None and output["type"] == "array"

    @pytest.mark.parametrize("annotation", [None, Any, "missing"])
    def test_none_when_no_useful_type(self, annotation: object) -> None:
        def f() -> None:
            return None

        if annotation == "missing":
            del f.__annotations__["return"]
        else:
            f.__annotations__["return"] = annotation
        assert tool(f).output_schema is None

    def test_none_when_type_has_no_schema(self) -> None:
        class Opaque:
            pass

        def f() -> Opaque:
            return Opaque()

        assert tool(f).output_schema is None


class TestRenderers:
    def test_openai(self, rich: Tool) -> None:
        rendered = openai_tool(rich)
        assert rendered["type"] == "function"
        function = rendered["function"]
        assert function["name"] == "everything"
        assert function["description"].startswith("Exercise")
        assert function["parameters"] == rich.input_schema
        assert function["strict"] is False
        assert function["parameters"] is not rich.input_schema  # a copy

    def test_openai_responses_is_flat(self, rich: Tool) -> None:
        rendered = openai_responses_tool(rich)
        assert rendered["type"] == "function" and rendered["name"] == "everything"
        assert "function" not in rendered
        assert rendered["strict"] is False  # explicit: the Responses API defaults to true

    def test_anthropic(self, rich: Tool) -> None:
        rendered = anthropic_tool(rich)
        assert set(rendered) == {"name", "description", "input_schema"}
        assert rendered["input_schema"] == rich.input_schema

    def test_mcp(self) -> None:
        @tool(title="Area", read_only=True, idempotent=True, open_world=False)
        def area(box: Box) -> Box:
            return box

        rendered = mcp_tool(area)
        assert rendered["inputSchema"] == area.input_schema
        assert rendered["outputSchema"]["type"] == "object"
        assert rendered["title"] == "Area"
        assert rendered["annotations"] == {
            "title": "Area",
            "readOnlyHint": True,
            "idempotentHint": True,
            "openWorldHint": False,
        }

    def test_mcp_wraps_non_object_output(self, registry: ToolRegistry) -> None:
        rendered = mcp_tool(registry.get("extract_numbers"))
        output = rendered["outputSchema"]
        assert output["type"] == "object" and output["required"] == ["result"]
        assert output["properties"]["result"]["type"] == "array"

    def test_mcp_without_hints_or_output(self) -> None:
        rendered = mcp_tool(tool(lambda_none))
        assert "annotations" not in rendered and "outputSchema" not in rendered

    def test_render_tool_dispatch(self, registry: ToolRegistry) -> None:
        add = registry.get("add")
        assert render_tool(add, "openai")["function"]["name"] == "add"
        assert render_tool(add, "openai-responses")["name"] == "add"
        assert render_tool(add, "anthropic")["input_schema"]["required"] == ["a", "b"]
        assert render_tool(add, "mcp")["inputSchema"]["required"] == ["a", "b"]
        with pytest.raises(ValueError, match="unknown schema format"):
            render_tool(add, "gemini")  # type: ignore[arg-type]

    def test_registry_schemas(self, registry: ToolRegistry) -> None:
        everything_ = registry.schemas("anthropic")
        assert len(everything_) == 23
        some = registry.schemas("openai", names=["sqrt", "add"])
        assert [s["function"]["name"] for s in some] == ["sqrt", "add"]


def lambda_none(x: int):  # type: ignore[no-untyped-def]
    return None


class TestStrict:
    def test_strict_object_rules(self) -> None:
        @tool
        def search(
            query: str,
            limit: int = 10,
            lang: Optional[str] = None,  # noqa: UP045
            point: Point | None = None,
        ) -> None:
            return None

        params = openai_tool(search, strict=True)["function"]
        assert params["strict"] is True
        schema = params["parameters"]
        assert schema["additionalProperties"] is False
        assert schema["required"] == ["query", "limit", "lang", "point"]
        assert schema["properties"]["query"] == {"type": "string"}
        assert schema["properties"]["limit"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
        assert schema["properties"]["lang"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
        assert schema["$defs"]["Point"]["additionalProperties"] is False
        assert schema["$defs"]["Point"]["required"] == ["x", "y"]

    def test_normal_variant_keeps_optional_optional(self) -> None:
        @tool
        def search(query: str, limit: int = 10) -> None:
            return None

        normal = openai_tool(search)["function"]["parameters"]
        assert normal["required"] == ["query"]
        assert normal["properties"]["limit"] == {"default": 10, "type": "integer"}

    def test_ref_with_siblings_is_inlined(self) -> None:
        @tool
        def paint(color: Color = Color.RED) -> None:
            return None

        strict = strict_json_schema(paint.input_schema)
        color = strict["properties"]["color"]
        assert "$ref" not in color["anyOf"][0]
        assert color["anyOf"][0]["enum"] == ["red", "blue"]

    def test_free_form_falls_back_to_non_strict(self, rich: Tool) -> None:
        assert not is_strict_compatible(rich.input_schema)  # `weights` is a free-form dict
        with pytest.raises(ValueError, match="weights"):
            strict_json_schema(rich.input_schema)
        rendered = openai_tool(rich, strict=True)["function"]
        assert rendered["strict"] is False
        assert rendered["parameters"] == rich.input_schema
        assert "strict" not in anthropic_tool(rich, strict=True)

    def test_any_is_not_strict(self, registry: ToolRegistry) -> None:
        assert not is_strict_compatible(registry.get("to_json").input_schema)

    def test_builtins_strict(self, registry: ToolRegistry) -> None:
        rendered = registry.schemas("openai-responses", strict=True)
        non_strict = sorted(r["name"] for r in rendered if not r["strict"])
        assert non_strict == ["list_unique", "to_json"]
        for r in rendered:
            if r["strict"]:
                assert r["parameters"]["required"] == list(r["parameters"]["properties"])
                jsonschema.Draft202012Validator.check_schema(r["parameters"])

    def test_strict_accepts_null_for_optional(self, registry: ToolRegistry) -> None:
        # A model following the strict schema sends null for `include_spaces`: means default.
        result = registry.call("count_characters", {"text": "a b", "include_spaces": None})
        assert result.ok and result.value == 3

    def test_anthropic_strict_flag(self, registry: ToolRegistry) -> None:
        rendered = anthropic_tool(registry.get("add"), strict=True)
        assert rendered["strict"] is True
        assert rendered["input_schema"]["additionalProperties"] is False
