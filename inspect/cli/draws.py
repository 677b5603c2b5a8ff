"""`checkonce draw ...`: commit, run, reveal, publish and verify double-random draws."""

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
        help="双随机抽取：承诺、抽取、公开种子、公示、验证。", no_args_is_help=True
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
        """发起抽取：生成种子并公布承诺（种子哈希、总体哈希、分层与数量）。"""
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
        _write_json(data, out)

    @draw_app.command("redraw")
    def redraw_(
        draw_id: int = typer.Argument(..., help="被取代的抽取编号"),
        reason: str = typer.Option(..., "--reason", help="重新抽取的理由（记录在案）"),
        out: Path = typer.Option(None, "--out", help="把新承诺写入此 JSON 文件"),
        user: UserOption = None,
    ) -> None:
        """重新抽取：新建一次抽取取代原抽取，原记录保留。"""
        from checkonce.sampling.service import publish_commitment, redraw

        with acting_session(user) as (session, actor):
            draw = redraw(db_session=session, draw_id=draw_id, reason=reason, actor=actor)
            data = publish_commitment(draw)
        _write_json(data, out)

    @draw_app.command("run")
    def run(
        draw_id: int = typer.Argument(..., help="抽取编号"),
        user: UserOption = None,
    ) -> None:
        """执行抽取，生成检查任务（种子暂不公开）。"""
        from checkonce.cli import console
        from checkonce.sampling.service import run_draw

        with acting_session(user) as (session, actor):
            draw = run_draw(db_session=session, draw_id=draw_id, actor=actor)
            picked = sum(1 for m in draw.members if m.selected)
            parts = "，".join(f"{s['name']} 类 {s['n']}/{s['size']}" for s in draw.strata)
            console.print(
                f"抽取 {draw.id} 已执行：抽中 {picked} 家（{parts}），"
                f"为 {len(draw.specs)} 个部门各生成 {picked} 条检查任务"
            )

    @draw_app.command("reveal")
    def reveal(
        draw_id: int = typer.Argument(..., help="抽取编号"),
        user: UserOption = None,
    ) -> None:
        """公开种子。"""
        from checkonce.cli import console
        from checkonce.sampling.service import reveal_draw

        with acting_session(user) as (session, actor):
            draw = reveal_draw(db_session=session, draw_id=draw_id, actor=actor)
            console.print(f"抽取 {draw.id} 的种子已公开：{draw.seed}")

    @draw_app.command("publish")
    def publish(
        draw_id: int = typer.Argument(..., help="抽取编号"),
        out: Path = typer.Option(None, "--out", help="写入此 JSON 文件（默认打印）"),
        user: UserOption = None,
    ) -> None:
        """公示：抽取前输出承诺，公开种子后输出完整结果（checkonce.draw/1）。"""
        from checkonce.sampling.service import publish_draw

        with acting_session(user) as (session, actor):
            data = publish_draw(db_session=session, draw_id=draw_id, actor=actor)
        _write_json(data, out)

    @draw_app.command("verify")
    def verify(
        draw_id: int = typer.Argument(None, help="抽取编号（核对数据库中的抽取）"),
        file: Path = typer.Option(None, "--file", "-f", help="只凭公示的 JSON 文件核对"),
    ) -> None:
        """按公开的种子重算抽取，报告一致或不一致（不一致时退出码为 1）。"""
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
            result = verify_published(data)
        else:
            with open_session() as session:
                result = verify_draw(db_session=session, draw_id=draw_id)
        for stratum in result.strata:
            mark = "一致" if stratum.matches else "不一致"
            console.print(
                f"  {stratum.name} 类：总体 {stratum.size} 家，应抽 {stratum.n} 家，{mark}"
            )
        console.print(result.summary(), highlight=False)
        if not result.ok:
            raise typer.Exit(1)

    @draw_app.command("list")
    def list_(year: int = typer.Option(None, "--year", help="只看某年度")) -> None:
        """列出抽取。"""
        from rich.table import Table

        from checkonce.cli import console
        from checkonce.sampling.service import list_draws

        with open_session() as session:
            draws = list_draws(db_session=session, year=year)
            table = Table("编号", "年度", "状态", "总体", "抽中", "取代", "名称")
            for draw in draws:
                table.add_row(
                    str(draw.id),
                    str(draw.year),
                    draw.state_name,
                    str(draw.population_size),
                    str(sum(s["n"] for s in draw.strata)),
                    str(draw.supersedes_id or ""),
                    draw.title,
                )
            console.print(table if draws else "没有抽取")

    app.add_typer(draw_app, name="draw")
