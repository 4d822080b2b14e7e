"""The model registry REST API of a real `cairn server`, request by request.

Checks the wire format of mlflow-rest-api.md §5, §7, §8 and §10 (registry): methods
(PATCH and DELETE with JSON bodies, GET with query strings), omitted fields, the shapes of
`latest_versions` and aliases, page tokens, limits and error codes, and that version sources
never reach outside the server's artifact store (security-corpus.md §1).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, database_uri

API = "/api/2.0/mlflow"


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:12]}"


class Api:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)

    def call(self, method: str, path: str, body: Any = None, prefix: str = API) -> httpx.Response:
        if method == "GET":
            return self.http.get(prefix + path, params=body)
        return self.http.request(method, prefix + path, json=body)

    def ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.call(method, path, body)
        assert response.status_code == 200, (method, path, response.text)
        result = response.json()
        assert isinstance(result, dict)
        return result

    def error(self, method: str, path: str, body: Any, status: int, code: str) -> str:
        response = self.call(method, path, body)
        assert response.status_code == status, response.text
        assert response.json()["error_code"] == code
        return str(response.json()["message"])


@pytest.fixture
def api(live_server: Any) -> Iterator[Api]:
    client = Api(live_server.url)
    yield client
    client.http.close()


@pytest.fixture
def run_source(api: Api, tmp_path: Path) -> tuple[str, str]:
    """(run_id, artifact URI of its `model/` directory), uploaded through the proxy."""
    experiment_id = api.ok("POST", "/experiments/create", {"name": unique("reg-exp")})[
        "experiment_id"
    ]
    run = api.ok("POST", "/runs/create", {"experiment_id": experiment_id})["run"]["info"]
    root = run["artifact_uri"].split(":", 1)[1].lstrip("/")
    for name, body in (("MLmodel", b"flavors: {}\n"), ("data/w.bin", b"\x00" * 10)):
        put = api.http.put(f"/api/2.0/mlflow-artifacts/artifacts/{root}/model/{name}", content=body)
        assert put.status_code == 200, put.text
    return run["run_id"], f"{run['artifact_uri']}/model"


def test_registered_model_shapes_and_omitted_fields(api: Api) -> None:
    name = unique("shape")
    model = api.ok("POST", "/registered-models/create", {"name": name})["registered_model"]
    assert set(model) == {"name", "creation_timestamp", "last_updated_timestamp"}
    assert isinstance(model["creation_timestamp"], int)
    tagged = api.ok(
        "POST",
        "/registered-models/create",
        {"name": name + "-t", "tags": [{"key": "k", "value": "v"}], "description": "d"},
    )["registered_model"]
    assert tagged["tags"] == [{"key": "k", "value": "v"}] and tagged["description"] == "d"
    fetched = api.ok("GET", "/registered-models/get", {"name": name + "-t"})["registered_model"]
    assert fetched == tagged
    updated = api.ok("PATCH", "/registered-models/update", {"name": name, "description": "x"})
    assert updated["registered_model"]["description"] == "x"
    assert api.ok("DELETE", "/registered-models/delete-tag", {"name": name, "key": "no"}) == {}
    assert api.ok("DELETE", "/registered-models/delete", {"name": name}) == {}
    api.error("GET", "/registered-models/get", {"name": name}, 404, "RESOURCE_DOES_NOT_EXIST")
    api.error(
        "POST", "/registered-models/create", {"name": name + "-t"}, 400, "RESOURCE_ALREADY_EXISTS"
    )
    api.error("POST", "/registered-models/create", {}, 400, "INVALID_PARAMETER_VALUE")
    api.error("POST", "/registered-models/create", {"name": "a/b"}, 400, "INVALID_PARAMETER_VALUE")
    # Every route is mirrored under /ajax-api, the web UI's prefix.
    mirrored = api.call(
        "GET", "/registered-models/get", {"name": name + "-t"}, "/ajax-api/2.0/mlflow"
    )
    assert mirrored.status_code == 200


def test_versions_latest_versions_and_aliases_on_the_wire(
    api: Api, run_source: tuple[str, str], live_server: Any
) -> None:
    run_id, source = run_source
    name = unique("wire")
    api.ok("POST", "/registered-models/create", {"name": name})
    created = api.ok(
        "POST",
        "/model-versions/create",
        {"name": name, "source": source, "run_id": run_id, "tags": [{"key": "a", "value": "1"}]},
    )["model_version"]
    assert created["version"] == "1" and created["status"] == "READY"
    assert created["current_stage"] == "None" and created["source"] == source
    assert created["run_id"] == run_id and created["tags"] == [{"key": "a", "value": "1"}]
    assert "storage_location" not in created and "aliases" not in created
    api.ok("POST", "/model-versions/create", {"name": name, "source": f"runs:/{run_id}/model"})

    uri = api.ok("GET", "/model-versions/get-download-uri", {"name": name, "version": "1"})
    assert uri["artifact_uri"].startswith("mlflow-artifacts:/models/")
    copied = live_server.artifacts_destination / uri["artifact_uri"].split(":/", 1)[1]
    assert (copied / "MLmodel").read_bytes() == b"flavors: {}\n"
    assert (copied / "data" / "w.bin").stat().st_size == 10

    moved = api.ok(
        "POST",
        "/model-versions/transition-stage",
        {"name": name, "version": "1", "stage": "production", "archive_existing_versions": False},
    )["model_version"]
    assert moved["current_stage"] == "Production"
    api.ok("POST", "/registered-models/alias", {"name": name, "alias": "champion", "version": "1"})
    by_alias = api.ok("GET", "/registered-models/alias", {"name": name, "alias": "champion"})
    assert by_alias["model_version"]["aliases"] == ["champion"]
    model = api.ok("GET", "/registered-models/get", {"name": name})["registered_model"]
    assert model["aliases"] == [{"alias": "champion", "version": "1"}]
    assert sorted((v["current_stage"], v["version"]) for v in model["latest_versions"]) == [
        ("None", "2"),
        ("Production", "1"),
    ]
    for method in ("GET", "POST"):
        latest = api.ok(
            method,
            "/registered-models/get-latest-versions",
            {"name": name, "stages": ["Production"]},
        )
        assert [v["version"] for v in latest["model_versions"]] == ["1"]
    assert (
        api.ok(
            "POST", "/registered-models/get-latest-versions", {"name": name, "stages": ["Archived"]}
        )
        == {}
    )

    api.ok("DELETE", "/registered-models/alias", {"name": name, "alias": "champion"})
    api.ok("DELETE", "/registered-models/alias", {"name": name, "alias": "champion"})
    api.error(
        "GET",
        "/registered-models/alias",
        {"name": name, "alias": "champion"},
        400,
        "INVALID_PARAMETER_VALUE",
    )
    api.error(
        "POST",
        "/registered-models/alias",
        {"name": name, "alias": "latest", "version": "1"},
        400,
        "INVALID_PARAMETER_VALUE",
    )
    api.error(
        "GET", "/model-versions/get", {"name": name, "version": "x"}, 400, "INVALID_PARAMETER_VALUE"
    )
    api.error(
        "GET", "/model-versions/get", {"name": name, "version": "9"}, 404, "RESOURCE_DOES_NOT_EXIST"
    )
    api.error(
        "POST",
        "/model-versions/transition-stage",
        {"name": name, "version": "1", "stage": "Live"},
        400,
        "INVALID_PARAMETER_VALUE",
    )
    api.error(
        "POST",
        "/model-versions/transition-stage",
        {"name": name, "version": "1", "stage": "Staging", "archive_existing_versions": "yes"},
        400,
        "INVALID_PARAMETER_VALUE",
    )

    api.ok("DELETE", "/model-versions/delete", {"name": name, "version": "1"})
    assert not copied.exists()  # the registry's copy goes with the version
    api.ok("DELETE", "/registered-models/delete", {"name": name})


def test_search_limits_and_page_tokens(api: Api, run_source: tuple[str, str]) -> None:
    run_id, source = run_source
    prefix = unique("page")
    for i in range(3):
        api.ok("POST", "/registered-models/create", {"name": f"{prefix}-{i}"})
        api.ok(
            "POST",
            "/model-versions/create",
            {"name": f"{prefix}-{i}", "source": source, "run_id": run_id},
        )
    query = {"filter": f"name LIKE '{prefix}-%'", "max_results": 2}
    first = api.ok("GET", "/registered-models/search", query)
    assert [m["name"] for m in first["registered_models"]] == [f"{prefix}-0", f"{prefix}-1"]
    assert first["registered_models"][0]["latest_versions"][0]["version"] == "1"
    second = api.ok(
        "GET", "/registered-models/search", {**query, "page_token": first["next_page_token"]}
    )
    assert [m["name"] for m in second["registered_models"]] == [f"{prefix}-2"]
    assert "next_page_token" not in second
    versions = api.ok("GET", "/model-versions/search", {"filter": f"run_id = '{run_id}'"})
    assert len(versions["model_versions"]) == 3
    api.error(
        "GET", "/registered-models/search", {"max_results": 1001}, 400, "INVALID_PARAMETER_VALUE"
    )
    api.error(
        "GET", "/model-versions/search", {"max_results": 200001}, 400, "INVALID_PARAMETER_VALUE"
    )
    api.error(
        "GET",
        "/registered-models/search",
        {"page_token": "garbage"},
        400,
        "INVALID_PARAMETER_VALUE",
    )
    api.error(
        "GET", "/model-versions/search", {"filter": "name = 'a' OR"}, 400, "INVALID_PARAMETER_VALUE"
    )
    empty = api.ok("GET", "/model-versions/search", {"filter": f"name = '{prefix}-none'"})
    assert empty == {}


@pytest.mark.parametrize(
    "source",
    [
        "mlflow-artifacts:/../../etc",
        "mlflow-artifacts:/0/%2e%2e/%2e%2e/%2e%2e/etc",
        "mlflow-artifacts:/%252e%252e%252f/etc",
        "mlflow-artifacts:/0/x%00",
        "mlflow-artifacts:/0/#/../../x",
        "/etc",
        "/etc/passwd",
        "C:\\Windows",
        "//host/share",
        "file:///etc/",
        "file:/etc",
        "file://evil/x",
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:1/api/2.0/mlflow-artifacts/artifacts/../../etc",
        "https://example.com/model",
        "relative/path",
        "runs:/{run}/../../../etc",
        "runs:/{run}/%2e%2e/%2e%2e",
        "{destination}/../outside",
        "{tmp}",
    ],
)
def test_sources_outside_the_artifact_store_are_refused(
    api: Api, run_source: tuple[str, str], live_server: Any, tmp_path: Path, source: str
) -> None:
    run_id, _ = run_source
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "MLmodel").write_text("secret")
    name = unique("refused")
    api.ok("POST", "/registered-models/create", {"name": name})
    text = source.format(run=run_id, destination=live_server.artifacts_destination, tmp=outside)
    api.error(
        "POST",
        "/model-versions/create",
        {"name": name, "source": text},
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert api.ok("GET", "/model-versions/search", {"filter": f"name = '{name}'"}) == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_registry_flow_through_a_server_on_each_backend(
    backend: str, server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory(backend_uri=database_uri(backend, tmp_path / "db"))
    api = Api(server.url)
    try:
        experiment_id = api.ok("POST", "/experiments/create", {"name": unique("flow")})[
            "experiment_id"
        ]
        run = api.ok("POST", "/runs/create", {"experiment_id": experiment_id})["run"]["info"]
        root = run["artifact_uri"].split(":", 1)[1].lstrip("/")
        put = api.http.put(f"/api/2.0/mlflow-artifacts/artifacts/{root}/m/MLmodel", content=b"x")
        assert put.status_code == 200
        name = "Flow \u00e9 model"
        api.ok("POST", "/registered-models/create", {"name": name})
        api.error(
            "POST",
            "/registered-models/create",
            {"name": name.upper()},
            400,
            "RESOURCE_ALREADY_EXISTS",
        )
        for _ in range(2):
            api.ok(
                "POST",
                "/model-versions/create",
                {"name": name, "source": f"runs:/{run['run_id']}/m"},
            )
        api.ok("POST", "/registered-models/alias", {"name": name, "alias": "prod", "version": "2"})
        api.ok(
            "POST",
            "/model-versions/set-tag",
            {"name": name, "version": "1", "key": "k", "value": "\u00fc" * 70_000},
        )
        found = api.ok(
            "GET",
            "/model-versions/search",
            {"filter": f"name = '{name}' AND tags.k LIKE '\u00fc%'"},
        )
        assert [v["version"] for v in found["model_versions"]] == ["1"]
        renamed = api.ok("POST", "/registered-models/rename", {"name": name, "new_name": "Renamed"})
        assert renamed["registered_model"]["aliases"] == [{"alias": "prod", "version": "2"}]
        api.ok("DELETE", "/registered-models/delete", {"name": "Renamed"})
        assert api.ok("GET", "/registered-models/search", {}) == {}
    finally:
        api.http.close()


@pytest.mark.parametrize(
    "name",
    ["a%2Fb", "a%00b", "trailing ", "a/b", "a:b", "x" * 257, "tab\tname"],
)
def test_bad_model_names_are_refused(api: Api, name: str) -> None:
    api.error("POST", "/registered-models/create", {"name": name}, 400, "INVALID_PARAMETER_VALUE")


def test_look_alike_names_are_one_name(api: Api) -> None:
    name = unique("Lookalike")
    api.ok("POST", "/registered-models/create", {"name": name})
    for variant in (name.upper(), name.replace("o", "\u043e")):
        message = api.error(
            "POST", "/registered-models/create", {"name": variant}, 400, "RESOURCE_ALREADY_EXISTS"
        )
        assert "too similar" in message


def test_the_registry_copies_are_read_only_to_clients(
    api: Api, run_source: tuple[str, str]
) -> None:
    _, source = run_source
    name = unique("readonly")
    api.ok("POST", "/registered-models/create", {"name": name})
    api.ok("POST", "/model-versions/create", {"name": name, "source": source})
    uri = api.ok("GET", "/model-versions/get-download-uri", {"name": name, "version": "1"})
    copy = uri["artifact_uri"].split(":/", 1)[1]
    proxy = "/api/2.0/mlflow-artifacts/artifacts"
    assert api.http.get(f"{proxy}/{copy}/MLmodel").content == b"flavors: {}\n"
    for response in (
        api.http.put(f"{proxy}/{copy}/MLmodel", content=b"tampered"),
        api.http.put(f"{proxy}/models/new/file", content=b"x"),
        api.http.delete(f"{proxy}/{copy}/MLmodel"),
        api.http.delete(f"{proxy}/models"),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert api.http.get(f"{proxy}/{copy}/MLmodel").content == b"flavors: {}\n"
    api.error(
        "POST",
        "/experiments/create",
        {"name": unique("sneaky"), "artifact_location": "mlflow-artifacts:/models/x"},
        400,
        "INVALID_PARAMETER_VALUE",
    )
