"""Who may call which route: one explicit policy per (method, route), deny by default.

Every route of the app must resolve to a `Policy` here; a route that does not is refused to
everyone (`DENY`) and fails `tests/server/auth/test_policy.py`, which enumerates the app's
routes. A policy says how much identity a route needs (`Access`) and, for the permission
checks, which kind of resource it touches and what level it needs on it (`Level`: READ, EDIT,
MANAGE; `filtered` marks searches that must filter in SQL). The gate enforces `Access`
(PUBLIC, AUTHENTICATED or ADMIN) and, for experiments, runs, logged models, artifacts,
registered models and what hangs off them, the level (cairn.server.auth.permissions).
Webhooks are server-wide (one may watch every model, and each sends event payloads to a URL
of its creator's choosing): they are for admins.
`writes` marks what the audit log records (with every denied request): POST searches are
reads and are not recorded.

JSON endpoints are keyed by their path below the version prefix, which is the same under
`/api/<v>` and `/ajax-api/<v>`. The web UI's routes (cairn.ui) are declared as one group: any
route whose endpoint lives in `cairn.ui` is AUTHENTICATED, writing unless it is a GET.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from starlette.routing import BaseRoute, Route


class Access(Enum):
    PUBLIC = "public"  # anyone, no credentials needed
    AUTHENTICATED = "authenticated"  # any known user, then the level on the resource
    ADMIN = "admin"  # admins only
    DENY = "deny"  # nobody: a route without a declared policy


class Level(Enum):
    READ = "READ"
    EDIT = "EDIT"
    MANAGE = "MANAGE"


@dataclass(frozen=True, slots=True)
class Policy:
    access: Access
    resource: str | None = None  # experiment, run, registered_model, logged_model, artifact, ...
    level: Level | None = None  # required on `resource`
    writes: bool = False  # audited when it succeeds, not only when denied
    filtered: bool = False  # a listing: results must be filtered by permission in SQL


PUBLIC = Policy(Access.PUBLIC)
DENY = Policy(Access.DENY)
AUTHENTICATED = Policy(Access.AUTHENTICATED)


def read(kind: str) -> Policy:
    return Policy(Access.AUTHENTICATED, kind, Level.READ)


def search(kind: str) -> Policy:
    return Policy(Access.AUTHENTICATED, kind, Level.READ, filtered=True)


def create(kind: str) -> Policy:
    """Creating a top-level resource: any user may; the creator will get MANAGE."""
    return Policy(Access.AUTHENTICATED, kind, None, writes=True)


def edit(kind: str) -> Policy:
    return Policy(Access.AUTHENTICATED, kind, Level.EDIT, writes=True)


def manage(kind: str) -> Policy:
    return Policy(Access.AUTHENTICATED, kind, Level.MANAGE, writes=True)


def own(writes: bool = False) -> Policy:
    """The caller's own account (its tokens): any authenticated user, on themselves."""
    return Policy(Access.AUTHENTICATED, "token", None, writes=writes)


def admin(writes: bool = False, kind: str = "user") -> Policy:
    return Policy(Access.ADMIN, kind, None, writes=writes)


EXP, RUN, MODEL, LOGGED, ART = (
    "experiment",
    "run",
    "registered_model",
    "logged_model",
    "artifact",
)
# Registry governance: what they name decides the model whose level counts.
# REGISTRY: an optional model name; without one (the whole registry's audit trail or
# requests) the route is for admins. MODEL_POLICY: a model's name, or "*" for the server-wide
# policy, which any user may read and admins set. REQUEST: a transition request's id, whose
# model counts.
REGISTRY, MODEL_POLICY, REQUEST, WEBHOOK = (
    "registry",
    "registry_policy",
    "transition_request",
    "webhook",
)

