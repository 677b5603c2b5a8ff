"""Check-in tables: the keys that sign enterprise and inspection codes, entries into an
enterprise (入企), each inspector's check-in (扫码入企) and the alerts they raise.

The rules that protect the record live in the schema: one check-in per inspector and
idempotency key (phones retry offline, and a retry must never double an entry), one entry
per planned visit (a merged joint visit counts once for the enterprise), one alert per kind,
enterprise and window, and a back-fill (补录) always carries its reason.

A check-in is the inspector's claim, and so is the phone's location it carries. Presence is
proved only when the enterprise confirms the check-in from its own account (it scans the
inspector's inspection code, or taps confirm on its visit page): who, when and how is stored
on the check-in, complete or not at all, and only a planned check-in can be confirmed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkonce.auth.models import User  # noqa: F401  (confirmed_by_user_id names its table)
from checkonce.db import Base, one_of, utcnow
from checkonce.registry.models import Department, Enterprise, Inspector
from checkonce.visits.models import Visit

CHECKIN_OUTCOMES = ("planned", "unplanned")
# How the enterprise confirmed an inspector's presence (到场确认).
CONFIRM_METHODS = ("inspection_code", "visit_page")
CONFIRM_METHOD_NAMES = {"inspection_code": "企业扫描检查码确认", "visit_page": "企业在检查页面确认"}
ALERT_KINDS = ("unplanned_entry", "entries_per_day", "entries_per_week", "entries_per_month")
ALERT_KIND_NAMES = {
    "unplanned_entry": "计划外入企",
    "entries_per_day": "单日入企次数超限",
    "entries_per_week": "单周入企次数超限",
    "entries_per_month": "单月入企次数超限",
}


class CodeSigningKey(Base):
    """A key that signs enterprise codes (企业码) and inspection codes (检查码).

    Only the key id and a random salt are stored: the secret is derived from the salt and the
    server's secret key, so a copy of the database alone cannot forge a code. New codes are
    signed with the newest unrevoked key; revoking a key invalidates every code it signed.
    """

    __tablename__ = "code_signing_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(16), unique=True)
    salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(80))
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("length(kid) >= 4", name="kid_length"),
        CheckConstraint("length(salt) >= 32", name="salt_length"),
        CheckConstraint(
            "revoked_at IS NULL OR (revoked_by IS NOT NULL AND revoke_reason IS NOT NULL)",
            name="revocation_recorded",
        ),
    )

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class Entry(Base):
    """One entry into an enterprise (入企): a planned visit's team counts once, however many
    of its members check in; inspectors of one department arriving unplanned together count
    once too. Repeat-entry alerts count these."""

    __tablename__ = "entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    enterprise: Mapped[Enterprise] = relationship()
    department: Mapped[Department] = relationship()
    visit: Mapped[Visit | None] = relationship()

    __table_args__ = (Index("ix_entry_enterprise_day", "enterprise_id", "day"),)

    @property
    def planned(self) -> bool:
        return self.visit_id is not None


class CheckIn(Base):
    """One inspector's check-in at an enterprise (扫码入企), planned or not, live or back-filled
    (补录). The idempotency key is unique per inspector in the schema: a retried request finds
    the stored check-in instead of making a second one."""

    __tablename__ = "checkin"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the request body: the same key with a different body is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(12))
    code_kid: Mapped[str] = mapped_column(String(16))
    day: Mapped[dt.date] = mapped_column(Date)
    checked_in_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    client_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    outside_geofence: Mapped[bool] = mapped_column(Boolean, default=False)
    backfill: Mapped[bool] = mapped_column(Boolean, default=False)
    backfill_reason: Mapped[str | None] = mapped_column(Text)
    # The enterprise's confirmation of presence (到场确认): its account, when and how.
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    confirmed_by: Mapped[str | None] = mapped_column(String(80))
    confirm_method: Mapped[str | None] = mapped_column(String(16))

    inspector: Mapped[Inspector] = relationship()
    enterprise: Mapped[Enterprise] = relationship()
    entry: Mapped[Entry] = relationship()
    visit: Mapped[Visit | None] = relationship()

    __table_args__ = (
        UniqueConstraint("inspector_id", "idempotency_key"),
        CheckConstraint(one_of("outcome", CHECKIN_OUTCOMES), name="outcome_known"),
        CheckConstraint("(outcome = 'planned') = (visit_id IS NOT NULL)", name="planned_has_visit"),
        CheckConstraint(
            "backfill = false OR (backfill_reason IS NOT NULL AND length(backfill_reason) > 0)",
            name="backfill_has_reason",
        ),
        CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="location_complete"),
        CheckConstraint("distance_m IS NULL OR distance_m >= 0", name="distance_nonnegative"),
        CheckConstraint("length(idempotency_key) >= 8", name="idempotency_key_length"),
        CheckConstraint(
            "(confirmed_at IS NULL) = (confirmed_by IS NULL)"
            " AND (confirmed_at IS NULL) = (confirmed_by_user_id IS NULL)"
            " AND (confirmed_at IS NULL) = (confirm_method IS NULL)",
            name="confirmation_complete",
        ),
        CheckConstraint(
            "confirm_method IS NULL OR " + one_of("confirm_method", CONFIRM_METHODS),
            name="confirm_method_known",
        ),
        CheckConstraint(
            "confirmed_at IS NULL OR visit_id IS NOT NULL", name="confirmed_is_planned"
        ),
        CheckConstraint(
            "confirmed_at IS NULL OR confirmed_at >= recorded_at", name="confirmed_after_recorded"
        ),
    )

    @property
    def confirmed(self) -> bool:
        """The enterprise confirmed this inspector's presence from its own account."""
        return self.confirmed_at is not None

    @property
    def confirm_method_name(self) -> str:
        return CONFIRM_METHOD_NAMES.get(self.confirm_method or "", "")


class EntryAlert(Base):
    """An alert for coordinators: an unplanned entry, or an enterprise entered more often than
    policy allows in a day, an ISO week or a month (whatever caused the entries). One row per
    kind, enterprise and window; a further entry in the window updates its count."""

    __tablename__ = "entry_alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    # "2026-11-22", "2026-W47", "2026-11" or "entry:<id>": names the window in the unique key.
    window_key: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[dt.date] = mapped_column(Date, index=True)
    window_end: Mapped[dt.date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entry.id"))
    last_checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkin.id"))
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    enterprise: Mapped[Enterprise] = relationship()

    __table_args__ = (
        UniqueConstraint("kind", "enterprise_id", "window_key"),
        CheckConstraint(one_of("kind", ALERT_KINDS), name="kind_known"),
        CheckConstraint("window_start <= window_end", name="window_order"),
        CheckConstraint("count > threshold", name="count_exceeds_threshold"),
    )

    @property
    def kind_name(self) -> str:
        return ALERT_KIND_NAMES[self.kind]
