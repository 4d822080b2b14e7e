"""The account routes: the caller's own identity and API tokens, and the admins' user list.

    GET  /api/2.0/cairn/users/current      who am I
    POST /api/2.0/cairn/tokens/create      {"name", "expires_in": "30d"} -> the token, once
    GET  /api/2.0/cairn/tokens/list        my tokens (never their secrets)
    POST /api/2.0/cairn/tokens/revoke      {"token_id"}
    GET  /api/2.0/cairn/users/list         every user (admins only)

and MLflow's basic-auth permission routes, same names and shapes (MLflow's `AuthServiceClient`
works against them); MANAGE on the experiment or model, or admin, needed, checked by the
gate's authorizer like every experiment or model route (a model the caller may not read
answers 404, as a missing one):

    POST   /api/2.0/mlflow/experiments/permissions/create   {experiment_id, username, permission}
    GET    /api/2.0/mlflow/experiments/permissions/get      ?experiment_id&username
    PATCH  /api/2.0/mlflow/experiments/permissions/update   {experiment_id, username, permission}
    DELETE /api/2.0/mlflow/experiments/permissions/delete   {experiment_id, username}
    POST   /api/2.0/mlflow/registered-models/permissions/create   {name, username, permission}
    GET    /api/2.0/mlflow/registered-models/permissions/get      ?name&username
    PATCH  /api/2.0/mlflow/registered-models/permissions/update   {name, username, permission}
    DELETE /api/2.0/mlflow/registered-models/permissions/delete   {name, username}

They answer {"experiment_permission": {experiment_id, user_id, username, permission}} and
{"registered_model_permission": {name, user_id, username, permission}}.

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

from cairn.auth.permissions import (
    EXPERIMENT,
    REGISTERED_MODEL,
    Grant,
    Permission,
    ResourceKind,
    parse_resource_id,
)
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


def _grant_fields(fields: dict[str, Any], kind: ResourceKind) -> tuple[int | str, str]:
    """(the resource as the API names it, the user's name)."""
    username = fields.get("username")
    if not isinstance(username, str) or not username:
        raise InvalidParameterValue("'username' is required")
    if kind is EXPERIMENT:
        return parse_resource_id(fields.get("experiment_id")), username
    name = fields.get(kind.field)
    if not isinstance(name, str) or not name:
        raise InvalidParameterValue(f"'{kind.field}' is required")
    return name, username


def _permission(fields: dict[str, Any]) -> Permission:
    return Permission.parse(fields.get("permission"))


def _answer(grant: Grant, kind: ResourceKind) -> dict[str, Any]:
    """MLflow's answer: {"experiment_permission": …} or {"registered_model_permission": …}."""
    return {f"{kind.field_prefix}_permission": grant.to_dict(kind)}


def _create(security: Security, fields: dict[str, Any], kind: ResourceKind) -> dict[str, Any]:
    resource, username = _grant_fields(fields, kind)
    store = security.guard.store
    grant = store.grant(resource, username, _permission(fields), kind, replace=False)
    security.guard.forget()
    return _answer(grant, kind)


def _get(security: Security, fields: dict[str, Any], kind: ResourceKind) -> dict[str, Any]:
    resource, username = _grant_fields(fields, kind)
    return _answer(security.guard.store.get(resource, username, kind), kind)


def _update(security: Security, fields: dict[str, Any], kind: ResourceKind) -> dict[str, Any]:
    resource, username = _grant_fields(fields, kind)
    store = security.guard.store
    store.get(resource, username, kind)  # MLflow: updating needs a row
    store.grant(resource, username, _permission(fields), kind)
    security.guard.forget()
    return {}


def _delete(security: Security, fields: dict[str, Any], kind: ResourceKind) -> dict[str, Any]:
    resource, username = _grant_fields(fields, kind)
    security.guard.store.revoke(resource, username, kind)
    security.guard.forget()
    return {}


def create_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    return _create(security, fields, EXPERIMENT)


def get_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    return _get(security, fields, EXPERIMENT)


def update_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    return _update(security, fields, EXPERIMENT)


def delete_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    return _delete(security, fields, EXPERIMENT)


def create_model_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    return _create(security, fields, REGISTERED_MODEL)


def get_model_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    return _get(security, fields, REGISTERED_MODEL)


def update_model_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    return _update(security, fields, REGISTERED_MODEL)


def delete_model_permission(
    security: Security, identity: Identity, fields: dict[str, Any]
) -> dict[str, Any]:
    return _delete(security, fields, REGISTERED_MODEL)


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
            if authorize is not None:  # MANAGE on the experiment or model (auth.permissions)
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
    ("POST", "/mlflow/registered-models/permissions/create", create_model_permission),
    ("GET", "/mlflow/registered-models/permissions/get", get_model_permission),
    ("PATCH", "/mlflow/registered-models/permissions/update", update_model_permission),
    ("DELETE", "/mlflow/registered-models/permissions/delete", delete_model_permission),
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
    "/mlflow/registered-models/permissions/create": {
        "name": {"type": "string"},
        "username": {"type": "string"},
        "permission": {"type": "string", "enum": [p.name for p in Permission]},
    },
    "/mlflow/registered-models/permissions/update": {
        "name": {"type": "string"},
        "username": {"type": "string"},
        "permission": {"type": "string", "enum": [p.name for p in Permission]},
    },
    "/mlflow/registered-models/permissions/delete": {
        "name": {"type": "string"},
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
    "create_model_permission": "Give a user a permission on a registered model (MANAGE needed)",
    "get_model_permission": "A user's own permission on a registered model (MANAGE needed)",
    "update_model_permission": "Change a user's permission on a registered model (MANAGE needed)",
    "delete_model_permission": "Remove a user's permission on a registered model (MANAGE needed)",
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
