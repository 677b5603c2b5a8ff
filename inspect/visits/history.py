"""Entry history of enterprises (本年已入企记录) for the scheduler's caps and rotation.

The yearly caps count entries already made or planned this year, so the history of a
period is read from the visits of the *published* versions of the year's other periods
(a version of the period being planned is about to be replaced, so its visits do not count,
except the frozen ones a re-plan carries over, which the caller adds). Missed and cancelled
visits were never entries and are left out.

Counting follows the verifier (schemas/INTERCHANGE.md rule 7): `visits` counts visits that
hold at least one routine (non-triggered) task; `routine` counts routine tasks per
department. `last_inspectors` is the team of the enterprise's most recent visit before the
period, which the team draw avoids sending again (rotation).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.plans.models import InspectionTask
from checkonce.registry.models import Department, Inspector
from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector, VisitTask

# Visit states that are (or will be) real entries into the enterprise.
ENTRY_STATES = ("scheduled", "checked_in", "completed")


@dataclass
class EnterpriseHistory:
    """What one enterprise has already had this year."""

    visits: int = 0
    routine: dict[str, int] = field(default_factory=dict)
    last_day: dt.date | None = None
    last_inspectors: list[str] = field(default_factory=list)

    def add_visit(
        self, day: dt.date, task_kinds: Iterable[tuple[str, str]], team: list[str] | None
    ) -> None:
        """Count one visit: `task_kinds` are (department code, kind) of its tasks; `team`
        (inspector codes in draw order) becomes the last team when the visit is the latest."""
        routine = [dept for dept, kind in task_kinds if kind != "triggered"]
        if routine:
            self.visits += 1
        for dept in routine:
            self.routine[dept] = self.routine.get(dept, 0) + 1
        if team is not None and (self.last_day is None or day >= self.last_day):
            self.last_day = day
            self.last_inspectors = list(team)

    def to_interchange(self) -> dict:
        """The history fields of an interchange enterprise."""
        return {
            "visits_this_year": self.visits,
            "routine_this_year": dict(sorted(self.routine.items())),
            "last_inspectors": list(self.last_inspectors),
        }


def load_history(
    *, db_session: Session, period: str, start: dt.date, enterprise_ids: set[int]
) -> dict[int, EnterpriseHistory]:
    """History of `enterprise_ids` (database ids) for planning `period` starting on `start`:
    entries this calendar year from published versions of other periods, and the team of
    each enterprise's most recent published visit before `start` (any year)."""
    history: dict[int, EnterpriseHistory] = defaultdict(EnterpriseHistory)
    if not enterprise_ids:
        return {}
    ids = sorted(enterprise_ids)
    year_start, year_end = dt.date(start.year, 1, 1), dt.date(start.year, 12, 31)
    published = select(ScheduleVersion.id).where(
        ScheduleVersion.state == "published", ScheduleVersion.period != period
    )

    rows = db_session.execute(
        select(Visit.id, Visit.enterprise_id, Visit.day, Department.code, InspectionTask.kind)
        .join(VisitTask, VisitTask.visit_id == Visit.id)
        .join(InspectionTask, InspectionTask.id == VisitTask.inspection_task_id)
        .join(Department, Department.id == InspectionTask.department_id)
        .where(
            Visit.schedule_id.in_(published),
            Visit.state.in_(ENTRY_STATES),
            Visit.day.between(year_start, year_end),
            Visit.enterprise_id.in_(ids),
        )
        .order_by(Visit.id)
    )
    tasks_of: dict[int, list[tuple[str, str]]] = defaultdict(list)
    visit_of: dict[int, tuple[int, dt.date]] = {}
    for visit_id, enterprise_id, day, dept, kind in rows:
        tasks_of[visit_id].append((dept, kind))
        visit_of[visit_id] = (enterprise_id, day)
    for visit_id, (enterprise_id, day) in visit_of.items():
        history[enterprise_id].add_visit(day, tasks_of[visit_id], None)

    # Rotation looks back across years: the last team before the period, whoever sent it.
    latest = db_session.execute(
        select(Visit.id, Visit.enterprise_id, Visit.day)
        .where(
            Visit.schedule_id.in_(
                select(ScheduleVersion.id).where(ScheduleVersion.state == "published")
            ),
            Visit.state.in_(ENTRY_STATES),
            Visit.day < start,
            Visit.enterprise_id.in_(ids),
        )
        .order_by(Visit.enterprise_id, Visit.day.desc(), Visit.start.desc(), Visit.id.desc())
    )
    last_visit: dict[int, tuple[int, dt.date]] = {}
    for visit_id, enterprise_id, day in latest:
        last_visit.setdefault(enterprise_id, (visit_id, day))
    if last_visit:
        team: dict[int, list[str]] = defaultdict(list)
        for visit_id, code in db_session.execute(
            select(VisitInspector.visit_id, Inspector.code)
            .join(Inspector, Inspector.id == VisitInspector.inspector_id)
            .where(VisitInspector.visit_id.in_([v for v, _ in last_visit.values()]))
            .order_by(VisitInspector.visit_id, VisitInspector.position)
        ):
            team[visit_id].append(code)
        for enterprise_id, (visit_id, day) in last_visit.items():
            entry = history[enterprise_id]
            entry.last_day = day
            entry.last_inspectors = team[visit_id]
    return dict(history)
