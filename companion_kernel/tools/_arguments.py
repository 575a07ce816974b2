"""Turn a function signature into a JSON schema and validate calls against it.

Two pydantic objects describe the same signature of a stand-in function: a model built with
`create_model` gives the JSON schema, and the "arguments" core schema that `validate_call` uses
validates calls, returning `(args, kwargs)` without building a model instance per call (several
times faster). That schema comes from `pydantic.experimental.arguments_schema`, or from
`validate_call` itself where that module is missing.
"""

from __future__ import annotations

import functools
import inspect
import json
import reprlib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    validate_call,
)
from pydantic.fields import FieldInfo
from pydantic_core import ArgsKwargs, SchemaValidator

try:  # pydantic >= 2.11; `validate_call` is the fallback
    from pydantic.experimental.arguments_schema import (
        generate_arguments_schema as _generate_arguments_schema,
    )
except ImportError:  # pragma: no cover
    _generate_arguments_schema = None

from companion_kernel.errors import ToolArgumentError

__all__ = ["ArgumentBinder", "resolve_hints", "type_label"]

_CONFIG = ConfigDict(extra="forbid", protected_namespaces=())
_MAX_PROBLEMS = 20
_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = 6
_short.maxdict = 4

_MISSING_TYPES = frozenset(
    {
        "missing",
        "missing_argument",
        "missing_positional_only_argument",
        "missing_keyword_only_argument",
    }
)


