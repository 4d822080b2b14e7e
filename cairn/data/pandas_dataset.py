"""`PandasDataset` and `from_pandas`: a DataFrame described for `log_input`."""

from __future__ import annotations

import json
import os
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cairn.data.dataset import Dataset
from cairn.data.digest import pandas_digest
from cairn.data.schema import Schema, infer_pandas_schema
from cairn.data.sources import DatasetSource, resolve_source
from cairn.exceptions import InvalidParameterValue

if TYPE_CHECKING:
    import pandas as pd


class PandasDataset(Dataset):
    """A DataFrame, optionally naming its `targets` (label) and `predictions` columns."""

    def __init__(
        self,
        df: pd.DataFrame,
        source: DatasetSource,
        targets: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        predictions: str | None = None,
    ) -> None:
        for role, column in (("targets", targets), ("predictions", predictions)):
            if column is not None and column not in df.columns:
                raise InvalidParameterValue(
                    f"The {role} column {column!r} is not in the DataFrame's columns "
                    f"{list(df.columns)}."
                )
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return pandas_digest(self._df)

    @property
    def df(self) -> pd.DataFrame:
        return self._df

    @property
    def targets(self) -> str | None:
        return self._targets

    @property
    def predictions(self) -> str | None:
        return self._predictions

    @property
    def profile(self) -> dict[str, Any]:
        return {"num_rows": len(self._df), "num_elements": int(self._df.size)}

    @cached_property
    def schema(self) -> Schema | None:
        """Column types in MLflow's names; None when a column has no supported type."""
        try:
            return infer_pandas_schema(self._df)
        except ValueError:
            return None

    def schema_json(self) -> str | None:
        schema = self.schema
        return None if schema is None else json.dumps({"mlflow_colspec": schema.to_dict()})


def from_pandas(
    df: pd.DataFrame,
    source: DatasetSource | str | os.PathLike[str] | None = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """Describe a DataFrame for `log_input`.

    `source` says where it came from: a path, URL or URI (e.g. "s3://bucket/train.csv"),
    or None for "built by this code". `digest` overrides the computed fingerprint.
    """
    return PandasDataset(df, resolve_source(source), targets, name, digest, predictions)
