"""Plan states draft → submitted → approved → published, who may move them, the audit trail,
and the concrete tasks an approved plan yields."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from checkonce.auth.access import PermissionDenied
from checkonce.errors import CheckOnceError, Conflict
from checkonce.plans import service
from checkonce.plans.models import InspectionTask
from tests import factories as f

Q1 = ["2027-01-04", "2027-03-31"]


def key_task(code, item="SAMR-SP-002", window=Q1):
    return {"kind": "key", "items": [item], "enterprises": [code], "window": window}


def move(session, plan, action, actor, **kw):
    fn = {
        "submit": service.submit_plan,
        "approve": service.approve_plan,
        "publish": service.publish_plan,
        "return": service.return_to_draft,
    }[action]
    if action in ("submit", "approve"):
        kw.setdefault("policy", f.policy())
        kw.setdefault("calendar", f.calendar())
    return fn(db_session=session, plan_id=plan.id, actor=actor, **kw)


def test_full_lifecycle_is_audited(db_session):
    firm = f.enterprise(db_session)
    plan = f.plan(db_session, [key_task(firm.credit_code), f.random_task()])
    seq = f.audit_seq(db_session)
    move(db_session, plan, "submit", f.bureau(db_session, "SAMR", "李四"), note="一季度计划")
    move(db_session, plan, "return", f.coordinator("张三"), note="请补充说明")
    assert plan.state == "draft"
    move(db_session, plan, "submit", f.bureau(db_session, "SAMR", "李四"))
    move(db_session, plan, "approve", f.coordinator("张三"))
    move(db_session, plan, "publish", f.coordinator("张三"))
    assert plan.state == "published"
    trail = [(e.actor, e.from_state, e.to_state, e.note) for e in plan.events]
    assert trail == [
        ("department:测试员", None, "draft", "json"),
        ("department:李四", "draft", "submitted", "一季度计划"),
        ("coordinator:张三", "submitted", "draft", "请补充说明"),
        ("department:李四", "draft", "submitted", ""),
        ("coordinator:张三", "submitted", "approved", ""),
        ("coordinator:张三", "approved", "published", ""),
    ]
    assert all(e.at is not None for e in plan.events)
    records = f.audit_since(db_session, seq)
    assert [(r["action"], r["actor"]["username"], r["actor"]["role"]) for r in records] == [
        ("plan.submit", "李四", "bureau"),
        ("plan.return", "张三", "coordinator"),
        ("plan.submit", "李四", "bureau"),
        ("plan.approve", "张三", "coordinator"),
        ("plan.publish", "张三", "coordinator"),
    ]
    assert [(r["before"], r["after"]) for r in records] == [
        ({"state": "draft"}, {"state": "submitted"}),
        ({"state": "submitted"}, {"state": "draft"}),
        ({"state": "draft"}, {"state": "submitted"}),
        ({"state": "submitted"}, {"state": "approved"}),
        ({"state": "approved"}, {"state": "published"}),
    ]
    assert records[0]["detail"] == {"note": "一季度计划"}
    assert {r["object"]["id"] for r in records} == {str(plan.id)}
    assert {r["channel"] for r in records} == {"api"}
    assert [e.at for e in plan.events] == sorted(e.at for e in plan.events)


def test_plan_with_errors_cannot_be_submitted(db_session):
    firm = f.enterprise(db_session)
    plan = f.plan(db_session, [key_task(firm.credit_code, "EMB-001")])
    with pytest.raises(service.PlanNotSubmittable) as caught:
        move(db_session, plan, "submit", f.bureau(db_session, "SAMR", "李四"))
    assert "check_item_on_list" in caught.value.message
    assert [x.rule for x in caught.value.findings] == ["check_item_on_list"]
    assert plan.state == "draft" and len(plan.events) == 1


def test_warnings_do_not_block(db_session):
    plan = f.plan(db_session, [f.random_task(scope={"districts": ["610124"]})])
    move(db_session, plan, "submit", f.bureau(db_session, "SAMR", "李四"))
    assert plan.state == "submitted"


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("draft", "approve"),
        ("draft", "publish"),
        ("submitted", "publish"),
        ("approved", "submit"),
        ("published", "approve"),
        ("approved", "return"),
    ],
)
def test_illegal_transitions_are_refused(db_session, state, action):
    firm = f.enterprise(db_session)
    plan = f.plan(db_session, [key_task(firm.credit_code)], state=state)
    events = len(plan.events)
    with pytest.raises(Conflict, match="当前为"):
        move(
            db_session,
            plan,
            action,
            f.coordinator("张三"),
            **({"note": "x"} if action == "return" else {}),
        )
    assert plan.state == state and len(plan.events) == events


def test_roles_are_checked(db_session):
    firm = f.enterprise(db_session)
    plan = f.plan(db_session, [key_task(firm.credit_code)], state="submitted")
    seq = f.audit_seq(db_session)
    with pytest.raises(PermissionDenied, match="无权审核通过计划"):
        move(db_session, plan, "approve", f.bureau(db_session, "SAMR", "李四"))
    with pytest.raises(PermissionDenied, match="无权审核通过计划"):
        move(db_session, plan, "approve", f.actor("inspector", "张三"))
    other = f.bureau(db_session, "EMB", "王五")
    with pytest.raises(PermissionDenied, match="本部门"):
        move(db_session, plan, "submit", other)
    with pytest.raises(CheckOnceError, match="退回理由"):
        move(db_session, plan, "return", f.coordinator("张三"), note="  ")
    assert plan.state == "submitted"
    assert f.audit_since(db_session, seq) == []  # refused moves leave no record


def test_approval_creates_concrete_tasks(db_session):
    firm, other, white = (
        f.enterprise(db_session),
        f.enterprise(db_session),
        f.enterprise(db_session, whitelisted=True),
    )
    f.enterprise(db_session, industry_code="retail")
    plan = f.plan(
        db_session,
        [
            {
                "kind": "key",
                "items": ["SAMR-SP-002", "SAMR-SP-003"],
                "enterprises": [firm.credit_code],
                "window": Q1,
            },
            {
                "kind": "special",
                "campaign_name": "餐饮专项",
                "items": ["SAMR-SP-001"],
                "window": ["2027-03-01", "2027-03-31"],
                "scope": {"industries": ["restaurant"]},
                "approver": "王局长",
                "approval_date": "2027-02-20",
                "approval_document": "市市监发〔2027〕8号",
            },
            {
                "kind": "triggered",
                "item": "SAMR-SP-002",
                "enterprise": other.credit_code,
                "reason": "complaint",
                "received_on": "2027-01-06",
            },
            f.random_task(),
        ],
        state="approved",
    )
    tasks = db_session.scalars(
        select(InspectionTask).where(InspectionTask.plan_id == plan.id)
    ).all()
    by_kind = {}
    for task in tasks:
        by_kind.setdefault(task.kind, []).append(task)
    assert sorted(t.item.code for t in by_kind["key"]) == ["SAMR-SP-002", "SAMR-SP-003"]
    # the campaign covers every restaurant; food items are allowed for white-listed ones too
    assert {t.enterprise_id for t in by_kind["special"]} == {firm.id, other.id, white.id}
    (triggered,) = by_kind["triggered"]
    assert (triggered.window_start.isoformat(), triggered.window_end.isoformat()) == (
        "2027-01-06",
        "2027-01-13",
    )
    assert "random" not in by_kind  # random tasks come from draws
    assert triggered.to_interchange() == {
        "id": f"T{triggered.id:06d}",
        "enterprise": other.credit_code,
        "department": "SAMR",
        "item": "SAMR-SP-002",
        "kind": "triggered",
        "window": ["2027-01-06", "2027-01-13"],
        "minutes": triggered.item.default_minutes,
        "team": 2,
        "mergeable": True,
    }
    assert len(service.concrete_tasks(db_session=db_session, plan_id=plan.id)) == len(tasks)
    # approving never doubles them
    assert service.materialize_named_tasks(db_session=db_session, plan=plan, policy=f.policy()) == 0


def test_list_and_get(db_session):
    firm = f.enterprise(db_session)
    plan = f.plan(db_session, [key_task(firm.credit_code)], dept="SAMR", state="submitted")
    assert plan in service.list_plans(
        db_session=db_session, department="SAMR", year=2027, state="submitted"
    )
    assert plan not in service.list_plans(db_session=db_session, department="EMB")
    with pytest.raises(CheckOnceError, match="不存在"):
        service.get_plan(db_session=db_session, plan_id=10**9)
    with pytest.raises(CheckOnceError, match="不存在"):
        service.get_plan(db_session=db_session, plan_id=10**30)
