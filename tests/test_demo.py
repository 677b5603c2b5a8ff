"""The whole demo on a small registry: plans filed and validated (one refused and corrected),
joint draws published and independently re-checked, the merged schedule verifier-clean and
no worse than the baselines."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from checkonce.calendar import WorkCalendar
from checkonce.config import packaged_data_dir
from checkonce.db import session_scope
from checkonce.demo import run_demo
from checkonce.policy import load_policy
from checkonce.registry.demo import DemoSizes
from checkonce.registry.service import build_demo
from checkonce.sampling.verify import verify_published

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
    assert m["visits"] <= run.baselines["greedy"]["visits"]
    schedule = json.loads(run.files["schedule"].read_text(encoding="utf-8"))
    assert schedule["schema"] == "checkonce.schedule/1"
    assert all(u["reason"] for u in schedule["unscheduled"])
