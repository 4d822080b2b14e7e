"""Who may load a pickle-based model.

Unpickling a file runs whatever code it names, so a model whose files are loaded with pickle
(MLflow's PythonModel and cloudpickle scikit-learn models, PyTorch models saved whole) is
loaded only when the caller trusts it. Trust is given per call (`trust=True`, `--trust`) or
for a source, in the `CAIRN_TRUSTED_MODEL_SOURCES` setting. Checksums are verified before any
of this, trusted or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cairn import settings
from cairn.exceptions import UntrustedModelError


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a model being loaded came from, as far as trust is concerned."""

    model_uri: str
    store_uris: tuple[str, ...] = ()
    """Tracking and registry URIs a `runs:/` or `models:/` URI was resolved against; for a
    local model, its absolute path."""


def trusted_sources() -> list[str]:
    raw = settings.TRUSTED_MODEL_SOURCES.get() or ""
    return [item.strip() for item in raw.split(",") if item.strip()]


def is_trusted_source(source: Provenance, trusted: Iterable[str] | None = None) -> bool:
    """True when the model URI, the store it was resolved against, or (for a local model) its
    absolute path starts with a trusted prefix."""
    prefixes = list(trusted_sources() if trusted is None else trusted)
    candidates = [source.model_uri, *source.store_uris]
    return any(
        candidate.startswith(prefix) for prefix in prefixes for candidate in candidates if prefix
    )


def require_trust(trusted: bool, what: str, source: Provenance) -> None:
    """Raise `UntrustedModelError` unless the caller trusts the model or its source."""
    if trusted or is_trusted_source(source):
        return
    raise UntrustedModelError(
        f"Refusing to load {what} from {source.model_uri!r}: it is loaded with pickle, which "
        "runs any code the file names. Load it only if you trust where it came from: pass "
        "trust=True (CLI: --trust), or list its source in CAIRN_TRUSTED_MODEL_SOURCES."
    )
