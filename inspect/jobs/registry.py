"""The `@scheduled_job` decorator and the one way every job runs (`run_job`).

A domain declares its jobs in its own `scheduled.py`:

    @scheduled_job("missed_visit_sweep", trigger={"hour": 19}, workdays_only=True)
    def missed_visit_sweep(ctx: JobContext) -> dict[str, int]:
        ...

`run_job` is used alike by the scheduler and by `checkonce jobs run`: it takes the job's
lock (a job never runs twice at once), records a `job_run` row, skips non-workdays for jobs
where that is the rule, opens the session the job works in, commits it on success or rolls
it back on failure, logs start and finish as structured JSON with the duration, and counts
the run in the metrics. A job returns counts (what it did), or raises `JobSkipped`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import traceback
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor, Channel
from checkonce.calendar import WorkCalendar
from checkonce.config import Settings
from checkonce.db import session_factory, transaction, utcnow
from checkonce.errors import CheckOnceError, NotFound
from checkonce.jobs import metrics
from checkonce.jobs.locks import make_lock, process_gone
from checkonce.jobs.models import JobRun
from checkonce.policy import Policy

log = logging.getLogger("checkonce.jobs")

# The domain modules whose scheduled.py define jobs; importing them registers the jobs.
JOB_MODULES = (
    "checkonce.visits.scheduled",
    "checkonce.registry.scheduled",
    "checkonce.findings.scheduled",
    "checkonce.audit.scheduled",
)
ERROR_TEXT_LIMIT = 8000


class JobSkipped(Exception):
    """Raised by a job that has nothing to do today; the run is recorded as skipped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class JobContext:
    """What a job gets: its session (committed when it returns), the clock and the rules."""

    db_session: Session
    now: dt.datetime  # timezone-aware
    today: dt.date  # in the jurisdiction's time zone
    settings: Settings
    policy: Policy
    calendar: WorkCalendar
    # Who the job acts as in the audit trail and in history columns: CheckOnce itself.
    actor: Actor = field(default_factory=lambda: Actor.system("job", channel=Channel.JOB))


JobFunction = Callable[[JobContext], dict[str, Any] | None]
SessionMaker = Callable[[], Session]


@dataclass(frozen=True)
class JobSpec:
    """A job as the scheduler and the CLI know it."""

    name: str
    function: JobFunction
    trigger: dict[str, Any]  # APScheduler cron fields, in the jurisdiction's time zone
    description: str
    workdays_only: bool
    # Seconds after a missed start time within which the job still runs (server down).
    misfire_grace_time: int
    extra: dict[str, Any] = field(default_factory=dict)

    def schedule_text(self) -> str:
        """The trigger in words a developer reads in `checkonce jobs list`."""
        fields = " ".join(f"{k}={v}" for k, v in self.trigger.items())
        return f"cron {fields}" + ("（仅工作日）" if self.workdays_only else "")


JOBS: dict[str, JobSpec] = {}


def scheduled_job(
    name: str,
    *,
    trigger: dict[str, Any],
    description: str,
    workdays_only: bool = False,
    misfire_grace_time: int = 3600,
) -> Callable[[JobFunction], JobFunction]:
    """Register `function` as the job `name`, run on the cron `trigger` (APScheduler cron
    fields, jurisdiction time zone). The function itself stays a plain function of a
    JobContext, so tests may also call it directly."""

    def register(function: JobFunction) -> JobFunction:
        existing = JOBS.get(name)
        if existing is not None and existing.function.__qualname__ != function.__qualname__:
            raise ValueError(f"two jobs are named {name!r}")
        JOBS[name] = JobSpec(
            name=name,
            function=function,
            trigger=dict(trigger),
            description=description,
            workdays_only=workdays_only,
            misfire_grace_time=misfire_grace_time,
        )
        return function

    return register


def load_jobs() -> dict[str, JobSpec]:
    """Every job of every domain, by name."""
    import importlib

    for module in JOB_MODULES:
        importlib.import_module(module)
    return dict(sorted(JOBS.items()))


def get_job(name: str) -> JobSpec:
    jobs = load_jobs()
    if name not in jobs:
        raise NotFound(f"没有名为 {name} 的后台任务；可用：{'、'.join(jobs)}")
    return jobs[name]


def local_now(settings: Settings, now: dt.datetime | None = None) -> dt.datetime:
    """`now` (default: the real clock) as an aware time in the jurisdiction's zone."""
    zone = zoneinfo.ZoneInfo(settings.timezone)
    if now is None:
        return dt.datetime.now(zone)
    if now.tzinfo is None:
        now = now.replace(tzinfo=zone)
    return now.astimezone(zone)


def _host() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


INTERRUPTED = "interrupted: the process running the job ended before it finished"


def fail_interrupted_runs(sessions: SessionMaker) -> list[int]:
    """Mark runs left "running" by a process of this host that no longer exists as failed
    ("interrupted"); `checkonce jobs run NAME` (or the next scheduled time) runs them again.
    Runs of other hosts are left alone: their process cannot be checked from here."""
    with transaction(sessions) as session:
        ids = [
            run.id
            for run in session.scalars(select(JobRun).where(JobRun.status == "running"))
            if process_gone(run.host or "")
        ]
        if ids:
            session.execute(
                update(JobRun)
                .where(JobRun.id.in_(ids), JobRun.status == "running")
                .values(
                    status="failed",
                    reason="interrupted",
                    error=INTERRUPTED,
                    finished_at=utcnow(),
                )
            )
    for run_id in ids:
        log.warning("job run %s was interrupted: its process is gone", run_id)
    return ids


