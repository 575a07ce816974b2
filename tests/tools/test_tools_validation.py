"""Arguments as Python values, dicts or JSON strings; errors a model can act on."""

from __future__ import annotations

import enum
import json

import pytest
from pydantic import BaseModel

from companion_kernel.errors import ToolArgumentError
from companion_kernel.tools import ToolRegistry, tool


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


class Reading(BaseModel):
    value: float
    unit: Unit = Unit.C


@pytest.fixture
def reg() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    def convert(reading: Reading, to: Unit, digits: int = 1) -> float:
        """Convert a temperature reading."""
        value = reading.value
        if reading.unit is not to:
            value = value * 9 / 5 + 32 if to is Unit.F else (value - 32) * 5 / 9
        return round(value, digits)

    @registry.tool
    def scaled(values: list[float], factor: float = 2.0) -> list[float]:
        return [v * factor for v in values]

    @registry.tool
    def only_pos(a: int, b: int = 0, /, *rest: int, flag: bool = False) -> list[int]:
        return [a, b, *rest, int(flag)]

    return registry


class TestPythonValues:
    def test_positional_and_keyword(self, reg: ToolRegistry) -> None:
        assert reg.execute("scaled", [1, 2]) == [2.0, 4.0]
        assert reg.execute("scaled", values=[1, 2], factor=3) == [3.0, 6.0]
        assert reg.execute("scaled", [1], 0.5) == [0.5]

    def test_coercion_to_declared_types(self, reg: ToolRegistry) -> None:
        assert reg.execute("convert", {"value": 100}, "fahrenheit") == 212.0
        assert reg.execute("convert", Reading(value=212, unit=Unit.F), Unit.C) == 100.0

    def test_lax_strings_accepted(self, reg: ToolRegistry) -> None:
        assert reg.execute("scaled", ["1.5"], "2") == [3.0]

    def test_positional_only_and_var_positional(self, reg: ToolRegistry) -> None:
        assert reg.execute("only_pos", 1) == [1, 0, 0]
        assert reg.execute("only_pos", 1, 2, 3, 4, flag=True) == [1, 2, 3, 4, 1]

    def test_validate_returns_named_values(self, reg: ToolRegistry) -> None:
        assert reg.get("only_pos").validate(1, 2, 3) == {"a": 1, "b": 2, "rest": [3], "flag": False}


class TestDictAndJson:
    def test_dict(self, reg: ToolRegistry) -> None:
        result = reg.call("convert", {"reading": {"value": 0}, "to": "fahrenheit"})
        assert result.ok and result.value == 32.0

    def test_json_string(self, reg: ToolRegistry) -> None:
        payload = json.dumps({"reading": {"value": 32, "unit": "fahrenheit"}, "to": "celsius"})
        result = reg.call("convert", payload)
        assert result.ok and result.value == 0.0

    def test_json_bytes(self, reg: ToolRegistry) -> None:
        assert reg.call("scaled", b'{"values": [1]}').value == [2.0]

    def test_empty_json_for_no_arguments(self) -> None:
        registry = ToolRegistry()
        registry.register(tool(name="one")(lambda: 1))
        for empty in ("", "  ", "{}", None):
            assert registry.call("one", empty).value == 1

    def test_positional_only_from_json(self, reg: ToolRegistry) -> None:
        result = reg.call("only_pos", {"a": 1, "rest": [7, 8], "flag": True})
        assert result.value == [1, 0, 7, 8, 1]
        assert reg.call("only_pos", {"a": 5}).value == [5, 0, 0]

    def test_extra_positional_values_with_dict(self, reg: ToolRegistry) -> None:
        assert reg.call("scaled", {"factor": 10}, args=[[1]]).value == [10.0]

    def test_same_result_for_every_form(self, reg: ToolRegistry) -> None:
        python = reg.execute("scaled", [1, 2], factor=3)
        from_dict = reg.call("scaled", {"values": [1, 2], "factor": 3}).value
        from_json = reg.call("scaled", '{"factor": 3, "values": [1, 2]}').value
        assert python == from_dict == from_json == [3.0, 6.0]


