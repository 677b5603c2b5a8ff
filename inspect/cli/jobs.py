"""`checkonce jobs list|run`: see the background jobs and run one by hand.

A run by hand goes through the same path as a scheduled one (lock, run record, workday
rule, logs), recorded with trigger "manual"."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import typer

from checkonce.cli.account import UserOption


def register(app: typer.Typer) -> None:
    jobs_app = typer.Typer(help="后台任务：查看与手动运行。", no_args_is_help=True)

    @jobs_app.command("list")
    def list_jobs() -> None:
        """列出后台任务、运行时间和最近一次运行结果。"""
        from rich.table import Table
        from sqlalchemy import select

        from checkonce.cli import console
        from checkonce.config import get_settings
        from checkonce.db import make_engine, session_scope
        from checkonce.jobs.models import JobRun
        from checkonce.jobs.registry import load_jobs
        from checkonce.migrations import upgrade
        from checkonce.visits.checkin import stored_as_utc

        settings = get_settings()
        zone = zoneinfo.ZoneInfo(settings.timezone)
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        table = Table("任务", "运行时间", "说明", "最近运行", "结果")
        try:
            with session_scope(engine) as session:
                for spec in load_jobs().values():
                    last = session.scalars(
                        select(JobRun)
                        .where(JobRun.name == spec.name)
                        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
                        .limit(1)
                    ).first()
                    table.add_row(
                        spec.name,
                        spec.schedule_text(),
                        spec.description,
                        f"{stored_as_utc(last.started_at).astimezone(zone):%Y-%m-%d %H:%M}"
                        if last
                        else "—",
                        last.status if last else "—",
                    )
        finally:
            engine.dispose()
        console.print(table)

    @jobs_app.command("run")
    def run(
        name: str = typer.Argument(..., help="任务名，见 checkonce jobs list"),
        now: str | None = typer.Option(
            None, help="按此时间运行（ISO 格式，如 2027-03-03T19:00；无时区按辖区时区）"
        ),
        user: UserOption = None,
    ) -> None:
        """立即运行一个后台任务（与定时运行相同：加锁、记录运行结果；系统管理员或协调监督人员）。"""
        from checkonce.auth import access
        from checkonce.cli import console, err_console
        from checkonce.cli.account import acting_session
        from checkonce.config import get_settings
        from checkonce.db import make_engine
        from checkonce.errors import CheckOnceError
        from checkonce.jobs.registry import get_job, run_job
        from checkonce.migrations import upgrade

        moment = None
        if now is not None:
            try:
                moment = dt.datetime.fromisoformat(now)
            except ValueError:
                raise CheckOnceError(
                    f"时间「{now}」无法识别，应为 ISO 格式，如 2027-03-03T19:00"
                ) from None
        settings = get_settings()
        get_job(name)
        upgrade(settings.database_url)
        with acting_session(user) as (_session, actor):
            access.require_role(actor, access.OVERSEERS, "手动运行后台任务")
        engine = make_engine(settings.database_url)
        try:
            result = run_job(
                name,
                engine=engine,
                settings=settings,
                now=moment,
                trigger="manual",
                requested_by=actor,
            )
        finally:
            engine.dispose()
        names = {"ok": "成功", "failed": "失败", "skipped": "跳过"}
        line = f"任务 {name}（运行 {result.id}）：{names.get(result.status, result.status)}"
        if result.reason:
            line += f"，{result.reason}"
        if result.counts:
            line += "，" + "，".join(f"{k}={v}" for k, v in result.counts.items())
        if result.status == "failed":
            err_console.print(line, highlight=False)
            err_console.print((result.error or "").splitlines()[0], highlight=False)
            raise typer.Exit(1)
        console.print(line, highlight=False)

    app.add_typer(jobs_app, name="jobs")
