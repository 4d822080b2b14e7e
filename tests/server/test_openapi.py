"""`/openapi.json`: a valid OpenAPI 3.1 document covering every API route, and a bounded
schemathesis run against a real server that must never provoke a 5xx."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.definitions import OPENAPI_31
from starlette.routing import Route

from cairn.server.app import create_app
from cairn.server.config import ServerConfig
from cairn.server.openapi import openapi_document

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def document(live_server: Any) -> dict[str, Any]:
    response = httpx.get(live_server.url + "/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    validator = jsonschema_rs.Draft202012Validator(OPENAPI_31)
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, errors[:10]
    operation_ids = [
        op["operationId"]
        for item in document["paths"].values()
        for method, op in item.items()
        if method in HTTP_METHODS and "operationId" in op
    ]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


def test_every_operation_documents_its_errors(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            assert "200" in op["responses"], (method, path)
            assert "400" in op["responses"], (method, path)
            error = op["responses"]["400"]["content"]["application/json"]["schema"]
            assert set(error["required"]) == {"error_code", "message"}


def test_request_schemas_match_the_protocol(document: dict[str, Any]) -> None:
    paths = document["paths"]
    create = paths["/api/2.0/mlflow/experiments/create"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["name"]
    assert schema["properties"]["tags"]["type"] == "array"
    metric = paths["/api/2.0/mlflow/runs/log-metric"]["post"]["requestBody"]["content"]
    properties = metric["application/json"]["schema"]["properties"]
    assert properties["timestamp"] == {"type": "integer", "format": "int64"}
    assert properties["value"]["type"] == "number"
    search = paths["/api/2.0/mlflow/experiments/search"]
    assert set(search) >= {"get", "post"}
    by_name = {p["name"]: p for p in search["get"]["parameters"]}
    assert by_name["max_results"]["required"] is True
    assert by_name["order_by"]["schema"]["type"] == "array"
    assert by_name["view_type"]["schema"]["enum"] == ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]
    assert paths["/api/3.0/mlflow/server-info"]["get"]
    assert set(paths) >= {"/health", "/version"}


def _openapi_path(route_path: str) -> str:
    """Starlette's `{name:converter}` placeholders as OpenAPI's `{name}`."""
    return re.sub(r"\{(\w+)(?::\w+)?\}", r"{\1}", route_path)


def test_document_lists_every_api_route(tmp_path: Path, document: dict[str, Any]) -> None:
    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path / 'routes.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    ).resolved()
    app = create_app(config)
    served: dict[str, set[str]] = {}
    for route in app.routes:
        assert isinstance(route, Route), route
        methods = {m.lower() for m in (route.methods or ())} - {"head"}
        served.setdefault(_openapi_path(route.path), set()).update(methods)
    api_routes = {p: m for p, m in served.items() if p.startswith("/api/")}
    assert len(api_routes) >= 27
    documented = document["paths"]
    for path, methods in api_routes.items():
        assert path in documented, f"{path} is served but not documented"
        assert methods == set(documented[path]) & HTTP_METHODS, path
    for path in documented:
        assert path in served, f"{path} is documented but not served"
    # Every /api route is mirrored under /ajax-api with the same methods, and vice versa.
    ajax = {
        p.replace("/ajax-api/", "/api/", 1): m
        for p, m in served.items()
        if p.startswith("/ajax-api/")
    }
    assert ajax == api_routes
    # The document served is the one the endpoint table builds.
    assert openapi_document() == document


# -- schemathesis ------------------------------------------------------------------------------

EXAMPLES_PER_OPERATION = 12


def test_schemathesis_finds_no_server_errors(server_factory: Any) -> None:
    """Positive and negative cases for every operation; any 5xx is a server bug.

    Failures are collected over all operations and reported with their curl commands, so
    one run shows every broken operation. Derandomized, so CI runs are reproducible.
    """
    server = server_factory()
    # A few real ids so generated requests also reach existing resources.
    with httpx.Client(base_url=server.url + "/api/2.0/mlflow") as client:
        experiment_id = client.post("/experiments/create", json={"name": "fuzz"}).json()[
            "experiment_id"
        ]
        client.post("/runs/create", json={"experiment_id": experiment_id})
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, server.url, failures, statuses)
    print(f"schemathesis: {operations} operations, responses by status: {dict(statuses)}")
    assert operations >= 27
    assert statuses[200] > 0 and statuses[400] > 0
    assert not failures, "server errors:\n" + "\n".join(sorted(set(failures))[:30])


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    failures: list[str],
    statuses: Counter[int],
) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, timeout=30)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(
                f"{response.status_code} {case.as_curl_command()} -> {response.text[:200]}"
            )

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Negative mode has nothing to break in an operation that takes no input.
        assert mode is GenerationMode.NEGATIVE
