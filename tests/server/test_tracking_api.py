"""The experiments and runs REST API of a real `cairn server`, request by request.

Every test talks HTTP to a server subprocess (`live_server`, SQLite) and checks the wire
format of the MLflow protocol reference (mlflow-rest-api.md §1, §2, §4, §7, §8, §10): paths
and methods, field names in both spellings, omitted fields, page tokens, limits, error bodies
and statuses, and the behavioural rules clients rely on; where Cairn differs on purpose
(docs/server.md) the test says so. `test_core_flow_on_each_backend` repeats the core through
a server on PostgreSQL and on MariaDB.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cairn.version import __version__
from tests.conftest import BACKENDS, database_uri

API = "/api/2.0/mlflow"
DBL_MAX = 1.7976931348623157e308


class Api:
    """A thin client: raw responses, plus helpers that insist on success."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60)

    def post(self, path: str, body: Any = None, prefix: str = API, **kw: Any) -> httpx.Response:
        if body is not None:
            kw["json"] = body
        return self.http.post(prefix + path, **kw)

    def get(self, path: str, params: Any = None, prefix: str = API) -> httpx.Response:
        return self.http.get(prefix + path, params=params)

    def ok(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, (response.request.url, response.text)
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert isinstance(body, dict)
        return body

    def ok_post(self, path: str, body: Any = None) -> dict[str, Any]:
        return self.ok(self.post(path, body))

    def ok_get(self, path: str, params: Any = None) -> dict[str, Any]:
        return self.ok(self.get(path, params))

    def experiment(self, stem: str = "exp", **fields: Any) -> str:
        body = self.ok_post("/experiments/create", {"name": unique(stem), **fields})
        assert isinstance(body["experiment_id"], str)
        return str(body["experiment_id"])

    def run(self, experiment_id: str, **fields: Any) -> dict[str, Any]:
        body = self.ok_post("/runs/create", {"experiment_id": experiment_id, **fields})
        return body["run"]  # type: ignore[no-any-return]

    def run_id(self, experiment_id: str, **fields: Any) -> str:
        return str(self.run(experiment_id, **fields)["info"]["run_id"])

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self.ok_get("/runs/get", {"run_id": run_id})["run"]  # type: ignore[no-any-return]

    def get_experiment(self, experiment_id: str) -> dict[str, Any]:
        body = self.ok_get("/experiments/get", {"experiment_id": experiment_id})
        return body["experiment"]  # type: ignore[no-any-return]

    def history(self, run_id: str, key: str, **params: Any) -> dict[str, Any]:
        return self.ok_get("/metrics/get-history", {"run_id": run_id, "metric_key": key, **params})

    def close(self) -> None:
        self.http.close()


def unique(stem: str = "x") -> str:
    return f"{stem}-{uuid.uuid4().hex[:12]}"


def error(response: httpx.Response, status: int, code: str) -> str:
    """Assert an MLflow error body with `status` and `code`; return its message."""
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


def invalid(response: httpx.Response, *mentions: str) -> str:
    message = error(response, 400, "INVALID_PARAMETER_VALUE")
    for text in mentions:
        assert text in message, message
    return message


def tags_of(entity: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in entity.get("tags", [])}


def params_of(run: dict[str, Any]) -> dict[str, str]:
    return {p["key"]: p.get("value", "") for p in run["data"].get("params", [])}


def metrics_of(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["key"]: m for m in run["data"].get("metrics", [])}


def normalized(run: dict[str, Any]) -> dict[str, Any]:
    """A run with its list fields in a fixed order (their order on the wire is unspecified)."""
    data = {k: sorted(v, key=lambda item: item["key"]) for k, v in run["data"].items()}
    return {**run, "data": data}


@pytest.fixture(scope="module")
def api(live_server: Any) -> Iterator[Api]:
    client = Api(live_server.url)
    yield client
    client.close()


# -- transport: routes, methods, bodies ---------------------------------------------------------


def test_health_and_version(api: Api) -> None:
    health = api.http.get("/health")
    assert (health.status_code, health.text) == (200, "OK")
    assert health.headers["content-type"].startswith("text/plain")
    version = api.http.get("/version")
    assert (version.status_code, version.text) == (200, __version__)


@pytest.mark.parametrize(
    "path", ["/nope", "/api/2.0/mlflow/nope", "/api/2.0/mlflow/experiments", "/ajax-api/9.0/x"]
)
def test_unknown_route_is_a_json_404(api: Api, path: str) -> None:
    for method in ("GET", "POST"):
        response = api.http.request(method, path)
        message = error(response, 404, "ENDPOINT_NOT_FOUND")
        assert path in message


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/experiments/create"),
        ("POST", "/experiments/get"),
        ("POST", "/metrics/get-history"),
        ("GET", "/runs/log-batch"),
        ("PUT", "/experiments/search"),
        ("DELETE", "/runs/delete"),
    ],
)
def test_wrong_method_is_a_json_405(api: Api, method: str, path: str) -> None:
    response = api.http.request(method, API + path)
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) >= {"error_code", "message"}
    assert method not in response.headers["allow"]


def test_ajax_api_mirrors_every_route(api: Api) -> None:
    created = api.post(
        "/experiments/create", {"name": unique("ajax")}, prefix="/ajax-api/2.0/mlflow"
    )
    experiment_id = api.ok(created)["experiment_id"]
    via_api = api.get_experiment(experiment_id)
    via_ajax = api.ok(
        api.get("/experiments/get", {"experiment_id": experiment_id}, "/ajax-api/2.0/mlflow")
    )
    assert via_ajax == {"experiment": via_api}
    info = api.ok(api.get("/mlflow/server-info", prefix="/ajax-api/3.0"))
    assert info == api.ok(api.get("/mlflow/server-info", prefix="/api/3.0"))
    error(api.http.get("/ajax-api/2.0/mlflow/nope"), 404, "ENDPOINT_NOT_FOUND")


def test_server_info_and_logged_models_stub(api: Api) -> None:
    info = api.ok(api.get("/mlflow/server-info", prefix="/api/3.0"))
    assert info["multipart_uploads_enabled"] is False
    assert info["workspaces_enabled"] is False
    assert isinstance(info["store_type"], str)
    assert api.ok_post("/logged-models/search", {}) == {}
    experiment_id = api.experiment("lm")
    body = {"experiment_ids": [experiment_id], "max_results": 10}
    assert api.ok_post("/logged-models/search", body) == {}
    assert api.ok(api.http.post(API + "/logged-models/search")) == {}
    # MLflow 2.x servers have no such route; it is a 3.x addition under /api/2.0 only.
    error(api.post("/logged-models/search", prefix="/api/3.0/mlflow"), 404, "ENDPOINT_NOT_FOUND")


