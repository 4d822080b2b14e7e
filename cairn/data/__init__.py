"""Datasets for `cairn.log_input`: describe the data a run used (MLflow's `mlflow.data`).

    ds = cairn.data.from_pandas(df, source="data/train.csv", targets="label")
    cairn.log_input(ds, context="training")

Only the functions that receive a DataFrame or an array touch pandas or NumPy, so importing
this package stays cheap.
"""

from __future__ import annotations

from typing import Any

from cairn import entities
from cairn.data.dataset import Dataset
from cairn.data.numpy_dataset import NumpyDataset, from_numpy
from cairn.data.pandas_dataset import PandasDataset, from_pandas
from cairn.data.sources import (
    CodeDatasetSource,
    DatasetSource,
    HTTPDatasetSource,
    LocalArtifactDatasetSource,
    UriDatasetSource,
    source_from_json,
)


def get_source(dataset: Any) -> DatasetSource:
    """The source of a logged dataset (an entity, a `DatasetInput` from a run, or a Dataset)."""
    if isinstance(dataset, Dataset):
        return dataset.source
    if isinstance(dataset, entities.DatasetInput):
        dataset = dataset.dataset
    if isinstance(dataset, entities.Dataset):
        return source_from_json(dataset.source_type, dataset.source)
    raise TypeError(f"Expected a dataset or a logged dataset input, got {type(dataset).__name__}.")


__all__ = [
    "CodeDatasetSource",
    "Dataset",
    "DatasetSource",
    "HTTPDatasetSource",
    "LocalArtifactDatasetSource",
    "NumpyDataset",
    "PandasDataset",
    "UriDatasetSource",
    "from_numpy",
    "from_pandas",
    "get_source",
]
