"""The tokenizer: what each kind of token looks like, where it starts, and what it rejects."""

from __future__ import annotations

import pytest

from cairn.exceptions import InvalidFilter
from cairn.search.lexer import Identifier, Kind, tokenize


def kinds(text: str) -> list[Kind]:
    return [t.kind for t in tokenize(text)]


def values(text: str) -> list[object]:
    return [t.value for t in tokenize(text)[:-1]]


def test_every_token_remembers_where_it_starts():
    tokens = tokenize("metrics.acc >= 0.5 AND (x IN ('a', 'b'))")
    assert [(t.kind, t.position) for t in tokens] == [
        (Kind.IDENT, 0),
        (Kind.OP, 12),
        (Kind.NUMBER, 15),
        (Kind.KEYWORD, 19),
        (Kind.LPAREN, 23),
        (Kind.IDENT, 24),
        (Kind.KEYWORD, 26),
        (Kind.LPAREN, 29),
        (Kind.STRING, 30),
        (Kind.COMMA, 33),
        (Kind.STRING, 35),
        (Kind.RPAREN, 38),
        (Kind.RPAREN, 39),
        (Kind.EOF, 40),
    ]


@pytest.mark.parametrize(
    ("text", "ident"),
    [
        ("metrics.acc", Identifier("metrics", "acc")),
        ("start_time", Identifier(None, "start_time")),
        ("metrics.a.b", Identifier("metrics", "a.b")),  # everything after the first dot
        ("params.val-loss/x:1", Identifier("params", "val-loss/x:1")),
        ("tags.`mlflow.runName`", Identifier("tags", "mlflow.runName")),
        ("params.`my param`", Identifier("params", "my param")),
        ('tags."my tag"', Identifier("tags", "my tag")),
        ("tags.'my tag'", Identifier("tags", "my tag")),
        ("`params`.`a b`", Identifier("params", "a b")),
        ("`Run name`", Identifier(None, "Run name")),
        ("params.`a``b`", Identifier("params", "a`b")),
        ("tags.and", Identifier("tags", "and")),  # keywords are keys after a prefix
    ],
)
def test_identifiers(text, ident):
    assert values(text) == [ident]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'abc'", "abc"),
        ('"abc"', "abc"),
        ("'it''s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ('"it\'s"', "it's"),
        ("'a\\_b'", "a\\_b"),  # backslashes are kept for LIKE
        ("''", ""),
    ],
)
def test_strings(text, value):
    assert values(text) == [value]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("-1", -1),
        ("+2", 2),
        ("0.5", 0.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("2e3", 2000.0),
        ("-1.5E-2", -0.015),
        ("1700000000000", 1700000000000),
    ],
)
def test_numbers(text, value):
    [number] = values(text)
    assert number == value and type(number) is type(value)


def test_keywords_are_case_insensitive_and_normalised():
    assert values("and Or iN NoT like ILIKE is NULL asc Desc") == [
        "AND",
        "OR",
        "IN",
        "NOT",
        "LIKE",
        "ILIKE",
        "IS",
        "NULL",
        "ASC",
        "DESC",
    ]


def test_operators_and_the_sql_not_equal():
    assert values("= != <> < <= > >=") == ["=", "!=", "!=", "<", "<=", ">", ">="]


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("tags.x = 'abc", "unterminated string", 9),
        ('tags.x = "abc', "unterminated string", 9),
        ("params.`a b = 'x'", "unterminated key", 7),
        ("`Run name = 'x'", "unterminated backticked name", 0),
        ("params. = 'x'", "expected a key after 'params.'", 7),
        ("metrics.", "expected a key after 'metrics.'", 8),
        ("metrics.acc > 1abc", "invalid number '1abc'", 14),
        ("metrics.acc > 1.2.3", "invalid number '1.2.3'", 14),
        ("metrics.acc # 1", "unexpected character '#'", 12),
        ("metrics.acc ! 1", "did you mean '!='", 12),
    ],
)
def test_errors_say_what_and_where(text, message, position):
    with pytest.raises(InvalidFilter) as info:
        tokenize(text)
    assert message in info.value.message
    assert info.value.position == position
    assert info.value.text == text


def test_error_message_points_at_the_position():
    with pytest.raises(InvalidFilter) as info:
        tokenize("tags.x = 'abc")
    assert info.value.message.endswith("tags.x = 'abc\n           ^")
