"""enterprise reports: what enterprises report to the coordinators (an unregistered
inspection, or another problem), from the enterprise's report page

Revision ID: 0008_enterprise_reports
Revises: 0007_jobs
Create Date: 2026-11-21 22:29:28.409549
"""

from alembic import op
import sqlalchemy as sa


revision = '0008_enterprise_reports'
down_revision = '0007_jobs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('enterprise_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('happened_on', sa.Date(), nullable=False),
    sa.Column('happened_at', sa.Time(), nullable=True),
    sa.Column('department_said', sa.String(length=100), nullable=False),
    sa.Column('people', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('contact', sa.String(length=100), nullable=False),
    sa.Column('reported_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('unregistered_inspection', 'other')", name=op.f('ck_enterprise_report_kind_known')),
    sa.CheckConstraint('length(description) > 0', name=op.f('ck_enterprise_report_has_description')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_enterprise_report_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise_report'))
    )
    with op.batch_alter_table('enterprise_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_report_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_report_enterprise_id'), ['enterprise_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('enterprise_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprise_report_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_enterprise_report_created_at'))

    op.drop_table('enterprise_report')
