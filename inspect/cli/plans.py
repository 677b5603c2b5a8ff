"""`checkonce plans ...`: import, list, show, validate and move plans through their states."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy.orm import Session

from checkonce.cli.account import UserOption


@contextmanager
def open_session() -> Iterator[Session]:
    """A session on the configured database that commits on success; refuses a database
    that is not migrated to the latest schema (nothing is changed then)."""
    from checkonce.config import get_settings
    from checkonce.db import make_engine, session_scope
    from checkonce.errors import CheckOnceError
    from checkonce.migrations import is_current

    engine = make_engine(get_settings().database_url)
    try:
        if not is_current(engine):
            raise CheckOnceError("数据库结构不是最新版本，请先运行 checkonce db upgrade")
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def _plan_json(path: Path, department: str, period: str, title: str) -> dict:
    """A JSON plan file; the command's department and period must agree with the file's."""
    import json

    from checkonce.errors import CheckOnceError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckOnceError(f"文件不存在：{path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckOnceError(f"{path.name} 不是有效的 JSON：{exc}") from exc
    if isinstance(data, list):
        data = {"tasks": data}
    if not isinstance(data, dict):
        raise CheckOnceError(f"{path.name}：计划应为 JSON 对象或任务列表")
    for key, value in (("department", department), ("period", period)):
        if str(data.setdefault(key, value)).upper() != value.upper():
            raise CheckOnceError(
                f"{path.name} 中的 {key} 为 {data[key]}，与命令给出的 {value} 不一致"
            )
    if title:
        data["title"] = title
    return data


def register(app: typer.Typer) -> None:
    plans_app = typer.Typer(help="检查计划：导入、校验、提交、审核、公开。", no_args_is_help=True)

    @plans_app.command("import")
    def import_(
        path: Path = typer.Argument(..., help="CSV 或 .xlsx 文件，每行一条任务"),
        department: str = typer.Option(..., "--department", "-d", help="部门代码，如 SAMR"),
        period: str = typer.Option(..., "--period", "-p", help="计划期间：2027 或 2027Q1"),
        title: str = typer.Option("", "--title", help="计划名称"),
        user: UserOption = None,
    ) -> None:
        """导入一份计划：CSV、Excel 或 JSON（全部正确才写入，错误逐行列出）。"""
        from checkonce.cli import console
        from checkonce.cli.account import acting_session
        from checkonce.plans.service import create_plan, import_plan_file

        with acting_session(user) as (session, actor):
            if path.suffix.lower() == ".json":
                plan = create_plan(
                    db_session=session,
                    data=_plan_json(path, department, period, title),
                    actor=actor,
                )
            else:
                plan = import_plan_file(
                    db_session=session,
                    path=path,
                    department=department,
                    period=period,
                    actor=actor,
                    title=title,
                )
            console.print(
                f"已导入计划 {plan.id}（{plan.department.short_name} {plan.period} 第 {plan.version} 版，"
                f"{len(plan.tasks)} 条任务，状态：{plan.state_name}）"
            )

    @plans_app.command("list")
    def list_(
        department: str = typer.Option(None, "--department", "-d", help="只看某部门"),
        year: int = typer.Option(None, "--year", help="只看某年度"),
        state: str = typer.Option(None, "--state", help="draft/submitted/approved/published"),
        user: UserOption = None,
    ) -> None:
        """列出计划（执法部门账号只看到本部门的）。"""
        from rich.table import Table

        from checkonce.auth import access
        from checkonce.cli import console
        from checkonce.cli.account import acting_session
        from checkonce.plans.service import list_plans

        with acting_session(user) as (session, actor):
            plans = list_plans(db_session=session, department=department, year=year, state=state)
            plans = [p for p in plans if access.plan_visible_to(p, actor)]
            table = Table("编号", "部门", "期间", "版本", "状态", "任务数", "名称")
            for plan in plans:
                table.add_row(
                    str(plan.id),
                    plan.department.short_name,
                    plan.period,
                    str(plan.version),
                    plan.state_name,
                    str(len(plan.tasks)),
                    plan.title,
                )
            console.print(table if plans else "没有计划")

    @plans_app.command("show")
    def show(plan_id: int = typer.Argument(..., help="计划编号"), user: UserOption = None) -> None:
        """显示计划的任务和操作记录。"""
        from rich.table import Table

        from checkonce.auth import access
        from checkonce.cli import console
        from checkonce.cli.account import acting_session
        from checkonce.plans.models import PLAN_STATE_NAMES, TRIGGER_REASON_NAMES
        from checkonce.plans.scope import describe_scope

        with acting_session(user) as (session, actor):
            plan = access.visible_plan(session, plan_id, actor)
            console.print(
                f"计划 {plan.id}：{plan.title}（{plan.department.name}，{plan.period}，"
                f"第 {plan.version} 版，{plan.state_name}）"
            )
            tasks = Table("序号", "编号", "类型", "事项", "时段", "对象", "说明")
            for task in plan.tasks:
                if task.kind == "random":
                    strata = task.strata or "按政策比例"
                    target = f"{describe_scope(task.scope)}；{strata}"
                elif task.kind == "special":
                    named = f"；指定 {len(task.enterprises)} 家" if task.enterprises else ""
                    target = describe_scope(task.scope) + named
                else:
                    target = "、".join(e.credit_code for e in task.enterprise_list)
                if task.kind == "special":
                    extra = (
                        f"{task.campaign_name}；{task.approver or '—'} {task.approval_date or '—'} "
                        f"{task.approval_document or '—'}"
                    )
                elif task.kind == "triggered":
                    extra = f"{TRIGGER_REASON_NAMES[task.trigger_reason]}，{task.due_workdays} 个工作日内"
                else:
                    extra = task.note
                tasks.add_row(
                    str(task.position),
                    str(task.id),
                    task.kind_name,
                    "、".join(i.code for i in task.item_list),
                    f"{task.window_start}～{task.window_end}",
                    target,
                    extra,
                )
            console.print(tasks)
            events = Table("时间", "操作人", "从", "到", "说明")
            for event in plan.events:
                events.add_row(
                    event.at.strftime("%Y-%m-%d %H:%M:%S"),
                    event.actor,
                    PLAN_STATE_NAMES[event.from_state] if event.from_state else "—",
                    PLAN_STATE_NAMES[event.to_state],
                    event.note,
                )
            console.print(events)

    @plans_app.command("validate")
    def validate(
        plan_id: int = typer.Argument(..., help="计划编号"), user: UserOption = None
    ) -> None:
        """按政策校验计划；有错误时退出码为 1。"""
        from checkonce.auth import access
        from checkonce.cli import console
        from checkonce.cli.account import acting_session
        from checkonce.plans.service import check_plan
        from checkonce.plans.validation import errors_only

        with acting_session(user) as (session, actor):
            access.visible_plan(session, plan_id, actor)
            plan, findings = check_plan(db_session=session, plan_id=plan_id, actor=actor)
            for finding in findings:
                mark = "[red]错误[/red]" if finding.is_error else "[yellow]提示[/yellow]"
                console.print(f"{mark} [{finding.rule}] {finding.message}", highlight=False)
            errors = errors_only(findings)
            if errors:
                console.print(f"计划 {plan.id} 有 {len(errors)} 个错误，不能提交")
                raise typer.Exit(1)
            console.print(f"计划 {plan.id} 校验通过，可以提交")

    def _transition(action: str, plan_id: int, user: str | None, note: str) -> None:
        from checkonce.cli import console
        from checkonce.cli.account import acting_session
        from checkonce.plans import service

        function = {
            "submit": service.submit_plan,
            "approve": service.approve_plan,
            "publish": service.publish_plan,
        }[action]
        with acting_session(user) as (session, actor):
            plan = function(db_session=session, plan_id=plan_id, actor=actor, note=note)
            console.print(
                f"计划 {plan.id} 现为“{plan.state_name}”（操作人 {plan.events[-1].actor}）"
            )

    @plans_app.command("submit")
    def submit(
        plan_id: int = typer.Argument(..., help="计划编号"),
        note: str = typer.Option("", "--note", help="说明"),
        user: UserOption = None,
    ) -> None:
        """提交计划（校验有错误时拒绝）。"""
        _transition("submit", plan_id, user, note)

    @plans_app.command("approve")
    def approve(
        plan_id: int = typer.Argument(..., help="计划编号"),
        note: str = typer.Option("", "--note", help="说明"),
        user: UserOption = None,
    ) -> None:
        """审核通过计划（统筹协调部门）；重点、专项、触发任务随即生成检查任务。"""
        _transition("approve", plan_id, user, note)

    @plans_app.command("publish")
    def publish(
        plan_id: int = typer.Argument(..., help="计划编号"),
        note: str = typer.Option("", "--note", help="说明"),
        user: UserOption = None,
    ) -> None:
        """公开计划（统筹协调部门）。"""
        _transition("publish", plan_id, user, note)

    @plans_app.command("return")
    def return_(
        plan_id: int = typer.Argument(..., help="计划编号"),
        note: str = typer.Option(..., "--note", help="退回理由"),
        user: UserOption = None,
    ) -> None:
        """把已提交的计划退回草稿（统筹协调部门，须写明理由）。"""
        from checkonce.cli import console
        from checkonce.cli.account import acting_session
        from checkonce.plans.service import return_to_draft

        with acting_session(user) as (session, actor):
            plan = return_to_draft(db_session=session, plan_id=plan_id, actor=actor, note=note)
            console.print(f"计划 {plan.id} 已退回草稿")

    app.add_typer(plans_app, name="plans")
