"""Password hashing: scrypt with its parameters stored, constant-time checks, short refused."""

from __future__ import annotations

import pytest

from cairn.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from cairn.exceptions import InvalidParameterValue


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)


def test_hashes_are_salted() -> None:
    assert hash_password("correct horse battery") != hash_password("correct horse battery")


@pytest.mark.parametrize("password", ["", "short", "x" * (MIN_PASSWORD_LENGTH - 1)])
def test_short_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidParameterValue, match="at least 12 characters"):
        hash_password(password)


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$x$8$1$AA==$AA==", "bcrypt$1$2$3$4$5"])
def test_a_malformed_stored_hash_never_matches(stored: str) -> None:
    assert not verify_password("correct horse battery", stored)
