"""Tokenizer for filter and order-by strings; every token remembers where it starts.

Lexical rules (see docs/search.md):

* Identifiers are `[<entity>.]<key>`. The entity is a word (`[A-Za-z_]\\w*`) or a backticked
  name. What follows the first dot is the key, whole: ``metrics.a.b`` is metric ``a.b``, as in
  MLflow. A bare key may hold word characters, dots, dashes, slashes and colons; any other key
  (spaces, operators, ...) is wrapped in backticks (or, leniently, in quotes):
  ``params.`my param` ``, ``tags."mlflow.runName"``.
* Backticked names and quoted strings escape their own delimiter by doubling it
  (``'it''s'``). Backslashes are kept as they are: in LIKE patterns they escape `%`, `_` and
  `\\` on every database.
* Numbers: optional sign, digits, optional fraction, optional exponent (`-1`, `.5`, `2e-3`).
* Keywords are case-insensitive: AND OR IN NOT LIKE ILIKE IS NULL ASC DESC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from cairn.exceptions import InvalidFilter


class Kind(StrEnum):
    IDENT = "identifier"
    STRING = "string"
    NUMBER = "number"
    OP = "operator"
    KEYWORD = "keyword"
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    EOF = "end of input"


KEYWORDS = frozenset({"AND", "OR", "IN", "NOT", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})

_WORD = re.compile(r"[A-Za-z_]\w*")
_BARE_KEY = re.compile(r"[\w.\-/:]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATORS = ("<=", ">=", "!=", "<>", "=", "<", ">")


@dataclass(frozen=True, slots=True)
class Identifier:
    """An identifier as written: `prefix` is None when there was no dot."""

    prefix: str | None
    key: str

    def __str__(self) -> str:
        if self.prefix is None:
            return self.key
        return f"{self.prefix}.{self.key}"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # the source text of the token
    position: int
    value: str | int | float | Identifier | None = None

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind is Kind.EOF:
            return "the end of the input"
        if self.kind in (Kind.STRING, Kind.NUMBER):
            return self.text
        return repr(self.text)


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens, ending with an EOF token; raise InvalidFilter on bad input."""
    return _Lexer(text).run()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []

    def fail(self, message: str, position: int) -> InvalidFilter:
        return InvalidFilter(message, self.text, position)

    def run(self) -> list[Token]:
        text = self.text
        while True:
            while self.pos < len(text) and text[self.pos].isspace():
                self.pos += 1
            if self.pos >= len(text):
                self.tokens.append(Token(Kind.EOF, "", self.pos))
                return self.tokens
            self.tokens.append(self.next_token())

    def next_token(self) -> Token:
        text, start = self.text, self.pos
        ch = text[start]
        if ch in "'\"":
            value = self.quoted(ch, "string")
            return Token(Kind.STRING, text[start : self.pos], start, value)
        if ch == "`" or _WORD.match(text, start):
            return self.identifier_or_keyword()
        if ch in "+-.0123456789":
            return self.number()
        for op in _OPERATORS:
            if text.startswith(op, start):
                self.pos += len(op)
                return Token(Kind.OP, op, start, "!=" if op == "<>" else op)
        simple = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA}
        if ch in simple:
            self.pos += 1
            return Token(simple[ch], ch, start)
        if ch == "!":
            raise self.fail("unexpected '!'; did you mean '!='?", start)
        raise self.fail(f"unexpected character {ch!r}", start)

    def quoted(self, quote: str, what: str) -> str:
        """Read a `quote`-delimited text at self.pos; a doubled quote stands for itself."""
        text, start = self.text, self.pos
        parts: list[str] = []
        i = start + 1
        while True:
            end = text.find(quote, i)
            if end < 0:
                raise self.fail(f"unterminated {what}: no closing {quote}", start)
            parts.append(text[i:end])
            if text.startswith(quote * 2, end):
                parts.append(quote)
                i = end + 2
                continue
            self.pos = end + 1
            return "".join(parts)

    def identifier_or_keyword(self) -> Token:
        text, start = self.text, self.pos
        if text[start] == "`":
            head = self.quoted("`", "backticked name")
            backticked = True
        else:
            m = _WORD.match(text, start)
            assert m is not None  # checked by the caller
            head, self.pos, backticked = m.group(), m.end(), False
        if self.pos < len(text) and text[self.pos] == ".":
            self.pos += 1
            key = self.key_after_dot(head)
            ident = Identifier(head, key)
            return Token(Kind.IDENT, text[start : self.pos], start, ident)
        if not backticked and head.upper() in KEYWORDS:
            return Token(Kind.KEYWORD, head, start, head.upper())
        return Token(Kind.IDENT, text[start : self.pos], start, Identifier(None, head))

    def key_after_dot(self, prefix: str) -> str:
        text, start = self.text, self.pos
        if start < len(text) and text[start] in "`'\"":
            key = self.quoted(text[start], "key")
        else:
            m = _BARE_KEY.match(text, start)
            if m is None:
                found = repr(text[start]) if start < len(text) else "the end of the input"
                raise self.fail(
                    f"expected a key after '{prefix}.', found {found} "
                    f"(wrap keys with spaces or symbols in backticks: {prefix}.`my key`)",
                    start,
                )
            key, self.pos = m.group(), m.end()
        if not key:
            raise self.fail(f"empty key after '{prefix}.'", start)
        return key

    def number(self) -> Token:
        text, start = self.text, self.pos
        m = _NUMBER.match(text, start)
        if m is None:
            raise self.fail(f"unexpected character {text[start]!r}", start)
        end = m.end()
        if end < len(text) and (text[end].isalnum() or text[end] in "_.`"):
            bad = re.match(r"[\w.`]+", text[end:])
            word = text[start : end + (bad.end() if bad else 1)]
            raise self.fail(f"invalid number {word!r}", start)
        self.pos = end
        literal = m.group()
        value: int | float
        value = float(literal) if any(c in literal for c in ".eE") else int(literal)
        return Token(Kind.NUMBER, literal, start, value)
