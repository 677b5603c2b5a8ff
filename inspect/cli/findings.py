"""`checkonce results ...` (publishing, the credit-disclosure export, overdue results) and
`checkonce fees ...` (checking a charge against the fee catalog, refunds)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from checkonce.cli.account import UserOption, acting_session
from checkonce.cli.plans import open_session


def _day(text: str | None, what: str) -> dt.date | None:
    from checkonce.errors import CheckOnceError

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CheckOnceError(f"{what}「{text}」无效：应为 YYYY-MM-DD") from None


def _jurisdiction():
    from checkonce.calendar import WorkCalendar
    from checkonce.config import get_settings
    from checkonce.policy import load_policy

    folder = get_settings().jurisdiction_dir
    return load_policy(folder / "policy.toml"), WorkCalendar(folder / "calendar")


def _today(text: str | None) -> dt.date:
    from checkonce.visits.service import today_in

    day = _day(text, "日期")
    return day if day is not None else today_in(_jurisdiction()[0])


def register(app: typer.Typer) -> None:
    results_app = typer.Typer(help="检查结果公开（一公开）。", no_args_is_help=True)
    fees_app = typer.Typer(help="涉企收费检查与退费。", no_args_is_help=True)

    @results_app.command("publish")
    def publish(
        ids: list[int] = typer.Argument(None, help="要公开的检查结果编号（不填则按期间批量公开）"),
        period: str = typer.Option(
            None, "--period", help="批量公开该期间全部待公开结果，如 2027Q1"
        ),
        department: str = typer.Option(None, "--department", help="只公开该部门的结果（部门代码）"),
        user: UserOption = None,
    ) -> None:
        """公开检查结果：指定编号，或某期间（某部门）全部待公开的结果。全部成功或全部不变。"""
        from checkonce.cli import console
        from checkonce.errors import CheckOnceError
        from checkonce.findings import service

        if not ids and not period:
            raise CheckOnceError("请给出检查结果编号，或用 --period 指定批量公开的期间")
        if ids and (period or department):
            raise CheckOnceError("编号与 --period/--department 只能二选一")
        with acting_session(user) as (session, actor):
            if not ids:
                ids = [
                    r.id for r in service.unpublished(session, period=period, department=department)
                ]
                if not ids:
                    console.print(f"期间 {period} 没有待公开的检查结果", highlight=False)
                    return
            rows = service.publish_results(db_session=session, result_ids=ids, actor=actor)
        console.print(f"已公开 {len(rows)} 条检查结果", highlight=False)

    @results_app.command("export")
    def export(
        period: str = typer.Option(..., "--period", help="期间，如 2027 或 2027Q1"),
        out: Path = typer.Option(..., "--out", "-o", help="输出 CSV 文件"),
        department: str = typer.Option(None, "--department", help="只导出该部门的结果"),
    ) -> None:
        """导出已公开的检查结果，列为信用信息公示上传所需：统一社会信用代码、企业名称、检查事项、检查部门、检查日期、检查结果。"""
        from checkonce.cli import console
        from checkonce.findings import service

        with open_session() as session:
            text = service.export_csv(session, period=period, department=department)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        rows = text.count("\r\n") - 1
        console.print(f"已写入 {out}（{rows} 条已公开结果）", highlight=False)

    @results_app.command("overdue")
    def overdue(
        today: str = typer.Option(
            None, "--today", help="基准日期 YYYY-MM-DD（默认为辖区当地今天）"
        ),
        user: UserOption = None,
    ) -> None:
        """按部门列出超过公开期限（检查后 20 个工作日）仍未公开或未录入的结果。"""
        from rich.table import Table

        from checkonce.auth import access
        from checkonce.cli import console
        from checkonce.findings import service

        policy, calendar = _jurisdiction()
        day = _today(today)
        with acting_session(user) as (session, actor):
            access.require_role(actor, access.OVERSEERS, "查看逾期未公开的结果")
            rows = service.overdue_results(session, day, calendar=calendar, policy=policy)
        if not rows:
            console.print(f"截至 {day} 没有逾期未公开的检查结果", highlight=False)
            return
        for code, group in service.overdue_by_department(rows).items():
            table = Table(
                "检查编号",
                "任务",
                "检查日期",
                "公开期限",
                "逾期天数",
                "状态",
                title=f"{group[0].department}（{code}）：{len(group)} 条",
            )
            for o in group:
                table.add_row(
                    o.visit_code,
                    str(o.inspection_task_id),
                    str(o.visit_day),
                    str(o.publish_by),
                    str(o.days_overdue),
                    o.status_name,
                )
            console.print(table)

    @fees_app.command("check")
    def check(
        unit: str = typer.Option(..., "--unit", help="收费单位（代码或全称）"),
        item: str = typer.Option(..., "--item", help="收费项目（票据上的名称）"),
        amount: str = typer.Option(..., "--amount", help="金额（元）"),
        date: str = typer.Option(..., "--date", help="收费日期 YYYY-MM-DD"),
        quantity: str = typer.Option(
            "1", "--quantity", help="计费数量；百分比标准时为计费基数（元）"
        ),
    ) -> None:
        """对照涉企收费目录判定一笔收费（不登记），给出判定、应退金额与理由。"""
        from checkonce.cli import console
        from checkonce.findings.fees import service
        from checkonce.findings.fees.models import FEE_VERDICT_NAMES

        charged_on = _day(date, "收费日期")
        assert charged_on is not None
        with open_session() as session:
            verdict = service.check_charge(
                session,
                service.ChargeInput(
                    unit=unit,
                    item=item,
                    amount=amount,
                    charged_on=charged_on,
                    receipt_no="-",
                    quantity=quantity,
                ),
                today=_today(None),
            )
        console.print(
            f"判定：{FEE_VERDICT_NAMES[verdict.verdict]}（{verdict.verdict}）", highlight=False
        )
        console.print(f"规则：{verdict.rule}", highlight=False)
        if verdict.match is not None:
            console.print(
                f"匹配：{verdict.match.entry.code} {verdict.match.entry.item}"
                f"（按「{verdict.match.name}」，相似度 {verdict.match.score:.1f}）",
                highlight=False,
            )
        console.print(f"应退金额：{verdict.refund_due:.2f} 元", highlight=False)
        console.print(f"理由：{verdict.explanation}", highlight=False)

    @fees_app.command("refunds")
    def refunds(
        state: str = typer.Option(
            None, "--state", help="只列出该状态：due 应退 / confirmed 已确认 / refunded 已退还"
        ),
        user: UserOption = None,
    ) -> None:
        """列出退费记录，并按收费单位和区县汇总金额（协调监督人员、系统管理员）。"""
        from rich.table import Table

        from checkonce.auth import access
        from checkonce.cli import console
        from checkonce.findings.fees import service

        with acting_session(user) as (session, actor):
            access.require_role(actor, access.OVERSEERS, "查看退费记录")
            rows = service.list_refunds(session, state=state)
            table = Table(
                "编号",
                "收费单位",
                "企业",
                "金额（元）",
                "状态",
                "应退日期",
                "确认",
                "退还",
                title=f"退费记录：{len(rows)} 条",
            )
            for r in rows:
                table.add_row(
                    str(r.id),
                    r.finding.charging_unit or r.finding.unit_text,
                    r.finding.enterprise.name,
                    f"{r.amount:.2f}",
                    r.state_name,
                    str(r.due_on),
                    str(r.confirmed_on or ""),
                    str(r.refunded_on or ""),
                )
            console.print(table)
            totals = service.refund_totals(session)
        for key, title in (("by_unit", "按收费单位"), ("by_district", "按区县")):
            summary = Table(
                "", "笔数", "应退", "已确认", "已退还", "合计", title=f"{title}汇总（元）"
            )
            for t in totals[key]:
                summary.add_row(
                    t.name,
                    str(t.count),
                    f"{t.due:.2f}",
                    f"{t.confirmed:.2f}",
                    f"{t.refunded:.2f}",
                    f"{t.total:.2f}",
                )
            console.print(summary)

    app.add_typer(results_app, name="results")
    app.add_typer(fees_app, name="fees")
