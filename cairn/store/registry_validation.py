"""Names, values and limits of the model registry (MLflow's limits, our messages).

Beyond MLflow, and per the security corpus: model names may not hold percent-encoded
sequences, control characters or surrounding whitespace, and `name_key` folds case, Unicode
compatibility forms and common Cyrillic/Greek homoglyphs so that look-alikes of an existing
name are refused (the folding lives in `cairn.store.validation`: experiment names use it too).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from cairn.entities import ModelVersionStage
from cairn.exceptions import InvalidParameterValue
from cairn.store import secrets
from cairn.store.validation import name_key as name_key  # the registry's callers use rv.name_key
from cairn.store.validation import validate_key

MAX_MODEL_NAME_LENGTH = 256
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_DESCRIPTION_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_SOURCE_LENGTH = 2000

_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_ALIAS = re.compile(r"^[\w\-]+$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")


def validate_model_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidParameterValue("Registered model name must be a non-empty string.")
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Registered model name is {len(name)} characters long; the limit is "
            f"{MAX_MODEL_NAME_LENGTH}."
        )
    if name != name.strip():
        raise InvalidParameterValue(
            f"Invalid registered model name {name!r}: no leading or trailing whitespace."
        )
    if "/" in name or ":" in name or name in (".", ".."):
        raise InvalidParameterValue(
            f"Invalid registered model name {name!r}: names may not contain '/' or ':' "
            "(they appear in models:/ URIs)."
        )
    if name == "*":
        raise InvalidParameterValue(
            "Invalid registered model name '*': it names the server-wide promotion policy."
        )
    if any(unicodedata.category(c)[0] == "C" for c in name):
        raise InvalidParameterValue(
            f"Invalid registered model name {name!r}: control characters are not allowed."
        )
    if _PERCENT_ESCAPE.search(name):
        raise InvalidParameterValue(
            f"Invalid registered model name {name!r}: percent-encoded sequences are not allowed."
        )
    return name


def validate_registry_tag(key: str, value: object) -> str:
    validate_key(key, "tag key")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidParameterValue(f"The value of tag '{key}' must be a string.")
    if len(value) > MAX_REGISTRY_TAG_VALUE_LENGTH:
        raise InvalidParameterValue(
            f"Tag '{key}' has a value of {len(value)} characters; the limit is "
            f"{MAX_REGISTRY_TAG_VALUE_LENGTH}."
        )
    return secrets.screen("Tag", key, value)


def validate_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    return {k: validate_registry_tag(k, v) for k, v in (tags or {}).items()}


def validate_description(description: object) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise InvalidParameterValue("description must be a string.")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidParameterValue(
            f"description is {len(description)} characters long; the limit is "
            f"{MAX_DESCRIPTION_LENGTH}."
        )
    return description


def validate_alias(alias: object) -> str:
    if not isinstance(alias, str) or not alias:
        raise InvalidParameterValue("Alias must be a non-empty string.")
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidParameterValue(
            f"Alias is {len(alias)} characters long; the limit is {MAX_ALIAS_LENGTH}."
        )
    if not _ALIAS.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias {alias!r}: aliases may only contain letters, digits, underscores "
            "and dashes."
        )
    if alias.lower() == "latest" or _VERSION_ALIAS.match(alias):
        raise InvalidParameterValue(
            f"Alias {alias!r} is reserved: 'latest' and 'v<number>' name versions already."
        )
    return alias


def parse_version(version: object) -> int:
    """A version number as stored; versions are positive integers (strings on the wire)."""
    text = str(version).strip() if isinstance(version, str | int) else ""
    if not text.isascii() or not text.isdigit() or int(text) < 1 or int(text) >= 2**31:
        raise InvalidParameterValue(
            f"Invalid model version {version!r}: versions are positive integers."
        )
    return int(text)


def parse_stage(stage: object) -> ModelVersionStage:
    try:
        return ModelVersionStage.parse(stage)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid model version stage {stage!r}: expected one of "
            + ", ".join(s.value for s in ModelVersionStage)
        ) from None