def test_empty_body_is_an_empty_message(api: Api) -> None:
    # No body and no Content-Type: runs/create takes every field as unset -> Default experiment.
    created = api.ok(api.http.post(API + "/runs/create"))
    assert created["run"]["info"]["experiment_id"] == "0"
    blank = api.http.post(
        API + "/runs/create", content=b"  \n", headers={"content-type": "application/json"}
    )
    assert api.ok(blank)["run"]["info"]["experiment_id"] == "0"
    # ... and a required field is then reported missing, not as a malformed body.
    invalid(api.http.post(API + "/experiments/search"), "max_results")
    invalid(api.http.post(API + "/experiments/create"), "Missing value", "name")


def test_body_needs_a_json_content_type(api: Api) -> None:
    body = json.dumps({"name": unique("ct")}).encode()
    invalid(api.http.post(API + "/experiments/create", content=body), "Content-Type")
    plain = api.http.post(
        API + "/experiments/create", content=body, headers={"content-type": "text/plain"}
    )
    invalid(plain, "text/plain")
    charset = api.http.post(
        API + "/experiments/create",
        content=body,
        headers={"content-type": "application/json; charset=utf-8"},
    )
    api.ok(charset)


def test_double_encoded_json_string_body(api: Api) -> None:
    name = unique("double")
    inner = json.dumps({"name": name})
    response = api.http.post(
        API + "/experiments/create",
        content=json.dumps(inner).encode(),
        headers={"content-type": "application/json"},
    )
    experiment_id = api.ok(response)["experiment_id"]
    assert api.get_experiment(experiment_id)["name"] == name


@pytest.mark.parametrize("body", [b"[]", b"[1, 2]", b"3", b'"[1]"', b"null", b"true"])
def test_body_that_is_not_an_object(api: Api, body: bytes) -> None:
    response = api.http.post(
        API + "/runs/search", content=body, headers={"content-type": "application/json"}
    )
    invalid(response, "JSON object")


def test_camel_case_names_accepted_and_both_spellings_rejected(api: Api) -> None:
    experiment_id = api.experiment("camel")
    # POST body: lowerCamelCase for every multi-word field, nested ones included.
    run = api.ok_post(
        "/runs/create", {"experimentId": experiment_id, "runName": "cml", "startTime": 7}
    )["run"]
    assert run["info"]["experiment_id"] == experiment_id
    assert (run["info"]["run_name"], run["info"]["start_time"]) == ("cml", 7)
    run_id = run["info"]["run_id"]
    api.ok_post("/runs/log-metric", {"runId": run_id, "key": "m", "value": 1, "timestamp": 3})
    # GET query: camelCase too.
    history = api.ok_get("/metrics/get-history", {"runId": run_id, "metricKey": "m"})
    assert [p["value"] for p in history["metrics"]] == [1]
    fetched = api.ok_get("/experiments/get", {"experimentId": experiment_id})["experiment"]
    assert fetched["experiment_id"] == experiment_id
    # Both spellings of one field: refused, in bodies and in query strings.
    both = api.post("/runs/create", {"experiment_id": experiment_id, "experimentId": "0"})
    invalid(both, "experiment_id", "experimentId")
    both_query = api.get("/experiments/get", {"experiment_id": "0", "experimentId": "0"})
    invalid(both_query, "experiment_id")
    # Nested messages too: both spellings of a metric field inside log-batch.
    odd = {"key": "k", "value": 1, "timestamp": 1, "timeStamp": 2}  # not a spelling: ignored
    api.ok(api.post("/runs/log-batch", {"run_id": run_id, "metrics": [odd]}))
    invalid(
        api.post(
            "/runs/log-inputs",
            {
                "run_id": run_id,
                "datasets": [
                    {"dataset": {"name": "d", "digest": "x", "source_type": "a", "sourceType": "b"}}
                ],
            },
        ),
        "source_type",
    )
    response = api.post(
        "/experiments/search",
        {"max_results": 1, "maxResults": 2},
    )
    invalid(response, "max_results")
    # The response always uses snake_case.
    assert "experimentId" not in json.dumps(api.get_run(run_id))


def test_unknown_fields_are_ignored(api: Api) -> None:
    experiment_id = api.experiment(
        "unknown", color="blue", tags=[{"key": "k", "value": "v", "extra": 1}]
    )
    assert tags_of(api.get_experiment(experiment_id)) == {"k": "v"}
    params = {"experiment_id": experiment_id, "whatever": "x", "also": ["1", "2"]}
    assert api.ok_get("/experiments/get", params)["experiment"]["experiment_id"] == experiment_id


def test_get_query_repeated_keys_and_enums(api: Api) -> None:
    stem = unique("order")
    ids = [
        api.ok_post("/experiments/create", {"name": f"{stem}-{n}"})["experiment_id"] for n in "ab"
    ]
    where = ("filter", f"name LIKE '{stem}-%'")
    descending = [("max_results", "10"), where, ("order_by", "name DESC")]
    found = api.ok_get("/experiments/search", descending)["experiments"]
    assert [e["experiment_id"] for e in found] == ids[::-1]
    # order_by repeats its key; each value is one clause, and every clause is read.
    two = [*descending, ("order_by", "experiment_id ASC")]
    assert api.ok_get("/experiments/search", two)["experiments"] == found
    invalid(api.get("/experiments/search", [*descending, ("order_by", "bogus ASC")]), "bogus")
    # The same key twice is a 400 (docs/server.md), in either spelling of the request.
    invalid(api.get("/experiments/search", [*descending, ("order_by", "name ASC")]))
    # A scalar given twice: the last value wins (as protobuf merges repeated scalar fields).
    paged = api.ok_get("/experiments/search", [("max_results", "10"), ("max_results", "1"), where])
    assert len(paged["experiments"]) == 1 and paged["next_page_token"]
    # Enums by name in the query string; anything else is refused.
    deleted_only = [("max_results", "10"), ("view_type", "DELETED_ONLY"), where]
    assert api.ok_get("/experiments/search", deleted_only) == {}
    invalid(api.get("/experiments/search", {"max_results": "10", "view_type": "SOME"}), "view_type")
    invalid(api.get("/experiments/search", {"max_results": "ten"}), "max_results")
    invalid(api.get("/experiments/search", {"max_results": "1.5"}), "max_results")


