"""`checkonce demo`: build the Xi'an demo jurisdiction (and, as the product grows, draw,
validate, schedule and map it)."""

from __future__ import annotations

import datetime as dt

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

STAGE_LABELS = {"enterprises": "生成企业", "inspectors": "生成执法人员", "conflicts": "回避关系"}


def _parse_day(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"日期格式应为 2027-01-04，实际 {value}") from None


def init_demo(
    *,
    enterprises: int,
    inspectors: int | None,
    seed: int,
    as_of: dt.date,
    reset: bool,
    database_url: str | None = None,
) -> dict[str, int]:
    """Build the demo registry in the configured database and print its table counts."""
    from checkonce.cli import console
    from checkonce.config import get_settings
    from checkonce.db import make_engine, session_scope
    from checkonce.registry.demo import DemoSizes
    from checkonce.registry.service import build_demo
    from checkonce.reset import reset_database

    settings = get_settings()
    url = database_url or settings.database_url
    if reset:
        reset_database(url)
    from checkonce.migrations import upgrade

    upgrade(url)
    engine = make_engine(url)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(STAGE_LABELS.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done)

        with session_scope(engine) as session:
            counts = build_demo(
                db_session=session,
                data_dir=settings.jurisdiction_dir,
                sizes=DemoSizes(enterprises, inspectors),
                seed=seed,
                as_of=as_of,
                progress=report,
            )
    engine.dispose()
    table = Table(title=f"西安演示库已建成（种子 {seed}，基准日 {as_of}）")
    table.add_column("表")
    table.add_column("行数", justify="right")
    for name, count in counts.items():
        if name != "alembic_version":
            table.add_row(name, f"{count:,}")
    console.print(table)
    console.print(f"数据库：{url}")
    return counts


def register(app: typer.Typer) -> None:
    demo_app = typer.Typer(help="西安演示：建库、抽取、排程、地图。", invoke_without_command=True)

    @demo_app.callback()
    def demo(
        ctx: typer.Context,
        enterprises: int = typer.Option(20000, min=1, help="企业数量"),
        seed: int = typer.Option(2027, help="随机种子（同一种子得到同一演示库）"),
        reset: bool = typer.Option(False, "--reset", help="允许清空非 SQLite 数据库"),
    ) -> None:
        """运行完整演示：重建演示库（SQLite 文件）并依次执行后续各环节。"""
        if ctx.invoked_subcommand is not None:
            return
        init_demo(
            enterprises=enterprises,
            inspectors=None,
            seed=seed,
            as_of=dt.date(2027, 1, 4),
            reset=True,
        )

    @demo_app.command("init")
    def init(
        enterprises: int = typer.Option(20000, min=1, help="企业数量"),
        inspectors: int | None = typer.Option(
            None, min=1, help="人员数量（默认约为企业数的 1/12）"
        ),
        seed: int = typer.Option(2027, help="随机种子"),
        as_of: str | None = typer.Option(
            None, help="基准日（证件到期、不可用日期以此为准），默认今天"
        ),
        reset: bool = typer.Option(False, "--reset", help="先清空数据库再建"),
    ) -> None:
        """建立西安演示库：区县、部门与检查事项、场景、收费目录、企业、执法人员。"""
        init_demo(
            enterprises=enterprises,
            inspectors=inspectors,
            seed=seed,
            as_of=_parse_day(as_of),
            reset=reset,
        )

    app.add_typer(demo_app, name="demo")
