"""Tables of the visit's paperwork (行政检查文书): the documents generated from the records,
the per-department, per-year number sequence they draw from, the signatures of the on-site
record (现场检查笔录), the enterprise's requests for another day (双向预约) and the outbox of
messages sent to enterprises.

What the schema guarantees by itself: a document number is never given twice (unique per
department and year, and unique as text); one document of a kind per visit and department;
a signature either carries a drawn image or is a refusal with its reason; an inspector signs
a document once and the enterprise once; an enterprise asks once per visit of a period.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
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
from checkonce.registry.models import Department, Enterprise, Inspector
from checkonce.visits.models import Visit


class DocumentKind(StrEnum):
    """The national document types (司法部《行政检查文书基本格式文本（试行）》) that fit
    CheckOnce's flow, plus the rectification order of a 责令整改 result."""

    APPROVAL = "approval"  # 行政检查审批表 (special and triggered checks)
    NOTICE = "notice"  # 行政检查通知书
    ONSITE_RECORD = "onsite_record"  # 现场检查笔录
    RESULT_NOTICE = "result_notice"  # 行政检查结果告知书
    RECTIFICATION_ORDER = "rectification_order"  # 责令整改通知书

    @property
    def title(self) -> str:
        return KIND_TITLES[self]

    @property
    def abbreviation(self) -> str:
        """The short word in a document number (文号), e.g. 检通 in 市场监管检通〔2027〕3号."""
        return KIND_ABBREVIATIONS[self]


KIND_TITLES = {
    DocumentKind.APPROVAL: "行政检查审批表",
    DocumentKind.NOTICE: "行政检查通知书",
    DocumentKind.ONSITE_RECORD: "现场检查笔录",
    DocumentKind.RESULT_NOTICE: "行政检查结果告知书",
    DocumentKind.RECTIFICATION_ORDER: "责令整改通知书",
}
KIND_ABBREVIATIONS = {
    DocumentKind.APPROVAL: "检审",
    DocumentKind.NOTICE: "检通",
    DocumentKind.ONSITE_RECORD: "检录",
    DocumentKind.RESULT_NOTICE: "检告",
    DocumentKind.RECTIFICATION_ORDER: "责改",
}
# The approval form is internal (内部审批); the others are handed to the enterprise.
ENTERPRISE_KINDS = tuple(k for k in DocumentKind if k is not DocumentKind.APPROVAL)


class SignerKind(StrEnum):
    INSPECTOR = "inspector"
    ENTERPRISE = "enterprise"


class RequestState(StrEnum):
    """A request for another day: waiting for the re-plan, placed in a draft version by it,
    lapsed (the day was no longer feasible when the re-plan ran), or rejected."""

    PENDING = "pending"
    PLANNED = "planned"
    LAPSED = "lapsed"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return {
            "pending": "待重排",
            "planned": "已纳入重排",
            "lapsed": "已失效",
            "rejected": "已驳回",
        }[self.value]


class DocumentSequence(Base):
    """The last number a department gave its documents in a year (文号流水). Numbers are
    taken by an UPDATE of this row, which the database serializes between writers."""

    __tablename__ = "document_sequence"

    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        CheckConstraint("last_number >= 0", name="last_number_nonnegative"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
    )