def _start_run(sessions: SessionMaker, name: str, trigger: str, now: dt.datetime) -> int:
    with transaction(sessions) as session:
        run = JobRun(
            name=name,
            trigger=trigger,
            for_day=now.date(),  # the job's clock (injectable); started_at is the real time
            status="running",
            host=_host(),
        )
        session.add(run)
        session.flush()
        return run.id


def _finish_run(sessions: SessionMaker, run_id: int, **values: Any) -> JobRun:
    with transaction(sessions) as session:
        # Write before reading: on SQLite a transaction that reads first and then writes
        # fails at once ("database is locked") if another connection wrote in between.
        session.execute(update(JobRun).where(JobRun.id == run_id).values(**values))
        return session.get_one(JobRun, run_id)


def _log(event: str, **fields: Any) -> None:
    log.info(event, extra={"fields": {"event": event, **fields}})


class _ChangeWatch:
    """Notes whether a job's session wrote anything (ORM flushes or INSERT/UPDATE/DELETE
    statements), across the commits the job may make on it."""

    def __init__(self, session: Session) -> None:
        self.changed = False
        event.listen(session, "after_flush", self._flushed)
        event.listen(session, "do_orm_execute", self._executed)

    def _flushed(self, session: Session, _context) -> None:
        if session.new or session.dirty or session.deleted:
            self.changed = True

    def _executed(self, state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            self.changed = True


def _record_run(
    ctx: JobContext,
    *,
    name: str,
    run_id: int,
    trigger: str,
    counts: dict[str, Any],
    requested_by: Actor | None,
) -> None:
    """One audit record for a run that changed data, with the job's counts (and, for a run
    by hand, the account that asked for it: the job itself still acts as CheckOnce)."""
    from checkonce.audit.service import record

    record(
        ctx.db_session,
        actor=ctx.actor,
        action=AuditAction.JOB_RUN,
        object_type="job",
        object_id=name,
        detail={
            "run_id": run_id,
            "trigger": trigger,
            "for_day": ctx.today.isoformat(),
            "counts": counts,
            **({"requested_by": requested_by.label} if requested_by else {}),
        },
    )


def run_job(
    name: str,
    *,
    engine: Engine,
    settings: Settings,
    now: dt.datetime | None = None,
    trigger: str = "manual",
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
    sessions: SessionMaker | None = None,
    requested_by: Actor | None = None,
) -> JobRun:
    """Run the job `name` once and return its recorded run (ok, failed or skipped).

    Never raises for a failing job: the failure is the run's status and error text, the
    job's own work is rolled back, and the next run starts from a clean state. `now` is the
    injectable clock (tests); the real clock otherwise. `sessions` makes the sessions (the
    run record and the job's work each get their own); by default sessions of `engine`."""
    from checkonce.policy import load_policy

    spec = get_job(name)
    clock = time.monotonic()
    moment = local_now(settings, now)
    policy = policy or load_policy(settings.jurisdiction_dir / "policy.toml")
    calendar = calendar or WorkCalendar(settings.jurisdiction_dir / "calendar")
    sessions = sessions or session_factory(engine)

    lock = make_lock(engine, f"job:{name}")
    if not lock.try_acquire():
        run_id = _start_run(sessions, name, trigger, moment)
        run = _finish_run(
            sessions,
            run_id,
            status="skipped",
            reason="该任务正在另一进程中运行",
            finished_at=dt.datetime.now(dt.UTC),
            duration_seconds=0.0,
        )
        metrics.observe_job(name, "skipped", 0.0)
        _log("job.skipped", job=name, run_id=run.id, reason=run.reason)
        return run
    try:
        run_id = _start_run(sessions, name, trigger, moment)
        _log("job.start", job=name, run_id=run_id, trigger=trigger, now=moment.isoformat())
        status, reason, error, counts = "ok", "", None, {}
        try:
            if spec.workdays_only and not calendar.is_workday(moment.date()):
                raise JobSkipped(f"{moment.date().isoformat()} 不是工作日")
            with transaction(sessions) as session:
                watch = _ChangeWatch(session)
                ctx = JobContext(
                    db_session=session,
                    now=moment,
                    today=moment.date(),
                    settings=settings,
                    policy=policy,
                    calendar=calendar,
                    actor=Actor.system(name, channel=Channel.JOB),
                )
                counts = spec.function(ctx) or {}
                if watch.changed:
                    _record_run(
                        ctx,
                        name=name,
                        run_id=run_id,
                        trigger=trigger,
                        counts=counts,
                        requested_by=requested_by,
                    )
        except JobSkipped as skip:
            status, reason = "skipped", skip.reason
        except Exception as exc:
            status = "failed"
            message = exc.message if isinstance(exc, CheckOnceError) else repr(exc)
            error = (message + "\n" + traceback.format_exc())[-ERROR_TEXT_LIMIT:]
            log.exception(
                "job.failed",
                extra={"fields": {"event": "job.failed", "job": name, "run_id": run_id}},
            )
        seconds = round(time.monotonic() - clock, 3)
        run = _finish_run(
            sessions,
            run_id,
            status=status,
            reason=reason,
            error=error,
            counts=counts,
            finished_at=dt.datetime.now(dt.UTC),
            duration_seconds=seconds,
        )
        metrics.observe_job(name, status, seconds)
        _log(
            "job.finish",
            job=name,
            run_id=run_id,
            status=status,
            reason=reason,
            duration_seconds=seconds,
            counts=counts,
        )
        return run
    finally:
        lock.release()
