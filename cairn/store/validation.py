"""Names, values and limits every store enforces (MLflow's limits, our messages).

Validation happens in the store so that in-process calls and the server see the same rules.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
from collections.abc import Sequence

from cairn import settings
from cairn.entities import Dataset, DatasetInput, Metric, Param, RunTag
from cairn.exceptions import InvalidParameterValue
from cairn.store import secrets

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_DATASET_NAME = 500
MAX_DATASET_DIGEST = 36
MAX_DATASET_SOURCE = 65535
MAX_DATASET_SCHEMA = 1048575
MAX_DATASET_PROFILE = 16777215
MAX_INPUT_TAG_KEY = 255
MAX_INPUT_TAG_VALUE = 500
MAX_DATASET_SOURCE_TYPE = 36
MAX_RUN_NAME_LENGTH = 250
MAX_USER_ID_LENGTH = 256
MAX_ARTIFACT_LOCATION_LENGTH = 1900  # run URIs append /<run id>/artifacts within 2000
MAX_TEXT_BYTES = 65535  # MySQL's TEXT holds bytes, not characters
RUN_NAME_TAG = "mlflow.runName"

_KEY_RE = re.compile(r"^[\w\-. /:]+$")
# Keys already checked in this process: metric keys repeat millions of times.
_valid_keys: set[str] = set()


def validate_key(key: object, what: str = "key") -> str:
    if key in _valid_keys:
        return key  # type: ignore[return-value,unused-ignore]
    if not isinstance(key, str) or not key:
        raise InvalidParameterValue(f"Missing value for required parameter '{what}'")
    secrets.check_key(key, what)  # before any message below could echo it
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameterValue(
            f"{what.capitalize()} '{key[:40]}…' is {len(key)} characters long; "
            f"the limit is {MAX_KEY_LENGTH}."
        )
    if not _KEY_RE.match(key):
        raise InvalidParameterValue(
            f"Invalid {what} '{key}': names may only contain letters, digits, underscores (_), "
            "dashes (-), periods (.), spaces ( ), slashes (/) and colons (:)."
        )
    if key.startswith("/") or posixpath.normpath(key) != key or ".." in key.split("/"):
        raise InvalidParameterValue(
            f"Invalid {what} '{key}': it would be read as a different path "
            f"('{posixpath.normpath(key)}'); avoid '//', './', '..' and a leading '/'."
        )
    _valid_keys.add(key)
    return key


def _fit(value: str, limit: int, what: str, key: str) -> str:
    if len(value) <= limit:
        return value
    if settings.TRUNCATE_LONG_VALUES.get_bool():
        return value[:limit]
    raise InvalidParameterValue(
        f"{what} '{key}' has a value of {len(value)} characters; the limit is {limit}."
    )


def param_value(param: Param) -> str:
    """The value to store (the secret guard runs before truncation could hide a match)."""
    value = secrets.screen("Param", param.key, _as_str(param.value, "param", param.key))
    return _fit(value, MAX_PARAM_VALUE_LENGTH, "Param", param.key)


def tag_value(tag: RunTag) -> str:
    if tag.key == RUN_NAME_TAG:
        return validate_run_name(_as_str(tag.value, "tag", tag.key))
    value = secrets.screen("Tag", tag.key, _as_str(tag.value, "tag", tag.key))
    return _fit(value, MAX_TAG_VALUE_LENGTH, "Tag", tag.key)


def validate_run_name(name: str) -> str:
    """The run name (screened by the secret guard as its tag) to store; it is also a column
    of its own, as long as MLflow's."""
    name = secrets.screen("Tag", RUN_NAME_TAG, name)
    if len(name) > MAX_RUN_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Run name is {len(name)} characters long; the limit is {MAX_RUN_NAME_LENGTH}."
        )
    return name


def validate_user_id(user_id: str) -> str:
    if len(user_id) > MAX_USER_ID_LENGTH:
        raise InvalidParameterValue(
            f"user_id is {len(user_id)} characters long; the limit is {MAX_USER_ID_LENGTH}."
        )
    return user_id


def validate_artifact_location(location: str) -> str:
    if len(location) > MAX_ARTIFACT_LOCATION_LENGTH:
        raise InvalidParameterValue(
            f"artifact_location is {len(location)} characters long; the limit is "
            f"{MAX_ARTIFACT_LOCATION_LENGTH}."
        )
    return location


def _as_str(value: object, what: str, key: str) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    raise InvalidParameterValue(f"The value of {what} '{key}' must be a string, got {value!r}")


def metric_fields(metric: Metric) -> tuple[float, int, int]:
    """The metric's (value, timestamp, step) as float/int, or a clear error.

    Accepts anything number-like (numpy scalars included) but not bools or strings.
    """
    validate_key(metric.key, "metric name")
    value, timestamp, step = metric.value, metric.timestamp, metric.step
    if isinstance(value, (bool, str, bytes)) or not hasattr(value, "__float__"):
        raise InvalidParameterValue(
            f"Metric '{metric.key}' has value {value!r}: metric values must be numbers."
        )
    try:
        ts, st = _as_int(timestamp), _as_int(step)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Metric '{metric.key}' needs integer timestamp and step, got "
            f"timestamp={timestamp!r}, step={step!r}."
        ) from None
    return float(value), ts, st


