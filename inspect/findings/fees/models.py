"""Fee compliance tables: fee findings (涉企收费检查发现) with the engine's verdict and its
explanation, and the refunds they make due (due → confirmed → refunded).

The schema keeps verdicts and refund states within their vocabularies, money non-negative,
a refund never above the amount charged, a compliant or still-in-review finding without a
refund due, and one refund per finding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkonce.db import Base, one_of, utcnow
from checkonce.registry.models import ChargingUnit, Enterprise, FeeCatalogEntry
from checkonce.visits.models import Visit

FEE_VERDICTS = (
    "compliant",
    "off_catalog",
    "over_standard",
    "abolished_or_expired",
    "unauthorized_unit",
    "duplicate",
    "needs_review",
)
FEE_VERDICT_NAMES = {
    "compliant": "合规收费",
    "off_catalog": "清单之外收费",
    "over_standard": "超标准收费",
    "abolished_or_expired": "收取已取消或已过期项目",
    "unauthorized_unit": "无权收费单位收费",
    "duplicate": "重复收费",
    "needs_review": "待人工复核",
}
FEE_SOURCES = ("visit", "enterprise")
FEE_SOURCE_NAMES = {"visit": "现场检查发现", "enterprise": "企业反映"}
REFUND_STATES = ("due", "confirmed", "refunded")
REFUND_STATE_NAMES = {"due": "应退", "confirmed": "已确认", "refunded": "已退还"}


class FeeFinding(Base):
    """One charge an enterprise paid, as found at a visit or reported by the enterprise,
    with the verdict of the compliance engine against the fee catalog."""

    __tablename__ = "fee_finding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(12))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    # The unit as named on the receipt, and the registry unit it resolved to (if any).
    unit_text: Mapped[str] = mapped_column(String(80))
    charging_unit: Mapped[str | None] = mapped_column(ForeignKey("charging_unit.code"), index=True)
    item_charged: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # Billing quantity (台次, 平方米, …) or, for a percentage standard, the base in yuan.
    quantity: Mapped[Decimal] = mapped_column(Numeric(16, 3), default=Decimal("1"))
    charged_on: Mapped[dt.date] = mapped_column(Date, index=True)
    receipt_no: Mapped[str] = mapped_column(String(64))
    reported_by: Mapped[str] = mapped_column(String(80))
    reported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    verdict: Mapped[str] = mapped_column(String(24), index=True)
    rule: Mapped[str] = mapped_column(String(40))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("fee_catalog_entry.id"))
    match_score: Mapped[float | None] = mapped_column(Float)
    matched_name: Mapped[str | None] = mapped_column(String(120))
    standard_amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    refund_due: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    explanation: Mapped[str] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("fee_finding.id"))
    # Review of an uncertain name match (needs_review → a final verdict).
    reviewed_by: Mapped[str | None] = mapped_column(String(80))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str | None] = mapped_column(Text)

    enterprise: Mapped[Enterprise] = relationship()
    unit: Mapped[ChargingUnit | None] = relationship()
    entry: Mapped[FeeCatalogEntry | None] = relationship()
    visit: Mapped[Visit | None] = relationship()
    refund: Mapped[FeeRefund | None] = relationship(back_populates="finding", uselist=False)

    __table_args__ = (
        UniqueConstraint("enterprise_id", "unit_text", "receipt_no"),
        CheckConstraint(one_of("source", FEE_SOURCES), name="source_known"),
        CheckConstraint(one_of("verdict", FEE_VERDICTS), name="verdict_known"),
        CheckConstraint("source <> 'visit' OR visit_id IS NOT NULL", name="visit_source_has_visit"),
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("refund_due >= 0 AND refund_due <= amount", name="refund_within_amount"),
        CheckConstraint(
            "standard_amount IS NULL OR standard_amount >= 0", name="standard_nonnegative"
        ),
        CheckConstraint(
            "verdict NOT IN ('compliant', 'needs_review') OR refund_due = 0",
            name="no_refund_without_violation",
        ),
        CheckConstraint("length(receipt_no) > 0", name="receipt_present"),
        CheckConstraint("(reviewed_at IS NULL) = (reviewed_by IS NULL)", name="review_complete"),
    )

    @property
    def verdict_name(self) -> str:
        return FEE_VERDICT_NAMES[self.verdict]


class FeeRefund(Base):
    """A refund a finding made due: confirmed by the coordinator with the charging unit,
    then refunded, each step with its date and actor."""

    __tablename__ = "fee_refund"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("fee_finding.id", ondelete="CASCADE"), unique=True
    )
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    state: Mapped[str] = mapped_column(String(12), default="due")
    due_on: Mapped[dt.date] = mapped_column(Date)
    confirmed_on: Mapped[dt.date | None] = mapped_column(Date)
    confirmed_by: Mapped[str | None] = mapped_column(String(80))
    refunded_on: Mapped[dt.date | None] = mapped_column(Date)
    refunded_by: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")

    finding: Mapped[FeeFinding] = relationship(back_populates="refund")

    __table_args__ = (
        CheckConstraint(one_of("state", REFUND_STATES), name="state_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "state = 'due' OR (confirmed_on IS NOT NULL AND confirmed_by IS NOT NULL)",
            name="confirmation_recorded",
        ),
        CheckConstraint(
            "state <> 'refunded' OR (refunded_on IS NOT NULL AND refunded_by IS NOT NULL)",
            name="refund_recorded",
        ),
        CheckConstraint(
            "confirmed_on IS NULL OR due_on <= confirmed_on", name="confirmed_after_due"
        ),
        CheckConstraint(
            "refunded_on IS NULL OR (confirmed_on IS NOT NULL AND confirmed_on <= refunded_on)",
            name="refunded_after_confirmed",
        ),
    )

    @property
    def state_name(self) -> str:
        return REFUND_STATE_NAMES[self.state]
