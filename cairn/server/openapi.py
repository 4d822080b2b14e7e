"""The OpenAPI 3.1 document, generated from the endpoint table and the proxy's routes.

Generated rather than hand-written so it cannot drift from what the server parses; it is what
schemathesis fuzzes in CI.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cairn.server import proxy
from cairn.server.endpoints import Endpoint, all_endpoints
from cairn.server.messages import Field, Kind, Message

ERROR = {
    "type": "object",
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["error_code", "message"],
}
ERROR_RESPONSES = {
    "400": {"description": "Invalid request", "content": {"application/json": {"schema": ERROR}}},
    "404": {"description": "Not found", "content": {"application/json": {"schema": ERROR}}},
}


def openapi_route() -> Route:
    """`GET /openapi.json`: the document, built once on first request."""
    return Route("/openapi.json", serve_openapi, methods=["GET"])


async def serve_openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The document (the same for every app: it describes the endpoint table)."""
    from cairn.version import __version__

    paths: dict[str, dict[str, Any]] = {
        "/health": {"get": _plain("Liveness check; answers OK")},
        "/version": {"get": _plain("The server's version")},
    }
    for endpoint in all_endpoints():
        # Several endpoints may share a path with different methods (registered-models/alias).
        operations = paths.setdefault(endpoint.api_path, {})
        operations.update({m.lower(): operation(endpoint, m) for m in endpoint.methods})
    paths.update(proxy.openapi_paths())
    from cairn.server.auth.routes import openapi_paths as account_paths

    paths.update(account_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cairn tracking server",
            "version": __version__,
            "description": "MLflow-compatible tracking REST API served by Cairn.",
        },
        "paths": paths,
    }


def operation(endpoint: Endpoint, method: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": f"{method.lower()}_{_operation_name(endpoint.path)}",
        "responses": {
            "200": {
                "description": "Success",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {name: {} for name in endpoint.response},
                        }
                    }
                },
            },
            **ERROR_RESPONSES,
        },
    }
    in_path = _path_parameters(endpoint.path)
    if in_path:
        op["parameters"] = in_path
    if method == "GET":
        op["parameters"] = in_path + [_query_parameter(f) for f in endpoint.request]
    else:
        op["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": message_schema(endpoint.request)}},
        }
    return op


def message_schema(message: Message) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {f.name: field_schema(f) for f in message},
    }
    required = [f.name for f in message if f.required]
    if required:
        schema["required"] = required
    return schema


def field_schema(f: Field) -> dict[str, Any]:
    item = _scalar_schema(f)
    if f.doc:
        item = {**item, "description": f.doc}
    return {"type": "array", "items": item} if f.repeated else item


def _scalar_schema(f: Field) -> dict[str, Any]:
    if f.kind is Kind.MESSAGE:
        return message_schema(f.fields)
    if f.kind is Kind.ENUM:
        return {"type": "string", "enum": list(f.enum)}
    if f.kind is Kind.INT64:
        return {"type": "integer", "format": "int64"}
    if f.kind is Kind.INT32:
        return {"type": "integer", "format": "int32"}
    if f.kind is Kind.DOUBLE:
        return {"type": "number"}
    if f.kind is Kind.BOOL:
        return {"type": "boolean"}
    return {"type": "string"}


def _query_parameter(f: Field) -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": f.name,
        "in": "query",
        "required": f.required,
        "schema": field_schema(f),
    }
    if f.repeated:
        param["explode"] = True
    return param


def _path_parameters(path: str) -> list[dict[str, Any]]:
    """The `{name}` placeholders of a path (MLflow 3 routes carry ids there)."""
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", path)
    ]


def _operation_name(path: str) -> str:
    return re.sub(r"[{}]", "", path.strip("/").replace("/", "_"))


def _plain(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "responses": {"200": {"description": "OK", "content": {"text/plain": {}}}},
    }
