"""Schedules over the API: generation as a background job with progress, review, publish."""

from __future__ import annotations

import pytest

from checkonce.visits.models import ScheduleJob
from tests.visits.scenario import SEED, build


@pytest.fixture
def world(db_session, users):
    return build(db_session)


def start(client, headers, **body):
    body.setdefault("period", "2027Q1")
    body.setdefault("time_limit", 5)
    return client.post("/api/v1/schedules/jobs", json=body, headers=headers["coordinator"])


def test_generate_as_a_job_then_review_and_publish(client, headers, world, db_session):
    response = start(client, headers)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["state"] == "queued" and job["period"] == "2027Q1"
    assert job["requested_by"] == "coordinator:coord1"

    # the test client runs the background task before returning; the job is finished
    progress = client.get(f"/api/v1/schedules/jobs/{job['id']}", headers=headers["coordinator"])
    assert progress.status_code == 200
    done = progress.json()
    assert done["state"] == "done" and done["stage"] == "done" and done["progress"] == 1.0
    assert done["schedule_id"] and done["finished_at"]
    assert "校验通过" in done["message"]

    listing = client.get(
        "/api/v1/schedules", params={"period": "2027q1"}, headers=headers["coordinator"]
    ).json()
    assert listing["total"] == 1
    (summary,) = listing["items"]
    assert summary["id"] == done["schedule_id"] and summary["state"] == "draft"
    assert summary["visits"] == 4 and summary["unscheduled"] == 0 and summary["seed"] == SEED
    assert summary["metrics"]["lb_visits"] == 4

    detail = client.get(f"/api/v1/schedules/{summary['id']}", headers=headers["admin"]).json()
    assert detail["verifier_report"]["ok"] is True and detail["violations"] == 0
    assert detail["unscheduled_tasks"] == []

    published = client.post(
        f"/api/v1/schedules/{summary['id']}/publish", headers=headers["coordinator"]
    )
    assert published.status_code == 200
    assert published.json()["state"] == "published"
    assert published.json()["published_by"] == "coordinator:coord1"
    again = client.post(
        f"/api/v1/schedules/{summary['id']}/publish", headers=headers["coordinator"]
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    states = client.get(
        "/api/v1/schedules", params={"state": "published"}, headers=headers["coordinator"]
    ).json()
    assert [s["id"] for s in states["items"]] == [summary["id"]]


def test_job_progress_is_recorded_by_stage(client, headers, world, db_session, monkeypatch):
    from checkonce.visits import jobs

    seen = []
    real = jobs._update

    def spy(sessions, job_id, **values):
        seen.append(values.get("stage"))
        real(sessions, job_id, **values)

    monkeypatch.setattr(jobs, "_update", spy)
    job = start(client, headers).json()
    stages = [s for s in seen if s]
    assert stages[0] == "instance" and "draw" in stages and "verify" in stages
    assert "store" in stages
    row = db_session.get(ScheduleJob, job["id"])
    db_session.refresh(row)
    assert row.state == "done" and row.progress == 1.0


def test_a_job_that_cannot_run_fails_with_the_reason(client, headers, world):
    job = start(client, headers, period="2027Q3").json()
    done = client.get(f"/api/v1/schedules/jobs/{job['id']}", headers=headers["coordinator"])
    body = done.json()
    assert body["state"] == "failed" and "没有已批准的检查任务" in body["message"]
    assert body["schedule_id"] is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"period": "2027Q5"}, "period"),
        ({"period": "2027Q1", "seed": "not-hex"}, "seed"),
        ({"period": "2027Q1", "time_limit": 0}, "time_limit"),
        ({"period": "2027Q1", "workers": 99}, "workers"),
    ],
)
def test_bad_job_requests_are_422(client, headers, body, field):
    response = client.post("/api/v1/schedules/jobs", json=body, headers=headers["coordinator"])
    assert response.status_code == 422
    assert field in response.json()["error"]["message"]