class TestErrors:
    def _error(self, reg: ToolRegistry, name: str, arguments: object) -> ToolArgumentError:
        result = reg.call(name, arguments)  # type: ignore[arg-type]
        assert not result.ok and result.error is not None
        assert result.error.type == "ToolArgumentError"
        with pytest.raises(ToolArgumentError) as info:
            result.unwrap()
        return info.value

    def test_every_problem_listed(self, reg: ToolRegistry) -> None:
        exc = self._error(
            reg, "convert", {"reading": {"value": "hot", "unit": "kelvin"}, "digits": "x", "to": 1}
        )
        text = str(exc)
        assert text.startswith("invalid arguments for tool 'convert':")
        for loc in ("reading.value", "reading.unit", "digits", "to"):
            assert f"- {loc}:" in text
        assert "'celsius' or 'fahrenheit'" in text
        assert "expected: convert(reading: Reading, to: Unit, digits: int = 1)" in text
        assert {p["loc"] for p in exc.details} == {  # type: ignore[attr-defined]
            "reading.value",
            "reading.unit",
            "digits",
            "to",
        }

    def test_missing(self, reg: ToolRegistry) -> None:
        exc = self._error(reg, "convert", {"to": "celsius"})
        assert "- reading: required argument is missing" in str(exc)

    def test_extra(self, reg: ToolRegistry) -> None:
        exc = self._error(reg, "scaled", {"values": [1], "factr": 2})
        assert "- factr: unexpected argument; this tool accepts: values, factor" in str(exc)

    def test_nested_extra_field(self) -> None:
        registry = ToolRegistry()

        class Strict(BaseModel):
            model_config = {"extra": "forbid"}
            a: int

        def takes(s: Strict) -> int:
            return s.a

        takes.__annotations__["s"] = Strict
        registry.register(takes)
        exc = self._error(registry, "takes", {"s": {"a": 1, "b": 2}})
        assert "- s.b: unexpected field" in str(exc)

    def test_list_item_location(self, reg: ToolRegistry) -> None:
        exc = self._error(reg, "scaled", {"values": [1, "two", 3]})
        assert "- values[1]: Input should be a valid number" in str(exc)

    def test_python_errors(self, reg: ToolRegistry) -> None:
        with pytest.raises(ToolArgumentError, match="too many positional arguments"):
            reg.execute("scaled", [1], 2, 3)
        with pytest.raises(ToolArgumentError, match="given more than once"):
            reg.execute("scaled", [1], values=[2])
        with pytest.raises(ToolArgumentError, match="required argument is missing"):
            reg.execute("scaled")
        with pytest.raises(ToolArgumentError, match=r"rest\[1\]"):
            reg.execute("only_pos", 1, 2, 3, "x")

    def test_not_json(self, reg: ToolRegistry) -> None:
        exc = self._error(reg, "scaled", "{values: [1]")
        assert "not valid JSON" in str(exc) and "send a JSON object such as" in str(exc)

    @pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "42", "null"])
    def test_json_that_is_not_an_object(self, reg: ToolRegistry, payload: str) -> None:
        exc = self._error(reg, "scaled", payload)
        assert "must be a JSON object" in str(exc)

    def test_wrong_container(self, reg: ToolRegistry) -> None:
        exc = self._error(reg, "scaled", ["values"])
        assert "must be a JSON object" in str(exc)

    def test_non_string_keys(self, reg: ToolRegistry) -> None:
        exc = self._error(reg, "scaled", {1: [1]})
        assert "must be strings" in str(exc)

    def test_var_positional_must_be_a_list(self, reg: ToolRegistry) -> None:
        exc = self._error(reg, "only_pos", {"a": 1, "rest": 5})
        assert "- rest: Input should be a valid array" in str(exc)

    def test_null_for_non_nullable_required_is_an_error(self, reg: ToolRegistry) -> None:
        exc = self._error(reg, "scaled", {"values": None})
        assert "- values:" in str(exc)

    def test_null_for_optional_means_default(self, reg: ToolRegistry) -> None:
        assert reg.call("scaled", {"values": [1], "factor": None}).value == [2.0]

    def test_long_inputs_are_truncated_in_messages(self, reg: ToolRegistry) -> None:
        exc = self._error(reg, "scaled", {"values": ["x" * 10_000]})
        assert len(str(exc)) < 600

    def test_many_problems_are_capped(self, reg: ToolRegistry) -> None:
        exc = self._error(reg, "scaled", {"values": ["x"] * 100})
        assert "and 80 more problems" in str(exc)
        assert len(exc.details) == 20  # type: ignore[attr-defined]

    def test_huge_json_rejected_before_parsing(self) -> None:
        registry = ToolRegistry(max_argument_bytes=1000)
        registry.register(tool(name="echo")(lambda text: text))
        big = json.dumps({"text": "x" * 2000})
        result = registry.call("echo", big)
        assert result.error is not None and "limit is 1000 bytes" in result.error.message
        assert registry.call("echo", {"text": "x" * 2000}).ok  # dicts are not size-checked

    def test_deeply_nested_json(self, reg: ToolRegistry) -> None:
        payload = '{"values": ' + "[" * 100_000 + "]" * 100_000 + "}"
        result = reg.call("scaled", payload)
        assert result.error is not None and result.error.type == "ToolArgumentError"

    def test_bad_positional_container(self, reg: ToolRegistry) -> None:
        result = reg.call("scaled", None, args="abc")  # type: ignore[arg-type]
        assert result.error is not None and "must be a list" in result.error.message


class TestFallbackValidator:
    """Without pydantic's experimental arguments schema, `validate_call` validates the same way."""

    def test_same_results_and_errors(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from companion_kernel.tools import _arguments

        def sample(a: int, b: list[float], /, c: str = "x", *rest: int, d: bool = False) -> None:
            return None

        fast = tool(sample)
        monkeypatch.setattr(_arguments, "_generate_arguments_schema", None)
        slow = tool(sample)
        good = [((1, [2]), {}), (("1", ["2.5"], "y", 4, 5), {"d": "true"})]
        for args, kwargs in good:
            assert fast.binder.bind(args, kwargs) == slow.binder.bind(args, kwargs)
        bad = [((), {}), (("x", [1], "c", "z"), {"e": 1}), ((1, [2]), {"b": [3]})]
        for args, kwargs in bad:
            with pytest.raises(ToolArgumentError) as fast_error:
                fast.binder.bind(args, kwargs)
            with pytest.raises(ToolArgumentError) as slow_error:
                slow.binder.bind(args, kwargs)
            assert str(fast_error.value) == str(slow_error.value)
        registry = ToolRegistry([slow])
        assert registry.execute("sample", 1, [2]) is None
