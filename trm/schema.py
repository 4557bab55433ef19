"""Validation of plain dicts (from YAML or JSON) into frozen dataclasses.

Config objects are validated once, where data enters; past that point the code trusts them.
`from_dict` checks unknown keys, missing required keys, types and per-field constraints, and
raises `ConfigError` naming the dotted field path, what was expected and what was given.

This module imports nothing heavy (no torch, no numpy): the CLI validates claims with it.
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from typing import Any, Callable, Literal, Mapping, Optional, Union

from trm.errors import ConfigError  # defined with the other trm errors; imported from here too

Check = Callable[[Any], Optional[str]]


def positive(value: Any) -> Optional[str]:
    return None if value > 0 else "expected a positive number"


def non_negative(value: Any) -> Optional[str]:
    return None if value >= 0 else "expected a number >= 0"


def probability(value: Any) -> Optional[str]:
    return None if 0 <= value <= 1 else "expected a number between 0 and 1"


def unit_open(value: Any) -> Optional[str]:
    return None if 0 <= value < 1 else "expected a number in [0, 1)"


def at_most(limit: int, base: Check = positive) -> Check:
    """`base`, and no more than `limit`: an integer that reaches torch (a tensor size, a loop count) must
    stay far below what a 64-bit size can hold, or torch fails in C++ instead of here."""

    def check(value: Any) -> Optional[str]:
        problem = base(value)
        if problem:
            return problem
        return None if value <= limit else f"expected at most {limit}"

    return check


# Past this no integer field means anything: torch holds sizes and seeds as signed 64-bit numbers.
INT64_LIMIT = 2**63 - 1
# What PyYAML (YAML 1.1) reads as a string although it looks like a number: an exponent without a
# dot (1e-3, 5E4). YAML 1.2 would read a float; the fix is to write the mantissa with a dot.
_DOTLESS_EXPONENT = re.compile(r"[-+]?[0-9]+[eE][-+]?[0-9]+")


def _string_number_hint(value: Any) -> str:
    """' (a string: ...)' when `value` is text that reads as a number, saying how to write it; else ''."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if _DOTLESS_EXPONENT.fullmatch(text):
        mantissa, _, exponent = text.lower().partition("e")
        return f" (a string: YAML reads {text} as text; write {mantissa}.0e{exponent})"
    try:
        float(text)
    except ValueError:
        return ""
    return " (a string: write the number without quotes)"


def spec(default: Any = dataclasses.MISSING, *, check: Optional[Check] = None, doc: str = "") -> Any:
    """A dataclass field with an optional constraint `check(value) -> error text or None`."""
    metadata = {"check": check, "doc": doc}
    if isinstance(default, (list, dict)):
        raise TypeError("mutable defaults are not allowed; use tuples")
    return dataclasses.field(default=default, metadata=metadata)


def describe(value: Any) -> str:
    """How a bad value is shown in an error message: short, quoted like Python does."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_NUMBER_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _type_words(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_words(a) for a in args) + " or null"
    if origin in (tuple, list):
        return "a list"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return _NUMBER_WORDS.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce(tp: Any, value: Any, field: str, check: Optional[Check]) -> Any:
    """Return `value` converted to `tp`, or raise ConfigError at `field`."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1:
            return _coerce(non_null[0], value, field, check)
        for arg in non_null:
            try:
                return _coerce(arg, value, field, check)
            except ConfigError:
                continue
        raise ConfigError(field, f"expected {_type_words(tp)}, got {describe(value)}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices or isinstance(value, bool) != isinstance(choices[0], bool):
            raise ConfigError(field, f"expected {_type_words(tp)}, got {describe(value)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(field, f"expected a list, got {describe(value)}")
        (item_tp, *rest) = typing.get_args(tp) or (Any,)
        items = tuple(_coerce(item_tp, v, f"{field}[{i}]", None) for i, v in enumerate(value))
        problem = check(items) if check is not None else None  # a check on the whole list, e.g. all percentages
        if problem:
            raise ConfigError(field, f"{problem}, got {describe(list(items))}")
        return items
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, field)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(field, f"expected true or false, got {describe(value)}")
        return value
    if tp in (int, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and tp is int and isinstance(value, float):
            ok = value.is_integer()
        if ok and isinstance(value, float) and not math.isfinite(value):
            ok = False
        if not ok:
            words = _constraint_words(check) or _type_words(tp)
            raise ConfigError(field, f"expected {words}, got {describe(value)}{_string_number_hint(value)}")
        value = tp(value)
        if tp is int and abs(value) > INT64_LIMIT:
            raise ConfigError(field, f"expected an integer that fits 64 bits (at most 2**63 - 1), got {describe(value)}")
    elif tp is str:
        if not isinstance(value, str):
            raise ConfigError(field, f"expected a string, got {describe(value)}")
    if check is not None:
        problem = check(value)
        if problem:
            raise ConfigError(field, f"{problem}, got {describe(value)}")
    return value


def _constraint_words(check: Optional[Check]) -> Optional[str]:
    """'a positive number' for `positive`, so a type error reads like the constraint."""
    if check is None:
        return None
    text = check(-1.0) or check(2.0) or ""
    return text.removeprefix("expected ") or None


def from_dict(cls: type, data: Any, path: str = "") -> Any:
    """Build the frozen dataclass `cls` from a mapping, validating every field.

    Unknown keys, missing required keys, wrong types and failed constraints raise ConfigError
    whose field is the dotted path below `path`.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(path, f"expected a mapping, got {describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")}
    for key in data:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(_join(path, str(key)), f"unknown key (known keys: {known})")
    values = {}
    for name, f in fields.items():
        where = _join(path, name)
        if name in data:
            values[name] = _coerce(hints[name], data[name], where, f.metadata.get("check"))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(where, "missing required key")
    obj = cls(**values)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        try:
            validate()
        except ConfigError as err:
            raise err.prefixed(path) if path else err
    return obj


def to_dict(obj: Any) -> Any:
    """A plain, JSON-ready dict of a (nested) dataclass; tuples become lists."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
