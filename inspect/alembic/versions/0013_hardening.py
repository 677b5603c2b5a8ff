"""hardening: app_user.token_version (tokens and sessions die when an account changes),
login_attempt.device (throttling per known device), schedule_job.owner/request and one
active schedule generation per period

Revision ID: 0013_hardening
Revises: 0012_joint_v2
Create Date: 2026-12-04 16:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0013_hardening'
down_revision = '0012_joint_v2'
branch_labels = None
depends_on = None

ACTIVE = "state IN ('queued', 'running')"


def upgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device', sa.String(length=64), nullable=True))
    # Runs left queued or running by an older version are ended here: they have no owner to
    # tell whether their process lives, and would otherwise block the period for ever.
    op.execute(
        "UPDATE schedule_job SET state = 'failed', message = '排程生成已中断（系统升级前未完成），可重新发起' "
        f"WHERE {ACTIVE}"
    )
    with op.batch_alter_table('schedule_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=120), server_default='', nullable=False))
        batch_op.add_column(sa.Column('request', sa.JSON(), nullable=True))
        batch_op.create_index(
            'uq_schedule_job_one_active',
            ['period'],
            unique=True,
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )


def downgrade() -> None:
    with op.batch_alter_table('schedule_job', schema=None) as batch_op:
        batch_op.drop_index('uq_schedule_job_one_active')
        batch_op.drop_column('request')
        batch_op.drop_column('owner')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_column('device')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('token_version')
