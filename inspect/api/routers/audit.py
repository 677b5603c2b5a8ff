"""The audit trail's public face: the published checkpoints (chain heads). Anyone may keep
them and later check an export of the trail against them (`checkonce audit verify
--checkpoint SEQ:HASH`, or the standalone inspect/audit/chain.py)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from checkonce.api.deps import PUBLIC, PageDep, SessionDep
from checkonce.api.schemas import Page
from checkonce.audit.models import AuditCheckpoint
from checkonce.audit.service import latest_checkpoints

router = APIRouter(tags=["审计"])


class PublicCheckpointOut(BaseModel):
    """A published chain head: the public schema (an allow-list), nothing of the records."""

    seq: int = Field(description="审计记录序号（链头）")
    hash: str = Field(description="该记录的链式哈希（十六进制）")
    alg: str = Field(description="哈希算法：sha256 或 sm3")
    day: dt.date = Field(description="检查点所属日期")
    published_at: dt.datetime = Field(description="公布时间（UTC）")

    @classmethod
    def of(cls, row: AuditCheckpoint) -> PublicCheckpointOut:
        published = row.published_at
        if published.tzinfo is None:
            published = published.replace(tzinfo=dt.UTC)
        return cls(seq=row.seq, hash=row.hash, alg=row.alg, day=row.day, published_at=published)


@router.get(
    "/public/audit/checkpoints",
    response_model=Page[PublicCheckpointOut],
    dependencies=[PUBLIC],
)
def public_checkpoints(db: SessionDep, page: PageDep) -> Page[PublicCheckpointOut]:
    """已公布的审计链检查点（最新在前）：保存它们，日后即可核对审计记录未被改写、删除或插入。"""
    rows, total = latest_checkpoints(db, limit=page.limit, offset=page.offset)
    return Page(
        items=[PublicCheckpointOut.of(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
