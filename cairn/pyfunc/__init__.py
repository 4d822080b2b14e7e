"""Any model as a Python function, and custom Python models (MLflow's `mlflow.pyfunc`).

    model = cairn.pyfunc.load_model("models:/churn@champion")
    model.predict(frame)

`PythonModel` subclasses with `load_context`/`predict` are saved with `save_model` and logged
with `log_model`; every other flavor (`cairn.sklearn`, `cairn.onnx`, `cairn.pytorch`) also
loads here. See docs/models.md.
"""

from cairn.pyfunc.loading import PyFuncModel, load_model
from cairn.pyfunc.python_model import PythonModel, PythonModelContext, log_model, save_model
from cairn.pyfunc.trust import is_trusted_source

__all__ = [
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "is_trusted_source",
    "load_model",
    "log_model",
    "save_model",
]
