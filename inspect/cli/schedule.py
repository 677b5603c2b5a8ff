"""`checkonce schedule ...`: generate, publish, list and show merged schedule versions."""

from __future__ import annotations

import typer

from checkonce.cli.account import UserOption, acting_session

METRIC_LABELS = (
    ("tasks", "任务数"),
    ("scheduled", "已排任务"),
    ("unscheduled", "未排任务"),
    ("visits", "入企次数"),
    ("lb_visits", "入企次数下界"),
    ("status_quo_visits", "不合并时的入企次数（每项任务一次）"),
    ("gap", "与下界差距"),
    ("merge_ratio", "入企/任务"),
    ("inspector_days", "人·日"),
    ("inspector_minutes_lb", "人·分钟下界"),
    ("travel_km", "路程（公里）"),
    ("rotation_repeats", "重复派往同一企业"),
    ("workload_cv", "工作量变异系数"),
    ("frozen_visits", "保留不变的检查"),
    ("solve_seconds", "求解用时（秒）"),
)


def _metrics_table(metrics: dict):
    from rich.table import Table

    table = Table("指标", "数值", show_header=True)
    for key, label in METRIC_LABELS:
        if key in metrics and metrics[key] is not None:
            value = metrics[key]
            if key == "gap":
                text = f"{value:.1%}"
            elif isinstance(value, float):
                text = f"{value:,.1f}" if key == "travel_km" else f"{value:.3f}"
            else:
                text = str(value)
            table.add_row(label, text)
    return table


KEY_SOURCE_NAMES = {
    "draws": "由本期已公开的抽取结果推导",
    "experiment": "试验：由 --seed 指定，不能发布",
    "legacy": "推导制度实施前生成",
}


