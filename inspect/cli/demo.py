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


def run_full_demo(*, time_limit: float, workers: int) -> None:
    """Plans, draws and the merged schedule on the demo registry; print where to look."""
    from checkonce.calendar import WorkCalendar
    from checkonce.cli import console
    from checkonce.config import get_settings
    from checkonce.db import make_engine, session_scope
    from checkonce.demo import PERIOD, run_demo
    from checkonce.policy import load_policy

    settings = get_settings()
    out = (settings.output_dir / "demo").resolve()
    policy = load_policy(settings.jurisdiction_dir / "policy.toml")
    calendar = WorkCalendar(settings.jurisdiction_dir / "calendar")
    # The inspector-ranking key is derived from the period's published draws, as always.
    engine = make_engine(settings.database_url)
    with console.status("计划、校验、双随机抽取、合并排程……"), session_scope(engine) as session:
        run = run_demo(
            session=session,
            data_dir=settings.jurisdiction_dir,
            policy=policy,
            calendar=calendar,
            out=out,
            time_limit=time_limit,
            workers=workers,
            secret_key=settings.secret_key,
        )
    engine.dispose()

    if run.calendar_note:
        console.print(f"[yellow]注意：{run.calendar_note}[/yellow]")
    for dept, findings in run.rejected:
        console.print(
            f"计划校验：{dept} 首次提交被拒（{len(findings)} 个问题），已按要求补正后重新提交："
        )
        for line in findings:
            console.print(f"  {line}", highlight=False)
    console.print(f"各部门 {PERIOD} 检查计划：{run.metrics['plans']} 份已审核通过")
    console.print(
        f"部门联合双随机抽取：{len(run.draws)} 次，公开数据均已按发起时的承诺摘要独立复核一致"
        "（随机源：2024-12-31 上证综指收盘 3351.76，演示按记录的时间进行）"
    )

    m = run.metrics
    from checkonce.visits.comparison import comparison_rows

    rows = comparison_rows(m)
    table = Table(title=f"{PERIOD} 合并排程（综合查一次）与各部门各自安排")
    for col in ("", "合并排程", "各部门各自安排", "变化"):
        table.add_column(col, justify="right" if col else "left")
    for row in rows:
        number = "{:,.0f}"
        change = "—" if row.change is None else f"{row.change:+.1%}"
        table.add_row(row.label, number.format(row.merged), number.format(row.alone), change)
    lb = m.get("lb_visits") or 0
    if lb:
        table.add_row("入企/理论下限", f"{m['visits'] / lb:.3f}", "", "")
    console.print(table)
    for row in rows:
        console.print(f"  【{row.label}】{row.explanation}", highlight=False)
    share = m.get("cross_district_share")
    if share is not None:
        console.print(
            f"  跨区执法人次：{m.get('cross_district_inspector_visits', 0):,} "
            f"（占 {share:.1%}；执法人员到本区以外的企业检查）",
            highlight=False,
        )
    verdict = "无违规" if run.violations == 0 else f"[red]{run.violations} 处违规[/red]"
    console.print(f"独立校验器：{verdict}；入企次数下界 {m['lb_visits']:,}")
    first_draw = run.draws[0]["file"] if run.draws else None
    console.print(f"\n输出目录：{out}")
    console.print(f"  排程实例：{run.files['instance']}")
    console.print(f"  排程结果：{run.files['schedule']}")
    console.print(f"  抽取公开数据：{out / 'draws'}")
    console.print("复核命令：")
    console.print(f"  checkonce verify {run.files['instance']} {run.files['schedule']}")
    if first_draw:
        recorded = run.draws[0]["commitment"]
        console.print(f"  checkonce draw verify --file {first_draw} --commitment {recorded}")
    console.print("  checkonce login   （账号 coordinator，密码见下）")
    console.print("  checkonce plans list")
    console.print("  checkonce schedule list")
    if "coverage_map" in run.files:
        console.print(
            f"地图（离线可直接用浏览器打开）：{run.files['coverage_map']}"
            f"（{PERIOD} 有检查的企业 {m['enterprises_visited']:,}/{m['enterprises']:,}）"
        )
    if "route_map" in run.files:
        console.print(f"  执法路线：{run.files['route_map']}")
    if run.accounts and "poster" in run.files:
        from checkonce.demo import DEMO_PASSWORD

        console.print(
            f"\n已发布排程版本 {run.schedule_id}。首个联合检查：{run.links['first_visit']}"
        )
        console.print(f"企业码海报：{run.files['poster']}")
        console.print(
            "打开网页：先运行 checkonce serve --dev（本机开发模式），再用浏览器打开（手机页面可用窄窗口）："
        )
        pages = {
            "admin": "/coordinator",
            "coordinator": "/coordinator",
            "legal": "/legal/redraws",
            "bureau": "/bureau/tasks",
            "inspector": f"/inspector?day={run.links['route_day']}",
            "enterprise": "/enterprise/history",
        }
        base = "http://127.0.0.1:8000"
        for name, role in run.accounts:
            console.print(f"  {base}{pages[role]}  账号 {name}（{role}）", highlight=False)
        console.print(
            f"  演示账号密码均为 {DEMO_PASSWORD}；各部门账号为 bureau-部门代码（小写）；"
            f"公开信息：{base}/public",
            highlight=False,
        )
        console.print(f"  企业码页面（扫码入企）：{run.links['enterprise_page']}", highlight=False)
        console.print(f"  接口文档：{base}/docs", highlight=False)


def register(app: typer.Typer) -> None:
    demo_app = typer.Typer(help="西安演示：建库、抽取、排程、地图。", invoke_without_command=True)

    @demo_app.callback()
    def demo(
        ctx: typer.Context,
        enterprises: int = typer.Option(20000, min=1, help="企业数量"),
        seed: int = typer.Option(2027, help="随机种子（同一种子得到同一演示库）"),
        reset: bool = typer.Option(False, "--reset", help="允许清空非 SQLite 数据库"),
        time_limit: float = typer.Option(60.0, min=1, help="排程求解时限（秒）"),
        workers: int = typer.Option(2, min=1, max=64, help="求解线程数"),
    ) -> None:
        """运行完整演示：重建演示库（SQLite 文件）并依次执行后续各环节。"""
        if ctx.invoked_subcommand is not None:
            return
        from sqlalchemy.engine import make_url

        from checkonce.config import get_settings
        from checkonce.db import normalize_url
        from checkonce.demo import as_of_day
        from checkonce.errors import CheckOnceError

        url = get_settings().database_url
        if make_url(normalize_url(url)).get_backend_name() != "sqlite" and not reset:
            raise CheckOnceError(
                f"演示会清空并重建数据库 {url}；对非 SQLite 数据库请确认后加 --reset 运行"
            )
        init_demo(
            enterprises=enterprises, inspectors=None, seed=seed, as_of=as_of_day(), reset=True
        )
        run_full_demo(time_limit=time_limit, workers=workers)

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
