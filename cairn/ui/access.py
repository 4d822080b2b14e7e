"""Who the UI's caller is and what they may do: the API's permissions, on pages.

With `cairn server --auth` the gate authenticates every UI request and leaves the caller's
`Identity` in the request scope (`gate.IDENTITY`); the levels come from the server's own
`Guard` (`app.state.security`), the one the gate and the REST routes use, so a level is
looked up once and cached for all three, and a permission changed from the UI clears the
same cache. Without authentication there is no identity: every check passes at once, with
no query and no worker thread, so the pages cost what they cost before.

The rules are the API's (docs/security.md "Permissions"): runs, their metrics and artifacts
inherit their experiment's level. Reading needs READ; a resource the caller may not read
answers exactly as a missing one (same status, same message), so its name never shows.
A change needs EDIT or MANAGE and, when the level is too low, answers 403 before anything
is written. Admins pass every check without a lookup.

Registered models follow the same pattern with their own level (`Guard.model_level`, keyed
by the model's name; versions, aliases, tags and transition requests inherit it): the model
pages answer an unreadable model as the registry answers a missing one.

`Rights` is what a template needs to hide the forms a caller may not use; the server's
check is what counts.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cairn.auth.permissions import REGISTERED_MODEL, Permission
from cairn.auth.users import Identity
from cairn.exceptions import BadRequest, PermissionDenied, ResourceDoesNotExist
from cairn.server.auth.gate import IDENTITY, Security
from cairn.server.auth.permissions import Guard, model_not_found
from cairn.store.sql.search_registry import Readable
from cairn.ui.queries import experiment_exists, granted_levels

log = logging.getLogger("cairn.ui")
READ, EDIT, MANAGE = "READ", "EDIT", "MANAGE"


@dataclass(frozen=True, slots=True)
class Rights:
    """What the caller may do to one experiment (and its runs) or model, for templates."""

    level: Permission

    @property
    def read(self) -> bool:
        return self.level.allows(READ)

    @property
    def edit(self) -> bool:
        return self.level.allows(EDIT)

    @property
    def manage(self) -> bool:
        return self.level.allows(MANAGE)


ALL = Rights(Permission.MANAGE)


def missing_experiment(experiment_id: int | str) -> ResourceDoesNotExist:
    """What the store answers for an experiment that does not exist (same message)."""
    return ResourceDoesNotExist(f"No experiment with id={experiment_id}")


def missing_run(run_id: str) -> ResourceDoesNotExist:
    """What the store answers for a run that does not exist (same message)."""
    return ResourceDoesNotExist(f"Run with id={run_id} not found")


class Access:
    """The caller of one request, and the guard that knows their levels."""

    __slots__ = ("guard", "identity", "security")

    def __init__(self, identity: Identity | None, security: Security | None) -> None:
        self.identity = identity
        self.security = security
        self.guard: Guard | None = security.guard if security is not None else None

    @classmethod
    def of(cls, request: Request) -> Access:
        identity = request.scope.get(IDENTITY)
        if not isinstance(identity, Identity):
            return OPEN
        return cls(identity, request.app.state.security)

    @property
    def authenticated(self) -> bool:
        """Authentication is on (there is a caller to speak for)."""
        return self.identity is not None

    @property
    def checked(self) -> bool:
        """The caller's levels matter: authentication is on and they are not an admin."""
        return self.identity is not None and not self.identity.is_admin

    @property
    def username(self) -> str:
        return self.identity.username if self.identity is not None else ""

    def readable(self) -> Readable | None:
        """The condition a search puts inside its query to keep what the caller may read
        (None: everything), as the REST searches do."""
        if not self.checked or self.guard is None:
            return None
        return functools.partial(self.guard.store.readable_condition, self.username)

    def readable_models(self) -> Readable | None:
        """`readable` for registered models: what the registry searches put in their query."""
        if not self.checked or self.guard is None:
            return None
        return functools.partial(
            self.guard.store.readable_condition, self.username, kind=REGISTERED_MODEL
        )

    # -- experiments (blocking: call through `Ui.call`, or the async wrappers below) ---------

    def level(self, experiment_id: int | str) -> Permission:
        if not self.checked or self.guard is None:
            return Permission.MANAGE
        return self.guard.level(self.username, int(experiment_id))

    def judge(self, experiment_id: int | str, needed: str) -> Rights:
        """The caller's rights on the experiment; ResourceDoesNotExist when they may not read
        it, PermissionDenied when they may read it but not do what needs `needed`.

        An experiment that does not exist has the default level too; refusing a change to
        it with 403 would tell it apart from a hidden one (404), so a refusal checks first."""
        level = self.level(experiment_id)
        missing = missing_experiment(experiment_id)
        refused = level.allows(READ) and not level.allows(needed)
        engine = self.guard.store.engine if self.guard is not None else None
        if refused and engine is not None and not experiment_exists(engine, int(experiment_id)):
            raise missing
        return decide(level, needed, missing)

    def judge_run(self, run_id: str, needed: str) -> Rights:
        """`judge` on the run's experiment; a run the caller may not read is missing."""
        if not self.checked or self.guard is None:
            return ALL
        experiment_id = self.guard.store.experiment_of_run(run_id)
        if experiment_id is None:
            raise missing_run(run_id)
        try:
            return self.judge(experiment_id, needed)
        except ResourceDoesNotExist:
            raise missing_run(run_id) from None

    def readable_runs(self, experiment_of: dict[str, str]) -> set[str]:
        """Those runs of `experiment_of` (run id -> experiment id) the caller may read; each
        experiment's level is looked up once."""
        if not self.checked:
            return set(experiment_of)
        allowed = {e: self.level(e).allows(READ) for e in set(experiment_of.values())}
        return {r for r, e in experiment_of.items() if allowed[e]}

    def rights_of(self, experiment_ids: Iterable[str]) -> dict[str, Rights]:
        """The caller's rights on each experiment of a list page, in one query."""
        ids = list(experiment_ids)
        if not self.checked or self.guard is None:
            return dict.fromkeys(ids, ALL)
        found = granted_levels(self.guard.store, self.username, ids)
        return {e: Rights(found.get(e, self.guard.store.default)) for e in ids}

    def creator_manages(self, experiment_id: str) -> None:
        """Give the caller MANAGE on the experiment they just created, as the REST API's
        experiments/create does (admins included: the row outlives their admin flag)."""
        if self.security is None or self.identity is None:
            return
        try:
            self.security.guard.store.grant(int(experiment_id), self.username, Permission.MANAGE)
            self.security.guard.forget()
        except Exception:  # the experiment exists: an error page would invite a second create
            log.exception(
                "Could not grant MANAGE on experiment %s to %s", experiment_id, self.username
            )

    # -- registered models -----------------------------------------------------------------

    def judge_model(self, name: str, needed: str) -> Rights:
        """`judge` for the registered model called `name`. A model that does not exist passes
        (the page's own lookup answers 404 with the same message)."""
        if not self.checked or self.guard is None:
            return ALL
        found = self.guard.model_level(self.username, name)
        if found is None:
            return ALL
        return decide(found, needed, model_not_found(name))

    def creator_manages_model(self, name: str) -> None:
        """Give the caller MANAGE on the model they just created, as the REST API does."""
        if self.security is None or self.identity is None:
            return
        try:
            store = self.security.guard.store
            store.grant(name, self.username, Permission.MANAGE, REGISTERED_MODEL)
            self.security.guard.forget()
        except Exception:  # the model exists: an error page would invite a second create
            log.exception("Could not grant MANAGE on model %r to %s", name, self.username)

    # -- async wrappers: no worker thread when nothing is checked ----------------------------

    async def require_model(self, name: str, needed: str = READ) -> Rights:
        if not self.checked:
            return ALL
        return await run_in_threadpool(self.judge_model, name, needed)

    async def require(self, experiment_id: int | str, needed: str = READ) -> Rights:
        if not self.checked:
            return ALL
        return await run_in_threadpool(self.judge, experiment_id, needed)

    async def require_run(self, run_id: str, needed: str = READ) -> Rights:
        if not self.checked:
            return ALL
        return await run_in_threadpool(self.judge_run, run_id, needed)

    async def rights_for(self, experiment_ids: Iterable[str]) -> dict[str, Rights]:
        if not self.checked:
            return dict.fromkeys(experiment_ids, ALL)
        return await run_in_threadpool(self.rights_of, list(experiment_ids))

    def security_for_changes(self) -> Security:
        """The server's `Security`, to change permissions; BadRequest without authentication
        (there is no user to give a level to, as the REST routes answer)."""
        if self.security is None or self.identity is None:
            raise BadRequest("Authentication is not enabled on this server (cairn server --auth)")
        return self.security


def decide(level: Permission, needed: str, missing: ResourceDoesNotExist) -> Rights:
    """`level`'s rights when they allow `needed`; `missing` when they do not allow reading,
    PermissionDenied (403) when they allow reading only."""
    rights = Rights(level)
    if not rights.read:
        raise missing
    if not level.allows(needed):
        raise PermissionDenied(
            f"You need {needed} permission here to do that; yours is {level.name}"
        )
    return rights


OPEN = Access(None, None)
"""Authentication is off: no caller, every check passes."""
