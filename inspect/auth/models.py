"""Users of CheckOnce and their login attempts. A user has one role; bureau, inspector and
enterprise users are bound to the department, inspector or enterprise they act for."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from checkonce.db import Base, utcnow


class Role(StrEnum):
    """The roles of CheckOnce accounts: the one role vocabulary of the whole system (what
    each may do and see is decided in checkonce.auth.access)."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    # 法制审核: the legal-review office (司法局法制审核科) that approves or rejects redraws;
    # a second person outside the coordinators who run draws.
    LEGAL = "legal"
    BUREAU = "bureau"
    INSPECTOR = "inspector"
    ENTERPRISE = "enterprise"

    @property
    def label(self) -> str:
        return ROLE_NAMES[self]


ROLES: tuple[Role, ...] = tuple(Role)
ROLE_NAMES: dict[str, str] = {
    Role.ADMIN: "系统管理员",
    Role.COORDINATOR: "协调监督人员",
    Role.LEGAL: "法制审核人员",
    Role.BUREAU: "执法部门",
    Role.INSPECTOR: "执法人员",
    Role.ENTERPRISE: "企业",
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
    # Every token and page session carries the version it was issued under; deactivating
    # the account or changing its password, role or binding raises it, and every older
    # token is refused on its next request (checkonce.auth.service.revoke_on_change).
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
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
    # The signed device id of a browser the account has logged in from before (None: an
    # unknown device): failures there are counted for that device only.
    device: Mapped[str | None] = mapped_column(String(64))


# What ends every token and session of an account when it changes.
REVOKING_FIELDS = (
    "password_hash",
    "role",
    "active",
    "department_id",
    "inspector_id",
    "enterprise_id",
)


@event.listens_for(Session, "before_flush")
def revoke_on_change(session: Session, _context, _instances) -> None:
    """Raise `token_version` of every account whose password, role, active flag or binding
    is about to change, whichever code changes it: older tokens are refused from then on."""
    for obj in session.dirty:
        if not isinstance(obj, User):
            continue
        state = inspect(obj)
        if any(state.attrs[name].history.has_changes() for name in REVOKING_FIELDS) and not (
            state.attrs["token_version"].history.has_changes()
        ):
            obj.token_version = (obj.token_version or 0) + 1
