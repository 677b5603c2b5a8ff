"""The job runner: APScheduler inside the API process, its job store in the same database,
and exactly one runner among all processes.

Every process serving the API has a `JobCoordinator`. At start-up it tries the runner lock
(PostgreSQL advisory lock, or a file lock beside a SQLite database); the process that gets it
starts a BackgroundScheduler and becomes the runner, the others stay on standby and try again
every `retry_seconds`, so when the runner process dies another takes over. The lock is
checked on every retry tick: a runner that lost its lock connection stops its scheduler.

The job store keeps each job's next run time in the database (`apscheduler_jobs`), so a
restart knows what it missed: with `coalesce` and each job's `misfire_grace_time` it runs a
missed job once if the start time is not too long past, and otherwise waits for the next.
A stored job holds only a textual reference to `run_stored_job` and the job's name, never a
pickled function, so stored jobs survive code changes.
"""

from __future__ import annotations

import logging
import threading
from typing import Literal

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine, MetaData

from checkonce.config import Settings
from checkonce.jobs.locks import Lock, make_lock
from checkonce.jobs.models import APSCHEDULER_TABLE
from checkonce.jobs.registry import load_jobs, run_job

log = logging.getLogger("checkonce.jobs.runner")

RUNNER_LOCK = "runner"
Role = Literal["runner", "standby", "stopped"]

# The engine and settings of the runner in this process. APScheduler calls stored jobs by a
# textual reference (module:function) with plain arguments, so the function finds what it
# needs here; it is set only while this process is the runner.
_active: dict[str, object] = {}


def run_stored_job(name: str) -> None:
    """The entry point APScheduler calls for every stored job."""
    engine, settings = _active.get("engine"), _active.get("settings")
    if engine is None or settings is None:
        log.error("job %s fired in a process that is not the runner", name)
        return
    run_job(name, engine=engine, settings=settings, trigger="scheduled")  # type: ignore[arg-type]


def build_scheduler(engine: Engine, settings: Settings) -> BackgroundScheduler:
    """A scheduler whose job store is the `apscheduler_jobs` table of `engine`'s database,
    with every registered job added (or updated) under its name."""
    store = SQLAlchemyJobStore(engine=engine, tablename=APSCHEDULER_TABLE, metadata=MetaData())
    scheduler = BackgroundScheduler(
        jobstores={"default": store},
        # Each job runs one instance at a time (max_instances=1; the per-job lock also keeps a
        # run by hand apart). SQLite has a single writer, so there jobs run one after another.
        executors={
            "default": ThreadPoolExecutor(max_workers=1 if engine.dialect.name == "sqlite" else 4)
        },
        job_defaults={
            # After downtime, run a missed job once, not once per missed start: every job
            # here catches up on the state of the day, so repeating it adds nothing.
            "coalesce": True,
            "max_instances": 1,
        },
        timezone=settings.timezone,
    )
    for spec in load_jobs().values():
        scheduler.add_job(
            "checkonce.jobs.runner:run_stored_job",
            trigger=CronTrigger(timezone=settings.timezone, **spec.trigger),
            args=[spec.name],
            id=spec.name,
            name=spec.name,
            replace_existing=True,
            misfire_grace_time=spec.misfire_grace_time,
        )
    return scheduler


class JobCoordinator:
    """Decides whether this process runs the jobs, and runs them if so."""

    def __init__(self, *, engine: Engine, settings: Settings, retry_seconds: float = 30.0) -> None:
        self.engine = engine
        self.settings = settings
        self.retry_seconds = retry_seconds
        self.scheduler: BackgroundScheduler | None = None
        self._lock: Lock = make_lock(engine, RUNNER_LOCK)
        self._mutex = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False

    @property
    def role(self) -> Role:
        if not self._started:
            return "stopped"
        return "runner" if self.scheduler is not None else "standby"

    def start(self) -> Role:
        """Try to become the runner; keep trying in the background while on standby."""
        with self._mutex:
            self._started = True
            self._stop.clear()
            self._try_promote()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="checkonce-job-coordinator", daemon=True
                )
                self._thread.start()
            return self.role

    def ensure(self) -> Role:
        """The current role, after checking the lock is still ours (or trying to take it)."""
        with self._mutex:
            if not self._started:
                return "stopped"
            if self.scheduler is not None and not self._lock.is_held():
                self._demote("lost the runner lock")
            if self.scheduler is None:
                self._try_promote()
            return self.role

    def shutdown(self) -> None:
        """Stop the scheduler (waiting for running jobs) and release the lock."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.retry_seconds + 5)
        with self._mutex:
            self._demote("shutting down")
            self._started = False

    def _try_promote(self) -> None:
        if self.scheduler is not None or not self._lock.try_acquire():
            return
        try:
            scheduler = build_scheduler(self.engine, self.settings)
            _active.update(engine=self.engine, settings=self.settings)
            scheduler.start()
        except Exception:
            log.exception("could not start the job scheduler")
            _active.clear()
            self._lock.release()
            return
        self.scheduler = scheduler
        log.info(
            "job runner started",
            extra={
                "fields": {"event": "jobs.runner", "jobs": [j.id for j in scheduler.get_jobs()]}
            },
        )

    def _demote(self, why: str) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)
            _active.clear()
            log.info("job runner stopped: %s", why, extra={"fields": {"event": "jobs.standby"}})
        self._lock.release()

    def _watch(self) -> None:
        while not self._stop.wait(self.retry_seconds):
            try:
                self.ensure()
            except Exception:
                log.exception("job coordinator check failed")


def attach_runner(app, *, retry_seconds: float = 30.0) -> JobCoordinator:
    """Give `app` a JobCoordinator started and stopped with the application's lifespan."""
    from contextlib import asynccontextmanager

    coordinator = JobCoordinator(
        engine=app.state.engine, settings=app.state.settings, retry_seconds=retry_seconds
    )
    app.state.job_runner = coordinator
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application):
        coordinator.start()
        try:
            async with previous(application) as state:
                yield state
        finally:
            coordinator.shutdown()

    app.router.lifespan_context = lifespan
    return coordinator
