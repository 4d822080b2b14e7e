"""The MLmodel file: the YAML description at the root of every saved model.

    artifact_path: model
    flavors:
      python_function: {loader_module: ..., env: {virtualenv: python_env.yaml}}
    model_uuid: 3f0c...            (32 hex digits)
    run_id: 1a2b...                (absent for a model saved outside a run)
    signature: {inputs: '<json>', outputs: '<json>', params: '<json>'}
    utc_time_created: '2026-11-24 08:06:50.123456'
    cairn_version: 0.1.0

MLflow reads what `Model.save` writes and `Model.load` reads what MLflow writes. Keys Cairn
does not know (a newer MLflow's, a plugin's) are kept and written back unchanged.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.models.signature import ModelSignature
from cairn.version import __version__

MLMODEL_FILE = "MLmodel"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

# Keys with an attribute of their own; everything else in the file lands in `Model.extras`.
_KNOWN = (
    "artifact_path",
    "run_id",
    "model_uuid",
    "model_id",
    "utc_time_created",
    "flavors",
    "signature",
    "saved_input_example_info",
    "model_size_bytes",
    "mlflow_version",
    "cairn_version",
    "metadata",
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime(TIME_FORMAT)


class Model:
    """One MLmodel file: where the model came from, how to load it (its flavors) and what it
    takes and returns (its signature)."""

    def __init__(
        self,
        artifact_path: str | None = None,
        run_id: str | None = None,
        *,
        model_uuid: str | None = None,
        model_id: str | None = None,
        utc_time_created: str | None = None,
        flavors: Mapping[str, Mapping[str, Any]] | None = None,
        signature: ModelSignature | None = None,
        saved_input_example_info: Mapping[str, Any] | None = None,
        model_size_bytes: int | None = None,
        mlflow_version: str | None = None,
        cairn_version: str | None = __version__,
        metadata: Mapping[str, Any] | None = None,
        extras: Mapping[str, Any] | None = None,
    ) -> None:
        self.artifact_path = artifact_path
        self.run_id = run_id
        self.model_uuid = model_uuid or uuid.uuid4().hex
        self.model_id = model_id
        self.utc_time_created = utc_time_created or _now()
        self.flavors: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (flavors or {}).items()}
        self.signature = signature
        self.saved_input_example_info = (
            dict(saved_input_example_info) if saved_input_example_info is not None else None
        )
        self.model_size_bytes = model_size_bytes
        # Cairn writes its own version under its own key: MLflow compares `mlflow_version`
        # with the installed MLflow, and Cairn's numbers are not MLflow's. A version read
        # from an MLflow-written file is kept as it was.
        self.mlflow_version = mlflow_version
        self.cairn_version = cairn_version
        self.metadata = dict(metadata) if metadata is not None else None
        self.extras: dict[str, Any] = dict(extras or {})

    def add_flavor(self, name: str, **config: Any) -> Model:
        """Declare that the model can be loaded by flavor `name`, with that flavor's keys."""
        self.flavors[name] = config
        return self

    def to_dict(self) -> dict[str, Any]:
        """The file's contents as plain data: unset fields left out, unknown keys kept."""
        d: dict[str, Any] = dict(self.extras)
        values: dict[str, Any] = {
            "artifact_path": self.artifact_path,
            "run_id": self.run_id,
            "model_uuid": self.model_uuid,
            "model_id": self.model_id,
            "utc_time_created": self.utc_time_created,
            "flavors": self.flavors,
            "signature": self.signature.to_dict() if self.signature else None,
            "saved_input_example_info": self.saved_input_example_info,
            "model_size_bytes": self.model_size_bytes,
            "mlflow_version": self.mlflow_version,
            "cairn_version": self.cairn_version,
            "metadata": self.metadata,
        }
        d.update({k: v for k, v in values.items() if v is not None})
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Model:
        """Read the parsed contents of an MLmodel file (the inverse of `to_dict`)."""
        flavors = d.get("flavors") or {}
        if not isinstance(flavors, Mapping) or not all(
            isinstance(v, Mapping) for v in flavors.values()
        ):
            raise InvalidParameterValue("MLmodel 'flavors' should map flavor names to maps")
        signature = d.get("signature")
        if signature is not None and not isinstance(signature, Mapping):
            raise InvalidParameterValue("MLmodel 'signature' should be a map")
        for key in ("saved_input_example_info", "metadata"):
            if d.get(key) is not None and not isinstance(d[key], Mapping):
                raise InvalidParameterValue(f"MLmodel {key!r} should be a map")
        size = d.get("model_size_bytes")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
            raise InvalidParameterValue("MLmodel 'model_size_bytes' should be an integer")

        def text(key: str) -> str | None:
            value = d.get(key)
            # YAML turns an unquoted 20240101 or 1.0 into a number; the fields are strings.
            return None if value is None else str(value)

        return cls(
            artifact_path=text("artifact_path"),
            run_id=text("run_id"),
            model_uuid=text("model_uuid"),
            model_id=text("model_id"),
            utc_time_created=text("utc_time_created"),
            flavors=flavors,
            signature=ModelSignature.from_dict(signature) if signature else None,
            saved_input_example_info=d.get("saved_input_example_info"),
            model_size_bytes=size,
            mlflow_version=text("mlflow_version"),
            cairn_version=text("cairn_version"),
            metadata=d.get("metadata"),
            extras={k: v for k, v in d.items() if k not in _KNOWN},
        )

    def to_yaml(self) -> str:
        # Sorted keys, as MLflow writes them: the same model always gives the same bytes.
        return yaml.safe_dump(self.to_dict(), default_flow_style=False, sort_keys=True)

    @classmethod
    def from_yaml(cls, text: str) -> Model:
        try:
            d = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidParameterValue(f"MLmodel file is not valid YAML: {exc}") from None
        if not isinstance(d, Mapping):
            raise InvalidParameterValue("MLmodel file should hold a YAML map")
        return cls.from_dict(d)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """Read an MLmodel file, given its path or the model directory holding it."""
        path = Path(path)
        if path.is_dir():
            path = path / MLMODEL_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ResourceDoesNotExist(f"No MLmodel file at {str(path)!r}") from None
        return cls.from_yaml(text)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the MLmodel file to `path` (a file path, or a directory to hold `MLmodel`)
        and return where it went. The file is replaced whole, never left half-written."""
        path = Path(path)
        if path.is_dir():
            path = path / MLMODEL_FILE
        # A temporary name beside the target, created with the usual umask (mkstemp's 0600
        # would hide the file from a server running as another user).
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_text(self.to_yaml(), encoding="utf-8")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Model(artifact_path={self.artifact_path!r}, run_id={self.run_id!r}, "
            f"model_uuid={self.model_uuid!r}, flavors={sorted(self.flavors)!r})"
        )
