"""Request messages: the fields each endpoint takes, and parsing a request against them.

A message is a tuple of `Field`s, mirroring the protobuf messages of MLflow's API. Parsing
follows the protocol's JSON mapping: snake_case names (the lowerCamelCase spelling is accepted
too, but not both at once), unknown fields ignored, int64 as numbers or decimal strings,
doubles also as "NaN"/"Infinity"/"-Infinity", enums by name. GET requests carry the same
fields in the query string, lists as repeated keys. Every mismatch is an
`InvalidParameterValue` naming the field, so a client learns exactly what it got wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from operator import itemgetter
from typing import Any

from cairn.exceptions import InvalidParameterValue
from cairn.transport.codec import NON_FINITE

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_DECIMAL = re.compile(r"-?[0-9]{1,20}")  # ASCII digits only: str.isdigit() accepts "²"


class Kind(Enum):
    STRING = "string"
    INT64 = "int64"
    INT32 = "int32"
    DOUBLE = "double"
    BOOL = "bool"
    ENUM = "enum"
    MESSAGE = "message"


Plan = tuple[tuple[str, int, bool, Any], ...]
"""A nested message's fields for the fast path: (name, type code, required, default)."""

_STR, _INT, _DBL = 1, 2, 3
_DICT, _TEXT, _WHOLE, _REAL, _WHOLE_OR_REAL = {dict}, {str}, {int}, {float}, {int, float}


@dataclass(frozen=True, slots=True)
class Field:
    """One field: its wire name, type, and whether it repeats or must be present."""

    name: str
    kind: Kind = Kind.STRING
    required: bool = False
    repeated: bool = False
    enum: tuple[str, ...] = ()
    fields: tuple[Field, ...] = ()  # of a nested message
    default: Any = None
    doc: str = ""
    camel: str = field(init=False, default="")
    plain: Plan | None = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        head, *rest = self.name.split("_")
        object.__setattr__(self, "camel", head + "".join(p.title() for p in rest))
        if self.kind is Kind.MESSAGE:
            object.__setattr__(self, "plain", _plan(self.fields))


Message = tuple[Field, ...]


def string(name: str, required: bool = False, doc: str = "", **kw: Any) -> Field:
    return Field(name, Kind.STRING, required, doc=doc, **kw)


def int64(name: str, required: bool = False, doc: str = "", **kw: Any) -> Field:
    return Field(name, Kind.INT64, required, doc=doc, **kw)


def parse_json(message: Message, body: Any) -> dict[str, Any]:
    """Fields of a JSON request body (already decoded) as plain Python values."""
    if not isinstance(body, dict):
        raise InvalidParameterValue(f"Request body must be a JSON object, got {_json_type(body)}")
    plan = _top_plan(message)
    if plan is not None:  # one plain message, e.g. a log-metric: the fast path's one item
        fast = _parse_plain_list(plan, [body])
        if fast is not None:
            return fast[0]
    return _parse_object(message, body, "")


_TOP_PLANS: dict[int, tuple[Message, Plan | None]] = {}


def _top_plan(message: Message) -> Plan | None:
    """`_plan` of a request message, remembered per message (they live as long as the app)."""
    found = _TOP_PLANS.get(id(message))
    if found is None or found[0] is not message:
        found = _TOP_PLANS[id(message)] = (message, _plan(message))
    return found[1]


def parse_query(message: Message, query: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Fields of a GET request's query string (repeated keys for lists)."""
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key, []).append(value)
    raw: dict[str, Any] = {}
    for f in message:
        name = _pick_name(f, grouped, "")
        if name is None:
            continue
        values = grouped[name]
        if f.repeated:
            raw[f.name] = [_from_text(f, v) for v in values]
        else:
            raw[f.name] = _from_text(f, values[-1])
    return _parse_object(message, raw, "")


def _from_text(f: Field, text: str) -> Any:
    if f.kind is Kind.BOOL:
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise InvalidParameterValue(
                f"Invalid value {text!r} for parameter '{f.name}': expected true or false"
            )
        return lowered == "true"
    return text


def _pick_name(f: Field, data: Mapping[str, Any], path: str) -> str | None:
    has_snake = f.name in data
    has_camel = f.camel != f.name and f.camel in data
    if has_snake and has_camel:
        raise InvalidParameterValue(
            f"Field '{path}{f.name}' was given twice, as '{f.name}' and '{f.camel}'"
        )
    if has_snake:
        return f.name
    return f.camel if has_camel else None


