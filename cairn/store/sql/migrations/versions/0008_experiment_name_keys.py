"""Experiment names: look-alikes of an existing name are refused, as registered models' are.

Adds `experiments.name_key`, the SHA-256 (hex) of the folded name: NFKC, case-folded,
Cyrillic and Greek homoglyphs mapped to Latin (`cairn.store.validation.experiment_name_key`,
the registry's folding). A digest rather than the folded text because folding can lengthen a
500-character name past what a unique index holds on MySQL (3,072 bytes).

Existing databases may already hold look-alikes (`Default` and `default`, created before this
revision). They are kept as they are, under their names; the migration must not fail on them
and must not rename anything users refer to. So the backfill gives the oldest experiment of
each group (lowest id) the plain digest and every later one `<digest>\x1f<experiment_id>`
(a control character, which no name may hold, so no name's key can equal it):
the unique index then holds, and a new name that folds to the group's key still collides with
the oldest one and is refused. Renaming one of the later experiments recomputes its key, so
it can leave the group but never rejoin it.

The folding itself now maps Greek and Cyrillic capitals drawn like Latin ones (capital nu,
capital em) before case folding; it used to fold them to small letters that look like other
Latin letters or none, so `Name` spelled with a Greek capital nu did not collide with
`Name`. The registered models' `name_key` (revision 0002) is recomputed with it, under the
same rule: the oldest model of a group that now collides keeps the plain key, later ones get
`<key>\x1f<model_pk>`.

The column is nullable because SQLite cannot add a NOT NULL column without a default (and a
default would be a key every forgotten insert shares); the store always writes it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from cairn.store.validation import experiment_name_key, name_key

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 1000
_SEPARATOR = "\x1f"  # names may not hold control characters: no name's key contains it


def _backfill(table_name: str, id_column: str, key: Callable[[str], str], unique: bool) -> None:
    """Set `name_key` of every row from its name, the oldest (lowest id) of each group of
    look-alikes first; later members of a group get `<key>\x1f<id>`."""
    table = sa.table(
        table_name,
        sa.column(id_column, sa.Integer),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
    )
    ids = table.c[id_column]
    conn = op.get_bind()
    rows = conn.execute(sa.select(ids, table.c.name, table.c.name_key).order_by(ids)).all()
    seen: set[str] = set()
    changes = []
    for row_id, name, old_key in rows:
        new_key = key(name)
        if new_key in seen:
            new_key = f"{new_key}{_SEPARATOR}{row_id}"
        else:
            seen.add(new_key)
        if new_key != old_key:
            changes.append({"row_id": row_id, "key": new_key})
    if unique and changes:
        # Park the changed rows on keys no name folds to, so that swapping keys between
        # two rows never meets the unique index halfway.
        parked = [{"row_id": c["row_id"], "key": f"{_SEPARATOR}{c['row_id']}"} for c in changes]
        _update(conn, table, ids, parked)
    _update(conn, table, ids, changes)


def _update(conn: sa.Connection, table: Any, ids: Any, values: list[dict[str, Any]]) -> None:
    statement = (
        sa.update(table).where(ids == sa.bindparam("row_id")).values(name_key=sa.bindparam("key"))
    )
    for start in range(0, len(values), _BATCH):
        conn.execute(statement, values[start : start + _BATCH])


def upgrade() -> None:
    op.add_column("experiments", sa.Column("name_key", sa.String(80), nullable=True))
    _backfill("experiments", "experiment_id", experiment_name_key, unique=False)
    op.create_index("ix_experiments_name_key", "experiments", ["name_key"], unique=True)
    _backfill("registered_models", "model_pk", name_key, unique=True)


def downgrade() -> None:
    op.drop_index("ix_experiments_name_key", table_name="experiments")
    op.drop_column("experiments", "name_key")
