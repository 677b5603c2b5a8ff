"""Double-random draws (双随机): coordinators commit, run, reveal and publish; anyone can
fetch a draw's public data (the commitment before it runs, everything after publication)
and have the server recompute it — or recompute it themselves from the JSON."""

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
from checkonce.sampling import service
from checkonce.sampling.verify import verify_published

router = APIRouter(tags=["双随机抽取"])
Coordinator = Annotated[Principal, Depends(Allow("coordinator"))]
Overseer = Annotated[Principal, Depends(Allow("admin", "coordinator"))]


class DrawOut(BaseModel):
    id: int
    year: int
    state: str
    title: str
    seed_sha256: str
    population_sha256: str
    population_size: int
    supersedes_id: int | None
    redraw_reason: str | None
    committed_by: str
    committed_at: dt.datetime


class DrawIn(BaseModel):
    plan_task_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=50)
    title: str = Field("", max_length=200)
    exclude_drawn_same_item_year: bool | None = None


class RedrawIn(BaseModel):
    reason: str = Field(min_length=2, max_length=500)


class VerifyOut(BaseModel):
    draw: Any = None
    ok: bool
    problems: list[str]


def _out(draw) -> DrawOut:
    return DrawOut(
        id=draw.id,
        year=draw.year,
        state=draw.state,
        title=draw.title,
        seed_sha256=draw.seed_sha256,
        population_sha256=draw.population_sha256,
        population_size=draw.population_size,
        supersedes_id=draw.supersedes_id,
        redraw_reason=draw.redraw_reason,
        committed_by=draw.committed_by,
        committed_at=draw.committed_at,
    )


@router.get("/draws", response_model=Page[DrawOut])
def list_draws(db: SessionDep, _: Overseer, page: PageDep, year: YearQuery = None) -> Page[DrawOut]:
    """抽取记录（含重新抽取及其理由）。"""
    draws = service.list_draws(db_session=db, year=year)
    chunk = draws[page.offset : page.offset + page.limit]
    return Page(
        items=[_out(d) for d in chunk], total=len(draws), limit=page.limit, offset=page.offset
    )


@router.post("/draws", response_model=DrawOut, status_code=201)
def commit(body: DrawIn, db: SessionDep, principal: Coordinator, actor: ActorDep) -> DrawOut:
    """登记抽取承诺（种子哈希、总体哈希、分层比例），之后才能执行。多个部门的抽查任务
    一并提交即为部门联合双随机。"""
    draw = service.commit_draw(
        db_session=db,
        plan_task_ids=body.plan_task_ids,
        actor=actor,
        title=body.title,
        exclude_drawn_same_item_year=body.exclude_drawn_same_item_year,
    )
    return _out(draw)


@router.post("/draws/{draw_id}/run", response_model=DrawOut)
def run(draw_id: ObjectId, db: SessionDep, principal: Coordinator, actor: ActorDep) -> DrawOut:
    """执行抽取，生成检查任务（每次抽取只能执行一次）。"""
    return _out(service.run_draw(db_session=db, draw_id=draw_id, actor=actor))


@router.post("/draws/{draw_id}/reveal", response_model=DrawOut)
def reveal(draw_id: ObjectId, db: SessionDep, principal: Coordinator, actor: ActorDep) -> DrawOut:
    """公布种子。"""
    return _out(service.reveal_draw(db_session=db, draw_id=draw_id, actor=actor))


@router.post("/draws/{draw_id}/publish", response_model=dict[str, Any])
def publish(
    draw_id: ObjectId, db: SessionDep, principal: Coordinator, actor: ActorDep
) -> dict[str, Any]:
    """公开抽取数据：执行前为承诺，揭示种子后为完整结果。"""
    return service.publish_draw(db_session=db, draw_id=draw_id, actor=actor)


@router.post("/draws/{draw_id}/redraw", response_model=DrawOut, status_code=201)
def redraw(
    draw_id: ObjectId, body: RedrawIn, db: SessionDep, principal: Coordinator, actor: ActorDep
) -> DrawOut:
    """重新抽取：新的抽取，记录理由，原抽取保留不变。"""
    return _out(service.redraw(db_session=db, draw_id=draw_id, reason=body.reason, actor=actor))


@router.get("/public/draws/{draw_id}", response_model=dict[str, Any], dependencies=[PUBLIC])
def public_draw(draw_id: ObjectId, db: SessionDep) -> dict[str, Any]:
    """抽取的公开数据（无需登录）：执行前只有承诺，公开后为完整结果，可自行复算。"""
    draw = service.get_draw(db_session=db, draw_id=draw_id)
    if draw.state == "published":
        return service.published_json(draw)
    return service.publish_commitment(draw)


@router.get("/public/draws/{draw_id}/verify", response_model=VerifyOut, dependencies=[PUBLIC])
def public_verify(draw_id: ObjectId, db: SessionDep) -> VerifyOut:
    """由服务器按公开数据复算抽取结果（只用公开 JSON，与任何人自行复算相同）。"""
    draw = service.get_draw(db_session=db, draw_id=draw_id)
    if draw.state != "published":
        raise NotFound(f"抽取 {draw_id} 尚未公开结果")
    result = verify_published(service.published_json(draw))
    return VerifyOut(draw=result.draw, ok=result.ok, problems=result.problems)
