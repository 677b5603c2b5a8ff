"""joint visits v2: inspectors' extra certifications (also_for, 综合执法) and the calendar
a schedule version was made with

Revision ID: 0012_joint_v2
Revises: 0011_presence
Create Date: 2026-12-04 16:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0012_joint_v2'
down_revision = '0011_presence'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inspector_certification',
    sa.Column('inspector_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('basis', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_inspector_certification_department_id_department')),
    sa.ForeignKeyConstraint(['inspector_id'], ['inspector.id'], name=op.f('fk_inspector_certification_inspector_id_inspector'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('inspector_id', 'department_id', name=op.f('pk_inspector_certification'))
    )
    with op.batch_alter_table('schedule_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('schedule_version', schema=None) as batch_op:
        batch_op.drop_column('calendar')
    op.drop_table('inspector_certification')
