"""Users of CheckOnce and their login attempts. A user has one role; bureau, inspector and
enterprise users are bound to the department, inspector or enterprise they act for."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from checkonce.db import Base, utcnow

ROLES = ("admin", "coordinator", "legal", "bureau", "inspector", "enterprise")
ROLE_NAMES = {
    "admin": "系统管理员",
    "coordinator": "协调监督人员",
    # 法制审核: the legal-review office (司法局法制审核科) that approves or rejects redraws;
    # a second person outside the coordinators who run draws.
    "legal": "法制审核人员",
    "bureau": "执法部门",
    "inspector": "执法人员",
    "enterprise": "企业",
}


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(80), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("inspector.id"), unique=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'coordinator', 'legal', 'bureau', 'inspector', 'enterprise')",
            name="role_known",
        ),
        CheckConstraint("role <> 'bureau' OR department_id IS NOT NULL", name="bureau_has_dept"),
        CheckConstraint(
            "role <> 'inspector' OR inspector_id IS NOT NULL", name="inspector_has_person"
        ),
        CheckConstraint(
            "role <> 'enterprise' OR enterprise_id IS NOT NULL", name="enterprise_has_firm"
        ),
        CheckConstraint("length(username) >= 3", name="username_length"),
    )


class LoginAttempt(Base):
    """Every login attempt, kept for rate limiting and audit (the database is shared by all
    API processes, so the limit holds across workers)."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    success: Mapped[bool] = mapped_column(Boolean)
