"""Passwords (argon2), logins with rate limiting, and short-lived JWT access tokens."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import changed, record, snapshot
from checkonce.auth.models import ROLES, LoginAttempt, Role, User
from checkonce.db import utcnow
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.registry.models import Department, Enterprise, Inspector

ACCESS_TOKEN_MINUTES = 30
# A command-line login lasts a working day; its tokens carry their own audience, so the web
# and the API refuse them and the CLI refuses theirs.
CLI_TOKEN_MINUTES = 8 * 60
CLI_AUDIENCE = "checkonce-cli"
ISSUER = "checkonce"
ALGORITHM = "HS256"
# Rate limits over a sliding window: per username and per client address.
WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_CLIENT = 30
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
# Verified against when the user does not exist, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("checkonce-dummy-password")


class AuthError(CheckOnceError):
    code = "unauthorized"
    status = 401


class Forbidden(CheckOnceError):
    code = "forbidden"
    status = 403


class TooManyAttempts(CheckOnceError):
    code = "too_many_attempts"
    status = 429


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the access token says."""

    user_id: int
    username: str
    role: Role
    department_id: int | None = None
    inspector_id: int | None = None
    enterprise_id: int | None = None

    @classmethod
    def of(cls, user: User) -> Principal:
        """The principal of a user account as stored (a CLI login re-reads it)."""
        return cls(
            user_id=user.id,
            username=user.username,
            role=Role(user.role),
            department_id=user.department_id,
            inspector_id=user.inspector_id,
            enterprise_id=user.enterprise_id,
        )


USER_FIELDS = ["username", "display_name", "role", "department_id", "inspector_id"]
USER_FIELDS += ["enterprise_id", "active"]


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CheckOnceError(f"密码至少 {MIN_PASSWORD_LENGTH} 位")
    return _hasher.hash(password)


def _bind(
    db_session: Session,
    user: User,
    role: str,
    department: str | None,
    inspector: str | None,
    credit_code: str | None,
) -> None:
    """Bind the account to the department / inspector / enterprise its role acts for (and to
    nothing else)."""
    user.department_id = user.inspector_id = user.enterprise_id = None
    if role == "bureau":
        if not department:
            raise CheckOnceError("执法部门账号须指定部门（--department）")
        user.department_id = db_session.scalar(
            select(Department.id).where(Department.code == department)
        )
        if user.department_id is None:
            raise NotFound(f"部门 {department} 不存在")
    if role == "inspector":
        if not inspector:
            raise CheckOnceError("执法人员账号须指定工号（--inspector）")
        person = db_session.scalars(select(Inspector).where(Inspector.code == inspector)).first()
        if person is None:
            raise NotFound(f"执法人员 {inspector} 不存在")
        if not person.assignable:
            raise CheckOnceError(f"{person.name}（{inspector}）不是在岗执法人员，不能开通执法账号")
        user.inspector_id = person.id
        user.department_id = person.department_id
    if role == "enterprise":
        if not credit_code:
            raise CheckOnceError("企业账号须指定统一社会信用代码（--credit-code）")
        user.enterprise_id = db_session.scalar(
            select(Enterprise.id).where(Enterprise.credit_code == credit_code)
        )
        if user.enterprise_id is None:
            raise NotFound(f"企业 {credit_code} 不在登记库中")


def create_user(
    *,
    db_session: Session,
    actor: Actor,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    department: str | None = None,
    inspector: str | None = None,
    credit_code: str | None = None,
) -> User:
    """Create a user bound to its department / inspector / enterprise as its role requires
    (by an administrator, or by CheckOnce itself for the first one and the demo)."""
    from checkonce.auth import access

    access.require(actor, AuditAction.USER_CREATE)
    if role not in ROLES:
        raise CheckOnceError(f"未知角色 {role}：应为 {'、'.join(ROLES)}")
    if db_session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户名 {username} 已存在")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
    )
    _bind(db_session, user, role, department, inspector, credit_code)
    db_session.add(user)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.USER_CREATE,
        object_type="user",
        object_id=user.id,
        enterprise_id=user.enterprise_id,
        after=snapshot(user, USER_FIELDS),  # never the password hash
    )
    return user


