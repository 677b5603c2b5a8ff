"""Schedule generation as a background job (the coordinator's "generate" button).

`create_job` records a queued ScheduleJob; `run_job` does the work with sessions of its own:
progress is committed in short transactions of its own so the coordinator's page can poll
it, and no transaction stays open while the solver runs (prepare → solve → store).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.auth import access
from checkonce.calendar import WorkCalendar
from checkonce.db import transaction
from checkonce.errors import CheckOnceError, NotFound
from checkonce.policy import Policy
from checkonce.visits import service
from checkonce.visits.models import ScheduleJob

log = logging.getLogger("checkonce.visits.jobs")

SessionMaker = Callable[[], Session]
JOB_STATE_NAMES = {"queued": "排队中", "running": "生成中", "done": "已完成", "failed": "失败"}
# Progress writes are skipped unless the stage changes or this much more is done: a
# solve reports often and each write is a transaction.
MIN_STEP = 0.02


@dataclass(frozen=True)
class JobRequest:
    """What the coordinator asked for."""

    period: str
    seed: str | None = None
    time_limit: float = 60.0
    workers: int = 1
    replan: bool = False
    freeze_workdays: int | None = None


def create_job(*, db_session: Session, request: JobRequest, actor: Actor) -> ScheduleJob:
    """Record a queued job after checking the request (bad input fails here, not later)."""
    access.require(actor, AuditAction.SCHEDULE_GENERATE)
    period = service.normalize_period(request.period)
    service.check_seed(request.seed)
    job = ScheduleJob(
        period=period, state="queued", requested_by=actor.label, stage="", progress=0.0
    )
    db_session.add(job)
    db_session.flush()
    return job


def get_job(*, db_session: Session, job_id: int) -> ScheduleJob:
    job = db_session.get(ScheduleJob, job_id)
    if job is None:
        raise NotFound(f"排程任务 {job_id} 不存在")
    return job


def _update(sessions: SessionMaker, job_id: int, **values: object) -> None:
    session = sessions()
    try:
        job = session.get(ScheduleJob, job_id)
        if job is not None:
            for key, value in values.items():
                setattr(job, key, value)
            session.commit()
    finally:
        session.close()


def run_job(
    *,
    sessions: SessionMaker,
    job_id: int,
    request: JobRequest,
    actor: Actor,
    policy: Policy,
    calendar: WorkCalendar,
    today: dt.date | None = None,
) -> None:
    """Run a queued job to done or failed; never raises (it runs after the response)."""
    last = {"stage": "", "progress": -1.0}

    def progress(stage: str, fraction: float) -> None:
        overall = service.stage_fraction(stage, fraction)
        if stage == last["stage"] and overall - float(last["progress"]) < MIN_STEP:
            return
        last.update(stage=stage, progress=overall)
        _update(
            sessions,
            job_id,
            stage=stage,
            progress=overall,
            message=service.STAGE_NAMES.get(stage, stage),
        )

    try:
        _update(sessions, job_id, state="running")
        progress("instance", 0.0)
        session = sessions()
        try:
            prep = service.prepare_generation(
                db_session=session,
                period=request.period,
                actor=actor,
                seed=request.seed,
                replan=request.replan,
                freeze_workdays=request.freeze_workdays,
                today=today,
                policy=policy,
                calendar=calendar,
            )
        finally:
            session.rollback()
            session.close()
        outcome = service.solve_prepared(
            prep, time_limit=request.time_limit, workers=request.workers, progress=progress
        )
        progress("store", 0.0)
        with transaction(sessions) as session:
            version = service.store_generation(db_session=session, prep=prep, outcome=outcome)
            job = session.get(ScheduleJob, job_id)
            if job is not None:
                job.state = "done"
                job.stage = "done"
                job.progress = 1.0
                job.schedule_id = version.id
                job.finished_at = dt.datetime.now(dt.UTC)
                clean = "校验通过" if outcome.violations == 0 else f"{outcome.violations} 处违规"
                job.message = (
                    f"已生成 {version.period} 第 {version.version} 版：{len(version.visits)} 次检查，"
                    f"{len(version.unscheduled)} 项未排，{clean}"
                )
    except CheckOnceError as exc:
        _update(
            sessions,
            job_id,
            state="failed",
            message=exc.message,
            finished_at=dt.datetime.now(dt.UTC),
        )
    except Exception:
        log.exception("schedule job %s failed", job_id)
        _update(
            sessions,
            job_id,
            state="failed",
            message="生成排程时发生内部错误，请联系管理员查看日志",
            finished_at=dt.datetime.now(dt.UTC),
        )
