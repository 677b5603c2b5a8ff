"""Published inspection results (一公开), open to everyone: a paged list and the
credit-disclosure CSV (统一社会信用代码, 企业名称, 检查事项, 检查部门, 检查日期, 检查结果)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from checkonce.api.deps import PUBLIC, PageDep, SessionDep
from checkonce.api.schemas import Page
from checkonce.findings import service
from checkonce.public import PublicResultOut

router = APIRouter(tags=["结果公开"])
PERIOD = r"^\d{4}([Qq][1-4])?$"
DepartmentQuery = Annotated[
    str | None,
    Query(min_length=2, max_length=16, pattern=r"^[A-Za-z0-9_-]+$", description="部门代码"),
]


@router.get("/public/results", response_model=Page[PublicResultOut], dependencies=[PUBLIC])
def public_results(
    db: SessionDep,
    page: PageDep,
    period: Annotated[str | None, Query(pattern=PERIOD, description="2027 或 2027Q1")] = None,
    department: DepartmentQuery = None,
) -> Page[PublicResultOut]:
    """Published results, newest visit first (the latest published revision of each task)."""
    rows, total = service.public_results(
        db, period=period, department=department, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[PublicResultOut.of(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/public/results.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    dependencies=[PUBLIC],
)
def public_results_csv(
    db: SessionDep,
    period: Annotated[str, Query(pattern=PERIOD, description="2027 或 2027Q1")],
    department: DepartmentQuery = None,
) -> Response:
    """The period's published results as the CSV a credit-disclosure upload takes."""
    text = service.export_csv(db, period=period, department=department)
    name = f"results-{period.upper()}.csv"
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
