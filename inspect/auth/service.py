"""Passwords (argon2, length and strength checked), logins with back-off per account, per
address and per known device, every attempt in the audit trail, and short-lived JWT access
tokens that die at once when their account changes (`token_version`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor, Channel
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
# Login back-off over a sliding window. Past the free failures, each further failure
# doubles the wait before the next try (30 s, 1 min, 2 min … at most 15 min): per username,
# per client address, and, for a browser the account has logged in from before (its signed
# device cookie), per that device only, so nobody else's failures can lock the owner out.
WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_CLIENT = 30
FIRST_WAIT_SECONDS = 30
MAX_WAIT_SECONDS = 15 * 60
MIN_PASSWORD_LENGTH = 10
# zxcvbn's score (0–4): 3 means about 10^8 guesses or more; common, repeated and keyboard
# passwords score 0–1.
MIN_PASSWORD_SCORE = 3
# Words a password must not lean on, beside the account's own names.
CONTEXT_WORDS = ("checkonce", "xian", "xa", "admin", "password", "mima", "zhifa", "qiye")

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

    def __init__(self, message: str, *, retry_after: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WeakPassword(CheckOnceError):
    code = "weak_password"


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the access token says."""

    user_id: int
    username: str
    role: Role
    department_id: int | None = None
    inspector_id: int | None = None
    enterprise_id: int | None = None
    token_version: int = 0
    issued_at: int | None = None
    # Page sessions: when the login happened (the absolute limit counts from it) and the
    # session's id (its CSRF token is derived from it, so renewals keep forms valid).
    auth_time: int | None = None
    session_id: str | None = None

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
            token_version=user.token_version or 0,
        )


USER_FIELDS = ["username", "display_name", "role", "department_id", "inspector_id"]
USER_FIELDS += ["enterprise_id", "active"]


def check_password_strength(password: str, *, user_inputs: tuple[str, ...] = ()) -> None:
    """Refuse a short password, or one a guesser finds early (common passwords, repeats,
    keyboard runs, dates, the account's own names): zxcvbn with its bundled lists."""
    from zxcvbn import zxcvbn

    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"密码至少 {MIN_PASSWORD_LENGTH} 位")
    # zxcvbn's time grows with the length; past 100 characters the first 100 decide.
    words = [w for w in (*user_inputs, *CONTEXT_WORDS) if w]
    result = zxcvbn(password[:100], user_inputs=words)
    if result["score"] < MIN_PASSWORD_SCORE:
        raise WeakPassword(
            "密码太容易被猜到（常见密码、重复字符、键盘顺序、日期或含用户名等），"
            "请换用更长、不常见的密码，例如几个无关词语加数字"
        )


def hash_password(password: str, *, user_inputs: tuple[str, ...] = ()) -> str:
    check_password_strength(password, user_inputs=user_inputs)
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
        password_hash=hash_password(password, user_inputs=(username, display_name)),
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
    user.password_hash = hash_password(new, user_inputs=(user.username, user.display_name))
    db_session.flush()  # raises token_version: every other session and token ends
    record(
        db_session,
        actor=actor,
        action=AuditAction.PASSWORD_CHANGE,
        object_type="user",
        object_id=user.id,
        detail={"self": actor.user_id == user.id},
    )
    return user


def backoff_seconds(failures: int, free: int) -> int:
    """Seconds to wait after the last of `failures` recent failures when `free` are allowed
    without waiting: 0, then 30 s doubling up to 15 min."""
    if failures < free:
        return 0
    return min(FIRST_WAIT_SECONDS * 2 ** min(failures - free, 16), MAX_WAIT_SECONDS)


def _failures(db_session: Session, now: dt.datetime, *conditions) -> tuple[int, dt.datetime | None]:
    count, last = db_session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.success.is_(False), LoginAttempt.at >= now - WINDOW, *conditions
        )
    ).one()
    return count or 0, last


def _wait(count: int, last: dt.datetime | None, free: int, now: dt.datetime) -> int:
    if last is None:
        return 0
    if last.tzinfo is None:  # SQLite hands back naive UTC
        last = last.replace(tzinfo=dt.UTC)
    remaining = (last + dt.timedelta(seconds=backoff_seconds(count, free)) - now).total_seconds()
    return max(0, math.ceil(remaining))


def login_wait(
    db_session: Session,
    *,
    username: str,
    client: str,
    device: str | None,
    now: dt.datetime,
) -> int:
    """Seconds before this login may be tried (0: now). On a known device only that
    device's failures count; elsewhere the username's and the address's failures from
    unknown devices do."""
    if device is not None:
        count, last = _failures(
            db_session, now, LoginAttempt.username == username, LoginAttempt.device == device
        )
        return _wait(count, last, MAX_FAILURES_PER_USER, now)
    unknown = LoginAttempt.device.is_(None)
    by_user = _failures(db_session, now, LoginAttempt.username == username, unknown)
    by_client = _failures(db_session, now, LoginAttempt.client == client, unknown)
    return max(
        _wait(*by_user, MAX_FAILURES_PER_USER, now),
        _wait(*by_client, MAX_FAILURES_PER_CLIENT, now),
    )


def _wait_text(seconds: int) -> str:
    return f"{seconds} 秒" if seconds < 60 else f"{math.ceil(seconds / 60)} 分钟"


