"""Shared pieces of the findings tests: a checked-in joint visit (SAMR food + FIRE) and
complete checklist answers for a task."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from checkonce.findings.service import ResultInput
from checkonce.plans.models import InspectionTask
from checkonce.registry.models import CheckItem
from checkonce.visits.models import VisitTask
from tests import factories as f

VISIT_DAY = dt.date(2026, 11, 18)


def tasks_of(session, visit) -> list[InspectionTask]:
    return list(
        session.scalars(
            select(InspectionTask)
            .join(VisitTask, VisitTask.inspection_task_id == InspectionTask.id)
            .where(VisitTask.visit_id == visit.id)
            .order_by(InspectionTask.id)
        )
    )


def answers(session, task, answer: str = "ok") -> dict:
    item = session.get(CheckItem, task.item_id)
    return {
        line.key: {"answer": answer, "note": "现场发现问题" if answer == "problem" else ""}
        for line in item.checklist
    }


def passed(session, task, **overrides) -> ResultInput:
    values = {"result": "passed", "checklist": answers(session, task)}
    values.update(overrides)
    return ResultInput(**values)


@pytest.fixture
def joint(db_session):
    """A checked-in joint visit: SAMR-SP-001 and FIRE-001, two officers of each."""
    s = db_session
    firm = f.enterprise(s)
    samr = [f.inspector(s, "SAMR") for _ in range(2)]
    fire = [f.inspector(s, "FIRE") for _ in range(2)]
    visit = f.visit_with_tasks(
        s, firm, samr + fire, day=VISIT_DAY, items=("SAMR-SP-001", "FIRE-001")
    )
    food, fire_task = tasks_of(s, visit)
    return {
        "firm": firm,
        "samr": samr,
        "fire": fire,
        "visit": visit,
        "food": food,
        "fire_task": fire_task,
    }
