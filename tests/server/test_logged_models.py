"""The logged-model routes (spec §14.2) and `runs/outputs` of a real `cairn server`, with
good and bad input: unknown ids, bad statuses, malformed JSON, wrong types, bad filters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.test_tracking_api import API, Api, error, invalid

MODELS = API + "/logged-models"
UNKNOWN = "m-" + "0" * 32


@pytest.fixture(scope="module")
def api(live_server: Any) -> Iterator[Api]:
    client = Api(live_server.url)
    yield client
    client.close()


def create(api: Api, experiment_id: str, **fields: Any) -> dict[str, Any]:
    body = api.ok(api.http.post(MODELS, json={"experiment_id": experiment_id, **fields}))
    return body["model"]  # type: ignore[no-any-return]


def get(api: Api, model_id: str, prefix: str = "/api") -> dict[str, Any]:
    url = f"{prefix}/2.0/mlflow/logged-models/{model_id}"
    return api.ok(api.http.get(url))["model"]  # type: ignore[no-any-return]


def search(api: Api, **body: Any) -> dict[str, Any]:
    return api.ok(api.http.post(MODELS + "/search", json=body))


def test_create_get_finalize_and_the_wire_shape(api: Api) -> None:
    experiment_id = api.experiment("lm")
    run_id = api.run_id(experiment_id)
    model = create(
        api,
        experiment_id,
        name="clf",
        model_type="classifier",
        source_run_id=run_id,
        params=[{"key": "alpha", "value": "0.1"}],
        tags=[{"key": "team", "value": "a"}],
    )
    info = model["info"]
    model_id = info["model_id"]
    assert model_id.startswith("m-") and len(model_id) == 34
    assert info["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/models/{model_id}/artifacts"
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert info["experiment_id"] == experiment_id and info["name"] == "clf"
    assert info["source_run_id"] == run_id and info["model_type"] == "classifier"
    assert isinstance(info["creation_timestamp_ms"], int)
    assert info["last_updated_timestamp_ms"] == info["creation_timestamp_ms"]
    assert info["tags"] == [{"key": "team", "value": "a"}]
    assert model["data"] == {"params": [{"key": "alpha", "value": "0.1"}]}
    assert get(api, model_id) == model
    assert get(api, model_id, prefix="/ajax-api") == model

    finalized = api.http.patch(f"{MODELS}/{model_id}", json={"status": "LOGGED_MODEL_READY"})
    assert api.ok(finalized)["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    assert get(api, model_id)["info"]["status"] == "LOGGED_MODEL_READY"

    unnamed = create(api, experiment_id)["info"]
    assert unnamed["name"] and "model_type" not in unnamed and "source_run_id" not in unnamed


def test_tags_params_and_delete(api: Api) -> None:
    experiment_id = api.experiment("lm")
    model_id = create(api, experiment_id, name="m")["info"]["model_id"]
    tags = [{"key": "x", "value": "1"}, {"key": "y", "value": "2"}]
    answer = api.ok(api.http.patch(f"{MODELS}/{model_id}/tags", json={"tags": tags}))
    assert answer["model"]["info"]["tags"] == tags
    assert api.ok(api.http.delete(f"{MODELS}/{model_id}/tags/y")) == {}
    error(api.http.delete(f"{MODELS}/{model_id}/tags/y"), 404, "RESOURCE_DOES_NOT_EXIST")
    params = {"params": [{"key": "p", "value": "v"}]}
    assert api.ok(api.http.post(f"{MODELS}/{model_id}/params", json=params)) == {}
    changed = {"params": [{"key": "p", "value": "other"}]}
    invalid(api.http.post(f"{MODELS}/{model_id}/params", json=changed), "already")
    model = get(api, model_id)
    assert model["info"]["tags"] == [{"key": "x", "value": "1"}]
    assert model["data"]["params"] == [{"key": "p", "value": "v"}]

    # MLflow's client sends the id in the body of a delete too; the path decides.
    assert api.ok(api.http.request("DELETE", f"{MODELS}/{model_id}", json={})) == {}
    error(api.http.get(f"{MODELS}/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    deleted = api.ok(api.http.get(f"{MODELS}/{model_id}", params={"allow_deleted": "true"}))
    assert deleted["model"]["info"]["model_id"] == model_id
    error(api.http.delete(f"{MODELS}/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert search(api, experiment_ids=[experiment_id]) == {}


def test_unknown_ids_are_404_on_every_route(api: Api) -> None:
    for response in (
        api.http.get(f"{MODELS}/{UNKNOWN}"),
        api.http.get(f"{MODELS}/not-an-id"),
        api.http.patch(f"{MODELS}/{UNKNOWN}", json={"status": "LOGGED_MODEL_READY"}),
        api.http.delete(f"{MODELS}/{UNKNOWN}"),
        api.http.patch(f"{MODELS}/{UNKNOWN}/tags", json={"tags": []}),
        api.http.delete(f"{MODELS}/{UNKNOWN}/tags/k"),
        api.http.post(f"{MODELS}/{UNKNOWN}/params", json={"params": []}),
        api.http.get(f"{MODELS}/{UNKNOWN}/artifacts/directories"),
    ):
        message = error(response, 404, "RESOURCE_DOES_NOT_EXIST")
        assert "not found" in message or "not-an-id" in message
    error(api.http.post(MODELS, json={"experiment_id": "987654"}), 404, "RESOURCE_DOES_NOT_EXIST")
    error(
        api.http.post(MODELS + "/search", json={"experiment_ids": ["987654"]}),
        404,
        ("RESOURCE_DOES_NOT_EXIST"),
    )


def test_bad_input_is_invalid_parameter_value(api: Api) -> None:
    experiment_id = api.experiment("lm")
    model_id = create(api, experiment_id, name="m")["info"]["model_id"]
    one = f"{MODELS}/{model_id}"
    invalid(api.http.patch(one, json={"status": "DONE"}), "status")
    invalid(api.http.patch(one, json={}), "status")
    invalid(api.http.patch(one, json={"status": 7}), "status")
    invalid(api.http.post(MODELS, json={}), "experiment_id")
    invalid(api.http.post(MODELS, json={"experiment_id": "x"}), "experiment")
    invalid(api.http.post(MODELS, json={"experiment_id": experiment_id, "name": "a/b"}), "name")
    invalid(api.http.post(MODELS, json={"experiment_id": experiment_id, "tags": "x"}), "tags")
    invalid(api.http.post(MODELS, json={"experiment_id": experiment_id, "params": [{"v": 1}]}))
    invalid(api.http.post(MODELS, content=b"{nope", headers={"Content-Type": "application/json"}))
    invalid(api.http.post(MODELS, content=b"{}", headers={"Content-Type": "text/plain"}))
    invalid(api.http.patch(f"{one}/tags", json={"tags": [{"key": "bad key!", "value": "v"}]}))
    invalid(api.http.get(one, params={"allow_deleted": "maybe"}), "allow_deleted")


def test_search_filters_orders_and_pages(api: Api) -> None:
    experiment_id = api.experiment("lm")
    run_id = api.run_id(experiment_id)
    ids = {}
    for name, depth in (("a", "1"), ("b", "2"), ("c", "3")):
        params = [{"key": "depth", "value": depth}]
        ids[name] = create(api, experiment_id, name=name, source_run_id=run_id, params=params)[
            "info"
        ]["model_id"]
    for name, value in (("a", 0.5), ("b", 0.9)):
        metric = {
            "run_id": run_id,
            "key": "acc",
            "value": value,
            "timestamp": 1,
            "step": 0,
            "model_id": ids[name],
            "dataset_name": "val",
            "dataset_digest": "v1",
        }
        assert api.ok_post("/runs/log-metric", metric) == {}
    batch = {
        "run_id": run_id,
        "metrics": [
            {"key": "loss", "value": "NaN", "timestamp": 2, "step": 1, "model_id": ids["c"]},
            {"key": "plain", "value": 1.0, "timestamp": 2, "step": 1},
        ],
    }
    assert api.ok_post("/runs/log-batch", batch) == {}
    run_metrics = {m["key"] for m in api.get_run(run_id)["data"]["metrics"]}
    assert run_metrics == {"acc", "loss", "plain"}
    c = get(api, ids["c"])
    assert c["data"]["metrics"] == [
        {
            "key": "loss",
            "value": "NaN",
            "timestamp": 2,
            "step": 1,
            "model_id": ids["c"],
            "run_id": run_id,
        }
    ]

    def names(**body: Any) -> list[str]:
        found = search(api, experiment_ids=[experiment_id], **body)
        return [m["info"]["name"] for m in found.get("models", [])]

    assert names() == ["c", "b", "a"]
    assert names(filter="metrics.acc > 0.6") == ["b"]
    assert names(filter="params.depth != '2' AND name LIKE '%'") == ["c", "a"]
    assert names(filter=f"source_run_id = '{run_id}'") == ["c", "b", "a"]
    assert names(order_by=[{"field_name": "metrics.acc", "ascending": False}]) == ["b", "a", "c"]
    assert names(order_by=[{"field_name": "name"}]) == ["a", "b", "c"]
    assert names(datasets=[{"dataset_name": "val"}]) == ["b", "a"]
    first = search(api, experiment_ids=[experiment_id], max_results=2)
    assert len(first["models"]) == 2
    rest = search(
        api, experiment_ids=[experiment_id], max_results=2, page_token=first["next_page_token"]
    )
    assert len(rest["models"]) == 1 and "next_page_token" not in rest

    bad = MODELS + "/search"
    invalid(
        api.http.post(bad, json={"experiment_ids": [experiment_id], "filter": "nope = 1"}), "nope"
    )
    invalid(
        api.http.post(bad, json={"experiment_ids": [experiment_id], "filter": "metrics.acc > 'x'"})
    )
    invalid(
        api.http.post(
            bad, json={"experiment_ids": [experiment_id], "order_by": [{"field_name": "tags.x"}]}
        )
    )
    invalid(
        api.http.post(bad, json={"experiment_ids": [experiment_id], "max_results": 0}),
        "max_results",
    )
    invalid(api.http.post(bad, json={"experiment_ids": [experiment_id], "max_results": "many"}))
    invalid(api.http.post(bad, json={"experiment_ids": [experiment_id], "page_token": "zzz"}))
    invalid(api.http.post(bad, json={"experiment_ids": "1"}), "experiment_ids")
    invalid(
        api.http.post(bad, json={"experiment_ids": [experiment_id], "datasets": [{}]}),
        "dataset_name",
    )
    unknown_model = {**batch["metrics"][0], "run_id": run_id, "model_id": UNKNOWN}  # type: ignore[index]
    error(api.post("/runs/log-metric", unknown_model), 404, "RESOURCE_DOES_NOT_EXIST")


def test_run_outputs(api: Api) -> None:
    experiment_id = api.experiment("lm")
    run_id = api.run_id(experiment_id)
    model_id = create(api, experiment_id, name="m")["info"]["model_id"]
    body = {"run_id": run_id, "models": [{"model_id": model_id, "step": 2}]}
    assert api.ok_post("/runs/outputs", body) == {}
    assert api.ok_post("/runs/outputs", body) == {}  # again: a no-op
    error(api.post("/runs/outputs", {**body, "run_id": "f" * 32}), 404, "RESOURCE_DOES_NOT_EXIST")
    unknown = {"run_id": run_id, "models": [{"model_id": UNKNOWN}]}
    error(api.post("/runs/outputs", unknown), 404, "RESOURCE_DOES_NOT_EXIST")
    invalid(api.post("/runs/outputs", {"models": []}), "run_id")
    invalid(api.post("/runs/outputs", {"run_id": run_id, "models": [{"step": 1}]}), "model_id")
    invalid(
        api.post(
            "/runs/outputs", {"run_id": run_id, "models": [{"model_id": model_id, "step": "x"}]}
        )
    )


def test_artifact_directories_list_the_model_files(
    api: Api, live_server: Any, tmp_path: Path
) -> None:
    experiment_id = api.experiment("lm")
    model = create(api, experiment_id, name="m")["info"]
    model_id, location = model["model_id"], model["artifact_uri"]
    assert api.ok(api.http.get(f"{MODELS}/{model_id}/artifacts/directories")) == {
        "root_uri": location
    }
    proxy = "/api/2.0/mlflow-artifacts/artifacts/" + location.removeprefix("mlflow-artifacts:/")
    assert api.http.put(f"{proxy}/MLmodel", content=b"flavors: {}\n").status_code == 200
    assert api.http.put(f"{proxy}/data/model.pkl", content=b"12345").status_code == 200
    listed = api.ok(api.http.get(f"{MODELS}/{model_id}/artifacts/directories"))
    assert listed["root_uri"] == location
    assert sorted(listed["files"], key=lambda f: f["path"]) == [
        {"path": "MLmodel", "is_dir": False, "file_size": 12},
        {"path": "data", "is_dir": True},
    ]
    inner = api.ok(
        api.http.get(
            f"{MODELS}/{model_id}/artifacts/directories",
            params={"artifact_directory_path": "data"},
        )
    )
    assert inner["files"] == [{"path": "data/model.pkl", "is_dir": False, "file_size": 5}]
    invalid(
        api.http.get(
            f"{MODELS}/{model_id}/artifacts/directories",
            params={"artifact_directory_path": "../../x"},
        )
    )


def test_wrong_methods_and_unknown_routes(api: Api) -> None:
    assert api.http.put(f"{MODELS}/{UNKNOWN}").status_code == 405
    assert api.http.get(MODELS + "/search").status_code == 404  # read as a model id "search"
    assert httpx.get(api.url + "/api/3.0/mlflow/logged-models/" + UNKNOWN).status_code == 404
