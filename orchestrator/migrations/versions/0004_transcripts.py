"""transcripts: glossaries on events and series, the cue index that portal search reads

Revision ID: 0004_transcripts
Revises: see down_revision
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_transcripts'
down_revision = '0002_sites_events'
branch_labels = None
# The series table comes from the scheduling migration; its glossary column needs it first.
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('glossary', sa.Text(), nullable=True))
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.add_column(sa.Column('glossary', sa.Text(), nullable=True))
    op.create_table('transcript_cues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('start', sa.Float(), nullable=False),
    sa.Column('end', sa.Float(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('folded', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_transcript_cues_recording_id_recordings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transcript_cues'))
    )
    with op.batch_alter_table('transcript_cues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transcript_cues_recording_id'), ['recording_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # Full-text search over the diacritic-free text ('simple': Vietnamese syllables are words).
        op.execute("CREATE INDEX ix_transcript_cues_fts ON transcript_cues "
                   "USING gin (to_tsvector('simple', folded))")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_transcript_cues_fts")
    with op.batch_alter_table('transcript_cues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transcript_cues_recording_id'))
    op.drop_table('transcript_cues')
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_column('glossary')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('glossary')