def _parse_object(message: Message, data: Mapping[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in message:
        name = _pick_name(f, data, path)
        value = data[name] if name is not None else None
        where = path + f.name
        if value is None:
            if f.required:
                raise missing(where)
            out[f.name] = [] if f.repeated else f.default
            continue
        if f.repeated:
            if not isinstance(value, list):
                raise _wrong(where, "a list", value)
            fast = _parse_plain_list(f.plain, value) if f.plain is not None else None
            out[f.name] = (
                fast
                if fast is not None
                else [_parse_value(f, item, f"{where}[{i}]") for i, item in enumerate(value)]
            )
        else:
            out[f.name] = _parse_value(f, value, where)
        if f.required and out[f.name] in ("", []):
            raise missing(where)
    return out


def missing(name: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Missing value for required parameter '{name}'.")


def _parse_value(f: Field, value: Any, where: str) -> Any:
    kind = f.kind
    if kind is Kind.STRING:
        if not isinstance(value, str):
            raise _wrong(where, "a string", value)
        if "\x00" in value:
            # PostgreSQL cannot store NUL in text, and no name, key or value needs one: refuse
            # it on every backend alike.
            raise InvalidParameterValue(f"Parameter '{where}' must not contain NUL characters")
        return value
    if kind is Kind.INT64 or kind is Kind.INT32:
        return _integer(value, where, kind)
    if kind is Kind.DOUBLE:
        return _double(value, where)
    if kind is Kind.BOOL:
        if isinstance(value, bool):
            return value
        raise _wrong(where, "true or false", value)
    if kind is Kind.ENUM:
        if isinstance(value, str) and value in f.enum:
            return value
        raise InvalidParameterValue(
            f"Invalid value {value!r} for parameter '{where}': expected one of " + ", ".join(f.enum)
        )
    if isinstance(value, dict):
        fast = _parse_plain_list(f.plain, [value]) if f.plain is not None else None
        return fast[0] if fast is not None else _parse_object(f.fields, value, where + ".")
    raise _wrong(where, "an object", value)


def _plan(message: tuple[Field, ...]) -> Plan | None:
    """(name, type code, required, default) per field; None if a field is not a plain scalar."""
    codes = {Kind.STRING: _STR, Kind.INT64: _INT, Kind.DOUBLE: _DBL}
    if any(f.repeated or f.kind not in codes for f in message):
        return None
    return tuple((f.name, codes[f.kind], f.required, f.default) for f in message)


def _parse_plain_list(plan: Plan, items: list[Any]) -> list[dict[str, Any]] | None:
    """The items of a repeated plain message checked column by column with C-level builtins
    when every item gives the same fields (a log-batch's metrics always do), else item by
    item (`_parse_plain_items`); None sends them all to the general path."""
    if len(items) > 1 and set(map(type, items)) == _DICT and len(set(map(len, items))) == 1:
        return _parse_plain_columns(plan, items)
    return _parse_plain_items(plan, items)


def _parse_plain_columns(plan: Plan, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """`_parse_plain_items` for items of equal width: one pass per field and check, each in C,
    instead of a Python loop over every value (1,000 metrics: ~4x faster).

    The first item names the fields; every item has as many keys and each of those fields
    (or `itemgetter` fails), so every item has exactly those keys. Fields none of them give
    get their default, as on the item path; a missing required field goes to the general
    path, which names it."""
    given = items[0].keys()
    names = {name for name, _, _, _ in plan}
    if not given <= names:
        return None  # an unknown or camelCase field: the general path decides
    defaults: dict[str, Any] = {}
    for name, code, required, default in plan:
        if name not in given:
            if required:
                return None
            defaults[name] = default
            continue
        try:
            column = list(map(itemgetter(name), items))
        except KeyError:  # items with different fields: the item path sorts them out
            return _parse_plain_items(plan, items)
        kinds = set(map(type, column))
        if code == _STR:
            if kinds != _TEXT or "\x00" in "".join(column) or (required and "" in column):
                return None
        elif code == _INT:
            if kinds != _WHOLE or min(column) < INT64_MIN or max(column) > INT64_MAX:
                return None
        elif kinds in (_WHOLE_OR_REAL, _WHOLE):
            for item in items:  # ints for doubles, converted in place as the item path does
                item[name] = float(item[name])
        elif kinds != _REAL:
            return None
    if defaults:
        for item in items:
            item.update(defaults)
    return items


def _parse_plain_items(plan: Plan, items: list[Any]) -> list[dict[str, Any]] | None:
    """The fast path for items of a nested message whose fields are all exactly the right type.

    A log-batch carries up to a thousand metrics; exact type tests in one loop cost a fraction
    of the general path. An item that gives every field is checked in place (it is a dict the
    JSON decoder just made; only ints become floats), so no new dict is built for it.
    Anything unusual in any item (camelCase names, strings for numbers, a missing required
    field, unknown keys) returns None and the general path runs instead, which accepts it or
    produces the precise error.
    """
    out: list[dict[str, Any]] = []
    append = out.append
    width = len(plan)
    for data in items:
        if type(data) is not dict or len(data) > width:
            return None
        whole = len(data) == width
        row: dict[str, Any] = data if whole else {}
        present = 0
        for name, code, required, default in plan:
            value = data.get(name)
            if value is None:
                if whole or required or name in data:
                    return None
                row[name] = default
                continue
            present += 1
            tv = type(value)
            if code == _DBL:
                if tv is int:
                    value = float(value)
                elif tv is not float:
                    return None
            elif code == _INT:
                if tv is not int or not INT64_MIN <= value <= INT64_MAX:
                    return None
            elif tv is not str or "\x00" in value or (required and not value):
                return None
            row[name] = value
        if present != len(data):
            return None
        append(row)
    return out


def _integer(value: Any, where: str, kind: Kind) -> int:
    if isinstance(value, bool):
        raise _wrong(where, "an integer", value)
    if isinstance(value, int):
        number = value
    elif _integral(value):
        number = int(value)
    else:
        raise _wrong(where, "an integer", value)
    low, high = (INT64_MIN, INT64_MAX) if kind is Kind.INT64 else (-(2**31), 2**31 - 1)
    if not low <= number <= high:
        raise InvalidParameterValue(f"Value {number} for parameter '{where}' is out of range")
    return number


def _integral(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and _DECIMAL.fullmatch(value.strip()) is not None


def _double(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise _wrong(where, "a number", value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and "_" not in value:  # float() would take "1_000"
        if value in NON_FINITE:
            return NON_FINITE[value]
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    raise _wrong(where, "a number", value)


def _wrong(where: str, expected: str, value: Any) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Invalid value for parameter '{where}': expected {expected}, got {_json_type(value)}"
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