def _audit_login(
    db_session: Session,
    *,
    ok: bool,
    user: User | None,
    username: str,
    client: str,
    channel: Channel,
    request_id: str | None,
    reason: str = "",
    device: str | None = None,
) -> None:
    from checkonce.audit.service import record

    actor = Actor(
        user_id=user.id if user is not None else None,
        username=username[:80],
        role=user.role if user is not None else "anonymous",
        channel=channel,
        department_id=user.department_id if user is not None else None,
        inspector_id=user.inspector_id if user is not None else None,
        enterprise_id=user.enterprise_id if user is not None else None,
        request_id=request_id,
    )
    detail = {"client": client[:64], "known_device": device is not None}
    if reason:
        detail["reason"] = reason
    record(
        db_session,
        actor=actor,
        action=AuditAction.LOGIN if ok else AuditAction.LOGIN_FAILED,
        object_type="user",
        object_id=user.id if user is not None else username[:80],
        detail=detail,
    )


def authenticate(
    *,
    db_session: Session,
    username: str,
    password: str,
    client: str,
    now: dt.datetime | None = None,
    device: str | None = None,
    channel: Channel = Channel.API,
    request_id: str | None = None,
) -> User:
    """The user for these credentials. Wrong user and wrong password give the same error.
    A login tried too soon after repeated failures is refused before the password is
    checked (`login_wait`); `device` is the id of a known device of this account
    (`device_for`). Every attempt, refused ones included, is in the audit trail; the caller
    commits failures too (they are what the back-off counts)."""
    now = now or utcnow()
    username = username[:64]
    user = db_session.scalars(select(User).where(User.username == username)).first()
    wait = login_wait(db_session, username=username, client=client, device=device, now=now)
    if wait > 0:
        _audit_login(
            db_session,
            ok=False,
            user=user,
            username=username,
            client=client,
            channel=channel,
            request_id=request_id,
            reason="throttled",
            device=device,
        )
        db_session.flush()
        raise TooManyAttempts(f"登录失败次数过多，请 {_wait_text(wait)}后再试", retry_after=wait)
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    reason = "" if ok else ("unknown_user" if user is None else "wrong_password")
    if ok and user is not None and not user.active:
        ok, reason = False, "inactive"
    db_session.add(
        LoginAttempt(username=username, client=client[:64], at=now, success=ok, device=device)
    )
    _audit_login(
        db_session,
        ok=ok,
        user=user,
        username=username,
        client=client,
        channel=channel,
        request_id=request_id,
        reason=reason,
        device=device,
    )
    db_session.flush()
    if not ok:
        raise AuthError("用户名或密码错误")
    assert user is not None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now
    return user


# --- known devices ----------------------------------------------------------------------


def _device_mac(secret: str, user_id: int, device_id: str) -> str:
    message = f"device:{user_id}:{device_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def new_device_cookie(user: User, *, secret: str, device_id: str | None = None) -> str:
    """The value of the cookie that marks this browser as a device `user` logged in from."""
    device_id = device_id or secrets.token_hex(12)
    return f"{user.id}.{device_id}.{_device_mac(secret, user.id, device_id)}"


def device_for(
    db_session: Session, cookie: str | None, *, username: str, secret: str
) -> str | None:
    """The device id in a valid device cookie of the account `username`, else None."""
    if not cookie or cookie.count(".") != 2:
        return None
    user_part, device_id, mac = cookie.split(".")
    if not user_part.isdigit() or not device_id or len(device_id) > 40:
        return None
    if not hmac.compare_digest(mac, _device_mac(secret, int(user_part), device_id)):
        return None
    owner = db_session.scalar(select(User.id).where(User.username == username[:64]))
    return device_id if owner == int(user_part) else None


def issue_token(
    user: User,
    *,
    secret: str,
    now: dt.datetime | None = None,
    minutes: float = ACCESS_TOKEN_MINUTES,
    audience: str | None = None,
    auth_time: int | None = None,
    not_after: int | None = None,
    session_id: str | None = None,
) -> str:
    """A signed access token of `user` valid `minutes` (never past `not_after`, a Unix time).
    Page sessions pass the login's `auth_time` and their `session_id` on every renewal."""
    now = now or utcnow()
    expires = int((now + dt.timedelta(minutes=minutes)).timestamp())
    if not_after is not None:
        expires = min(expires, not_after)
    claims: dict = {
        "iss": ISSUER,
        "sub": str(user.id),
        "name": user.username,
        "role": user.role,
        "dep": user.department_id,
        "ins": user.inspector_id,
        "ent": user.enterprise_id,
        "ver": user.token_version or 0,
        "iat": int(now.timestamp()),
        "exp": expires,
    }
    if auth_time is not None:
        claims["auth"] = auth_time
    if session_id is not None:
        claims["sid"] = session_id
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
        token_version=int(claims.get("ver") or 0),
        issued_at=claims.get("iat"),
        auth_time=claims.get("auth"),
        session_id=claims.get("sid"),
    )


def current_user(db_session: Session, principal: Principal) -> User:
    """The account behind a token, refused when it was deactivated or its password, role or
    binding changed after the token was issued (the token's version is then behind)."""
    user = db_session.get(User, principal.user_id)
    if (
        user is None
        or not user.active
        or (user.token_version or 0) != principal.token_version
        or user.role != principal.role
    ):
        raise AuthError(
            "登录已失效（账号已停用或密码、角色已变更），请重新登录", code="token_revoked"
        )
    return user