def register(app: typer.Typer) -> None:
    schedule_app = typer.Typer(
        help="合并排程（综合查一次）：生成、发布、查看排程版本。", no_args_is_help=True
    )

    @schedule_app.command("generate")
    def generate(
        period: str = typer.Option(..., "--period", "-p", help="期间：2027、2027Q1 或 2027-03"),
        seed: str = typer.Option(
            None,
            "--seed",
            help="仅供试验：指定执法人员排序密钥（十六进制）；这样生成的版本不能发布。"
            "不填则由本期已公开的抽取结果推导并记录",
        ),
        time_limit: float = typer.Option(60.0, "--time-limit", help="求解时限（秒）"),
        workers: int = typer.Option(1, "--workers", help="求解线程数；需要可复现时用 1"),
        replan: bool = typer.Option(
            False, "--replan", help="重排：保留已签到、已完成和近期检查，只重排其余"
        ),
        freeze_workdays: int = typer.Option(
            None, "--freeze-workdays", help="重排时保留今后几个工作日内的检查（默认 2）"
        ),
        today: str = typer.Option(
            None, "--today", help="重排的基准日期 YYYY-MM-DD（默认为辖区当地今天）"
        ),
        requests: bool = typer.Option(
            False,
            "--requests",
            help="与 --replan 同用：只按企业改期申请移动检查，其余全部不动",
        ),
        user: UserOption = None,
    ) -> None:
        """生成一个排程草稿版本：读取已批准任务与本年历史，求解、独立校验并保存。"""
        import datetime as dt

        if requests:
            from checkonce.cli.documents import replan_requests
            from checkonce.errors import CheckOnceError

            if not replan:
                raise CheckOnceError("--requests 须与 --replan 同用")
            replan_requests(period, today, user)
            return

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from checkonce.cli import console
        from checkonce.errors import CheckOnceError
        from checkonce.visits.service import (
            STAGE_NAMES,
            generate_schedule,
            provisional_calendar_warning,
        )

        try:
            as_of = dt.date.fromisoformat(today) if today else None
        except ValueError:
            raise CheckOnceError(f"日期「{today}」无效：应为 YYYY-MM-DD") from None

        with (
            acting_session(user) as (session, actor),
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            ) as bar,
        ):
            task = bar.add_task("准备", total=1.0)

            def progress(stage: str, fraction: float) -> None:
                bar.update(task, completed=fraction, description=STAGE_NAMES.get(stage, stage))

            version = generate_schedule(
                db_session=session,
                period=period,
                actor=actor,
                seed=seed,
                time_limit=time_limit,
                workers=workers,
                progress=progress,
                replan=replan,
                freeze_workdays=freeze_workdays,
                today=as_of,
            )
            version_id, number = version.id, version.version
            metrics = dict(version.metrics)
            violations = version.violations
            report = version.verifier_report or {}
            seed_used = version.seed
            seed_source, seed_draws = version.seed_source, list(version.seed_draws or [])
            period_name = version.period
            warning = provisional_calendar_warning(version.provisional_years)
        console.print(_metrics_table(metrics))
        if warning:
            console.print(f"[yellow]注意：{warning}[/yellow]", highlight=False)
        if violations:
            console.print(
                f"[bold red]独立校验发现 {violations} 处违规，此版本不能发布：[/bold red]"
            )
            for item in report.get("violations", [])[:20]:
                console.print(f"  [{item['rule']}] {item['message']}", highlight=False)
        else:
            console.print("独立校验通过：没有违反任何硬约束。")
        if seed_source == "experiment":
            console.print(
                f"[bold yellow]排序密钥由 --seed 指定：{seed_used}。这是试验版本，不能发布。[/bold yellow]",
                highlight=False,
            )
        else:
            console.print(
                f"执法人员排序密钥：{seed_used}（由本期已公开的 {len(seed_draws)} 次抽取的最终种子推导）",
                highlight=False,
            )
        console.print(
            f"已生成排程 {period_name} 第 {number} 版（草稿），版本编号 {version_id}；"
            f"发布：checkonce schedule publish {version_id}",
            highlight=False,
        )

    @schedule_app.command("publish")
    def publish(
        schedule_id: int = typer.Argument(..., help="排程版本编号"),
        user: UserOption = None,
    ) -> None:
        """发布草稿版本；原在用版本在同一事务中被取代。"""
        from checkonce.cli import console
        from checkonce.visits.service import provisional_calendar_warning, publish_schedule

        with acting_session(user) as (session, actor):
            version = publish_schedule(db_session=session, schedule_id=schedule_id, actor=actor)
            text = f"排程 {version.period} 第 {version.version} 版（编号 {version.id}）已发布"
            warning = provisional_calendar_warning(version.provisional_years)
        console.print(text, highlight=False)
        if warning:
            console.print(f"[yellow]注意：{warning}[/yellow]", highlight=False)

    @schedule_app.command("verify")
    def verify_version(
        schedule_id: int = typer.Argument(..., help="排程版本编号"),
        user: UserOption = None,
    ) -> None:
        """核对排程版本：独立校验结果，以及执法人员排序密钥是否由本期已公开的抽取结果推导
        （按所依据抽取的最终种子重算）。不一致时退出码为 1。"""
        from checkonce.auth import access
        from checkonce.cli import console
        from checkonce.visits.service import check_version_key, get_schedule

        with acting_session(user) as (session, actor):
            access.require_role(actor, access.OVERSEERS, "查看排程版本")
            version = get_schedule(db_session=session, schedule_id=schedule_id)
            problems = check_version_key(db_session=session, version=version)
            if version.violations:
                problems.append(f"独立校验发现 {version.violations} 处违反硬约束")
            draws = list(version.seed_draws or [])
            name = f"排程 {version.period} 第 {version.version} 版（编号 {version.id}）"
        if problems:
            for problem in problems:
                console.print(f"✗ {problem}", highlight=False)
            raise typer.Exit(1)
        console.print(
            f"✓ {name}：没有违反硬约束；排序密钥与按抽取 {'、'.join(map(str, draws)) or '（本期无抽取）'} "
            "的最终种子重算的结果一致",
            highlight=False,
        )

    @schedule_app.command("list")
    def list_(
        period: str = typer.Option(None, "--period", "-p", help="只看某期间"),
        user: UserOption = None,
    ) -> None:
        """列出排程版本（协调监督人员、系统管理员）。"""
        from rich.table import Table

        from checkonce.auth import access
        from checkonce.cli import console
        from checkonce.visits.service import SCHEDULE_STATE_NAMES, list_schedules

        with acting_session(user) as (session, actor):
            access.require_role(actor, access.OVERSEERS, "查看排程版本")
            versions = list_schedules(db_session=session, period=period)
            table = Table(
                "编号", "期间", "版本", "状态", "入企", "已排/任务", "违规", "基于", "生成人"
            )
            for v in versions:
                m = v.metrics or {}
                table.add_row(
                    str(v.id),
                    v.period,
                    str(v.version),
                    SCHEDULE_STATE_NAMES[v.state],
                    str(m.get("visits", "")),
                    f"{m.get('scheduled', '')}/{m.get('tasks', '')}",
                    str(v.violations),
                    str(v.based_on_id or ""),
                    v.created_by,
                )
            console.print(table if versions else "没有排程版本")

    @schedule_app.command("show")
    def show(
        schedule_id: int = typer.Argument(..., help="排程版本编号"),
        visits: int = typer.Option(20, "--visits", help="列出前几次检查（0 不列）"),
        user: UserOption = None,
    ) -> None:
        """显示一个排程版本：指标、校验结果、未排任务原因和检查列表。"""
        from collections import Counter

        from rich.table import Table

        from checkonce.auth import access
        from checkonce.cli import console
        from checkonce.visits.service import (
            SCHEDULE_STATE_NAMES,
            VISIT_STATE_NAMES,
            get_schedule,
        )

        with acting_session(user) as (session, actor):
            access.require_role(actor, access.OVERSEERS, "查看排程版本")
            version = get_schedule(db_session=session, schedule_id=schedule_id)
            console.print(
                f"排程 {version.period} 第 {version.version} 版（编号 {version.id}），"
                f"{SCHEDULE_STATE_NAMES[version.state]}；生成人 {version.created_by}，"
                f"排序密钥 {version.seed}（{KEY_SOURCE_NAMES[version.seed_source]}）",
                highlight=False,
            )
            console.print(_metrics_table(version.metrics or {}))
            report = version.verifier_report or {}
            if version.violations:
                console.print(f"[bold red]独立校验：{version.violations} 处违规[/bold red]")
                for item in report.get("violations", [])[:20]:
                    console.print(f"  [{item['rule']}] {item['message']}", highlight=False)
            else:
                console.print("独立校验通过。")
            reasons = Counter(u.reason for u in version.unscheduled)
            if reasons:
                console.print(f"未排任务 {len(version.unscheduled)} 项，原因：")
                for reason, n in reasons.most_common(10):
                    console.print(f"  {n} 项：{reason}", highlight=False)
            if visits:
                table = Table("检查", "日期", "时间", "企业", "牵头", "任务", "检查组", "状态")
                for v in version.visits[:visits]:
                    table.add_row(
                        v.code,
                        v.day.isoformat(),
                        f"{v.start:%H:%M}–{v.end:%H:%M}",
                        v.enterprise.name,
                        v.lead_department.short_name,
                        str(len(v.tasks)),
                        "、".join(m.inspector.name for m in v.team),
                        VISIT_STATE_NAMES[v.state] + ("（保留）" if v.frozen else ""),
                    )
                console.print(table)

    app.add_typer(schedule_app, name="schedule")
