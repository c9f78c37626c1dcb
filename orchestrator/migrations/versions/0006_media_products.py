"""media products: trim decisions and social cuts, with their job state

Revision ID: 0006_media_products
Revises: see down_revision
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_media_products'
down_revision = '0005_publishing'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'media_products',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recording_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('percent', sa.Float(), nullable=False),
        sa.Column('params', sa.JSON(), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('error_code', sa.String(length=50), nullable=True),
        sa.Column('error_detail', sa.Text(), nullable=True),
        sa.Column('rq_job_id', sa.String(length=100), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'],
                                name=op.f('fk_media_products_recording_id_recordings')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_media_products_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_media_products')),
    )
    with op.batch_alter_table('media_products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_products_recording_id'), ['recording_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_products_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('media_products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_products_status'))
        batch_op.drop_index(batch_op.f('ix_media_products_recording_id'))
    op.drop_table('media_products')
