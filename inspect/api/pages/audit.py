"""Pages of the audit trail: the public checkpoints (/public/audit), and for coordinators an
enterprise finder and one enterprise's timeline across departments
(/coordinator/enterprises/<credit code>/timeline). Looking at a timeline or a list of
enterprises is itself a recorded staff read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from checkonce.api.deps import PUBLIC, SessionDep
from checkonce.api.pages.public import PageNumber, Pager
from checkonce.api.pages.web import PageAllow, render
from checkonce.api.reads import ReadLogDep
from checkonce.audit.service import latest_checkpoints
from checkonce.audit.timeline import EventKind, by_kind, enterprise_timeline
from checkonce.auth.service import Principal
from checkonce.registry.models import Enterprise

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(PageAllow("coordinator", "admin"))]
PER_PAGE = 30
SearchQuery = Annotated[str, Query(max_length=60, description="名称或信用代码")]


@router.get("/public/audit", response_class=HTMLResponse, dependencies=[PUBLIC])
def public_checkpoints(request: Request, db: SessionDep, page: PageNumber = 1) -> HTMLResponse:
    """The published checkpoints of the audit trail, newest first, and how to use them."""
    total = latest_checkpoints(db, limit=1)[1]
    pager = Pager(page, PER_PAGE, total)
    rows, _ = latest_checkpoints(db, limit=PER_PAGE, offset=pager.offset)
    context = {"checkpoints": rows, "pager": pager}
    return render(request, "pages/public/audit.html", context)


@router.get("/coordinator/enterprises", response_class=HTMLResponse)
def enterprise_finder(
    request: Request,
    db: SessionDep,
    principal: Reader,
    reads: ReadLogDep,
    q: SearchQuery = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """Find an enterprise by name or credit code and open its timeline."""
    rows: list[Enterprise] = []
    total = 0
    text = q.strip()
    if text:
        stmt = select(Enterprise).where(
            Enterprise.name.contains(text) | Enterprise.credit_code.contains(text.upper())
        )
        total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = list(
            db.scalars(
                stmt.order_by(Enterprise.credit_code).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
            )
        )
        reads.shown(principal, "enterprise", enterprise_ids=[r.id for r in rows], total=total)
    context = {
        "q": text,
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
    }
    return render(request, "pages/coordinator/enterprises.html", context, principal=principal)


@router.get("/coordinator/enterprises/{credit_code}/timeline", response_class=HTMLResponse)
def timeline(
    credit_code: Annotated[str, Path(max_length=18)],
    request: Request,
    db: SessionDep,
    principal: Reader,
    reads: ReadLogDep,
    kind: Annotated[EventKind | None, Query()] = None,
) -> HTMLResponse:
    """One enterprise's timeline across departments: plans, draws, visits, check-ins,
    results, fees, reports, and who looked at its records."""
    found = enterprise_timeline(db, credit_code=credit_code)
    firm = found.enterprise
    reads.shown(
        principal,
        "timeline",
        enterprise_id=firm.id,
        object_id=firm.credit_code,
        events=len(found.events),
    )
    events = [e for e in found.events if kind is None or e.kind is kind]
    context = {
        "firm": firm,
        "events": list(reversed(events)),  # newest first: what a coordinator asks about
        "counts": by_kind(found),
        "kinds": list(EventKind),
        "kind": kind,
        "total": len(found.events),
    }
    return render(request, "pages/coordinator/timeline.html", context, principal=principal)