class InspectionDocument(Base):
    """One document of a visit, numbered once; each generation writes a new PDF revision
    (stored by its SHA-256) under the same number. The on-site record also gets a signed PDF
    once every inspector and the enterprise have signed (or the enterprise refused)."""

    __tablename__ = "inspection_document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), index=True)
    visit_code: Mapped[str] = mapped_column(String(16))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    doc_no: Mapped[str] = mapped_column(String(60), unique=True)
    # The QR on the document opens /d/<verify_token>: unguessable, unlike the number.
    verify_token: Mapped[str] = mapped_column(String(32), unique=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    signed_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    generated_by: Mapped[str] = mapped_column(String(80))
    generated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    visit: Mapped[Visit] = relationship()
    enterprise: Mapped[Enterprise] = relationship()
    department: Mapped[Department] = relationship()
    signatures: Mapped[list[DocumentSignature]] = relationship(
        back_populates="document", order_by="DocumentSignature.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("department_id", "year", "number"),
        UniqueConstraint("kind", "visit_id", "department_id"),
        CheckConstraint(one_of("kind", tuple(k.value for k in DocumentKind)), name="kind_known"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        CheckConstraint(
            "signed_sha256 IS NULL OR kind = 'onsite_record'", name="only_record_is_signed"
        ),
    )

    @property
    def document_kind(self) -> DocumentKind:
        return DocumentKind(self.kind)

    @property
    def title(self) -> str:
        return DocumentKind(self.kind).title


class DocumentSignature(Base):
    """A signature on the on-site record: an inspector of the team, or the enterprise's
    representative (name, role, the signature drawn on the phone, the time) — or the
    enterprise's refusal to sign, with its reason (拒绝签字的，注明原因)."""

    __tablename__ = "document_signature"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("inspection_document.id", ondelete="CASCADE"), index=True
    )
    signer: Mapped[str] = mapped_column(String(12))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("inspector.id"))
    name: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(40))
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    refused: Mapped[bool] = mapped_column(Boolean, default=False)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(80))

    document: Mapped[InspectionDocument] = relationship(back_populates="signatures")
    inspector: Mapped[Inspector | None] = relationship()

    __table_args__ = (
        CheckConstraint(one_of("signer", tuple(s.value for s in SignerKind)), name="signer_known"),
        CheckConstraint("length(name) > 0", name="has_name"),
        CheckConstraint(
            "(refused AND image_sha256 IS NULL AND refusal_reason IS NOT NULL "
            "AND length(refusal_reason) > 0) OR (NOT refused AND image_sha256 IS NOT NULL)",
            name="image_or_refusal",
        ),
        CheckConstraint(
            "signer <> 'inspector' OR (inspector_id IS NOT NULL AND NOT refused)",
            name="inspector_signs",
        ),
        UniqueConstraint("document_id", "inspector_id"),
        Index(
            "uq_document_signature_one_enterprise",
            "document_id",
            unique=True,
            sqlite_where=text("signer = 'enterprise'"),
            postgresql_where=text("signer = 'enterprise'"),
        ),
    )


class RescheduleRequest(Base):
    """An enterprise's request to move an announced visit to another feasible day (双向预约).
    A visit keeps its code across re-plans, so "once per visit" is once per period and code."""

    __tablename__ = "reschedule_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(8))
    visit_code: Mapped[str] = mapped_column(String(16))
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    from_day: Mapped[dt.date] = mapped_column(Date)
    to_day: Mapped[dt.date] = mapped_column(Date)
    start: Mapped[dt.time] = mapped_column(Time)
    end: Mapped[dt.time] = mapped_column(Time)
    reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(12), default=RequestState.PENDING.value)
    note: Mapped[str] = mapped_column(Text, default="")
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedule_version.id"))
    requested_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    enterprise: Mapped[Enterprise] = relationship()
    visit: Mapped[Visit] = relationship()

    __table_args__ = (
        UniqueConstraint("period", "visit_code"),
        CheckConstraint(one_of("state", tuple(s.value for s in RequestState)), name="state_known"),
        CheckConstraint("from_day <> to_day", name="moves"),
        CheckConstraint('start < "end"', name="time_order"),
        CheckConstraint(
            "state <> 'planned' OR schedule_id IS NOT NULL", name="planned_has_version"
        ),
    )

    @property
    def state_label(self) -> str:
        return RequestState(self.state).label


class OutboxMessage(Base):
    """A message to an enterprise as the outbox channel leaves it for a gateway to pick up
    (SMS, 政务服务 app): the text and the link to the attached document. The default channel
    stops here, so tests and operators can read exactly what would be sent."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notification.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_document.id"))
    channel: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(8), default="queued")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        CheckConstraint(one_of("status", ("queued", "sent", "failed")), name="status_known"),
    )
