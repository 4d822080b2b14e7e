"""Model input/output schemas and parameter schemas, in MLflow's JSON shapes.

Column-based: `[{"type": "double", "name": "f1", "required": true}, …]`. Tensor-based:
`[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]`, -1 meaning "any
size" (the batch dimension). Params: `[{"name": "k", "type": "long", "default": 1,
"shape": null}]`, `shape: [-1]` for a list-valued parameter.

The scalar column types are fully supported; the richer ones (array, object, map, any) are kept
as `RichType`, so they survive a read/write round trip but are not checked at predict time.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cairn.exceptions import InvalidParameterValue


class DataType(StrEnum):
    """MLflow's scalar column types; the value is the name written in the MLmodel file."""

    boolean = "boolean"
    integer = "integer"  # int32
    long = "long"  # int64
    float = "float"  # float32
    double = "double"  # float64
    string = "string"
    binary = "binary"
    datetime = "datetime"

    @property
    def numpy_dtype(self) -> str:
        """The NumPy dtype a column of this type is held in."""
        return _NUMPY_DTYPES[self]

    @classmethod
    def of_value(cls, value: Any) -> DataType:
        """The type of a Python or NumPy scalar; raises for anything else."""
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            return cls.boolean
        if isinstance(value, str):
            return cls.string
        if isinstance(value, (bytes, bytearray)):
            return cls.binary
        if isinstance(value, (_dt.datetime, _dt.date)) or type(value).__name__ in (
            "datetime64",
            "Timestamp",
        ):
            return cls.datetime
        dtype = getattr(value, "dtype", None)
        if dtype is not None and dtype.kind in "iuf":
            return cls.of_numpy_dtype(dtype)
        if isinstance(value, int):
            return cls.long
        if isinstance(value, float):
            return cls.double
        raise InvalidParameterValue(f"Cannot infer a type for {value!r} ({type(value).__name__})")

    @classmethod
    def of_numpy_dtype(cls, dtype: Any) -> DataType:
        kind, size = dtype.kind, dtype.itemsize
        if kind == "b":
            return cls.boolean
        if kind in "iu":
            fits_int32 = size < 4 or (size == 4 and kind == "i")
            return cls.integer if fits_int32 else cls.long
        if kind == "f":
            return cls.float if size <= 4 else cls.double
        if kind == "M":
            return cls.datetime
        if kind in "US":
            return cls.string if kind == "U" else cls.binary
        raise InvalidParameterValue(f"No MLflow column type for NumPy dtype {dtype}")


_NUMPY_DTYPES = {
    DataType.boolean: "bool",
    DataType.integer: "int32",
    DataType.long: "int64",
    DataType.float: "float32",
    DataType.double: "float64",
    DataType.string: "object",
    DataType.binary: "object",
    DataType.datetime: "datetime64[ns]",
}

RICH_TYPES = frozenset({"array", "object", "map", "any"})


@dataclass(frozen=True, slots=True)
class RichType:
    """An array, object, map or any type, held as its JSON so it round-trips exactly."""

    spec_json: str  # canonical: sorted keys

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> RichType:
        return cls(json.dumps(dict(spec), sort_keys=True))

    @classmethod
    def array(cls, items: DataType | RichType) -> RichType:
        return cls.from_dict({"type": "array", "items": _type_to_dict(items)})

    @property
    def kind(self) -> str:
        return str(self.to_dict()["type"])

    def to_dict(self) -> dict[str, Any]:
        return dict(json.loads(self.spec_json))

    def __str__(self) -> str:
        return self.spec_json


ColumnType = DataType | RichType


def _type_to_dict(t: ColumnType) -> dict[str, Any]:
    return t.to_dict() if isinstance(t, RichType) else {"type": t.value}


def _parse_type(d: Mapping[str, Any]) -> ColumnType:
    name = d.get("type")
    if name in RICH_TYPES:
        # A rich type's own keys (items, properties, values); name/required belong to the column.
        return RichType.from_dict({k: v for k, v in d.items() if k not in ("name", "required")})
    try:
        return DataType(str(name))
    except ValueError:
        raise InvalidParameterValue(f"Unknown column type {name!r} in schema") from None


