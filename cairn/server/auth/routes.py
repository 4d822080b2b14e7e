"""The account routes: the caller's own identity and API tokens, and the admins' user list.

    GET  /api/2.0/cairn/users/current      who am I
    POST /api/2.0/cairn/tokens/create      {"name", "expires_in": "30d"} -> the token, once
    GET  /api/2.0/cairn/tokens/list        my tokens (never their secrets)
    POST /api/2.0/cairn/tokens/revoke      {"token_id"}
    GET  /api/2.0/cairn/users/list         every user (admins only)

and MLflow's basic-auth permission routes, same names and shapes (MLflow's `AuthServiceClient`
works against them); MANAGE on the experiment or admin needed, checked by the gate's
authorizer like every experiment route:

    POST   /api/2.0/mlflow/experiments/permissions/create   {experiment_id, username, permission}
    GET    /api/2.0/mlflow/experiments/permissions/get      ?experiment_id&username
    PATCH  /api/2.0/mlflow/experiments/permissions/update   {experiment_id, username, permission}
    DELETE /api/2.0/mlflow/experiments/permissions/delete   {experiment_id, username}

They exist whether or not authentication is on (so the route table is the same); without it
there is no caller to speak for, and they answer 400.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cairn.auth.permissions import Permission, parse_resource_id
from cairn.auth.users import Identity
from cairn.exceptions import BadRequest, CairnException, InvalidParameterValue
from cairn.server import wire
from cairn.server.app import AUTHORIZE
from cairn.server.auth.gate import FIELDS, IDENTITY, Security
from cairn.server.errors import error_response

Handler = Callable[[Security, Identity, dict[str, Any]], dict[str, Any]]


def current_user(security: Security, identity: Identity, fields: dict[str, Any]) -> dict[str, Any]:
    return {"user": {"username": identity.username, "is_admin": identity.is_admin}}


def create_token(security: Security, identity: Identity, fields: dict[str, Any]) -> dict[str, Any]:
    name = fields.get("name", "")
    expires_in = fields.get("expires_in", "30d")
    if not isinstance(name, str) or not isinstance(expires_in, str):
        raise InvalidParameterValue("'name' and 'expires_in' must be strings")
    token = security.users.create_token(identity.username, name, expires_in)
    return {"token": token.to_dict()}


def list_tokens(security: Security, identity: Identity, fields: dict[str, Any]) -> dict[str, Any]:
    return {"tokens": [t.to_dict() for t in security.users.list_tokens(identity.username)]}


def revoke_token(security: Security, identity: Identity, fields: dict[str, Any]) -> dict[str, Any]:
    token_id = fields.get("token_id")
    if isinstance(token_id, str) and token_id.isdigit():
        token_id = int(token_id)
    if not isinstance(token_id, int) or isinstance(token_id, bool):
        raise InvalidParameterValue("'token_id' must be a token's id (an integer)")
    security.users.revoke_token(token_id, identity.username)
    security.cache.clear()  # this process stops accepting it at once
    return {}


def list_users(security: Security, identity: Identity, fields: dict[str, Any]) -> dict[str, Any]:
    return {"users": [u.to_dict() for u in security.users.list_users()]}


def _grant_fields(fields: dict[str, Any]) -> tuple[int, str]:
    username = fields.get("username")
    if not isinstance(username, str) or not username:
        raise InvalidParameterValue("'username' is required")
    return parse_resource_id(fields.get("experiment_id")), username


def _permission(fields: dict[str, Any]) -> Permission:
    return Permission.parse(fields.get("permission"))


def create_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    experiment_id, username = _grant_fields(fields)
    grant = security.guard.store.grant(experiment_id, username, _permission(fields), replace=False)
    security.guard.forget()
    return {"experiment_permission": grant.to_dict()}


def get_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    experiment_id, username = _grant_fields(fields)
    return {"experiment_permission": security.guard.store.get(experiment_id, username).to_dict()}


def update_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    experiment_id, username = _grant_fields(fields)
    security.guard.store.get(experiment_id, username)  # MLflow: updating needs a row
    security.guard.store.grant(experiment_id, username, _permission(fields))
    security.guard.forget()
    return {}


def delete_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    experiment_id, username = _grant_fields(fields)
    security.guard.store.revoke(experiment_id, username)
    security.guard.forget()
    return {}


def _endpoint(handler: Handler, security: Security) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        identity = request.scope.get(IDENTITY)
        try:
            if not isinstance(identity, Identity):
                raise BadRequest(
                    "Authentication is not enabled on this server (cairn server --auth)"
                )
            fields: dict[str, Any] = dict(request.query_params)
            if request.method != "GET":
                body = await request.body()
                if body.strip():
                    decoded = wire.loads(body)
                    if not isinstance(decoded, dict):
                        raise InvalidParameterValue("The request body must be a JSON object")
                    fields.update(decoded)
            if FIELDS in request.scope:
                request.scope[FIELDS] = fields
            authorize = request.scope.get(AUTHORIZE)
            if authorize is not None:  # MANAGE on the experiment (see auth.permissions)
                await run_in_threadpool(authorize, fields)
            result = await run_in_threadpool(handler, security, identity, fields)
        except CairnException as exc:
            return error_response(exc.http_status, exc.error_code, exc.message)
        return Response(wire.dumps(result), media_type="application/json")

    handle.__name__ = handler.__name__
    return handle


_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/cairn/users/current", current_user),
    ("POST", "/cairn/tokens/create", create_token),
    ("GET", "/cairn/tokens/list", list_tokens),
    ("POST", "/cairn/tokens/revoke", revoke_token),
    ("GET", "/cairn/users/list", list_users),
    ("POST", "/mlflow/experiments/permissions/create", create_permission),
    ("GET", "/mlflow/experiments/permissions/get", get_permission),
    ("PATCH", "/mlflow/experiments/permissions/update", update_permission),
    ("DELETE", "/mlflow/experiments/permissions/delete", delete_permission),
)


def account_routes(security: Security) -> list[BaseRoute]:
    found: list[BaseRoute] = []
    for prefix in ("/api/2.0", "/ajax-api/2.0"):
        for method, path, handler in _ROUTES:
            found.append(Route(prefix + path, _endpoint(handler, security), methods=[method]))
    return found


_REQUESTS: dict[str, dict[str, Any]] = {
    "/cairn/tokens/create": {
        "name": {"type": "string", "description": "What the token is for"},
        "expires_in": {"type": "string", "description": "Lifetime: 30d, 12h, 90m (default 30d)"},
    },
    "/cairn/tokens/revoke": {"token_id": {"type": "integer", "format": "int64"}},
    "/mlflow/experiments/permissions/create": {
        "experiment_id": {"type": "string"},
        "username": {"type": "string"},
        "permission": {"type": "string", "enum": [p.name for p in Permission]},
    },
    "/mlflow/experiments/permissions/update": {
        "experiment_id": {"type": "string"},
        "username": {"type": "string"},
        "permission": {"type": "string", "enum": [p.name for p in Permission]},
    },
    "/mlflow/experiments/permissions/delete": {
        "experiment_id": {"type": "string"},
        "username": {"type": "string"},
    },
}
_SUMMARIES = {
    "current_user": "The authenticated caller",
    "create_token": "Create an API token for the caller (its secret is shown once)",
    "list_tokens": "The caller's API tokens, without their secrets",
    "revoke_token": "Revoke one of the caller's API tokens",
    "list_users": "Every user (admins only)",
    "create_permission": "Give a user a permission on an experiment (MANAGE needed)",
    "get_permission": "A user's own permission on an experiment (MANAGE needed)",
    "update_permission": "Change a user's permission on an experiment (MANAGE needed)",
    "delete_permission": "Remove a user's permission on an experiment (MANAGE needed)",
}


def openapi_paths() -> dict[str, dict[str, Any]]:
    """The account routes for the OpenAPI document (see `cairn.server.openapi`)."""
    from cairn.server.openapi import ERROR, ERROR_RESPONSES

    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in _ROUTES:
        op: dict[str, Any] = {
            "summary": _SUMMARIES[handler.__name__],
            "operationId": f"{method.lower()}_{path.strip('/').replace('/', '_')}",
            "responses": {
                "200": {"description": "Success", "content": {"application/json": {}}},
                **ERROR_RESPONSES,
                "401": {
                    "description": "No or invalid credentials",
                    "content": {"application/json": {"schema": ERROR}},
                },
            },
        }
        if method != "GET":
            schema = {"type": "object", "properties": _REQUESTS.get(path, {})}
            op["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": schema}},
            }
        paths[f"/api/2.0{path}"] = {method.lower(): op}
    return paths
