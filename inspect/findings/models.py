"""Findings tables: per-task results of a visit (检查结果) kept as revisions, their photos,
their publication (一公开), and the enterprise's rating of a visit.

A correction never overwrites: it is a new revision of the task's result, and the partial
unique index keeps exactly one latest revision per task. What the schema guarantees by itself:
a known result, a legal basis for every non-passed result, a deadline for every 责令整改,
a reason for every correction, one rating per visit, scores 1–5.
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
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkonce.db import Base, one_of, utcnow
from checkonce.plans.models import InspectionTask
from checkonce.registry.models import Inspector
from checkonce.visits.models import Visit

RESULTS = ("passed", "rectify", "case_filed", "not_found", "refused")
RESULT_NAMES = {
    "passed": "合格",
    "rectify": "责令整改",
    "case_filed": "立案",
    "not_found": "查无下落",
    "refused": "拒绝检查",
}
# Results where nothing could be inspected: the checklist need not be answered.
UNINSPECTED_RESULTS = ("not_found", "refused")
ANSWERS = ("ok", "problem", "na")
ANSWER_NAMES = {"ok": "符合", "problem": "存在问题", "na": "不适用"}


class TaskResult(Base):
    """One revision of the result of one task of a visit (检查结果): recorded by an inspector
    of the task's department on the visit's team; revision 1 is the original record, later
    revisions are corrections with their reason. Each revision is published on its own:
    the public sees the latest published revision of a task."""

    __tablename__ = "task_result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(Integer, index=True)
    inspection_task_id: Mapped[int] = mapped_column(Integer, index=True)
    revision: Mapped[int] = mapped_column(Integer)
    latest: Mapped[bool] = mapped_column(Boolean, default=True)
    result: Mapped[str] = mapped_column(String(12))
    # {checklist key: {"answer": "ok" | "problem" | "na", "note": "..."}}
    checklist: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    rectify_by: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    correction_reason: Mapped[str | None] = mapped_column(Text)
    visit_day: Mapped[dt.date] = mapped_column(Date)
    # 20 workdays after the visit day (policy publicity.publish_within_workdays).
    publish_by: Mapped[dt.date] = mapped_column(Date, index=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"))
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(80))

    visit: Mapped[Visit] = relationship(foreign_keys=[visit_id])
    task: Mapped[InspectionTask] = relationship(foreign_keys=[inspection_task_id])
    inspector: Mapped[Inspector] = relationship()
    photos: Mapped[list[ResultPhoto]] = relationship(
        back_populates="result", cascade="all, delete-orphan", order_by="ResultPhoto.id"
    )

    __table_args__ = (
        ForeignKeyConstraint(
            ["visit_id", "inspection_task_id"],
            ["visit_task.visit_id", "visit_task.inspection_task_id"],
            name="fk_task_result_visit_task",
        ),
        ForeignKeyConstraint(["visit_id"], ["visit.id"], name="fk_task_result_visit_id_visit"),
        ForeignKeyConstraint(
            ["inspection_task_id"],
            ["inspection_task.id"],
            name="fk_task_result_inspection_task_id_inspection_task",
        ),
        UniqueConstraint("visit_id", "inspection_task_id", "revision"),
        Index(
            "uq_task_result_one_latest",
            "inspection_task_id",
            unique=True,
            sqlite_where=text("latest = true"),
            postgresql_where=text("latest = true"),
        ),
        CheckConstraint(one_of("result", RESULTS), name="result_known"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        CheckConstraint(
            "result = 'passed' OR (legal_basis IS NOT NULL AND length(legal_basis) > 0)",
            name="violation_has_legal_basis",
        ),
        CheckConstraint(
            "result <> 'rectify' OR rectify_by IS NOT NULL", name="rectify_has_deadline"
        ),
        CheckConstraint(
            "revision = 1 OR (correction_reason IS NOT NULL AND length(correction_reason) > 0)",
            name="correction_has_reason",
        ),
        CheckConstraint(
            "(published_at IS NULL) = (published_by IS NULL)", name="publication_complete"
        ),
        CheckConstraint("visit_day < publish_by", name="publish_after_visit"),
    )

    @property
    def result_name(self) -> str:
        return RESULT_NAMES[self.result]

    @property
    def published(self) -> bool:
        return self.published_at is not None


class ResultPhoto(Base):
    """A photo attached to a result revision. The file lives on disk under the photos folder,
    named by its SHA-256, so the same picture is stored once and can be verified."""

    __tablename__ = "result_photo"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(
        ForeignKey("task_result.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200), default="")
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    result: Mapped[TaskResult] = relationship(back_populates="photos")

    __table_args__ = (
        UniqueConstraint("result_id", "sha256"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        CheckConstraint(
            one_of("content_type", ("image/jpeg", "image/png", "image/webp")),
            name="content_type_known",
        ),
    )


class VisitRating(Base):
    """The enterprise's rating of a completed visit (1–5 and a comment), once per visit,
    editable for a few days. Never shown to an inspected department with the enterprise's
    identity: bureaus see anonymised aggregates only."""

    __tablename__ = "visit_rating"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    visit: Mapped[Visit] = relationship()

    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        CheckConstraint("length(comment) <= 1000", name="comment_length"),
    )
