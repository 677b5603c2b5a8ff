"""`checkonce audit verify|export|checkpoint|show`: check the audit trail, archive it, publish
a checkpoint by hand, and print one enterprise's timeline.

`verify` and `export` only read: whoever can open the database may run them (an auditor with
a read-only database account, or with a copy of the file), no CheckOnce account needed.
`checkpoint` and `show` act as a logged-in coordinator or administrator (`checkonce login`,
`--user` or CHECKONCE_TOKEN) and write one audit record each (the checkpoint, and the look
at an enterprise's records)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy.orm import Session

from checkonce.cli.account import UserOption

CHECKPOINT_FORMAT = re.compile(r"^(\d{1,12}):([0-9A-Fa-f]{64})$")


@contextmanager
def read_session() -> Iterator[Session]:
    """A session that only reads (always rolled back), on a database at the latest schema."""
    from checkonce.config import get_settings
    from checkonce.db import make_engine, session_factory
    from checkonce.errors import CheckOnceError
    from checkonce.migrations import is_current

    engine = make_engine(get_settings().database_url)
    try:
        if not is_current(engine):
            raise CheckOnceError("数据库结构不是最新版本，请先运行 checkonce db upgrade")
        session = session_factory(engine)()
        try:
            yield session
        finally:
            session.rollback()
            session.close()
    finally:
        engine.dispose()


def parse_checkpoint(text: str) -> tuple[int, str]:
    """SEQ:HASH as an outsider wrote it down."""
    from checkonce.errors import CheckOnceError

    match = CHECKPOINT_FORMAT.match(text.strip())
    if match is None:
        raise CheckOnceError(
            f"检查点「{text}」格式有误：应为 序号:哈希，如 1024:后接 64 位十六进制哈希"
        )
    return int(match.group(1)), match.group(2).lower()


def _day(text: str, option: str) -> dt.date:
    from checkonce.errors import CheckOnceError

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CheckOnceError(
            f"{option}「{text}」不是有效日期，应为 年-月-日，如 2027-03-01"
        ) from None


def local_day_start(day: dt.date) -> dt.datetime:
    """Midnight of `day` in the jurisdiction's time zone, as an aware moment."""
    from zoneinfo import ZoneInfo

    from checkonce.policy import jurisdiction_policy

    zone = ZoneInfo(jurisdiction_policy().jurisdiction.timezone)
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


