"""users: session version (logout and password change end every session); sites: calendar-feed token version

Revision ID: 0008_session_and_feed_versions
Revises: see down_revision
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_session_and_feed_versions'
down_revision = '0007_site_media_node'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('sites') as batch_op:
        batch_op.add_column(sa.Column('feed_version', sa.Integer(), nullable=False, server_default='1'))


def downgrade():
    with op.batch_alter_table('sites') as batch_op:
        batch_op.drop_column('feed_version')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('session_version')
