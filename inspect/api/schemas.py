"""Shapes shared by API answers and pages: lists, errors, and a check-in's answer (the
inspector's page shows the same words the phone gets)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from checkonce.visits.checkin_models import CheckIn

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class CheckinOut(BaseModel):
    id: int
    idempotency_key: str
    outcome: Literal["planned", "unplanned"]
    message: str
    credit_code: str
    enterprise: str
    inspector: str
    visit_id: int | None
    visit_code: str | None
    day: dt.date
    checked_in_at: dt.datetime
    client_time: dt.datetime
    recorded_at: dt.datetime
    lat: float | None
    lon: float | None
    distance_m: float | None
    outside_geofence: bool
    backfill: bool
    backfill_reason: str | None


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def checkin_out(row: CheckIn) -> CheckinOut:
    """The answer for a check-in, built from the stored row only (a replay gets the same)."""
    if row.outcome == "planned":
        message = f"签到成功：已匹配计划检查 {row.visit.code if row.visit else ''}".rstrip()
    else:
        message = "未匹配到您今日的计划检查：已登记为计划外入企，并已向协调部门预警"
    if row.backfill:
        message += "（补录，已标记）"
    if row.outside_geofence:
        message += f"；定位距企业 {row.distance_m:.0f} 米，超出范围，已标记"
    return CheckinOut(
        id=row.id,
        idempotency_key=row.idempotency_key,
        outcome=row.outcome,  # type: ignore[arg-type]
        message=message,
        credit_code=row.enterprise.credit_code,
        enterprise=row.enterprise.name,
        inspector=row.inspector.name,
        visit_id=row.visit_id,
        visit_code=row.visit.code if row.visit else None,
        day=row.day,
        checked_in_at=_utc(row.checked_in_at),
        client_time=_utc(row.client_time),
        recorded_at=_utc(row.recorded_at),
        lat=row.lat,
        lon=row.lon,
        distance_m=row.distance_m,
        outside_geofence=row.outside_geofence,
        backfill=row.backfill,
        backfill_reason=row.backfill_reason,
    )
