"""Double-random draws (双随机): coordinators commit, enter the beacon, run and publish, and
request redraws that a legal reviewer (法制审核) approves or rejects; anyone can list every
draw with its state, fetch a draw's public data (the commitment from the moment of commit,
everything once its seed is public) and have the server recompute it — or recompute it
themselves from the JSON."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from checkonce.api.deps import (
    MAX_ID,
    PUBLIC,
    ActorDep,
    Allow,
    ObjectId,
    PageDep,
    SessionDep,
    YearQuery,
)
from checkonce.api.schemas import Page
from checkonce.auth.service import Principal
from checkonce.errors import NotFound
from checkonce.public import public_draw_json
from checkonce.sampling import service
from checkonce.sampling.models import Draw, RedrawRequest
from checkonce.sampling.verify import verify_published

router = APIRouter(tags=["双随机抽取"])
Coordinator = Annotated[Principal, Depends(Allow("coordinator"))]
Legal = Annotated[Principal, Depends(Allow("legal"))]
Overseer = Annotated[Principal, Depends(Allow("admin", "coordinator", "legal"))]


class DrawOut(BaseModel):
    """A draw as anyone may see it (the secret seed only once it is public)."""

    id: int
    year: int
    state: str
    state_name: str
    title: str
    commitment_sha256: str
    seed_sha256: str
    population_sha256: str
    population_size: int
    selected: int
    beacon_source: str | None
    beacon_name: str | None
    beacon_date: dt.date | None
    beacon_value: str | None
    seed: str | None
    final_seed: str | None
    supersedes_id: int | None
    redraw_reason: str | None
    end_reason: str | None
    committed_by: str
    committed_at: dt.datetime


class DrawIn(BaseModel):
    plan_task_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=50)
    title: str = Field("", max_length=200)
    exclude_drawn_same_item_year: bool | None = None


class BeaconIn(BaseModel):
    value: str = Field(min_length=1, max_length=40, description="随机源公布的数值，如 3352.10")


class ReasonIn(BaseModel):
    reason: str = Field(min_length=2, max_length=500)


class NoteIn(BaseModel):
    note: str = Field(min_length=2, max_length=500)


class RedrawRequestOut(BaseModel):
    id: int
    draw_id: int
    state: str
    state_name: str
    reason: str
    requested_by: str
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None
    new_draw_id: int | None


class VerifyOut(BaseModel):
    draw: Any = None
    ok: bool
    problems: list[str]
    beacon: str = ""


def _out(draw: Draw) -> DrawOut:
    return DrawOut(
        id=draw.id,
        year=draw.year,
        state=draw.state,
        state_name=draw.state_name,
        title=draw.title,
        commitment_sha256=draw.commitment_sha256,
        seed_sha256=draw.seed_sha256,
        population_sha256=draw.population_sha256,
        population_size=draw.population_size,
        selected=sum(1 for m in draw.members if m.selected),
        beacon_source=draw.beacon_source,
        beacon_name=draw.beacon_name,
        beacon_date=draw.beacon_date,
        beacon_value=draw.beacon_value,
        seed=draw.seed if draw.seed_public else None,
        final_seed=draw.final_seed,
        supersedes_id=draw.supersedes_id,
        redraw_reason=draw.redraw_reason,
        end_reason=draw.end_reason,
        committed_by=draw.committed_by,
        committed_at=draw.committed_at,
    )


def _request_out(request: RedrawRequest) -> RedrawRequestOut:
    return RedrawRequestOut(
        id=request.id,
        draw_id=request.draw_id,
        state=request.state,
        state_name=request.state_name,
        reason=request.reason,
        requested_by=request.requested_by,
        requested_at=request.requested_at,
        decided_by=request.decided_by,
        decided_at=request.decided_at,
        decision_note=request.decision_note,
        new_draw_id=request.new_draw_id,
    )


def _page(draws: list[Draw], page) -> Page[DrawOut]:
    chunk = draws[page.offset : page.offset + page.limit]
    return Page(
        items=[_out(d) for d in chunk], total=len(draws), limit=page.limit, offset=page.offset
    )


@router.get("/draws", response_model=Page[DrawOut])
def list_draws(db: SessionDep, _: Overseer, page: PageDep, year: YearQuery = None) -> Page[DrawOut]:
    """抽取记录（含作废、被取代的抽取及重新抽取理由）。"""
    return _page(service.list_draws(db_session=db, year=year), page)


@router.post("/draws", response_model=DrawOut, status_code=201)
def commit(body: DrawIn, db: SessionDep, principal: Coordinator, actor: ActorDep) -> DrawOut:
    """发起抽取：立即公布承诺（种子哈希、含排除名单的总体哈希、分层、随机源及其日期）。
    多个部门的抽查任务一并提交即为部门联合双随机。"""
    draw = service.commit_draw(
        db_session=db,
        plan_task_ids=body.plan_task_ids,
        actor=actor,
        title=body.title,
        exclude_drawn_same_item_year=body.exclude_drawn_same_item_year,
    )
    return _out(draw)


@router.post("/draws/{draw_id}/beacon", response_model=DrawOut)
def beacon(
    draw_id: ObjectId, body: BeaconIn, db: SessionDep, principal: Coordinator, actor: ActorDep
) -> DrawOut:
    """录入随机源数值（随机源日公布后录入，只能录入一次）。"""
    return _out(
        service.record_beacon(db_session=db, draw_id=draw_id, value=body.value, actor=actor)
    )


@router.post("/draws/{draw_id}/run", response_model=DrawOut)
def run(draw_id: ObjectId, db: SessionDep, principal: Coordinator, actor: ActorDep) -> DrawOut:
    """执行抽取（随机源录入后），生成检查任务并公开种子（每次抽取只能执行一次）。"""
    return _out(service.run_draw(db_session=db, draw_id=draw_id, actor=actor))


@router.post("/draws/{draw_id}/reveal", response_model=DrawOut)
def reveal(draw_id: ObjectId, db: SessionDep, principal: Coordinator, actor: ActorDep) -> DrawOut:
    """公布种子（随机源制度实施前已执行的抽取）。"""
    return _out(service.reveal_draw(db_session=db, draw_id=draw_id, actor=actor))


@router.post("/draws/{draw_id}/publish", response_model=dict[str, Any])
def publish(
    draw_id: ObjectId, db: SessionDep, principal: Coordinator, actor: ActorDep
) -> dict[str, Any]:
    """公示抽取：执行前为承诺，执行后为完整结果。"""
    return service.publish_draw(db_session=db, draw_id=draw_id, actor=actor)


@router.post("/draws/{draw_id}/redraw", response_model=RedrawRequestOut, status_code=201)
def redraw(
    draw_id: ObjectId, body: ReasonIn, db: SessionDep, principal: Coordinator, actor: ActorDep
) -> RedrawRequestOut:
    """申请重新抽取（写明理由）：经法制审核人员批准后才生效，原抽取保留并公开。"""
    request = service.request_redraw(
        db_session=db, draw_id=draw_id, reason=body.reason, actor=actor
    )
    return _request_out(request)


@router.get("/redraw-requests", response_model=list[RedrawRequestOut])
def redraw_requests(db: SessionDep, _: Overseer) -> list[RedrawRequestOut]:
    """重新抽取申请（待审核、已批准、已驳回）。"""
    return [_request_out(r) for r in service.list_requests(db_session=db)]


@router.post("/redraw-requests/{request_id}/approve", response_model=DrawOut, status_code=201)
def approve(
    request_id: ObjectId, body: NoteIn, db: SessionDep, principal: Legal, actor: ActorDep
) -> DrawOut:
    """批准重新抽取（法制审核，不能是申请人）：原抽取作废并公开种子，新抽取立即公布承诺。"""
    return _out(
        service.approve_redraw(db_session=db, request_id=request_id, note=body.note, actor=actor)
    )


@router.post("/redraw-requests/{request_id}/reject", response_model=RedrawRequestOut)
def reject(
    request_id: ObjectId, body: NoteIn, db: SessionDep, principal: Legal, actor: ActorDep
) -> RedrawRequestOut:
    """驳回重新抽取申请（法制审核）：原抽取不变。"""
    return _request_out(
        service.reject_redraw(db_session=db, request_id=request_id, note=body.note, actor=actor)
    )


@router.get("/public/draws", response_model=Page[DrawOut], dependencies=[PUBLIC])
def public_draws(db: SessionDep, page: PageDep, year: YearQuery = None) -> Page[DrawOut]:
    """全部抽取（无需登录）：每次抽取自发起之时起即公开承诺，连同状态（已承诺、已抽取、
    已作废、已被取代）和重新抽取理由；作废和被取代的抽取也公开种子。"""
    return _page(service.list_draws(db_session=db, year=year), page)


@router.get("/public/draws/{draw_id}", response_model=dict[str, Any], dependencies=[PUBLIC])
def public_draw(draw_id: ObjectId, db: SessionDep) -> dict[str, Any]:
    """抽取的公开数据（无需登录）：执行前为承诺和随机源，种子公开后为完整结果（含排除
    名单和重新抽取记录），可自行复算。"""
    draw = service.get_draw(db_session=db, draw_id=draw_id)
    return public_draw_json(service.public_json(db_session=db, draw=draw))


@router.get("/public/draws/{draw_id}/verify", response_model=VerifyOut, dependencies=[PUBLIC])
def public_verify(draw_id: ObjectId, db: SessionDep) -> VerifyOut:
    """由服务器按公开数据复算抽取结果（只用公开 JSON，与任何人自行复算相同）。"""
    draw = service.get_draw(db_session=db, draw_id=draw_id)
    if not draw.seed_public:
        raise NotFound(f"抽取 {draw_id} 尚未公开种子")
    result = verify_published(public_draw_json(service.published_json(draw)))
    return VerifyOut(draw=result.draw, ok=result.ok, problems=result.problems, beacon=result.beacon)
