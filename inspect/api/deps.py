"""Request dependencies: a database session per request, the caller, its typed actor, and
role rules.

Every route declares who may call it with `Allow(...)` / `Allow.to(action)` (or `PUBLIC`);
the authorization matrix test reads these declarations from the routes, so a route without
one fails the test. What each role may do is decided in checkonce.auth.access.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from checkonce.api.cookies import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, csrf_ok, renew_if_due
from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor, Channel
from checkonce.auth import access
from checkonce.auth.models import ROLE_NAMES
from checkonce.auth.service import AuthError, Forbidden, Principal, current_user, read_token
from checkonce.calendar import WorkCalendar
from checkonce.db import transaction
from checkonce.jobs.logs import REQUEST_ID
from checkonce.policy import Policy, load_policy

if TYPE_CHECKING:
    from checkonce.documents.models import InspectionDocument
    from checkonce.visits.models import Visit

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_db(request: Request) -> Iterator[Session]:
    """One session per request: committed when the handler succeeds, rolled back otherwise."""
    with transaction(request.app.state.sessions) as session:
        yield session


# scope="function": the commit runs before the response is sent, so a client is never told
# "saved" about a transaction that then fails (the default scope commits after sending).
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


def _check_account(request: Request, principal: Principal):
    """The token's account, re-read in a short session of its own: the request's own
    transaction stays untouched until the handler writes (on SQLite, a transaction that
    reads first and writes later fails at once when another one writes meanwhile)."""
    session = request.app.state.sessions()
    try:
        user = current_user(session, principal)
        session.expunge(user)
        return user
    finally:
        session.rollback()
        session.close()


def current_principal(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    """The caller from the Bearer token, else from the pages' session cookie (then an unsafe
    method must carry the page's CSRF token, and the call keeps the session alive). Either
    way the account is re-read: a token of an account deactivated, or whose password or role
    changed since it was issued, is refused at once (once per request: the answer is kept
    on the request for `current_actor`)."""
    known = getattr(request.state, "principal", None)
    if known is not None:
        return known
    secret = request.app.state.settings.secret_key
    if token:
        principal = read_token(token, secret=secret)
        _check_account(request, principal)
        request.state.principal = principal
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise AuthError("请先登录")
    principal = read_token(cookie, secret=secret)
    user = _check_account(request, principal)
    if request.method not in SAFE_METHODS and not csrf_ok(
        request, request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden("页面已过期或来源不明，请刷新页面后重试")
    renew_if_due(request, user, principal)
    request.state.principal = principal
    return principal


def current_actor(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    """The typed actor of the request: its authenticated account, channel API for /api/...
    and WEB for pages, with the request id the middleware gave the request. Declare it after
    the route's Allow/PageAllow dependency, which has already refused a wrong caller."""
    if request.url.path.startswith("/api/"):
        principal = current_principal(request, token)
        channel = Channel.API
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise AuthError("请先登录")
        principal = read_token(cookie, secret=request.app.state.settings.secret_key)
        channel = Channel.WEB
    return Actor.from_principal(principal, channel=channel, request_id=REQUEST_ID.get())


ActorDep = Annotated[Actor, Depends(current_actor)]


class Allow:
    """Dependency: the caller must hold one of `roles`. `Allow.roles` is read by the
    authorization matrix test."""

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - set(ROLE_NAMES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        self.roles = frozenset(roles)

    @classmethod
    def to(cls, action: AuditAction) -> Allow:
        """The roles the access module lets perform `action`."""
        return cls(*sorted(access.roles_for(action)))

    def __call__(self, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in self.roles:
            raise Forbidden(f"{ROLE_NAMES[principal.role]}账号无权执行此操作")
        return principal


class Public:
    """Dependency marking a route open to everyone (published plans, draws and results)."""

    roles = frozenset(ROLE_NAMES) | {"anonymous"}

    def __call__(self) -> None:
        return None


PUBLIC = Depends(Public())
STAFF = ("admin", "coordinator", "bureau", "inspector")


class PageParams:
    """limit/offset of a list (1–200 rows a page)."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=200, description="每页条数")] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_ID, description="起始位置")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset


PageDep = Annotated[PageParams, Depends()]


def jurisdiction(request: Request) -> tuple[Policy, WorkCalendar]:
    """The policy and calendar of the app's jurisdiction (its own settings, not the
    process's), read once per application: a policy change takes effect on restart."""
    state = request.app.state
    loaded = getattr(state, "schedule_jurisdiction", None)
    if loaded is None:
        folder = state.settings.jurisdiction_dir
        loaded = (load_policy(folder / "policy.toml"), WorkCalendar(folder / "calendar"))
        state.schedule_jurisdiction = loaded
    return loaded


def today(request: Request) -> dt.date:
    """Today in the jurisdiction (tests override this dependency)."""
    from checkonce.visits.service import today_in

    policy, _ = jurisdiction(request)
    return today_in(policy)


TodayDep = Annotated[dt.date, Depends(today)]


def public_base_url(request: Request) -> str:
    """The site's address as the caller reached it: what the printed QR codes point to."""
    return str(request.base_url).rstrip("/")


# Integer ids in paths and years in queries are bounded: a 64-bit number that no database
# column can hold is a 422 for the caller, not a server error.
MAX_ID = 2_147_483_647
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="编号")]
# Database ids are 32-bit on PostgreSQL: larger numbers are a 422, not a driver error.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
YearQuery = Annotated[int | None, Query(ge=2000, le=2100, description="年度")]


# Documents: the router and the pages decide who sees a document the same way.
def base_url(request: Request) -> str:
    configured = request.app.state.settings.public_url
    return configured.rstrip("/") if configured else public_base_url(request)


def visible_visit(
    db: Session, who: access.Who, visit_id: int, request: Request, today: dt.date
) -> Visit:
    """The visit if `who` may see it (checkonce.auth.access), else NotFound."""
    policy, calendar = jurisdiction(request)
    return access.visible_visit(db, visit_id, who, today=today, policy=policy, calendar=calendar)


def visible_document(
    db: Session, who: access.Who, document_id: int, request: Request, today: dt.date
) -> InspectionDocument:
    """The document if `who` may see it (its visit visible to it; an enterprise only its own
    outward documents), else NotFound."""
    policy, calendar = jurisdiction(request)
    return access.visible_document(
        db, document_id, who, today=today, policy=policy, calendar=calendar
    )
