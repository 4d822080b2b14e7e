"""Models: the MLmodel file, signatures, schemas, schema enforcement, input examples,
checksums and environment files (see docs/models.md).

Loaded on first use of `cairn.models`; pandas and NumPy are imported only by the functions
that handle data.
"""

from cairn.exceptions import ModelIntegrityError, SchemaEnforcementError
from cairn.models.enforce import enforce_params, enforce_schema
from cairn.models.environment import (
    infer_pip_requirements,
    read_requirements,
    write_environment_files,
)
from cairn.models.input_example import (
    load_input_example,
    save_input_example,
    validate_input_example,
)
from cairn.models.integrity import compute_checksums, verify_manifest, write_manifest
from cairn.models.mlmodel import Model
from cairn.models.schema import (
    ColSpec,
    DataType,
    ParamSchema,
    ParamSpec,
    RichType,
    Schema,
    TensorSpec,
)
from cairn.models.signature import ModelSignature, infer_signature

__all__ = [
    "ColSpec",
    "DataType",
    "Model",
    "ModelIntegrityError",
    "ModelSignature",
    "ParamSchema",
    "ParamSpec",
    "RichType",
    "Schema",
    "SchemaEnforcementError",
    "TensorSpec",
    "compute_checksums",
    "enforce_params",
    "enforce_schema",
    "infer_pip_requirements",
    "infer_signature",
    "load_input_example",
    "read_requirements",
    "save_input_example",
    "validate_input_example",
    "verify_manifest",
    "write_environment_files",
    "write_manifest",
]
