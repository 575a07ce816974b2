"""The 23 built-in tools: the seed's figures and the defined edge cases."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion_kernel.errors import ToolArgumentError, ToolExecutionError
from companion_kernel.tools import ToolRegistry, default_registry
from companion_kernel.tools.builtins import BUILTIN_TOOLS

SEED = {
    "math": ["add", "subtract", "multiply", "divide", "power", "sqrt"],
    "text": [
        "uppercase",
        "lowercase",
        "reverse_text",
        "count_words",
        "count_characters",
        "extract_numbers",
    ],
    "datetime": ["current_datetime", "current_timestamp", "format_date"],
    "list": ["list_sum", "list_average", "list_min", "list_max", "list_unique", "list_sort"],
    "data": ["parse_json", "to_json"],
}
TEMPERATURES = "The temperatures were 22.5°C, 18.3°C, 25.7°C, 20.1°C, and 23.4°C"


class TestInventory:
    def test_exactly_the_seeds_tools(self, registry: ToolRegistry) -> None:
        assert len(BUILTIN_TOOLS) == 23
        assert [t.name for t in BUILTIN_TOOLS] == [n for names in SEED.values() for n in names]
        for category, names in SEED.items():
            assert sorted(t.name for t in registry.list_tools(category=category)) == sorted(names)

    def test_every_tool_is_described(self) -> None:
        for t in BUILTIN_TOOLS:
            assert t.description, t.name
            for name, prop in t.input_schema["properties"].items():
                assert prop.get("description"), f"{t.name}.{name}"

    def test_default_registry_is_fresh_each_time(self) -> None:
        first, second = default_registry(), default_registry()
        assert first is not second and first.cache is not second.cache
        first.unregister("add")
        first.register(lambda: 0, name="extra")
        assert "add" in second and "extra" not in second
        assert first.get("sqrt") is second.get("sqrt")  # immutable tools are shared


class TestSeedFigures:
    def test_math(self, registry: ToolRegistry) -> None:
        assert registry.execute("add", 10, 5) == 15
        assert isinstance(registry.execute("add", 10, 5), int)
        assert registry.execute("multiply", 7, 8) == 56
        assert registry.execute("sqrt", 144) == 12.0

    def test_temperature_pipeline(self, registry: ToolRegistry) -> None:
        numbers = registry.execute("extract_numbers", TEMPERATURES)
        assert numbers == [22.5, 18.3, 25.7, 20.1, 23.4]
        assert registry.execute("list_average", numbers) == 22.0
        assert registry.execute("list_min", numbers) == 18.3
        assert registry.execute("list_max", numbers) == 25.7

    def test_json_round_trip_through_the_envelope(self, registry: ToolRegistry) -> None:
        result = registry.call("extract_numbers", {"text": TEMPERATURES})
        assert result.value == [22.5, 18.3, 25.7, 20.1, 23.4]


class TestMath:
    def test_basic(self, registry: ToolRegistry) -> None:
        assert registry.execute("subtract", 10, 15) == -5
        assert registry.execute("divide", 7, 2) == 3.5
        assert registry.execute("power", 2, 10) == 1024
        assert registry.execute("power", 4, 0.5) == 2.0
        assert registry.execute("add", "1.5", 1) == 2.5  # numeric strings, as models send

    def test_divide_by_zero(self, registry: ToolRegistry) -> None:
        with pytest.raises(ToolExecutionError, match="cannot divide by zero"):
            registry.execute("divide", 1, 0)

    def test_sqrt_of_negative(self, registry: ToolRegistry) -> None:
        result = registry.call("sqrt", {"x": -4})
        assert result.error is not None
        assert "square root of a negative number" in result.error.message

    @pytest.mark.parametrize(
        ("base", "exponent", "message"),
        [
            (10, 10**9, "digits"),
            (0, -1, "zero cannot be raised"),
            (-8, 0.5, "not a real number"),
            (10.0, 400, "too large"),
        ],
    )
    def test_power_limits(
        self, registry: ToolRegistry, base: float, exponent: float, message: str
    ) -> None:
        with pytest.raises(ToolExecutionError, match=message):
            registry.execute("power", base, exponent)

    def test_booleans_are_not_numbers(self, registry: ToolRegistry) -> None:
        with pytest.raises(ToolArgumentError, match="not a boolean"):
            registry.execute("add", True, 1)
        with pytest.raises(ToolArgumentError, match="expected a number"):
            registry.execute("add", "ten", 1)


class TestText:
    def test_case_and_reverse(self, registry: ToolRegistry) -> None:
        assert registry.execute("uppercase", "Hello") == "HELLO"
        assert registry.execute("lowercase", "Hello") == "hello"
        assert registry.execute("reverse_text", "abc") == "cba"

    def test_counts(self, registry: ToolRegistry) -> None:
        assert registry.execute("count_words", "  the quick\nbrown\tfox ") == 4
        assert registry.execute("count_words", "") == 0
        assert registry.execute("count_characters", "a b c") == 5
        assert registry.execute("count_characters", "a b c", include_spaces=False) == 3

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("-5 and +3 and −2", [-5, 3, -2]),
            ("pi is 3.14159, e is 2.718", [3.14159, 2.718]),
            ("1e5 1.5E-3 2e+2", [100000.0, 0.0015, 200.0]),
            ("from 10-20 pages", [10, 20]),
            ("date 2024-01-15", [2024, 1, 15]),
            ("x=-3, y=.5", [-3, 0.5]),
            ("version 1.2.3", [1.2]),
            ("no numbers here", []),
            ("CO2 at 415ppm", [2, 415]),
        ],
    )
    def test_extract_numbers(
        self, registry: ToolRegistry, text: str, expected: list[float]
    ) -> None:
        found = registry.execute("extract_numbers", text)
        assert found == expected
        assert [type(n) for n in found] == [type(n) for n in expected]

    @given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), max_size=8))
    def test_extract_numbers_round_trips(self, values: list[float]) -> None:
        text = " and ".join(f"{v!r} units" for v in values)
        found = BUILTIN_TOOLS[11](text)  # extract_numbers, called directly
        assert found == pytest.approx([float(repr(v)) for v in values])


class TestDatetime:
    def test_current_datetime(self, registry: ToolRegistry) -> None:
        utc = dt.datetime.fromisoformat(registry.execute("current_datetime"))
        assert utc.utcoffset() == dt.timedelta(0)
        paris = dt.datetime.fromisoformat(registry.execute("current_datetime", "Europe/Paris"))
        assert paris.utcoffset() in (dt.timedelta(hours=1), dt.timedelta(hours=2))

    def test_unknown_zone(self, registry: ToolRegistry) -> None:
        with pytest.raises(ToolExecutionError, match="unknown time zone"):
            registry.execute("current_datetime", "Mars/Olympus")

    def test_timestamp(self, registry: ToolRegistry) -> None:
        stamp = registry.execute("current_timestamp")
        assert isinstance(stamp, float) and stamp > 1.7e9

    def test_format_date(self, registry: ToolRegistry) -> None:
        assert registry.execute("format_date", "2024-03-15") == "2024-03-15"
        assert registry.execute("format_date", "2024-03-15", "%d %B %Y") == "15 March 2024"
        assert registry.execute("format_date", "2024-03-15T14:30:00Z", "%H:%M %Z") == "14:30 UTC"

    def test_format_date_errors(self, registry: ToolRegistry) -> None:
        with pytest.raises(ToolExecutionError, match="not an ISO 8601 date"):
            registry.execute("format_date", "15/03/2024")
        with pytest.raises(ToolArgumentError, match="format"):
            registry.execute("format_date", "2024-03-15", "")


class TestLists:
    def test_sum_exact(self, registry: ToolRegistry) -> None:
        assert registry.execute("list_sum", [0.1] * 10) == 1.0
        assert registry.execute("list_sum", [1, 2, 3]) == 6
        assert registry.execute("list_sum", []) == 0

    @pytest.mark.parametrize("name", ["list_average", "list_min", "list_max"])
    def test_empty_is_an_error(self, registry: ToolRegistry, name: str) -> None:
        with pytest.raises(ToolExecutionError, match="empty list"):
            registry.execute(name, [])

    def test_unique(self, registry: ToolRegistry) -> None:
        assert registry.execute("list_unique", [3, 1, 3, 2, 1]) == [3, 1, 2]
        assert registry.execute("list_unique", [1, 1.0, True, "1"]) == [1, 1.0, True, "1"]
        assert registry.execute("list_unique", [{"a": 1}, {"a": 1}, [1], [1]]) == [{"a": 1}, [1]]

    def test_sort(self, registry: ToolRegistry) -> None:
        assert registry.execute("list_sort", [3, 1.5, 2]) == [1.5, 2, 3]
        assert registry.execute("list_sort", [3, 1, 2], "desc") == [3, 2, 1]
        assert registry.execute("list_sort", ["b", "a"]) == ["a", "b"]
        with pytest.raises(ToolArgumentError, match="'asc' or 'desc'"):
            registry.execute("list_sort", [1], "up")
        with pytest.raises(ToolExecutionError, match="mixes numbers and strings"):
            registry.execute("list_sort", [1, "a"])

    def test_huge_list(self, registry: ToolRegistry) -> None:
        assert registry.execute("list_sum", list(range(200_000))) == 199_999 * 100_000


class TestData:
    def test_parse_json(self, registry: ToolRegistry) -> None:
        assert registry.execute("parse_json", '{"a": [1, 2]}') == {"a": [1, 2]}
        with pytest.raises(ToolExecutionError, match="line 1 column 2"):
            registry.execute("parse_json", "{oops")

    def test_to_json(self, registry: ToolRegistry) -> None:
        assert registry.execute("to_json", {"b": 1, "a": "é"}) == '{"b": 1, "a": "é"}'
        assert registry.execute("to_json", {"b": 1, "a": 2}, sort_keys=True) == '{"a": 2, "b": 1}'
        assert registry.execute("to_json", [1], indent=2) == "[\n  1\n]"
        assert registry.execute("to_json", math.inf) == "Infinity"
        with pytest.raises(ToolExecutionError, match="cannot be written as JSON"):
            registry.execute("to_json", {1, 2})
