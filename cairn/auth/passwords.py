"""Password hashing with scrypt, a memory-hard KDF from the standard library.

A hash is stored with its parameters, `scrypt$<n>$<r>$<p>$<salt b64>$<key b64>`, so the cost
can be raised later without invalidating existing hashes: verification reads the parameters
from the stored value. n=2**14, r=8, p=1 needs 16 MiB and ~40 ms per hash on this class of
machine, which is what makes an offline guess expensive; the server pays it once per
credential and caches the result briefly (see `cairn.server.auth.gate`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cairn.exceptions import InvalidParameterValue

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # scrypt cost does not depend on it, but nothing needs more
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
_PREFIX = "scrypt"


def check_password_policy(password: str) -> None:
    """Refuse passwords that are too short (or absurdly long), with the rule in the message."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameterValue(
            f"Passwords must be at least {MIN_PASSWORD_LENGTH} characters long"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidParameterValue(f"Passwords must be at most {MAX_PASSWORD_LENGTH} characters")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=2 * 128 * r * n + 2**20,
        dklen=KEY_BYTES,
    )


def hash_password(password: str) -> str:
    """The storable hash of `password` (the policy is checked first)."""
    check_password_policy(password)
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    encode = base64.b64encode
    return (
        f"{_PREFIX}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$"
        f"{encode(salt).decode('ascii')}${encode(key).decode('ascii')}"
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`, compared in constant time. A malformed stored
    value never matches."""
    try:
        prefix, n, r, p, salt, key = stored.split("$")
        if prefix != _PREFIX:
            return False
        expected = base64.b64decode(key)
        actual = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A hash to verify against when the user does not exist, so an unknown name costs the same
# time as a wrong password and does not reveal which names exist.
_DUMMY: list[str] = []


def dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY[0]
