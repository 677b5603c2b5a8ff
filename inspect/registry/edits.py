"""Registry edits by administrators, each with its audit record (before and after): an
enterprise's risk class, white list, status (active), industry, district, name and address;
an inspector's status and enforcement certificate; declared conflicts (回避关系)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import changed, record, snapshot
from checkonce.auth import access
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.registry.creditcode import credit_code_problem
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import INSPECTOR_STATUSES, District, Enterprise, Industry, Inspector
from checkonce.registry.models import Conflict as ConflictRow

ENTERPRISE_FIELDS = [
    "credit_code",
    "name",
    "address",
    "district_adcode",
    "lat",
    "lon",
    "industry_code",
    "risk_class",
    "whitelisted",
    "opens_at",
    "closes_at",
    "active",
]
EDITABLE = ("risk_class", "whitelisted", "active", "industry_code", "district_adcode")
EDITABLE += ("name", "address", "lat", "lon")
CERTIFICATE_FIELDS = ("certificate_no", "certificate_valid_from", "certificate_valid_to")
INSPECTOR_FIELDS = ["status", *CERTIFICATE_FIELDS]


def get_enterprise(db_session: Session, credit_code: str) -> Enterprise:
    firm = db_session.scalars(
        select(Enterprise).where(Enterprise.credit_code == credit_code)
    ).first()
    if firm is None:
        raise NotFound(f"企业 {credit_code} 不存在")
    return firm


def _check_place(
    db_session: Session, juris: Jurisdiction | None, adcode: str, lat: float, lon: float
) -> None:
    if db_session.get(District, adcode) is None:
        raise CheckOnceError(f"区县代码 {adcode} 不属于本辖区")
    if juris is None:
        return
    actual = juris.district_of(lat, lon)
    if actual != adcode:
        where = juris.districts[actual].name if actual else "本市范围外"
        raise CheckOnceError(f"坐标 ({lat}, {lon}) 位于{where}，与区县代码不符")


def create_enterprise(
    *, db_session: Session, actor: Actor, data: dict[str, Any], juris: Jurisdiction | None
) -> Enterprise:
    """Register one enterprise (the same checks as a bulk import)."""
    access.require(actor, AuditAction.ENTERPRISE_CREATE)
    problem = credit_code_problem(data["credit_code"])
    if problem:
        raise CheckOnceError(problem, code="invalid_credit_code")
    if db_session.scalar(
        select(Enterprise.id).where(Enterprise.credit_code == data["credit_code"])
    ):
        raise Conflict(f"企业 {data['credit_code']} 已在登记库中")
    if db_session.get(Industry, data["industry_code"]) is None:
        raise CheckOnceError(f"未知行业 {data['industry_code']}")
    if data.get("opens_at") and data.get("closes_at") and data["opens_at"] >= data["closes_at"]:
        raise CheckOnceError("营业结束时间应晚于开始时间")
    _check_place(db_session, juris, data["district_adcode"], data["lat"], data["lon"])
    firm = Enterprise(**data)
    db_session.add(firm)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.ENTERPRISE_CREATE,
        object_type="enterprise",
        object_id=firm.credit_code,
        enterprise_id=firm.id,
        after=snapshot(firm, ENTERPRISE_FIELDS),
    )
    return firm


def update_enterprise(
    *,
    db_session: Session,
    actor: Actor,
    credit_code: str,
    changes: dict[str, Any],
    juris: Jurisdiction | None = None,
) -> Enterprise:
    """Change an enterprise's registry fields; the record holds only what changed, before
    and after (nothing is recorded when nothing changed)."""
    access.require(actor, AuditAction.ENTERPRISE_UPDATE)
    firm = get_enterprise(db_session, credit_code)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise CheckOnceError(f"不能修改的字段：{'、'.join(unknown)}")
    for name, value in changes.items():
        if value is None:
            raise CheckOnceError(f"字段 {name} 不能为空")
    if "risk_class" in changes and changes["risk_class"] not in ("A", "B", "C", "D"):
        raise CheckOnceError("风险等级应为 A、B、C 或 D")
    if "industry_code" in changes and db_session.get(Industry, changes["industry_code"]) is None:
        raise CheckOnceError(f"未知行业 {changes['industry_code']}")
    if {"district_adcode", "lat", "lon"} & set(changes):
        _check_place(
            db_session,
            juris,
            changes.get("district_adcode", firm.district_adcode),
            changes.get("lat", firm.lat),
            changes.get("lon", firm.lon),
        )
    before = snapshot(firm, list(changes))
    for name, value in changes.items():
        setattr(firm, name, value)
    db_session.flush()
    old, new = changed(before, snapshot(firm, list(changes)))
    if new:
        record(
            db_session,
            actor=actor,
            action=AuditAction.ENTERPRISE_UPDATE,
            object_type="enterprise",
            object_id=firm.credit_code,
            enterprise_id=firm.id,
            before=old,
            after=new,
        )
    return firm


def update_inspector(
    *, db_session: Session, actor: Actor, code: str, changes: dict[str, Any]
) -> Inspector:
    """Change an inspector's status or enforcement certificate (number, validity). A
    certificate change is recorded as such; a status change as an inspector update."""
    person = db_session.scalars(select(Inspector).where(Inspector.code == code)).first()
    if person is None:
        raise NotFound(f"执法人员 {code} 不存在")
    unknown = sorted(set(changes) - set(INSPECTOR_FIELDS))
    if unknown:
        raise CheckOnceError(f"不能修改的字段：{'、'.join(unknown)}")
    certificate = bool(set(changes) & set(CERTIFICATE_FIELDS))
    action = AuditAction.CERTIFICATE_UPDATE if certificate else AuditAction.INSPECTOR_UPDATE
    access.require(actor, action)
    if "status" in changes and changes["status"] not in INSPECTOR_STATUSES:
        raise CheckOnceError(f"状态应为 {'、'.join(INSPECTOR_STATUSES)}")
    start = changes.get("certificate_valid_from", person.certificate_valid_from)
    end = changes.get("certificate_valid_to", person.certificate_valid_to)
    if start and end and end < start:
        raise CheckOnceError("执法证有效期截止日期早于起始日期")
    number = changes.get("certificate_no")
    if number and db_session.scalar(
        select(Inspector.id).where(Inspector.certificate_no == number, Inspector.id != person.id)
    ):
        raise Conflict(f"执法证号 {number} 已属于另一名执法人员")
    before = snapshot(person, list(changes))
    for name, value in changes.items():
        setattr(person, name, value)
    db_session.flush()
    old, new = changed(before, snapshot(person, list(changes)))
    if new:
        record(
            db_session,
            actor=actor,
            action=action,
            object_type="inspector",
            object_id=person.code,
            before=old,
            after=new,
        )
    return person


def declare_conflict(
    *,
    db_session: Session,
    actor: Actor,
    inspector_code: str,
    credit_code: str,
    reason: str,
    declared_on: dt.date,
) -> ConflictRow:
    """Declare that an inspector must not inspect an enterprise (回避)."""
    access.require(actor, AuditAction.CONFLICT_CREATE)
    person = db_session.scalars(select(Inspector).where(Inspector.code == inspector_code)).first()
    if person is None:
        raise NotFound(f"执法人员 {inspector_code} 不存在")
    firm = get_enterprise(db_session, credit_code)
    reason = (reason or "").strip()
    if not reason:
        raise CheckOnceError("登记回避关系须写明原因")
    if db_session.scalar(
        select(ConflictRow.id).where(
            ConflictRow.inspector_id == person.id, ConflictRow.enterprise_id == firm.id
        )
    ):
        raise Conflict(f"{person.name}（{person.code}）与企业 {credit_code} 的回避关系已登记")
    row = ConflictRow(
        inspector_id=person.id, enterprise_id=firm.id, reason=reason[:200], declared_on=declared_on
    )
    db_session.add(row)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.CONFLICT_CREATE,
        object_type="conflict",
        object_id=row.id,
        enterprise_id=firm.id,
        after={"inspector": person.code, "enterprise": credit_code, "reason": row.reason},
    )
    return row


def withdraw_conflict(*, db_session: Session, actor: Actor, conflict_id: int, reason: str) -> None:
    """Withdraw a declared conflict, with the reason kept in the audit record."""
    access.require(actor, AuditAction.CONFLICT_DELETE)
    row = db_session.get(ConflictRow, conflict_id)
    if row is None:
        raise NotFound(f"回避关系 {conflict_id} 不存在")
    if not (reason or "").strip():
        raise CheckOnceError("撤销回避关系须写明原因")
    person = db_session.get(Inspector, row.inspector_id)
    firm = db_session.get(Enterprise, row.enterprise_id)
    before = {
        "inspector": person.code if person else None,
        "enterprise": firm.credit_code if firm else None,
        "reason": row.reason,
    }
    db_session.delete(row)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.CONFLICT_DELETE,
        object_type="conflict",
        object_id=conflict_id,
        enterprise_id=row.enterprise_id,
        before=before,
        detail={"reason": reason.strip()},
    )
