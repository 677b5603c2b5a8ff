"""Repeat-entry and unplanned-entry alerts for coordinators (入企预警), and what enterprises
report (企业反映: unregistered inspections and other problems)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from checkonce.api.deps import Allow, PageDep, SessionDep
from checkonce.api.reads import ReadLogDep
from checkonce.api.schemas import Page
from checkonce.auth.service import Principal
from checkonce.registry.models import Enterprise
from checkonce.visits import reports
from checkonce.visits.alerts import AlertFilter, list_alerts
from checkonce.visits.checkin_models import EntryAlert
from checkonce.visits.models import EnterpriseReport

router = APIRouter(tags=["入企预警"])
CoordinatorDep = Annotated[Principal, Depends(Allow("coordinator", "admin"))]
AlertKind = Literal["unplanned_entry", "entries_per_day", "entries_per_week", "entries_per_month"]


class AlertOut(BaseModel):
    id: int
    kind: AlertKind
    kind_name: str
    message: str
    credit_code: str
    enterprise: str
    district: str
    window: str
    window_start: dt.date
    window_end: dt.date
    count: int
    threshold: int
    raised_at: dt.datetime
    updated_at: dt.datetime


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def alert_out(alert: EntryAlert, firm: Enterprise) -> AlertOut:
    if alert.kind == "unplanned_entry":
        message = (
            f"{firm.name} 于 {alert.window_start} 有计划外入企（{alert.count} 名执法人员签到）"
        )
    else:
        span = {"entries_per_day": "当日", "entries_per_week": "本周", "entries_per_month": "本月"}
        message = (
            f"{firm.name} {span[alert.kind]}（{alert.window_start}–{alert.window_end}）"
            f"已被入企 {alert.count} 次，超过上限 {alert.threshold} 次"
        )
    return AlertOut(
        id=alert.id,
        kind=alert.kind,  # type: ignore[arg-type]
        kind_name=alert.kind_name,
        message=message,
        credit_code=firm.credit_code,
        enterprise=firm.name,
        district=firm.district_adcode,
        window=alert.window_key,
        window_start=alert.window_start,
        window_end=alert.window_end,
        count=alert.count,
        threshold=alert.threshold,
        raised_at=_utc(alert.raised_at),
        updated_at=_utc(alert.updated_at),
    )


@router.get("/alerts", response_model=Page[AlertOut])
def get_alerts(
    db: SessionDep,
    principal: CoordinatorDep,
    page: PageDep,
    reads: ReadLogDep,
    kind: Annotated[AlertKind | None, Query(description="预警类型")] = None,
    credit_code: Annotated[str | None, Query(max_length=18, description="企业信用代码")] = None,
    district: Annotated[str | None, Query(max_length=6, description="区县代码")] = None,
    date_from: Annotated[dt.date | None, Query(description="时间窗口晚于或含此日")] = None,
    date_to: Annotated[dt.date | None, Query(description="时间窗口早于或含此日")] = None,
) -> Page[AlertOut]:
    """入企预警：计划外入企，以及单个企业单日 > 1、单周 > 2、单月 > 3 次入企（无论原因）。"""
    rows, total = list_alerts(
        db_session=db,
        filters=AlertFilter(
            kind=kind,
            credit_code=credit_code,
            district=district,
            date_from=date_from,
            date_to=date_to,
        ),
        limit=page.limit,
        offset=page.offset,
    )
    firms = {
        f.id: f
        for f in db.scalars(
            select(Enterprise).where(Enterprise.id.in_({a.enterprise_id for a in rows}))
        )
    }
    reads.shown(
        principal, "entry_alert", enterprise_ids=[a.enterprise_id for a in rows], total=total
    )
    return Page(
        items=[alert_out(a, firms[a.enterprise_id]) for a in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


class ReportOut(BaseModel):
    id: int
    kind: Literal["unregistered_inspection", "other"]
    kind_name: str
    credit_code: str
    enterprise: str
    happened_on: dt.date
    happened_at: dt.time | None
    department_said: str
    people: str
    description: str
    contact: str
    reported_by: str
    created_at: dt.datetime


def report_out(row: EnterpriseReport) -> ReportOut:
    return ReportOut(
        id=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        kind_name=reports.REPORT_KIND_NAMES[row.kind],
        credit_code=row.enterprise.credit_code,
        enterprise=row.enterprise.name,
        happened_on=row.happened_on,
        happened_at=row.happened_at,
        department_said=row.department_said,
        people=row.people,
        description=row.description,
        contact=row.contact,
        reported_by=row.reported_by,
        created_at=_utc(row.created_at),
    )


@router.get("/enterprise-reports", response_model=Page[ReportOut])
def get_enterprise_reports(
    db: SessionDep,
    principal: CoordinatorDep,
    page: PageDep,
    reads: ReadLogDep,
    kind: Annotated[
        Literal["unregistered_inspection", "other"] | None, Query(description="反映类型")
    ] = None,
) -> Page[ReportOut]:
    """企业反映：未登记的检查及其他问题，最新的在前。"""
    rows, total = reports.list_reports(
        db_session=db, kind=kind, limit=page.limit, offset=page.offset
    )
    reads.shown(
        principal, "enterprise_report", enterprise_ids=[r.enterprise_id for r in rows], total=total
    )
    return Page(
        items=[report_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )
