"""The visits jobs on a small published schedule (March 2027, tests/visits/scenario.py):
the missed-visit sweep marks and re-plans, the next-workday job fixes routes, issues codes
and notifies each enterprise once of its announced visits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from checkonce.jobs import metrics
from checkonce.jobs.models import DayRoute, JobRun, Notification, NotifiedVisit
from checkonce.visits import service
from checkonce.visits.codes import verify_inspection_token
from checkonce.visits.models import ScheduleVersion
from checkonce.visits.notice import notice_date
from tests import factories as f
from tests.jobs.conftest import CALENDAR, POLICY, SECRET, at
from tests.visits.scenario import ACTOR, SEED, build, key_plan


def published(session, extra_firms: int = 6, long_window: bool = False) -> ScheduleVersion:
    build(session, extra_firms=extra_firms)
    if long_window:
        # A task free to go anywhere in March: a miss early in the month can be re-placed.
        key_plan(
            session, "FIRE", [("FIRE-001", ("2027-03-01", "2027-03-31"), [f.enterprise(session)])]
        )
    version = service.generate_schedule(
        db_session=session,
        period="2027Q1",
        actor=ACTOR,
        seed=SEED,
        time_limit=5,
        workers=1,
        policy=POLICY,
        calendar=CALENDAR,
    )
    return service.publish_schedule(db_session=session, schedule_id=version.id, actor=ACTOR)


def in_force(session) -> ScheduleVersion:
    return service.published_schedule(db_session=session, period="2027Q1")


def test_missed_sweep_marks_missed_and_replans_the_rest_of_the_windows(db_session, run):
    s = db_session
    v1 = published(s, long_window=True)
    roomy = next(v for v in v1.visits if v.tasks[0].task.window_end.day == 31)
    first = roomy.day
    assert first <= dt.date(2027, 3, 20), "the month-long task lands early enough to move"
    todays = [v for v in v1.visits if v.day == first]
    assert len(todays) >= 2, "another visit on that day is checked in"
    done = next(v for v in todays if v is not roomy)
    done.state = "checked_in"  # the one visit that happened
    later = sorted((v for v in v1.visits if v.day > first), key=lambda v: (v.day, v.code))
    s.flush()
    solves = metrics.SOLVER_RUNS._value.get()

    result = run("missed_visit_sweep", at(f"{first}T19:00"))

    assert result.status == "ok", result.error
    missed = [v for v in todays if v is not done]
    assert result.counts["missed"] == len(missed) and result.counts["replanned_periods"] == 1
    s.expire_all()
    assert {v.code: v.state for v in v1.visits if v.day == first} == {
        **{v.code: "missed" for v in missed},
        done.code: "checked_in",
    }
    assert v1.state == "superseded"
    v2 = in_force(s)
    assert v2.based_on_id == v1.id and v2.created_by == "system:missed_visit_sweep"
    assert v2.violations == 0 and v2.seed != SEED
    assert metrics.SOLVER_RUNS._value.get() == solves + 1
    by_code = {v.code: v for v in v2.visits}
    # The checked-in visit is carried with its state; no missed visit stays in force.
    assert by_code[done.code].state == "checked_in" and by_code[done.code].frozen
    assert all(v.state != "missed" for v in v2.visits)
    # Visits inside the freeze horizon are untouched: same code, day, time and team.
    horizon = CALENDAR.add_workdays(first, 2)
    for old in (v for v in later if v.day <= horizon):
        new = by_code[old.code]
        assert new.frozen and (new.day, new.start, new.end) == (old.day, old.start, old.end)
        assert [m.inspector_id for m in new.team] == [m.inspector_id for m in old.team]
    # Every task of a missed visit is placed again after the horizon, inside its window,
    # or left out with its reason.
    placed = {t.inspection_task_id: v for v in v2.visits for t in v.tasks}
    left_out = {u.inspection_task_id: u.reason for u in v2.unscheduled}
    for visit in missed:
        for link in visit.tasks:
            task = link.task
            if task.id in placed:
                new = placed[task.id]
                assert horizon < new.day and task.window_start <= new.day <= task.window_end
                assert not new.frozen and new.state == "scheduled"
            else:
                assert left_out[task.id]
    assert roomy.tasks[0].inspection_task_id in placed  # the month-long task moved
    # Run again the same evening: nothing left to mark, nothing to re-plan.
    again = run("missed_visit_sweep", at(f"{first}T19:30"))
    assert again.status == "ok" and again.counts["missed"] == 0
    assert again.counts["replanned_periods"] == 0 and in_force(s).id == v2.id


def test_next_workday_fixes_routes_issues_codes_and_notifies_each_enterprise_once(db_session, run):
    s = db_session
    v1 = published(s)
    first = min(v.day for v in v1.visits)
    evening = max(d for d in CALENDAR.workdays(first - dt.timedelta(days=7), first) if d < first)
    target = CALENDAR.add_workdays(evening, 1)
    assert target == first
    # One visit is an unannounced random check: it must never be notified.
    secret_visit = next(v for v in v1.visits if v.day > first)
    secret_visit.announced = False
    s.flush()

    result = run("next_workday", at(f"{evening}T20:00"))

    assert result.status == "ok", result.error
    tomorrow = [v for v in v1.visits if v.day == target]
    team = {m.inspector_id for v in tomorrow for m in v.team}
    routes = list(s.scalars(select(DayRoute).where(DayRoute.day == target)))
    assert {r.inspector_id for r in routes} == team
    assert result.counts["routes"] == len(team)
    assert result.counts["codes"] == sum(len(v.team) for v in tomorrow)
    for route in routes:
        assert [stop["start"] for stop in route.stops] == sorted(
            stop["start"] for stop in route.stops
        )
        for stop in route.stops:
            code = verify_inspection_token(
                db_session=s, secret_key=SECRET, token=stop["inspection_code"]
            )
            assert (code.visit_id, code.inspector_id, code.day) == (
                stop["visit_id"],
                route.inspector_id,
                target,
            )

    ahead = POLICY.notice.announce_workdays_ahead
    due = [
        v
        for v in v1.visits
        if v.announced and v.day >= target and notice_date(CALENDAR, v.day, ahead) <= target
    ]
    assert due, "some announced visits become visible on the target day"
    notes = list(s.scalars(select(Notification).order_by(Notification.enterprise_id)))
    assert sorted(n.enterprise_id for n in notes) == sorted({v.enterprise_id for v in due})
    assert len(notes) == len({n.enterprise_id for n in notes})  # one per enterprise
    assert all(n.status == "sent" and n.channel == "database" for n in notes)
    told = set(s.execute(select(NotifiedVisit.visit_code, NotifiedVisit.visit_day)).all())
    assert told == {(v.code, v.day) for v in due}
    assert (secret_visit.code, secret_visit.day) not in told
    assert result.counts["notices"] == len(notes)

    # The same evening again: routes replaced (not doubled), nobody told twice.
    again = run("next_workday", at(f"{evening}T21:00"))
    assert again.status == "ok" and again.counts["notices"] == 0
    assert len(list(s.scalars(select(DayRoute).where(DayRoute.day == target)))) == len(team)
    assert len(list(s.scalars(select(Notification)))) == len(notes)


def test_visit_jobs_skip_a_holiday_and_run_on_a_make_up_saturday(db_session, run):
    s = db_session
    # 2026-10-01 (Thursday) is National Day; 2026-10-10 (Saturday) is a 调休 workday.
    assert not CALENDAR.is_workday(dt.date(2026, 10, 1))
    assert CALENDAR.is_workday(dt.date(2026, 10, 10))
    for name in ("missed_visit_sweep", "next_workday"):
        holiday = run(name, at("2026-10-01T20:00"))
        assert holiday.status == "skipped" and "不是工作日" in holiday.reason
        assert holiday.counts == {} and holiday.error is None
    saturday = run("missed_visit_sweep", at("2026-10-10T19:00"))
    assert saturday.status == "ok" and saturday.counts["missed"] == 0
    # Friday evening before the make-up Saturday prepares the Saturday.
    friday = run("next_workday", at("2026-10-09T20:00"))
    assert friday.status == "ok" and friday.counts["day"] == "2026-10-10"
    runs = s.scalars(select(JobRun.status).order_by(JobRun.id)).all()
    assert runs == ["skipped", "skipped", "ok", "ok"]


class BrokenGateway:
    """A delivery channel whose gateway is down."""

    name = "sms"

    def deliver(self, notification) -> None:
        raise ConnectionError("SMS gateway unreachable")


def test_a_failing_channel_leaves_the_notice_recorded_as_failed(db_session, run, job_settings):
    s = db_session
    v1 = published(s)
    first = min(v.day for v in v1.visits)
    evening = max(d for d in CALENDAR.workdays(first - dt.timedelta(days=7), first) if d < first)
    settings = job_settings.model_copy(
        update={"notification_channel": "tests.jobs.test_visit_jobs:BrokenGateway"}
    )
    result = run("next_workday", at(f"{evening}T20:00"), settings=settings)
    # The job succeeds (routes and codes are done); each notice keeps its delivery error.
    assert result.status == "ok" and result.counts["notices_failed"] == result.counts["notices"] > 0
    notes = list(s.scalars(select(Notification)))
    assert all(n.status == "failed" and n.channel == "sms" for n in notes)
    assert all("SMS gateway unreachable" in n.error for n in notes)


def test_a_check_in_counts_in_the_metrics(db_session):
    from tests.visits import test_checkin as c

    s = db_session
    firm = f.enterprise(s)
    team = [f.inspector(s, "SAMR"), f.inspector(s, "SAMR")]
    c.visit(s, firm, team)
    planned = metrics.CHECKINS.labels(outcome="planned")._value.get()
    request = c.request(s, firm)
    c.do_check_in(s, team[0], request)
    c.do_check_in(s, team[0], request)  # a phone's retry: replayed, not counted again
    assert metrics.CHECKINS.labels(outcome="planned")._value.get() == planned + 1


def _notice_calendar(tmp_path, extra_holiday: dt.date):
    """The 2027 file replaced by "the State Council notice": official, one more holiday."""
    from checkonce.calendar import WorkCalendar
    from checkonce.config import packaged_data_dir

    text = (packaged_data_dir() / "calendar" / "2027.toml").read_text(encoding="utf-8")
    text = text.replace('status = "provisional"', 'status = "official"')
    text = text.replace(
        "holidays = [\n", f'holidays = [\n  {{date = "{extra_holiday}", name = "补假"}},\n'
    )
    (tmp_path / "2027.toml").write_text(text, encoding="utf-8")
    return WorkCalendar(tmp_path)


def test_version_records_its_calendar_and_warns_when_provisional(db_session):
    v1 = published(db_session)
    (year,) = v1.calendar["years"]
    assert year["year"] == 2027 and year["status"] == "provisional"
    assert year["file"] == "2027.toml" and len(year["sha256"]) == 64
    assert v1.provisional_years == [2027]
    warning = service.provisional_calendar_warning(v1.provisional_years)
    assert "2027" in warning and "暂定" in warning


def test_calendar_recheck_replans_visits_that_fall_on_a_new_holiday(db_session, run, tmp_path):
    s = db_session
    v1 = published(s, long_window=True)
    first = min(v.day for v in v1.visits)
    morning = first - dt.timedelta(days=7)
    # The same calendar: nothing on a non-workday, nothing to do.
    quiet = run("calendar_recheck", at(f"{morning}T06:30"))
    assert quiet.status == "ok", quiet.error
    assert quiet.counts["visits_on_non_workdays"] == [] and quiet.counts["replanned"] == []
    assert quiet.counts["calendar_changed"] == []

    # The notice makes a day with visits, beyond the freeze horizon, a holiday.
    horizon = CALENDAR.add_workdays(morning, 2)
    holiday = min(v.day for v in v1.visits if v.day > horizon)
    hit = sorted(v.code for v in v1.visits if v.day == holiday)
    notice = _notice_calendar(tmp_path, holiday)
    assert not notice.is_workday(holiday) and CALENDAR.is_workday(holiday)

    result = run("calendar_recheck", at(f"{morning}T06:30"), calendar=notice)

    assert result.status == "ok", result.error
    assert result.counts["calendar_changed"] == ["2027Q1"]
    assert sorted(c.split()[1] for c in result.counts["visits_on_non_workdays"]) == hit
    assert result.counts["frozen_on_non_workdays"] == []
    s.expire_all()
    v2 = in_force(s)
    assert v2.id != v1.id and v2.created_by == "system:calendar_recheck"
    assert v2.violations == 0
    assert all(v.day != holiday for v in v2.visits)
    assert v2.calendar["years"][0]["status"] == "official" and v2.provisional_years == []
    # Every task of a moved visit is placed again inside its window, or left out with a reason.
    placed = {t.inspection_task_id: v for v in v2.visits for t in v.tasks}
    left_out = {u.inspection_task_id for u in v2.unscheduled}
    for visit in (v for v in v1.visits if v.day == holiday):
        for link in visit.tasks:
            assert link.inspection_task_id in placed or link.inspection_task_id in left_out
    # Run again: nothing left on a non-workday.
    again = run("calendar_recheck", at(f"{morning}T06:40"), calendar=notice)
    assert again.counts["visits_on_non_workdays"] == [] and in_force(s).id == v2.id
