"""Check-in (扫码入企): inspectors post what they scanned at the door; staff and the
enterprise read the check-ins they may see."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from checkonce.api.deps import STAFF, Allow, PageDep, SessionDep
from checkonce.api.schemas import Page
from checkonce.auth.service import Forbidden, Principal
from checkonce.policy import Policy, load_policy
from checkonce.registry.models import Enterprise, Inspector
from checkonce.visits.checkin import CheckinRequest, check_in
from checkonce.visits.checkin_models import CheckIn

router = APIRouter(tags=["扫码入企"])
InspectorDep = Annotated[Principal, Depends(Allow("inspector"))]
ReaderDep = Annotated[Principal, Depends(Allow(*STAFF, "enterprise"))]


@lru_cache
def policy_of(jurisdiction_dir: Path) -> Policy:
    """The jurisdiction's policy, read once per folder."""
    return load_policy(jurisdiction_dir / "policy.toml")


def request_policy(request: Request) -> Policy:
    return policy_of(request.app.state.settings.jurisdiction_dir)


class CheckinIn(BaseModel):
    """A scan at the enterprise's door, as the phone sends it (and re-sends it, unchanged,
    with the same idempotency key when the network failed)."""

    token: str = Field(
        min_length=8, max_length=600, description="扫到的企业码，或二维码中的完整网址"
    )
    idempotency_key: str = Field(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:\-]+$",
        description="手机生成的幂等键（如 UUID）；重试时必须相同",
    )
    client_time: dt.datetime = Field(description="手机上的签到时间（无时区时按本地时间）")
    lat: float | None = Field(None, ge=-90, le=90, description="纬度（WGS-84）")
    lon: float | None = Field(None, ge=-180, le=180, description="经度（WGS-84）")
    credit_code: str | None = Field(
        None, min_length=18, max_length=18, description="检查人员认为所在企业的信用代码（可选）"
    )
    backfill_reason: str | None = Field(
        None, max_length=500, description="补录原因；填写即为补录（入企后 10 个自然日内）"
    )

    @field_validator("client_time")
    @classmethod
    def _plausible_year(cls, value: dt.datetime) -> dt.datetime:
        # A phone clock in year 1 or 9999 is broken; refusing it here keeps time zone
        # arithmetic from overflowing.
        if not 2000 <= value.year <= 2100:
            raise ValueError("签到时间不合理，请校准手机时间")
        return value


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
    # The enterprise's confirmation of presence (到场确认): until then the check-in is a claim.
    confirmed: bool
    confirmed_at: dt.datetime | None
    confirm_method: Literal["inspection_code", "visit_page"] | None


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def checkin_out(row: CheckIn) -> CheckinOut:
    """The answer for a check-in, built from the stored row only (a replay gets the same)."""
    if row.outcome == "planned":
        message = f"签到成功：已匹配计划检查 {row.visit.code if row.visit else ''}".rstrip()
        if row.confirmed_at is None:
            message += (
                "；请企业扫描您的检查码或在其检查页面确认到场，未经企业确认的签到将提示协调部门"
            )
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
        confirmed=row.confirmed_at is not None,
        confirmed_at=_utc(row.confirmed_at) if row.confirmed_at else None,
        confirm_method=row.confirm_method,  # type: ignore[arg-type]
    )


@router.post("/checkins", response_model=CheckinOut, status_code=201)
def post_checkin(
    body: CheckinIn,
    request: Request,
    response: Response,
    db: SessionDep,
    principal: InspectorDep,
) -> CheckinOut:
    """扫码入企签到。匹配本人今日在该企业的计划检查则签到；否则登记为计划外入企并预警。
    同一幂等键重复提交只保存一次，返回同一结果（响应头 Idempotent-Replay: true）。
    手机上报的位置按原样记录，只是执法人员一方的说法，不作为到场证明；企业扫描检查码或在
    其检查页面确认后（confirmed），签到才算确认，未确认的签到提示协调部门。"""
    if principal.inspector_id is None:
        raise Forbidden("该账号未关联执法人员，不能签到")
    result = check_in(
        db_session=db,
        secret_key=request.app.state.settings.secret_key,
        policy=request_policy(request),
        inspector_id=principal.inspector_id,
        request=CheckinRequest(
            scanned=body.token,
            client_time=body.client_time,
            idempotency_key=body.idempotency_key,
            lat=body.lat,
            lon=body.lon,
            credit_code=body.credit_code,
            backfill_reason=body.backfill_reason,
        ),
    )
    if result.replayed:
        response.headers["Idempotent-Replay"] = "true"
    return checkin_out(result.checkin)


@router.get("/checkins", response_model=Page[CheckinOut])
def list_checkins(
    db: SessionDep,
    principal: ReaderDep,
    page: PageDep,
    credit_code: Annotated[str | None, Query(max_length=18, description="企业信用代码")] = None,
    outcome: Annotated[
        Literal["planned", "unplanned"] | None, Query(description="计划内/外")
    ] = None,
    flagged: Annotated[bool | None, Query(description="只看补录或超出定位范围的")] = None,
    confirmed: Annotated[bool | None, Query(description="企业是否已确认到场")] = None,
    day_from: dt.date | None = None,
    day_to: dt.date | None = None,
) -> Page[CheckinOut]:
    """入企签到记录。执法人员看本人的，执法部门看本部门人员的，企业看进入本企业的。"""
    stmt = select(CheckIn).join(Enterprise, CheckIn.enterprise_id == Enterprise.id)
    if principal.role == "inspector":
        stmt = stmt.where(CheckIn.inspector_id == (principal.inspector_id or -1))
    elif principal.role == "bureau":
        stmt = stmt.join(Inspector, CheckIn.inspector_id == Inspector.id).where(
            Inspector.department_id == (principal.department_id or -1)
        )
    elif principal.role == "enterprise":
        stmt = stmt.where(CheckIn.enterprise_id == (principal.enterprise_id or -1))
    if credit_code:
        stmt = stmt.where(Enterprise.credit_code == credit_code.upper())
    if outcome:
        stmt = stmt.where(CheckIn.outcome == outcome)
    if flagged is not None:
        is_flagged = CheckIn.backfill | CheckIn.outside_geofence
        stmt = stmt.where(is_flagged if flagged else ~is_flagged)
    if confirmed is not None:
        stmt = stmt.where(
            CheckIn.confirmed_at.is_not(None) if confirmed else CheckIn.confirmed_at.is_(None)
        )
    if day_from:
        stmt = stmt.where(CheckIn.day >= day_from)
    if day_to:
        stmt = stmt.where(CheckIn.day <= day_to)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.options(
            selectinload(CheckIn.enterprise),
            selectinload(CheckIn.inspector),
            selectinload(CheckIn.visit),
        )
        .order_by(CheckIn.checked_in_at.desc(), CheckIn.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    return Page(
        items=[checkin_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )
