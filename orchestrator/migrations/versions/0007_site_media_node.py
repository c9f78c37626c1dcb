"""sites: the media node (relay) that serves a site and the sites below it

Revision ID: 0007_site_media_node
Revises: see down_revision
"""
import sqlalchemy as sa
from alembic import op

revision = '0007_site_media_node'
down_revision = '0006_media_products'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sites') as batch_op:
        batch_op.add_column(sa.Column('media_node_url', sa.String(length=300), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('sites') as batch_op:
        batch_op.drop_column('media_node_url')
