"""The page behind an inspection code, outside the JSON API: `/v/<token>` (who is coming and
what they may check, or a clear "you may refuse" page). The enterprise code's page, `/e/<token>`,
is one of the inspector's pages (checkonce.api.pages.inspector)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from checkonce.api.deps import PUBLIC, SessionDep
from checkonce.api.routers.checkins import request_policy
from checkonce.visits.inspection_codes import resolve_inspection_code

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
# Pages people open from a camera app: no caching (a revoked code must stop working at once)
# and no referrer (the token is the credential and must not leak to other sites).
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

router = APIRouter(include_in_schema=False, dependencies=[PUBLIC])


@router.get("/v/{token}", response_class=HTMLResponse)
def inspection_code_page(token: str, request: Request, db: SessionDep) -> HTMLResponse:
    """The page an inspector's code opens on the enterprise's phone."""
    zone = ZoneInfo(request_policy(request).jurisdiction.timezone)
    view = resolve_inspection_code(
        db_session=db,
        secret_key=request.app.state.settings.secret_key,
        scanned=token,
        today=dt.datetime.now(zone).date(),
    )
    return TEMPLATES.TemplateResponse(
        request,
        "inspection_code.html",
        {"view": view},
        status_code=200 if view.valid else 404,
        headers=PAGE_HEADERS,
    )
