"""Draw tables (双随机抽取): the commitment, the beacon, the population snapshot, the
selection, and the requests to draw again.

A draw is committed (secret-seed hash, population hash, strata and sizes, beacon source and
day recorded and published) before it runs; the public beacon is entered on or after its
day; the run draws with SHA-256(secret ‖ beacon) and reveals the secret. Nothing of a draw is
ever overwritten: a re-draw is a new row that names the draw it supersedes and why, and only
an approved redraw request (a second person, of the legal-review role) creates one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkonce.db import Base, one_of, utcnow
from checkonce.plans.models import PlanTask
from checkonce.registry.models import Enterprise

DRAW_STATES = ("committed", "drawn", "revealed", "published", "abandoned", "superseded")
DRAW_STATE_NAMES = {
    "committed": "已承诺（未抽取）",
    "drawn": "已抽取（种子未公开）",
    "revealed": "已抽取（种子已公开）",
    "published": "已公示",
    "abandoned": "已作废（未抽取）",
    "superseded": "已被重新抽取取代",
}
# States whose secret seed is public: the run draws (revealed with the result) and the
# abandoned and superseded ones (revealed when the redraw was approved).
SEED_PUBLIC_STATES = ("revealed", "published", "abandoned", "superseded")
REDRAW_STATES = ("pending", "approved", "rejected")
REDRAW_STATE_NAMES = {"pending": "待审核", "approved": "已批准", "rejected": "已驳回"}


class Draw(Base):
    """One double-random draw over one population, shared by one or more departments'
    random specs (部门联合双随机 when there are several)."""

    __tablename__ = "draw"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(16), default="committed")
    title: Mapped[str] = mapped_column(String(200), default="")
    # The secret seed is kept sealed (AES-GCM under a key derived from the server secret,
    # see sampling/secrets.py) until the run or an approved redraw reveals it; only then is
    # it written here in clear. Draws of before the ceremony (no beacon) have it in clear.
    seed: Mapped[str | None] = mapped_column(String(64))
    seed_sealed: Mapped[str | None] = mapped_column(String(200))
    seed_sha256: Mapped[str] = mapped_column(String(64))
    # The public beacon (公开随机源), fixed at commit: its source and day; its value is
    # entered on or after that day. final_seed = SHA-256(secret ‖ beacon) keys the ranking.
    beacon_source: Mapped[str | None] = mapped_column(String(40))
    beacon_name: Mapped[str | None] = mapped_column(String(120))
    beacon_date: Mapped[dt.date | None] = mapped_column(Date)
    beacon_value: Mapped[str | None] = mapped_column(String(40))
    beacon_recorded_by: Mapped[str | None] = mapped_column(String(80))
    beacon_recorded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    final_seed: Mapped[str | None] = mapped_column(String(64))
    # The audit trail's head when the draw was committed: the registry as it stood then.
    audit_seq: Mapped[int | None] = mapped_column(Integer)
    audit_hash: Mapped[str | None] = mapped_column(String(128))
    population_sha256: Mapped[str] = mapped_column(String(64))
    population_size: Mapped[int] = mapped_column(Integer)
    # [{"name": "B", "ratio": "0.1", "count": null, "size": 40, "n": 4,
    #   "population_sha256": "…"}]
    strata: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    exclude_drawn_same_item_year: Mapped[bool] = mapped_column(Boolean)
    whitelist_rule: Mapped[str] = mapped_column(String(200), default="")
    commitment_sha256: Mapped[str] = mapped_column(String(64))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("draw.id"), unique=True)
    redraw_reason: Mapped[str | None] = mapped_column(Text)
    committed_by: Mapped[str] = mapped_column(String(80))
    committed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    drawn_by: Mapped[str | None] = mapped_column(String(80))
    drawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revealed_by: Mapped[str | None] = mapped_column(String(80))
    revealed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(80))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str | None] = mapped_column(String(80))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(Text)

    specs: Mapped[list[DrawSpec]] = relationship(
        back_populates="draw", order_by="DrawSpec.position", cascade="all, delete-orphan"
    )
    members: Mapped[list[DrawMember]] = relationship(
        back_populates="draw", order_by="DrawMember.credit_code", cascade="all, delete-orphan"
    )
    supersedes: Mapped[Draw | None] = relationship(remote_side=[id])

    __table_args__ = (
        CheckConstraint(one_of("state", DRAW_STATES), name="state_known"),
        CheckConstraint(
            "(seed IS NULL OR length(seed) = 64) AND length(seed_sha256) = 64", name="seed_hex"
        ),
        CheckConstraint("seed IS NOT NULL OR seed_sealed IS NOT NULL", name="seed_kept"),
        CheckConstraint(
            "beacon_value IS NULL OR beacon_date IS NOT NULL", name="beacon_value_has_day"
        ),
        CheckConstraint(
            "state NOT IN ('revealed', 'published', 'abandoned', 'superseded') OR seed IS NOT NULL",
            name="seed_public_when_revealed",
        ),
        CheckConstraint("population_size >= 0", name="population_nonnegative"),
        CheckConstraint(
            "supersedes_id IS NULL OR (redraw_reason IS NOT NULL AND length(redraw_reason) > 0)",
            name="redraw_has_reason",
        ),
        CheckConstraint("supersedes_id IS NULL OR supersedes_id <> id", name="not_self"),
    )

    @property
    def state_name(self) -> str:
        return DRAW_STATE_NAMES[self.state]

    @property
    def seed_public(self) -> bool:
        """Whether the secret seed has been revealed (never before the run or abandonment)."""
        return self.state in SEED_PUBLIC_STATES

    @property
    def ceremony(self) -> bool:
        """Drawn with a public beacon (every draw since the ceremony; older ones are not)."""
        return self.beacon_source is not None


class DrawSpec(Base):
    """A random plan task served by a draw; a joint draw has one per department."""

    __tablename__ = "draw_spec"

    draw_id: Mapped[int] = mapped_column(
        ForeignKey("draw.id", ondelete="CASCADE"), primary_key=True
    )
    plan_task_id: Mapped[int] = mapped_column(ForeignKey("plan_task.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    draw: Mapped[Draw] = relationship(back_populates="specs")
    plan_task: Mapped[PlanTask] = relationship()


class DrawMember(Base):
    """One enterprise of the draw's population snapshot (or excluded from it, with the reason).

    `rank` and `selected` are filled when the draw runs.
    """

    __tablename__ = "draw_member"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    credit_code: Mapped[str] = mapped_column(String(18))
    stratum: Mapped[str] = mapped_column(String(8))
    excluded_reason: Mapped[str | None] = mapped_column(String(200))
    rank: Mapped[int | None] = mapped_column(Integer)
    selected: Mapped[bool] = mapped_column(Boolean, default=False)

    draw: Mapped[Draw] = relationship(back_populates="members")
    enterprise: Mapped[Enterprise] = relationship()

    __table_args__ = (
        UniqueConstraint("draw_id", "credit_code"),
        CheckConstraint(
            "excluded_reason IS NULL OR selected = false", name="excluded_not_selected"
        ),
        CheckConstraint("rank IS NULL OR rank >= 1", name="rank_positive"),
    )


class RedrawRequest(Base):
    """A request to draw again (申请重新抽取): made by a coordinator with a reason, decided by
    a second person of another role (法制审核, `legal`) with a reason of their own. Approval
    ends the old draw (abandoned, or superseded if it ran), reveals its seed, and commits the
    new draw at once; rejection changes nothing but is kept."""

    __tablename__ = "redraw_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"), index=True)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(80))
    requested_by_user_id: Mapped[int | None] = mapped_column(Integer)
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_by_user_id: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    new_draw_id: Mapped[int | None] = mapped_column(ForeignKey("draw.id"), unique=True)

    draw: Mapped[Draw] = relationship(foreign_keys=[draw_id])
    new_draw: Mapped[Draw | None] = relationship(foreign_keys=[new_draw_id])

    __table_args__ = (
        CheckConstraint(one_of("state", REDRAW_STATES), name="state_known"),
        CheckConstraint("length(reason) > 0", name="has_reason"),
        CheckConstraint(
            "state = 'pending' OR (decided_by IS NOT NULL AND decision_note IS NOT NULL "
            "AND length(decision_note) > 0)",
            name="decision_recorded",
        ),
        CheckConstraint("decided_by IS NULL OR decided_by <> requested_by", name="second_person"),
        CheckConstraint(
            "decided_by_user_id IS NULL OR requested_by_user_id IS NULL "
            "OR decided_by_user_id <> requested_by_user_id",
            name="second_account",
        ),
        CheckConstraint("state = 'approved' OR new_draw_id IS NULL", name="new_draw_if_approved"),
        # At most one open request per draw.
        Index(
            "uq_redraw_request_one_pending",
            "draw_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    @property
    def state_name(self) -> str:
        return REDRAW_STATE_NAMES[self.state]
