"""A small hand-made jurisdiction for schedule tests: restaurants in 雁塔区 under key
supervision (重点监管, announced) of 市场监管 (SAMR) and 消防 (FIRE) in March 2027, one
enterprise per week so visits spread over the month, and a few inspectors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from checkonce.plans.models import InspectionTask
from checkonce.registry.models import Enterprise, Inspector
from tests import factories as f

POLICY = f.policy()
CALENDAR = f.calendar()
SEED = "5eed" * 16
ACTOR = f.coordinator("测试协调员")
# Monday–Friday weeks of March 2027 (no holiday in March).
WEEKS = [
    ("2027-03-01", "2027-03-05"),
    ("2027-03-08", "2027-03-12"),
    ("2027-03-15", "2027-03-19"),
    ("2027-03-22", "2027-03-26"),
]


@dataclass
class Scenario:
    firms: list[Enterprise]
    samr: list[Inspector]
    fire: list[Inspector]
    tasks: list[InspectionTask] = field(default_factory=list)


def key_plan(
    session: Session,
    dept: str,
    lines: list[tuple[str, tuple[str, str], list[Enterprise]]],
    period: str = "2027Q1",
) -> None:
    """An approved key-supervision plan of `dept` for `period`: (item, window, firms) lines."""
    f.plan(
        session,
        [
            {
                "kind": "key",
                "items": [item],
                "window": list(window),
                "enterprises": [firm.credit_code for firm in firms],
            }
            for item, window, firms in lines
        ],
        dept=dept,
        period=period,
        state="approved",
    )


def build(
    session: Session,
    *,
    firms: list[Enterprise] | None = None,
    samr: list[Inspector] | None = None,
    extra_firms: int = 4,
) -> Scenario:
    """Firms 0–3 get SAMR food checks, one firm per week of March; firms 0 and 1 also get a
    FIRE check in the same week (merged: one visit each). Firm 4, when present, has a SAMR
    check in the first week too."""
    firms = list(firms or []) + [f.enterprise(session) for _ in range(extra_firms)]
    samr = list(samr or []) + [f.inspector(session, "SAMR") for _ in range(3)]
    fire = [f.inspector(session, "FIRE") for _ in range(2)]
    samr_lines = [("SAMR-SP-001", WEEKS[i % 4], [firm]) for i, firm in enumerate(firms)]
    key_plan(session, "SAMR", samr_lines)
    key_plan(session, "FIRE", [("FIRE-001", WEEKS[i], [firms[i]]) for i in range(2)])
    tasks = list(
        session.query(InspectionTask)
        .filter(InspectionTask.enterprise_id.in_([firm.id for firm in firms]))
        .order_by(InspectionTask.id)
    )
    return Scenario(firms=firms, samr=samr, fire=fire, tasks=tasks)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
