"""Draw tables (双随机抽取): the commitment, the population snapshot, the selection.

A draw is committed (seed hash, population hash, strata and sizes recorded) before it runs;
the seed is revealed after. Nothing of a draw is ever overwritten: a re-draw is a new row that
names the draw it supersedes and why.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkonce.db import Base, one_of, utcnow
from checkonce.plans.models import PlanTask
from checkonce.registry.models import Enterprise

DRAW_STATES = ("committed", "drawn", "revealed", "published")
DRAW_STATE_NAMES = {
    "committed": "已承诺（未抽取）",
    "drawn": "已抽取（种子未公开）",
    "revealed": "已公开种子",
    "published": "已公开",
}


class Draw(Base):
    """One double-random draw over one population, shared by one or more departments'
    random specs (部门联合双随机 when there are several)."""

    __tablename__ = "draw"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(16), default="committed")
    title: Mapped[str] = mapped_column(String(200), default="")
    # The seed stays in the database but is published only at reveal.
    seed: Mapped[str] = mapped_column(String(64))
    seed_sha256: Mapped[str] = mapped_column(String(64))
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

    specs: Mapped[list[DrawSpec]] = relationship(
        back_populates="draw", order_by="DrawSpec.position", cascade="all, delete-orphan"
    )
    members: Mapped[list[DrawMember]] = relationship(
        back_populates="draw", order_by="DrawMember.credit_code", cascade="all, delete-orphan"
    )
    supersedes: Mapped[Draw | None] = relationship(remote_side=[id])

    __table_args__ = (
        CheckConstraint(one_of("state", DRAW_STATES), name="state_known"),
        CheckConstraint("length(seed) = 64 AND length(seed_sha256) = 64", name="seed_hex"),
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
