"""Draws against the database: commit → run → reveal → publish, verification from the
published JSON alone, exclusions, re-draws and joint draws."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from checkonce.auth.access import PermissionDenied
from checkonce.errors import CheckOnceError, Conflict
from checkonce.plans.models import InspectionTask
from checkonce.sampling import selection
from checkonce.sampling import service as draws
from checkonce.sampling.models import Draw
from checkonce.sampling.verify import verify_published
from tests import factories as f

BOSS = f.coordinator("张三")


def population(session, sizes=None, **extra):
    sizes = sizes or {"A": 7, "B": 13, "C": 9, "D": 3}
    return {
        cls: [f.enterprise(session, risk_class=cls, **extra) for _ in range(k)]
        for cls, k in sizes.items()
    }


def spec(session, dept="SAMR", period="2027Q1", **task):
    item = task.pop(
        "item", {"SAMR": "SAMR-SP-001", "HEALTH": "HEALTH-001"}.get(dept, "SAMR-SP-001")
    )
    plan = f.plan(
        session, [f.random_task(item=item, **task)], dept=dept, period=period, state="approved"
    )
    return plan.tasks[0]


def full_draw(session, task_ids, **kw):
    draw = draws.commit_draw(
        db_session=session, plan_task_ids=task_ids, actor=BOSS, policy=f.policy(), **kw
    )
    draws.run_draw(db_session=session, draw_id=draw.id, actor=BOSS, policy=f.policy())
    draws.reveal_draw(db_session=session, draw_id=draw.id, actor=BOSS)
    return draw, draws.publish_draw(db_session=session, draw_id=draw.id, actor=BOSS)


def selected_codes(draw):
    return {m.credit_code for m in draw.members if m.selected}


def test_lifecycle_and_verification_from_json_only(db_session):
    pop = population(db_session)
    task = spec(db_session)
    draw = draws.commit_draw(
        db_session=db_session, plan_task_ids=[task.id], actor=BOSS, policy=f.policy()
    )
    before = draws.publish_draw(db_session=db_session, draw_id=draw.id, actor=BOSS)
    assert draw.state == "committed" and "seed" not in before
    assert before["commitment"]["seed_sha256"] == selection.seed_sha256(draw.seed)
    assert before["commitment"]["population_size"] == 32
    assert not any(m.selected for m in draw.members)
    with pytest.raises(Conflict, match="种子公开后"):
        draws.published_json(draw)

    draws.run_draw(db_session=db_session, draw_id=draw.id, actor=BOSS, policy=f.policy())
    with pytest.raises(Conflict, match="只能执行一次"):
        draws.run_draw(db_session=db_session, draw_id=draw.id, actor=BOSS)
    draws.reveal_draw(db_session=db_session, draw_id=draw.id, actor=BOSS)
    final = draws.publish_draw(db_session=db_session, draw_id=draw.id, actor=BOSS)
    assert draw.state == "published" and draw.published_at is not None
    assert (draw.committed_by, draw.drawn_by, draw.revealed_by, draw.published_by) == (
        BOSS.label,
    ) * 4
    assert final["drawn"]["by"] == BOSS.label and final["revealed"]["at"].endswith("Z")
    # what was announced before the draw is exactly what the final publication commits to
    assert final["commitment"] == before["commitment"]
    assert final["commitment_sha256"] == before["commitment_sha256"]

    wire = json.loads(json.dumps(final, ensure_ascii=False))
    result = verify_published(wire)
    assert result.ok, result.problems
    assert draws.verify_draw(db_session=db_session, draw_id=draw.id).ok
    # policy ratios A 3%, B 10%, C 30%, D 70%, rounded up: 1, 2, 3, 3 of 7, 13, 9, 3
    assert [(s.name, s.size, s.n) for s in result.strata] == [
        ("A", 7, 1),
        ("B", 13, 2),
        ("C", 9, 3),
        ("D", 3, 3),
    ]
    for stratum in final["strata"]:
        members = {e.credit_code for e in pop[stratum["name"]]}
        assert set(stratum["selected"]) <= members and set(stratum["population"]) == members
    tasks = db_session.scalars(
        select(InspectionTask).where(InspectionTask.draw_id == draw.id)
    ).all()
    assert {t.enterprise.credit_code for t in tasks} == selected_codes(draw)
    assert all(
        (t.kind, t.item.code, t.department.code, t.announced, t.plan_task_id)
        == ("random", "SAMR-SP-001", "SAMR", False, task.id)
        for t in tasks
    )
    assert len(tasks) == 9

    for path in (("strata", 1, "selected"), ("seed",), ("strata", 0, "population")):
        bad = json.loads(json.dumps(final))
        if path == ("seed",):
            bad["seed"] = ("0" if bad["seed"][0] != "0" else "1") + bad["seed"][1:]
        elif path[2] == "selected":
            stratum = bad["strata"][1]
            stratum["selected"][0] = next(
                c for c in stratum["population"] if c not in stratum["selected"]
            )
        else:
            bad["strata"][0]["population"].append(f.credit_code())
        assert not verify_published(bad).ok


def test_database_tampering_is_detected(db_session):
    population(db_session)
    draw, _ = full_draw(db_session, [spec(db_session).id])
    member = next(m for m in draw.members if m.selected)
    member.selected = False
    db_session.flush()
    result = draws.verify_draw(db_session=db_session, draw_id=draw.id)
    assert not result.ok


def test_counts_and_explicit_strata_are_honoured_exactly(db_session):
    population(db_session, {"A": 10, "B": 10, "C": 10, "D": 10})
    task = spec(db_session, strata={"B": {"count": 4}, "D": {"ratio": 0.25}})
    draw, final = full_draw(db_session, [task.id])
    picked = {s["name"]: len(s["selected"]) for s in final["strata"]}
    assert picked == {"A": 0, "B": 4, "C": 0, "D": 3}
    by_code = {m.credit_code: m.stratum for m in draw.members}
    assert all(by_code[c] == s["name"] for s in final["strata"] for c in s["selected"])


def test_selection_is_the_keyed_hash_ranking(db_session):
    population(db_session)
    draw, _ = full_draw(db_session, [spec(db_session).id])
    for stratum in draw.strata:
        codes = [m.credit_code for m in draw.members if m.stratum == stratum["name"]]
        expected = selection.rank(draw.seed, codes)[: stratum["n"]]
        chosen = sorted(
            (m for m in draw.members if m.selected and m.stratum == stratum["name"]),
            key=lambda m: m.rank,
        )
        assert [m.credit_code for m in chosen] == expected


def test_already_drawn_for_the_same_item_is_excluded(db_session):
    population(db_session, {"B": 10})
    first, _ = full_draw(db_session, [spec(db_session, strata={"B": {"count": 4}}).id])
    drawn = selected_codes(first)
    q2 = spec(
        db_session, period="2027Q2", window=["2027-04-06", "2027-06-30"], strata={"B": {"count": 4}}
    )
    second = draws.commit_draw(
        db_session=db_session, plan_task_ids=[q2.id], actor=BOSS, policy=f.policy()
    )
    excluded = {m.credit_code: m.excluded_reason for m in second.members if m.excluded_reason}
    assert set(excluded) == drawn and all("SAMR-SP-001" in r for r in excluded.values())
    assert second.population_size == 6
    # configurable: the same spec drawn without the exclusion sees everyone
    other_q = spec(
        db_session, period="2027Q3", window=["2027-07-01", "2027-09-30"], strata={"B": {"count": 4}}
    )
    open_draw = draws.commit_draw(
        db_session=db_session,
        plan_task_ids=[other_q.id],
        actor=BOSS,
        policy=f.policy(),
        exclude_drawn_same_item_year=False,
    )
    assert open_draw.population_size == 10
    # another item is another matter
    other_item = spec(
        db_session, period="2027Q4", item="SAMR-SP-002", window=["2027-10-08", "2027-12-31"]
    )
    assert (
        draws.commit_draw(
            db_session=db_session, plan_task_ids=[other_item.id], actor=BOSS, policy=f.policy()
        ).population_size
        == 10
    )


def test_whitelist_and_class_a_follow_policy(db_session):
    population(db_session, {"A": 4, "B": 4})
    white = f.enterprise(db_session, whitelisted=True, risk_class="B")
    # A product-quality item ("other") is a proactive routine check a white-listed
    # enterprise is spared; a food-safety item is one it is not.
    task = spec(db_session, item="SAMR-CP-001")
    draw = draws.commit_draw(
        db_session=db_session, plan_task_ids=[task.id], actor=BOSS, policy=f.policy()
    )
    reasons = {m.credit_code: m.excluded_reason for m in draw.members}
    assert reasons[white.credit_code] == "监管白名单企业" and draw.population_size == 8
    food = spec(db_session, period="2027Q3", window=["2027-07-01", "2027-09-30"])
    food_draw = draws.commit_draw(
        db_session=db_session, plan_task_ids=[food.id], actor=BOSS, policy=f.policy()
    )
    assert white.credit_code in {
        m.credit_code for m in food_draw.members if m.excluded_reason is None
    }
    assert food_draw.population_size == 9
    exempt = f.policy().model_copy(
        update={"sampling": f.policy().sampling.model_copy(update={"class_a_handling": "exempt"})}
    )
    task2 = spec(db_session, period="2027Q2", window=["2027-04-06", "2027-06-30"])
    draw2 = draws.commit_draw(
        db_session=db_session,
        plan_task_ids=[task2.id],
        actor=BOSS,
        policy=exempt,
        exclude_drawn_same_item_year=False,
    )
    # Class A exempt; the white-listed B enterprise stays in this food-safety draw.
    assert draw2.population_size == 5
    excluded = [m for m in draw2.members if m.excluded_reason]
    assert {m.stratum for m in excluded} == {"A"} and len(excluded) == 4
    assert all("A 类" in m.excluded_reason for m in excluded)
    assert [s["size"] for s in draw2.strata] == [0, 5, 0, 0]


def test_redraw_is_a_new_draw_with_a_reason(db_session):
    population(db_session, {"B": 12})
    task = spec(db_session, strata={"B": {"count": 5}})
    first, first_json = full_draw(db_session, [task.id])
    with pytest.raises(Conflict, match="重新抽取"):
        draws.commit_draw(
            db_session=db_session, plan_task_ids=[task.id], actor=BOSS, policy=f.policy()
        )
    with pytest.raises(CheckOnceError, match="理由"):
        draws.redraw(db_session=db_session, draw_id=first.id, reason=" ", actor=BOSS)
    second = draws.redraw(
        db_session=db_session,
        draw_id=first.id,
        reason="抽取后发现总体漏登 3 家企业",
        actor=BOSS,
        policy=f.policy(),
    )
    assert second.supersedes_id == first.id and second.redraw_reason.startswith("抽取后")
    # the first draw's selection does not exclude anyone from its own re-draw
    assert second.population_size == 12
    draws.run_draw(db_session=db_session, draw_id=second.id, actor=BOSS, policy=f.policy())
    old_tasks = db_session.scalars(
        select(InspectionTask).where(InspectionTask.draw_id == first.id)
    ).all()
    assert old_tasks and not any(t.active for t in old_tasks)
    new_tasks = db_session.scalars(
        select(InspectionTask).where(InspectionTask.draw_id == second.id)
    ).all()
    assert len(new_tasks) == 5 and all(t.active for t in new_tasks)
    # nothing of the first draw was overwritten
    db_session.expire_all()
    again = draws.get_draw(db_session=db_session, draw_id=first.id)
    assert (
        draws.published_json(again)["seed"] == first_json["seed"]
        and verify_published(first_json).ok
    )
    assert selected_codes(again) == {c for s in first_json["strata"] for c in s["selected"]}
    with pytest.raises(Conflict, match="已被重新抽取取代"):
        draws.redraw(db_session=db_session, draw_id=first.id, reason="再来一次", actor=BOSS)
    assert db_session.scalar(select(func.count()).select_from(Draw)) == 2
    # reloaded from the database (PostgreSQL hands back aware times), the commitment is the same
    reloaded = draws.published_json(again)
    assert reloaded["commitment_sha256"] == first_json["commitment_sha256"]
    assert verify_published(reloaded).ok


def test_redraw_of_a_redraw_that_never_ran(db_session):
    population(db_session, {"B": 12})
    task = spec(db_session, strata={"B": {"count": 5}})
    first, _ = full_draw(db_session, [task.id])
    second = draws.redraw(
        db_session=db_session, draw_id=first.id, reason="参数有误", actor=BOSS, policy=f.policy()
    )
    third = draws.redraw(
        db_session=db_session,
        draw_id=second.id,
        reason="承诺未按时公示",
        actor=BOSS,
        policy=f.policy(),
    )
    assert third.population_size == 12  # the first draw's selection excludes nobody
    draws.run_draw(db_session=db_session, draw_id=third.id, actor=BOSS, policy=f.policy())
    with pytest.raises(Conflict, match="已被重新抽取取代"):
        draws.run_draw(db_session=db_session, draw_id=second.id, actor=BOSS)
    active = db_session.scalars(select(InspectionTask).where(InspectionTask.active.is_(True))).all()
    assert {t.draw_id for t in active} == {third.id} and len(active) == 5


def test_joint_draw_gives_each_department_a_task_per_enterprise(db_session):
    population(db_session, {"B": 10, "C": 10})
    samr = spec(db_session, "SAMR", strata={"B": {"count": 3}, "C": {"count": 2}})
    health = spec(db_session, "HEALTH", strata={"B": {"count": 3}, "C": {"count": 2}})
    draw, final = full_draw(db_session, [samr.id, health.id])
    assert verify_published(final).ok
    assert [s["department"] for s in final["commitment"]["specs"]] == ["SAMR", "HEALTH"]
    picked = selected_codes(draw)
    assert len(picked) == 5
    tasks = db_session.scalars(
        select(InspectionTask).where(InspectionTask.draw_id == draw.id)
    ).all()
    by_dept = {}
    for task in tasks:
        by_dept.setdefault(task.department.code, set()).add(task.enterprise.credit_code)
    assert by_dept == {"SAMR": picked, "HEALTH": picked}
    assert draws.verify_draw(db_session=db_session, draw_id=draw.id).ok


def test_joint_draw_needs_the_same_scope_and_distinct_departments(db_session):
    population(db_session, {"B": 4})
    samr = spec(db_session, "SAMR")
    health = spec(db_session, "HEALTH", scope={"industries": ["retail"]})
    with pytest.raises(CheckOnceError, match="抽查范围不一致"):
        draws.commit_draw(
            db_session=db_session, plan_task_ids=[samr.id, health.id], actor=BOSS, policy=f.policy()
        )
    samr2 = spec(db_session, "SAMR", period="2027Q2", window=["2027-04-06", "2027-06-30"])
    with pytest.raises(CheckOnceError, match="每个部门只能"):
        draws.commit_draw(
            db_session=db_session, plan_task_ids=[samr.id, samr2.id], actor=BOSS, policy=f.policy()
        )


def test_draws_need_an_approved_random_spec_and_a_coordinator(db_session):
    firm = f.enterprise(db_session)
    draft = f.plan(db_session, [f.random_task()])
    with pytest.raises(Conflict, match="审核通过后"):
        draws.commit_draw(
            db_session=db_session, plan_task_ids=[draft.tasks[0].id], actor=BOSS, policy=f.policy()
        )
    key = f.plan(
        db_session,
        [
            {
                "kind": "key",
                "items": ["SAMR-SP-002"],
                "enterprises": [firm.credit_code],
                "window": ["2027-01-04", "2027-03-31"],
            }
        ],
        state="approved",
    )
    with pytest.raises(CheckOnceError, match="只有双随机抽查任务"):
        draws.commit_draw(
            db_session=db_session, plan_task_ids=[key.tasks[0].id], actor=BOSS, policy=f.policy()
        )
    task = spec(db_session)
    with pytest.raises(PermissionDenied):
        draws.commit_draw(
            db_session=db_session,
            plan_task_ids=[task.id],
            actor=f.bureau(db_session, "SAMR", "李四"),
            policy=f.policy(),
        )
    draw = draws.commit_draw(
        db_session=db_session, plan_task_ids=[task.id], actor=BOSS, policy=f.policy()
    )
    with pytest.raises(Conflict, match="已抽取的才能公开种子"):
        draws.reveal_draw(db_session=db_session, draw_id=draw.id, actor=BOSS)
    with pytest.raises(CheckOnceError, match="不存在"):
        draws.get_draw(db_session=db_session, draw_id=10**9)
    with pytest.raises(CheckOnceError, match="不存在"):
        draws.get_draw(db_session=db_session, draw_id=10**30)
    with pytest.raises(CheckOnceError, match="不存在"):
        draws.commit_draw(db_session=db_session, plan_task_ids=[10**30], actor=BOSS)
