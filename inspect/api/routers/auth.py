"""Login (OAuth2 password flow) and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from checkonce.api.deps import PUBLIC, Allow, SessionDep
from checkonce.audit.actor import Channel
from checkonce.auth.models import ROLES
from checkonce.auth.service import (
    AuthError,
    Principal,
    TooManyAttempts,
    authenticate,
    issue_token,
)
from checkonce.jobs.logs import REQUEST_ID

router = APIRouter(prefix="/auth", tags=["登录"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str


class Me(BaseModel):
    id: int
    username: str
    role: str
    department_id: int | None
    inspector_id: int | None
    enterprise_id: int | None


@router.post("/token", response_model=Token, dependencies=[PUBLIC])
def login(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], db: SessionDep
) -> Token:
    """用户名密码登录，返回短期有效的访问令牌（默认 30 分钟；账号停用或改密码、改角色后立即失效）。"""
    client = request.client.host if request.client else "unknown"
    try:
        user = authenticate(
            db_session=db,
            username=form.username,
            password=form.password,
            client=client,
            channel=Channel.API,
            request_id=REQUEST_ID.get(),
        )
    except (AuthError, TooManyAttempts):
        db.commit()  # keep the failed attempt: it is what the back-off counts, and audited
        raise
    minutes = request.app.state.settings.token_minutes
    token = issue_token(user, secret=request.app.state.settings.secret_key, minutes=minutes)
    return Token(access_token=token, expires_in=minutes * 60, role=user.role)


@router.get("/me", response_model=Me)
def me(principal: Annotated[Principal, Depends(Allow(*ROLES))]) -> Me:
    """当前登录用户。"""
    return Me(
        id=principal.user_id,
        username=principal.username,
        role=principal.role,
        department_id=principal.department_id,
        inspector_id=principal.inspector_id,
        enterprise_id=principal.enterprise_id,
    )