def register(app: typer.Typer) -> None:
    audit_app = typer.Typer(
        help="审计：核验审计链、导出归档、公布检查点、查看企业全程记录。", no_args_is_help=True
    )

    @audit_app.command("verify")
    def verify(
        checkpoint: list[str] = typer.Option(
            [], "--checkpoint", help="自己保存的检查点 序号:哈希（可多次给出）"
        ),
    ) -> None:
        """重算整条审计链，并与已公布的检查点核对；发现问题时指出第一条出问题的记录并以 1 退出。"""
        from checkonce.audit.actions import AuditAction
        from checkonce.audit.models import AuditRecord
        from checkonce.audit.service import describe_break, local_moment
        from checkonce.audit.service import verify as verify_chain
        from checkonce.cli import console, err_console

        kept = [parse_checkpoint(c) for c in checkpoint]
        with read_session() as session:
            report = verify_chain(session, extra_checkpoints=kept)
            if report.broken is not None:
                err_console.print(
                    f"审计链验证失败：{describe_break(report.broken)}",
                    highlight=False,
                    soft_wrap=True,
                )
                err_console.print(f"（{report.broken.reason}）", highlight=False, soft_wrap=True)
                err_console.print(
                    f"在此之前的 {report.records} 条记录完好。", highlight=False, soft_wrap=True
                )
                raise typer.Exit(1)
            last = session.get(AuditRecord, report.head_seq) if report.head_seq else None
            when = ""
            if last is not None:
                label = AuditAction(last.action).label
                when = f"，最后一条 {local_moment(last.at):%Y-%m-%d %H:%M}（{label}）"
        console.print(
            f"审计链验证通过：{report.records} 条记录{when}，"
            f"链头 #{report.head_seq} {report.head_hash}，核对检查点 {report.checkpoints} 个",
            highlight=False,
            soft_wrap=True,
        )

    @audit_app.command("export")
    def export(
        date_from: str = typer.Option(None, "--from", help="起始日期（含），如 2027-01-01"),
        date_to: str = typer.Option(None, "--to", help="截止日期（含），如 2027-12-31"),
        out: Path = typer.Option(..., "--out", help="写入的文件（JSON Lines）"),
    ) -> None:
        """把一段时间的审计记录导出为文件（含接续前一条记录的哈希和期间内的检查点），
        可用独立脚本 chain.py 在不安装 CheckOnce 的情况下核验。"""
        from checkonce.audit import chain
        from checkonce.audit.service import export as export_trail
        from checkonce.cli import console
        from checkonce.errors import CheckOnceError

        start = local_day_start(_day(date_from, "--from")) if date_from else None
        end = local_day_start(_day(date_to, "--to") + dt.timedelta(days=1)) if date_to else None
        if start is not None and end is not None and end <= start:
            raise CheckOnceError("--to 不能早于 --from")
        with read_session() as session:
            count = export_trail(session, out, start=start, end=end)
        console.print(f"已导出 {count} 条审计记录到 {out}", highlight=False, soft_wrap=True)
        console.print(
            f"核验（只需 Python 标准库）：python3 {Path(chain.__file__)} {out}",
            highlight=False,
            soft_wrap=True,
        )

    @audit_app.command("checkpoint")
    def checkpoint_(user: UserOption = None) -> None:
        """立即公布一个检查点（当前链头的序号与哈希），与每日定时任务相同（协调人员或管理员）。"""
        from checkonce.audit.service import publish_checkpoint
        from checkonce.auth.access import AUDIT_READERS, require_role
        from checkonce.cli import console
        from checkonce.cli.account import acting_session

        with acting_session(user) as (session, actor):
            require_role(actor, AUDIT_READERS, "公布审计链检查点")
            published = publish_checkpoint(session, actor=actor)
            seq, hex_hash = published.seq, published.hash
        console.print(f"已公布检查点：{seq}:{hex_hash}", highlight=False, soft_wrap=True)

    @audit_app.command("show")
    def show(
        enterprise: str = typer.Option(..., "--enterprise", "-e", help="统一社会信用代码"),
        user: UserOption = None,
    ) -> None:
        """一家企业跨部门的全程记录：点名它的计划、抽中它的抽取、检查、入企签到、结果、
        收费核查、企业反映，以及谁查阅过它的信息（本次查阅也记入审计；协调人员或管理员）。"""
        from rich.table import Table

        from checkonce.audit.service import record_read
        from checkonce.audit.timeline import by_kind, enterprise_timeline
        from checkonce.auth.access import AUDIT_READERS, require_role
        from checkonce.cli import console
        from checkonce.cli.account import acting_session

        with acting_session(user) as (session, actor):
            require_role(actor, AUDIT_READERS, "查看企业全程记录")
            timeline = enterprise_timeline(session, credit_code=enterprise)
            firm = timeline.enterprise
            record_read(
                session,
                actor=actor,
                object_type="timeline",
                object_id=firm.credit_code,
                enterprise_id=firm.id,
                detail={"events": len(timeline.events)},
            )
            title = f"{firm.name}（{firm.credit_code}）全程记录"
            table = Table("时间", "类别", "部门", "事项", "人员", title=title)
            for event in timeline.events:
                table.add_row(
                    f"{event.at:%Y-%m-%d %H:%M}",
                    event.kind.label,
                    event.department,
                    event.what,
                    event.who,
                )
            counts = by_kind(timeline)
        console.print(table if timeline.events else f"{title}：暂无记录")
        summary = "，".join(f"{kind.label} {n}" for kind, n in counts.items())
        console.print(
            f"共 {len(timeline.events)} 条：{summary or '无'}", highlight=False, soft_wrap=True
        )

    app.add_typer(audit_app, name="audit")
