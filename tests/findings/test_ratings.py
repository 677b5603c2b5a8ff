"""Enterprise ratings: once per completed visit, editable for seven days, and anonymous to
the inspected departments (aggregates only, suppressed under three ratings)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.findings import ratings
from checkonce.findings.models import VisitRating
from tests import factories as f

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def completed_visit(session, firm=None, items=("SAMR-SP-001",)):
    firm = firm or f.enterprise(session)
    team = [f.inspector(session, "SAMR"), f.inspector(session, "SAMR")]
    return firm, f.visit_with_tasks(
        session, firm, team, day=dt.date(2026, 11, 18), items=items, state="completed"
    )


def test_rate_once_and_edit_within_seven_days(db_session):
    firm, visit = completed_visit(db_session)
    first = ratings.rate_visit(
        db_session=db_session,
        enterprise_id=firm.id,
        actor=f.actor("enterprise", enterprise_id=firm.id),
        visit_id=visit.id,
        score=4,
        comment="检查规范",
        now=NOW,
    )
    edited = ratings.rate_visit(
        db_session=db_session,
        enterprise_id=firm.id,
        actor=f.actor("enterprise", enterprise_id=firm.id),
        visit_id=visit.id,
        score=5,
        comment="",
        now=NOW + dt.timedelta(days=6),
    )
    assert edited.id == first.id and (edited.score, edited.comment) == (5, "")
    with pytest.raises(Conflict, match="7 天"):
        ratings.rate_visit(
            db_session=db_session,
            enterprise_id=firm.id,
            actor=f.actor("enterprise", enterprise_id=firm.id),
            visit_id=visit.id,
            score=1,
            now=NOW + dt.timedelta(days=8),
        )
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(VisitRating(visit_id=visit.id, enterprise_id=firm.id, score=3))
        db_session.flush()


def test_only_own_completed_visits(db_session):
    firm, visit = completed_visit(db_session)
    other = f.enterprise(db_session)
    with pytest.raises(NotFound):
        ratings.rate_visit(
            db_session=db_session,
            enterprise_id=other.id,
            actor=f.actor("enterprise", enterprise_id=other.id),
            visit_id=visit.id,
            score=3,
        )
    visit.state = "checked_in"
    with pytest.raises(Conflict, match="完成"):
        ratings.rate_visit(
            db_session=db_session,
            enterprise_id=firm.id,
            actor=f.actor("enterprise", enterprise_id=firm.id),
            visit_id=visit.id,
            score=3,
        )
    visit.state = "completed"
    for bad in (0, 6):
        with pytest.raises(CheckOnceError, match="1 至 5"):
            ratings.rate_visit(
                db_session=db_session,
                enterprise_id=firm.id,
                actor=f.actor("enterprise", enterprise_id=firm.id),
                visit_id=visit.id,
                score=bad,
            )


def test_department_sees_anonymised_aggregates_only(db_session):
    samr = f.department(db_session, "SAMR")
    fire = f.department(db_session, "FIRE")
    scores = [5, 4, 2]
    for score in scores[:2]:
        firm, visit = completed_visit(db_session)
        ratings.rate_visit(
            db_session=db_session,
            enterprise_id=firm.id,
            actor=f.actor("enterprise", enterprise_id=firm.id),
            visit_id=visit.id,
            score=score,
            comment="某某执法人员态度不好",
            now=NOW,
        )
    hidden = ratings.department_summary(db_session, samr.id)
    assert (hidden.count, hidden.suppressed, hidden.mean, hidden.distribution) == (
        2,
        True,
        None,
        None,
    )
    firm, visit = completed_visit(db_session)
    ratings.rate_visit(
        db_session=db_session,
        enterprise_id=firm.id,
        actor=f.actor("enterprise", enterprise_id=firm.id),
        visit_id=visit.id,
        score=scores[2],
        now=NOW,
    )
    shown = ratings.department_summary(db_session, samr.id)
    assert (shown.count, shown.suppressed, shown.mean) == (3, False, pytest.approx(3.67))
    assert shown.distribution == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
    assert set(vars(shown)) == {"department_id", "count", "suppressed", "mean", "distribution"}
    assert ratings.department_summary(db_session, fire.id).count == 0
