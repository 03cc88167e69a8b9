"""A TOML table made into the frozen settings dataclasses, or the one line that says why not.

The settings are plain dataclasses whose type hints are the schema: ``int``, ``float``,
``str``, ``bool``, :class:`SecretStr`, ``X | None``, ``X | Y`` (the first that fits),
``Literal[...]``, ``list[X]``, ``dict[str, X]``, ``Any`` (any TOML value) and nested dataclasses;
a field's ``metadata`` holds its bounds (``ge``, ``gt``, ``le``), or the words for a wrong value
and a further check of it (:func:`expects`). A dataclass's ``__post_init__`` may raise
:class:`Problem` for a rule across its keys. Checking is strict (no ``"2"`` for 2, no ``true``
for 1) and unknown keys are refused. Plain Python on purpose: a validation library costs the
window's start-up about a tenth of a second of imports and model building before the first frame.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")

_BOUNDS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "ge": ("greater than or equal to", lambda value, limit: value >= limit),
    "gt": ("greater than", lambda value, limit: value > limit),
    "le": ("less than or equal to", lambda value, limit: value <= limit),
}
_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


class SecretStr:
    """A secret that never shows in a repr, a log line or an error message."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')" if self._value else "SecretStr('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def secret_from(value: SecretStr | None, environ: Mapping[str, str], name: str) -> SecretStr | None:
    """A secret's value: the environment variable ``name`` wins over the config's ``value``
    (so a secret can stay out of the file); blank in both is None."""
    raw = environ.get(name, "").strip()
    if raw:
        return SecretStr(raw)
    if value is None or not value.get_secret_value().strip():
        return None
    return SecretStr(value.get_secret_value().strip())


def bounded(default: Any, **limits: float) -> Any:
    """A field with a default and bounds, e.g. ``bounded(1, ge=1, le=64)``."""
    return dataclasses.field(default=default, metadata=limits)


def expects(expected: str, check: Callable[[Any], str | None] | None = None) -> dict[str, Any]:
    """A field's ``metadata``: its wrong value is reported as ``expected <expected> (got ...)``,
    and ``check`` may still refuse the converted value (it returns the sentence, or None)."""
    return {"expected": expected} if check is None else {"expected": expected, "check": check}


class Problem(Exception):
    """Where (the keys from the top) and what is wrong, for :func:`describe`."""

    def __init__(self, location: list[str], what: str) -> None:
        super().__init__(what)
        self.location = location
        self.what = what


def build(cls: type[T], data: object, location: list[str] | None = None) -> T:
    """``cls`` from a TOML table; raises :class:`Problem` on the first thing wrong."""
    where = location or []
    if not isinstance(data, Mapping):
        raise Problem(where, f"expected a table (got {short_repr(data)})")
    fields = _fields(cls)
    for key in data:
        if key not in fields:
            raise Problem([*where, str(key)], f"unknown key; expected one of: {', '.join(fields)}")
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in data:
            values[name] = _checked(hints[name], data[name], [*where, name], spec.metadata)
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise Problem([*where, name], "required key is missing")
    try:
        return cls(**values)
    except Problem as problem:  # a rule across keys, from __post_init__: name the key in this table
        raise Problem([*where, *problem.location], problem.what) from None


def _checked(hint: Any, value: object, where: list[str], metadata: Mapping[str, Any]) -> Any:
    """``_convert``, in the field's own words for a wrong value, then its own check."""
    expected = metadata.get("expected")
    try:
        converted = _convert(hint, value, where, metadata)
    except Problem as problem:
        if expected is None or not problem.what.startswith("expected"):
            raise  # a bound or a NUL says more than the field's words
        raise Problem(where, f"expected {expected} (got {short_repr(value)})") from None
    check = metadata.get("check")
    if check is not None:
        trouble = check(converted)
        if trouble:
            raise Problem(where, trouble)
    return converted


def _convert(hint: Any, value: object, where: list[str], bounds: Mapping[str, Any]) -> Any:
    if hint is Any:
        return value
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        options = [arg for arg in args if arg is not type(None)]
        if len(options) > 1:
            return _first_fit(options, value, where, bounds)
        (hint,) = options
        origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        if value not in args:
            raise Problem(where, f"expected {_choices(args)} (got {short_repr(value)})")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise Problem(where, f"expected a list (got {short_repr(value)})")
        return [_convert(args[0], item, [*where, str(index)], {}) for index, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise Problem(where, f"expected a table (got {short_repr(value)})")
        return {str(key): _convert(args[1], item, [*where, str(key)], {}) for key, item in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if hint is SecretStr:
        if not isinstance(value, str):
            raise Problem(where, "expected a string")  # the value itself is never repeated
        return SecretStr(value)
    return _bounded(_scalar(hint, value, where), where, bounds)


def _first_fit(options: list[Any], value: object, where: list[str], bounds: Mapping[str, Any]) -> Any:
    problems: list[Problem] = []
    for option in options:
        try:
            return _convert(option, value, where, bounds)
        except Problem as problem:
            problems.append(problem)
    words = " or ".join(problem.what.split(" (got ")[0].removeprefix("expected ") for problem in problems)
    raise Problem(where, f"expected {words} (got {short_repr(value)})")


def _scalar(hint: Any, value: object, where: list[str]) -> Any:
    is_bool = isinstance(value, bool)
    if hint is bool and is_bool:
        return value
    if hint is int and isinstance(value, int) and not is_bool:
        return value
    if hint is float and isinstance(value, int | float) and not is_bool:
        return float(value)
    if hint is str and isinstance(value, str):
        if "\x00" in value:  # TOML allows "\u0000"; the OS refuses it in any path or argument
            raise Problem(where, "contains a NUL character, which no path, argument or prompt can hold")
        return value
    raise Problem(where, f"expected {_TYPE_WORDS.get(hint, str(hint))} (got {short_repr(value)})")


def _bounded(value: Any, where: list[str], bounds: Mapping[str, Any]) -> Any:
    for name, limit in bounds.items():
        if name not in _BOUNDS:
            continue  # the field's words or check (see expects), not a bound
        words, holds = _BOUNDS[name]
        if not holds(value, limit):
            raise Problem(where, f"input should be {words} {limit} (got {short_repr(value)})")
    return value


def _choices(options: tuple[object, ...]) -> str:
    quoted = [repr(option) for option in options]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


_FIELDS: dict[type, dict[str, dataclasses.Field[Any]]] = {}
_HINTS: dict[type, dict[str, Any]] = {}


def _fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    if cls not in _FIELDS:
        _FIELDS[cls] = {spec.name: spec for spec in dataclasses.fields(cls)}
    return _FIELDS[cls]


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def describe(problem: Problem) -> str:
    """The problem as ``<key as the user wrote it>: <what>``."""
    return f"{key_name(problem.location)}: {problem.what}"


def key_name(location: list[str]) -> str:
    if not location:
        return "config"
    if len(location) == 1:
        return f"key {location[0]!r}"
    if location[0] in ("watch", "schedule", "notify") and location[1].isdigit():
        return f"[[{location[0]}]] #{int(location[1]) + 1} {'.'.join(location[2:])}".rstrip()
    section = ".".join(location[:-1])
    return f"[{section}] {location[-1]}"


def short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
