"""Identities and the audit log of `cairn server --auth`: users, passwords, API tokens and the
hash-chained record of what was changed or refused.

The library half of security: the server's gate (`cairn.server.auth`) and the CLI
(`cairn users`, `cairn audit`) both build on it. Everything here works on the tracking
database directly, through the same engines and transaction discipline as the stores.
"""

from __future__ import annotations

from cairn.auth.audit import AuditEntry, AuditLog, ChainReport
from cairn.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from cairn.auth.tokens import new_token, token_digest
from cairn.auth.users import ApiToken, Identity, User, UserStore

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ApiToken",
    "AuditEntry",
    "AuditLog",
    "ChainReport",
    "Identity",
    "User",
    "UserStore",
    "hash_password",
    "new_token",
    "token_digest",
    "verify_password",
]