@dataclass(frozen=True, slots=True)
class ColSpec:
    """One column: its type, its name (None for a positional column) and whether it must be
    present."""

    type: ColumnType
    name: str | None = None
    required: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.type, str) and not isinstance(self.type, DataType):
            object.__setattr__(self, "type", _parse_type({"type": self.type}))

    def to_dict(self) -> dict[str, Any]:
        d = _type_to_dict(self.type)
        if self.name is not None:
            d["name"] = self.name
        d["required"] = self.required
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColSpec:
        return cls(_parse_type(d), d.get("name"), bool(d.get("required", True)))


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One tensor: a NumPy dtype name and a shape, -1 for a dimension of any size."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": "tensor",
            "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)},
        }
        if self.name is not None:
            d["name"] = self.name
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TensorSpec:
        spec = d.get("tensor-spec")
        if not isinstance(spec, Mapping) or "dtype" not in spec or "shape" not in spec:
            raise InvalidParameterValue(
                f"Tensor spec needs 'tensor-spec' with dtype and shape: {d}"
            )
        return cls(str(spec["dtype"]), tuple(spec["shape"]), d.get("name"))


Spec = ColSpec | TensorSpec


class Schema:
    """An ordered list of column specs or of tensor specs (never both); either every spec is
    named or none is."""

    __slots__ = ("inputs",)

    def __init__(self, inputs: Iterable[Spec]) -> None:
        self.inputs: list[Spec] = list(inputs)
        if not self.inputs:
            raise InvalidParameterValue("A schema needs at least one column or tensor")
        kinds = {type(s) for s in self.inputs}
        if len(kinds) > 1:
            raise InvalidParameterValue("A schema cannot mix column specs and tensor specs")
        named = [s.name is not None for s in self.inputs]
        if any(named) and not all(named):
            raise InvalidParameterValue("Either every input of a schema is named or none is")

    @property
    def is_tensor_spec(self) -> bool:
        return isinstance(self.inputs[0], TensorSpec)

    @property
    def has_input_names(self) -> bool:
        return self.inputs[0].name is not None

    def input_names(self) -> list[str | None]:
        return [s.name for s in self.inputs]

    def required_input_names(self) -> list[str | None]:
        return [s.name for s in self.inputs if not isinstance(s, ColSpec) or s.required]

    def to_dict(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.inputs]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, items: Sequence[Mapping[str, Any]]) -> Schema:
        return cls(
            TensorSpec.from_dict(d) if d.get("type") == "tensor" else ColSpec.from_dict(d)
            for d in items
        )

    @classmethod
    def from_json(cls, text: str) -> Schema:
        return cls.from_dict(json.loads(text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.inputs == other.inputs

    def __hash__(self) -> int:
        return hash(tuple(self.inputs))

    def __repr__(self) -> str:
        return f"Schema({self.inputs!r})"


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One inference parameter: its type, the default used when a request omits it, and its
    shape (None for a scalar, (-1,) for a list)."""

    name: str
    type: DataType
    default: Any
    shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", DataType(self.type))
        if self.shape is not None:
            object.__setattr__(self, "shape", tuple(self.shape))
        if self.shape not in (None, (-1,)):
            raise InvalidParameterValue(
                f"Param {self.name!r}: shape must be None or (-1,), got {self.shape}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.value,
            "default": _json_default(self.default),
            "shape": None if self.shape is None else list(self.shape),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ParamSpec:
        shape = d.get("shape")
        type_ = DataType(d["type"])
        default = d.get("default")
        if type_ is DataType.datetime:
            default = _parse_datetimes(default)
        return cls(d["name"], type_, default, tuple(shape) if shape else None)


def _parse_datetimes(value: Any) -> Any:
    """Datetime defaults are written as ISO strings; read them back as datetimes."""
    if isinstance(value, list):
        return [_parse_datetimes(v) for v in value]
    if isinstance(value, str):
        try:
            return _dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json_default(v) for v in value]
    item = getattr(value, "item", None)  # NumPy scalars
    return item() if callable(item) else value


class ParamSchema:
    """The parameters a model accepts at predict time."""

    __slots__ = ("params",)

    def __init__(self, params: Iterable[ParamSpec]) -> None:
        self.params: list[ParamSpec] = list(params)
        names = [p.name for p in self.params]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise InvalidParameterValue(f"Duplicated param names: {duplicated}")

    def to_dict(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.params]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, items: Sequence[Mapping[str, Any]]) -> ParamSchema:
        return cls(ParamSpec.from_dict(d) for d in items)

    @classmethod
    def from_json(cls, text: str) -> ParamSchema:
        return cls.from_dict(json.loads(text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamSchema) and self.params == other.params

    __hash__ = None  # type: ignore[assignment]  # defaults may be lists

    def __repr__(self) -> str:
        return f"ParamSchema({self.params!r})"
