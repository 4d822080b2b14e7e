"""A model version's signature as the version page shows it, read from its MLmodel file.

`signature_tables` is a pure function over the file's text; `read_signature` opens the
version's registry copy through the registry's `ArtifactAccess`, so the page reads only
what the registry itself may read (and at most `MLMODEL_BYTES`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cairn.exceptions import ResourceDoesNotExist
from cairn.store.model_sources import ArtifactAccess

MLMODEL_BYTES = 1024 * 1024
PARTS = ("inputs", "outputs", "params")


@dataclass(frozen=True, slots=True)
class SignatureColumn:
    name: str  # "" for an unnamed (tensor or positional) column
    type: str
    required: bool = True
    detail: str = ""  # a tensor's shape, a param's default, …


@dataclass(frozen=True, slots=True)
class Signature:
    """What the version page shows: the columns of each part, or why there are none."""

    parts: dict[str, list[SignatureColumn]]
    flavors: list[str]
    problem: str = ""  # no MLmodel file, unreadable, no signature


def signature_tables(text: str) -> Signature:
    """The signature of an MLmodel file's text (MLflow's layout: each part a JSON string)."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return Signature({}, [], f"The MLmodel file is not valid YAML ({exc.__class__.__name__})")
    if not isinstance(doc, dict):
        return Signature({}, [], "The MLmodel file is not a mapping")
    flavors = doc.get("flavors")
    flavor_names = sorted(str(f) for f in flavors) if isinstance(flavors, dict) else []
    signature = doc.get("signature")
    if not isinstance(signature, dict):
        return Signature({}, flavor_names, "The MLmodel file has no signature")
    parts: dict[str, list[SignatureColumn]] = {}
    for part in PARTS:
        raw = signature.get(part)
        if raw is None:
            continue
        try:
            columns = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            parts[part] = [SignatureColumn("", "unreadable", detail=str(raw)[:200])]
            continue
        if isinstance(columns, list):
            parts[part] = [_column(c) for c in columns if isinstance(c, dict)]
    return Signature(parts, flavor_names)


def _column(column: dict[str, Any]) -> SignatureColumn:
    kind = str(column.get("type", ""))
    detail = ""
    if kind == "tensor":
        spec = column.get("tensor-spec") or {}
        kind = f"tensor {spec.get('dtype', '')}".strip()
        detail = f"shape {spec.get('shape', '')}"
    elif "default" in column:
        detail = f"default {column['default']!r}"
        if column.get("shape") is not None:
            detail += f", shape {column['shape']}"
    elif kind in ("array", "object", "map"):
        detail = json.dumps({k: v for k, v in column.items() if k not in ("name", "type")})
    name = column.get("name")
    return SignatureColumn(
        name="" if name is None else str(name),
        type=kind,
        required=column.get("required", True) is not False,
        detail=detail,
    )


def read_signature(access: ArtifactAccess, location: str) -> Signature:
    """The signature of the MLmodel file at `location` (a version's files)."""
    if not location:
        return Signature({}, [], "The version has no files")
    try:
        with access.repository(location).open("MLmodel") as f:
            head = f.read(MLMODEL_BYTES + 1)
    except ResourceDoesNotExist:
        return Signature({}, [], "The version has no MLmodel file")
    except Exception as exc:  # an unreachable store: say so on the page, not a 500
        return Signature({}, [], f"The MLmodel file could not be read ({type(exc).__name__})")
    if len(head) > MLMODEL_BYTES:
        return Signature({}, [], "The MLmodel file is larger than 1 MiB")
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else str(head)
    return signature_tables(text)
