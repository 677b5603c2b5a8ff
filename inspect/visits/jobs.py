"""Schedule generation as a background job (the coordinator's "generate" button).

`create_job` records a queued ScheduleJob; `run_job` does the work with sessions of its own:
progress is committed in short transactions of its own so the coordinator's page can poll
it, and no transaction stays open while the solver runs (prepare → solve → store).

One generation per period at a time: a second request while one is queued or running is
refused with the running job's number (a partial unique index makes this hold under any
concurrency). A job records the process that runs it (`owner`, "host:pid") and what was
asked (`request`): when CheckOnce starts, `fail_interrupted` marks jobs whose process is gone
as failed ("interrupted"), and `retry_job` starts one again as it was asked.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.auth import access
from checkonce.calendar import WorkCalendar
from checkonce.db import transaction
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.jobs.locks import process_gone
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


ACTIVE_STATES = ("queued", "running")
INTERRUPTED = "排程生成已中断（运行它的进程已结束），可重新发起"


def this_process() -> str:
    """The owner string of jobs this process runs: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def _busy(job: ScheduleJob) -> Conflict:
    return Conflict(
        f"{job.period} 的排程正在生成（任务 {job.id}，{JOB_STATE_NAMES[job.state]}，"
        f"{job.requested_by} 提交，进度 {job.progress:.0%}）；同一期间一次只能生成一个，"
        "请等它完成后再试",
        code="generation_in_progress",
    )


def active_job(db_session: Session, period: str) -> ScheduleJob | None:
    return db_session.scalars(
        select(ScheduleJob).where(
            ScheduleJob.period == period, ScheduleJob.state.in_(ACTIVE_STATES)
        )
    ).first()


def create_job(*, db_session: Session, request: JobRequest, actor: Actor) -> ScheduleJob:
    """Record a queued job after checking the request (bad input fails here, not later).
    Refused (Conflict) while another generation of the period is queued or running."""
    access.require(actor, AuditAction.SCHEDULE_GENERATE)
    period = service.normalize_period(request.period)
    service.check_seed(request.seed)
    job = ScheduleJob(
        period=period,
        state="queued",
        requested_by=actor.label,
        stage="",
        progress=0.0,
        owner=this_process(),
        request=asdict(request),
    )
    # Written first, read only on refusal: the partial unique index decides (on SQLite a
    # transaction that read first would fail at once against a concurrent writer).
    try:
        with db_session.begin_nested():
            db_session.add(job)
            db_session.flush()
    except IntegrityError:
        running = active_job(db_session, period)
        if running is None:
            raise
        raise _busy(running) from None
    return job


def request_of(job: ScheduleJob) -> JobRequest:
    """What a job was asked to do (for a retry)."""
    if not job.request:
        raise CheckOnceError(f"排程任务 {job.id} 没有保存生成参数，不能重试，请重新发起")
    return JobRequest(**job.request)


def retry_job(*, db_session: Session, job_id: int, actor: Actor) -> ScheduleJob:
    """A new queued job asking what a failed one asked."""
    job = get_job(db_session=db_session, job_id=job_id)
    if job.state != "failed":
        raise Conflict(
            f"排程任务 {job.id} 当前为“{JOB_STATE_NAMES[job.state]}”，只有失败的任务可以重试"
        )
    return create_job(db_session=db_session, request=request_of(job), actor=actor)


def fail_interrupted(sessions: SessionMaker) -> list[int]:
    """Mark queued or running jobs whose process is gone as failed ("interrupted"), so the
    period is free again and the job can be retried; returns their ids."""
    with transaction(sessions) as session:
        stale = [
            job
            for job in session.scalars(
                select(ScheduleJob).where(ScheduleJob.state.in_(ACTIVE_STATES))
            )
            if process_gone(job.owner or "")
        ]
        ids = [job.id for job in stale]
        if ids:
            session.execute(
                update(ScheduleJob)
                .where(ScheduleJob.id.in_(ids), ScheduleJob.state.in_(ACTIVE_STATES))
                .values(
                    state="failed",
                    stage="interrupted",
                    message=INTERRUPTED,
                    finished_at=dt.datetime.now(dt.UTC),
                )
            )
    for job_id in ids:
        log.warning("schedule job %s was interrupted: its process is gone", job_id)
    return ids


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
        _update(sessions, job_id, state="running", owner=this_process())
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
