"""Schema migrations (Alembic), run programmatically: no alembic.ini for users to manage.

`upgrade(uri)` brings any database to the newest schema and creates a fresh one;
`ensure_current(engine)` is the cheap check every store does on start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cairn.exceptions import CairnException, TemporarilyUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine

HEAD = "0008"
_HERE = Path(__file__).parent


def _config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database, None when it has no Cairn schema."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def upgrade_engine(engine: Engine, revision: str = "head") -> str | None:
    from alembic import command

    command.upgrade(_config(engine), revision)
    return current_revision(engine)


def upgrade(uri: str, revision: str = "head") -> str | None:
    """Migrate the database at `uri` to `revision` (creating it if new); return the revision."""
    from cairn.store.sql.engine import make_engine

    engine = make_engine(uri)
    try:
        return upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def _check_reachable(engine: Engine) -> None:
    """Fail with a clear message when the database cannot be reached at all."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise TemporarilyUnavailable(
            f"Cannot connect to the database at {where}: {exc.orig}"
        ) from exc


def _create_schema(engine: Engine) -> str | None:
    """Give a new database the newest schema: from the snapshot for SQLite, when it is
    current (see `sqlite_snapshot`), else by running the migrations."""
    if engine.dialect.name == "sqlite":
        from cairn.store.sql.migrations.sqlite_snapshot import create_from_snapshot

        if create_from_snapshot(engine, HEAD):
            return current_revision(engine)
    return upgrade_engine(engine)


def ensure_current(engine: Engine) -> None:
    """Create the schema in a new database; refuse to run against an outdated one.

    Several processes may open a new database at once: each runs the migration, which takes
    the migration lock and re-reads the revision under it, so all but the first find nothing
    to do.
    """
    _check_reachable(engine)
    revision = current_revision(engine)
    if revision is None:
        try:
            revision = _create_schema(engine)
        except DBAPIError as exc:
            if current_revision(engine) == HEAD:
                return
            raise CairnException(
                f"Could not create Cairn's schema in "
                f"{engine.url.render_as_string(hide_password=True)}: {exc.orig}. "
                "Does the database hold tables that Cairn did not create?"
            ) from exc
    if revision != HEAD:
        raise CairnException(
            f"The database schema is at revision {revision}, this Cairn needs {HEAD}. "
            "Back up the database, then run: cairn db upgrade <URI>"
        )
