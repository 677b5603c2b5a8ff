"""Every validation rule on a tiny hand-made case: one plan that passes it, one that fails it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkonce.plans import validation as v
from tests import factories as f

Q1 = ["2027-01-04", "2027-03-31"]


def run(rule, plan, session, policy=None):
    ctx = v.PlanContext(
        plan=plan, session=session, policy=policy or f.policy(), calendar=f.calendar()
    )
    return rule(ctx)


def key(code, item="SAMR-SP-002", window=Q1, **extra):
    return {"kind": "key", "items": [item], "enterprises": [code], "window": window, **extra}


def special(name="餐饮专项", **extra):
    task = {
        "kind": "special",
        "campaign_name": name,
        "items": ["HEALTH-001"],
        "window": ["2027-03-01", "2027-03-31"],
        "scope": {"industries": ["restaurant"]},
        "approver": "王局长",
        "approval_date": "2027-02-20",
        "approval_document": "市卫健发〔2027〕3号",
    }
    task.update(extra)
    return task


def only(findings, rule):
    assert findings, "expected a finding"
    assert {x.rule for x in findings} == {rule.__name__}
    assert all(x.message and x.ids for x in findings)
    return findings


def test_check_item_on_list(db_session):
    firm = f.enterprise(db_session)
    ok = f.plan(db_session, [key(firm.credit_code, "SAMR-SP-002")])
    assert run(v.check_item_on_list, ok, db_session) == []
    bad = f.plan(db_session, [key(firm.credit_code, "EMB-001")])
    (finding,) = only(run(v.check_item_on_list, bad, db_session), v.check_item_on_list)
    assert finding.ids["item"] == ("EMB-001",) and finding.ids["plan_task"] == (bad.tasks[0].id,)
    assert "不在" in finding.message and "检查事项清单" in finding.message


def test_check_campaign_approval(db_session):
    f.enterprise(db_session, industry_code="retail")
    ok = f.plan(db_session, [special()], dept="HEALTH")
    assert run(v.check_campaign_approval, ok, db_session) == []
    missing = f.plan(db_session, [special(approver="", approval_document="")], dept="HEALTH")
    (finding,) = only(
        run(v.check_campaign_approval, missing, db_session), v.check_campaign_approval
    )
    assert "审批人" in finding.message and "审批文号" in finding.message
    late = f.plan(db_session, [special(approval_date="2027-03-05")], dept="HEALTH")
    (finding,) = only(run(v.check_campaign_approval, late, db_session), v.check_campaign_approval)
    assert "晚于" in finding.message


def test_check_campaign_quota(db_session):
    # HEALTH has the default quota of 2 campaigns a year
    assert f.policy().campaigns.quota_for("HEALTH") == 2
    f.enterprise(db_session)
    f.enterprise(db_session, industry_code="retail")
    ok = f.plan(db_session, [special("一"), special("二")], dept="HEALTH")
    assert run(v.check_campaign_quota, ok, db_session) == []
    bad = f.plan(db_session, [special("一"), special("二"), special("三")], dept="HEALTH")
    (finding,) = only(run(v.check_campaign_quota, bad, db_session), v.check_campaign_quota)
    assert finding.ids["department"] == ("HEALTH",) and "超过年度额度 2" in finding.message
    # campaigns of the bureau's other submitted plans of the year count too
    f.plan(
        db_session,
        [special("二季度专项", window=["2027-04-06", "2027-06-30"], approval_date="2027-04-01")],
        dept="HEALTH",
        period="2027Q2",
        state="submitted",
    )
    bad = f.plan(db_session, [special("一"), special("二")], dept="HEALTH")
    (finding,) = only(run(v.check_campaign_quota, bad, db_session), v.check_campaign_quota)
    assert "共 3 项" in finding.message


def test_check_campaign_scope_not_everyone(db_session):
    firm = f.enterprise(db_session)  # a restaurant
    everyone = f.plan(db_session, [special(scope={})], dept="HEALTH")
    (finding,) = only(
        run(v.check_campaign_scope_not_everyone, everyone, db_session),
        v.check_campaign_scope_not_everyone,
    )
    assert "不得面向全部企业" in finding.message
    # a filter that in fact covers the whole registry is "everyone" too
    all_restaurants = f.plan(db_session, [special()], dept="HEALTH")
    only(
        run(v.check_campaign_scope_not_everyone, all_restaurants, db_session),
        v.check_campaign_scope_not_everyone,
    )
    f.enterprise(db_session, industry_code="retail")
    assert run(v.check_campaign_scope_not_everyone, all_restaurants, db_session) == []
    named = f.plan(db_session, [special(scope={}, enterprises=[firm.credit_code])], dept="HEALTH")
    assert run(v.check_campaign_scope_not_everyone, named, db_session) == []


def test_check_whitelist_routine(db_session):
    white = f.enterprise(db_session, whitelisted=True)
    # CULTURE-001 is an "other" item: not allowed for white-listed enterprises
    bad = f.plan(db_session, [key(white.credit_code, "CULTURE-001")], dept="CULTURE")
    (finding,) = only(run(v.check_whitelist_routine, bad, db_session), v.check_whitelist_routine)
    assert finding.ids["enterprise"] == (white.credit_code,) and "白名单" in finding.message
    food = f.plan(db_session, [key(white.credit_code, "SAMR-SP-002")])
    assert run(v.check_whitelist_routine, food, db_session) == []
    triggered = f.plan(
        db_session,
        [
            {
                "kind": "triggered",
                "item": "CULTURE-001",
                "enterprise": white.credit_code,
                "reason": "complaint",
                "received_on": "2027-01-06",
            }
        ],
        dept="CULTURE",
    )
    assert run(v.check_whitelist_routine, triggered, db_session) == []


def test_check_window_in_period(db_session):
    firm = f.enterprise(db_session)
    ok = f.plan(db_session, [key(firm.credit_code)])
    assert run(v.check_window_in_period, ok, db_session) == []
    bad = f.plan(db_session, [key(firm.credit_code, window=["2027-03-01", "2027-04-10"])])
    (finding,) = only(run(v.check_window_in_period, bad, db_session), v.check_window_in_period)
    assert "超出计划期间 2027Q1" in finding.message


def test_check_window_has_workdays(db_session):
    firm = f.enterprise(db_session)
    ok = f.plan(db_session, [key(firm.credit_code, window=["2027-02-05", "2027-02-09"])])
    assert run(v.check_window_has_workdays, ok, db_session) == []
    # 2027-02-05 is 除夕 (a holiday), 02-06 and 02-07 a weekend of 春节
    bad = f.plan(db_session, [key(firm.credit_code, window=["2027-02-05", "2027-02-07"])])
    (finding,) = only(
        run(v.check_window_has_workdays, bad, db_session), v.check_window_has_workdays
    )
    assert "没有工作日" in finding.message
    # a year nobody knows the calendar of is reported, never guessed
    unknown = f.plan(
        db_session, [key(firm.credit_code, window=["2031-03-03", "2031-03-07"])], period="2031Q1"
    )
    (finding,) = only(
        run(v.check_window_has_workdays, unknown, db_session), v.check_window_has_workdays
    )
    assert "2031" in finding.message


def test_check_triggered_due(db_session):
    firm = f.enterprise(db_session)

    def triggered(due):
        return {
            "kind": "triggered",
            "item": "SAMR-SP-002",
            "enterprise": firm.credit_code,
            "reason": "complaint",
            "received_on": "2027-01-06",
            "due_workdays": due,
        }

    assert run(v.check_triggered_due, f.plan(db_session, [triggered(5)]), db_session) == []
    (finding,) = only(
        run(v.check_triggered_due, f.plan(db_session, [triggered(8)]), db_session),
        v.check_triggered_due,
    )
    assert "5 个工作日" in finding.message


def test_check_enterprise_active(db_session):
    firm = f.enterprise(db_session)
    plan = f.plan(db_session, [key(firm.credit_code)])
    assert run(v.check_enterprise_active, plan, db_session) == []
    firm.active = False
    db_session.flush()
    (finding,) = only(run(v.check_enterprise_active, plan, db_session), v.check_enterprise_active)
    assert finding.ids["enterprise"] == (firm.credit_code,)


def test_min_visits_is_interval_stabbing():
    import datetime as dt

    d = dt.date
    assert v.min_visits([]) == 0
    assert v.min_visits([(d(2027, 1, 4), d(2027, 1, 29)), (d(2027, 1, 20), d(2027, 2, 26))]) == 1
    assert (
        v.min_visits(
            [
                (d(2027, 1, 4), d(2027, 1, 8)),
                (d(2027, 1, 11), d(2027, 1, 15)),
                (d(2027, 1, 6), d(2027, 1, 12)),
            ]
        )
        == 2
    )


def test_check_department_yearly_cap(db_session):
    firm = f.enterprise(db_session)
    months = [
        ["2027-01-04", "2027-01-29"],
        ["2027-02-01", "2027-02-26"],
        ["2027-03-01", "2027-03-31"],
    ]
    items = ["SAMR-SP-001", "SAMR-SP-002", "SAMR-SP-003"]
    overlapping = f.plan(
        db_session,
        [
            key(firm.credit_code, item, window=[m[0], "2027-03-31"])
            for item, m in zip(items, months, strict=True)
        ],
    )
    assert run(v.check_department_yearly_cap, overlapping, db_session) == []
    apart = f.plan(
        db_session,
        [key(firm.credit_code, item, window=m) for item, m in zip(items, months, strict=True)],
    )
    (finding,) = only(
        run(v.check_department_yearly_cap, apart, db_session), v.check_department_yearly_cap
    )
    assert finding.ids["enterprise"] == (firm.credit_code,)
    assert "至少需要 3 次" in finding.message and "上限 2" in finding.message
    # a random stratum drawn in full (ratio 1) is as certain as a named enterprise
    full = f.plan(
        db_session,
        [
            key(firm.credit_code, "SAMR-SP-002", window=months[0]),
            key(firm.credit_code, "SAMR-SP-003", window=months[1]),
            f.random_task(window=months[2], strata={"B": {"ratio": 1}}),
        ],
    )
    only(run(v.check_department_yearly_cap, full, db_session), v.check_department_yearly_cap)
    # triggered checks are exempt from the caps
    exempt = f.plan(
        db_session,
        [
            key(firm.credit_code, "SAMR-SP-002", window=months[0]),
            key(firm.credit_code, "SAMR-SP-003", window=months[1]),
            {
                "kind": "triggered",
                "item": "SAMR-SP-001",
                "enterprise": firm.credit_code,
                "reason": "complaint",
                "received_on": "2027-03-01",
            },
        ],
    )
    assert run(v.check_department_yearly_cap, exempt, db_session) == []


def test_check_enterprise_yearly_cap(db_session):
    firm = f.enterprise(db_session)
    c = firm.credit_code
    f.plan(
        db_session,
        [
            key(c, "EMB-001", window=["2027-03-01", "2027-03-31"]),
            key(c, "EMB-002", window=["2027-04-06", "2027-04-30"]),
        ],
        dept="EMB",
        period="2027",
        state="submitted",
    )
    samr = [
        key(c, "SAMR-SP-001", window=["2027-01-04", "2027-01-29"]),
        key(c, "SAMR-SP-002", window=["2027-02-01", "2027-02-26"]),
    ]
    # HEALTH's window overlaps SAMR's January one: a joint visit counts once, 4 visits suffice
    f.plan(
        db_session,
        [key(c, "HEALTH-001", window=["2027-01-18", "2027-01-22"])],
        dept="HEALTH",
        period="2027",
        state="submitted",
    )
    ok = f.plan(db_session, samr, period="2027")
    assert run(v.check_enterprise_yearly_cap, ok, db_session) == []
    f.plan(
        db_session,
        [key(c, "FIRE-001", window=["2027-05-06", "2027-05-28"])],
        dept="FIRE",
        period="2027",
        state="submitted",
    )
    bad = f.plan(db_session, samr, period="2027")
    (finding,) = only(
        run(v.check_enterprise_yearly_cap, bad, db_session), v.check_enterprise_yearly_cap
    )
    assert "至少需要 5 次" in finding.message and "上限 4" in finding.message
    # drafts of other bureaus do not count
    assert run(v.check_department_yearly_cap, bad, db_session) == []


def test_check_random_population(db_session):
    empty = f.plan(db_session, [f.random_task(scope={"districts": ["610124"]})])
    (finding,) = only(run(v.check_random_population, empty, db_session), v.check_random_population)
    assert finding.severity == "warning"
    f.enterprise(db_session)
    assert run(v.check_random_population, f.plan(db_session, [f.random_task()]), db_session) == []


def test_every_rule_is_tested():
    tested = {name for name in globals() if name.startswith("test_check_")}
    assert {f"test_{rule.__name__}" for rule in v.RULES} == tested


@pytest.mark.parametrize("rule", v.RULES, ids=lambda r: r.__name__)
def test_rules_are_named_check_and_documented(rule):
    assert rule.__name__.startswith("check_") and rule.__doc__


@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 15)).map(lambda t: (t[0], t[0] + t[1])),
        max_size=7,
    )
)
def test_min_visits_matches_brute_force(windows):
    import datetime as dt
    import itertools

    base = dt.date(2027, 1, 1)
    dated = [(base + dt.timedelta(s), base + dt.timedelta(e)) for s, e in windows]
    days = sorted({d for s, e in windows for d in (s, e)})
    best = next(
        (
            k
            for k in range(len(windows) + 1)
            for picks in itertools.combinations(days, k)
            if all(any(s <= p <= e for p in picks) for s, e in windows)
        ),
        None,
    )
    assert v.min_visits(dated) == best
