"""Enforcing experiment and registered-model permissions on the API routes, from their
declared `Policy`.

The gate authenticates before the app reads the body, but a POST names its experiment, run or
model in the body. So the gate puts an authorizer in the request's scope (`app.AUTHORIZE`) and
the JSON handler calls it with the parsed fields before the endpoint's handler, on the ASGI
path and on the fast path alike (`gate.SecuredAnswer` passes one too). The authorizer:

* for a route needing a level on an experiment, run or logged model: finds the experiment
  (a run's experiment is cached per process: a run never moves), looks the caller's level up
  and raises PermissionDenied (403) when it is too low;
* for a route needing a level on a registered model (its versions, aliases, tags, policy and
  transition requests too): finds the model by name, or a transition request's model by the
  request's id; a model the caller may not READ answers exactly as a missing one (404, the
  registry's own message), so names do not leak; a readable model with too low a level
  answers 403;
* for model-versions/create, also READ on the source (`_check_source`): a version's files are
  copied from it into the registry, where the model's readers can download them;
* for a search (`Policy.filtered`): adds a condition builder to the fields (`READABLE`) that
  the store puts inside its SQL query;
* for experiments/create and registered-models/create: returns a callback that grants the
  creator MANAGE once the resource exists;
* for get-by-name of an experiment the caller may not read: answers as if it did not exist.

The artifact proxy has no JSON body: the gate checks it directly (`check_artifact_path`).
Admins pass every check without a lookup.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from cairn.auth.permissions import EXPERIMENT, REGISTERED_MODEL, Permission, PermissionStore
from cairn.auth.permissions import ResourceKind as PermissionKind
from cairn.auth.users import Identity
from cairn.exceptions import InvalidParameterValue, PermissionDenied, ResourceDoesNotExist
from cairn.server.auth.policy import (
    ART,
    EXP,
    LOGGED,
    MODEL,
    MODEL_POLICY,
    REGISTRY,
    REQUEST,
    RUN,
    Policy,
)
from cairn.server.handlers.fields import READABLE
from cairn.server.storage import checked_path
from cairn.store.sql.engine import run_read
from cairn.store.sql.schema import logged_models, model_versions, transition_requests
from cairn.store.validation import parse_id

if TYPE_CHECKING:
    from cairn.server.storage import ServerStorage

log = logging.getLogger("cairn.server.auth")
After = Callable[[dict[str, Any]], None]
_RUN_CACHE_SIZE = 100_000
_LEVEL_CACHE_SIZE = 100_000
_ARTIFACT_EXPERIMENT = re.compile(r"^/?(\d+)(?:/|$)")
_REGISTRY_COPY = re.compile(r"^/?models/([0-9a-f]{32})(?:/|$)")  # model_sources' layout
_TRACKING = (EXP, RUN, LOGGED)
_REGISTRY = (MODEL, REGISTRY, MODEL_POLICY, REQUEST)
CHECKED = frozenset(_TRACKING + _REGISTRY)
"""The resource kinds whose routes call the authorizer (the gate installs it for them)."""
SERVER_WIDE = "*"  # the registry policy's name for the server-wide policy


def model_not_found(name: str) -> ResourceDoesNotExist:
    """The registry's own answer for a missing model (`registry_rows.model_row`), word for
    word: a model the caller may not read must be indistinguishable from it."""
    return ResourceDoesNotExist(f"Registered Model with name={name} not found")


class Guard:
    """The permission checks of one server process.

    Levels are remembered per (user, kind, resource) for `cache_seconds` (the credential
    cache's lifetime): a lookup costs ~0.25 ms, 5 % of a 1,000-point log-batch. A change made
    through this process's permission routes clears the cache at once; one made by another
    process or the CLI applies within `cache_seconds`, as a revoked token does. A model's name
    is looked up on every request (one indexed query): names change, and a stale name would
    point at another model.

    `storage` (set by `gate.secure`) tells which experiment an artifact location belongs to,
    for model-version sources given as locations.
    """

    def __init__(self, store: PermissionStore, cache_seconds: float = 30.0) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self.storage: ServerStorage | None = None
        self._run_experiments: dict[str, int] = {}
        self._levels: dict[tuple[str, str, int], tuple[Permission, float]] = {}

    def level(
        self, username: str, resource_id: int, kind: PermissionKind = EXPERIMENT
    ) -> Permission:
        """`username`'s level on the resource (an experiment id, or a model's `model_pk`),
        from the cache when it is fresh."""
        key = (username, kind.name, resource_id)
        now = time.monotonic()
        cached = self._levels.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = self.store.level(username, resource_id, kind)
        if self.cache_seconds > 0:
            if len(self._levels) >= _LEVEL_CACHE_SIZE:
                self._levels.clear()
            self._levels[key] = (found, now + self.cache_seconds)
        return found

    def model_level(self, username: str, name: str) -> Permission | None:
        """`username`'s level on the registered model called `name`; None when there is no
        such model. The model counterpart of `level` (for the UI as for the API)."""
        model_pk = self.store.model_pk(name)
        if model_pk is None:
            return None
        return self.level(username, model_pk, REGISTERED_MODEL)

    def forget(self) -> None:
        """Drop the remembered levels (after a permission changed)."""
        self._levels.clear()

    def authorizer(self, identity: Identity, policy: Policy) -> Callable[[dict[str, Any]], Any]:
        return functools.partial(self.check, identity, policy)

    def check(self, identity: Identity, policy: Policy, fields: dict[str, Any]) -> After | None:
        """Raise PermissionDenied unless `identity` may call `policy`'s route with `fields`
        (ResourceDoesNotExist for a registered model it may not read)."""
        kind = policy.resource
        if kind in _REGISTRY:
            return self._check_registry(identity, policy, fields)
        if kind not in _TRACKING:
            return None
        if policy.filtered:
            if not identity.is_admin:
                fields[READABLE] = functools.partial(
                    self.store.readable_condition, identity.username
                )
            return None
        if policy.level is None:  # creating: anyone may; the creator manages what they made
            if kind == EXP:
                return functools.partial(self._creator_manages, identity.username)
            return None
        if identity.is_admin:
            return None
        if "experiment_name" in fields and kind == EXP:
            self._check_by_name(identity, fields["experiment_name"])
            return None
        experiment_id = self._experiment_of(kind, fields)
        if experiment_id is not None:
            self.require(identity, experiment_id, policy.level.value)
        return None

    def require(self, identity: Identity, experiment_id: int, needed: str) -> None:
        if identity.is_admin:
            return
        if not self.level(identity.username, experiment_id).allows(needed):
            raise PermissionDenied(
                f"Permission denied: {needed} on experiment {experiment_id} is needed"
            )

    def require_model(self, identity: Identity, name: str, needed: str) -> None:
        """`needed` on the model called `name`: 404 as for a missing model when the caller
        may not read it, 403 when they may read it but need more. A missing model passes
        (its handler answers 404)."""
        if identity.is_admin:
            return
        found = self.model_level(identity.username, name)
        if found is None:
            return
        if not found.allows("READ"):
            raise model_not_found(name)
        if not found.allows(needed):
            raise PermissionDenied(f"Permission denied: {needed} on model {name!r} is needed")

    def check_artifact_path(self, identity: Identity, policy: Policy, path: str) -> None:
        """The artifact proxy: `path` starts with its experiment's id (MLflow's layout); a
        registry copy of a version's files (`models/<id>/…`) takes its model's level; any
        other path is judged by the default level, as MLflow's basic-auth app does."""
        if policy.resource != ART or policy.level is None or identity.is_admin:
            return
        try:  # judged on the path the proxy will use: `1/../2/x` is experiment 2's
            path = checked_path(path) if path else path
        except InvalidParameterValue:
            return  # the proxy refuses it (400) and touches nothing
        found = _ARTIFACT_EXPERIMENT.match(path)
        if found is not None:
            self.require(identity, int(found.group(1)), policy.level.value)
            return
        copy = _REGISTRY_COPY.match(path)  # a model version's files: its model's level
        model_pk = None if copy is None else self._model_of_copy(copy.group(1))
        level = self.store.default
        if model_pk is not None:
            level = self.level(identity.username, model_pk, REGISTERED_MODEL)
        if not level.allows(policy.level.value):
            raise PermissionDenied(f"Permission denied: {policy.level.value} is needed")

    # -- registered models ---------------------------------------------------------------------

    def _check_registry(
        self, identity: Identity, policy: Policy, fields: dict[str, Any]
    ) -> After | None:
        if policy.filtered:
            if not identity.is_admin:
                fields[READABLE] = functools.partial(
                    self.store.readable_condition, identity.username, kind=REGISTERED_MODEL
                )
            return None
        if policy.level is None:  # registered-models/create
            return functools.partial(self._creator_manages_model, identity.username)
        if identity.is_admin:
            return None
        needed = policy.level.value
        kind = policy.resource
        if kind == REQUEST:
            self._check_request(identity, fields.get("request_id"), needed)
            return None
        name = fields.get("name")
        if kind == REGISTRY and not name:
            raise PermissionDenied(
                "Permission denied: the whole registry's entries are for admins; name a model"
            )
        if kind == MODEL_POLICY and name == SERVER_WIDE:  # as the registry reads "*"
            if needed == "READ":
                return None
            raise PermissionDenied("Permission denied: the server-wide policy is set by admins")
        if isinstance(name, str) and name:
            # Audit entries and policies are kept by name and outlive their model: those of a
            # name no model has now are for admins.
            if kind != MODEL and self.store.model_pk(name) is None:
                raise model_not_found(name)
            self.require_model(identity, name, needed)
        if "source" in fields or "run_id" in fields:  # model-versions/create
            self._check_source(identity, fields)
        return None

    def _check_request(self, identity: Identity, request_id: object, needed: str) -> None:
        """A transition request counts as its model; one whose model the caller may not read
        answers as a missing request."""
        try:
            number = parse_id(request_id, "request id")
        except InvalidParameterValue:
            return  # the handler refuses it
        query = (
            select(transition_requests.c.model_pk)
            .where(transition_requests.c.id == number)
            .limit(1)
        )
        model_pk = run_read(self.store.engine, lambda conn: conn.execute(query).scalar())
        if model_pk is None:
            return
        found = self.level(identity.username, int(model_pk), REGISTERED_MODEL)
        if not found.allows("READ"):
            raise ResourceDoesNotExist(f"Transition request {number} not found")
        if not found.allows(needed):
            raise PermissionDenied(f"Permission denied: {needed} on the request's model is needed")

    def _check_source(self, identity: Identity, fields: dict[str, Any]) -> None:
        """READ on where a new version's files come from, read the way `resolve_source`
        reads it: the run's experiment (`run_id`, `runs:/<run>/…`), the logged model's
        (`models:/m-<id>`), the model's (`models:/<name>/…`), or the experiment an artifact
        location lies in."""
        from cairn.store.model_sources import check_source_text
        from cairn.store.model_uri import is_model_uri, logged_model_id, parse_model_uri

        run_id = fields.get("run_id")
        if isinstance(run_id, str) and run_id:
            self._require_run(identity, run_id)
        source = fields.get("source")
        if not isinstance(source, str) or not source:
            return  # the handler refuses it
        check_source_text(source)  # what the registry would refuse, before judging a path
        if source.lower().startswith("runs:"):
            source_run = source.split(":", 1)[1].lstrip("/").partition("/")[0]
            if source_run:
                self._require_run(identity, source_run)
            return
        model_id = logged_model_id(source)
        if model_id is not None:
            experiment_id = self._experiment_of(LOGGED, {"model_id": model_id})
            if experiment_id is not None:
                self.require(identity, experiment_id, "READ")
            return
        if is_model_uri(source):
            try:
                ref = parse_model_uri(source)
            except InvalidParameterValue:
                return  # the registry refuses it
            self.require_model(identity, ref.name, "READ")
            return
        self._check_location(identity, source)

    def _require_run(self, identity: Identity, run_id: str) -> None:
        experiment_id = self._experiment_of_run(run_id)
        if experiment_id is not None:  # else the registry answers that the run is missing
            self.require(identity, experiment_id, "READ")

    def _check_location(self, identity: Identity, source: str) -> None:
        """An artifact location: judged like an artifact proxy path by its first segment
        below the server's stores; a registry copy by its version's model; anything else by
        the default level."""
        path = self._store_path(source)
        if path is not None:
            found = _ARTIFACT_EXPERIMENT.match(path)
            if found is not None:
                self.require(identity, int(found.group(1)), "READ")
                return
            copy = _REGISTRY_COPY.match(path)
            if copy is not None:
                model_pk = self._model_of_copy(copy.group(1))
                if model_pk is not None:
                    level = self.level(identity.username, model_pk, REGISTERED_MODEL)
                    if not level.allows("READ"):
                        raise PermissionDenied("Permission denied: READ on the source is needed")
                    return
        if not self.store.default.allows("READ"):
            raise PermissionDenied("Permission denied: READ on the source is needed")

    def _store_path(self, uri: str) -> str | None:
        """`uri`'s path below the artifact stores of this server (the proxy's destination,
        a local root or the remote default root); None when it lies in none of them."""
        storage = self.storage
        if storage is None:
            return None
        try:
            proxied = storage.proxy_path(uri)
            if proxied is not None:
                return proxied
            from cairn.artifacts.local import local_root_from_uri
            from cairn.artifacts.registry import LOCAL_SCHEME, uri_scheme

            if uri_scheme(uri) == LOCAL_SCHEME:
                real = Path(os.path.realpath(local_root_from_uri(uri)))
                roots = sorted(
                    (Path(os.path.realpath(r)) for r in storage.local_roots),
                    key=lambda r: len(r.parts),
                    reverse=True,
                )
                for root in roots:
                    if real.is_relative_to(root):
                        return real.relative_to(root).as_posix()
                return None
        except InvalidParameterValue:
            return None
        remote = (storage.config.default_artifact_root or "").rstrip("/")
        if remote and uri.startswith(remote + "/"):
            return uri[len(remote) + 1 :]
        return None

    def _model_of_copy(self, copy_id: str) -> int | None:
        v = model_versions.c
        query = (
            select(v.model_pk)
            .where(v.storage_location.like(f"%/models/{copy_id}"))  # hex only: no wildcards
            .limit(1)
        )
        found = run_read(self.store.engine, lambda conn: conn.execute(query).scalar())
        return None if found is None else int(found)

    def _creator_manages_model(self, username: str, result: dict[str, Any]) -> None:
        model = result.get("registered_model")
        name = model.get("name") if isinstance(model, dict) else None
        if not isinstance(name, str):
            return
        try:
            self.store.grant(name, username, Permission.MANAGE, REGISTERED_MODEL)
            self.forget()
        except Exception:  # the model exists: answering 500 would make clients retry
            log.exception("Could not grant MANAGE on model %r to %s", name, username)

    # -- experiments ---------------------------------------------------------------------------

    def _experiment_of(self, kind: str, fields: dict[str, Any]) -> int | None:
        """The experiment a request touches; None when its resource does not exist (the
        handler then answers 404 as it would without authentication)."""
        if kind == EXP:
            # runs/create and logged-models/create default to the Default experiment
            return parse_id(fields.get("experiment_id") or "0", "experiment id")
        if kind == RUN:
            run_id = fields.get("run_id") or fields.get("run_uuid")
            if not isinstance(run_id, str) or not run_id:
                return None  # the handler refuses the request for want of a run id
            return self._experiment_of_run(run_id)
        model_id = fields.get("model_id")
        if not isinstance(model_id, str) or not model_id:
            return None
        query = select(logged_models.c.experiment_id).where(logged_models.c.model_id == model_id)
        found = run_read(self.store.engine, lambda conn: conn.execute(query).scalar())
        return None if found is None else int(found)

    def _experiment_of_run(self, run_id: str) -> int | None:
        cached = self._run_experiments.get(run_id)
        if cached is not None:
            return cached
        found = self.store.experiment_of_run(run_id)
        if found is not None:
            if len(self._run_experiments) >= _RUN_CACHE_SIZE:
                self._run_experiments.clear()
            self._run_experiments[run_id] = found
        return found

    def _check_by_name(self, identity: Identity, name: object) -> None:
        """An experiment the caller may not read is answered as missing: its name must not
        tell that it exists (MLflow's basic-auth app answers 403 here, which does)."""
        if not isinstance(name, str):
            return
        experiment_id = self.store.experiment_by_name(name)
        if experiment_id is None:
            return
        if not self.level(identity.username, experiment_id).allows("READ"):
            raise ResourceDoesNotExist(f"Could not find experiment with name '{name}'")

    def _creator_manages(self, username: str, result: dict[str, Any]) -> None:
        experiment_id = result.get("experiment_id")
        if experiment_id is None:
            return
        try:
            self.store.grant(int(experiment_id), username, Permission.MANAGE)
            self.forget()
        except Exception:  # the experiment exists: answering 500 would make clients retry
            log.exception("Could not grant MANAGE on experiment %s to %s", experiment_id, username)
