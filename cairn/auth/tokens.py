"""API tokens: random bearer secrets, stored only as their SHA-256 digest.

A token is `cairn_` followed by 32 random bytes (256 bits) in URL-safe base64. A KDF such as
scrypt protects *passwords*, which people choose from a small space that an attacker holding
the hashes can enumerate; it buys nothing against a uniformly random 256-bit secret, which no
one can enumerate however fast the hash is. A plain SHA-256 digest is therefore as safe for
tokens, and lets the server find a token by an indexed equality lookup on its digest instead
of trying a slow hash against every stored token.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from cairn.exceptions import InvalidParameterValue

TOKEN_PREFIX = "cairn_"
TOKEN_BYTES = 32
MAX_EXPIRY_DAYS = 366
_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60}


def new_token() -> str:
    """A fresh token, to be shown once and then forgotten."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """The hex SHA-256 of `token`: what the database keeps and looks tokens up by."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_duration(text: str) -> int:
    """Seconds in a duration such as `30d`, `12h` or `90m` (at most a year)."""
    match = _DURATION.match(text)
    if match is None:
        raise InvalidParameterValue(
            f"Invalid duration {text!r}: use a number of days, hours or minutes, e.g. 30d, 12h"
        )
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0 or seconds > MAX_EXPIRY_DAYS * 86400:
        raise InvalidParameterValue(
            f"Token lifetime must be between 1 minute and {MAX_EXPIRY_DAYS} days, not {text!r}"
        )
    return seconds
