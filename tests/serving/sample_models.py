"""Python models the integration tests save, serve and call (importable by the server)."""

from __future__ import annotations

from typing import Any

import numpy as np

from cairn.pyfunc import PythonModel


class ScaledSum(PythonModel):
    """(x + n) * scale, per row; refuses negative x by raising, as a buggy model would."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        if (model_input["x"] < 0).any():
            raise ValueError("negative x")
        scale = (params or {}).get("scale", 1.0)
        return ((model_input["x"] + model_input["n"]) * scale).to_numpy()


class RowSums(PythonModel):
    """The sum of each row of a (-1, 3) float32 tensor."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return np.asarray(model_input).sum(axis=1)
