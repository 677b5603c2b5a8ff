"""Map pages (地图): coverage, fee compliance, alerts and routes as HTML, scoped by role.

Coordinators and admins see everything; a bureau only its own department's visits and fee
findings (and routes of its officers or its joint visits); an inspector only their own
days; enterprises no map. Leaflet comes from /static/vendor (served from the installed
xstatic packages), so a page works on a network without internet.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from checkonce.api.deps import Allow, SessionDep
from checkonce.api.reads import ReadLogDep
from checkonce.auth.service import Principal
from checkonce.maps.assets import VENDOR_URL, AssetMode
from checkonce.maps.base import MapSettings, render_html
from checkonce.maps.scope import Viewer, department_id
from checkonce.registry.jurisdiction import Jurisdiction

router = APIRouter(prefix="/maps", tags=["地图"])
PAGE_HEADERS = {"Cache-Control": "no-store"}

PeriodQuery = Annotated[
    str | None,
    Query(pattern=r"^\d{4}(Q[1-4])?$", description="期间：年度 2027 或季度 2027Q1（默认最新发布）"),
]
DepartmentQuery = Annotated[
    str | None, Query(pattern=r"^[A-Za-z0-9_]{2,16}$", description="部门代码，如 SAMR")
]
InspectorQuery = Annotated[
    str | None,
    Query(pattern=r"^[A-Za-z0-9_-]{1,16}$", description="执法人员工号（执法人员默认本人）"),
]
VisitQuery = Annotated[
    str | None,
    Query(pattern=r"^[A-Za-z0-9_-]{1,16}$", description="检查编号：查看该检查执法组当日路线"),
]


@lru_cache(maxsize=8)
def _jurisdiction(folder: Path) -> Jurisdiction:
    return Jurisdiction(folder)


def _jurisdiction_of(request: Request) -> Jurisdiction:
    return _jurisdiction(request.app.state.settings.jurisdiction_dir)


def _viewer(principal: Principal) -> Viewer:
    return Viewer(principal.role, principal.department_id, principal.inspector_id)


def _page(fmap, request: Request) -> HTMLResponse:
    # Behind a reverse proxy that mounts the app under a prefix, the assets are there too.
    vendor_url = request.scope.get("root_path", "").rstrip("/") + VENDOR_URL
    page = render_html(fmap, AssetMode.SERVED, MapSettings(), vendor_url=vendor_url)
    return HTMLResponse(with_nonce(page, request), headers=PAGE_HEADERS)


_SCRIPT_OPEN = re.compile(r"<script(\s[^>]*)?>")


def with_nonce(page: str, request: Request) -> str:
    """folium writes its map code as inline scripts: each gets this response's CSP nonce
    (the page is ours, built from our data; a script injected into a value would be text
    inside one of these scripts, escaped by folium, not a script element of its own)."""
    nonce = getattr(request.state, "csp_nonce", "")
    if not nonce:
        return page
    return _SCRIPT_OPEN.sub(lambda m: f'<script{m.group(1) or ""} nonce="{nonce}">', page)


@router.get("/coverage", response_class=HTMLResponse)
def coverage_page(
    request: Request,
    db: SessionDep,
    principal: Annotated[Principal, Depends(Allow("admin", "coordinator", "bureau"))],
    reads: ReadLogDep,
    period: PeriodQuery = None,
    risk: Annotated[Literal["A", "B", "C", "D"] | None, Query(description="风险等级")] = None,
    department: DepartmentQuery = None,
) -> HTMLResponse:
    """检查覆盖地图：各区县企业被检查比例（可按风险等级、部门筛选），检查点按部门分层。"""
    from checkonce.maps.coverage import CoverageFilter, coverage_data, coverage_map

    juris = _jurisdiction_of(request)
    data = coverage_data(
        db_session=db,
        jurisdiction=juris,
        filters=CoverageFilter(period, risk, department_id(db, department)),
        viewer=_viewer(principal),
    )
    reads.shown(principal, "visit_map", count=len(data.visits))
    return _page(coverage_map(data, juris), request)


@router.get("/fees", response_class=HTMLResponse)
def fees_page(
    request: Request,
    db: SessionDep,
    principal: Annotated[Principal, Depends(Allow("admin", "coordinator", "bureau"))],
    reads: ReadLogDep,
    period: Annotated[
        str | None,
        Query(pattern=r"^\d{4}(Q[1-4])?$", description="收费日期所在期间（默认全部）"),
    ] = None,
) -> HTMLResponse:
    """涉企收费地图：收费发现按判定分层，各区县违规率，退费（应退、已确认、已退还）。"""
    from checkonce.maps.fees import fee_data, fee_map

    juris = _jurisdiction_of(request)
    data = fee_data(db_session=db, jurisdiction=juris, period=period, viewer=_viewer(principal))
    reads.shown(principal, "fee_map", count=len(data.points))
    return _page(fee_map(data, juris), request)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    db: SessionDep,
    principal: Annotated[Principal, Depends(Allow("admin", "coordinator"))],
    reads: ReadLogDep,
    period: PeriodQuery = None,
) -> HTMLResponse:
    """入企预警地图：计划外入企与重复入企预警（单日、单周、单月超限），按类型分层。"""
    from checkonce.maps.alerts import alert_data, alert_map

    data = alert_data(db_session=db, period=period, viewer=_viewer(principal))
    reads.shown(principal, "alert_map", count=len(data.points))
    return _page(alert_map(data, _jurisdiction_of(request)), request)


@router.get("/route", response_class=HTMLResponse)
def route_page(
    request: Request,
    db: SessionDep,
    principal: Annotated[Principal, Depends(Allow("admin", "coordinator", "bureau", "inspector"))],
    reads: ReadLogDep,
    day: Annotated[
        dt.date | None, Query(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31), description="日期")
    ] = None,
    inspector: InspectorQuery = None,
    visit: VisitQuery = None,
) -> HTMLResponse:
    """执法路线地图：一名执法人员或一个执法组当日的编号站点、先后顺序与路程。"""
    from checkonce.maps.routes import RouteFilter, route_data, route_map
    from checkonce.registry.models import Inspector

    if inspector is None and visit is None and principal.inspector_id is not None:
        own = db.get(Inspector, principal.inspector_id)
        inspector = own.code if own is not None else None
    if inspector is not None and day is None:
        day = dt.date.today()
    data = route_data(
        db_session=db, filters=RouteFilter(day, inspector, visit), viewer=_viewer(principal)
    )
    stops = {stop.visit_code for member in data.members for stop in member.stops}
    reads.shown(principal, "route_map", count=len(stops))
    return _page(route_map(data, _jurisdiction_of(request)), request)
