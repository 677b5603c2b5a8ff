"""What every map's data layer shares: the period's schedules in force, who may see what, and
the department names shown in legends."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.auth.service import Forbidden
from checkonce.errors import CheckOnceError, NotFound
from checkonce.plans.periods import Period, parse_period
from checkonce.registry.models import Department
from checkonce.visits.models import ScheduleVersion

# Visits that are (or were) really going to happen: a missed or cancelled visit covers nothing.
LIVE_VISIT_STATES = ("scheduled", "checked_in", "completed")
ENTERED_VISIT_STATES = ("checked_in", "completed")


@dataclass(frozen=True)
class Viewer:
    """Whose map it is. A bureau sees only its own department's visits and findings; an
    inspector only their own day; coordinators and admins (and the CLI) see everything."""

    role: str = "coordinator"
    department_id: int | None = None
    inspector_id: int | None = None

    @property
    def sees_all(self) -> bool:
        """Coordinators and admins see every department."""
        return self.role in ("admin", "coordinator")

    def department_scope(self, requested: int | None) -> int | None:
        """The department filter to apply: a bureau is held to its own department."""
        if self.sees_all:
            return requested
        if self.role == "bureau" and self.department_id is not None:
            if requested is not None and requested != self.department_id:
                raise Forbidden("执法部门账号只能查看本部门的地图")
            return self.department_id
        raise Forbidden("当前账号无权查看该地图")


@dataclass(frozen=True)
class DepartmentLabel:
    """A department as legends and layer names show it."""

    id: int
    code: str
    name: str
    short_name: str


def departments(db_session: Session) -> dict[int, DepartmentLabel]:
    """Every department by id, in code order (legends keep a stable order)."""
    return {
        d.id: DepartmentLabel(d.id, d.code, d.name, d.short_name)
        for d in db_session.scalars(select(Department).order_by(Department.code))
    }


def department_id(db_session: Session, code: str | None) -> int | None:
    """The id of a department given by its code (CLI `--department SAMR`)."""
    if code is None:
        return None
    found = db_session.scalar(select(Department.id).where(Department.code == code.upper()))
    if found is None:
        raise NotFound(f"部门 {code} 不存在")
    return found


def resolve_period(db_session: Session, period: str | None) -> Period:
    """The period asked for, or the latest period with a schedule in force."""
    if period is not None:
        return parse_period(period)
    latest = db_session.scalar(
        select(ScheduleVersion.period)
        .where(ScheduleVersion.state == "published")
        .order_by(ScheduleVersion.published_at.desc(), ScheduleVersion.id.desc())
        .limit(1)
    )
    if latest is None:
        raise NotFound("尚无已发布的排程：请先发布排程或指定期间")
    return parse_period(latest)


def schedules_in_force(db_session: Session, period: Period) -> list[int]:
    """Published schedule versions whose period overlaps `period` (a year's schedule and its
    quarters' schedules all count toward a year or a quarter map; visits are then cut to the
    period's days)."""
    rows = db_session.execute(
        select(ScheduleVersion.id, ScheduleVersion.period).where(
            ScheduleVersion.state == "published"
        )
    ).all()
    out = []
    for schedule_id, code in rows:
        try:
            other = parse_period(code)
        except CheckOnceError:
            continue
        if other.start <= period.end and period.start <= other.end:
            out.append(schedule_id)
    return sorted(out)


def clock(value: dt.time) -> str:
    """09:30, as schedules print times."""
    return value.strftime("%H:%M")