def test_int64_values_are_json_numbers(api: Api) -> None:
    experiment_id = api.experiment("int64")
    big = 2**62 + 12345
    run = api.run(experiment_id, start_time=big)
    assert run["info"]["start_time"] == big
    run_id = run["info"]["run_id"]
    # int64 accepted as a decimal string on input, as protobuf JSON allows.
    api.ok_post(
        "/runs/log-metric",
        {"run_id": run_id, "key": "m", "value": 1.5, "timestamp": str(big), "step": "-3"},
    )
    raw = api.get("/metrics/get-history", {"run_id": run_id, "metric_key": "m"}).text
    assert f'"timestamp":{big}' in raw.replace(" ", "")
    assert '"step":-3' in raw.replace(" ", "")
    point = api.history(run_id, "m")["metrics"][0]
    assert (point["timestamp"], point["step"], point["value"]) == (big, -3, 1.5)
    experiment = api.get_experiment(experiment_id)
    assert isinstance(experiment["creation_time"], int)
    assert isinstance(experiment["last_update_time"], int)
    # out of int64 range -> 400, naming the field
    too_big = {"run_id": run_id, "key": "m", "value": 1, "timestamp": 2**63}
    invalid(api.post("/runs/log-metric", too_big), "timestamp")


def test_non_finite_doubles_in_and_out(api: Api) -> None:
    experiment_id = api.experiment("nan")
    run_id = api.run_id(experiment_id)
    for step, value in enumerate(["NaN", "Infinity", "-Infinity", 2.5, "3.25"]):
        api.ok_post(
            "/runs/log-metric",
            {"run_id": run_id, "key": "v", "value": value, "timestamp": 10, "step": step},
        )
    values = [p["value"] for p in api.history(run_id, "v")["metrics"]]
    assert values[0] == "NaN"
    assert values[1] in ("Infinity", DBL_MAX)
    assert values[2] in ("-Infinity", -DBL_MAX)
    assert values[3:] == [2.5, 3.25]
    api.ok_post(
        "/runs/log-batch",
        {"run_id": run_id, "metrics": [{"key": "w", "value": "NaN", "timestamp": 1}]},
    )
    assert metrics_of(api.get_run(run_id))["w"]["value"] == "NaN"
    # Other spellings are not numbers.
    for bad in ("nan", "inf", "Inf", "+Infinity", "", "1e", None):
        body = {"run_id": run_id, "key": "v", "value": bad, "timestamp": 1}
        invalid(api.post("/runs/log-metric", body), "value")


def test_bare_nan_token_is_malformed_json(api: Api) -> None:
    run_id = api.run_id(api.experiment("bare"))
    body = b'{"run_id": "%s", "key": "m", "value": NaN, "timestamp": 1}' % run_id.encode()
    response = api.http.post(
        API + "/runs/log-metric", content=body, headers={"content-type": "application/json"}
    )
    invalid(response, "Malformed JSON")


# -- errors ----------------------------------------------------------------------------------


def test_missing_required_fields(api: Api) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/experiments/create", {}, "name"),
        ("/experiments/create", {"name": ""}, "name"),
        ("/experiments/delete", {}, "experiment_id"),
        ("/experiments/restore", {}, "experiment_id"),
        ("/experiments/update", {"experiment_id": "0"}, "new_name"),
        ("/experiments/set-experiment-tag", {"experiment_id": "0"}, "key"),
        ("/runs/update", {}, "run_id"),
        ("/runs/delete", {}, "run_id"),
        ("/runs/log-metric", {"run_id": "x", "key": "m", "value": 1}, "timestamp"),
        ("/runs/log-metric", {"run_id": "x", "key": "m", "timestamp": 1}, "value"),
        ("/runs/log-parameter", {"run_id": "x"}, "key"),
        ("/runs/log-batch", {}, "run_id"),
        ("/runs/log-batch", {"run_id": "x", "metrics": [{"key": "m", "value": 1}]}, "timestamp"),
        ("/runs/set-tag", {"run_id": "x"}, "key"),
        ("/runs/log-model", {"run_id": "x"}, "model_json"),
    ]
    for path, body, field in cases:
        invalid(api.post(path, body), "Missing value", field)
    for path, params, field in [
        ("/experiments/get", {}, "experiment_id"),
        ("/experiments/get-by-name", {}, "experiment_name"),
        ("/runs/get", {}, "run_id"),
        ("/metrics/get-history", {"run_id": "x"}, "metric_key"),
        ("/metrics/get-history", {"metric_key": "m"}, "run_id"),
    ]:
        invalid(api.get(path, params), "Missing value", field)


