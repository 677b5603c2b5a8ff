"""presence: the enterprise's confirmation of a check-in (到场确认) on the check-in itself:
its account, when and how (scanning the inspector's inspection code or a tap on its visit
page); complete or absent, only on planned check-ins, never before the check-in was recorded

Revision ID: 0011_presence
Revises: 0010_draw_ceremony
Create Date: 2026-12-04 16:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_presence'
down_revision = '0010_draw_ceremony'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('checkin', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('confirm_method', sa.String(length=16), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_checkin_confirmed_by_user_id_app_user'),
            'app_user',
            ['confirmed_by_user_id'],
            ['id'],
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_checkin_confirmation_complete'),
            "(confirmed_at IS NULL) = (confirmed_by IS NULL)"
            " AND (confirmed_at IS NULL) = (confirmed_by_user_id IS NULL)"
            " AND (confirmed_at IS NULL) = (confirm_method IS NULL)",
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_checkin_confirm_method_known'),
            "confirm_method IS NULL OR confirm_method IN ('inspection_code', 'visit_page')",
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_checkin_confirmed_is_planned'),
            "confirmed_at IS NULL OR visit_id IS NOT NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_checkin_confirmed_after_recorded'),
            "confirmed_at IS NULL OR confirmed_at >= recorded_at",
        )


def downgrade() -> None:
    with op.batch_alter_table('checkin', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_checkin_confirmed_after_recorded'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_checkin_confirmed_is_planned'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_checkin_confirm_method_known'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_checkin_confirmation_complete'), type_='check')
        batch_op.drop_constraint(
            batch_op.f('fk_checkin_confirmed_by_user_id_app_user'), type_='foreignkey'
        )
        batch_op.drop_column('confirm_method')
        batch_op.drop_column('confirmed_by')
        batch_op.drop_column('confirmed_by_user_id')
        batch_op.drop_column('confirmed_at')
