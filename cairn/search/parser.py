"""Recursive-descent parser: filter string -> checked AST, for any `SearchSchema`.

Grammar (AND binds tighter than OR; OR and parentheses are Cairn extensions):

    filter     := [or_expr] EOF
    or_expr    := and_expr (OR and_expr)*
    and_expr   := primary (AND primary)*
    primary    := "(" or_expr ")" | comparison
    comparison := IDENT ( COMPARATOR value | [NOT] IN list | LIKE string | ILIKE string
                        | IS [NOT] NULL )
    list       := "(" string ("," string)* [","] ")"

Every error is an `InvalidFilter` that points at the offending token and says what was
expected there.
"""

from __future__ import annotations

from cairn.exceptions import InvalidFilter
from cairn.search.lexer import Identifier, Kind, Token, tokenize
from cairn.search.nodes import (
    COMPARATORS,
    LIST_OPS,
    NULL_OPS,
    PATTERN_OPS,
    And,
    Comparison,
    Entity,
    Node,
    Op,
    Or,
    Value,
)
from cairn.search.schema import Field, SearchSchema, ValueType

_OP_ORDER = list(Op)


def parse_filter(text: str | None, schema: SearchSchema) -> Node | None:
    """Parse `text` against `schema`; None (match everything) for an empty filter."""
    if text is None or not text.strip():
        return None
    return _Parser(text, schema).parse()


def format_ops(allowed: frozenset[Op]) -> str:
    return " ".join(str(op) for op in _OP_ORDER if op in allowed)


def resolve_identifier(
    token: Token, schema: SearchSchema, text: str
) -> tuple[Entity, str, Field, str]:
    """(entity, canonical key, field, how messages name it) for an identifier token.

    Shared with order-by parsing so both accept exactly the same names.
    """
    ident = token.value
    assert isinstance(ident, Identifier)
    spec = schema.entity_for_prefix(ident.prefix)
    if spec is None:
        if ident.prefix is None:
            raise InvalidFilter(
                f"{ident.key!r} needs an entity prefix; expected one of "
                + ", ".join(f"{p}.{ident.key}" for p in schema.prefix_names()),
                text,
                token.position,
            )
        raise InvalidFilter(
            f"unknown entity {ident.prefix!r} in {str(ident)!r}; expected one of "
            + ", ".join(schema.prefix_names()),
            text,
            token.position,
        )
    if spec.field is not None:
        return spec.entity, ident.key, spec.field, f"{spec.plural}.{ident.key}"
    attribute = spec.attribute(ident.key)
    if attribute is None:
        what = "attribute" if spec.entity is Entity.ATTRIBUTE else f"{spec.plural} field"
        message = f"unknown {what} {ident.key!r}; expected one of " + ", ".join(
            spec.attribute_names()
        )
        if ident.prefix is None:
            keyed = [s.prefixes[0] for s in schema.entities if s.keyed]
            if keyed:
                message += " (for a key of " + ", ".join(keyed) + " write e.g. "
                message += f"{keyed[0]}.{ident.key})"
        raise InvalidFilter(message, text, token.position)
    if spec.entity is Entity.ATTRIBUTE:
        name = f"attribute {attribute.name!r}"
    else:
        name = f"{spec.plural}.{attribute.name}"
    return spec.entity, attribute.name, attribute.field, name


MAX_COMPARISONS = 100
"""Comparisons per filter. Databases nest one expression per comparison (SQLite stops at a
depth of 1000); a list such as `run_id IN (...)` counts once, however long."""
MAX_NESTING = 32
"""Parentheses inside parentheses; deeper would exhaust the parser's recursion."""
INT64_MAX = 2**63 - 1


