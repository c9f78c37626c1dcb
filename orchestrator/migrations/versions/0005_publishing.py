"""publishing: channel credentials and per-channel publication state

Revision ID: 0005_publishing
Revises: see down_revision
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_publishing'
down_revision = '0004_transcripts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credentials_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('credentials_expire_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_check', sa.JSON(), nullable=True))
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('options', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('remote_state', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('error_code', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('rq_job_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('approved_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_publications_approved_by_id_users'), 'users',
                                    ['approved_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_publications_approved_by_id_users'), type_='foreignkey')
        for name in ('updated_at', 'approved_by_id', 'rq_job_id', 'error_code', 'remote_state', 'scheduled_at',
                     'options', 'description', 'title'):
            batch_op.drop_column(name)
    with op.batch_alter_table('channels', schema=None) as batch_op:
        for name in ('last_check', 'credentials_expire_at', 'credentials_encrypted'):
            batch_op.drop_column(name)
