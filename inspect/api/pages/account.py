"""Logging in and out of the pages, and the home page that sends each user to their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from checkonce.api.cookies import (
    DEVICE_COOKIE,
    SESSION_COOKIE,
    cookie_secure,
    login_csrf,
    login_csrf_ok,
    login_nonce,
    new_session,
    set_device_cookie,
    set_login_cookie,
    set_session,
)
from checkonce.api.deps import PUBLIC, ActorDep, SessionDep
from checkonce.api.pages.web import (
    CsrfChecked,
    PageAllow,
    redirect,
    render,
    session_principal,
)
from checkonce.audit.actor import Channel
from checkonce.auth.models import User
from checkonce.auth.service import (
    AuthError,
    Principal,
    TooManyAttempts,
    authenticate,
    change_password,
    device_for,
    new_device_cookie,
)
from checkonce.errors import CheckOnceError
from checkonce.jobs.logs import REQUEST_ID
from checkonce.registry.models import Department, Enterprise, Inspector

router = APIRouter(include_in_schema=False)

# Where each role lands after logging in.
LANDING = {
    "admin": "/coordinator",
    "coordinator": "/coordinator",
    "legal": "/legal/redraws",
    "bureau": "/bureau",
    "inspector": "/inspector",
    "enterprise": "/enterprise",
}


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site (never another host: no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/", dependencies=[PUBLIC])
def home(request: Request) -> Response:
    principal = session_principal(request)
    return redirect(LANDING[principal.role] if principal else "/public")


def _login_form(request: Request, context: dict, *, status_code: int = 200) -> HTMLResponse:
    """The login page; its form carries the login CSRF token of this browser's cookie."""
    nonce, fresh = login_nonce(request)
    response = render(
        request,
        "pages/login.html",
        {"error": "", **context, "login_csrf": login_csrf(request, nonce)},
        status_code=status_code,
    )
    if fresh:
        set_login_cookie(response, nonce, secure=cookie_secure(request))
    return response


@router.get("/login", response_class=HTMLResponse, dependencies=[PUBLIC])
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_form(request, {"next": safe_next(next) or ""})


@router.post("/login", dependencies=[PUBLIC])
def login(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    context = {"next": safe_next(next) or "", "username": username}
    if not login_csrf_ok(request, csrf):
        # A login posted from another site (or from a login page left open for hours).
        message = "登录页面已过期或来源不明，请重新输入用户名和密码"
        return _login_form(request, {**context, "error": message}, status_code=403)
    client = request.client.host if request.client else "unknown"
    secret = request.app.state.settings.secret_key
    device = device_for(db, request.cookies.get(DEVICE_COOKIE), username=username, secret=secret)
    try:
        user = authenticate(
            db_session=db,
            username=username,
            password=password,
            client=client,
            device=device,
            channel=Channel.WEB,
            request_id=REQUEST_ID.get(),
        )
    except (AuthError, TooManyAttempts) as exc:
        db.commit()  # the failed attempt is what the back-off counts, and it is audited
        response = _login_form(request, {**context, "error": exc.message}, status_code=exc.status)
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    response = redirect(safe_next(next) or LANDING[user.role])
    secure = cookie_secure(request)
    token, max_age = new_session(request, user)
    set_session(response, token, max_age=max_age, secure=secure)
    # This browser is now a known device of the account: failures elsewhere never slow it.
    set_device_cookie(
        response, new_device_cookie(user, secret=secret, device_id=device), secure=secure
    )
    return response


@router.post("/logout", dependencies=[PUBLIC, CsrfChecked])
def logout() -> Response:
    response = redirect("/login", "已退出登录")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


EVERYONE = PageAllow("admin", "coordinator", "legal", "bureau", "inspector", "enterprise")


@router.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request, db: SessionDep, principal: Annotated[Principal, Depends(EVERYONE)]
) -> HTMLResponse:
    """Who I am (role, bureau, inspector or enterprise the account belongs to)."""
    user = db.get(User, principal.user_id)
    context = {
        "account": user,
        "department": db.get(Department, user.department_id) if user.department_id else None,
        "inspector": db.get(Inspector, user.inspector_id) if user.inspector_id else None,
        "enterprise": db.get(Enterprise, user.enterprise_id) if user.enterprise_id else None,
        "error": "",
    }
    return render(request, "pages/account.html", context, principal=principal)


@router.post("/account/password", dependencies=[CsrfChecked])
def account_password(
    request: Request,
    db: SessionDep,
    principal: Annotated[Principal, Depends(EVERYONE)],
    actor: ActorDep,
    current: Annotated[str, Form(max_length=256)] = "",
    new: Annotated[str, Form(max_length=256)] = "",
    repeated: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    try:
        change_password(
            db_session=db,
            user_id=principal.user_id,
            current=current,
            new=new,
            repeated=repeated,
            actor=actor,
        )
    except CheckOnceError as exc:
        db.rollback()
        return redirect("/account", exc.message)
    # Every other session and token of the account has ended; this browser goes on.
    response = redirect("/account", "密码已修改，其他设备上的登录已失效")
    user = db.get(User, principal.user_id)
    token, max_age = new_session(request, user)
    set_session(response, token, max_age=max_age, secure=cookie_secure(request))
    return response
