"""jobs: run records, notifications, day routes, certificate and publicity alerts, and
APScheduler's job store table

apscheduler_jobs is created here (same layout as APScheduler 3.x's SQLAlchemyJobStore) rather
than by the job store at start-up: the schema changes only through migrations, /readyz can
trust is_current(), and the model/migration comparison knows the table.

Revision ID: 0007_jobs
Revises: 0006_findings
Create Date: 2026-11-21 20:40:52.240759
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_jobs'
down_revision = '0006_findings'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.Unicode(length=191), nullable=False),
    sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apscheduler_jobs'))
    )
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apscheduler_jobs_next_run_time'), ['next_run_time'], unique=False)

    op.create_table('job_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('trigger', sa.String(length=12), nullable=False),
    sa.Column('for_day', sa.Date(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('host', sa.String(length=120), nullable=False),
    sa.CheckConstraint("status <> 'failed' OR error IS NOT NULL", name=op.f('ck_job_run_failure_has_error')),
    sa.CheckConstraint("status IN ('running', 'ok', 'failed', 'skipped')", name=op.f('ck_job_run_status_known')),
    sa.CheckConstraint("trigger IN ('scheduled', 'manual')", name=op.f('ck_job_run_trigger_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run'))
    )
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.create_index('ix_job_run_name_started', ['name', 'started_at'], unique=False)

    op.create_table('publicity_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('unpublished', sa.Integer(), nullable=False),
    sa.Column('unrecorded', sa.Integer(), nullable=False),
    sa.Column('oldest_due', sa.Date(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('overdue > 0', name=op.f('ck_publicity_alert_overdue_positive')),
    sa.CheckConstraint('overdue = unpublished + unrecorded', name=op.f('ck_publicity_alert_overdue_sum')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_publicity_alert_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publicity_alert')),
    sa.UniqueConstraint('department_id', 'day', name=op.f('uq_publicity_alert_department_id_day'))
    )
    with op.batch_alter_table('publicity_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publicity_alert_department_id'), ['department_id'], unique=False)

    op.create_table('certificate_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('certificate_valid_to', sa.Date(), nullable=False),
    sa.Column('raised_on', sa.Date(), nullable=False),
    sa.Column('days_left', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_certificate_alert_department_id_department')),
    sa.ForeignKeyConstraint(['inspector_id'], ['inspector.id'], name=op.f('fk_certificate_alert_inspector_id_inspector')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_alert')),
    sa.UniqueConstraint('inspector_id', 'certificate_valid_to', name=op.f('uq_certificate_alert_inspector_id_certificate_valid_to'))
    )
    with op.batch_alter_table('certificate_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_alert_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_alert_inspector_id'), ['inspector_id'], unique=False)

    op.create_table('day_route',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('stops', sa.JSON(), nullable=False),
    sa.Column('fixed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inspector_id'], ['inspector.id'], name=op.f('fk_day_route_inspector_id_inspector')),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedule_version.id'], name=op.f('fk_day_route_schedule_id_schedule_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_day_route')),
    sa.UniqueConstraint('day', 'inspector_id', name=op.f('uq_day_route_day_inspector_id'))
    )
    with op.batch_alter_table('day_route', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_day_route_inspector_id'), ['inspector_id'], unique=False)

    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('for_day', sa.Date(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('channel', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('visit_notice')", name=op.f('ck_notification_kind_known')),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f('ck_notification_status_known')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_notification_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('notified_visit',
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('visit_code', sa.String(length=16), nullable=False),
    sa.Column('visit_day', sa.Date(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_notified_visit_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], name=op.f('fk_notified_visit_notification_id_notification'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('enterprise_id', 'visit_code', 'visit_day', name=op.f('pk_notified_visit'))
    )
    with op.batch_alter_table('notified_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notified_visit_notification_id'), ['notification_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('notified_visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notified_visit_notification_id'))

    op.drop_table('notified_visit')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_enterprise_id'))

    op.drop_table('notification')
    with op.batch_alter_table('day_route', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_day_route_inspector_id'))

    op.drop_table('day_route')
    with op.batch_alter_table('certificate_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_alert_inspector_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_alert_department_id'))

    op.drop_table('certificate_alert')
    with op.batch_alter_table('publicity_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publicity_alert_department_id'))

    op.drop_table('publicity_alert')
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_index('ix_job_run_name_started')

    op.drop_table('job_run')
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apscheduler_jobs_next_run_time'))

    op.drop_table('apscheduler_jobs')
