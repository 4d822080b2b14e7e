"""Security corpus §3: a pickle whose `__reduce__` runs code must not fire on load unless the
caller trusts the model, and a file changed after saving is caught by its checksum first,
trusted or not."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

import cairn.pyfunc
from cairn.exceptions import ModelIntegrityError, UntrustedModelError
from cairn.models import Model
from cairn.models.integrity import write_manifest


class Payload:
    """Unpickling this writes a canary file: what an attacker's model would do."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (f"open({str(self.canary)!r}, 'w').write('fired')",)


class Harmless(cairn.pyfunc.PythonModel):
    def predict(self, model_input: Any, params: Any = None) -> Any:
        return model_input


def _poisoned(tmp_path: Path) -> tuple[Path, Path]:
    """(a saved custom model whose pickle is replaced by the payload, the canary path)."""
    model_dir = tmp_path / "m"
    cairn.pyfunc.save_model(model_dir, Harmless())
    name = Model.load(model_dir).flavors["python_function"]["python_model"]
    canary = tmp_path / "canary"
    (model_dir / name).write_bytes(pickle.dumps(Payload(canary)))
    return model_dir, canary


def test_a_tampered_pickle_is_caught_by_its_checksum_even_when_trusted(tmp_path: Path) -> None:
    model_dir, canary = _poisoned(tmp_path)
    for trust in (False, True):
        with pytest.raises(ModelIntegrityError):
            cairn.pyfunc.load_model(str(model_dir), trust=trust)
    assert not canary.exists()


def test_a_payload_with_a_matching_manifest_needs_trust(tmp_path: Path) -> None:
    """An attacker who rewrites the manifest too passes the checksums; trust is the gate."""
    model_dir, canary = _poisoned(tmp_path)
    write_manifest(model_dir)
    with pytest.raises(UntrustedModelError, match="pickle"):
        cairn.pyfunc.load_model(str(model_dir))
    assert not canary.exists()
