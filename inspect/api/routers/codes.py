"""Codes: the enterprise's QR poster (企业码), an inspector's inspection code (检查码) for a
visit, and the signing keys behind both (rotation and revocation, administrators only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from checkonce.api.deps import STAFF, ActorDep, Allow, SessionDep, public_base_url
from checkonce.auth.service import Principal
from checkonce.errors import NotFound
from checkonce.registry.models import Enterprise
from checkonce.visits import codes, posters
from checkonce.visits.checkin_models import CodeSigningKey
from checkonce.visits.inspection_codes import issue_inspection_code

router = APIRouter(tags=["企业码与检查码"])
AdminDep = Annotated[Principal, Depends(Allow("admin"))]
InspectorDep = Annotated[Principal, Depends(Allow("inspector"))]
PosterReaderDep = Annotated[Principal, Depends(Allow(*STAFF, "enterprise"))]
MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
# Row ids are 32-bit in the schema: a larger number is simply not found, never a server error.
VisitId = Annotated[int, Path(ge=1, le=2**31 - 1, description="检查编号")]


class InspectionCodeOut(BaseModel):
    visit_id: int
    visit_code: str
    valid_on: dt.date
    token: str
    url: str


class KeyOut(BaseModel):
    kid: str
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    current: bool


class RevokeIn(BaseModel):
    reason: str = Field(min_length=2, max_length=500, description="作废原因")


@router.get(
    "/enterprises/{credit_code}/poster.{fmt}",
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
    response_class=Response,
)
def enterprise_poster(
    credit_code: str,
    fmt: Literal["png", "svg"],
    request: Request,
    db: SessionDep,
    principal: PosterReaderDep,
) -> Response:
    """企业码海报（PNG 或 SVG），含企业名称与统一社会信用代码。企业账号只能取得本企业的。"""
    firm = db.scalars(select(Enterprise).where(Enterprise.credit_code == credit_code)).first()
    if firm is None or (principal.role == "enterprise" and firm.id != principal.enterprise_id):
        raise NotFound(f"企业 {credit_code} 不存在")
    token = codes.enterprise_token(
        db_session=db,
        secret_key=request.app.state.settings.secret_key,
        credit_code=firm.credit_code,
    )
    content = posters.PosterContent(
        url=codes.enterprise_url(public_base_url(request), token),
        name=firm.name,
        credit_code=firm.credit_code,
    )
    return Response(
        posters.render_poster(content, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'inline; filename="poster-{firm.credit_code}.{fmt}"',
            "X-Code-Url": content.url,
        },
    )


def _inspection_code(request: Request, db, principal: Principal, visit_id: int):
    token, visit = issue_inspection_code(
        db_session=db,
        secret_key=request.app.state.settings.secret_key,
        visit_id=visit_id,
        inspector_id=principal.inspector_id or -1,
    )
    return token, visit, codes.inspection_url(public_base_url(request), token)


@router.get("/visits/{visit_id}/code", response_model=InspectionCodeOut)
def visit_code(
    visit_id: VisitId, request: Request, db: SessionDep, principal: InspectorDep
) -> InspectionCodeOut:
    """本人某次检查的检查码（仅检查当日有效），企业扫码可核验检查人员与检查事项。"""
    token, visit, url = _inspection_code(request, db, principal, visit_id)
    return InspectionCodeOut(
        visit_id=visit.id, visit_code=visit.code, valid_on=visit.day, token=token, url=url
    )


@router.get(
    "/visits/{visit_id}/code.svg",
    responses={200: {"content": {"image/svg+xml": {}}}},
    response_class=Response,
)
def visit_code_qr(visit_id: VisitId, request: Request, db: SessionDep, principal: InspectorDep):
    """检查码二维码（SVG），在手机上出示给企业扫描。"""
    _token, _visit, url = _inspection_code(request, db, principal, visit_id)
    svg = posters.qr_code(url).svg_inline(scale=8, border=4, omitsize=False)
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + svg, media_type="image/svg+xml")


def _key_out(key: CodeSigningKey, current_kid: str | None) -> KeyOut:
    return KeyOut(
        kid=key.kid,
        created_at=key.created_at,
        created_by=key.created_by,
        revoked_at=key.revoked_at,
        revoked_by=key.revoked_by,
        revoke_reason=key.revoke_reason,
        current=key.kid == current_kid,
    )


def _current_kid(keys: list[CodeSigningKey]) -> str | None:
    live = [k for k in keys if k.revoked_at is None]
    return max(live, key=lambda k: k.id).kid if live else None


@router.get("/code-keys", response_model=list[KeyOut])
def list_code_keys(db: SessionDep, _: AdminDep) -> list[KeyOut]:
    """签名密钥（不含密钥本身）。"""
    keys = codes.list_keys(db_session=db)
    current = _current_kid(keys)
    return [_key_out(k, current) for k in keys]


@router.post("/code-keys", response_model=KeyOut, status_code=201)
def rotate_code_key(db: SessionDep, principal: AdminDep, actor: ActorDep) -> KeyOut:
    """轮换：新建签名密钥，此后新打印的海报和检查码用它签名；旧码在旧密钥作废前仍有效。"""
    key = codes.create_key(db_session=db, actor=actor)
    return _key_out(key, key.kid)


@router.post("/code-keys/{kid}/revoke", response_model=KeyOut)
def revoke_code_key(
    kid: str, body: RevokeIn, db: SessionDep, principal: AdminDep, actor: ActorDep
) -> KeyOut:
    """作废签名密钥：它签发的企业码与检查码全部失效（企业须重新打印海报）。本进程立即生效，
    其他服务进程在密钥缓存到期后（最迟 30 秒）生效。"""
    key = codes.revoke_key(db_session=db, kid=kid, actor=actor, reason=body.reason)
    return _key_out(key, _current_kid(codes.list_keys(db_session=db)))
