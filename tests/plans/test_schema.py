"""Migration 0002_plans_draws: it matches the models, upgrades and downgrades on SQLite and
PostgreSQL, and its constraints refuse bad rows."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError

from checkonce.migrations import alembic_config, current_revision
from checkonce.models import Base
from checkonce.plans.models import InspectionTask, Plan, PlanEvent, PlanTask
from checkonce.sampling.models import Draw
from tests import factories as f

NEW_TABLES = {
    "plan",
    "plan_task",
    "plan_task_item",
    "plan_task_enterprise",
    "plan_event",
    "inspection_task",
    "draw",
    "draw_spec",
    "draw_member",
}


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert set(sa_inspect(engine).get_table_names()) >= NEW_TABLES


def _alembic(engine, action, revision):
    with engine.begin() as conn:
        config = alembic_config(str(engine.url.render_as_string(hide_password=False)))
        config.attributes["connection"] = conn
        getattr(command, action)(config, revision)


def test_downgrade_and_upgrade_again(fresh_engine):
    _alembic(fresh_engine, "downgrade", "0001_registry")
    assert current_revision(fresh_engine) == "0001_registry"
    assert not NEW_TABLES & set(sa_inspect(fresh_engine).get_table_names())
    _alembic(fresh_engine, "upgrade", "head")
    fresh_engine.dispose()
    assert set(sa_inspect(fresh_engine).get_table_names()) >= NEW_TABLES


def rejected(session, build) -> bool:
    try:
        with session.begin_nested():
            build()
            session.flush()
    except IntegrityError:
        return True
    return False


def plan_row(session, **overrides):
    values = {
        "department_id": f.department(session).id,
        "period": "2027Q1",
        "year": 2027,
        "version": 1,
        "title": "t",
        "state": "draft",
        "created_by": "department:甲",
        "source": "",
    }
    values.update(overrides)
    return Plan(**values)


@pytest.mark.parametrize(
    "overrides",
    [
        {"state": "bogus"},
        {"version": 0},
        {"period": "2027-1"},
        {"period": "2028Q1"},
        {"year": 1999},
    ],
    ids=["state", "version", "period", "period-year", "year"],
)
def test_plan_constraints(db_session, overrides):
    assert rejected(db_session, lambda: db_session.add(plan_row(db_session, **overrides)))


def test_one_plan_per_department_period_version(db_session):
    db_session.add(plan_row(db_session))
    db_session.flush()
    assert rejected(db_session, lambda: db_session.add(plan_row(db_session)))
    assert not rejected(db_session, lambda: db_session.add(plan_row(db_session, version=2)))


def test_task_event_and_draw_constraints(db_session):
    plan = plan_row(db_session)
    db_session.add(plan)
    db_session.flush()
    day = dt.date(2027, 1, 4)

    def task(**kw):
        values = {
            "plan_id": plan.id,
            "position": 1,
            "kind": "random",
            "window_start": day,
            "window_end": day,
            "scope": {},
            "note": "",
        }
        values.update(kw)
        return PlanTask(**values)

    assert rejected(db_session, lambda: db_session.add(task(kind="lottery")))
    assert rejected(db_session, lambda: db_session.add(task(window_end=day - dt.timedelta(days=1))))
    assert rejected(db_session, lambda: db_session.add(task(kind="triggered")))
    assert rejected(
        db_session,
        lambda: db_session.add(PlanEvent(plan_id=plan.id, actor="", to_state="draft", note="")),
    )
    assert rejected(
        db_session,
        lambda: db_session.add(PlanEvent(plan_id=plan.id, actor="a:b", to_state="gone", note="")),
    )
    firm = f.enterprise(db_session)
    item_id = f.department(db_session).items[0].id
    t = task()
    db_session.add(t)
    db_session.flush()
    assert rejected(
        db_session,
        lambda: db_session.add(
            InspectionTask(
                plan_id=plan.id,
                plan_task_id=t.id,
                enterprise_id=firm.id,
                department_id=plan.department_id,
                item_id=item_id,
                kind="random",
                year=2027,
                window_start=day,
                window_end=day,
                minutes=30,
                team=2,
            )
        ),
    )  # a random task must come from a draw

    def draw(**kw):
        values = {
            "year": 2027,
            "state": "committed",
            "seed": "0" * 64,
            "seed_sha256": "1" * 64,
            "population_sha256": "2" * 64,
            "population_size": 0,
            "strata": [],
            "scope": {},
            "exclude_drawn_same_item_year": True,
            "whitelist_rule": "",
            "commitment_sha256": "3" * 64,
            "committed_by": "coordinator:甲",
        }
        values.update(kw)
        return Draw(**values)

    assert rejected(db_session, lambda: db_session.add(draw(state="guessed")))
    assert rejected(db_session, lambda: db_session.add(draw(seed="abc")))
    first = draw()
    db_session.add(first)
    db_session.flush()
    assert rejected(db_session, lambda: db_session.add(draw(supersedes_id=first.id)))  # no reason
    assert not rejected(
        db_session, lambda: db_session.add(draw(supersedes_id=first.id, redraw_reason="漏登"))
    )
    assert rejected(
        db_session, lambda: db_session.add(draw(supersedes_id=first.id, redraw_reason="再次"))
    )
