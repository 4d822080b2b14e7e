"""Dataset digests: short, deterministic fingerprints of content.

A digest hashes a bounded sample (the first rows or elements) together with the full shape,
column names and types, so computing it stays fast on huge data while any change of shape
or schema, and any change inside the sample, changes it. Like MLflow's, it is an identity
hint for the UI and search (`datasets.digest = '…'`), not a checksum.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

MAX_ROWS = 10_000
MAX_ELEMENTS = 1_000_000
DIGEST_LENGTH = 8


def _hasher() -> Any:
    return hashlib.md5(usedforsecurity=False)


def pandas_digest(df: Any) -> str:
    """Digest of a DataFrame: its first MAX_ROWS rows, shape, column names and dtypes."""
    import pandas as pd

    sample = df.head(MAX_ROWS)
    try:
        hashed = pd.util.hash_pandas_object(sample, index=False)
    except TypeError:  # unhashable cells (lists, dicts): hash their text instead
        hashed = pd.util.hash_pandas_object(sample.astype(str), index=False)
    h = _hasher()
    h.update(hashed.to_numpy().tobytes())
    h.update(repr((tuple(df.shape), [str(c) for c in df.columns])).encode())
    h.update(repr([str(t) for t in df.dtypes]).encode())
    return h.hexdigest()[:DIGEST_LENGTH]


def array_digest(features: Any, targets: Any = None) -> str:
    """Digest of array-like features (or a dict of them) and optional targets."""
    h = _hasher()
    for name, array in _named_arrays(features, targets):
        h.update(repr((name, tuple(array.shape), str(array.dtype))).encode())
        h.update(_sample_bytes(array))
    return h.hexdigest()[:DIGEST_LENGTH]


def _named_arrays(features: Any, targets: Any) -> list[tuple[str, Any]]:
    import numpy as np

    named: list[tuple[str, Any]] = []
    for prefix, value in (("features", features), ("targets", targets)):
        if value is None:
            continue
        if isinstance(value, Mapping):
            named.extend((f"{prefix}.{k}", np.asarray(value[k])) for k in sorted(value))
        else:
            named.append((prefix, np.asarray(value)))
    return named


def _sample_bytes(array: Any) -> bytes:
    import numpy as np

    sample = np.asarray(array.flat[:MAX_ELEMENTS]) if array.ndim else array.reshape(1)
    if sample.dtype.hasobject:  # raw bytes would be pointers: hash the values' text
        return repr(sample.tolist()).encode()
    return np.ascontiguousarray(sample).tobytes()