class _Parser:
    def __init__(self, text: str, schema: SearchSchema) -> None:
        self.text = text
        self.schema = schema
        self.tokens = tokenize(text)
        self.i = 0
        self.comparisons = 0
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind is not Kind.EOF:
            self.i += 1
        return token

    def is_keyword(self, word: str) -> bool:
        return self.tok.kind is Kind.KEYWORD and self.tok.value == word

    def fail(self, message: str, token: Token | None = None) -> InvalidFilter:
        token = token or self.tok
        return InvalidFilter(message, self.text, token.position)

    # -- grammar -------------------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.or_expr()
        if self.tok.kind is Kind.RPAREN:
            raise self.fail("unexpected ')' without a matching '('")
        if self.tok.kind is not Kind.EOF:
            raise self.fail(self.expected_connective())
        return node

    def expected_connective(self) -> str:
        joiners = "AND, OR" if self.schema.allow_or else "AND"
        return f"expected {joiners} or the end of the filter, found {self.tok.describe()}"

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.is_keyword("OR"):
            if not self.schema.allow_or:
                raise self.fail(f"OR is not supported when searching {self.schema.name}")
            self.advance()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.primary()]
        while self.is_keyword("AND"):
            self.advance()
            children.append(self.primary())
        if len(children) == 1:
            return children[0]
        # Flatten `(a AND b) AND c` so backends see one conjunction.
        flat: list[Node] = []
        for child in children:
            flat.extend(child.children if isinstance(child, And) else (child,))
        return And(tuple(flat))

    def primary(self) -> Node:
        token = self.tok
        if token.kind is Kind.LPAREN:
            if not self.schema.allow_or:
                raise self.fail(f"parentheses are not supported when searching {self.schema.name}")
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.fail(f"parentheses may be nested at most {MAX_NESTING} deep")
            self.advance()
            node = self.or_expr()
            self.depth -= 1
            if self.tok.kind is not Kind.RPAREN:
                if self.tok.kind is Kind.EOF:
                    raise self.fail(f"missing ')' to close the '(' at position {token.position}")
                raise self.fail(f"expected ')' or a connective, found {self.tok.describe()}")
            self.advance()
            return node
        if token.kind is Kind.IDENT:
            return self.comparison()
        if token.kind is Kind.KEYWORD and token.value == "NOT":
            raise self.fail("NOT is only supported as part of 'NOT IN' and 'IS NOT NULL'")
        raise self.fail(
            f"expected a comparison such as metrics.acc > 0.9, found {token.describe()}"
        )

    def comparison(self) -> Comparison:
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise self.fail(f"a filter may hold at most {MAX_COMPARISONS} comparisons")
        ident_token = self.advance()
        entity, key, field, name = resolve_identifier(ident_token, self.schema, self.text)
        if not field.ops:
            raise self.fail(f"{name} can only be used in order_by, not in a filter", ident_token)
        op_token = self.tok
        op = self.operator(ident_token)
        if op not in field.ops:
            raise self.fail(
                f"'{op}' cannot be used with {name}; use one of {format_ops(field.ops)}", op_token
            )
        value = self.value(op, field, name)
        return Comparison(entity, key, op, value, ident_token.position)

    def operator(self, ident_token: Token) -> Op:
        token = self.advance()
        if token.kind is Kind.OP:
            return Op(str(token.value))
        if token.kind is Kind.KEYWORD:
            word = token.value
            if word in ("LIKE", "ILIKE", "IN"):
                return Op(str(word))
            if word == "NOT":
                if self.is_keyword("IN"):
                    self.advance()
                    return Op.NOT_IN
                raise self.fail(f"expected IN after NOT, found {self.tok.describe()}")
            if word == "IS":
                negated = self.is_keyword("NOT")
                if negated:
                    self.advance()
                if not self.is_keyword("NULL"):
                    raise self.fail(
                        f"expected NULL after {token.text}, found {self.tok.describe()}"
                    )
                self.advance()
                return Op.IS_NOT_NULL if negated else Op.IS_NULL
        raise self.fail(
            f"expected a comparison operator after {ident_token.text!r}, found {token.describe()}",
            token,
        )

    def value(self, op: Op, field: Field, name: str) -> Value:
        if op in NULL_OPS:
            return None
        if op in LIST_OPS:
            return self.string_list(op)
        token = self.advance()
        if op in PATTERN_OPS or field.value_type is ValueType.STRING:
            assert op in PATTERN_OPS or op in COMPARATORS
            if token.kind is not Kind.STRING:
                hint = f"; write '{token.text}'" if token.kind is Kind.NUMBER else ""
                raise self.fail(
                    f"expected a quoted string after '{name} {op}', found {token.describe()}{hint}",
                    token,
                )
            value = str(token.value)
            if op in PATTERN_OPS:
                self.check_pattern(value, token)
            return value
        if token.kind is not Kind.NUMBER:
            raise self.fail(
                f"expected a number after '{name} {op}', found {token.describe()}", token
            )
        number = token.value
        assert isinstance(number, int | float)
        if field.value_type is ValueType.INTEGER:
            if isinstance(number, float) and not number.is_integer():
                raise self.fail(f"{name} is compared with whole numbers, not {token.text}", token)
            if abs(number) > INT64_MAX:
                raise self.fail(f"{token.text} is out of range for {name} (64-bit)", token)
            return int(number)
        return float(number)

    def string_list(self, op: Op) -> tuple[str, ...]:
        if self.tok.kind is not Kind.LPAREN:
            raise self.fail(
                f"expected a list such as ('a', 'b') after {op}, found {self.tok.describe()}"
            )
        self.advance()
        items: list[str] = []
        while True:
            token = self.advance()
            if token.kind is Kind.RPAREN and items:
                return tuple(items)
            if token.kind is not Kind.STRING:
                raise self.fail(
                    f"expected a quoted string in the {op} list, found {token.describe()}", token
                )
            items.append(str(token.value))
            token = self.advance()
            if token.kind is Kind.RPAREN:
                return tuple(items)
            if token.kind is not Kind.COMMA:
                raise self.fail(
                    f"expected ',' or ')' in the {op} list, found {token.describe()}", token
                )

    def check_pattern(self, pattern: str, token: Token) -> None:
        """Backslash escapes the next character in LIKE patterns; a trailing one escapes nothing."""
        i = 0
        while i < len(pattern):
            if pattern[i] == "\\":
                if i + 1 == len(pattern):
                    raise self.fail(
                        "LIKE pattern ends with a lone backslash; write \\\\ for a backslash",
                        token,
                    )
                i += 2
            else:
                i += 1
