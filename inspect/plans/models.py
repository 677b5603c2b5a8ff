"""Plan tables: a bureau's inspection plan (检查计划) for a year or quarter, its tasks of four
kinds, the audit trail of its state changes, and the concrete inspection tasks (enterprise,
department, item, window) that the scheduler consumes.

State and kind vocabularies live in check constraints so the database refuses nonsense even
when Python is bypassed.
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
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkonce.db import Base, one_of, utcnow
from checkonce.registry.models import CheckItem, Department, Enterprise

PLAN_STATES = ("draft", "submitted", "approved", "published")
PLAN_STATE_NAMES = {
    "draft": "草稿",
    "submitted": "已提交",
    "approved": "已审核",
    "published": "已公开",
}
TASK_KINDS = ("random", "special", "key", "triggered")
TASK_KIND_NAMES = {
    "random": "双随机抽查",
    "special": "专项检查",
    "key": "重点监管",
    "triggered": "触发式检查",
}
TRIGGER_REASONS = ("complaint", "handover", "enterprise_request", "recheck")
TRIGGER_REASON_NAMES = {
    "complaint": "投诉举报",
    "handover": "转办交办",
    "enterprise_request": "企业申请",
    "recheck": "整改复查",
}
RISK_STRATA = ("A", "B", "C", "D")


class Plan(Base):
    """A bureau's inspection plan for a period: "2027" (a year) or "2027Q1" (a quarter).

    A revised plan is a new version; earlier versions are kept as they were.
    """

    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    period: Mapped[str] = mapped_column(String(6))
    year: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16), default="draft")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(String(200), default="")

    department: Mapped[Department] = relationship()
    tasks: Mapped[list[PlanTask]] = relationship(
        back_populates="plan", order_by="PlanTask.position", cascade="all, delete-orphan"
    )
    events: Mapped[list[PlanEvent]] = relationship(
        back_populates="plan", order_by="PlanEvent.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("department_id", "period", "version"),
        CheckConstraint(one_of("state", PLAN_STATES), name="state_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "substr(period, 1, 4) = CAST(year AS VARCHAR(4)) AND (length(period) = 4 OR "
            "(length(period) = 6 AND substr(period, 5, 2) IN ('Q1', 'Q2', 'Q3', 'Q4')))",
            name="period_format",
        ),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
    )

    @property
    def state_name(self) -> str:
        return PLAN_STATE_NAMES[self.state]


class PlanTask(Base):
    """One line of a plan. What it needs depends on its kind:

    - random (双随机抽查): one item, a scope filter and strata (ratio or count per risk class);
    - special (专项检查): campaign name, approval record (approver, date, document number),
      items, a scope that is not "everyone" and/or named enterprises;
    - key (重点监管): items and named enterprises;
    - triggered (投诉举报/转办/企业申请/复查): one item, one named enterprise, the reason,
      the day it was received and the workdays it is due within.
    """

    __tablename__ = "plan_task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    source_row: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[dt.date] = mapped_column(Date)
    window_end: Mapped[dt.date] = mapped_column(Date)
    # Scope over the registry: {"industries": [...], "districts": [...], "scenes": [...]};
    # an empty list means "no restriction" on that dimension.
    scope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Strata: {"A": {"ratio": 0.03}, "B": {"count": 5}}; None = the policy's ratios.
    strata: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    campaign_name: Mapped[str | None] = mapped_column(String(200))
    approver: Mapped[str | None] = mapped_column(String(80))
    approval_date: Mapped[dt.date | None] = mapped_column(Date)
    approval_document: Mapped[str | None] = mapped_column(String(120))
    trigger_reason: Mapped[str | None] = mapped_column(String(16))
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    due_workdays: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")

    plan: Mapped[Plan] = relationship(back_populates="tasks")
    items: Mapped[list[PlanTaskItem]] = relationship(
        order_by="PlanTaskItem.position", cascade="all, delete-orphan"
    )
    enterprises: Mapped[list[PlanTaskEnterprise]] = relationship(
        order_by="PlanTaskEnterprise.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("plan_id", "position"),
        CheckConstraint(one_of("kind", TASK_KINDS), name="kind_known"),
        CheckConstraint("window_start <= window_end", name="window_order"),
        CheckConstraint(
            "trigger_reason IS NULL OR " + one_of("trigger_reason", TRIGGER_REASONS),
            name="trigger_reason_known",
        ),
        CheckConstraint(
            "kind <> 'triggered' OR (trigger_reason IS NOT NULL AND received_on IS NOT NULL "
            "AND due_workdays IS NOT NULL)",
            name="triggered_complete",
        ),
        CheckConstraint("due_workdays IS NULL OR due_workdays >= 1", name="due_positive"),
    )

    @property
    def kind_name(self) -> str:
        return TASK_KIND_NAMES[self.kind]

    @property
    def item_list(self) -> list[CheckItem]:
        return [link.item for link in self.items]

    @property
    def enterprise_list(self) -> list[Enterprise]:
        return [link.enterprise for link in self.enterprises]

    @property
    def routine(self) -> bool:
        """Routine tasks count against the yearly caps; triggered ones are exempt."""
        return self.kind != "triggered"


class PlanTaskItem(Base):
    """An item of a plan task (random and triggered tasks have exactly one)."""

    __tablename__ = "plan_task_item"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("plan_task.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("check_item.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    item: Mapped[CheckItem] = relationship()


class PlanTaskEnterprise(Base):
    """An enterprise named by a plan task (key, triggered, or a campaign's named targets)."""

    __tablename__ = "plan_task_enterprise"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("plan_task.id", ondelete="CASCADE"), primary_key=True
    )
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    enterprise: Mapped[Enterprise] = relationship()


