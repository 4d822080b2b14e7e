"""Logged models (MLflow 3) in the SQL store, on SQLite, PostgreSQL and MariaDB: lifecycle,
tags, params, metrics, run outputs, search (filters, datasets, ordering, paging)."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from cairn.entities import LoggedModelMetric, LoggedModelOutput, LoggedModelStatus
from cairn.entities.logged_model import is_logged_model_id
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.store.model_uri import logged_model_id


def test_create_get_and_finalize(store: Any) -> None:
    run = store.create_run("0")
    before = int(time.time() * 1000)
    model = store.create_logged_model(
        "0",
        name="clf",
        source_run_id=run.info.run_id,
        tags={"team": "a"},
        params={"alpha": "0.1"},
        model_type="classifier",
    )
    assert is_logged_model_id(model.model_id)
    assert model.status is LoggedModelStatus.PENDING
    assert model.experiment_id == "0" and model.name == "clf"
    assert model.source_run_id == run.info.run_id and model.model_type == "classifier"
    assert model.artifact_location == (
        f"{store.get_experiment('0').artifact_location}/models/{model.model_id}/artifacts"
    )
    assert before <= model.creation_timestamp == model.last_updated_timestamp
    assert store.get_logged_model(model.model_id) == model

    time.sleep(0.002)
    ready = store.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status is LoggedModelStatus.READY
    assert ready.last_updated_timestamp > model.last_updated_timestamp
    for spelling in ("LOGGED_MODEL_UPLOAD_FAILED", "FAILED", "upload_failed"):
        assert store.finalize_logged_model(model.model_id, spelling).status is (
            LoggedModelStatus.UPLOAD_FAILED
        )
    with pytest.raises(InvalidParameterValue, match="status"):
        store.finalize_logged_model(model.model_id, "DONE")


def test_names_are_generated_and_checked(store: Any) -> None:
    generated = store.create_logged_model("0")
    assert generated.name and "/" not in generated.name
    for bad in ("", "a/b", "a:b", "a.b", "50%", "it's"):
        with pytest.raises(InvalidParameterValue, match="model name"):
            store.create_logged_model("0", name=bad)
    with pytest.raises(ResourceDoesNotExist):
        store.create_logged_model("12345", name="m")
    with pytest.raises(InvalidParameterValue):
        store.create_logged_model("not-a-number", name="m")
    with pytest.raises(ResourceDoesNotExist):
        store.create_logged_model("0", name="m", source_run_id="f" * 32)
    with pytest.raises(InvalidParameterValue):
        store.create_logged_model("0", name="m", tags={"bad key!": "v"})


def test_models_of_a_deleted_experiment_cannot_be_created(store: Any) -> None:
    experiment_id = store.create_experiment("gone")
    store.delete_experiment(experiment_id)
    with pytest.raises(InvalidParameterValue, match="deleted"):
        store.create_logged_model(experiment_id, name="m")


def test_tags_and_params(store: Any) -> None:
    model = store.create_logged_model("0", name="m", params={"a": "1"})
    store.set_logged_model_tags(model.model_id, {"x": "1", "y": "2"})
    store.set_logged_model_tags(model.model_id, {"x": "3"})
    store.delete_logged_model_tag(model.model_id, "y")
    with pytest.raises(ResourceDoesNotExist, match="'y'"):
        store.delete_logged_model_tag(model.model_id, "y")
    store.log_logged_model_params(model.model_id, {"a": "1", "b": "2"})  # same value: no-op
    with pytest.raises(InvalidParameterValue, match="already"):
        store.log_logged_model_params(model.model_id, {"a": "changed"})
    got = store.get_logged_model(model.model_id)
    assert got.tags == {"x": "3"}
    assert got.params == {"a": "1", "b": "2"}


def test_delete_is_soft_and_hides_the_model(store: Any) -> None:
    model = store.create_logged_model("0", name="m")
    store.delete_logged_model(model.model_id)
    for call in (
        lambda: store.get_logged_model(model.model_id),
        lambda: store.delete_logged_model(model.model_id),
        lambda: store.finalize_logged_model(model.model_id, "READY"),
        lambda: store.set_logged_model_tags(model.model_id, {"a": "b"}),
        lambda: store.log_logged_model_params(model.model_id, {"a": "b"}),
    ):
        with pytest.raises(ResourceDoesNotExist, match=model.model_id):
            call()
    assert store.get_logged_model(model.model_id, allow_deleted=True).model_id == model.model_id
    assert list(store.search_logged_models(["0"])) == []


def test_metrics_reach_the_model_and_the_run(store: Any) -> None:
    run = store.create_run("0")
    model = store.create_logged_model("0", name="m", source_run_id=run.info.run_id)
    points = [
        LoggedModelMetric("acc", 0.5, 10, 0, model_id=model.model_id),
        LoggedModelMetric(
            "acc", 0.8, 20, 1, model_id=model.model_id, dataset_name="val", dataset_digest="v1"
        ),
        LoggedModelMetric("loss", math.inf, 10, 0, model_id=model.model_id),
        LoggedModelMetric("nan", math.nan, 10, 0, model_id=model.model_id),
    ]
    store.log_model_metrics(run.info.run_id, points)
    store.log_model_metrics(run.info.run_id, points[:1])  # the same point twice: stored once
    metrics = store.get_logged_model(model.model_id).metrics
    assert [(m.key, m.step, m.dataset_name) for m in metrics] == [
        ("acc", 0, ""),
        ("acc", 1, "val"),
        ("loss", 0, ""),
        ("nan", 0, ""),
    ]
    assert metrics[2].value == math.inf and math.isnan(metrics[3].value)
    assert all(m.run_id == run.info.run_id for m in metrics)
    assert store.get_run(run.info.run_id).data.metrics["acc"] == 0.8
    with pytest.raises(ResourceDoesNotExist):
        store.log_model_metrics(run.info.run_id, [LoggedModelMetric("a", 1, 1, 0, "m-" + "0" * 32)])
    with pytest.raises(InvalidParameterValue, match="model_id"):
        store.log_model_metrics(run.info.run_id, [LoggedModelMetric("a", 1, 1, 0)])
    half = LoggedModelMetric("a", 1, 1, 0, model.model_id, dataset_name="val")
    with pytest.raises(InvalidParameterValue, match="dataset_digest"):
        store.log_model_metrics(run.info.run_id, [half])
    text: Any = "high"
    with pytest.raises(InvalidParameterValue, match="numbers"):
        store.log_model_metrics(
            run.info.run_id, [LoggedModelMetric("a", text, 1, 0, model.model_id)]
        )


def test_run_outputs(store: Any) -> None:
    run = store.create_run("0")
    first = store.create_logged_model("0", name="a")
    second = store.create_logged_model("0", name="b")
    store.log_outputs(run.info.run_id, [LoggedModelOutput(second.model_id, 5), (first.model_id, 0)])
    store.log_outputs(run.info.run_id, [(first.model_id, 7)])  # again: the first step stays
    assert store.get_run_outputs(run.info.run_id) == [
        LoggedModelOutput(first.model_id, 0),
        LoggedModelOutput(second.model_id, 5),
    ]
    with pytest.raises(ResourceDoesNotExist):
        store.log_outputs(run.info.run_id, [("m-" + "1" * 32, 0)])
    with pytest.raises(ResourceDoesNotExist):
        store.log_outputs("f" * 32, [(first.model_id, 0)])
    store.delete_run(run.info.run_id)
    with pytest.raises(InvalidParameterValue, match="deleted"):
        store.log_outputs(run.info.run_id, [(first.model_id, 1)])


@pytest.fixture
def catalogue(store: Any) -> dict[str, Any]:
    """Three models in a new experiment, created in order a, b, c, with metrics and params."""
    experiment_id = store.create_experiment("catalogue")
    run = store.create_run(experiment_id)
    models = {}
    for i, name in enumerate(("a", "b", "c")):
        models[name] = store.create_logged_model(
            experiment_id,
            name=name,
            source_run_id=run.info.run_id if name != "c" else None,
            params={"depth": str(i)},
            tags={"kind": "tree" if name != "b" else "linear"},
            model_type="sk" if name != "c" else "torch",
        )
        time.sleep(0.002)
    store.finalize_logged_model(models["a"].model_id, "READY")
    store.log_model_metrics(
        run.info.run_id,
        [
            LoggedModelMetric(
                "acc", 0.7, 1, 0, models["a"].model_id, dataset_name="val", dataset_digest="v1"
            ),
            LoggedModelMetric(
                "acc", 0.9, 2, 0, models["a"].model_id, dataset_name="test", dataset_digest="t1"
            ),
            LoggedModelMetric(
                "acc", 0.8, 1, 0, models["b"].model_id, dataset_name="val", dataset_digest="v1"
            ),
        ],
    )
    return {"experiment_id": experiment_id, "run_id": run.info.run_id, **models}


def _names(page: Any) -> list[str]:
    return [m.name for m in page]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        (None, ["c", "b", "a"]),  # newest first
        ("name = 'b'", ["b"]),
        ("name LIKE '%'", ["c", "b", "a"]),
        ("name != 'b'", ["c", "a"]),
        ("name IN ('a', 'c')", ["c", "a"]),
        ("status = 'READY'", ["a"]),
        ("status = 'LOGGED_MODEL_PENDING'", ["c", "b"]),
        ("model_type = 'torch'", ["c"]),
        ("metrics.acc > 0.75", ["b", "a"]),
        ("metrics.acc >= 0.9", ["a"]),
        ("metrics.missing > 0", []),
        ("params.depth = '1'", ["b"]),
        ("tags.kind = 'tree'", ["c", "a"]),
        ("tags.kind = 'tree' AND params.depth != '0'", ["c"]),
        ("name = 'a' OR name = 'c'", ["c", "a"]),
    ],
)
def test_search_filters(
    store: Any, catalogue: dict[str, Any], filter_string: str | None, expected: list[str]
) -> None:
    assert _names(store.search_logged_models([catalogue["experiment_id"]], filter_string)) == (
        expected
    )


def test_search_by_run_and_time(store: Any, catalogue: dict[str, Any]) -> None:
    eid, run_id = catalogue["experiment_id"], catalogue["run_id"]
    assert _names(store.search_logged_models([eid], f"source_run_id = '{run_id}'")) == ["b", "a"]
    created = catalogue["b"].creation_timestamp
    assert _names(store.search_logged_models([eid], f"creation_timestamp >= {created}")) == [
        "c",
        "b",
    ]
    assert _names(store.search_logged_models([eid], f"creation_time < {created}")) == ["a"]
    updated = store.get_logged_model(catalogue["a"].model_id).last_updated_timestamp
    assert _names(store.search_logged_models([eid], f"last_updated_timestamp >= {updated}")) == [
        "a"
    ]


def test_search_datasets_scope_metrics(store: Any, catalogue: dict[str, Any]) -> None:
    eid = catalogue["experiment_id"]
    val = [{"dataset_name": "val"}]
    assert _names(store.search_logged_models([eid], "metrics.acc > 0.75", datasets=val)) == ["b"]
    assert _names(store.search_logged_models([eid], datasets=val)) == ["b", "a"]
    test = [{"dataset_name": "test", "dataset_digest": "nope"}]
    assert _names(store.search_logged_models([eid], datasets=test)) == []
    test[0]["dataset_digest"] = "t1"
    assert _names(store.search_logged_models([eid], datasets=test)) == ["a"]
    with pytest.raises(InvalidParameterValue, match="dataset_name"):
        store.search_logged_models([eid], datasets=[{"dataset_digest": "x"}])


def test_search_order_by(store: Any, catalogue: dict[str, Any]) -> None:
    eid = catalogue["experiment_id"]

    def order(*items: Any) -> list[str]:
        return _names(store.search_logged_models([eid], order_by=list(items)))

    assert order({"field_name": "name"}) == ["a", "b", "c"]
    assert order({"field_name": "name", "ascending": False}) == ["c", "b", "a"]
    assert order("name DESC") == ["c", "b", "a"]
    assert order({"field_name": "creation_timestamp", "ascending": True}) == ["a", "b", "c"]
    # The latest point of acc: a 0.9 (test, later), b 0.8; c has none and sorts last.
    assert order({"field_name": "metrics.acc", "ascending": False}) == ["a", "b", "c"]
    assert order({"field_name": "metrics.acc"}) == ["b", "a", "c"]
    assert order({"field_name": "metrics.acc", "ascending": False, "dataset_name": "val"}) == [
        "b",
        "a",
        "c",
    ]
    assert order({"field_name": "model_type"}, {"field_name": "name", "ascending": False}) == [
        "b",
        "a",
        "c",
    ]
    for bad in ("params.depth", "tags.kind", "nope", "metrics.acc sideways"):
        with pytest.raises(InvalidParameterValue):
            order({"field_name": bad})
    with pytest.raises(InvalidParameterValue, match="twice"):
        order({"field_name": "name"}, "name DESC")
    with pytest.raises(InvalidParameterValue, match="metrics only"):
        order({"field_name": "name", "dataset_name": "val"})


def test_search_pages(store: Any, catalogue: dict[str, Any]) -> None:
    eid = catalogue["experiment_id"]
    first = store.search_logged_models([eid], max_results=2)
    assert _names(first) == ["c", "b"] and first.token
    second = store.search_logged_models([eid], max_results=2, page_token=first.token)
    assert _names(second) == ["a"] and second.token is None
    with pytest.raises(InvalidParameterValue, match="page token"):
        store.search_logged_models([eid], "name = 'a'", max_results=2, page_token=first.token)
    with pytest.raises(InvalidParameterValue, match="page token"):
        store.search_logged_models([eid], page_token="garbage")
    for bad in (0, -1, 10001):
        with pytest.raises(InvalidParameterValue, match="max_results"):
            store.search_logged_models([eid], max_results=bad)


def test_search_scope_and_bad_filters(store: Any, catalogue: dict[str, Any]) -> None:
    assert _names(store.search_logged_models(["0"])) == []
    assert _names(store.search_logged_models([])) == []
    both = store.search_logged_models(["0", catalogue["experiment_id"]])
    assert len(both) == 3
    for bad, named in (
        ("nope = 'x'", "nope"),
        ("name > 'a'", "name"),
        ("metrics.acc = 'x'", "acc"),
        ("name = ", "quoted string"),
        ("datasets.name = 'x'", "datasets"),
    ):
        with pytest.raises(InvalidParameterValue, match=named):
            store.search_logged_models([catalogue["experiment_id"]], bad)


def test_models_uri_names_a_logged_model() -> None:
    model_id = "m-" + "a" * 32
    assert logged_model_id(f"models:/{model_id}") == model_id
    assert logged_model_id(f"models:///{model_id}/") == model_id
    assert logged_model_id("models:/name/1") is None
    assert logged_model_id(f"runs:/{model_id}") is None
    assert logged_model_id("models:/m-ABC") is None


def test_a_model_version_can_come_from_a_logged_model(store: Any, tmp_path: Any) -> None:
    from cairn.artifacts import get_artifact_repository
    from cairn.store.sql.registry import SqlRegistryStore

    run = store.create_run("0")
    model = store.create_logged_model("0", name="m", source_run_id=run.info.run_id)
    files = tmp_path / "files"
    files.mkdir()
    (files / "MLmodel").write_text("flavors: {}\n")
    get_artifact_repository(model.artifact_location).log_artifacts(files)
    registry = SqlRegistryStore(store)
    registry.create_registered_model("reg")
    version = registry.create_model_version("reg", model.model_uri)
    assert version.source == model.model_uri and version.run_id == run.info.run_id
    copy = get_artifact_repository(version.download_uri)
    assert [f.path for f in copy.list_artifacts()] == ["MLmodel"]
    with pytest.raises(ResourceDoesNotExist):
        registry.create_model_version("reg", "models:/m-" + "9" * 32)
