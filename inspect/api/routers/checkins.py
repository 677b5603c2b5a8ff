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

from checkonce.api.deps import STAFF, ActorDep, Allow, PageDep, SessionDep
from checkonce.api.schemas import CheckinOut, Page, checkin_out
from checkonce.auth import access
from checkonce.auth.service import Forbidden, Principal
from checkonce.policy import Policy, load_policy
from checkonce.registry.models import Enterprise
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


@router.post("/checkins", response_model=CheckinOut, status_code=201)
def post_checkin(
    body: CheckinIn,
    request: Request,
    response: Response,
    db: SessionDep,
    principal: InspectorDep,
    actor: ActorDep,
) -> CheckinOut:
    """扫码入企签到。匹配本人今日在该企业的计划检查则签到；否则登记为计划外入企并预警。
    同一幂等键重复提交只保存一次，返回同一结果（响应头 Idempotent-Replay: true）。"""
    if principal.inspector_id is None:
        raise Forbidden("该账号未关联执法人员，不能签到")
    result = check_in(
        db_session=db,
        secret_key=request.app.state.settings.secret_key,
        policy=request_policy(request),
        inspector_id=principal.inspector_id,
        actor=actor,
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
    day_from: dt.date | None = None,
    day_to: dt.date | None = None,
) -> Page[CheckinOut]:
    """入企签到记录。执法人员看本人的，执法部门看本部门人员的，企业看进入本企业的。"""
    stmt = access.visible_checkins(
        select(CheckIn).join(Enterprise, CheckIn.enterprise_id == Enterprise.id), principal
    )
    if credit_code:
        stmt = stmt.where(Enterprise.credit_code == credit_code.upper())
    if outcome:
        stmt = stmt.where(CheckIn.outcome == outcome)
    if flagged is not None:
        is_flagged = CheckIn.backfill | CheckIn.outside_geofence
        stmt = stmt.where(is_flagged if flagged else ~is_flagged)
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