# "METHOD path below /api/<version>" -> policy. One line per endpoint and method.
API_POLICIES: dict[str, Policy] = {
    # experiments
    "POST /mlflow/experiments/create": create(EXP),
    "GET /mlflow/experiments/get": read(EXP),
    "GET /mlflow/experiments/get-by-name": read(EXP),
    "GET /mlflow/experiments/search": search(EXP),
    "POST /mlflow/experiments/search": search(EXP),
    "POST /mlflow/experiments/delete": manage(EXP),
    "POST /mlflow/experiments/restore": manage(EXP),
    "POST /mlflow/experiments/update": edit(EXP),
    "POST /mlflow/experiments/set-experiment-tag": edit(EXP),
    "POST /mlflow/experiments/delete-experiment-tag": edit(EXP),
    # runs (they inherit their experiment's permissions)
    "POST /mlflow/runs/create": edit(EXP),
    "GET /mlflow/runs/get": read(RUN),
    "POST /mlflow/runs/update": edit(RUN),
    "POST /mlflow/runs/delete": manage(RUN),
    "POST /mlflow/runs/restore": manage(RUN),
    "POST /mlflow/runs/log-metric": edit(RUN),
    "POST /mlflow/runs/log-parameter": edit(RUN),
    "POST /mlflow/runs/log-batch": edit(RUN),
    "POST /mlflow/runs/log-model": edit(RUN),
    "POST /mlflow/runs/log-inputs": edit(RUN),
    "POST /mlflow/runs/set-tag": edit(RUN),
    "POST /mlflow/runs/delete-tag": edit(RUN),
    "POST /mlflow/runs/search": search(RUN),
    "POST /mlflow/runs/outputs": edit(RUN),
    "GET /mlflow/metrics/get-history": read(RUN),
    "GET /mlflow/artifacts/list": read(RUN),
    # registered models
    "POST /mlflow/registered-models/create": create(MODEL),
    "GET /mlflow/registered-models/get": read(MODEL),
    "POST /mlflow/registered-models/rename": manage(MODEL),
    "PATCH /mlflow/registered-models/update": edit(MODEL),
    "DELETE /mlflow/registered-models/delete": manage(MODEL),
    "GET /mlflow/registered-models/search": search(MODEL),
    "GET /mlflow/registered-models/get-latest-versions": read(MODEL),
    "POST /mlflow/registered-models/get-latest-versions": read(MODEL),
    "POST /mlflow/registered-models/set-tag": edit(MODEL),
    "DELETE /mlflow/registered-models/delete-tag": edit(MODEL),
    "POST /mlflow/registered-models/alias": edit(MODEL),
    "DELETE /mlflow/registered-models/alias": edit(MODEL),
    "GET /mlflow/registered-models/alias": read(MODEL),
    # model versions (they inherit their model's permissions)
    "POST /mlflow/model-versions/create": edit(MODEL),
    "GET /mlflow/model-versions/get": read(MODEL),
    "PATCH /mlflow/model-versions/update": edit(MODEL),
    "POST /mlflow/model-versions/transition-stage": edit(MODEL),
    "DELETE /mlflow/model-versions/delete": manage(MODEL),
    "GET /mlflow/model-versions/search": search(MODEL),
    "GET /mlflow/model-versions/get-download-uri": read(MODEL),
    "POST /mlflow/model-versions/set-tag": edit(MODEL),
    "DELETE /mlflow/model-versions/delete-tag": edit(MODEL),
    # registry governance (see REGISTRY, MODEL_POLICY and REQUEST above)
    "GET /cairn/registry/audit": read(REGISTRY),
    "GET /cairn/registry/policy": read(MODEL_POLICY),
    "POST /cairn/registry/policy": manage(MODEL_POLICY),
    "DELETE /cairn/registry/policy": manage(MODEL_POLICY),
    "POST /cairn/registry/transition-requests/create": edit(MODEL),
    "GET /cairn/registry/transition-requests/list": read(REGISTRY),
    "POST /cairn/registry/transition-requests/approve": manage(REQUEST),
    "POST /cairn/registry/transition-requests/reject": manage(REQUEST),
    # webhooks: server-wide, admins only
    "POST /cairn/registry/webhooks/create": admin(writes=True, kind=WEBHOOK),
    "GET /cairn/registry/webhooks/list": admin(kind=WEBHOOK),
    "DELETE /cairn/registry/webhooks/delete": admin(writes=True, kind=WEBHOOK),
    "POST /cairn/registry/webhooks/test": admin(writes=True, kind=WEBHOOK),
    "GET /cairn/registry/webhooks/deliveries": admin(kind=WEBHOOK),
    "GET /cairn/registry/webhooks/delivery": admin(kind=WEBHOOK),
    "POST /cairn/registry/webhooks/redeliver": admin(writes=True, kind=WEBHOOK),
    # logged models (MLflow 3)
    "POST /mlflow/logged-models": edit(EXP),
    "POST /mlflow/logged-models/search": search(LOGGED),
    "GET /mlflow/logged-models/{model_id}": read(LOGGED),
    "PATCH /mlflow/logged-models/{model_id}": edit(LOGGED),
    "DELETE /mlflow/logged-models/{model_id}": manage(LOGGED),
    "PATCH /mlflow/logged-models/{model_id}/tags": edit(LOGGED),
    "DELETE /mlflow/logged-models/{model_id}/tags/{tag_key}": edit(LOGGED),
    "POST /mlflow/logged-models/{model_id}/params": edit(LOGGED),
    "GET /mlflow/logged-models/{model_id}/artifacts/directories": read(LOGGED),
    "GET /mlflow/server-info": AUTHENTICATED,
    # the artifact proxy (artifacts inherit from their run's experiment)
    "GET /mlflow-artifacts/artifacts": read(ART),
    "GET /mlflow-artifacts/artifacts/{path:path}": read(ART),
    "PUT /mlflow-artifacts/artifacts/{path:path}": edit(ART),
    "DELETE /mlflow-artifacts/artifacts/{path:path}": manage(ART),
    # accounts (cairn.server.auth.routes)
    "GET /cairn/users/current": own(),
    "POST /cairn/tokens/create": own(writes=True),
    "GET /cairn/tokens/list": own(),
    "POST /cairn/tokens/revoke": own(writes=True),
    "GET /cairn/users/list": admin(),
    # experiment permissions (MLflow's basic-auth routes; cairn.server.auth.routes)
    "POST /mlflow/experiments/permissions/create": manage(EXP),
    "GET /mlflow/experiments/permissions/get": manage(EXP),
    "PATCH /mlflow/experiments/permissions/update": manage(EXP),
    "DELETE /mlflow/experiments/permissions/delete": manage(EXP),
    # registered-model permissions (the same, by model name)
    "POST /mlflow/registered-models/permissions/create": manage(MODEL),
    "GET /mlflow/registered-models/permissions/get": manage(MODEL),
    "PATCH /mlflow/registered-models/permissions/update": manage(MODEL),
    "DELETE /mlflow/registered-models/permissions/delete": manage(MODEL),
}

# Routes outside the API prefixes.
OTHER_POLICIES: dict[str, Policy] = {
    "GET /health": PUBLIC,
    "GET /version": PUBLIC,
    "GET /openapi.json": AUTHENTICATED,
}

UI_MODULE = "cairn.ui"
_API_PREFIX = re.compile(r"^/(?:api|ajax-api)/\d+\.\d+(?=/)")


def policy_for(route: BaseRoute, method: str) -> Policy:
    """The declared policy of `method` on `route`; DENY when none is declared."""
    if not isinstance(route, Route):
        return DENY  # Mounts, websockets, ...: nothing of the kind is declared
    method = "GET" if method == "HEAD" else method
    path = route.path
    below = _API_PREFIX.sub("", path, count=1)
    if below != path:
        return API_POLICIES.get(f"{method} {below}", DENY)
    declared = OTHER_POLICIES.get(f"{method} {path}")
    if declared is not None:
        return declared
    module = getattr(route.endpoint, "__module__", "") or ""
    if module == UI_MODULE or module.startswith(UI_MODULE + "."):
        return AUTHENTICATED if method == "GET" else Policy(Access.AUTHENTICATED, writes=True)
    return DENY


# Requests that match no route (the app answers 404 or 405) still need credentials, so an
# anonymous caller learns nothing about which paths exist.
UNROUTED = AUTHENTICATED
