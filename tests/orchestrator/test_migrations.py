"""The Alembic migrations build exactly the schema the models describe (on PostgreSQL in CI)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from orchestrator.core import MIGRATIONS_DIR
from orchestrator.db import db


def _declared_in_models(obj, name, type_, reflected, compare_to) -> bool:
    # Full-text search indexes are expression indexes created by SQL in their migration (PostgreSQL
    # only); SQLAlchemy models cannot declare them, so the comparison leaves them out.
    return not (type_ == "index" and reflected and name and name.endswith("_fts"))


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"render_as_batch": True,
                                                         "include_object": _declared_in_models})
        assert compare_metadata(context, db.metadata) == []


def test_one_head_and_the_database_is_at_it(app):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1
    with db.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == tuple(heads)
