"""Models: signatures, schemas, schema enforcement and input examples (see docs/models.md).

Loaded on first use of `cairn.models`; pandas and NumPy are imported only by the functions
that handle data.
"""

from cairn.exceptions import SchemaEnforcementError
from cairn.models.enforce import enforce_params, enforce_schema
from cairn.models.input_example import (
    load_input_example,
    save_input_example,
    validate_input_example,
)
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
    "ModelSignature",
    "ParamSchema",
    "ParamSpec",
    "RichType",
    "Schema",
    "SchemaEnforcementError",
    "TensorSpec",
    "enforce_params",
    "enforce_schema",
    "infer_signature",
    "load_input_example",
    "save_input_example",
    "validate_input_example",
]
