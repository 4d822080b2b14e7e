"""What one kind of search accepts: entities, their prefixes, keys, operators, value types.

The parser is shared by every search (runs, experiments, registered models, model versions);
a `SearchSchema` is the only thing that differs. Adding a search means declaring a schema in
`cairn.search.schemas`, not touching the parser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum

from cairn.search.nodes import Entity, Op


class ValueType(StrEnum):
    """What literal a field is compared with (the list operators always take strings)."""

    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"


def ops(text: str) -> frozenset[Op]:
    """`ops("= != LIKE")` -> the operators; multi-word operators are joined by underscores."""
    return frozenset(Op(word.replace("_", " ")) for word in text.split())


NUMERIC_OPS = ops("= != < <= > >=")
STRING_OPS = ops("= != LIKE ILIKE")
STRING_LIST_OPS = ops("= != LIKE ILIKE IN NOT_IN")
KEYED_STRING_OPS = ops("= != LIKE ILIKE IS_NULL IS_NOT_NULL")


@dataclass(frozen=True, slots=True)
class Field:
    """One comparable thing: an attribute, or any key of a keyed entity (metrics.<k>)."""

    ops: frozenset[Op]
    value_type: ValueType
    orderable: bool = True


@dataclass(frozen=True, slots=True)
class Attribute:
    """A fixed field of the searched object, with the names users may call it by."""

    name: str
    field: Field
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class EntitySpec:
    """An entity type and how users write it.

    `prefixes` are matched case-insensitively; the empty prefix means "no prefix". Keyed
    entities (metrics, params, tags) accept any key with `field`; the others accept only the
    names in `attributes`, matched case-insensitively, aliases included.
    """

    entity: Entity
    prefixes: tuple[str, ...]
    plural: str  # how messages name the entity: "metrics", "params", "attributes"
    field: Field | None = None
    attributes: tuple[Attribute, ...] = ()
    _by_name: dict[str, Attribute] = dataclass_field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for attribute in self.attributes:
            for name in (attribute.name, *attribute.aliases):
                self._by_name[name.lower()] = attribute

    @property
    def keyed(self) -> bool:
        return self.field is not None

    def attribute(self, name: str) -> Attribute | None:
        return self._by_name.get(name.lower())

    def attribute_names(self) -> list[str]:
        return [a.name for a in self.attributes]


@dataclass(frozen=True, eq=False)
class SearchSchema:
    """Everything the parser needs to know about one search.

    `allow_or` enables Cairn's extension of OR and parentheses (MLflow has only AND).
    """

    name: str
    entities: tuple[EntitySpec, ...]
    allow_or: bool = True
    _by_prefix: dict[str, EntitySpec] = dataclass_field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        for spec in self.entities:
            for prefix in spec.prefixes:
                self._by_prefix[prefix.lower()] = spec

    def entity_for_prefix(self, prefix: str | None) -> EntitySpec | None:
        return self._by_prefix.get("" if prefix is None else prefix.lower())

    def spec(self, entity: Entity) -> EntitySpec:
        for spec in self.entities:
            if spec.entity is entity:
                return spec
        raise KeyError(entity)

    def prefix_names(self) -> list[str]:
        """The canonical (first) prefix of each entity, for error messages."""
        return [spec.prefixes[0] for spec in self.entities if spec.prefixes[0]]


def keyed(entity: Entity, prefixes: Iterable[str], plural: str, f: Field) -> EntitySpec:
    return EntitySpec(entity, tuple(prefixes), plural, field=f)


def attributes(
    entity: Entity,
    prefixes: Iterable[str],
    plural: str,
    fields: Mapping[str, Field],
    aliases: Mapping[str, tuple[str, ...]] | None = None,
) -> EntitySpec:
    aliases = aliases or {}
    return EntitySpec(
        entity,
        tuple(prefixes),
        plural,
        attributes=tuple(Attribute(n, f, aliases.get(n, ())) for n, f in fields.items()),
    )
