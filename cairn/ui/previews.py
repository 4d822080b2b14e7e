"""What an artifact preview shows, decided from the file's name and first bytes.

Pure functions over bytes, so they are tested without a server. Only the first
`PREVIEW_BYTES` of a file are read; a preview of a longer file says it is cut short. Nothing
here produces HTML: the template escapes every value.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

PREVIEW_BYTES = 1024 * 1024
CSV_ROWS = 100
CSV_COLUMNS = 50
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".svg": "image/svg+xml",
}
"""Shown with <img>, which never runs an SVG's scripts; see `artifacts` for the headers."""
TEXT_SUFFIXES = frozenset(
    ".txt .log .md .rst .py .sh .cfg .ini .toml .xml .html .htm .js .css .sql .r .ipynb "
    ".yaml .yml .json .jsonl .csv .tsv .env .conf .out .err".split()
)


@dataclass(frozen=True, slots=True)
class Preview:
    kind: str  # "image", "table", "json", "yaml", "mlmodel", "text" or "none"
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)  # "table": header first
    model: dict[str, Any] = field(default_factory=dict)  # "mlmodel": a summary
    truncated: bool = False
    reason: str = ""  # "none": why there is no preview


def kind_of(name: str) -> str:
    base = PurePosixPath(name).name
    suffix = PurePosixPath(base).suffix.lower()
    if base == "MLmodel":
        return "mlmodel"
    if suffix in IMAGE_TYPES:
        return "image"
    if suffix in (".csv", ".tsv"):
        return "table"
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "text"


def preview(name: str, head: bytes, size: int) -> Preview:
    """The preview of file `name` of `size` bytes whose first bytes are `head`."""
    kind = kind_of(name)
    truncated = size > len(head)
    if kind == "image":
        return Preview("image")
    if b"\x00" in head[:8192]:
        return Preview("none", reason="binary file")
    text = head.decode("utf-8", "replace")
    if truncated and "\ufffd" in text[-4:]:
        text = text[: text.rfind("\ufffd")]  # a character cut in half at the limit
    if kind == "table":
        rows = csv_rows(text, name)
        more = len(rows) > CSV_ROWS + 1
        return Preview("table", rows=rows[: CSV_ROWS + 1], truncated=truncated or more)
    if kind == "json" and not truncated:
        with contextlib.suppress(ValueError):  # invalid JSON is shown as it is
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        return Preview("json", text=text)
    if kind == "mlmodel":
        return Preview("mlmodel", text=text, model=mlmodel_summary(text), truncated=truncated)
    unknown = kind == "text" and PurePosixPath(name).suffix.lower() not in TEXT_SUFFIXES
    if unknown and text.count("\ufffd") > len(text) // 100 + 1:
        return Preview("none", reason="not a text file")
    return Preview(kind if kind != "json" else "text", text=text, truncated=truncated)


def csv_rows(text: str, name: str) -> list[list[str]]:
    """Up to CSV_ROWS + 2 rows (the header, CSV_ROWS rows, one to tell that more follow) of
    a CSV/TSV text, each cut to CSV_COLUMNS cells."""
    delimiter = "\t" if name.lower().endswith(".tsv") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row[:CSV_COLUMNS])
            if len(rows) > CSV_ROWS + 1:
                break
    except csv.Error:
        pass  # a malformed or cut-off line: show what parsed
    return rows


def mlmodel_summary(text: str) -> dict[str, Any]:
    """Flavors, signature, run and creation time of an MLmodel file ({} if unreadable)."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    if not isinstance(doc, dict):
        return {}
    summary: dict[str, Any] = {}
    flavors = doc.get("flavors")
    if isinstance(flavors, dict):
        summary["flavors"] = sorted(str(f) for f in flavors)
    signature = doc.get("signature")
    if isinstance(signature, dict):
        for part in ("inputs", "outputs", "params"):
            raw = signature.get(part)
            if isinstance(raw, str):
                try:
                    columns = json.loads(raw)
                except ValueError:
                    continue
                summary[part] = [_describe_column(c) for c in columns if isinstance(c, dict)]
    for key in ("run_id", "utc_time_created", "artifact_path", "model_uuid"):
        if doc.get(key):
            summary[key] = str(doc[key])
    return summary


def _describe_column(column: dict[str, Any]) -> str:
    name = column.get("name")
    kind = column.get("type", "")
    if kind == "tensor":
        spec = column.get("tensor-spec") or {}
        kind = f"tensor {spec.get('dtype', '')} {spec.get('shape', '')}".strip()
    return f"{name}: {kind}" if name is not None else str(kind)
