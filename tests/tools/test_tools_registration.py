"""`@tool` and `ToolRegistry`: registration, discovery and metadata."""

from __future__ import annotations

import math

import pytest

from companion_kernel.errors import (
    InvalidToolName,
    ToolAlreadyRegistered,
    ToolNotFound,
)
from companion_kernel.tools import Tool, ToolRegistry, check_tool_name, tool


class TestDecorator:
    def test_bare(self) -> None:
        @tool
        def shout(text: str) -> str:
            """Shout the text."""
            return text.upper()

        assert isinstance(shout, Tool)
        assert shout.name == "shout"
        assert shout.description == "Shout the text."
        assert shout.category == "general"
        assert shout.cache_ttl is None and shout.timeout is None
        assert shout("hi") == "HI"  # the Tool still calls like the function

    def test_with_options(self) -> None:
        @tool(
            name="shout-v2",
            description="Make it loud",
            category="text",
            tags=["loud", "case"],
            cache_ttl=60,
            timeout=2.5,
            version="2",
            read_only=True,
            idempotent=True,
            metadata={"owner": "me"},
        )
        def shout(text: str) -> str:
            return text.upper()

        assert shout.name == "shout-v2"
        assert shout.description == "Make it loud"
        assert shout.category == "text"
        assert shout.tags == ("loud", "case")
        assert shout.cache_ttl == 60.0
        assert shout.timeout == 2.5
        assert shout.declared_version == "2"
        assert shout.annotations.read_only is True
        assert shout.annotations.idempotent is True
        assert shout.metadata["owner"] == "me"
        with pytest.raises(TypeError):
            shout.metadata["owner"] = "you"  # type: ignore[index]

    def test_cache_ttl_none_and_infinite(self) -> None:
        assert tool(cache_ttl=None)(lambda_free).cache_ttl is None
        assert tool(cache_ttl=math.inf)(lambda_free).cache_ttl == math.inf

    @pytest.mark.parametrize("bad", [0, -1, math.nan, "5", True])
    def test_bad_ttl_and_timeout(self, bad: object) -> None:
        with pytest.raises(ValueError):
            tool(cache_ttl=bad)(lambda_free)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            tool(timeout=bad)(lambda_free)  # type: ignore[arg-type]

    def test_async_detected(self) -> None:
        @tool
        async def later() -> int:
            return 1

        assert later.is_async
        assert not tool(lambda_free).is_async

    def test_generators_rejected(self) -> None:
        def gen():  # type: ignore[no-untyped-def]
            yield 1

        with pytest.raises(TypeError, match="generator"):
            tool(gen)

    def test_var_keyword_rejected(self) -> None:
        def loose(**options: int) -> None:
            return None

        with pytest.raises(TypeError, match=r"\*\*options"):
            tool(loose)

    def test_unresolvable_annotation_is_a_clear_error(self) -> None:
        def broken(x: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
            return None

        with pytest.raises(TypeError, match="broken"):
            tool(broken)

    def test_string_instead_of_function(self) -> None:
        with pytest.raises(TypeError, match="name="):
            tool("greet")  # type: ignore[call-overload]

    def test_source_and_version(self) -> None:
        first = tool(lambda_free)
        again = tool(lambda_free)
        assert first.source is not None and "def lambda_free" in first.source
        assert first.version == again.version  # stable for the same function
        assert len(first.version) == 16
        assert tool(version="2")(lambda_free).version != first.version
        assert tool(other_free).version != first.version

    def test_with_options_copies(self) -> None:
        base = tool(lambda_free)
        renamed = base.with_options(name="other", category="misc")
        assert (renamed.name, renamed.category) == ("other", "misc")
        assert base.name == "lambda_free"
        assert renamed.fn is base.fn
        with pytest.raises(TypeError, match="unknown"):
            base.with_options(colour="red")
        hinted = base.with_options(read_only=True, title="Identity")
        assert hinted.annotations.read_only and hinted.annotations.title == "Identity"
        assert base.annotations.read_only is None


def lambda_free(x: int = 1) -> int:
    """Return x."""
    return x


def other_free(x: int = 1) -> int:
    """Return x + 1."""
    return x + 1


class TestNames:
    @pytest.mark.parametrize("name", ["a", "add", "get-weather", "x_1", "A" * 64, "0"])
    def test_accepted(self, name: str) -> None:
        assert check_tool_name(name) == name
        assert tool(name=name)(lambda_free).name == name

    @pytest.mark.parametrize(
        "name", ["", "A" * 65, "has space", "dot.name", "é", "a/b", "<lambda>"]
    )
    def test_rejected(self, name: str) -> None:
        with pytest.raises(InvalidToolName, match="1-64"):
            tool(name=name)(lambda_free)

    def test_lambda_needs_a_name(self) -> None:
        with pytest.raises(InvalidToolName):
            tool(lambda: 1)
        assert tool(name="one")(lambda: 1).name == "one"

    def test_non_string(self) -> None:
        with pytest.raises(InvalidToolName, match="string"):
            check_tool_name(5)


class TestRegistry:
    def test_seed_usage(self) -> None:
        registry = ToolRegistry()

        @tool(name="greet", description="Greet someone")
        def greet(name: str) -> str:
            return f"Hello, {name}!"

        registry.register(greet)
        assert registry.execute("greet", "Alice") == "Hello, Alice!"

    def test_register_plain_function_with_options(self, empty: ToolRegistry) -> None:
        registered = empty.register(lambda_free, name="ident", category="misc", read_only=True)
        assert empty.get("ident") is registered
        assert registered.category == "misc" and registered.annotations.read_only

    def test_registry_decorator(self, empty: ToolRegistry) -> None:
        @empty.tool
        def one() -> int:
            return 1

        @empty.tool(name="two", category="numbers")
        def second() -> int:
            return 2

        assert isinstance(one, Tool)
        assert empty.names() == ["one", "two"]
        assert empty.execute("two") == 2

    def test_duplicate_is_an_error_unless_replacing(self, empty: ToolRegistry) -> None:
        empty.register(lambda_free)
        with pytest.raises(ToolAlreadyRegistered, match="replace=True"):
            empty.register(lambda_free)
        replacement = empty.register(other_free, name="lambda_free", replace=True)
        assert empty.get("lambda_free") is replacement
        assert empty.execute("lambda_free", 1) == 2

    def test_unregister(self, empty: ToolRegistry) -> None:
        registered = empty.register(lambda_free)
        assert empty.unregister("lambda_free") is registered
        assert "lambda_free" not in empty
        with pytest.raises(ToolNotFound):
            empty.unregister("lambda_free")

    def test_get_unknown_suggests(self, registry: ToolRegistry) -> None:
        with pytest.raises(ToolNotFound) as info:
            registry.get("sum")
        assert "did you mean" in str(info.value) and "list_sum" in str(info.value)
        with pytest.raises(ToolNotFound):
            registry.get(["not", "hashable"])  # type: ignore[arg-type]

    def test_container_protocol(self, registry: ToolRegistry) -> None:
        assert len(registry) == 23
        assert "add" in registry and "nope" not in registry
        assert [t.name for t in registry] == registry.names() == sorted(registry.names())

    def test_list_filters(self, registry: ToolRegistry) -> None:
        math_tools = registry.list_tools(category="math")
        assert [t.name for t in math_tools] == sorted(
            ["add", "subtract", "multiply", "divide", "power", "sqrt"]
        )
        assert [t.name for t in registry.list_tools(tag="json")] == ["parse_json", "to_json"]
        assert registry.list_tools(category="nope") == []

    def test_categories(self, registry: ToolRegistry) -> None:
        groups = registry.categories()
        assert list(groups) == ["data", "datetime", "list", "math", "text"]
        assert {k: len(v) for k, v in groups.items()} == {
            "data": 2,
            "datetime": 3,
            "list": 6,
            "math": 6,
            "text": 6,
        }

    def test_search_ranks_exact_name_first(self, registry: ToolRegistry) -> None:
        found = [t.name for t in registry.search("add")]
        assert found[0] == "add"

    def test_search_by_tag_and_description(self, registry: ToolRegistry) -> None:
        assert [t.name for t in registry.search("mean")] == ["list_average"]
        assert "extract_numbers" in [t.name for t in registry.search("scientific")]
        assert registry.search("zzzz-nothing") == []

    def test_search_multi_term_limit_and_category(self, registry: ToolRegistry) -> None:
        top = registry.search("list numbers", limit=3)
        assert len(top) == 3
        assert all(t.category == "list" for t in top)
        only_text = registry.search("numbers", category="text")
        assert [t.name for t in only_text] == ["extract_numbers"]

    def test_empty_search_lists_all(self, registry: ToolRegistry) -> None:
        assert len(registry.search("  ")) == 23

    def test_info_is_json_able(self, registry: ToolRegistry) -> None:
        info = registry.info("divide")
        dumped = info.model_dump(mode="json")
        assert dumped["name"] == "divide"
        assert dumped["category"] == "math"
        assert dumped["signature"] == "divide(a: int | float, b: int | float)"
        assert dumped["input_schema"]["required"] == ["a", "b"]
        assert dumped["annotations"]["read_only"] is True
        assert dumped["version"] == registry.get("divide").version

    def test_constructor_takes_tools(self) -> None:
        registry = ToolRegistry([lambda_free, tool(name="other")(other_free)])
        assert registry.names() == ["lambda_free", "other"]

    def test_bad_constructor_limits(self) -> None:
        with pytest.raises(ValueError):
            ToolRegistry(max_concurrency=0)
        with pytest.raises(ValueError):
            ToolRegistry(max_argument_bytes=0)
