"""Registry tables: districts, departments, inspectors, enterprises, checkable items,
"check once" scenes, conflicts and the fee catalog. Constraints that protect the data live in
the schema (foreign keys, unique and check constraints), not only in Python."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkonce.db import Base, one_of

RISK_CLASSES = ("A", "B", "C", "D")
ITEM_CATEGORIES = ("safety", "environment", "food", "health", "other")
# 行政执法人员 are assignable; 辅助人员 (auxiliaries), 网格员 (grid workers) and coordination
# staff may be stored for contact purposes but are never sent to inspect.
INSPECTOR_ROLES = ("enforcement", "auxiliary", "grid", "coordination")
INSPECTOR_STATUSES = ("active", "suspended", "left")
FEE_KINDS = ("administrative_fee", "government_fund", "deposit", "priced_service")
FEE_KIND_NAMES = {
    "administrative_fee": "行政事业性收费",
    "government_fund": "政府性基金",
    "deposit": "涉企保证金",
    "priced_service": "政府定价经营服务性收费",
}
FEE_STANDARD_TYPES = ("fixed", "cap")


class District(Base):
    """County-level division (区县) with its 6-digit adcode."""

    __tablename__ = "district"

    adcode: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    urban: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (CheckConstraint("length(adcode) = 6", name="adcode_length"),)


class Department(Base):
    """A law-enforcement bureau (执法部门)."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    short_name: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    items: Mapped[list[CheckItem]] = relationship(back_populates="department")

    __table_args__ = (CheckConstraint("length(code) >= 2", name="code_length"),)


class Industry(Base):
    __tablename__ = "industry"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class CheckItem(Base):
    """An item on a department's published checkable-item list (检查事项清单)."""

    __tablename__ = "check_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(120))
    legal_basis: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(16))
    default_minutes: Mapped[int] = mapped_column(Integer)
    default_team: Mapped[int] = mapped_column(Integer, default=2)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    department: Mapped[Department] = relationship(back_populates="items")
    checklist: Mapped[list[ChecklistEntry]] = relationship(
        back_populates="item", order_by="ChecklistEntry.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint(one_of("category", ITEM_CATEGORIES), name="category_known"),
        CheckConstraint("default_minutes > 0 AND default_minutes <= 480", name="minutes_range"),
        CheckConstraint("default_team >= 1", name="team_positive"),
        CheckConstraint("length(legal_basis) > 0", name="legal_basis_present"),
    )


class ChecklistEntry(Base):
    """One line of an item's checklist. Entries with the same `key` across items are the same
    check and appear once in a merged checklist (一表通查)."""

    __tablename__ = "checklist_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("check_item.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)

    item: Mapped[CheckItem] = relationship(back_populates="checklist")

    __table_args__ = (
        UniqueConstraint("item_id", "position"),
        UniqueConstraint("item_id", "key"),
        CheckConstraint("position >= 0", name="position_nonnegative"),
    )


class Scene(Base):
    """A "check once" scene (综合查一次场景): for enterprises of some industries, the items of
    several departments checked together in one visit, led by one department."""

    __tablename__ = "scene"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    lead_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))

    lead_department: Mapped[Department] = relationship()
    industries: Mapped[list[SceneIndustry]] = relationship(cascade="all, delete-orphan")
    items: Mapped[list[SceneItem]] = relationship(cascade="all, delete-orphan")


class SceneIndustry(Base):
    __tablename__ = "scene_industry"

    scene_id: Mapped[int] = mapped_column(
        ForeignKey("scene.id", ondelete="CASCADE"), primary_key=True
    )
    industry_code: Mapped[str] = mapped_column(ForeignKey("industry.code"), primary_key=True)