def as_int64(value: object, what: str) -> int:
    """`value` as a 64-bit integer (run times, steps), or a clear error naming `what`."""
    try:
        return _as_int(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Invalid {what} {value!r}: it must be an integer that fits in 64 bits."
        ) from None


def _as_int(x: object) -> int:
    """A 64-bit integer (what every database stores), or TypeError/ValueError."""
    if isinstance(x, (bool, float, str, bytes)) or not hasattr(x, "__index__"):
        raise TypeError(x)
    value = int(x)  # type: ignore[call-overload,unused-ignore]
    if not -(2**63) <= value < 2**63:
        raise ValueError(x)
    return value


def validate_batch_sizes(
    metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
) -> None:
    if len(metrics) > MAX_METRICS_PER_BATCH:
        raise InvalidParameterValue(
            f"A batch may hold at most {MAX_METRICS_PER_BATCH} metrics; got {len(metrics)}."
        )
    if len(params) > MAX_PARAMS_TAGS_PER_BATCH:
        raise InvalidParameterValue(
            f"A batch may hold at most {MAX_PARAMS_TAGS_PER_BATCH} params; got {len(params)}."
        )
    if len(tags) > MAX_PARAMS_TAGS_PER_BATCH:
        raise InvalidParameterValue(
            f"A batch may hold at most {MAX_PARAMS_TAGS_PER_BATCH} tags; got {len(tags)}."
        )
    total = len(metrics) + len(params) + len(tags)
    if total > MAX_ENTITIES_PER_BATCH:
        raise InvalidParameterValue(
            f"A batch may hold at most {MAX_ENTITIES_PER_BATCH} entries in all; got {total}."
        )


