"""Inspection codes (亮码检查): an inspector on a visit shows a QR code; the enterprise scans
it and sees who is coming (name, department, enforcement certificate and its validity) and
what they may check (the visit's tasks and their legal basis) — or, when the code is not for
a registered inspection today, a clear page saying the enterprise may refuse it. An enterprise
logged in while it scans is told plainly when the inspection is for another enterprise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from checkonce.errors import NotFound
from checkonce.plans.models import TASK_KIND_NAMES, InspectionTask
from checkonce.visits.codes import (
    InvalidCode,
    inspection_token,
    token_from_scan,
    verify_inspection_token,
)
from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector, VisitTask

LIVE_VISIT_STATES = ("scheduled", "checked_in", "completed")


@dataclass(frozen=True)
class TaskLine:
    """One task of the visit as the enterprise sees it."""

    item: str
    department: str
    kind: str
    legal_basis: str


@dataclass(frozen=True)
class InspectionCodeView:
    """What the `/v/<token>` page shows. `valid` False comes with the reason in Chinese."""

    valid: bool
    reason: str = ""
    # The code is genuine and in force, but for a visit at another enterprise than the viewer's.
    other_enterprise: bool = False
    visit_id: int | None = None
    inspector_id: int | None = None
    enterprise_id: int | None = None
    enterprise: str = ""
    credit_code: str = ""
    inspector: str = ""
    department: str = ""
    certificate_no: str = ""
    certificate_valid_from: dt.date | None = None
    certificate_valid_to: dt.date | None = None
    visit_code: str = ""
    day: dt.date | None = None
    start: dt.time | None = None
    end: dt.time | None = None
    team: list[str] = field(default_factory=list)
    tasks: list[TaskLine] = field(default_factory=list)


def visit_in_force(db_session: Session, visit_id: int) -> Visit | None:
    """The visit in force that `visit_id` is or has become, with its team and tasks.

    A re-plan publishes frozen visits again as new rows under the same code, so a code
    issued before it follows the visit to the version now in force."""
    issued = db_session.get(Visit, visit_id)
    if issued is None:
        return None
    return db_session.scalars(
        select(Visit)
        .join(ScheduleVersion, Visit.schedule_id == ScheduleVersion.id)
        .where(
            Visit.code == issued.code,
            Visit.enterprise_id == issued.enterprise_id,
            ScheduleVersion.period == issued.schedule.period,
            ScheduleVersion.state == "published",
        )
        .options(
            selectinload(Visit.team).selectinload(VisitInspector.inspector),
            selectinload(Visit.tasks)
            .selectinload(VisitTask.task)
            .selectinload(InspectionTask.item),
            selectinload(Visit.enterprise),
        )
    ).first()


def issue_inspection_code(
    *, db_session: Session, secret_key: str, visit_id: int, inspector_id: int
) -> tuple[str, Visit]:
    """The inspection code of `inspector_id` on a visit in force of which they are a member;
    any other visit is reported as not found (it is not theirs to show)."""
    visit = visit_in_force(db_session, visit_id)
    if (
        visit is None
        or visit.state not in LIVE_VISIT_STATES
        or inspector_id not in {m.inspector_id for m in visit.team}
    ):
        raise NotFound(f"检查 {visit_id} 不存在或不属于您")
    token = inspection_token(
        db_session=db_session,
        secret_key=secret_key,
        visit_id=visit.id,
        inspector_id=inspector_id,
        day=visit.day,
    )
    return token, visit


def resolve_inspection_code(
    *,
    db_session: Session,
    secret_key: str,
    scanned: str,
    today: dt.date,
    viewer_enterprise_id: int | None = None,
) -> InspectionCodeView:
    """What a scanned inspection code proves today; never raises for a bad code.

    `viewer_enterprise_id` is the enterprise of a logged-in enterprise account that scanned
    it: a code for a visit at any other enterprise is refused as not for it."""
    try:
        code = verify_inspection_token(
            db_session=db_session, secret_key=secret_key, token=token_from_scan(scanned, "v")
        )
    except InvalidCode as exc:
        return InspectionCodeView(valid=False, reason=exc.message)
    visit = visit_in_force(db_session, code.visit_id)
    if visit is None or visit.state not in LIVE_VISIT_STATES:
        return InspectionCodeView(
            valid=False, reason="该检查不在现行有效的检查计划中（未登记或已取消）"
        )
    if viewer_enterprise_id is not None and visit.enterprise_id != viewer_enterprise_id:
        return InspectionCodeView(
            valid=False,
            other_enterprise=True,
            reason="此检查码对应的检查不是针对贵企业的：它登记的被检查企业是另一家企业",
            visit_id=visit.id,
            inspector_id=code.inspector_id,
            enterprise_id=visit.enterprise_id,
        )
    if code.day != visit.day:
        return InspectionCodeView(
            valid=False, reason=f"该检查已改期至 {visit.day:%Y-%m-%d}，此检查码已失效"
        )
    if code.day != today:
        return InspectionCodeView(
            valid=False,
            reason=f"检查码仅在 {code.day:%Y年%m月%d日} 当日有效，今天是 {today:%Y年%m月%d日}",
        )
    member = next((m for m in visit.team if m.inspector_id == code.inspector_id), None)
    inspector = member.inspector if member is not None else None
    if inspector is None:
        return InspectionCodeView(valid=False, reason="出示检查码的人员不在本次检查的检查组中")
    if not inspector.assignable:
        return InspectionCodeView(valid=False, reason="出示检查码的人员不是在岗的行政执法人员")
    if not inspector.certified_on(today):
        return InspectionCodeView(valid=False, reason="出示检查码的人员的执法证今天不在有效期内")
    return InspectionCodeView(
        valid=True,
        visit_id=visit.id,
        inspector_id=inspector.id,
        enterprise_id=visit.enterprise_id,
        enterprise=visit.enterprise.name,
        credit_code=visit.enterprise.credit_code,
        inspector=inspector.name,
        department=inspector.department.name,
        certificate_no=inspector.certificate_no or "",
        certificate_valid_from=inspector.certificate_valid_from,
        certificate_valid_to=inspector.certificate_valid_to,
        visit_code=visit.code,
        day=visit.day,
        start=visit.start,
        end=visit.end,
        team=[m.inspector.name for m in visit.team],
        tasks=[
            TaskLine(
                item=link.task.item.name,
                department=link.task.item.department.name,
                kind=TASK_KIND_NAMES.get(link.task.kind, link.task.kind),
                legal_basis=link.task.item.legal_basis,
            )
            for link in visit.tasks
        ],
    )
