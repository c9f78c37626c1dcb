"""sites, series, participations, event documents; scheduling columns on events

Revision ID: 0002_sites_events
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_sites_events'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_series')),
    sa.UniqueConstraint('slug', name=op.f('uq_series_slug'))
    )
    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=40), nullable=False),
    sa.Column('unit_type', sa.String(length=40), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.String(length=400), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('room_name', sa.String(length=200), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('technician_name', sa.String(length=200), nullable=False),
    sa.Column('technician_phone', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['sites.id'], name=op.f('fk_sites_parent_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
    sa.UniqueConstraint('code', name=op.f('uq_sites_code'))
    )
    op.create_index(op.f('ix_sites_level'), 'sites', ['level'], unique=False)
    op.create_index(op.f('ix_sites_parent_id'), 'sites', ['parent_id'], unique=False)
    op.create_index(op.f('ix_sites_path'), 'sites', ['path'], unique=False)
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('series_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('host_site_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('speaker_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('studio_site_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('recurrence', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('recurrence_parent_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_events_series_id'), ['series_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_recurrence_parent_id'), ['recurrence_parent_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_events_series_id_series'), 'series', ['series_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_events_host_site_id_sites'), 'sites', ['host_site_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_events_speaker_id_users'), 'users', ['speaker_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_events_studio_site_id_sites'), 'sites', ['studio_site_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_events_recurrence_parent_id_events'), 'events',
                                    ['recurrence_parent_id'], ['id'])
    op.create_table('participations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('token_version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rtt_ms', sa.Float(), nullable=True),
    sa.Column('loss_pct', sa.Float(), nullable=True),
    sa.Column('bitrate_kbps', sa.Float(), nullable=True),
    sa.Column('attendance', sa.Integer(), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_participations_event_id_events')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_participations_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participations')),
    sa.UniqueConstraint('event_id', 'site_id', name='uq_participations_event_site')
    )
    op.create_index(op.f('ix_participations_event_id'), 'participations', ['event_id'], unique=False)
    op.create_index(op.f('ix_participations_site_id'), 'participations', ['site_id'], unique=False)
    op.create_table('event_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('content_type', sa.String(length=120), nullable=False),
    sa.Column('storage_key', sa.String(length=500), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_documents_event_id_events')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_event_documents_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_documents'))
    )
    op.create_index(op.f('ix_event_documents_event_id'), 'event_documents', ['event_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_event_documents_event_id'), table_name='event_documents')
    op.drop_table('event_documents')
    op.drop_index(op.f('ix_participations_site_id'), table_name='participations')
    op.drop_index(op.f('ix_participations_event_id'), table_name='participations')
    op.drop_table('participations')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_events_recurrence_parent_id_events'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_events_studio_site_id_sites'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_events_speaker_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_events_host_site_id_sites'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_events_series_id_series'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_events_recurrence_parent_id'))
        batch_op.drop_index(batch_op.f('ix_events_series_id'))
        batch_op.drop_column('recurrence_parent_id')
        batch_op.drop_column('recurrence')
        batch_op.drop_column('studio_site_id')
        batch_op.drop_column('speaker_id')
        batch_op.drop_column('host_site_id')
        batch_op.drop_column('series_id')
    op.drop_index(op.f('ix_sites_path'), table_name='sites')
    op.drop_index(op.f('ix_sites_parent_id'), table_name='sites')
    op.drop_index(op.f('ix_sites_level'), table_name='sites')
    op.drop_table('sites')
    op.drop_table('series')