class PlanEvent(Base):
    """Audit record of a plan: who did what, when, from which state to which."""

    __tablename__ = "plan_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")

    plan: Mapped[Plan] = relationship(back_populates="events")

    __table_args__ = (
        CheckConstraint(
            "from_state IS NULL OR " + one_of("from_state", PLAN_STATES), name="from_state_known"
        ),
        CheckConstraint(one_of("to_state", PLAN_STATES), name="to_state_known"),
        CheckConstraint("length(actor) > 0", name="actor_present"),
    )


class InspectionTask(Base):
    """A concrete task the scheduler places: one enterprise, one department, one item, a
    window of days. Key, special and triggered plan tasks become these when the plan is
    approved; random ones when their draw runs. Fields match the scheduler's task
    (schemas/INTERCHANGE.md): enterprise, department, item, kind, window, minutes, team,
    mergeable.

    Tasks are never deleted when a draw is repeated: the superseded draw's tasks are marked
    inactive and keep pointing at their draw.
    """

    __tablename__ = "inspection_task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"), index=True)
    plan_task_id: Mapped[int] = mapped_column(ForeignKey("plan_task.id"), index=True)
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("draw.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("check_item.id"))
    kind: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[dt.date] = mapped_column(Date)
    window_end: Mapped[dt.date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    team: Mapped[int] = mapped_column(Integer)
    mergeable: Mapped[bool] = mapped_column(Boolean, default=True)
    announced: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    enterprise: Mapped[Enterprise] = relationship()
    department: Mapped[Department] = relationship()
    item: Mapped[CheckItem] = relationship()
    plan_task: Mapped[PlanTask] = relationship()

    __table_args__ = (
        UniqueConstraint("plan_task_id", "draw_id", "enterprise_id", "item_id"),
        CheckConstraint(one_of("kind", TASK_KINDS), name="kind_known"),
        CheckConstraint("window_start <= window_end", name="window_order"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
        CheckConstraint("team >= 1", name="team_positive"),
        CheckConstraint("kind <> 'random' OR draw_id IS NOT NULL", name="random_has_draw"),
    )

    def to_interchange(self) -> dict[str, Any]:
        """The task as the scheduler's interchange format spells it."""
        return {
            "id": f"T{self.id:06d}",
            "enterprise": self.enterprise.credit_code,
            "department": self.department.code,
            "item": self.item.code,
            "kind": self.kind,
            "window": [self.window_start.isoformat(), self.window_end.isoformat()],
            "minutes": self.minutes,
            "team": self.team,
            "mergeable": self.mergeable,
        }