def validate_experiment_name(name: object) -> str:
    """Experiment names are data, never paths (`/Shared/team/x` is fine), but they may not
    carry invisible differences: surrounding whitespace and control or format characters
    (zero-width spaces) are refused, as in registered model names."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterValue("Experiment name must be a non-empty string.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Experiment name is {len(name)} characters long; the limit is "
            f"{MAX_EXPERIMENT_NAME_LENGTH}."
        )
    if name != name.strip():
        raise InvalidParameterValue(
            f"Invalid experiment name {name!r}: no leading or trailing whitespace."
        )
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise InvalidParameterValue(
            f"Invalid experiment name {name!r}: control and invisible formatting characters "
            "are not allowed."
        )
    return name


# Cyrillic and Greek letters drawn like Latin ones (after case folding): a name that swaps
# one in (a Cyrillic small o in "model") must collide with the Latin name it imitates.
_HOMOGLYPH_NAMES = {
    "CYRILLIC SMALL LETTER A": "a",
    "CYRILLIC SMALL LETTER VE": "b",
    "CYRILLIC SMALL LETTER IE": "e",
    "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I": "i",
    "CYRILLIC SMALL LETTER JE": "j",
    "CYRILLIC SMALL LETTER KA": "k",
    "CYRILLIC SMALL LETTER EM": "m",
    "CYRILLIC SMALL LETTER EN": "h",
    "CYRILLIC SMALL LETTER O": "o",
    "CYRILLIC SMALL LETTER ER": "p",
    "CYRILLIC SMALL LETTER ES": "c",
    "CYRILLIC SMALL LETTER TE": "t",
    "CYRILLIC SMALL LETTER U": "y",
    "CYRILLIC SMALL LETTER HA": "x",
    "CYRILLIC SMALL LETTER DZE": "s",
    "CYRILLIC SMALL LETTER KOMI DE": "d",
    "CYRILLIC SMALL LETTER SHHA": "h",
    "GREEK SMALL LETTER OMICRON": "o",
    "GREEK SMALL LETTER ALPHA": "a",
    "GREEK SMALL LETTER IOTA": "i",
    "GREEK SMALL LETTER KAPPA": "k",
    "GREEK SMALL LETTER NU": "v",
    "GREEK SMALL LETTER RHO": "p",
    "GREEK SMALL LETTER TAU": "t",
    "GREEK SMALL LETTER UPSILON": "u",
    "GREEK SMALL LETTER CHI": "x",
}
_HOMOGLYPHS = {ord(unicodedata.lookup(name)): latin for name, latin in _HOMOGLYPH_NAMES.items()}
# Capitals drawn like Latin capitals, mapped before case folding: folded, most of them would
# become Greek or Cyrillic small letters that look nothing like Latin ones (capital nu, which
# looks like N, folds to a small nu, which looks like v).
_CAPITAL_HOMOGLYPH_NAMES = {
    "GREEK CAPITAL LETTER ALPHA": "a",
    "GREEK CAPITAL LETTER BETA": "b",
    "GREEK CAPITAL LETTER EPSILON": "e",
    "GREEK CAPITAL LETTER ZETA": "z",
    "GREEK CAPITAL LETTER ETA": "h",
    "GREEK CAPITAL LETTER IOTA": "i",
    "GREEK CAPITAL LETTER KAPPA": "k",
    "GREEK CAPITAL LETTER MU": "m",
    "GREEK CAPITAL LETTER NU": "n",
    "GREEK CAPITAL LETTER OMICRON": "o",
    "GREEK CAPITAL LETTER RHO": "p",
    "GREEK CAPITAL LETTER TAU": "t",
    "GREEK CAPITAL LETTER UPSILON": "y",
    "GREEK CAPITAL LETTER CHI": "x",
    "CYRILLIC CAPITAL LETTER A": "a",
    "CYRILLIC CAPITAL LETTER VE": "b",
    "CYRILLIC CAPITAL LETTER IE": "e",
    "CYRILLIC CAPITAL LETTER KA": "k",
    "CYRILLIC CAPITAL LETTER EM": "m",
    "CYRILLIC CAPITAL LETTER EN": "h",
    "CYRILLIC CAPITAL LETTER O": "o",
    "CYRILLIC CAPITAL LETTER ER": "p",
    "CYRILLIC CAPITAL LETTER ES": "c",
    "CYRILLIC CAPITAL LETTER TE": "t",
    "CYRILLIC CAPITAL LETTER HA": "x",
    "CYRILLIC CAPITAL LETTER DZE": "s",
    "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I": "i",
    "CYRILLIC CAPITAL LETTER JE": "j",
}
_CAPITAL_HOMOGLYPHS = {
    ord(unicodedata.lookup(name)): latin for name, latin in _CAPITAL_HOMOGLYPH_NAMES.items()
}


def name_key(name: str) -> str:
    """The form two names must not share: Unicode compatibility-normalised, case-folded, and
    with Cyrillic and Greek look-alikes of Latin letters replaced by those letters."""
    folded = unicodedata.normalize("NFKC", name).translate(_CAPITAL_HOMOGLYPHS).casefold()
    return folded.translate(_HOMOGLYPHS)


def experiment_name_key(name: str) -> str:
    """What the experiments table's unique `name_key` column holds: the SHA-256 of
    `name_key(name)`. A digest, because folding can lengthen a name (NFKC turns one
    character into up to 18) past what a unique index holds on MySQL."""
    return hashlib.sha256(name_key(name).encode("utf-8")).hexdigest()


def validate_experiment_tag(key: str, value: str) -> str:
    """The value to store: checked, and screened by the secret guard."""
    validate_key(key, "tag key")
    if not isinstance(value, str):
        raise InvalidParameterValue(f"The value of tag '{key}' must be a string.")
    value = secrets.screen("Experiment tag", key, value)
    if len(value) > MAX_EXPERIMENT_TAG_VALUE_LENGTH:
        raise InvalidParameterValue(
            f"Experiment tag '{key}' has a value of {len(value)} characters; the limit is "
            f"{MAX_EXPERIMENT_TAG_VALUE_LENGTH}."
        )
    if len(value) * 4 > MAX_TEXT_BYTES and len(value.encode()) > MAX_TEXT_BYTES:
        raise InvalidParameterValue(
            f"Experiment tag '{key}' has a value of {len(value.encode())} bytes in UTF-8; the "
            f"limit is {MAX_TEXT_BYTES}."
        )
    return value


def parse_id(value: object, what: str) -> int:
    """SQL-backed ids are integers; anything else is a bad parameter, not a missing resource."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"Invalid {what} {value!r}: it must be an integer.") from None


def validate_dataset_input(item: DatasetInput) -> None:
    ds: Dataset = item.dataset
    for field, value, limit in (
        ("name", ds.name, MAX_DATASET_NAME),
        ("digest", ds.digest, MAX_DATASET_DIGEST),
        ("source_type", ds.source_type, MAX_DATASET_SOURCE_TYPE),
        ("source", ds.source, MAX_DATASET_SOURCE),
        ("schema", ds.schema, MAX_DATASET_SCHEMA),
        ("profile", ds.profile, MAX_DATASET_PROFILE),
    ):
        if field in ("name", "digest") and not value:
            raise InvalidParameterValue(f"Dataset {field} must not be empty.")
        if value is not None and len(value) > limit:
            raise InvalidParameterValue(
                f"Dataset {field} is {len(value)} characters long; the limit is {limit}."
            )
    for tag in item.tags:
        if not tag.key or len(tag.key) > MAX_INPUT_TAG_KEY:
            raise InvalidParameterValue(
                f"Input tag key must be 1 to {MAX_INPUT_TAG_KEY} characters long."
            )
        if len(tag.value) > MAX_INPUT_TAG_VALUE:
            raise InvalidParameterValue(
                f"Input tag '{tag.key}' value is longer than {MAX_INPUT_TAG_VALUE} characters."
            )
