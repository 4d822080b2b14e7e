"""from_pandas: digest, schema, profile and source of a DataFrame."""

from __future__ import annotations

import json

import pytest

from cairn.data import (
    CodeDatasetSource,
    HTTPDatasetSource,
    LocalArtifactDatasetSource,
    PandasDataset,
    UriDatasetSource,
    from_pandas,
)
from cairn.exceptions import InvalidParameterValue

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")


@pytest.fixture
def df() -> object:
    return pd.DataFrame(
        {
            "i64": np.arange(4, dtype="int64"),
            "i32": np.arange(4, dtype="int32"),
            "f64": [0.1, 0.2, np.nan, 0.4],
            "f32": np.ones(4, dtype="float32"),
            "flag": [True, False, True, True],
            "name": ["a", "b", None, "d"],
            "when": pd.to_datetime(["2024-01-01"] * 4),
            "blob": [b"x", b"y", b"z", b"w"],
        }
    )


def test_schema_uses_mlflow_colspec_types(df: object) -> None:
    ds = from_pandas(df)
    schema = json.loads(ds.to_dict()["schema"])
    assert schema == {
        "mlflow_colspec": [
            {"type": "long", "name": "i64", "required": True},
            {"type": "integer", "name": "i32", "required": True},
            {"type": "double", "name": "f64", "required": True},
            {"type": "float", "name": "f32", "required": True},
            {"type": "boolean", "name": "flag", "required": True},
            {"type": "string", "name": "name", "required": False},
            {"type": "datetime", "name": "when", "required": True},
            {"type": "binary", "name": "blob", "required": True},
        ]
    }


def test_profile_counts_rows_and_elements(df: object) -> None:
    assert from_pandas(df).profile == {"num_rows": 4, "num_elements": 32}


def test_digest_is_eight_hex_chars_and_deterministic(df: object) -> None:
    digest = from_pandas(df).digest
    assert len(digest) == 8
    int(digest, 16)
    assert from_pandas(df.copy()).digest == digest  # type: ignore[attr-defined]


def test_digest_changes_with_content_columns_and_shape(df: object) -> None:
    base = from_pandas(df).digest
    changed = df.copy()  # type: ignore[attr-defined]
    changed.loc[0, "i64"] = 99
    assert from_pandas(changed).digest != base
    assert from_pandas(df.rename(columns={"i64": "other"})).digest != base  # type: ignore[attr-defined]
    assert from_pandas(df.head(3)).digest != base  # type: ignore[attr-defined]


def test_digest_of_large_frames_changes_with_shape_beyond_the_sample() -> None:
    big = pd.DataFrame({"x": np.zeros(20_000)})
    bigger = pd.DataFrame({"x": np.zeros(20_001)})
    assert from_pandas(big).digest != from_pandas(bigger).digest


def test_unhashable_cells_still_get_a_digest_and_no_schema() -> None:
    ds = from_pandas(pd.DataFrame({"lists": [[1, 2], [3]]}))
    assert len(ds.digest) == 8
    assert ds.schema is None
    assert "schema" not in ds.to_dict()


def test_explicit_name_digest_and_targets(df: object) -> None:
    ds = from_pandas(df, name="train", digest="cafebabe", targets="flag", predictions="f64")
    assert (ds.name, ds.digest, ds.targets, ds.predictions) == ("train", "cafebabe", "flag", "f64")
    assert ds.df is df
    assert isinstance(ds, PandasDataset)


def test_default_name(df: object) -> None:
    assert from_pandas(df).name == "dataset"


def test_unknown_targets_column_is_refused(df: object) -> None:
    with pytest.raises(InvalidParameterValue, match="targets"):
        from_pandas(df, targets="nope")


@pytest.mark.parametrize(
    ("source", "cls", "source_type", "doc"),
    [
        ("data/train.csv", LocalArtifactDatasetSource, "local", {"uri": "data/train.csv"}),
        ("file:///d/t.csv", LocalArtifactDatasetSource, "local", {"uri": "file:///d/t.csv"}),
        ("https://x.org/t.csv", HTTPDatasetSource, "http", {"url": "https://x.org/t.csv"}),
        ("s3://bucket/t.parquet", UriDatasetSource, "s3", {"uri": "s3://bucket/t.parquet"}),
    ],
)
def test_sources_from_strings(
    df: object, source: str, cls: type, source_type: str, doc: dict[str, str]
) -> None:
    ds = from_pandas(df, source=source)
    assert isinstance(ds.source, cls)
    entity = ds.to_entity()
    assert entity.source_type == source_type
    assert json.loads(entity.source) == doc


def test_no_source_means_this_code(df: object) -> None:
    ds = from_pandas(df)
    assert isinstance(ds.source, CodeDatasetSource)
    assert ds.to_entity().source_type == "code"
    assert "mlflow.source.name" in json.loads(ds.to_entity().source)["tags"]


def test_entity_carries_every_field(df: object) -> None:
    ds = from_pandas(df, source="t.csv", name="t")
    entity = ds.to_entity()
    assert (entity.name, entity.digest) == ("t", ds.digest)
    assert json.loads(entity.profile or "") == ds.profile
    assert entity.schema == ds.to_dict()["schema"]
    assert ds._to_mlflow_entity() == entity
    assert json.loads(ds.to_json())["name"] == "t"
