"""Scheduling commands: `plan`, `verify`, `bench generate`, `bench run`.

They work on interchange files (INTERCHANGE.md) only — no database — so a coordinator or an
outside tool can plan and check a schedule offline. Messages are Chinese; bad input (missing
file, broken JSON, wrong schema) ends with a clear CheckOnceError, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from checkonce.errors import CheckOnceError

STAGE_NAMES = {
    "merge": "合并任务（按企业）",
    "calendar": "排定日期（最小费用流）",
    "draw": "抽取执法人员并排时间线",
    "route": "整天同组人员的路线（OR-Tools 路径规划）",
    "done": "完成",
}
SIZES = ("T", "S", "M", "L", "XL")


def _read_json(path: Path, what: str) -> Any:
    if not path.exists():
        raise CheckOnceError(f"找不到{what}文件：{path}")
    if path.is_dir():
        raise CheckOnceError(f"{what}路径是目录而不是文件：{path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CheckOnceError(f"{what}文件不是 UTF-8 文本：{path}") from None
    except json.JSONDecodeError as exc:
        raise CheckOnceError(
            f"{what}文件不是有效的 JSON：{path} 第 {exc.lineno} 行第 {exc.colno} 列（{exc.msg}）"
        ) from None


def load_instance(path: Path):  # -> Instance (import kept lazy for a fast CLI start)
    """Read and check an instance file; CheckOnceError (Chinese) on any problem."""
    from checkonce.scheduler.model import Instance

    data = _read_json(path, "实例")
    try:
        return Instance.from_json(data)
    except (ValueError, TypeError) as exc:
        raise CheckOnceError(f"实例文件内容无效（{path}）：{exc}") from None


def load_schedule(path: Path):  # -> Schedule
    """Read and check a schedule file; CheckOnceError (Chinese) on any problem."""
    from checkonce.scheduler.model import Schedule

    data = _read_json(path, "排程")
    try:
        return Schedule.from_json(data)
    except (ValueError, TypeError) as exc:
        raise CheckOnceError(f"排程文件内容无效（{path}）：{exc}") from None


def _write_json(path: Path, data: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    except OSError as exc:
        raise CheckOnceError(f"无法写入文件 {path}：{exc.strerror}") from None


def _metrics_table(metrics: dict[str, Any], title: str) -> Table:
    labels = [
        ("tasks", "任务数"),
        ("scheduled", "已排任务"),
        ("unscheduled", "未排任务"),
        ("visits", "入企次数"),
        ("lb_visits", "入企次数下界"),
        ("gap", "与下界差距"),
        ("inspector_days", "人·日"),
        ("travel_km", "路程（公里）"),
        ("inspector_minutes_on_site", "在场人·分钟"),
        ("inspector_minutes_travel", "路途人·分钟"),
        ("cross_district_inspector_visits", "跨区执法人次"),
        ("department_district_days", "部门·区·日"),
        ("rotation_repeats", "连续派同一人次数"),
        ("workload_cv", "工作量离散系数"),
    ]
    table = Table(title=title)
    table.add_column("指标")
    table.add_column("数值", justify="right")
    for key, label in labels:
        if key in metrics:
            value = metrics[key]
            text = f"{value:.2%}" if key == "gap" else str(value)
            table.add_row(label, text)
    return table


def register(app: typer.Typer) -> None:
    """Add plan, verify and bench to the checkonce command."""

    @app.command("plan")
    def plan(
        instance: Path = typer.Option(
            ..., "--instance", "-i", help="实例文件（checkonce.instance/2，也可读 /1）"
        ),
        out: Path = typer.Option(..., "--out", "-o", help="输出的排程文件"),
        seed: str | None = typer.Option(
            None, "--seed", help="抽取执法人员的种子（默认用实例中的 seed）"
        ),
        time_limit: float = typer.Option(60.0, "--time-limit", help="求解时限（秒）"),
        workers: int = typer.Option(1, "--workers", help="求解线程数"),
    ) -> None:
        """根据实例文件生成"综合查一次"合并排程，并用校验器检查。"""
        from checkonce.cli import console
        from checkonce.scheduler.solve import solve
        from checkonce.scheduler.verify import verify

        if time_limit <= 0 or workers < 1:
            raise CheckOnceError("求解时限须为正数，线程数至少为 1")
        problem = load_instance(instance)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            bars: dict[str, Any] = {}

            def report(stage: str, fraction: float) -> None:
                for name, bar in bars.items():
                    if name != stage:
                        progress.update(bar, completed=100)
                if stage not in bars:
                    bars[stage] = progress.add_task(STAGE_NAMES.get(stage, stage), total=100)
                progress.update(bars[stage], completed=100 * fraction)

            schedule = solve(
                problem, seed=seed, time_limit=time_limit, workers=workers, progress=report
            )
            report("verify", 0.0)
            checked = verify(problem, schedule)
            report("done", 1.0)
        _write_json(out, schedule.to_json())
        console.print(_metrics_table(checked.metrics, f"排程 {problem.name}"))
        if checked.ok:
            console.print(f"[green]校验通过[/green]：{len(schedule.visits)} 次入企，已写入 {out}")
        else:
            raise CheckOnceError(
                f"排程未通过校验（{len(checked.violations)} 处违规），已写入 {out} 供排查"
            )

    @app.command("verify")
    def verify_command(
        instance: Path = typer.Argument(..., help="实例文件"),
        schedule: Path = typer.Argument(..., help="排程文件"),
    ) -> None:
        """按 INTERCHANGE.md 的全部规则校验排程；有违规时逐条列出并以 1 退出。"""
        from checkonce.cli import console
        from checkonce.scheduler.verify import verify

        problem = load_instance(instance)
        answer = load_schedule(schedule)
        checked = verify(problem, answer)
        console.print(_metrics_table(checked.metrics, "排程指标"))
        if checked.ok:
            console.print("[green]校验通过：未发现违反规则之处[/green]")
            return
        table = Table(title=f"违规 {len(checked.violations)} 处")
        table.add_column("规则")
        table.add_column("涉及")
        table.add_column("说明")
        for violation in checked.violations[:200]:
            table.add_row(violation.rule, ", ".join(violation.ids), violation.message)
        console.print(table)
        if len(checked.violations) > 200:
            console.print(f"…… 另有 {len(checked.violations) - 200} 处违规未列出")
        counts = "，".join(f"{rule} {n} 处" for rule, n in sorted(checked.by_rule().items()))
        console.print(f"[bold red]校验未通过[/bold red]：{counts}")
        raise typer.Exit(1)

    bench_app = typer.Typer(
        help="基准测试：生成西安实例，对比求解器、贪心合并与现状。", no_args_is_help=True
    )

    @bench_app.command("generate")
    def bench_generate(
        size: str = typer.Option("S", "--size", help="规模：S / M / L / XL（T 为测试用小例）"),
        seed: int = typer.Option(1, "--seed", help="生成种子（同一种子生成同一实例）"),
        out: Path = typer.Option(..., "--out", "-o", help="输出的实例文件"),
    ) -> None:
        """按西安区县地理生成可复现的排程实例。"""
        from checkonce.cli import console
        from checkonce.scheduler.generate import generate, write_instance

        if size not in SIZES:
            raise CheckOnceError(f"未知规模「{size}」，可选：{' / '.join(SIZES)}")
        problem = generate(size, seed)
        try:
            write_instance(problem, out)
        except OSError as exc:
            raise CheckOnceError(f"无法写入文件 {out}：{exc.strerror}") from None
        console.print(
            f"已生成 {problem.name}：{len(problem.tasks)} 项任务、{len(problem.enterprises)} 家企业、"
            f"{len(problem.inspectors)} 名执法人员、{len(problem.workdays)} 个工作日 → {out}"
        )

    @bench_app.command("run")
    def bench_run(
        size: str = typer.Option("M", "--size", help="规模：S / M / L / XL"),
        seed: int = typer.Option(1, "--seed", help="生成种子"),
        instance: Path | None = typer.Option(None, "--instance", help="改用已有实例文件"),
        time_limit: float = typer.Option(60.0, "--time-limit", help="求解时限（秒）"),
        workers: int = typer.Option(1, "--workers", help="求解线程数"),
    ) -> None:
        """求解器 vs 贪心合并 vs 现状：已排任务、入企次数、与下界之比、人·日、路程、用时、内存。"""
        from checkonce.cli import console
        from checkonce.scheduler import bench
        from checkonce.scheduler.generate import generate

        if instance is not None:
            problem = load_instance(instance)
        elif size in SIZES:
            with console.status(f"生成 {size} 规模实例……"):
                problem = generate(size, seed)
        else:
            raise CheckOnceError(f"未知规模「{size}」，可选：{' / '.join(SIZES)}")
        with console.status("依次运行求解器、贪心合并、现状……"):
            rows = bench.run(problem, seed=problem.seed, time_limit=time_limit, workers=workers)
        console.print(bench_table(rows, f"{problem.name}（{len(problem.tasks)} 项任务）"))
        if any(row.violations for row in rows):
            raise CheckOnceError("有方法的排程未通过校验，见上表“违规”列")

    app.add_typer(bench_app, name="bench")


# Method name of the solver run with a visit slack: "solver_slack1" = 1 % above LB_visits.
SLACK_METHOD = "solver_slack"


def bench_table(rows: list, title: str) -> Table:
    """The comparison table of `checkonce bench run` and benchmarks/run.py."""
    names = {"solver": "求解器", "greedy": "贪心合并", "status_quo": "现状（各部门单独）"}
    for row in rows:
        if row.method.startswith(SLACK_METHOD):
            names[row.method] = f"求解器（入企可超下界 {row.method[len(SLACK_METHOD) :]}%）"
    table = Table(title=title)
    for header in (
        "方法",
        "已排任务",
        "入企次数",
        "入企/下界",
        "人·日",
        "路程 km",
        "在场人·分",
        "跨区人次",
        "用时 s",
        "CPU s",
        "峰值 MB",
        "违规",
    ):
        table.add_column(header, justify="right" if header != "方法" else "left")
    for row in rows:
        m = row.metrics
        table.add_row(
            names.get(row.method, row.method),
            f"{m['scheduled']}/{m['tasks']}",
            str(m["visits"]),
            f"{row.visits_over_lb:.4f}",
            str(m["inspector_days"]),
            f"{m['travel_km']:.0f}",
            str(m.get("inspector_minutes_on_site", "")),
            f"{m.get('cross_district_inspector_visits', 0)} "
            f"({m.get('cross_district_share', 0.0):.1%})",
            f"{row.seconds:.1f}",
            f"{row.cpu_seconds:.1f}",
            f"{row.peak_mb:.0f}",
            str(row.violations),
        )
    return table
