"""Secret guard micro-benchmark: what `secrets.screen` costs per param/tag value.

    .venv/bin/python bench/bench_secret_guard.py

Prints the per-item cost of the guard on typical values (hyper-parameters, hashes, URLs,
short text), on a batch of 100 params screened the way `log_batch` does, and on long tag
values (the regex's worst case), beside a batch's whole `Batch.prepare` (validation and
shaping) for scale. Nothing is asserted: the numbers are for people to read.
"""

from __future__ import annotations

import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cairn.entities import Param, RunTag
from cairn.store import secrets
from cairn.store.sql.run_data import Batch

TYPICAL = [
    ("learning_rate", "0.001"),
    ("optimizer", "adam"),
    ("model", "resnet50"),
    ("data_digest", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("mlflow.source.git.commit", "1f0e2d7c9b8a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"),
    ("mlflow.source.git.repoURL", "https://github.com/org/repo.git"),
    ("dataset", "s3://bucket/datasets/train/2024-06-01/part-0000.parquet"),
    ("notes", "baseline with cosine schedule and label smoothing 0.1"),
    ("password_min_length", "12"),
    ("pad_token", "<pad>"),
]


def per_item(pairs: list[tuple[str, str]], number: int) -> float:
    """Microseconds per screened value, best of 5."""

    def work() -> None:
        for key, value in pairs:
            secrets.screen("Param", key, value)

    return min(timeit.repeat(work, number=number, repeat=5)) / number / len(pairs) * 1e6


def main() -> None:
    print(
        f"screen(), typical values (mean of {len(TYPICAL)} kinds): "
        f"{per_item(TYPICAL, 20_000):.2f} µs/item"
    )
    for key, value in TYPICAL:
        print(f"  {key:28} {len(value):5} chars  {per_item([(key, value)], 50_000):.2f} µs")
    params = [Param(f"param_{i}", f"value-{i}") for i in range(100)]
    tags = [RunTag(f"tag_{i}", f"v{i}") for i in range(100)]
    prepare = (
        min(timeit.repeat(lambda: Batch.prepare((), params, tags, dict), number=200, repeat=5))
        / 200
        / 200
        * 1e6
    )
    batch_guard = per_item([(p.key, p.value) for p in params], 200)
    print(
        f"log_batch of 100 params + 100 tags: Batch.prepare {prepare:.2f} µs/item in all, "
        f"of which the guard ~{batch_guard:.2f} µs/item"
    )
    text = "a free-text note about the experiment's setup and results. " * 130  # ~8,000 chars
    hexes = "0123456789abcdef" * 500
    for label, value in (("8,000-char prose", text), ("8,000-char hex", hexes)):
        print(f"{label}: {per_item([('notes', value)], 200):.1f} µs/item (worst case: long tags)")
    hits = [("db", "postgresql://u:" + "p4ssw0rd" + "@h/db"), ("k", "AKIA" + "IOSFODNN7EXAMPLE")]
    os.environ["CAIRN_SECRET_GUARD"] = "redact"
    print(f"a value that is redacted: {per_item(hits, 20_000):.2f} µs/item")


if __name__ == "__main__":
    main()
