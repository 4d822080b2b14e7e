"""The secret guard: params and tags that look like credentials never reach storage.

`screen` is called by the store's validation for every param and tag value (runs,
experiments, registered models, model versions, logged models), so in-process clients and
the server behave alike. `CAIRN_SECRET_GUARD` decides what happens to a match:

- ``refuse`` (default): `InvalidParameterValue` naming the key and the kind of secret;
- ``redact``: the value is stored as ``[REDACTED:<kind>]``;
- ``off``: nothing is checked.

Neither the error nor the log ever contains the value. A key that itself looks like a
credential is refused in every mode but ``off`` (a key cannot be redacted) without being
named.

Rules, chosen for few false positives (docs/security.md lists them):

- Values, whatever the key: AWS access key ids, GitHub/GitLab/Slack/Stripe/Google/OpenAI-style
  tokens, JWTs, PEM private keys, Azure storage keys and passwords in URLs
  (``scheme://user:password@host``), each by its documented shape; one precompiled regex.
- Keys whose last word names a credential (``password``, ``secret``, ``api_key``,
  ``access_key``, ``private_key``, ``credentials``, …; ``dbPassword`` and ``db-password``
  count too) with a value of 4+ characters that is not a placeholder (``***``, ``<...>``,
  ``${VAR}``, ``[...]``, a path, a number, ``none``/``true``/…). Keys ending in ``token``
  also need a token-shaped value (16+ characters, no spaces, two of lower/upper/digits), so
  tokenizer settings such as ``pad_token="<pad>"`` pass. Only the last word counts:
  ``password_min_length`` and ``max_tokens`` are not credentials.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

from cairn import settings
from cairn.exceptions import InvalidParameterValue

Mode = Literal["refuse", "redact", "off"]
_MODES: frozenset[str] = frozenset(("refuse", "redact", "off"))

logger = logging.getLogger(__name__)

# One alternation, one pass. Every branch starts with a literal, so the regex engine skips
# ahead to candidate characters in C; an empty named group right after that literal names
# the kind (dashes spelled "_"). A leading word boundary would defeat that skip, so it is
# checked on the (rare) match instead: see `_BOUNDED`.
_VALUE_RE = re.compile(
    r"AKIA(?P<aws_access_key_id>)[0-9A-Z]{16}(?![0-9A-Za-z])"
    r"|ASIA(?P<aws_temporary_access_key_id>)[0-9A-Z]{16}(?![0-9A-Za-z])"
    r"|gh(?P<github_token>)[pousr]_[A-Za-z0-9]{36,255}"
    r"|github_pat_(?P<github_fine_grained_token>)[A-Za-z0-9_]{22,255}"
    r"|glpat-(?P<gitlab_token>)[A-Za-z0-9_\-]{20,}"
    r"|xox(?P<slack_token>)[abprs]-[A-Za-z0-9\-]{10,}"
    r"|sk_live_(?P<stripe_secret_key>)[A-Za-z0-9]{16,}"
    r"|rk_live_(?P<stripe_restricted_key>)[A-Za-z0-9]{16,}"
    r"|AIza(?P<google_api_key>)[0-9A-Za-z_\-]{35}"
    r"|sk-(?P<sk_api_key>)(?=[A-Za-z0-9_\-]*[0-9])[A-Za-z0-9_\-]{32,}"
    r"|eyJ(?P<jwt>)[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"
    r"|-----BEGIN (?P<private_key>)(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"|AccountKey=(?P<azure_storage_key>)[A-Za-z0-9+/]{20,}"
    r"|SharedAccessKey=(?P<azure_shared_access_key>)[A-Za-z0-9+/]{20,}"
    r"|://(?P<url_password>)[^/\s:@]+:(?P<url_secret>[^/\s@]+)@"
)
# Kinds that must start a word: "task-0123…" is not an OpenAI key, "xAKIA…" not an AWS id.
_BOUNDED = frozenset(
    "aws_access_key_id aws_temporary_access_key_id github_token github_fine_grained_token "
    "gitlab_token slack_token "
    "stripe_secret_key stripe_restricted_key google_api_key sk_api_key jwt".split()
)
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

# The last word of a key (after camelCase and separators are split) that names a credential.
_CREDENTIAL_WORDS = {
    "password": "password",
    "passwd": "password",
    "passphrase": "password",
    "secret": "secret",
    "secrets": "secret",
    "credential": "credentials",
    "credentials": "credentials",
    "apikey": "api-key",
    "accesskey": "access-key",
    "secretkey": "secret-key",
    "privatekey": "private-key",
}
# ... or its last two words (a "key" alone is far too common: sort_key, primary_key).
_CREDENTIAL_PAIRS = {
    "api_key": "api-key",
    "access_key": "access-key",
    "secret_key": "secret-key",
    "private_key": "private-key",
    "signing_key": "signing-key",
    "account_key": "account-key",
    "master_key": "master-key",
    "encryption_key": "encryption-key",
    "connection_string": "connection-string",
}
_TOKEN_WORDS = {"token", "pat"}  # need a token-shaped value: pad_token="<pad>" is not one

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
_PLACEHOLDER_WORDS = frozenset(
    "none null nil true false yes no on off auto default unset unknown disabled enabled "
    "required optional hidden masked redacted n/a na tbd todo changeme placeholder dummy "
    "example test password secret token".split()
)
_PLACEHOLDER_RE = re.compile(
    r"^(?:(.)\1*"  # one character repeated: ****, xxxx, ••••
    r"|<.*>|\$\{.*\}|\{\{.*\}\}|\[.*\]|%\(.*\)s|\$[A-Za-z_][A-Za-z0-9_]*"  # templates, masks
    r"|[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?"  # numbers: seeds, sizes
    r"|(?:~|\.{1,2})?/.*|[A-Za-z]:\\.*"  # paths name where a secret is, not the secret
    r"|(?:env|arn|vault|secretsmanager):.*)$",
    re.DOTALL,
)
_TOKEN_SHAPE = re.compile(r"^\S{16,}$")

# Per key: (kind a key name implies or None, whether it needs a token-shaped value,
# kind of secret the key itself holds or None). Keys repeat on every batch.
_key_cache: dict[str, tuple[str | None, bool, str | None]] = {}
_KEY_CACHE_LIMIT = 100_000


def mode() -> Mode:
    """`CAIRN_SECRET_GUARD`, read on every call (so a test or an operator can change it).

    An unknown value acts as ``refuse``: a typo must not switch the guard off."""
    value = (settings.SECRET_GUARD.get() or "refuse").strip().lower()
    return value if value in _MODES else "refuse"  # type: ignore[return-value]


def _kind(name: str) -> str:
    return name.replace("_", "-")


def value_kind(value: str) -> str | None:
    """The kind of credential `value` holds by its shape alone, or None."""
    for m in _VALUE_RE.finditer(value):
        name = m.lastgroup or ""
        if name == "url_secret":  # closed after the marker: the kind is the marker's
            if _is_placeholder(m.group("url_secret")):
                continue
            name = "url_password"
        start = m.start()
        if name in _BOUNDED and start and value[start - 1] in _WORD:
            continue
        return _kind(name)
    return None


def _is_placeholder(value: str) -> bool:
    text = value.strip()
    return (
        len(text) < 4
        or text.lower() in _PLACEHOLDER_WORDS
        or _PLACEHOLDER_RE.match(text) is not None
    )


def _key_facts(key: str) -> tuple[str | None, bool, str | None]:
    found = _key_cache.get(key)
    if found is not None:
        return found
    last = key.replace("/", ".").replace(":", ".").rsplit(".", 1)[-1]
    words = _SEPARATORS.sub("_", _CAMEL.sub("_", last)).strip("_").lower().split("_")
    named: str | None = _CREDENTIAL_WORDS.get(words[-1])
    token = False
    if named is None and len(words) > 1:
        named = _CREDENTIAL_PAIRS.get(f"{words[-2]}_{words[-1]}")
    if named is None and words[-1] in _TOKEN_WORDS:
        named, token = "token", True
    if named is not None and "aws" in words and named in ("secret-key", "access-key"):
        named = "aws-secret-key"
    found = (named, token, value_kind(key))
    if len(_key_cache) < _KEY_CACHE_LIMIT:
        _key_cache[key] = found
    return found


def detect(key: str, value: str) -> str | None:
    """The kind of credential the pair `key`=`value` holds, or None."""
    named, token, _ = _key_cache.get(key) or _key_facts(key)
    found = value_kind(value) if value else None
    if found is not None or named is None or _is_placeholder(value):
        return found
    if token and (_TOKEN_SHAPE.match(value) is None or _classes(value) < 2):
        return None
    return named


def _classes(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
    )


def check_key(key: str, what: str) -> None:
    """Refuse a key that itself looks like a credential, without naming it."""
    kind = (_key_cache.get(key) or _key_facts(key))[2]
    if kind is not None and mode() != "off":
        raise InvalidParameterValue(
            f"A {what} looks like a credential ({kind}) and was refused; the key is not shown. "
            "Cairn does not store secrets in names."
        )


def screen(what: str, key: str, value: str) -> str:
    """`value` as it may be stored under `key`: unchanged, or redacted, or refused.

    `what` names the item in messages ("Param", "Tag", "Experiment tag"). The setting is
    read only when something was found: reading the environment costs more than the check.
    """
    named, _, key_kind = _key_cache.get(key) or _key_facts(key)
    if key_kind is None and named is None and (not value or _VALUE_RE.search(value) is None):
        return value  # the common case, in one dictionary lookup and one regex scan
    check_key(key, f"{what.lower()} key")
    kind = detect(key, value)
    if kind is None:
        return value
    guard = mode()
    if guard == "off":
        return value
    if guard == "redact":
        logger.info("Secret guard: %s '%s' held a %s; stored redacted.", what, key, kind)
        return f"[REDACTED:{kind}]"
    raise InvalidParameterValue(
        f"{what} '{key}' looks like a credential ({kind}) and was refused; the value is not "
        "shown or stored. Pass secrets through environment variables or a secret manager, not "
        "params or tags (CAIRN_SECRET_GUARD=redact stores a placeholder instead)."
    )
