"""Shared small instances for the scheduler tests (hand-made JSON and a generated one)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from checkonce.scheduler.generate import generate
from checkonce.scheduler.model import Instance

# Two weeks of March 2026 (Mon 2 – Fri 13), two enterprises a few hundred metres apart
# in 莲湖区, two SAMR and two FIRE inspectors at the district office.
BASE_INSTANCE: dict[str, Any] = {
    "schema": "checkonce.instance/1",
    "name": "hand-made",
    "workdays": [f"2026-03-{d:02d}" for d in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13)],
    "day": {"start": "09:00", "end": "17:30"},
    "travel": {"speed_kmh": 25.0, "detour": 1.3},
    "policy": {
        "min_team": 2,
        "max_visits_per_enterprise_year": 4,
        "max_routine_per_department_year": 2,
        "max_visits_per_enterprise_week": 2,
        "max_visits_per_enterprise_month": 3,
    },
    "departments": [
        {"id": "SAMR", "name": "市场监督管理局"},
        {"id": "FIRE", "name": "消防救援支队"},
    ],
    "enterprises": [
        {
            "id": "E1",
            "name": "甲餐馆",
            "district": "610104",
            "lat": 34.2650,
            "lon": 108.9300,
            "risk": "B",
            "open": ["08:30", "18:00"],
            "visits_this_year": 0,
            "routine_this_year": {},
            "last_inspectors": [],
        },
        {
            "id": "E2",
            "name": "乙超市",
            "district": "610104",
            "lat": 34.2700,
            "lon": 108.9350,
            "risk": "C",
            "open": ["08:30", "18:00"],
            "visits_this_year": 0,
            "routine_this_year": {},
            "last_inspectors": [],
        },
    ],
    "inspectors": [
        {
            "id": f"I{k}",
            "department": dept,
            "lat": 34.2660,
            "lon": 108.9320,
            "minutes_per_day": 480,
            "unavailable": [],
            "certificate_valid": ["2025-01-01", "2027-12-31"],
        }
        for k, dept in ((1, "SAMR"), (2, "SAMR"), (3, "FIRE"), (4, "FIRE"))
    ],
    "conflicts": [],
    "tasks": [
        {
            "id": "T1",
            "enterprise": "E1",
            "department": "SAMR",
            "item": "SAMR-SP-001",
            "kind": "random",
            "window": ["2026-03-02", "2026-03-13"],
            "minutes": 60,
            "team": 2,
            "mergeable": True,
        },
        {
            "id": "T2",
            "enterprise": "E1",
            "department": "FIRE",
            "item": "FIRE-XF-001",
            "kind": "random",
            "window": ["2026-03-03", "2026-03-06"],
            "minutes": 45,
            "team": 2,
            "mergeable": True,
        },
        {
            "id": "T3",
            "enterprise": "E2",
            "department": "SAMR",
            "item": "SAMR-SP-002",
            "kind": "triggered",
            "window": ["2026-03-02", "2026-03-04"],
            "minutes": 30,
            "team": 2,
            "mergeable": True,
        },
    ],
    "seed": "00ff",
}

# A valid schedule of BASE_INSTANCE: E1 visited jointly once, E2 once by the SAMR pair.
BASE_SCHEDULE: dict[str, Any] = {
    "schema": "checkonce.schedule/1",
    "instance": "hand-made",
    "visits": [
        {
            "id": "V1",
            "enterprise": "E1",
            "day": "2026-03-03",
            "start": "10:00",
            "end": "11:00",
            "lead": "SAMR",
            "tasks": ["T1", "T2"],
            "inspectors": ["I1", "I2", "I3", "I4"],
        },
        {
            "id": "V2",
            "enterprise": "E2",
            "day": "2026-03-03",
            "start": "14:00",
            "end": "14:30",
            "lead": "SAMR",
            "tasks": ["T3"],
            "inspectors": ["I1", "I2"],
        },
    ],
    "unscheduled": [],
    "metrics": {},
}


@pytest.fixture
def instance_json() -> dict[str, Any]:
    """A fresh, mutable copy of the hand-made instance."""
    return copy.deepcopy(BASE_INSTANCE)


@pytest.fixture
def schedule_json() -> dict[str, Any]:
    """A fresh, mutable copy of its valid schedule."""
    return copy.deepcopy(BASE_SCHEDULE)


@pytest.fixture(scope="session")
def tiny_instance() -> Instance:
    """A generated Xi'an instance of size T (60 tasks, one month)."""
    return generate("T", seed=7)