def type_label(annotation: Any) -> str:
    """A short human-readable name for a type annotation."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return "any"
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_label(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_label(a) for a in args)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_label(a) for a in args)}]" if args else name
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def resolve_hints(fn: Callable[..., Any], *, with_return: bool = True) -> dict[str, Any]:
    """Evaluated type hints of a function, a partial or a callable object."""
    target: Any = fn
    if isinstance(target, functools.partial):
        target = target.func
    if inspect.isclass(target):
        target = target.__init__
    elif not inspect.isroutine(target):
        target = target.__call__
    annotations = dict(getattr(target, "__annotations__", {}) or {})
    if not with_return:
        annotations.pop("return", None)
    # A stand-in with the same globals lets an unresolvable return type not spoil the rest.
    shim = types.SimpleNamespace(
        __annotations__=annotations,
        __globals__=getattr(inspect.unwrap(target), "__globals__", {}),
    )
    return typing.get_type_hints(shim, include_extras=True)


def _has_description(annotation: Any) -> bool:
    if typing.get_origin(annotation) is not typing.Annotated:
        return False
    return any(isinstance(m, FieldInfo) and m.description for m in annotation.__metadata__)


def _accepts_none(annotation: Any) -> bool:
    try:
        TypeAdapter(annotation).validate_python(None)
    except Exception:
        return False
    return True


class ArgumentBinder:
    """Validates arguments for one tool and describes them as JSON schema."""

    def __init__(self, fn: Callable[..., Any], *, tool_name: str, param_docs: Mapping[str, str]):
        self.tool_name = tool_name
        signature = inspect.signature(fn)
        try:
            hints = resolve_hints(fn, with_return=False)
        except Exception as exc:
            raise TypeError(f"tool {tool_name!r}: cannot resolve the type hints: {exc}") from exc

        params = list(signature.parameters.values())
        self.positional_names: tuple[str, ...] = ()
        self.positional_only: tuple[str, ...] = ()
        self.var_positional: str | None = None
        self.defaults: dict[str, Any] = {}
        labels: list[str] = []
        fields: dict[str, Any] = {}
        annotations: dict[str, Any] = {}
        positional: list[str] = []
        positional_only: list[str] = []
        for index, param in enumerate(params):
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                raise TypeError(
                    f"tool {tool_name!r}: **{param.name} is not supported; "
                    "LLM APIs need every argument named in the schema"
                )
            annotation = hints.get(param.name, Any)
            annotations[param.name] = annotation
            field_kwargs: dict[str, Any] = {}
            doc = param_docs.get(param.name)
            if doc and not _has_description(annotation):
                field_kwargs["description"] = doc
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                self.var_positional = param.name
                field_annotation: Any = list[annotation]  # type: ignore[valid-type]
                field_kwargs["default_factory"] = list
                labels.append(f"*{param.name}: {type_label(annotation)}")
            else:
                field_annotation = annotation
                if param.default is not inspect.Parameter.empty:
                    field_kwargs["default"] = param.default
                    self.defaults[param.name] = param.default
                if param.kind in (
                    inspect.Parameter.POSITIONAL_ONLY,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                ):
                    positional.append(param.name)
                if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                    positional_only.append(param.name)
                label = f"{param.name}: {type_label(annotation)}"
                if param.default is not inspect.Parameter.empty:
                    label += f" = {_short.repr(param.default)}"
                labels.append(label)
            # Names pydantic reserves (underscores, BaseModel attributes) get an alias.
            field_name = param.name
            if param.name.startswith("_") or hasattr(BaseModel, param.name):
                field_name = f"field_{index}"
                field_kwargs["alias"] = param.name
            fields[field_name] = (field_annotation, Field(**field_kwargs))
        self.positional_names = tuple(positional)
        self.positional_only = tuple(positional_only)
        self.parameter_names: tuple[str, ...] = tuple(p.name for p in params)
        self.signature_text = f"{tool_name}({', '.join(labels)})"

        try:
            self.model: type[BaseModel] = create_model(  # type: ignore[call-overload]
                f"{tool_name}_arguments", __config__=_CONFIG, **fields
            )
            schema = self.model.model_json_schema()
        except Exception as exc:
            raise TypeError(
                f"tool {tool_name!r}: cannot build a schema for its parameters: {exc}"
            ) from exc
        self.input_schema: dict[str, Any] = _tidy_schema(schema)

        # Models that follow a strict schema send null for optional parameters they leave out.
        self.null_means_default: frozenset[str] = frozenset(
            (info.alias or name)
            for name, info in self.model.model_fields.items()
            if not info.is_required()
            and (info.alias or name) != self.var_positional
            and not _accepts_none(annotations[info.alias or name])
        )

        stand_in = _make_stand_in(signature, annotations)
        self.validate_args: Callable[[ArgsKwargs], tuple[tuple[Any, ...], dict[str, Any]]]
        """`validate_args(ArgsKwargs(args, kwargs))` returns validated `(args, kwargs)` or raises
        `ValidationError`; keyword names must be strings."""
        if _generate_arguments_schema is not None:
            # The same "arguments" schema `validate_call` builds, minus its Python wrappers.
            validator = SchemaValidator(
                _generate_arguments_schema(stand_in, schema_type="arguments", config=_CONFIG)
            )
            self.validate_args = validator.validate_python
        else:  # pydantic without the experimental module
            called = validate_call(stand_in, config=_CONFIG)
            self.validate_args = lambda ak: called(*ak.args, **(ak.kwargs or {}))

    def bind(
        self, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Validate Python arguments; returns the `(args, kwargs)` to call the function with."""
        if any(not isinstance(k, str) for k in kwargs):
            raise ToolArgumentError(
                f"argument names for tool {self.tool_name!r} must be strings, "
                f"got {[k for k in kwargs if not isinstance(k, str)][:5]!r}"
            )
        try:
            return self.validate_args(ArgsKwargs(tuple(args), dict(kwargs)))
        except ValidationError as exc:
            raise self.error_from(exc) from None

    def error_from(self, exc: Exception) -> ToolArgumentError:
        """The `ToolArgumentError` for a failure of `validate_args`."""
        if isinstance(exc, ValidationError):
            return self._error(exc.errors(include_url=False))
        return ToolArgumentError(f"invalid arguments for tool {self.tool_name!r}: {exc}")

    def bind_mapping(
        self, data: Any, args: Sequence[Any] = ()
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Validate arguments that arrived as a JSON object (plus optional positional values)."""
        if not isinstance(data, Mapping):
            raise ToolArgumentError(
                f"arguments for tool {self.tool_name!r} must be a JSON object mapping parameter "
                f"names to values, got {type(data).__name__}; expected {self.signature_text}"
            )
        bad_keys = [k for k in data if not isinstance(k, str)]
        if bad_keys:
            raise ToolArgumentError(
                f"argument names for tool {self.tool_name!r} must be strings, got {bad_keys[:5]!r}"
            )
        kwargs = {k: v for k, v in data.items() if not (v is None and k in self.null_means_default)}
        positional = list(args)
        extra: list[Any] = []
        if self.var_positional is not None and self.var_positional in kwargs:
            extra_value = kwargs.pop(self.var_positional)
            if not isinstance(extra_value, (list, tuple)):
                raise self._error(
                    [
                        {
                            "type": "list_type",
                            "loc": (self.var_positional,),
                            "msg": "Input should be a valid array",
                            "input": extra_value,
                        }
                    ]
                )
            extra = list(extra_value)
        # Positional-only parameters, and every positional one when *args is used, must be
        # passed by position.
        must_be_positional = self.positional_names if extra else self.positional_only
        for name in must_be_positional[len(positional) :]:
            if name in kwargs:
                positional.append(kwargs.pop(name))
            elif name in self.defaults:
                positional.append(self.defaults[name])
            else:
                break
        return self.bind([*positional, *extra], kwargs)

    def bind_json(
        self, text: str | bytes, args: Sequence[Any] = (), *, max_bytes: int
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Validate arguments sent as a JSON string, as LLM APIs deliver them."""
        size = len(text)
        if isinstance(text, str) and size * 4 > max_bytes:  # only then can UTF-8 exceed it
            size = len(text.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise ToolArgumentError(
                f"arguments for tool {self.tool_name!r} are {size} bytes of JSON; "
                f"the limit is {max_bytes} bytes"
            )
        if not text.strip():
            return self.bind_mapping({}, args)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ToolArgumentError(
                f"arguments for tool {self.tool_name!r} are not valid JSON ({exc}); "
                f"send a JSON object such as {self._example()}"
            ) from None
        return self.bind_mapping(data, args)

    def named(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Validated arguments keyed by parameter name (the canonical form)."""
        named = dict(zip(self.positional_names, args, strict=False))
        if self.var_positional is not None:
            named[self.var_positional] = list(args[len(self.positional_names) :])
        named.update(kwargs)
        return named

    def _example(self) -> str:
        return json.dumps({name: "..." for name in self.parameter_names[:3]})

    def _error(self, errors: Sequence[Mapping[str, Any]]) -> ToolArgumentError:
        problems: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for err in errors:
            loc = self._path(err.get("loc", ()))
            message = self._message(err, loc)
            if (loc, message) in seen:
                continue
            seen.add((loc, message))
            problem = {"loc": loc, "type": err.get("type", "invalid"), "message": message}
            problems.append(problem)
        lines = [
            f"- {p['loc']}: {p['message']}" if p["loc"] else f"- {p['message']}"
            for p in problems[:_MAX_PROBLEMS]
        ]
        if len(problems) > _MAX_PROBLEMS:
            lines.append(f"- ... and {len(problems) - _MAX_PROBLEMS} more problems")
        text = (
            f"invalid arguments for tool {self.tool_name!r}:\n"
            + "\n".join(lines)
            + f"\nexpected: {self.signature_text}"
        )
        exc = ToolArgumentError(text)
        exc.details = problems[:_MAX_PROBLEMS]  # type: ignore[attr-defined]
        return exc

    def _path(self, loc: Sequence[Any]) -> str:
        parts: list[str] = []
        for i, item in enumerate(loc):
            if i == 0 and isinstance(item, int):
                n = len(self.positional_names)
                if item < n:
                    parts.append(self.positional_names[item])
                elif self.var_positional is not None:
                    parts.append(f"{self.var_positional}[{item - n}]")
                else:
                    parts.append(f"argument {item + 1}")
            elif isinstance(item, int):
                parts.append(f"[{item}]")
            else:
                parts.append(f".{item}" if parts else str(item))
        return "".join(parts)

    def _message(self, err: Mapping[str, Any], loc: str) -> str:
        kind = err.get("type", "")
        if kind in _MISSING_TYPES:
            return "required argument is missing"
        if kind in ("unexpected_keyword_argument", "extra_forbidden"):
            if "." in loc or "[" in loc:
                return "unexpected field"
            accepted = ", ".join(self.parameter_names) or "no arguments"
            return f"unexpected argument; this tool accepts: {accepted}"
        if kind == "unexpected_positional_argument":
            return (
                f"too many positional arguments; this tool takes at most "
                f"{len(self.positional_names)}"
            )
        if kind == "multiple_argument_values":
            return "given more than once (by position and by name)"
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        return f"{msg} (got {_short.repr(err.get('input'))})"


def _make_stand_in(signature: inspect.Signature, annotations: dict[str, Any]) -> Callable[..., Any]:
    def stand_in(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return args, kwargs

    stand_in.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            p.replace(annotation=annotations[p.name]) for p in signature.parameters.values()
        ],
        return_annotation=inspect.Signature.empty,
    )
    stand_in.__annotations__ = dict(annotations)
    return stand_in


def _tidy_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop the titles pydantic invents from parameter names; keep the rest as generated."""
    schema.pop("title", None)
    for name, prop in schema.get("properties", {}).items():
        if isinstance(prop, dict) and prop.get("title") == name.replace("_", " ").strip().title():
            del prop["title"]
    schema.setdefault("properties", {})
    return schema
