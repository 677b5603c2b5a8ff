"""A completed joint visit (SAMR food + FIRE, two officers each) whose food task was ordered
to rectify and whose fire task passed, and the documents folder in a temporary directory."""

from __future__ import annotations

import datetime as dt

import pytest

from checkonce.audit.actor import Actor, Channel
from checkonce.findings.service import record_result
from tests import factories as f
from tests.findings.conftest import VISIT_DAY, passed, tasks_of

BASE_URL = "https://checkonce.example.gov.cn"


@pytest.fixture(autouse=True)
def documents_folder(tmp_path, monkeypatch):
    folder = tmp_path / "documents"
    monkeypatch.setenv("CHECKONCE_DOCUMENTS_DIR", str(folder))
    return folder


def inspector_actor(person) -> Actor:
    return Actor(
        user_id=None,
        username=f"i{person.id}",
        role="inspector",
        channel=Channel.WEB,
        department_id=person.department_id,
        inspector_id=person.id,
    )


@pytest.fixture
def completed(db_session):
    s = db_session
    firm = f.enterprise(s, name="长安老字号餐馆")
    samr = [f.inspector(s, "SAMR", name=n) for n in ("王执法", "李执法")]
    fire = [f.inspector(s, "FIRE", name=n) for n in ("赵消防", "钱消防")]
    visit = f.visit_with_tasks(
        s, firm, samr + fire, day=VISIT_DAY, items=("SAMR-SP-001", "FIRE-001")
    )
    food, fire_task = tasks_of(s, visit)
    record_result(
        db_session=s,
        visit_id=visit.id,
        inspection_task_id=food.id,
        inspector_id=samr[0].id,
        actor=f.as_inspector(samr[0]),
        data=passed(
            s,
            food,
            result="rectify",
            legal_basis="《中华人民共和国食品安全法》第三十三条",
            rectify_by=VISIT_DAY + dt.timedelta(days=15),
            notes="冷藏柜温度记录缺失",
        ),
        policy=f.policy(),
        calendar=f.calendar(),
    )
    record_result(
        db_session=s,
        visit_id=visit.id,
        inspection_task_id=fire_task.id,
        inspector_id=fire[0].id,
        actor=f.as_inspector(fire[0]),
        data=passed(s, fire_task),
        policy=f.policy(),
        calendar=f.calendar(),
    )
    s.refresh(visit)
    return {"firm": firm, "samr": samr, "fire": fire, "visit": visit, "food": food}