def test_unknown_resources_are_404(api: Api) -> None:
    missing_run = uuid.uuid4().hex
    error(
        api.get("/experiments/get", {"experiment_id": "987654321"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    error(
        api.get("/experiments/get-by-name", {"experiment_name": unique("none")}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(api.get("/runs/get", {"run_id": missing_run}), 404, "RESOURCE_DOES_NOT_EXIST")
    for path in ("/runs/delete", "/runs/restore", "/runs/update"):
        error(api.post(path, {"run_id": missing_run}), 404, "RESOURCE_DOES_NOT_EXIST")
    body = {"run_id": missing_run, "key": "m", "value": 1, "timestamp": 1}
    error(api.post("/runs/log-metric", body), 404, "RESOURCE_DOES_NOT_EXIST")
    error(api.post("/runs/create", {"experiment_id": "987654321"}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_non_integer_experiment_ids_are_invalid(api: Api) -> None:
    for bad in ("abc", "1.5", "0x10", "1; DROP TABLE runs"):
        invalid(api.get("/experiments/get", {"experiment_id": bad}))
        invalid(api.post("/runs/create", {"experiment_id": bad}))
        invalid(api.post("/runs/search", {"experiment_ids": ["0", bad]}))


# -- experiments (§4.1) -------------------------------------------------------------------------


def test_create_and_get_experiment(api: Api) -> None:
    name = unique("create")
    response = api.ok_post(
        "/experiments/create", {"name": name, "tags": [{"key": "team", "value": "ml"}]}
    )
    assert list(response) == ["experiment_id"]
    experiment_id = response["experiment_id"]
    assert re.fullmatch(r"[1-9][0-9]*", experiment_id)
    experiment = api.get_experiment(experiment_id)
    assert experiment["name"] == name
    assert experiment["artifact_location"] == f"mlflow-artifacts:/{experiment_id}"
    assert experiment["lifecycle_stage"] == "active"
    assert experiment["creation_time"] == experiment["last_update_time"] > 0
    assert experiment["tags"] == [{"key": "team", "value": "ml"}]
    by_name = api.ok_get("/experiments/get-by-name", {"experiment_name": name})
    assert by_name == {"experiment": experiment}
    # An experiment without tags has no "tags" field at all.
    bare = api.get_experiment(api.experiment("bare"))
    assert "tags" not in bare
    default = api.get_experiment("0")
    assert (default["name"], default["lifecycle_stage"]) == ("Default", "active")


def test_experiment_names_unique_across_deleted(api: Api) -> None:
    name = unique("uniq")
    experiment_id = api.ok_post("/experiments/create", {"name": name})["experiment_id"]
    error(api.post("/experiments/create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")
    api.ok_post("/experiments/delete", {"experiment_id": experiment_id})
    error(api.post("/experiments/create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")
    # get-by-name still finds the deleted one (there is no active one).
    found = api.ok_get("/experiments/get-by-name", {"experiment_name": name})["experiment"]
    assert (found["experiment_id"], found["lifecycle_stage"]) == (experiment_id, "deleted")
    # Renaming onto an existing name (active or deleted) is refused with a 400.
    other = api.experiment("other")
    response = api.post("/experiments/update", {"experiment_id": other, "new_name": name})
    assert response.status_code == 400
    assert response.json()["error_code"] in ("RESOURCE_ALREADY_EXISTS", "BAD_REQUEST")


def test_delete_and_restore_experiment(api: Api) -> None:
    experiment_id = api.experiment("del")
    run_ids = [api.run_id(experiment_id) for _ in range(2)]
    assert api.ok_post("/experiments/delete", {"experiment_id": experiment_id}) == {}
    experiment = api.get_experiment(experiment_id)  # deleted ones are still readable
    assert experiment["lifecycle_stage"] == "deleted"
    assert experiment["last_update_time"] >= experiment["creation_time"]
    assert {api.get_run(r)["info"]["lifecycle_stage"] for r in run_ids} == {"deleted"}
    # delete of a deleted experiment, restore of an active one: RESOURCE_DOES_NOT_EXIST
    again = api.post("/experiments/delete", {"experiment_id": experiment_id})
    error(again, 404, "RESOURCE_DOES_NOT_EXIST")
    # a run cannot be created in a deleted experiment
    invalid(api.post("/runs/create", {"experiment_id": experiment_id}))
    assert api.ok_post("/experiments/restore", {"experiment_id": experiment_id}) == {}
    assert api.get_experiment(experiment_id)["lifecycle_stage"] == "active"
    assert {api.get_run(r)["info"]["lifecycle_stage"] for r in run_ids} == {"active"}
    error(
        api.post("/experiments/restore", {"experiment_id": experiment_id}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    for path in ("/experiments/delete", "/experiments/restore"):
        error(api.post(path, {"experiment_id": "987654321"}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_restore_keeps_runs_deleted_before(api: Api) -> None:
    """Restoring an experiment brings back the runs its deletion took with it, not runs that
    had been deleted on their own before (even within the same millisecond)."""
    experiment_id = api.experiment("revive")
    kept, removed = api.run_id(experiment_id), api.run_id(experiment_id)
    api.ok_post("/runs/delete", {"run_id": removed})
    api.ok_post("/experiments/delete", {"experiment_id": experiment_id})
    api.ok_post("/experiments/restore", {"experiment_id": experiment_id})
    assert api.get_run(kept)["info"]["lifecycle_stage"] == "active"
    assert api.get_run(removed)["info"]["lifecycle_stage"] == "deleted"


def test_rename_experiment(api: Api) -> None:
    experiment_id = api.experiment("rename")
    new_name = unique("renamed")
    body = {"experiment_id": experiment_id, "new_name": new_name}
    assert api.ok_post("/experiments/update", body) == {}
    assert api.get_experiment(experiment_id)["name"] == new_name
    camel = {"experimentId": experiment_id, "newName": new_name + "-2"}
    api.ok_post("/experiments/update", camel)
    assert api.get_experiment(experiment_id)["name"] == new_name + "-2"
    error(
        api.post("/experiments/update", {"experiment_id": "987654321", "new_name": unique()}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_experiment_tags(api: Api) -> None:
    experiment_id = api.experiment("etag")
    path = "/experiments/set-experiment-tag"
    assert api.ok_post(path, {"experiment_id": experiment_id, "key": "a", "value": "1"}) == {}
    api.ok_post(path, {"experiment_id": experiment_id, "key": "a", "value": "2"})  # upsert
    api.ok_post(path, {"experiment_id": experiment_id, "key": "b"})  # value defaults to ""
    assert tags_of(api.get_experiment(experiment_id)) == {"a": "2", "b": ""}
    delete = "/experiments/delete-experiment-tag"
    assert api.ok_post(delete, {"experiment_id": experiment_id, "key": "a"}) == {}
    assert tags_of(api.get_experiment(experiment_id)) == {"b": ""}
    error(
        api.post(delete, {"experiment_id": experiment_id, "key": "a"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        api.post(path, {"experiment_id": "987654321", "key": "a"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )


def test_search_experiments_paging(api: Api) -> None:
    stem = unique("page")
    ids = [
        api.ok_post("/experiments/create", {"name": f"{stem}-{i}"})["experiment_id"]
        for i in range(5)
    ]
    base = {"filter": f"name LIKE '{stem}-%'", "order_by": ["name ASC"]}
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        body = {**base, "max_results": 2} | ({"page_token": token} if token else {})
        page = api.ok_post("/experiments/search", body)
        seen += [e["experiment_id"] for e in page["experiments"]]
        pages += 1
        token = page.get("next_page_token")
        if token is None:
            break
        assert isinstance(token, str) and token
    assert (seen, pages) == (ids, 3)
    # A page that holds exactly the remaining rows has no token: the server looks one row ahead.
    exact = api.ok_post("/experiments/search", {**base, "max_results": 5})
    assert [e["experiment_id"] for e in exact["experiments"]] == ids
    assert "next_page_token" not in exact
    # POST and GET give the same answer.
    via_get = api.ok_get(
        "/experiments/search",
        {"filter": base["filter"], "order_by": "name ASC", "max_results": "5"},
    )
    assert via_get == exact
    # Nothing matches: {} (no empty list, no token).
    assert (
        api.ok_post("/experiments/search", {"max_results": 3, "filter": "name = 'zz-none'"}) == {}
    )


@pytest.mark.parametrize(
    "token",
    ["garbage", "!!!", base64.b64encode(b'{"offset": "x"}').decode(), "e30=", "a" * 5000, "%00"],
)
def test_malformed_page_tokens_are_400(api: Api, token: str) -> None:
    invalid(api.post("/experiments/search", {"max_results": 5, "page_token": token}))
    invalid(api.post("/runs/search", {"experiment_ids": ["0"], "page_token": token}))
    run_id = api.run_id("0")
    api.ok_post(
        "/runs/log-batch",
        {"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": t} for t in range(3)]},
    )
    invalid(
        api.get("/metrics/get-history", {"run_id": run_id, "metric_key": "m", "page_token": token})
    )


def test_search_experiments_max_results_limits(api: Api) -> None:
    for bad in (0, -1, 50001):
        invalid(api.post("/experiments/search", {"max_results": bad}), "max_results")
    invalid(api.post("/experiments/search", {}), "max_results")
    api.ok_post("/experiments/search", {"max_results": 50000, "filter": "name = 'zz-none'"})


def test_search_experiments_view_types(api: Api) -> None:
    stem = unique("view")
    live = api.ok_post("/experiments/create", {"name": f"{stem}-live"})["experiment_id"]
    gone = api.ok_post("/experiments/create", {"name": f"{stem}-gone"})["experiment_id"]
    api.ok_post("/experiments/delete", {"experiment_id": gone})

    def found(view: str | None) -> set[str]:
        body: dict[str, Any] = {"max_results": 100, "filter": f"name LIKE '{stem}-%'"}
        if view:
            body["view_type"] = view
        return {
            e["experiment_id"]
            for e in api.ok_post("/experiments/search", body).get("experiments", [])
        }

    assert found(None) == found("ACTIVE_ONLY") == {live}
    assert found("DELETED_ONLY") == {gone}
    assert found("ALL") == {live, gone}
    invalid(api.post("/experiments/search", {"max_results": 1, "view_type": "active_only"}))
    invalid(api.post("/experiments/search", {"max_results": 1, "view_type": 1}))


# -- runs (§4.2) ------------------------------------------------------------------------------


def test_create_run_shape(api: Api) -> None:
    experiment_id = api.experiment("shape")
    run = api.run(
        experiment_id,
        user_id="alice",
        start_time=1700000000000,
        tags=[{"key": "mlflow.user", "value": "alice"}, {"key": "t", "value": "v"}],
    )
    info = run["info"]
    assert info["run_id"] == info["run_uuid"]
    assert re.fullmatch(r"[0-9a-f]{32}", info["run_id"])
    assert info["experiment_id"] == experiment_id
    assert info["user_id"] == "alice"
    assert info["status"] == "RUNNING"
    assert info["lifecycle_stage"] == "active"
    assert info["start_time"] == 1700000000000
    assert "end_time" not in info
    assert info["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/{info['run_id']}/artifacts"
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags == {"mlflow.user": "alice", "t": "v", "mlflow.runName": info["run_name"]}
    assert "metrics" not in run["data"] and "params" not in run["data"]
    assert normalized(api.get_run(info["run_id"])) == normalized(run)
    # run_uuid is accepted wherever run_id is
    assert normalized(api.ok_get("/runs/get", {"run_uuid": info["run_id"]})["run"]) == normalized(
        run
    )


def test_run_name_resolution(api: Api) -> None:
    experiment_id = api.experiment("names")
    explicit = api.run(experiment_id, run_name="explicit")
    assert explicit["info"]["run_name"] == "explicit"
    assert {"key": "mlflow.runName", "value": "explicit"} in explicit["data"]["tags"]
    from_tag = api.run(experiment_id, tags=[{"key": "mlflow.runName", "value": "tagged"}])
    assert from_tag["info"]["run_name"] == "tagged"
    generated = api.run(experiment_id)["info"]["run_name"]
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{1,3}", generated), generated
    agreeing = api.run(
        experiment_id, run_name="same", tags=[{"key": "mlflow.runName", "value": "same"}]
    )
    assert agreeing["info"]["run_name"] == "same"
    conflict = api.post(
        "/runs/create",
        {
            "experiment_id": experiment_id,
            "run_name": "a",
            "tags": [{"key": "mlflow.runName", "value": "b"}],
        },
    )
    invalid(conflict, "mlflow.runName")
    # Setting the tag renames the run; renaming through update changes the tag.
    run_id = explicit["info"]["run_id"]
    api.ok_post("/runs/set-tag", {"run_id": run_id, "key": "mlflow.runName", "value": "via-tag"})
    run = api.get_run(run_id)
    assert run["info"]["run_name"] == "via-tag"
    assert tags_of(run["data"])["mlflow.runName"] == "via-tag"
    info = api.ok_post("/runs/update", {"run_id": run_id, "run_name": "via-update"})["run_info"]
    assert info["run_name"] == "via-update"
    assert tags_of(api.get_run(run_id)["data"])["mlflow.runName"] == "via-update"


def test_update_run(api: Api) -> None:
    run_id = api.run_id(api.experiment("update"), start_time=1000)
    info = api.ok_post("/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 2000})
    assert list(info) == ["run_info"]
    assert (info["run_info"]["status"], info["run_info"]["end_time"]) == ("FINISHED", 2000)
    # Status changes are unrestricted; end_time is kept when not given.
    info = api.ok_post("/runs/update", {"run_id": run_id, "status": "RUNNING"})["run_info"]
    assert (info["status"], info["end_time"]) == ("RUNNING", 2000)
    # Unknown status strings are ignored, not errors.
    info = api.ok_post("/runs/update", {"run_id": run_id, "status": "EXPLODED"})["run_info"]
    assert info["status"] == "RUNNING"
    for status in ("SCHEDULED", "FAILED", "KILLED", "FINISHED"):
        info = api.ok_post("/runs/update", {"run_uuid": run_id, "status": status})["run_info"]
        assert info["status"] == status
    assert api.get_run(run_id)["info"] == info


def test_delete_and_restore_run(api: Api) -> None:
    run_id = api.run_id(api.experiment("rdel"))
    for _ in range(2):  # idempotent
        assert api.ok_post("/runs/delete", {"run_id": run_id}) == {}
        assert api.get_run(run_id)["info"]["lifecycle_stage"] == "deleted"
    for _ in range(2):
        assert api.ok_post("/runs/restore", {"run_id": run_id}) == {}
        assert api.get_run(run_id)["info"]["lifecycle_stage"] == "active"


def test_writes_to_a_deleted_run_are_refused(api: Api) -> None:
    run_id = api.run_id(api.experiment("dead"))
    api.ok_post("/runs/set-tag", {"run_id": run_id, "key": "t", "value": "v"})
    api.ok_post("/runs/delete", {"run_id": run_id})
    metric = {"key": "m", "value": 1, "timestamp": 1}
    for path, body in [
        ("/runs/log-metric", metric),
        ("/runs/log-parameter", {"key": "p", "value": "1"}),
        ("/runs/set-tag", {"key": "t", "value": "w"}),
        ("/runs/delete-tag", {"key": "t"}),
        ("/runs/update", {"status": "FINISHED"}),
        ("/runs/log-batch", {"metrics": [metric]}),
        ("/runs/log-batch", {"params": [{"key": "p", "value": "1"}]}),
    ]:
        invalid(api.post(path, {"run_id": run_id, **body}))
    run = api.get_run(run_id)
    assert "metrics" not in run["data"] and "params" not in run["data"]
    assert tags_of(run["data"])["t"] == "v"


def test_log_metric_and_history(api: Api) -> None:
    run_id = api.run_id(api.experiment("hist"))
    points = [(5.0, 30, 0), (1.0, 10, 2), (3.0, 10, 1), (2.0, 20, 0), (-1.0, 10, 1)]
    for value, timestamp, step in points:
        body = {"run_id": run_id, "key": "loss", "value": value, "timestamp": timestamp}
        if step:
            body["step"] = step
        assert api.ok_post("/runs/log-metric", body) == {}
    history = api.history(run_id, "loss")
    assert set(history) == {"metrics"}
    got = [(p["timestamp"], p["step"], p["value"]) for p in history["metrics"]]
    assert sorted(got) == sorted((t, s, v) for v, t, s in points)
    assert all(p["key"] == "loss" for p in history["metrics"])
    # step defaults to 0 and is always emitted.
    assert {"key": "loss", "value": 5.0, "timestamp": 30, "step": 0} in history["metrics"]
    # Paging by max_results: next_page_token only while more points remain.
    first = api.history(run_id, "loss", max_results=2)
    assert len(first["metrics"]) == 2 and first["next_page_token"]
    rest: list[Any] = []
    token = first["next_page_token"]
    while token:
        page = api.history(run_id, "loss", max_results=2, page_token=token)
        rest += page["metrics"]
        token = page.get("next_page_token")
    assert first["metrics"] + rest == history["metrics"]
    assert "next_page_token" not in api.history(run_id, "loss", max_results=5)
    for bad in ("0", "-1"):
        invalid(
            api.get(
                "/metrics/get-history", {"run_id": run_id, "metric_key": "loss", "max_results": bad}
            )
        )
    # unknown key, unknown run: {} (as MLflow answers)
    assert api.history(run_id, "nope") == {}
    assert api.history(uuid.uuid4().hex, "loss") == {}


def test_history_is_ordered_by_step_then_timestamp(api: Api) -> None:
    """Spec §4.3 has MLflow's (timestamp, step, value); Cairn orders by (step, timestamp,
    value) on purpose (docs/server.md, "Differences from MLflow"): its history table is
    clustered that way, and plots read steps in order."""
    run_id = api.run_id(api.experiment("order"))
    points = [
        {"key": "o", "value": 1.0, "timestamp": 30, "step": 0},
        {"key": "o", "value": 2.0, "timestamp": 10, "step": 5},
        {"key": "o", "value": 0.5, "timestamp": 10, "step": 5},
        {"key": "o", "value": 3.0, "timestamp": 20, "step": 1},
        {"key": "o", "value": 4.0, "timestamp": 10, "step": 1},
    ]
    api.ok_post("/runs/log-batch", {"run_id": run_id, "metrics": points})
    expected = sorted(points, key=lambda p: (p["step"], p["timestamp"], p["value"]))
    assert api.history(run_id, "o")["metrics"] == expected
    first = api.history(run_id, "o", max_results=2)
    second = api.history(run_id, "o", max_results=3, page_token=first["next_page_token"])
    assert first["metrics"] + second["metrics"] == expected
    assert "next_page_token" not in second


def test_latest_metric_is_greatest_step_timestamp_value(api: Api) -> None:
    run_id = api.run_id(api.experiment("latest"))
    points = [
        {"key": "m", "value": 1.0, "timestamp": 1, "step": 2},
        {"key": "m", "value": 9.0, "timestamp": 500, "step": 1},  # later, but an earlier step
        {"key": "m", "value": 0.5, "timestamp": 1, "step": 2},  # same step/time, smaller value
        {"key": "n", "value": 7.0, "timestamp": 5, "step": 0},
        {"key": "n", "value": 6.0, "timestamp": 9, "step": 0},
    ]
    api.ok_post("/runs/log-batch", {"run_id": run_id, "metrics": points})
    latest = metrics_of(api.get_run(run_id))
    assert latest["m"] == {"key": "m", "value": 1.0, "timestamp": 1, "step": 2}
    assert latest["n"] == {"key": "n", "value": 6.0, "timestamp": 9, "step": 0}
    # An older point logged afterwards does not replace the latest.
    api.ok_post(
        "/runs/log-metric",
        {"run_id": run_id, "key": "m", "value": 100, "timestamp": 9999, "step": 0},
    )
    assert metrics_of(api.get_run(run_id))["m"]["value"] == 1.0
    api.ok_post(
        "/runs/log-metric", {"run_id": run_id, "key": "m", "value": -3, "timestamp": 0, "step": 3}
    )
    assert metrics_of(api.get_run(run_id))["m"]["value"] == -3


def test_duplicate_metric_rows_are_stored_once(api: Api) -> None:
    run_id = api.run_id(api.experiment("dup"))
    point = {"key": "d", "value": 2.0, "timestamp": 7, "step": 1}
    api.ok_post("/runs/log-metric", {"run_id": run_id, **point})
    api.ok_post("/runs/log-metric", {"run_id": run_id, **point})
    api.ok_post("/runs/log-batch", {"run_id": run_id, "metrics": [point, point]})
    assert api.history(run_id, "d")["metrics"] == [point]
    nan = {"key": "e", "value": "NaN", "timestamp": 7, "step": 1}
    api.ok_post("/runs/log-batch", {"run_id": run_id, "metrics": [nan, nan]})
    api.ok_post("/runs/log-metric", {"run_id": run_id, **nan})
    assert api.history(run_id, "e")["metrics"] == [nan]
    # A different value at the same (timestamp, step) is a second point.
    api.ok_post("/runs/log-metric", {"run_id": run_id, **point, "value": 3.0})
    assert len(api.history(run_id, "d")["metrics"]) == 2


def test_params_are_write_once(api: Api) -> None:
    run_id = api.run_id(api.experiment("params"))
    path = "/runs/log-parameter"
    assert api.ok_post(path, {"run_id": run_id, "key": "lr", "value": "0.1"}) == {}
    api.ok_post(path, {"run_id": run_id, "key": "lr", "value": "0.1"})  # same value: no-op
    invalid(api.post(path, {"run_id": run_id, "key": "lr", "value": "0.2"}), "lr")
    api.ok_post(path, {"run_uuid": run_id, "key": "empty"})  # value defaults to ""
    # ... also inside log-batch, where the whole batch is then refused.
    batch = {
        "run_id": run_id,
        "metrics": [{"key": "side", "value": 1, "timestamp": 1}],
        "params": [{"key": "new", "value": "x"}, {"key": "lr", "value": "0.3"}],
        "tags": [{"key": "side", "value": "1"}],
    }
    invalid(api.post("/runs/log-batch", batch), "lr")
    run = api.get_run(run_id)
    assert params_of(run) == {"lr": "0.1", "empty": ""}
    assert "metrics" not in run["data"]
    assert "side" not in tags_of(run["data"])
    # duplicate keys with different values within one batch
    twice = [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]
    invalid(api.post("/runs/log-batch", {"run_id": run_id, "params": twice}), "k")
    api.ok_post("/runs/log-batch", {"run_id": run_id, "params": [{"key": "lr", "value": "0.1"}]})
    assert params_of(api.get_run(run_id)) == {"lr": "0.1", "empty": ""}


def test_log_batch(api: Api) -> None:
    run_id = api.run_id(api.experiment("batch"))
    body = {
        "run_id": run_id,
        "metrics": [{"key": f"m{i % 3}", "value": i, "timestamp": i, "step": i} for i in range(30)],
        "params": [{"key": f"p{i}", "value": str(i)} for i in range(10)],
        "tags": [{"key": f"t{i}", "value": str(i)} for i in range(10)],
    }
    assert api.ok_post("/runs/log-batch", body) == {}
    run = api.get_run(run_id)
    assert params_of(run) == {f"p{i}": str(i) for i in range(10)}
    assert {k: v for k, v in tags_of(run["data"]).items() if k.startswith("t")} == {
        f"t{i}": str(i) for i in range(10)
    }
    assert {k: m["value"] for k, m in metrics_of(run).items()} == {"m0": 27, "m1": 28, "m2": 29}
    assert len(api.history(run_id, "m1")["metrics"]) == 10
    assert api.ok_post("/runs/log-batch", {"run_id": run_id}) == {}  # nothing to log


def test_log_batch_limits(api: Api) -> None:
    run_id = api.run_id(api.experiment("limits"))

    def metrics(n: int) -> list[dict[str, Any]]:
        return [{"key": "m", "value": i, "timestamp": i} for i in range(n)]

    def kvs(n: int) -> list[dict[str, str]]:
        return [{"key": f"k{i}", "value": "v"} for i in range(n)]

    api.ok_post("/runs/log-batch", {"run_id": run_id, "metrics": metrics(1000)})
    api.ok_post("/runs/log-batch", {"run_id": run_id, "params": kvs(100), "tags": kvs(100)})
    invalid(api.post("/runs/log-batch", {"run_id": run_id, "metrics": metrics(1001)}), "1000")
    invalid(api.post("/runs/log-batch", {"run_id": run_id, "params": kvs(101)}), "100")
    invalid(api.post("/runs/log-batch", {"run_id": run_id, "tags": kvs(101)}), "100")
    too_many = {"run_id": run_id, "metrics": metrics(900), "params": kvs(100), "tags": kvs(1)}
    invalid(api.post("/runs/log-batch", too_many), "1000")
    assert len(api.history(run_id, "m")["metrics"]) == 1000


def test_tags(api: Api) -> None:
    run_id = api.run_id(api.experiment("tags"))
    assert api.ok_post("/runs/set-tag", {"run_id": run_id, "key": "a", "value": "1"}) == {}
    api.ok_post("/runs/set-tag", {"run_uuid": run_id, "key": "a", "value": "2"})
    api.ok_post("/runs/set-tag", {"run_id": run_id, "key": "b"})
    tags = tags_of(api.get_run(run_id)["data"])
    assert (tags["a"], tags["b"]) == ("2", "")
    assert api.ok_post("/runs/delete-tag", {"run_id": run_id, "key": "a"}) == {}
    assert "a" not in tags_of(api.get_run(run_id)["data"])
    error(
        api.post("/runs/delete-tag", {"run_id": run_id, "key": "a"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )


def test_log_inputs_and_log_model(api: Api) -> None:
    run_id = api.run_id(api.experiment("inputs"))
    dataset = {"name": "train", "digest": "abc123", "source_type": "local", "source": "{}"}
    body = {
        "run_id": run_id,
        "datasets": [
            {"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": dataset}
        ],
    }
    assert api.ok_post("/runs/log-inputs", body) == {}
    inputs = api.get_run(run_id)["inputs"]["dataset_inputs"]
    assert len(inputs) == 1
    assert inputs[0]["dataset"]["name"] == "train"
    assert inputs[0]["dataset"]["digest"] == "abc123"
    invalid(api.post("/runs/log-inputs", {"run_id": run_id, "datasets": [{"tags": []}]}), "dataset")
    model = {
        "artifact_path": "model",
        "flavors": {"python_function": {}},
        "utc_time_created": "2024-01-01 00:00:00.000000",
        "run_id": run_id,
    }
    for _ in range(2):
        api.ok_post("/runs/log-model", {"run_id": run_id, "model_json": json.dumps(model)})
    history = json.loads(tags_of(api.get_run(run_id)["data"])["mlflow.log-model.history"])
    assert history == [model, model]
    invalid(api.post("/runs/log-model", {"run_id": run_id, "model_json": "{"}), "model_json")
    invalid(api.post("/runs/log-model", {"run_id": run_id, "model_json": "{}"}), "artifact_path")


def test_list_artifacts_of_a_new_run(api: Api) -> None:
    run = api.run(api.experiment("arts"))
    listing = api.ok_get("/artifacts/list", {"run_id": run["info"]["run_id"]})
    assert listing == {"root_uri": run["info"]["artifact_uri"]}


def test_search_runs(api: Api) -> None:
    experiment_id = api.experiment("srch")
    other = api.experiment("srch-other")
    run_ids = []
    for i in range(5):
        run_id = api.run_id(experiment_id, start_time=1000 + i, run_name=f"r{i}")
        api.ok_post(
            "/runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [{"key": "acc", "value": i / 10, "timestamp": 1}],
                "params": [{"key": "parity", "value": "even" if i % 2 == 0 else "odd"}],
            },
        )
        run_ids.append(run_id)
    api.run_id(other)
    everything = api.ok_post("/runs/search", {"experiment_ids": [experiment_id]})
    # default order: start_time DESC
    assert [r["info"]["run_id"] for r in everything["runs"]] == run_ids[::-1]
    assert "next_page_token" not in everything
    both = api.ok_post("/runs/search", {"experiment_ids": [experiment_id, other]})
    assert len(both["runs"]) == 6
    filtered = api.ok_post(
        "/runs/search",
        {
            "experiment_ids": [experiment_id],
            "filter": "params.parity = 'even' and metrics.acc > 0.1",
            "order_by": ["metrics.acc DESC"],
        },
    )
    assert [r["info"]["run_id"] for r in filtered["runs"]] == [run_ids[4], run_ids[2]]
    # search results carry latest metrics, params and tags
    found = filtered["runs"][0]
    assert metrics_of(found)["acc"]["value"] == 0.4
    assert params_of(found) == {"parity": "even"}
    # paging
    seen, token = [], None
    while True:
        body = {
            "experiment_ids": [experiment_id],
            "max_results": 2,
            "order_by": ["attributes.start_time ASC"],
        }
        if token:
            body["page_token"] = token
        page = api.ok_post("/runs/search", body)
        seen += [r["info"]["run_id"] for r in page["runs"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == run_ids
    exact = api.ok_post("/runs/search", {"experiment_ids": [experiment_id], "max_results": 5})
    assert "next_page_token" not in exact and len(exact["runs"]) == 5
    # view types
    api.ok_post("/runs/delete", {"run_id": run_ids[0]})

    def ids(view: str) -> set[str]:
        body = {"experiment_ids": [experiment_id], "run_view_type": view}
        return {r["info"]["run_id"] for r in api.ok_post("/runs/search", body).get("runs", [])}

    assert ids("ACTIVE_ONLY") == set(run_ids[1:])
    assert ids("DELETED_ONLY") == {run_ids[0]}
    assert ids("ALL") == set(run_ids)
    # no match: {}
    none = api.ok_post(
        "/runs/search", {"experiment_ids": [experiment_id], "filter": "params.parity = 'none'"}
    )
    assert none == {}
    # limits and bad input
    for bad in (0, -1, 50001):
        invalid(
            api.post("/runs/search", {"experiment_ids": [experiment_id], "max_results": bad}),
            "max_results",
        )
    api.ok_post("/runs/search", {"experiment_ids": [experiment_id], "max_results": 50000})
    invalid(api.post("/runs/search", {"experiment_ids": [experiment_id], "filter": "bogus ="}))
    invalid(api.post("/runs/search", {"experiment_ids": [experiment_id], "order_by": ["nope.x"]}))
    invalid(api.post("/runs/search", {"experiment_ids": [experiment_id], "run_view_type": "X"}))
    # search is POST only
    assert api.get("/runs/search", {"experiment_ids": experiment_id}).status_code == 405


# -- the core, through a server on each database -------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_core_flow_on_each_backend(backend: str, server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(backend_uri=database_uri(backend, tmp_path))
    api = Api(server.url)
    try:
        _core_flow(api)
    finally:
        api.close()


def _core_flow(api: Api) -> None:
    name = unique("Core")
    experiment_id = api.ok_post("/experiments/create", {"name": name})["experiment_id"]
    error(api.post("/experiments/create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")
    # Names compare exactly on every database, and case or look-alike variants of an existing
    # name are refused (test_experiment_names.py); other accented names are distinct.
    error(api.post("/experiments/create", {"name": name.lower()}), 400, "RESOURCE_ALREADY_EXISTS")
    for look_alike in (name + "\u00e9", "\u00c5" + name):
        lid = api.ok_post("/experiments/create", {"name": look_alike})["experiment_id"]
        assert api.get_experiment(lid)["name"] == look_alike
    lower = api.get("/experiments/get-by-name", {"experiment_name": name.lower()})
    error(lower, 404, "RESOURCE_DOES_NOT_EXIST")
    found = api.ok_get("/experiments/get-by-name", {"experiment_name": name})["experiment"]
    assert found["experiment_id"] == experiment_id
    emoji = unique("\U0001f9ea-experiment")
    eid = api.ok_post("/experiments/create", {"name": emoji})["experiment_id"]
    assert api.get_experiment(eid)["name"] == emoji

    run = api.run(
        experiment_id,
        run_name="core",
        start_time=2**40,
        tags=[{"key": "t", "value": "\u00fc\U0001f600"}],
    )
    run_id = run["info"]["run_id"]
    assert run["info"]["start_time"] == 2**40
    batch = {
        "run_id": run_id,
        "metrics": [
            {"key": "m", "value": 1.0, "timestamp": 1, "step": 2},
            {"key": "m", "value": 9.0, "timestamp": 500, "step": 1},
            {"key": "m", "value": 0.5, "timestamp": 1, "step": 2},
            {"key": "m", "value": 0.5, "timestamp": 1, "step": 2},
            {"key": "nan", "value": "NaN", "timestamp": 1},
            {"key": "inf", "value": "Infinity", "timestamp": 1},
            {"key": "ninf", "value": "-Infinity", "timestamp": 1},
            {"key": "tiny", "value": 5e-324, "timestamp": 1},
        ],
        "params": [{"key": "lr", "value": "0.1"}, {"key": "long", "value": "x" * 6000}],
        "tags": [{"key": "mlflow.note.content", "value": "y" * 8000}],
    }
    api.ok_post("/runs/log-batch", batch)
    invalid(api.post("/runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.2"}), "lr")
    got = api.get_run(run_id)
    latest = metrics_of(got)
    assert latest["m"] == {"key": "m", "value": 1.0, "timestamp": 1, "step": 2}
    assert latest["nan"]["value"] == "NaN"
    assert latest["inf"]["value"] in ("Infinity", DBL_MAX)
    assert latest["ninf"]["value"] in ("-Infinity", -DBL_MAX)
    assert latest["tiny"]["value"] == 5e-324
    assert params_of(got) == {"lr": "0.1", "long": "x" * 6000}
    tags = tags_of(got["data"])
    assert tags["t"] == "\u00fc\U0001f600"
    assert tags["mlflow.note.content"] == "y" * 8000
    history = api.history(run_id, "m")["metrics"]
    assert sorted((p["timestamp"], p["step"], p["value"]) for p in history) == [
        (1, 2, 0.5),
        (1, 2, 1.0),
        (500, 1, 9.0),
    ]
    assert api.history(run_id, "nan")["metrics"][0]["value"] == "NaN"

    others = [api.run_id(experiment_id, start_time=i) for i in range(3)]
    for i, other in enumerate(others):
        api.ok_post(
            "/runs/log-metric", {"run_id": other, "key": "m", "value": 10 + i, "timestamp": 1}
        )
    search = {
        "experiment_ids": [experiment_id],
        "filter": "metrics.m >= 1",
        "order_by": ["metrics.m DESC"],
        "max_results": 3,
    }
    first = api.ok_post("/runs/search", search)
    assert [r["info"]["run_id"] for r in first["runs"]] == others[::-1]
    second = api.ok_post("/runs/search", {**search, "page_token": first["next_page_token"]})
    assert [r["info"]["run_id"] for r in second["runs"]] == [run_id]
    assert "next_page_token" not in second
    invalid(api.post("/runs/search", {**search, "page_token": "not-a-token"}))

    api.ok_post("/experiments/delete", {"experiment_id": experiment_id})
    assert api.get_run(run_id)["info"]["lifecycle_stage"] == "deleted"
    invalid(api.post("/runs/set-tag", {"run_id": run_id, "key": "x", "value": "y"}))
    error(api.post("/experiments/create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")
    api.ok_post("/experiments/restore", {"experiment_id": experiment_id})
    assert api.get_run(run_id)["info"]["lifecycle_stage"] == "active"
    assert api.history(uuid.uuid4().hex, "m") == {}
