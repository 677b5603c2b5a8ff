"""Schedules in the database: versions of the merged schedule of a period, their visits
(综合查一次: one entry, many tasks), the teams drawn for them, and tasks left out.

A version is generated as a draft and published atomically: the partial unique index keeps
at most one published version per period, and publishing supersedes the previous one in the
same transaction, so the old one stays in force until the new one is committed whole."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkonce.db import Base, one_of, utcnow
from checkonce.plans.models import InspectionTask
from checkonce.registry.models import Department, Enterprise, Inspector

SCHEDULE_STATES = ("draft", "published", "superseded", "discarded")
SEED_SOURCES = ("draws", "experiment", "legacy")
VISIT_STATES = ("scheduled", "checked_in", "completed", "missed", "cancelled")
JOB_STATES = ("queued", "running", "done", "failed")


class ScheduleVersion(Base):
    """One solve of a period's merged schedule, with its seed, metrics and verifier report."""

    __tablename__ = "schedule_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(8), index=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12), default="draft")
    # The inspector-ranking key: derived from the period's published draws ("draws", with
    # their ids in seed_draws), or given by hand for an experiment ("experiment", never
    # publishable); "legacy" for versions made before the key was derived.
    seed: Mapped[str] = mapped_column(String(64))
    seed_source: Mapped[str] = mapped_column(String(12), default="legacy", server_default="legacy")
    seed_draws: Mapped[list[int]] = mapped_column(JSON, default=list, server_default="[]")
    instance_name: Mapped[str] = mapped_column(String(120), default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    verifier_report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    violations: Mapped[int] = mapped_column(Integer, default=0)
    # The calendar the version was planned on: {"years": [WorkCalendar.year_record, …]}.
    calendar: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("schedule_version.id"))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(80))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    visits: Mapped[list[Visit]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan", order_by="Visit.id"
    )
    unscheduled: Mapped[list[UnscheduledTask]] = relationship(cascade="all, delete-orphan")

    @property
    def provisional_years(self) -> list[int]:
        """Years of its calendar that were provisional (holidays may still move)."""
        years = (self.calendar or {}).get("years", [])
        return [y["year"] for y in years if y.get("status") == "provisional"]

    __table_args__ = (
        UniqueConstraint("period", "version"),
        CheckConstraint(one_of("state", SCHEDULE_STATES), name="state_known"),
        CheckConstraint("violations >= 0", name="violations_nonnegative"),
        CheckConstraint(one_of("seed_source", SEED_SOURCES), name="seed_source_known"),
        # An experiment's hand-chosen key would choose who inspects: never in force.
        CheckConstraint(
            "state <> 'published' OR seed_source <> 'experiment'", name="published_key_derived"
        ),
        # A version with verifier violations is a bug and can never be in force.
        CheckConstraint("state <> 'published' OR violations = 0", name="published_is_clean"),
        Index(
            "uq_schedule_version_one_published",
            "period",
            unique=True,
            sqlite_where=text("state = 'published'"),
            postgresql_where=text("state = 'published'"),
        ),
    )


class Visit(Base):
    """One entry into one enterprise on one day by a joint team (综合查一次)."""

    __tablename__ = "visit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_version.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(16))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    start: Mapped[dt.time] = mapped_column(Time)
    end: Mapped[dt.time] = mapped_column(Time)
    lead_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    announced: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(12), default="scheduled")
    # Carried over unchanged from the version it was frozen in (checked in, done, or due soon).
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    travel_km: Mapped[float] = mapped_column(Float, default=0.0)

    schedule: Mapped[ScheduleVersion] = relationship(back_populates="visits")
    enterprise: Mapped[Enterprise] = relationship()
    lead_department: Mapped[Department] = relationship()
    tasks: Mapped[list[VisitTask]] = relationship(
        cascade="all, delete-orphan", order_by="VisitTask.inspection_task_id"
    )
    team: Mapped[list[VisitInspector]] = relationship(
        cascade="all, delete-orphan", order_by="VisitInspector.position"
    )

    __table_args__ = (
        UniqueConstraint("schedule_id", "code"),
        UniqueConstraint("schedule_id", "enterprise_id", "day"),
        CheckConstraint(one_of("state", VISIT_STATES), name="state_known"),
        CheckConstraint('start < "end"', name="time_order"),
    )


class VisitTask(Base):
    __tablename__ = "visit_task"

    visit_id: Mapped[int] = mapped_column(
        ForeignKey("visit.id", ondelete="CASCADE"), primary_key=True
    )
    inspection_task_id: Mapped[int] = mapped_column(
        ForeignKey("inspection_task.id"), primary_key=True
    )

    task: Mapped[InspectionTask] = relationship()


class VisitInspector(Base):
    """A member of a visit's team, in the order the draw ranked them."""

    __tablename__ = "visit_inspector"

    visit_id: Mapped[int] = mapped_column(
        ForeignKey("visit.id", ondelete="CASCADE"), primary_key=True
    )
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    inspector: Mapped[Inspector] = relationship()

    __table_args__ = (CheckConstraint("position >= 0", name="position_nonnegative"),)


class UnscheduledTask(Base):
    """A task a version could not place, with the reason the solver gave."""

    __tablename__ = "unscheduled_task"

    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_version.id", ondelete="CASCADE"), primary_key=True
    )
    inspection_task_id: Mapped[int] = mapped_column(
        ForeignKey("inspection_task.id"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(Text)


class ScheduleJob(Base):
    """A background schedule generation: its progress is polled by the coordinator's page."""

    __tablename__ = "schedule_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(8), default="queued")
    stage: Mapped[str] = mapped_column(String(40), default="")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(80))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedule_version.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The process running it ("host:pid"), so a run whose process is gone can be told from
    # one still working; and what was asked, so an interrupted run can be retried as it was.
    owner: Mapped[str] = mapped_column(String(120), default="", server_default="")
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        CheckConstraint(one_of("state", JOB_STATES), name="state_known"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress_range"),
        # One generation per period at a time: a second request is refused by the database
        # itself, however many arrive at once.
        Index(
            "uq_schedule_job_one_active",
            "period",
            unique=True,
            sqlite_where=text("state IN ('queued', 'running')"),
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
    )


REPORT_KINDS = ("unregistered_inspection", "other")


class EnterpriseReport(Base):
    """A problem an enterprise reports (企业反映): an inspection that was not registered
    (no scan of the enterprise code, no valid inspection code: 未登记检查) or another one.
    Coordinators read them; the enterprise's own words are kept as written."""

    __tablename__ = "enterprise_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    happened_on: Mapped[dt.date] = mapped_column(Date)
    happened_at: Mapped[dt.time | None] = mapped_column(Time)
    # What the visitors said of themselves: their department and who they were.
    department_said: Mapped[str] = mapped_column(String(100), default="")
    people: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(String(100), default="")
    reported_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )

    enterprise: Mapped[Enterprise] = relationship()

    __table_args__ = (
        CheckConstraint(one_of("kind", REPORT_KINDS), name="kind_known"),
        CheckConstraint("length(description) > 0", name="has_description"),
    )
