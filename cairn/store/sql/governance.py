"""Governance inside a registry change's transaction: policy checks, the audit row, and the
webhook outbox. `record` is what `SqlRegistryStore._record` runs for every change.

The audit table is append-only: this module inserts rows and reads them; no code path in
Cairn updates or deletes one (deleting a model keeps its history). Entries keep the model's
name as it was; `audit_names` follows renames back, so a model's history includes what
happened under its earlier names.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, delete, select, update

from cairn.entities import AuditEntry
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.store import registry_policy as rp
from cairn.store.registry_base import RegistryChange
from cairn.store.sql.queries import now_ms
from cairn.store.sql.schema import (
    latest_metrics,
    metric_keys,
    model_version_tags,
    model_versions,
    registered_models,
    registry_audit,
    registry_policies,
    runs,
    webhooks,
)
from cairn.store.sql.webhook_outbox import queue_event

if TYPE_CHECKING:
    from cairn.store.model_sources import ArtifactAccess

_au = registry_audit.c
_MAX_TEXT = 5000  # audit values (descriptions) are kept to this many characters
MAX_RENAMES_FOLLOWED = 100


def record(conn: Connection, change: RegistryChange, access: ArtifactAccess) -> bool:
    """Check policies, write the audit row and queue webhook deliveries for `change`, in the
    change's transaction. True when a delivery was queued. Raises PolicyRefused (the caller
    rolls back and audits the refusal)."""
    if change.action in ("TRANSITION_STAGE", "SET_ALIAS"):
        check_policies(conn, change, access)
    if change.action == "RENAME_MODEL":
        for table in (registry_policies, webhooks):
            column = table.c.name if table is registry_policies else table.c.model
            conn.execute(
                update(table).where(column == change.name).values({column: change.to_value})
            )
    elif change.action == "DELETE_MODEL":
        conn.execute(delete(registry_policies).where(registry_policies.c.name == change.name))
    audit(conn, change)
    return queue_event(conn, change)


def audit(conn: Connection, change: RegistryChange, action: str | None = None) -> None:
    conn.execute(
        registry_audit.insert().values(
            timestamp=now_ms(),
            user_id=change.user,
            action=action or change.action,
            name=change.name,
            version=change.version,
            key=change.key,
            from_value=(change.from_value or "")[:_MAX_TEXT],
            to_value=(change.to_value or "")[:_MAX_TEXT],
            comment=(change.comment or "")[:_MAX_TEXT],
        )
    )


def refused(change: RegistryChange, reason: str) -> RegistryChange:
    """The audit record of a change a policy refused (written in a transaction of its own)."""
    return RegistryChange(
        "REFUSED_" + change.action,
        change.name,
        change.version,
        change.key,
        change.from_value,
        change.to_value,
        reason,
        change.user,
    )


def audit_names(conn: Connection, name: str) -> list[str]:
    """`name` and the names the model had before renames (most recent first)."""
    names = [name]
    while len(names) <= MAX_RENAMES_FOLLOWED:
        earlier = [
            n
            for n in conn.execute(
                select(_au.from_value).where(
                    _au.action == "RENAME_MODEL", _au.to_value == names[-1]
                )
            ).scalars()
            if n not in names
        ]
        if not earlier:
            break
        names.append(earlier[-1])
    return names


def audit_rows(conn: Connection, name: str | None, offset: int, limit: int) -> list[AuditEntry]:
    query = select(registry_audit)
    if name is not None:
        query = query.where(_au.name.in_(audit_names(conn, name)))
    query = query.order_by(_au.id).offset(offset).limit(limit)
    return [
        AuditEntry(
            id=int(r.id),
            timestamp=int(r.timestamp),
            action=r.action,
            name=r.name,
            version=r.version,
            key=r.key,
            from_value=r.from_value,
            to_value=r.to_value,
            comment=r.comment,
            user=r.user_id,
        )
        for r in conn.execute(query)
    ]


# -- policies ----------------------------------------------------------------------------


def load_policies(conn: Connection, name: str) -> dict[str, rp.Policy]:
    """The server-wide policy and the model's, by name (either may be missing)."""
    p = registry_policies.c
    found: dict[str, rp.Policy] = {}
    for row in conn.execute(select(p.name, p.document).where(p.name.in_([rp.SERVER_WIDE, name]))):
        found[row.name] = rp.parse_policy(json.loads(row.document))
    return found


def check_policies(
    conn: Connection, change: RegistryChange, access: ArtifactAccess, approved: bool = False
) -> None:
    """Raise PolicyRefused when a rule refuses `change` (a transition or an alias set)."""
    policies = load_policies(conn, change.name)
    if not policies:
        return
    if change.action == "SET_ALIAS":
        rules = rp.alias_rules(policies, change.key)
        target = f"Setting alias @{change.key} of model {change.name!r} to version {change.version}"
    else:
        rules = rp.stage_rules(policies, change.to_value)
        target = (
            f"Transition of model {change.name!r} version {change.version} to {change.to_value}"
        )
    if rules:
        facts = SqlVersionFacts(conn, access, change.name, int(change.version))
        rp.check(rules, facts, target, approved or change.approved)


class SqlVersionFacts:
    """`registry_policy.VersionFacts` of one version, read in the change's transaction."""

    def __init__(self, conn: Connection, access: ArtifactAccess, name: str, version: int) -> None:
        self.conn, self.access = conn, access
        row = conn.execute(
            select(model_versions)
            .join(registered_models, registered_models.c.model_pk == model_versions.c.model_pk)
            .where(registered_models.c.name == name, model_versions.c.version == version)
        ).first()
        if row is None:
            raise ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")
        self.row: Row[Any] = row

    def signature_problem(self) -> str | None:
        import yaml

        location = self.row.storage_location or self.row.source
        try:
            with self.access.repository(location).open("MLmodel") as f:
                document = yaml.safe_load(f.read())
        except ResourceDoesNotExist:
            return "the version has no MLmodel file"
        except Exception as exc:  # unreadable: refuse, saying why
            return f"its MLmodel file could not be read ({type(exc).__name__}: {exc})"
        signature = document.get("signature") if isinstance(document, dict) else None
        if not isinstance(signature, dict) or not signature.get("inputs"):
            return "the version's MLmodel file has no signature"
        return None

    def has_run(self) -> bool:
        return bool(self.row.run_id)

    def metric(self, key: str) -> tuple[bool, float | None]:
        lm, mk, r = latest_metrics.c, metric_keys.c, runs.c
        found = self.conn.execute(
            select(lm.value)
            .join(metric_keys, mk.key_id == lm.key_id)
            .join(runs, r.run_pk == lm.run_pk)
            .where(r.run_id == self.row.run_id, mk.key == key)
        ).first()
        if found is None:
            return False, None
        return True, None if found.value is None else float(found.value)

    def tags(self) -> dict[str, str]:
        t = model_version_tags.c
        query = select(t.key, t.value).where(
            t.model_pk == self.row.model_pk, t.version == self.row.version
        )
        return {k: v for k, v in self.conn.execute(query)}


def policy_document(conn: Connection, name: str) -> dict[str, Any] | None:
    p = registry_policies.c
    text = conn.execute(select(p.document).where(p.name == name)).scalar()
    return None if text is None else dict(json.loads(text))


def parse_document(document: Any) -> tuple[rp.Policy, str]:
    """The parsed policy and its canonical JSON text."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise InvalidParameterValue(f"A policy must be JSON: {exc}") from None
    policy = rp.parse_policy(document)
    return policy, json.dumps(policy.to_dict(), sort_keys=True)
