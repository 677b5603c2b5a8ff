"""Logging in and out of the pages, and the home page that sends each user to their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from checkonce.api.deps import PUBLIC, ActorDep, SessionDep
from checkonce.api.pages.web import (
    SESSION_COOKIE,
    CsrfChecked,
    PageAllow,
    redirect,
    render,
    session_principal,
    set_session,
)
from checkonce.auth.models import User
from checkonce.auth.service import (
    AuthError,
    Principal,
    TooManyAttempts,
    authenticate,
    change_password,
    issue_token,
)
from checkonce.errors import CheckOnceError
from checkonce.registry.models import Department, Enterprise, Inspector

router = APIRouter(include_in_schema=False)

# Where each role lands after logging in.
LANDING = {
    "admin": "/coordinator",
    "coordinator": "/coordinator",
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


@router.get("/login", response_class=HTMLResponse, dependencies=[PUBLIC])
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "pages/login.html", {"next": safe_next(next) or "", "error": ""})


@router.post("/login", dependencies=[PUBLIC])
def login(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    client = request.client.host if request.client else "unknown"
    try:
        user = authenticate(db_session=db, username=username, password=password, client=client)
    except (AuthError, TooManyAttempts) as exc:
        db.commit()  # the failed attempt is what the rate limit counts
        context = {"next": safe_next(next) or "", "error": exc.message, "username": username}
        return render(request, "pages/login.html", context, status_code=exc.status)
    response = redirect(safe_next(next) or LANDING[user.role])
    set_session(
        response,
        issue_token(user, secret=request.app.state.settings.secret_key),
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", dependencies=[PUBLIC, CsrfChecked])
def logout() -> Response:
    response = redirect("/login", "已退出登录")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


EVERYONE = PageAllow("admin", "coordinator", "bureau", "inspector", "enterprise")


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
    return redirect("/account", "密码已修改")
