"""`checkonce documents ...`: generate a visit's documents, list them, export a PDF, send the
notice through the notification channel, and the enterprises' reschedule requests with the
re-plan that honours them.

Every command runs as the logged-in account (`checkonce login`, `--user`, CHECKONCE_TOKEN),
sees only what checkonce.auth.access lets its role see, and is refused what its web login
would be refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from checkonce.cli.account import UserOption, acting_session

KINDS_HELP = (
    "文书种类：approval 审批表、notice 通知书、onsite_record 现场检查笔录、"
    "result_notice 结果告知书、rectification_order 责令整改通知书"
)


def _base_url() -> str:
    from checkonce.config import get_settings
    from checkonce.errors import CheckOnceError

    url = get_settings().public_url.strip()
    if not url:
        raise CheckOnceError(
            "请设置 CHECKONCE_PUBLIC_URL（文书二维码指向的核验地址，如 https://checkonce.xa.gov.cn）"
        )
    return url


def _jurisdiction():
    from checkonce.calendar import WorkCalendar
    from checkonce.config import get_settings
    from checkonce.policy import load_policy

    folder = get_settings().jurisdiction_dir
    return load_policy(folder / "policy.toml"), WorkCalendar(folder / "calendar")


def _today(text: str | None) -> dt.date:
    from checkonce.errors import CheckOnceError
    from checkonce.visits.service import today_in

    if text is None:
        return today_in(_jurisdiction()[0])
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CheckOnceError(f"日期「{text}」无效：应为 YYYY-MM-DD") from None


def _visible_visit(session, visit_id: int, actor, today: dt.date | None = None):
    from checkonce.auth import access

    policy, calendar = _jurisdiction()
    return access.visible_visit(
        session, visit_id, actor, today=today or _today(None), policy=policy, calendar=calendar
    )


def _visible_document(session, document_id: int, actor, today: dt.date | None = None):
    from checkonce.auth import access

    policy, calendar = _jurisdiction()
    return access.visible_document(
        session, document_id, actor, today=today or _today(None), policy=policy, calendar=calendar
    )


def register(app: typer.Typer) -> None:
    docs_app = typer.Typer(
        help="检查文书：生成、导出、发送；企业改期申请与重排。", no_args_is_help=True
    )

    @docs_app.command("generate")
    def generate(
        visit_id: int = typer.Argument(..., help="检查（visit）编号"),
        kind: str = typer.Option(..., "--kind", "-k", help=KINDS_HELP),
        department: str = typer.Option(None, "--department", help="只生成该部门的（部门代码）"),
        out: Path = typer.Option(None, "--out", "-o", help="同时把 PDF 写到此文件或文件夹"),
        user: UserOption = None,
    ) -> None:
        """根据检查记录生成文书（首次生成时编文号），记入审计日志；业务部门只生成本部门的。"""
        from checkonce.cli import console
        from checkonce.documents import service

        url = _base_url()
        with acting_session(user) as (session, actor):
            _visible_visit(session, visit_id, actor)
            docs = service.generate(
                db_session=session,
                visit_id=visit_id,
                kind=kind,
                actor=actor,
                base_url=url,
                department_code=department,
            )
            for doc in docs:
                console.print(
                    f"{doc.title} {doc.doc_no}（第 {doc.revision} 版）SHA-256 {doc.sha256}",
                    highlight=False,
                )
                if out is not None:
                    target = (
                        out / f"{doc.visit_code}-{doc.kind}-{doc.department.code}.pdf"
                        if out.is_dir()
                        else out
                    )
                    target.write_bytes(service.pdf_bytes(doc))
                    console.print(f"已写出 {target}", highlight=False)

    @docs_app.command("list")
    def list_(
        visit_id: int = typer.Argument(..., help="检查（visit）编号"),
        user: UserOption = None,
    ) -> None:
        """列出一次检查的文书（限本账号可见的检查；企业只见对外文书）。"""
        from rich.table import Table
        from sqlalchemy import select

        from checkonce.auth import access
        from checkonce.cli import console
        from checkonce.documents.models import InspectionDocument

        with acting_session(user) as (session, actor):
            visit = _visible_visit(session, visit_id, actor)
            policy, calendar = _jurisdiction()
            stmt = access.visible_documents(
                select(InspectionDocument).where(InspectionDocument.visit_id == visit.id),
                actor,
                today=_today(None),
                policy=policy,
                calendar=calendar,
            ).order_by(InspectionDocument.kind, InspectionDocument.id)
            table = Table("编号", "文书", "文号", "版本", "签署", "SHA-256")
            for doc in session.scalars(stmt):
                table.add_row(
                    str(doc.id),
                    doc.title,
                    doc.doc_no,
                    str(doc.revision),
                    "已签署" if doc.signed_sha256 else "—",
                    doc.sha256[:16] + "…",
                )
            console.print(table)

    @docs_app.command("export")
    def export(
        document_id: int = typer.Argument(..., help="文书编号"),
        out: Path = typer.Option(..., "--out", "-o", help="输出 PDF 文件"),
        signed: bool = typer.Option(False, "--signed", help="导出签署完毕的版本"),
        user: UserOption = None,
    ) -> None:
        """导出文书 PDF（按登记的 SHA-256 校验；工作人员读取记入审计日志）。"""
        from checkonce.audit.service import record_read
        from checkonce.auth.models import Role
        from checkonce.cli import console
        from checkonce.documents import service

        with acting_session(user) as (session, actor):
            doc = _visible_document(session, document_id, actor)
            data = service.pdf_bytes(doc, signed=signed)
            if actor.role != Role.ENTERPRISE:
                # As on the API: a staff read of the enterprise's records is audited.
                record_read(
                    session,
                    actor=actor,
                    object_type="document",
                    object_id=doc.id,
                    enterprise_id=doc.enterprise_id,
                    detail={"doc_no": doc.doc_no, "signed": signed},
                )
            out.write_bytes(data)
        console.print(f"已写出 {out}", highlight=False)

    @docs_app.command("send")
    def send(
        document_id: int = typer.Argument(..., help="行政检查通知书的文书编号"),
        today: str = typer.Option(None, "--today", help="基准日期 YYYY-MM-DD（默认今天）"),
        user: UserOption = None,
    ) -> None:
        """通过通知渠道向企业发送行政检查通知书（附文书链接）。"""
        from checkonce.cli import console
        from checkonce.config import get_settings
        from checkonce.documents import notices

        policy, calendar = _jurisdiction()
        url, day = _base_url(), _today(today)
        with acting_session(user) as (session, actor):
            doc = _visible_document(session, document_id, actor, day)
            notification = notices.send_notice(
                db_session=session,
                document_id=doc.id,
                actor=actor,
                base_url=url,
                channel_spec=get_settings().notification_channel,
                today=day,
                policy=policy,
                calendar=calendar,
            )
            status, channel = notification.status, notification.channel
        console.print(f"通知已交给渠道 {channel}：{status}", highlight=False)

    @docs_app.command("requests")
    def requests(
        period: str = typer.Option(None, "--period", "-p", help="期间，如 2027Q1"),
        state: str = typer.Option(None, "--state", help="pending、planned、lapsed 或 rejected"),
        user: UserOption = None,
    ) -> None:
        """企业改期申请（协调监督人员、系统管理员）。"""
        from rich.table import Table

        from checkonce.auth import access
        from checkonce.cli import console
        from checkonce.documents import reschedule

        with acting_session(user) as (session, actor):
            access.require_role(actor, access.OVERSEERS, "查看企业改期申请")
            table = Table("编号", "期间", "检查", "企业", "原日期", "申请日期", "状态", "说明")
            for r in reschedule.list_requests(session, period=period, state=state):
                table.add_row(
                    str(r.id),
                    r.period,
                    r.visit_code,
                    r.enterprise.name,
                    r.from_day.isoformat(),
                    f"{r.to_day.isoformat()} {r.start:%H:%M}",
                    r.state_label,
                    r.note or r.reason,
                )
            console.print(table)

    @docs_app.command("replan")
    def replan(
        period: str = typer.Option(..., "--period", "-p", help="期间，如 2027Q1"),
        today: str = typer.Option(None, "--today", help="基准日期 YYYY-MM-DD（默认今天）"),
        user: UserOption = None,
    ) -> None:
        """按企业改期申请重排：其余检查全部不动，生成经独立校验的草稿版本。"""
        replan_requests(period, today, user)

    app.add_typer(docs_app, name="documents")


def replan_requests(period: str, today: str | None, user: str | None = None) -> None:
    """Run the re-plan that honours pending reschedule requests and print its outcome (also
    behind `schedule generate --replan --requests`)."""
    from checkonce.cli import console
    from checkonce.documents import reschedule

    policy, calendar = _jurisdiction()
    day = _today(today)
    with acting_session(user) as (session, actor):
        version = reschedule.replan_with_requests(
            db_session=session,
            period=period.upper(),
            actor=actor,
            today=day,
            policy=policy,
            calendar=calendar,
        )
        number, version_id = version.version, version.id
        violations, moved = version.violations, version.metrics.get("moved_on_request", 0)
        lapsed = [
            f"{r.visit_code}：{r.note}"
            for r in reschedule.list_requests(session, period=version.period, state="lapsed")
        ]
    for line in lapsed:
        console.print(f"已失效 {line}", highlight=False)
    verdict = (
        "独立校验通过"
        if not violations
        else f"[bold red]独立校验发现 {violations} 处违规[/bold red]"
    )
    console.print(
        f"已生成排程 {period.upper()} 第 {number} 版（草稿），版本编号 {version_id}："
        f"按申请改期 {moved} 次，其余检查不变；{verdict}。发布：checkonce schedule publish {version_id}",
        highlight=False,
    )
