"""Enforcing experiment permissions on the tracking routes, from their declared `Policy`.

The gate authenticates before the app reads the body, but a POST names its experiment or run
in the body. So the gate puts an authorizer in the request's scope (`app.AUTHORIZE`) and the
JSON handler calls it with the parsed fields before the endpoint's handler, on the ASGI path
and on the fast path alike (`gate.SecuredAnswer` passes one too). The authorizer:

* for a route needing a level on an experiment, run or logged model: finds the experiment
  (a run's experiment is cached per process: a run never moves), looks the caller's level up
  and raises PermissionDenied (403) when it is too low;
* for a search (`Policy.filtered`): adds a condition builder to the fields (`READABLE`) that
  the store puts inside its SQL query;
* for experiments/create: returns a callback that grants the creator MANAGE once the
  experiment exists;
* for get-by-name of an experiment the caller may not read: answers as if it did not exist.

The artifact proxy has no JSON body: the gate checks it directly (`check_artifact_path`).
Admins pass every check without a lookup. Registered models are not checked yet.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from cairn.auth.permissions import Permission, PermissionStore
from cairn.auth.users import Identity
from cairn.exceptions import InvalidParameterValue, PermissionDenied, ResourceDoesNotExist
from cairn.server.auth.policy import ART, EXP, LOGGED, RUN, Policy
from cairn.server.handlers.fields import READABLE
from cairn.server.storage import checked_path
from cairn.store.sql.engine import run_read
from cairn.store.sql.schema import logged_models
from cairn.store.validation import parse_id

log = logging.getLogger("cairn.server.auth")
After = Callable[[dict[str, Any]], None]
_RUN_CACHE_SIZE = 100_000
_LEVEL_CACHE_SIZE = 100_000
_ARTIFACT_EXPERIMENT = re.compile(r"^/?(\d+)(?:/|$)")


class Guard:
    """The permission checks of one server process.

    Levels are remembered for `cache_seconds` (the credential cache's lifetime): a lookup
    costs ~0.25 ms, 5 % of a 1,000-point log-batch. A change made through this process's
    permission routes clears the cache at once; one made by another process or the CLI applies
    within `cache_seconds`, as a revoked token does.
    """

    def __init__(self, store: PermissionStore, cache_seconds: float = 30.0) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._run_experiments: dict[str, int] = {}
        self._levels: dict[tuple[str, int], tuple[Permission, float]] = {}

    def level(self, username: str, experiment_id: int) -> Permission:
        """`username`'s level on the experiment, from the cache when it is fresh."""
        key = (username, experiment_id)
        now = time.monotonic()
        cached = self._levels.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = self.store.level(username, experiment_id)
        if self.cache_seconds > 0:
            if len(self._levels) >= _LEVEL_CACHE_SIZE:
                self._levels.clear()
            self._levels[key] = (found, now + self.cache_seconds)
        return found

    def forget(self) -> None:
        """Drop the remembered levels (after a permission changed)."""
        self._levels.clear()

    def authorizer(self, identity: Identity, policy: Policy) -> Callable[[dict[str, Any]], Any]:
        return functools.partial(self.check, identity, policy)

    def check(self, identity: Identity, policy: Policy, fields: dict[str, Any]) -> After | None:
        """Raise PermissionDenied unless `identity` may call `policy`'s route with `fields`."""
        kind = policy.resource
        if kind not in (EXP, RUN, LOGGED):
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

    def check_artifact_path(self, identity: Identity, policy: Policy, path: str) -> None:
        """The artifact proxy: `path` starts with its experiment's id (MLflow's layout); a path
        that does not is judged by the default level, as MLflow's basic-auth app does."""
        if policy.resource != ART or policy.level is None or identity.is_admin:
            return
        try:  # judged on the path the proxy will use: `1/../2/x` is experiment 2's
            path = checked_path(path) if path else path
        except InvalidParameterValue:
            return  # the proxy refuses it (400) and touches nothing
        found = _ARTIFACT_EXPERIMENT.match(path)
        if found is None:
            if not self.store.default.allows(policy.level.value):
                raise PermissionDenied(f"Permission denied: {policy.level.value} is needed")
            return
        self.require(identity, int(found.group(1)), policy.level.value)

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
