"""draw ceremony: the secret seed sealed until reveal, the public beacon (source, day, value)
and the final seed, the audit head at commit, abandoned and superseded draws, redraw requests
decided by a second person of the new legal-review role (法制审核, `legal`)

Revision ID: 0010_draw_ceremony
Revises: 0009_audit
Create Date: 2026-12-04 16:21:38.041226
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_draw_ceremony'
down_revision = '0009_audit'
branch_labels = None
depends_on = None

DRAW_STATES = ("committed", "drawn", "revealed", "published", "abandoned", "superseded")
OLD_DRAW_STATES = ("committed", "drawn", "revealed", "published")
ROLES = ("admin", "coordinator", "legal", "bureau", "inspector", "enterprise")
OLD_ROLES = ("admin", "coordinator", "bureau", "inspector", "enterprise")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.create_table('redraw_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.String(length=80), nullable=False),
    sa.Column('requested_by_user_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=80), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('new_draw_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state = 'approved' OR new_draw_id IS NULL", name=op.f('ck_redraw_request_new_draw_if_approved')),
    sa.CheckConstraint("state = 'pending' OR (decided_by IS NOT NULL AND decision_note IS NOT NULL AND length(decision_note) > 0)", name=op.f('ck_redraw_request_decision_recorded')),
    sa.CheckConstraint("state IN ('pending', 'approved', 'rejected')", name=op.f('ck_redraw_request_state_known')),
    sa.CheckConstraint('decided_by IS NULL OR decided_by <> requested_by', name=op.f('ck_redraw_request_second_person')),
    sa.CheckConstraint('decided_by_user_id IS NULL OR requested_by_user_id IS NULL OR decided_by_user_id <> requested_by_user_id', name=op.f('ck_redraw_request_second_account')),
    sa.CheckConstraint('length(reason) > 0', name=op.f('ck_redraw_request_has_reason')),
    sa.ForeignKeyConstraint(['draw_id'], ['draw.id'], name=op.f('fk_redraw_request_draw_id_draw')),
    sa.ForeignKeyConstraint(['new_draw_id'], ['draw.id'], name=op.f('fk_redraw_request_new_draw_id_draw')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redraw_request')),
    sa.UniqueConstraint('new_draw_id', name=op.f('uq_redraw_request_new_draw_id'))
    )
    with op.batch_alter_table('redraw_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redraw_request_draw_id'), ['draw_id'], unique=False)
        batch_op.create_index('uq_redraw_request_one_pending', ['draw_id'], unique=True, sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))

    with op.batch_alter_table('draw', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seed_sealed', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('beacon_source', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('beacon_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('beacon_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('beacon_value', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('beacon_recorded_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('beacon_recorded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('final_seed', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('audit_seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('audit_hash', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('ended_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('end_reason', sa.Text(), nullable=True))
        batch_op.alter_column('seed',
               existing_type=sa.VARCHAR(length=64),
               nullable=True)
        batch_op.drop_constraint(op.f('ck_draw_state_known'), type_='check')
        batch_op.drop_constraint(op.f('ck_draw_seed_hex'), type_='check')
        batch_op.create_check_constraint('state_known', f"state IN ({_quoted(DRAW_STATES)})")
        batch_op.create_check_constraint(
            'seed_hex', "(seed IS NULL OR length(seed) = 64) AND length(seed_sha256) = 64"
        )
        batch_op.create_check_constraint('seed_kept', "seed IS NOT NULL OR seed_sealed IS NOT NULL")
        batch_op.create_check_constraint(
            'beacon_value_has_day', "beacon_value IS NULL OR beacon_date IS NOT NULL"
        )
        batch_op.create_check_constraint(
            'seed_public_when_revealed',
            "state NOT IN ('revealed', 'published', 'abandoned', 'superseded') OR seed IS NOT NULL",
        )

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_app_user_role_known'), type_='check')
        batch_op.create_check_constraint('role_known', f"role IN ({_quoted(ROLES)})")

    # The schedule's inspector-ranking key: where it came from (versions made before are
    # "legacy"), and the draws it was derived from.
    with op.batch_alter_table('schedule_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seed_source', sa.String(length=12), server_default='legacy', nullable=False))
        batch_op.add_column(sa.Column('seed_draws', sa.JSON(), server_default='[]', nullable=False))
        batch_op.create_check_constraint(
            'seed_source_known', "seed_source IN ('draws', 'experiment', 'legacy')"
        )
        batch_op.create_check_constraint(
            'published_key_derived', "state <> 'published' OR seed_source <> 'experiment'"
        )


def downgrade() -> None:
    with op.batch_alter_table('schedule_version', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_schedule_version_published_key_derived'), type_='check')
        batch_op.drop_constraint(op.f('ck_schedule_version_seed_source_known'), type_='check')
        batch_op.drop_column('seed_draws')
        batch_op.drop_column('seed_source')

    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM draw WHERE seed IS NULL")).scalar():
        raise RuntimeError(
            "draws with a sealed, unrevealed seed exist: run or abandon them before downgrading"
        )
    if bind.execute(sa.text("SELECT count(*) FROM app_user WHERE role = 'legal'")).scalar():
        raise RuntimeError("legal-review accounts exist: remove them before downgrading")
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_app_user_role_known'), type_='check')
        batch_op.create_check_constraint('role_known', f"role IN ({_quoted(OLD_ROLES)})")

    op.execute("UPDATE draw SET state = 'published' WHERE state IN ('abandoned', 'superseded')")
    with op.batch_alter_table('draw', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_draw_seed_public_when_revealed'), type_='check')
        batch_op.drop_constraint(op.f('ck_draw_beacon_value_has_day'), type_='check')
        batch_op.drop_constraint(op.f('ck_draw_seed_kept'), type_='check')
        batch_op.drop_constraint(op.f('ck_draw_seed_hex'), type_='check')
        batch_op.drop_constraint(op.f('ck_draw_state_known'), type_='check')
        batch_op.create_check_constraint('state_known', f"state IN ({_quoted(OLD_DRAW_STATES)})")
        batch_op.create_check_constraint(
            'seed_hex', "length(seed) = 64 AND length(seed_sha256) = 64"
        )
    with op.batch_alter_table('draw', schema=None) as batch_op:
        batch_op.alter_column('seed',
               existing_type=sa.VARCHAR(length=64),
               nullable=False)
        batch_op.drop_column('end_reason')
        batch_op.drop_column('ended_at')
        batch_op.drop_column('ended_by')
        batch_op.drop_column('audit_hash')
        batch_op.drop_column('audit_seq')
        batch_op.drop_column('final_seed')
        batch_op.drop_column('beacon_recorded_at')
        batch_op.drop_column('beacon_recorded_by')
        batch_op.drop_column('beacon_value')
        batch_op.drop_column('beacon_date')
        batch_op.drop_column('beacon_name')
        batch_op.drop_column('beacon_source')
        batch_op.drop_column('seed_sealed')

    with op.batch_alter_table('redraw_request', schema=None) as batch_op:
        batch_op.drop_index('uq_redraw_request_one_pending', sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_redraw_request_draw_id'))

    op.drop_table('redraw_request')
