"""The public surface of `cairn`: locked here so additions and removals are deliberate.

Also checks the promise that `import cairn` stays light: no pandas, NumPy or SQLAlchemy at
import time (they load when the functions that need them are called).
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import cairn

REPO_ROOT = Path(__file__).resolve().parents[1]

EXPECTED = {
    "ActiveRun",
    "flush",
    "flush_async_logging",
    "CairnClient",
    "CairnException",
    "MlflowClient",
    "MlflowException",
    "__version__",
    "active_run",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "entities",
    "exceptions",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_parent_run",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "restore_run",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
}


def test_all_is_the_expected_surface() -> None:
    assert set(cairn.__all__) == EXPECTED
    assert cairn.__all__ == sorted(cairn.__all__)


def test_every_public_non_module_name_is_in_all() -> None:
    public = {
        name
        for name, value in vars(cairn).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(cairn.__all__)


def test_exported_members_come_from_cairn() -> None:
    for name in cairn.__all__:
        value = getattr(cairn, name)
        module = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        if not isinstance(value, str):
            assert module.startswith("cairn"), (name, module)


def test_mlflow_names() -> None:
    assert cairn.MlflowClient is cairn.CairnClient
    assert cairn.MlflowException is cairn.exceptions.CairnException
    assert cairn.entities.Run is not None
    assert cairn.data.from_pandas is not None
    assert callable(cairn.tracking.MlflowClient)
    assert callable(cairn.projects.run)  # mlflow.projects.run
    assert cairn.projects.ExecutionException is cairn.exceptions.ExecutionException
    assert callable(cairn.models.infer_signature)  # mlflow.models.infer_signature
    assert cairn.models.ModelSignature.from_dict is not None


def test_version_comes_from_version_module() -> None:
    from cairn.version import __version__

    assert cairn.__version__ == __version__


def test_unknown_attributes_raise_attribute_error() -> None:
    try:
        cairn.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def _fresh_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def test_import_cairn_does_not_import_heavy_libraries() -> None:
    heavy = ["sqlalchemy", "pandas", "numpy", "matplotlib", "PIL", "yaml", "sklearn", "alembic"]
    heavy.append("cairn.projects")  # loaded on first use of `cairn.projects`
    heavy.append("cairn.models")  # likewise
    out = _fresh_python(
        f"import sys, cairn; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    assert out == ""


def test_import_cairn_models_does_not_import_pandas_or_numpy() -> None:
    out = _fresh_python(
        "import sys, cairn.models; print(','.join(m for m in ['pandas', 'numpy'] "
        "if m in sys.modules))"
    )
    assert out == ""
