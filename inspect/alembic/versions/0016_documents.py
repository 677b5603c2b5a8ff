"""documents: the visit's paperwork (numbered documents, their per-department yearly
sequence, signatures of the on-site record), the enterprise's requests for another day, and
the outbox of messages to enterprises

Revision ID: 0016_documents
Revises: 0013_hardening
Create Date: 2026-12-04 16:19:47.294298
"""

from alembic import op
import sqlalchemy as sa


revision = '0016_documents'
down_revision = '0013_hardening'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document_sequence',
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.CheckConstraint('last_number >= 0', name=op.f('ck_document_sequence_last_number_nonnegative')),
    sa.CheckConstraint('year BETWEEN 2000 AND 2100', name=op.f('ck_document_sequence_year_range')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_document_sequence_department_id_department')),
    sa.PrimaryKeyConstraint('department_id', 'year', name=op.f('pk_document_sequence'))
    )
    op.create_table('inspection_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('visit_code', sa.String(length=16), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('doc_no', sa.String(length=60), nullable=False),
    sa.Column('verify_token', sa.String(length=32), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('signed_sha256', sa.String(length=64), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('generated_by', sa.String(length=80), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('approval', 'notice', 'onsite_record', 'result_notice', 'rectification_order')", name=op.f('ck_inspection_document_kind_known')),
    sa.CheckConstraint("signed_sha256 IS NULL OR kind = 'onsite_record'", name=op.f('ck_inspection_document_only_record_is_signed')),
    sa.CheckConstraint('length(sha256) = 64', name=op.f('ck_inspection_document_sha256_length')),
    sa.CheckConstraint('number >= 1', name=op.f('ck_inspection_document_number_positive')),
    sa.CheckConstraint('revision >= 1', name=op.f('ck_inspection_document_revision_positive')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_inspection_document_department_id_department')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_inspection_document_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_inspection_document_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_document')),
    sa.UniqueConstraint('department_id', 'year', 'number', name=op.f('uq_inspection_document_department_id_year_number')),
    sa.UniqueConstraint('doc_no', name=op.f('uq_inspection_document_doc_no')),
    sa.UniqueConstraint('kind', 'visit_id', 'department_id', name=op.f('uq_inspection_document_kind_visit_id_department_id')),
    sa.UniqueConstraint('verify_token', name=op.f('uq_inspection_document_verify_token'))
    )
    with op.batch_alter_table('inspection_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_document_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_document_visit_id'), ['visit_id'], unique=False)

    op.create_table('reschedule_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('visit_code', sa.String(length=16), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('from_day', sa.Date(), nullable=False),
    sa.Column('to_day', sa.Date(), nullable=False),
    sa.Column('start', sa.Time(), nullable=False),
    sa.Column('end', sa.Time(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=True),
    sa.Column('requested_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=80), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state <> 'planned' OR schedule_id IS NOT NULL", name=op.f('ck_reschedule_request_planned_has_version')),
    sa.CheckConstraint("state IN ('pending', 'planned', 'lapsed', 'rejected')", name=op.f('ck_reschedule_request_state_known')),
    sa.CheckConstraint('from_day <> to_day', name=op.f('ck_reschedule_request_moves')),
    sa.CheckConstraint('start < "end"', name=op.f('ck_reschedule_request_time_order')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_reschedule_request_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedule_version.id'], name=op.f('fk_reschedule_request_schedule_id_schedule_version')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_reschedule_request_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reschedule_request')),
    sa.UniqueConstraint('period', 'visit_code', name=op.f('uq_reschedule_request_period_visit_code'))
    )
    with op.batch_alter_table('reschedule_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reschedule_request_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reschedule_request_visit_id'), ['visit_id'], unique=False)

    op.create_table('document_signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('signer', sa.String(length=12), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('image_sha256', sa.String(length=64), nullable=True),
    sa.Column('refused', sa.Boolean(), nullable=False),
    sa.Column('refusal_reason', sa.Text(), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=80), nullable=False),
    sa.CheckConstraint("signer <> 'inspector' OR (inspector_id IS NOT NULL AND NOT refused)", name=op.f('ck_document_signature_inspector_signs')),
    sa.CheckConstraint("signer IN ('inspector', 'enterprise')", name=op.f('ck_document_signature_signer_known')),
    sa.CheckConstraint('(refused AND image_sha256 IS NULL AND refusal_reason IS NOT NULL AND length(refusal_reason) > 0) OR (NOT refused AND image_sha256 IS NOT NULL)', name=op.f('ck_document_signature_image_or_refusal')),
    sa.CheckConstraint('length(name) > 0', name=op.f('ck_document_signature_has_name')),
    sa.ForeignKeyConstraint(['document_id'], ['inspection_document.id'], name=op.f('fk_document_signature_document_id_inspection_document'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inspector_id'], ['inspector.id'], name=op.f('fk_document_signature_inspector_id_inspector')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_signature')),
    sa.UniqueConstraint('document_id', 'inspector_id', name=op.f('uq_document_signature_document_id_inspector_id'))
    )
    with op.batch_alter_table('document_signature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_signature_document_id'), ['document_id'], unique=False)
        batch_op.create_index('uq_document_signature_one_enterprise', ['document_id'], unique=True, sqlite_where=sa.text("signer = 'enterprise'"), postgresql_where=sa.text("signer = 'enterprise'"))

    op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=24), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name=op.f('ck_outbox_message_status_known')),
    sa.ForeignKeyConstraint(['document_id'], ['inspection_document.id'], name=op.f('fk_outbox_message_document_id_inspection_document')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_outbox_message_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], name=op.f('fk_outbox_message_notification_id_notification')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_message'))
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_message_enterprise_id'), ['enterprise_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_message_enterprise_id'))

    op.drop_table('outbox_message')
    with op.batch_alter_table('document_signature', schema=None) as batch_op:
        batch_op.drop_index('uq_document_signature_one_enterprise', sqlite_where=sa.text("signer = 'enterprise'"), postgresql_where=sa.text("signer = 'enterprise'"))
        batch_op.drop_index(batch_op.f('ix_document_signature_document_id'))

    op.drop_table('document_signature')
    with op.batch_alter_table('reschedule_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reschedule_request_visit_id'))
        batch_op.drop_index(batch_op.f('ix_reschedule_request_enterprise_id'))

    op.drop_table('reschedule_request')
    with op.batch_alter_table('inspection_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_document_visit_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_document_enterprise_id'))

    op.drop_table('inspection_document')
    op.drop_table('document_sequence')
