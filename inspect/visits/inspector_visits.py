"""An inspector's own visits (执法人员的检查): the visits of schedule versions in force whose
team they are on, their day's route in order, and who checked in at one of them.

Only the schedule in force counts: a re-plan publishes frozen visits again as new rows, and
the superseded rows must not appear twice on a phone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session, selectinload

from checkonce.errors import NotFound
from checkonce.plans.models import InspectionTask
from checkonce.registry.models import Inspector
from checkonce.visits.checkin_models import CheckIn
from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector, VisitTask

# States a day's route shows: what is to be done, what was done, and what was missed.
ROUTE_STATES = ("scheduled", "checked_in", "completed", "missed")


def _own(inspector_id: int) -> Select:
    return select(Visit).where(
        Visit.schedule_id.in_(
            select(ScheduleVersion.id).where(ScheduleVersion.state == "published")
        ),
        exists().where(
            VisitInspector.visit_id == Visit.id, VisitInspector.inspector_id == inspector_id
        ),
    )


def _loaded(stmt: Select) -> Select:
    return stmt.options(
        selectinload(Visit.enterprise),
        selectinload(Visit.lead_department),
        selectinload(Visit.tasks).selectinload(VisitTask.task).selectinload(InspectionTask.item),
        selectinload(Visit.tasks)
        .selectinload(VisitTask.task)
        .selectinload(InspectionTask.department),
        selectinload(Visit.team)
        .selectinload(VisitInspector.inspector)
        .selectinload(Inspector.department),
    )


def day_route(db_session: Session, *, inspector_id: int, day: dt.date) -> list[Visit]:
    """The inspector's visits on `day` in route order (planned start), with enterprise,
    tasks and team loaded."""
    stmt = _own(inspector_id).where(Visit.day == day, Visit.state.in_(ROUTE_STATES))
    return list(db_session.scalars(_loaded(stmt).order_by(Visit.start, Visit.id)))


def list_own_visits(
    db_session: Session,
    *,
    inspector_id: int,
    today: dt.date,
    upcoming: bool,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[Visit], int]:
    """One page of the inspector's visits and how many there are: upcoming ones (today and
    later, soonest first) or past ones (most recent first)."""
    stmt = _own(inspector_id).where(Visit.day >= today if upcoming else Visit.day < today)
    total = db_session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = (
        (Visit.day, Visit.start, Visit.id)
        if upcoming
        else (
            Visit.day.desc(),
            Visit.start.desc(),
            Visit.id.desc(),
        )
    )
    rows = db_session.scalars(_loaded(stmt).order_by(*order).limit(limit).offset(offset))
    return list(rows), total


def own_visit(db_session: Session, *, inspector_id: int, visit_id: int) -> Visit:
    """The visit if the inspector is on its team in the schedule in force; otherwise
    NotFound, whether or not it exists (another team's visit is not theirs to see)."""
    visit = db_session.scalars(_loaded(_own(inspector_id).where(Visit.id == visit_id))).first()
    if visit is None:
        raise NotFound(f"检查 {visit_id} 不存在或您不在该检查组中")
    return visit


def team_checkins(db_session: Session, visit: Visit) -> list[CheckIn]:
    """Check-ins of the visit's team at its enterprise on its day (planned or not), first
    first: what shows whether, when and where the team entered."""
    team = [m.inspector_id for m in visit.team]
    return list(
        db_session.scalars(
            select(CheckIn)
            .where(
                CheckIn.enterprise_id == visit.enterprise_id,
                CheckIn.day == visit.day,
                CheckIn.inspector_id.in_(team),
            )
            .options(selectinload(CheckIn.inspector))
            .order_by(CheckIn.checked_in_at, CheckIn.id)
        )
    )


def own_checkin(
    db_session: Session, *, inspector_id: int, enterprise_id: int, day: dt.date
) -> CheckIn | None:
    """The inspector's first check-in at the enterprise on `day`, if any (the code page
    shows it instead of offering a second one)."""
    return db_session.scalars(
        select(CheckIn)
        .where(
            CheckIn.inspector_id == inspector_id,
            CheckIn.enterprise_id == enterprise_id,
            CheckIn.day == day,
        )
        .order_by(CheckIn.checked_in_at, CheckIn.id)
        .limit(1)
    ).first()
