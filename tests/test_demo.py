"""The whole demo on a small registry: plans filed and validated (one refused and corrected),
joint draws published and independently re-checked, the merged schedule verifier-clean and
no worse than the baselines."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from checkonce.auth.models import User
from checkonce.calendar import WorkCalendar
from checkonce.config import packaged_data_dir
from checkonce.db import session_scope
from checkonce.demo import run_demo
from checkonce.maps.assets import outside_references
from checkonce.policy import load_policy
from checkonce.registry.demo import DemoSizes
from checkonce.registry.service import build_demo
from checkonce.sampling.verify import verify_published
from checkonce.visits.models import ScheduleVersion, Visit

DATA = packaged_data_dir()


@pytest.mark.slow
def test_demo_end_to_end(fresh_engine, tmp_path):
    with session_scope(fresh_engine) as session:
        build_demo(
            db_session=session,
            data_dir=DATA,
            sizes=DemoSizes(1500, 200),
            seed=11,
            as_of=dt.date(2027, 1, 4),
        )
    with session_scope(fresh_engine) as session:
        run = run_demo(
            session=session,
            data_dir=DATA,
            policy=load_policy(DATA / "policy.toml"),
            calendar=WorkCalendar(DATA / "calendar"),
            out=tmp_path,
            seed="5a" * 32,
            time_limit=20,
            workers=1,
            secret_key="demo-test-secret-" + "k" * 32,
        )
    assert run.calendar_note  # 2027 is a provisional calendar year: the demo says so
    assert [dept for dept, _ in run.rejected] == ["CULTURE"]
    assert "check_campaign_approval" in run.rejected[0][1][0]
    assert run.metrics["plans"] == 13
    assert len(run.draws) == 22 and all(d["verified"] for d in run.draws)
    published = json.loads(run.draws[0]["file"].read_text(encoding="utf-8"))
    assert verify_published(published).ok
    m = run.metrics
    assert run.violations == 0
    assert m["tasks"] > 300 and m["scheduled"] >= 0.98 * m["tasks"]
    assert m["lb_visits"] <= m["visits"] < m["tasks"]
    quo = run.baselines["status_quo"]
    assert m["visits"] < quo["visits"]  # merging cuts enterprise entries
    # ... and costs inspectors less than departments alone (one officer per department in a
    # joint visit, each leaving when done; days packed; inspectors kept near home)
    assert m["inspector_days"] < quo["inspector_days"]
    assert m["travel_km"] < quo["travel_km"]
    assert m["inspector_minutes_on_site"] < quo["inspector_minutes_on_site"]
    assert set(run.baselines) == {"status_quo"}
    schedule = json.loads(run.files["schedule"].read_text(encoding="utf-8"))
    assert schedule["schema"] == "checkonce.schedule/2"
    assert all(u["reason"] for u in schedule["unscheduled"])

    # the schedule is in the database, published, with the visits of the file
    with session_scope(fresh_engine) as session:
        version = session.get(ScheduleVersion, run.schedule_id)
        assert version.state == "published" and version.violations == 0
        stored = session.scalar(
            select(func.count()).select_from(Visit).where(Visit.schedule_id == version.id)
        )
        assert stored == len(schedule["visits"]) == m["visits"]
        assert {u.role for u in session.scalars(select(User))} == {
            "admin",
            "coordinator",
            "bureau",
            "inspector",
            "enterprise",
        }
    # the poster scans to the enterprise page
    decoded = zxingcpp.read_barcodes(Image.open(run.files["poster"]))
    assert decoded and decoded[0].text == run.links["enterprise_page"]
    # the maps are written for offline viewing: Leaflet inlined, nothing from the internet
    coverage = run.files["coverage_map"].read_text(encoding="utf-8")
    assert "L.map(" in coverage and outside_references(coverage) == []
    assert 0 < run.metrics["enterprises_visited"] <= run.metrics["enterprises"] == 1500
    assert run.files["route_map"].stat().st_size > 10_000
