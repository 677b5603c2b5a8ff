"""Tables written by the background jobs: the record of every run, enterprise notifications,
fixed day routes, and the alerts the watches raise.

They live together in the jobs package because every row here is written by a job; the
domains own the facts (visits, inspectors, results), the jobs own what they concluded.
`apscheduler_jobs` is APScheduler's own job store table, declared here with APScheduler's
exact layout so that Alembic creates it and the model/migration comparison sees it: the
schema of the database is changed by migrations only, never by a process at start-up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from checkonce.db import Base, one_of, utcnow

RUN_STATUSES = ("running", "ok", "failed", "skipped")
RUN_TRIGGERS = ("scheduled", "manual")
NOTIFICATION_STATUSES = ("pending", "sent", "failed")
NOTIFICATION_KINDS = ("visit_notice",)

# APScheduler 3.x SQLAlchemyJobStore layout (apscheduler/jobstores/sqlalchemy.py): the job
# store is given a MetaData of its own and only creates the table when it is missing.
APSCHEDULER_TABLE = "apscheduler_jobs"
apscheduler_jobs = Table(
    APSCHEDULER_TABLE,
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


class JobRun(Base):
    """One run of a job, scheduled or started by hand: when, how it ended, what it did.

    A run is written in a transaction of its own before the job's work starts ("running")
    and finished in another one, so a run that crashed the process stays visible."""

    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(12), default="scheduled")
    for_day: Mapped[dt.date] = mapped_column(Date)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(8), default="running")
    reason: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    host: Mapped[str] = mapped_column(String(120), default="")

    __table_args__ = (
        CheckConstraint(one_of("status", RUN_STATUSES), name="status_known"),
        CheckConstraint(one_of("trigger", RUN_TRIGGERS), name="trigger_known"),
        CheckConstraint("status <> 'failed' OR error IS NOT NULL", name="failure_has_error"),
        Index("ix_job_run_name_started", "name", "started_at"),
    )


class Notification(Base):
    """A message to an enterprise (visit notice, 检查告知), one per enterprise and run, with
    the visits it announces in `payload` (each visit is announced once: NotifiedVisit).
    Delivery is by a pluggable channel; the row is the record that the enterprise was told,
    whatever the channel, and the inbox the enterprise's own pages can show."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    for_day: Mapped[dt.date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    channel: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(8), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(one_of("kind", NOTIFICATION_KINDS), name="kind_known"),
        CheckConstraint(one_of("status", NOTIFICATION_STATUSES), name="status_known"),
    )


class NotifiedVisit(Base):
    """A visit an enterprise has been told about: a visit (its code on its day) is announced
    once, however often the job runs and however often the schedule is re-planned."""

    __tablename__ = "notified_visit"

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), primary_key=True)
    visit_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    visit_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), index=True
    )


class DayRoute(Base):
    """An inspector's fixed route for one day (the evening before): the stops in order with
    times and the inspection code (检查码) of each stop, so a phone can show it offline."""

    __tablename__ = "day_route"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"), index=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedule_version.id"))
    stops: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    fixed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("day", "inspector_id"),)


class CertificateAlert(Base):
    """An enforcement certificate (执法证) about to expire: one alert per certificate end
    date, so a renewed certificate raises a new one when its turn comes."""

    __tablename__ = "certificate_alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    certificate_valid_to: Mapped[dt.date] = mapped_column(Date)
    raised_on: Mapped[dt.date] = mapped_column(Date)
    days_left: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("inspector_id", "certificate_valid_to"),)


class PublicityAlert(Base):
    """One department's results past their publish-by date (一公开: published within N
    workdays of the visit) on one day: recorded but unpublished, or not recorded at all.
    `items` lists each overdue task (task, visit code, publish-by date, status, result)."""

    __tablename__ = "publicity_alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    overdue: Mapped[int] = mapped_column(Integer)
    unpublished: Mapped[int] = mapped_column(Integer, default=0)
    unrecorded: Mapped[int] = mapped_column(Integer, default=0)
    oldest_due: Mapped[dt.date] = mapped_column(Date)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("department_id", "day"),
        CheckConstraint("overdue > 0", name="overdue_positive"),
        CheckConstraint("overdue = unpublished + unrecorded", name="overdue_sum"),
    )
