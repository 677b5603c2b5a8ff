"""`checkonce draw ...`: the public draw ceremony (commit, beacon, run, publish), redraw
requests and their approval, and verification of a published draw."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from checkonce.cli.account import UserOption, acting_session
from checkonce.cli.plans import open_session


def _write_json(data: dict, out: Path | None) -> None:
    from checkonce.cli import console

    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out is None:
        console.print_json(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"已写入 {out}")


def register(app: typer.Typer) -> None:
    draw_app = typer.Typer(
        help="双随机抽取：承诺、录入随机源、抽取（同时公开种子）、公示、重新抽取、验证。",
        no_args_is_help=True,
    )

    @draw_app.command("commit")
    def commit(
        task: list[int] = typer.Option(
            ..., "--task", "-t", help="双随机抽查任务编号；多个部门的任务一起即联合抽取"
        ),
        title: str = typer.Option("", "--title", help="抽取名称"),
        include_drawn: bool = typer.Option(
            False, "--include-drawn", help="不排除本年已被抽中检查同一事项的企业"
        ),
        out: Path = typer.Option(None, "--out", help="把承诺写入此 JSON 文件"),
        user: UserOption = None,
    ) -> None:
        """发起抽取：生成并密封种子，立即公布承诺（种子哈希、总体哈希、分层、随机源及其日期）。"""
        from checkonce.cli import console
        from checkonce.sampling.service import commit_draw, publish_commitment

        with acting_session(user) as (session, actor):
            draw = commit_draw(
                db_session=session,
                plan_task_ids=task,
                actor=actor,
                title=title,
                exclude_drawn_same_item_year=False if include_drawn else None,
            )
            data = publish_commitment(draw)
            message = (
                f"抽取 {draw.id} 的承诺已公布：承诺摘要 {draw.commitment_sha256}\n"
                f"随机源：{draw.beacon_date:%Y-%m-%d} 的{draw.beacon_name}；当日收盘后录入，方可执行。"
                "请记下承诺摘要，日后用 draw verify --commitment 核对。"
            )
        _write_json(data, out)
        console.print(message, highlight=False)

    @draw_app.command("beacon")
    def beacon(
        draw_id: int = typer.Argument(..., help="抽取编号"),
        value: str = typer.Option(..., "--value", help="随机源公布的数值，如上证综指收盘 3352.10"),
        user: UserOption = None,
    ) -> None:
        """录入随机源数值（随机源日当日公布后录入，只能录入一次）。"""
        from checkonce.cli import console
        from checkonce.sampling.service import record_beacon

        with acting_session(user) as (session, actor):
            draw = record_beacon(
                db_session=session,
                draw_id=draw_id,
                value=value,
                actor=actor,
            )
            console.print(
                f"抽取 {draw.id} 的随机源已录入：{draw.beacon_date:%Y-%m-%d} {draw.beacon_name} = "
                f"{draw.beacon_value}",
                highlight=False,
            )

    @draw_app.command("redraw")
    def redraw_(
        draw_id: int = typer.Argument(..., help="要重新抽取的抽取编号"),
        reason: str = typer.Option(..., "--reason", help="重新抽取的理由（公开）"),
        user: UserOption = None,
    ) -> None:
        """申请重新抽取：须经法制审核人员（另一人）批准后才生效。"""
        from checkonce.cli import console
        from checkonce.sampling.service import request_redraw

        with acting_session(user) as (session, actor):
            request = request_redraw(
                db_session=session, draw_id=draw_id, reason=reason, actor=actor
            )
            console.print(
                f"重新抽取申请 {request.id} 已登记（抽取 {draw_id}），待法制审核人员审核",
                highlight=False,
            )

    @draw_app.command("approve")
    def approve(
        request_id: int = typer.Argument(..., help="重新抽取申请编号"),
        note: str = typer.Option(..., "--note", help="审核意见（公开）"),
        out: Path = typer.Option(None, "--out", help="把新抽取的承诺写入此 JSON 文件"),
        user: UserOption = None,
    ) -> None:
        """批准重新抽取（法制审核）：原抽取作废并公开种子，新抽取立即公布承诺。"""
        from checkonce.cli import console
        from checkonce.sampling.service import approve_redraw, publish_commitment

        with acting_session(user) as (session, actor):
            draw = approve_redraw(
                db_session=session,
                request_id=request_id,
                note=note,
                actor=actor,
            )
            data = publish_commitment(draw)
            message = (
                f"已批准：原抽取 {draw.supersedes_id} 已作废并公开种子；新抽取 {draw.id} 的承诺摘要 "
                f"{draw.commitment_sha256}，随机源日 {draw.beacon_date:%Y-%m-%d}"
            )
        _write_json(data, out)
        console.print(message, highlight=False)

    @draw_app.command("reject")
    def reject(
        request_id: int = typer.Argument(..., help="重新抽取申请编号"),
        note: str = typer.Option(..., "--note", help="驳回理由（公开）"),
        user: UserOption = None,
    ) -> None:
        """驳回重新抽取申请（法制审核）：原抽取不变。"""
        from checkonce.cli import console
        from checkonce.sampling.service import reject_redraw

        with acting_session(user) as (session, actor):
            request = reject_redraw(
                db_session=session,
                request_id=request_id,
                note=note,
                actor=actor,
            )
            console.print(f"重新抽取申请 {request.id} 已驳回", highlight=False)

    @draw_app.command("run")
    def run(
        draw_id: int = typer.Argument(..., help="抽取编号"),
        user: UserOption = None,
    ) -> None:
        """执行抽取（随机源录入后），生成检查任务，同时公开种子。"""
        from checkonce.cli import console
        from checkonce.sampling.service import run_draw

        with acting_session(user) as (session, actor):
            draw = run_draw(db_session=session, draw_id=draw_id, actor=actor)
            picked = sum(1 for m in draw.members if m.selected)
            parts = "，".join(f"{s['name']} 类 {s['n']}/{s['size']}" for s in draw.strata)
            console.print(
                f"抽取 {draw.id} 已执行：抽中 {picked} 家（{parts}），"
                f"为 {len(draw.specs)} 个部门各生成 {picked} 条检查任务；种子已公开：{draw.seed}",
                highlight=False,
            )

    @draw_app.command("reveal")
    def reveal(
        draw_id: int = typer.Argument(..., help="抽取编号"),
        user: UserOption = None,
    ) -> None:
        """公开种子（仅用于随机源制度实施前已执行的抽取；现在执行抽取即公开种子）。"""
        from checkonce.cli import console
        from checkonce.sampling.service import reveal_draw

        with acting_session(user) as (session, actor):
            draw = reveal_draw(db_session=session, draw_id=draw_id, actor=actor)
            console.print(f"抽取 {draw.id} 的种子已公开：{draw.seed}", highlight=False)

    @draw_app.command("publish")
    def publish(
        draw_id: int = typer.Argument(..., help="抽取编号"),
        out: Path = typer.Option(None, "--out", help="写入此 JSON 文件（默认打印）"),
        user: UserOption = None,
    ) -> None:
        """公示：执行前输出承诺，执行后公示完整结果（checkonce.draw/2）。"""
        from checkonce.sampling.service import publish_draw

        with acting_session(user) as (session, actor):
            data = publish_draw(db_session=session, draw_id=draw_id, actor=actor)
        _write_json(data, out)

    @draw_app.command("verify")
    def verify(
        draw_id: int = typer.Argument(None, help="抽取编号（核对数据库中的抽取）"),
        file: Path = typer.Option(None, "--file", "-f", help="只凭公示的 JSON 文件核对"),
        commitment: str = typer.Option(
            None,
            "--commitment",
            help="您在抽取发起时记录的承诺摘要（64 位十六进制）；给出后，整体伪造的文件也会被识破",
        ),
    ) -> None:
        """按公开的种子和随机源重算抽取，报告一致或不一致（不一致时退出码为 1）。"""
        from checkonce.cli import console
        from checkonce.errors import CheckOnceError
        from checkonce.sampling.service import verify_draw
        from checkonce.sampling.verify import verify_published

        if (draw_id is None) == (file is None):
            raise CheckOnceError("请给出抽取编号或 --file 公示文件（二选一）")
        if file is not None:
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise CheckOnceError(f"文件不存在：{file}") from None
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise CheckOnceError(f"{file} 不是有效的 JSON：{exc}") from exc
            result = verify_published(data, commitment=commitment)
        else:
            with open_session() as session:
                result = verify_draw(db_session=session, draw_id=draw_id, commitment=commitment)
        for stratum in result.strata:
            mark = "一致" if stratum.matches else "不一致"
            console.print(
                f"  {stratum.name} 类：总体 {stratum.size} 家，应抽 {stratum.n} 家，{mark}"
            )
        if commitment is None:
            console.print(
                "提示：未给出 --commitment，只核对了文件自身是否一致；请用发起时记录的承诺摘要核对。",
                highlight=False,
            )
        console.print(result.summary(), highlight=False)
        if not result.ok:
            raise typer.Exit(1)

    @draw_app.command("list")
    def list_(year: int = typer.Option(None, "--year", help="只看某年度")) -> None:
        """列出抽取（含作废和被取代的抽取）及重新抽取申请。"""
        from rich.table import Table

        from checkonce.cli import console
        from checkonce.sampling.service import list_draws, list_requests

        with open_session() as session:
            draws = list_draws(db_session=session, year=year)
            table = Table(
                "编号", "年度", "状态", "总体", "抽中", "随机源日", "取代", "理由", "名称"
            )
            for draw in draws:
                table.add_row(
                    str(draw.id),
                    str(draw.year),
                    draw.state_name,
                    str(draw.population_size),
                    str(sum(s["n"] for s in draw.strata)),
                    f"{draw.beacon_date:%Y-%m-%d}" if draw.beacon_date else "",
                    str(draw.supersedes_id or ""),
                    draw.redraw_reason or "",
                    draw.title,
                )
            console.print(table if draws else "没有抽取")
            requests = list_requests(db_session=session)
            if requests:
                req = Table("申请", "抽取", "状态", "理由", "申请人", "审核人", "审核意见")
                for r in requests:
                    req.add_row(
                        str(r.id),
                        str(r.draw_id),
                        r.state_name,
                        r.reason,
                        r.requested_by,
                        r.decided_by or "",
                        r.decision_note or "",
                    )
                console.print(req)

    app.add_typer(draw_app, name="draw")
