"""Reports from enterprises (企业反映): an inspection that was not registered (未登记检查: no
scan of the enterprise code, no inspection code that checks out) or another problem with an
inspection. The enterprise files them from its report page; coordinators read them and the
coordinator dashboard counts them (`count_reports`).

A report is the enterprise's account, kept as written; nothing in it is trusted to name a
real department or inspector, so it is free text, checked only for length and control
characters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.errors import CheckOnceError
from checkonce.visits.models import REPORT_KINDS, EnterpriseReport

REPORT_KIND_NAMES = {
    "unregistered_inspection": "未登记的检查",
    "other": "其他问题",
}
# How far back an enterprise may report: an older event is a complaint for 12345, not for us.
REPORT_WITHIN_DAYS = 90
LIMITS = {"department_said": 100, "people": 200, "description": 2000, "contact": 100}
FIELD_NAMES = {
    "department_said": "自称的部门",
    "people": "来人情况",
    "description": "经过",
    "contact": "联系方式",
}


@dataclass(frozen=True)
class ReportInput:
    """What the enterprise writes on the report form."""

    kind: str
    happened_on: dt.date | None
    happened_at: dt.time | None = None
    department_said: str = ""
    people: str = ""
    description: str = ""
    contact: str = ""


def _clean(value: str, field: str) -> str:
    text = (value or "").strip()
    if any(ord(c) < 32 and c not in "\n\r\t" for c in text):
        raise CheckOnceError(f"「{FIELD_NAMES[field]}」含有不允许的控制字符")
    if len(text) > LIMITS[field]:
        raise CheckOnceError(f"「{FIELD_NAMES[field]}」不能超过 {LIMITS[field]} 个字")
    return text


def check_report(data: ReportInput, *, today: dt.date) -> dict:
    """The report's stored fields, or the first problem as a CheckOnceError.

    Rules: a known kind; the date given, not in the future and within REPORT_WITHIN_DAYS;
    what happened described in at least 10 characters; for an unregistered inspection, who
    came or which department they said they were from (otherwise nobody can follow it up)."""
    if data.kind not in REPORT_KINDS:
        raise CheckOnceError("请选择反映的问题类型")
    if data.happened_on is None:
        raise CheckOnceError("请填写发生日期")
    if data.happened_on > today:
        raise CheckOnceError("发生日期不能晚于今天")
    if data.happened_on < today - dt.timedelta(days=REPORT_WITHIN_DAYS):
        raise CheckOnceError(
            f"只能反映 {REPORT_WITHIN_DAYS} 天内发生的事；更早的请拨打 12345 政务服务便民热线"
        )
    fields = {name: _clean(getattr(data, name), name) for name in LIMITS}
    if len(fields["description"]) < 10:
        raise CheckOnceError("请写明经过（至少 10 个字）：来人做了什么、查了什么、是否出示证件")
    if (
        data.kind == "unregistered_inspection"
        and not fields["department_said"]
        and not fields["people"]
    ):
        raise CheckOnceError("未登记的检查请至少填写来人自称的部门或来人情况（人数、姓名、证件号）")
    when = {"happened_on": data.happened_on, "happened_at": data.happened_at}
    return {"kind": data.kind, **when, **fields}


def file_report(
    *, db_session: Session, enterprise_id: int, data: ReportInput, actor: Actor, today: dt.date
) -> EnterpriseReport:
    """Store an enterprise's report after `check_report`; nothing is stored when it fails."""
    access.require(actor, AuditAction.REPORT_CREATE, enterprise_id=enterprise_id)
    fields = check_report(data, today=today)
    report = EnterpriseReport(enterprise_id=enterprise_id, reported_by=actor.label, **fields)
    db_session.add(report)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.REPORT_CREATE,
        object_type="enterprise_report",
        object_id=report.id,
        enterprise_id=enterprise_id,
        after={
            "kind": fields["kind"],
            "happened_on": fields["happened_on"],
            "department_said": fields.get("department_said", ""),
        },
    )
    return report


def list_reports(
    *,
    db_session: Session,
    enterprise_id: int | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[EnterpriseReport], int]:
    """Reports, newest first, with their enterprise, and how many there are in all."""
    stmt = select(EnterpriseReport)
    if enterprise_id is not None:
        stmt = stmt.where(EnterpriseReport.enterprise_id == enterprise_id)
    if kind is not None:
        stmt = stmt.where(EnterpriseReport.kind == kind)
    total = db_session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db_session.scalars(
        stmt.options(selectinload(EnterpriseReport.enterprise))
        .order_by(EnterpriseReport.created_at.desc(), EnterpriseReport.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def count_reports(
    *, db_session: Session, since: dt.datetime | None = None, kind: str | None = None
) -> int:
    """How many reports came in (since `since`, of `kind`): the coordinator dashboard's number."""
    stmt = select(func.count()).select_from(EnterpriseReport)
    if since is not None:
        stmt = stmt.where(EnterpriseReport.created_at >= since)
    if kind is not None:
        stmt = stmt.where(EnterpriseReport.kind == kind)
    return db_session.scalar(stmt) or 0