class SceneItem(Base):
    __tablename__ = "scene_item"

    scene_id: Mapped[int] = mapped_column(
        ForeignKey("scene.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("check_item.id"), primary_key=True)

    item: Mapped[CheckItem] = relationship()


class Enterprise(Base):
    """A market entity identified by its unified social credit code (统一社会信用代码)."""

    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200))
    district_adcode: Mapped[str] = mapped_column(ForeignKey("district.adcode"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    industry_code: Mapped[str] = mapped_column(ForeignKey("industry.code"), index=True)
    risk_class: Mapped[str] = mapped_column(String(1))
    whitelisted: Mapped[bool] = mapped_column(Boolean, default=False)
    opens_at: Mapped[dt.time] = mapped_column(Time, default=dt.time(9, 0))
    closes_at: Mapped[dt.time] = mapped_column(Time, default=dt.time(17, 30))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    district: Mapped[District] = relationship()
    industry: Mapped[Industry] = relationship()

    __table_args__ = (
        CheckConstraint("length(credit_code) = 18", name="credit_code_length"),
        CheckConstraint(one_of("risk_class", RISK_CLASSES), name="risk_class_known"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="latlon"),
        CheckConstraint("opens_at < closes_at", name="opening_hours_order"),
    )


class Inspector(Base):
    """A person of a department. Only active enforcement officers holding a valid
    enforcement certificate (执法证) are ever assigned to a visit."""

    __tablename__ = "inspector"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="enforcement")
    status: Mapped[str] = mapped_column(String(16), default="active")
    certificate_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    certificate_valid_from: Mapped[dt.date | None] = mapped_column(Date)
    certificate_valid_to: Mapped[dt.date | None] = mapped_column(Date)
    home_district_adcode: Mapped[str] = mapped_column(ForeignKey("district.adcode"))
    home_lat: Mapped[float] = mapped_column(Float)
    home_lon: Mapped[float] = mapped_column(Float)
    minutes_per_day: Mapped[int] = mapped_column(Integer, default=480)

    department: Mapped[Department] = relationship()
    unavailable_days: Mapped[list[InspectorUnavailability]] = relationship(
        cascade="all, delete-orphan", order_by="InspectorUnavailability.day"
    )
    extra_certifications: Mapped[list[InspectorCertification]] = relationship(
        cascade="all, delete-orphan", order_by="InspectorCertification.department_id"
    )

    __table_args__ = (
        CheckConstraint(one_of("role", INSPECTOR_ROLES), name="role_known"),
        CheckConstraint(one_of("status", INSPECTOR_STATUSES), name="status_known"),
        CheckConstraint(
            "role <> 'enforcement' OR (certificate_no IS NOT NULL "
            "AND certificate_valid_from IS NOT NULL AND certificate_valid_to IS NOT NULL)",
            name="enforcement_has_certificate",
        ),
        CheckConstraint(
            "certificate_valid_to IS NULL OR certificate_valid_from IS NULL "
            "OR certificate_valid_from <= certificate_valid_to",
            name="certificate_dates_order",
        ),
        CheckConstraint("minutes_per_day > 0 AND minutes_per_day <= 720", name="minutes_range"),
        CheckConstraint(
            "home_lat BETWEEN -90 AND 90 AND home_lon BETWEEN -180 AND 180", name="latlon"
        ),
    )

    @property
    def assignable(self) -> bool:
        """Whether this person may ever be sent to inspect (date-independent part)."""
        return self.role == "enforcement" and self.status == "active"

    def certified_on(self, day: dt.date) -> bool:
        return (
            self.certificate_valid_from is not None
            and self.certificate_valid_to is not None
            and self.certificate_valid_from <= day <= self.certificate_valid_to
        )


class InspectorCertification(Base):
    """Another department whose items an inspector is certified to carry out (综合执法:
    an officer of one bureau holding the certification for another's checkable items).
    The scheduler's `also_for`: the inspector counts for that department too."""

    __tablename__ = "inspector_certification"

    inspector_id: Mapped[int] = mapped_column(
        ForeignKey("inspector.id", ondelete="CASCADE"), primary_key=True
    )
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), primary_key=True)
    # The document granting it (e.g. a 综合行政执法 authorisation), for the record.
    basis: Mapped[str] = mapped_column(String(200), default="")

    department: Mapped[Department] = relationship()


class InspectorUnavailability(Base):
    """A day an inspector cannot be scheduled (leave, training, court)."""

    __tablename__ = "inspector_unavailability"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(80), default="")

    __table_args__ = (UniqueConstraint("inspector_id", "day"),)


class Conflict(Base):
    """A declared inspector–enterprise conflict of interest (回避): a hard exclusion."""

    __tablename__ = "conflict"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(200))
    declared_on: Mapped[dt.date] = mapped_column(Date)

    __table_args__ = (UniqueConstraint("inspector_id", "enterprise_id"),)


class ChargingUnit(Base):
    """A body authorised to collect fees: every department, plus collectors that do not
    inspect (税务, 检验机构 …). Fee findings name the unit that actually charged."""

    __tablename__ = "charging_unit"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)


class FeeCatalogEntry(Base):
    """An entry of the enterprise-related fee catalog (涉企收费目录清单)."""

    __tablename__ = "fee_catalog_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    charging_unit: Mapped[str] = mapped_column(ForeignKey("charging_unit.code"))
    item: Mapped[str] = mapped_column(String(120))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    standard_type: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    unit: Mapped[str] = mapped_column(String(40))
    legal_basis: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="active")

    __table_args__ = (
        CheckConstraint(one_of("kind", FEE_KINDS), name="kind_known"),
        CheckConstraint(one_of("standard_type", FEE_STANDARD_TYPES), name="standard_type_known"),
        CheckConstraint(one_of("status", ("active", "abolished")), name="status_known"),
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        CheckConstraint("valid_to IS NULL OR valid_from <= valid_to", name="validity_order"),
        CheckConstraint("length(legal_basis) > 0", name="legal_basis_present"),
    )