def update_user(
    *,
    db_session: Session,
    actor: Actor,
    username: str,
    active: bool | None = None,
    role: str | None = None,
    display_name: str | None = None,
    department: str | None = None,
    inspector: str | None = None,
    credit_code: str | None = None,
) -> User:
    """An administrator changes an account: (de)activates it, or gives it another role with
    the binding that role needs. Recorded with what changed, before and after; an
    administrator cannot deactivate or demote their own account (someone must remain)."""
    from checkonce.auth import access

    access.require(actor, AuditAction.USER_UPDATE)
    user = db_session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"账号 {username} 不存在")
    if user.id == actor.user_id and (active is False or (role and role != user.role)):
        raise CheckOnceError("不能停用或降级自己的管理员账号，请由另一名管理员操作")
    before = snapshot(user, USER_FIELDS)
    if role is not None:
        if role not in ROLES:
            raise CheckOnceError(f"未知角色 {role}：应为 {'、'.join(ROLES)}")
        with db_session.no_autoflush:  # role and binding change together (check constraints)
            user.role = role
            _bind(db_session, user, role, department, inspector, credit_code)
    if active is not None:
        user.active = active
    if display_name is not None:
        if not display_name.strip():
            raise CheckOnceError("显示名称不能为空")
        user.display_name = display_name.strip()[:80]
    db_session.flush()
    old, new = changed(before, snapshot(user, USER_FIELDS))
    if new:
        record(
            db_session,
            actor=actor,
            action=AuditAction.USER_UPDATE,
            object_type="user",
            object_id=user.id,
            enterprise_id=user.enterprise_id,
            before=old,
            after=new,
        )
    return user


def change_password(
    *, db_session: Session, user_id: int, current: str, new: str, repeated: str, actor: Actor
) -> User:
    """Change a user's own password: the current one must be right, the new one long enough,
    typed twice alike and different from the current one."""
    user = db_session.get(User, user_id)
    if user is None or not user.active:
        raise AuthError("登录已失效，请重新登录")
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise CheckOnceError("当前密码不正确", code="wrong_password") from None
    if new != repeated:
        raise CheckOnceError("两次输入的新密码不一致", code="password_mismatch")
    if new == current:
        raise CheckOnceError("新密码不能与当前密码相同", code="password_unchanged")
    user.password_hash = hash_password(new)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.PASSWORD_CHANGE,
        object_type="user",
        object_id=user.id,
        detail={"self": actor.user_id == user.id},
    )
    return user


def _recent_failures(db_session: Session, column, value: str, now: dt.datetime) -> int:
    return (
        db_session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                column == value, LoginAttempt.success.is_(False), LoginAttempt.at >= now - WINDOW
            )
        )
        or 0
    )


def authenticate(
    *,
    db_session: Session,
    username: str,
    password: str,
    client: str,
    now: dt.datetime | None = None,
) -> User:
    """The user for these credentials. Wrong user and wrong password give the same error;
    too many recent failures for the username or the client are refused before checking."""
    now = now or utcnow()
    if (
        _recent_failures(db_session, LoginAttempt.username, username, now) >= MAX_FAILURES_PER_USER
        or _recent_failures(db_session, LoginAttempt.client, client, now) >= MAX_FAILURES_PER_CLIENT
    ):
        raise TooManyAttempts("登录失败次数过多，请 15 分钟后再试")
    user = db_session.scalars(select(User).where(User.username == username)).first()
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    ok = ok and user is not None and user.active
    db_session.add(LoginAttempt(username=username[:64], client=client[:64], at=now, success=ok))
    db_session.flush()
    if not ok:
        raise AuthError("用户名或密码错误")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now
    return user


def issue_token(
    user: User,
    *,
    secret: str,
    now: dt.datetime | None = None,
    minutes: int = ACCESS_TOKEN_MINUTES,
    audience: str | None = None,
) -> str:
    now = now or utcnow()
    claims: dict = {
        "iss": ISSUER,
        "sub": str(user.id),
        "name": user.username,
        "role": user.role,
        "dep": user.department_id,
        "ins": user.inspector_id,
        "ent": user.enterprise_id,
        "iat": int(now.timestamp()),
        "exp": int((now + dt.timedelta(minutes=minutes)).timestamp()),
    }
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str, audience: str | None = None) -> Principal:
    """The principal of a valid token; any problem is the same 401. A token issued for an
    audience (the CLI's) is valid only where that audience is asked for, and vice versa."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            audience=audience,
            options={"require": ["exp", "sub", "role"] + (["aud"] if audience else [])},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("登录已过期，请重新登录", code="token_expired") from None
    except jwt.PyJWTError:
        raise AuthError("登录凭证无效，请重新登录") from None
    if claims.get("role") not in ROLES:
        raise AuthError("登录凭证无效，请重新登录")
    return Principal(
        user_id=int(claims["sub"]),
        username=claims.get("name", ""),
        role=Role(claims["role"]),
        department_id=claims.get("dep"),
        inspector_id=claims.get("ins"),
        enterprise_id=claims.get("ent"),
    )
