"""The tree-ensemble shortcut gives exactly the model's own answers, and steps aside for
anything it does not cover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)

import cairn.pyfunc
import cairn.sklearn
from cairn.serving.fastpath import FastPath

IRIS_X, IRIS_Y = load_iris(return_X_y=True, as_frame=True)
COLUMNS = list(IRIS_X.columns)


def _served(tmp_path: Path, estimator: Any, x: pd.DataFrame, y: Any, **save: Any) -> Any:
    estimator.fit(x, y)
    path = tmp_path / type(estimator).__name__
    # cloudpickle saves and loads faster than skops; the format does not matter here.
    cairn.sklearn.save_model(estimator, path, serialization_format="cloudpickle", **save)
    return cairn.pyfunc.load_model(path, trust=True)


def _rows(seed: int, x: pd.DataFrame) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low, high = x.min().to_numpy(), x.max().to_numpy()
    return np.round(rng.uniform(low - 1, high + 1, size=(300, x.shape[1])), 3)


@pytest.mark.parametrize(
    "estimator",
    [
        RandomForestClassifier(n_estimators=30, random_state=0),
        ExtraTreesClassifier(n_estimators=30, random_state=1),
    ],
)
@pytest.mark.parametrize("with_signature", [True, False])
def test_classifiers_answer_bit_for_bit(
    tmp_path: Path, estimator: Any, with_signature: bool
) -> None:
    save = {"input_example": IRIS_X.iloc[:3]} if with_signature else {}
    model = _served(tmp_path, estimator, IRIS_X, IRIS_Y, **save)
    fast = FastPath.for_model(model)
    assert fast is not None
    rows = np.vstack([IRIS_X.to_numpy(), _rows(0, IRIS_X)])
    body = {"columns": COLUMNS, "data": rows.tolist()}
    array = fast.rows("dataframe_split", body)
    expected = model.predict(pd.DataFrame(body["data"], columns=COLUMNS))
    got = fast.predict(array)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    one = fast.predict(fast.rows("inputs", [rows[0].tolist()]))
    assert np.array_equal(one, expected[:1])


def test_regressor_answers_bit_for_bit(tmp_path: Path) -> None:
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    model = _served(
        tmp_path, RandomForestRegressor(n_estimators=20, random_state=0), x, y, input_example=x[:2]
    )
    fast = FastPath.for_model(model)
    assert fast is not None
    rows = _rows(3, x)
    expected = model.predict(pd.DataFrame(rows, columns=x.columns))
    got = fast.predict(
        fast.rows("dataframe_split", {"columns": list(x.columns), "data": rows.tolist()})
    )
    assert got.dtype == expected.dtype and np.array_equal(got, expected)  # exact, not close


def test_steps_aside_for_what_it_does_not_cover(tmp_path: Path) -> None:
    model = _served(
        tmp_path,
        RandomForestClassifier(n_estimators=5, random_state=0),
        IRIS_X,
        IRIS_Y,
        input_example=IRIS_X.iloc[:2],
    )
    fast = FastPath.for_model(model)
    assert fast is not None
    row = [5.1, 3.5, 1.4, 0.2]
    for key, value in [
        ("dataframe_split", {"columns": COLUMNS[::-1], "data": [row]}),  # other order
        ("dataframe_split", {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, None]]}),
        ("dataframe_split", {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, True]]}),
        ("dataframe_split", {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, "0.2"]]}),
        ("dataframe_split", {"columns": COLUMNS, "data": [row[:3]]}),
        ("dataframe_split", {"columns": COLUMNS, "data": []}),
        ("dataframe_split", {"columns": COLUMNS, "data": [row], "extra": 1}),
        ("dataframe_records", [dict(zip(COLUMNS, row, strict=True))]),
        ("inputs", [[5.1, 3.5, 1.4, 1e400]]),
        ("inputs", {"a": [1]}),
    ]:
        assert fast.rows(key, value) is None, (key, value)


def test_other_models_get_no_fast_path(tmp_path: Path) -> None:
    boosted = _served(
        tmp_path, GradientBoostingClassifier(n_estimators=5, random_state=0), IRIS_X, IRIS_Y
    )
    assert FastPath.for_model(boosted) is None

    class Sub(RandomForestClassifier):
        pass

    assert FastPath.for_model(object()) is None
    sub = Sub(n_estimators=3, random_state=0).fit(IRIS_X, IRIS_Y)
    from cairn.serving import fastpath

    assert fastpath._forest_predict(sub, 4) is None


def test_tree_shortcut_is_checked_not_assumed() -> None:
    from cairn.serving.fastpath import _per_tree

    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(IRIS_X.to_numpy(), IRIS_Y)
    x = IRIS_X.to_numpy()[:5].astype(np.float32)
    same = _per_tree(forest.estimators_, 4, lambda tree, rows: tree.predict_proba(rows, False))
    assert [p.__name__ for p in same] == ["proba"] * 3

    def counts(tree: Any, rows: Any) -> Any:  # what an older scikit-learn might compute
        return tree.predict_proba(rows, False) * 10

    different = _per_tree(forest.estimators_, 4, counts)
    assert [p.__name__ for p in different] == ["predict"] * 3
    assert np.array_equal(different[0](x), forest.estimators_[0].predict_proba(x) * 10)