@pytest.mark.parametrize("role", ["bureau", "inspector", "enterprise", "admin"])
def test_only_coordinators_generate_and_publish(client, headers, role):
    response = client.post(
        "/api/v1/schedules/jobs", json={"period": "2027Q1"}, headers=headers[role]
    )
    assert response.status_code == 403
    response = client.post("/api/v1/schedules/1/publish", headers=headers[role])
    assert response.status_code == 403


def test_unknown_ids_are_404(client, headers):
    for path in ("/api/v1/schedules/jobs/424242", "/api/v1/schedules/424242"):
        response = client.get(path, headers=headers["coordinator"])
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    huge = client.get("/api/v1/schedules/99999999999999999999", headers=headers["coordinator"])
    assert huge.status_code == 422


def test_replan_job_freezes_around_today(client, headers, world, app, db_session):
    import datetime as dt

    from checkonce.api.routers.schedules import today as today_dependency
    from checkonce.visits.models import ScheduleVersion

    first = start(client, headers).json()
    version_id = client.get(
        f"/api/v1/schedules/jobs/{first['id']}", headers=headers["coordinator"]
    ).json()["schedule_id"]
    client.post(f"/api/v1/schedules/{version_id}/publish", headers=headers["coordinator"])
    app.dependency_overrides[today_dependency] = lambda: dt.date(2027, 3, 10)
    job = start(client, headers, replan=True, freeze_workdays=1).json()
    done = client.get(f"/api/v1/schedules/jobs/{job['id']}", headers=headers["coordinator"])
    body = done.json()
    assert body["state"] == "done", body["message"]
    replanned = db_session.get(ScheduleVersion, body["schedule_id"])
    assert replanned.based_on_id == version_id and replanned.violations == 0
    for visit in replanned.visits:
        # one workday frozen (to 03-11), but announced visits up to Monday 03-15 are
        # already shown to the enterprises (notice 3 workdays ahead): nothing moves
        # before 03-16
        assert visit.frozen or visit.day >= dt.date(2027, 3, 16)
        if dt.date(2027, 3, 10) <= visit.day <= dt.date(2027, 3, 15):
            assert visit.frozen


def test_one_generation_per_period_at_a_time_then_retry_after_interruption(
    client, headers, world, db_session
):
    from checkonce.visits.jobs import fail_interrupted, this_process

    # A generation of 2027Q1 is running in a process that was killed meanwhile.
    host = this_process().rsplit(":", 1)[0]
    stuck = ScheduleJob(
        period="2027Q1",
        state="running",
        requested_by="coordinator:coord1",
        owner=f"{host}:{dead_pid()}",
        request={"period": "2027Q1", "seed": SEED, "time_limit": 5.0, "workers": 1},
    )
    db_session.add(stuck)
    db_session.flush()
    refused = start(client, headers)
    assert refused.status_code == 409
    body = refused.json()["error"]
    assert body["code"] == "generation_in_progress"
    assert f"任务 {stuck.id}" in body["message"] and "一次只能生成一个" in body["message"]
    # CheckOnce starts again: the job whose process is gone is marked interrupted...
    assert fail_interrupted(client.app.state.sessions) == [stuck.id]
    progress = client.get(f"/api/v1/schedules/jobs/{stuck.id}", headers=headers["coordinator"])
    assert progress.json()["state"] == "failed" and "中断" in progress.json()["message"]
    # ... and retried as it was asked.
    retried = client.post(
        f"/api/v1/schedules/jobs/{stuck.id}/retry", headers=headers["coordinator"]
    )
    assert retried.status_code == 202, retried.text
    done = client.get(
        f"/api/v1/schedules/jobs/{retried.json()['id']}", headers=headers["coordinator"]
    ).json()
    assert done["state"] == "done" and done["schedule_id"], done["message"]
    again = client.post(
        f"/api/v1/schedules/jobs/{retried.json()['id']}/retry", headers=headers["coordinator"]
    )
    assert again.status_code == 409  # only a failed job can be retried


def dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
