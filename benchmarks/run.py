"""Benchmark the optimizer against its baselines and bounds on a generated Xi'an instance.

    .venv/bin/python benchmarks/run.py --size L            # solver vs greedy vs status quo
    .venv/bin/python benchmarks/run.py --size S --exact    # plus the exact CP-SAT model

Instances are cached in benchmarks/instances/, results (JSON and a Markdown table) written
to benchmarks/results/. Methods run one after the other, each in its own forked process
(wall and CPU seconds, peak RSS of that process including the instance it holds). Run one
benchmark at a time: the machine is small and shared.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from checkonce.cli.scheduling import bench_table
from checkonce.scheduler import bench
from checkonce.scheduler.bounds import lb_visits
from checkonce.scheduler.generate import generate, write_instance
from checkonce.scheduler.model import Instance, Schedule, read_instance
from checkonce.scheduler.solve import peak_mb

HERE = Path(__file__).resolve().parent
console = Console(width=160)


def load_or_generate(size: str, seed: int) -> tuple[Instance, Path, float, float]:
    """The cached instance file (generated on first use); returns timings too."""
    path = HERE / "instances" / f"{size}-seed{seed}-v2.json"
    generated = 0.0
    if not path.exists():
        started = time.perf_counter()
        write_instance(generate(size, seed), path)
        generated = time.perf_counter() - started
    started = time.perf_counter()
    instance = read_instance(path)
    return instance, path, generated, time.perf_counter() - started


def ratios_table(rows: list[bench.Row], instance: Instance) -> Table:
    """Solver against baselines and bounds, as ratios."""
    by = {r.method: r for r in rows}
    solver = by["solver"].metrics
    table = Table(title="求解器相对基线与下界")
    table.add_column("量")
    table.add_column("值", justify="right")
    table.add_row(
        "visits / lb_visits (scheduled tasks)", f"{solver['visits'] / solver['lb_visits']:.4f}"
    )
    table.add_row("lb_visits of every task", str(lb_visits(instance)))
    table.add_row("merge ratio visits / scheduled", f"{solver['visits'] / solver['scheduled']:.4f}")
    for name in ("greedy", "status_quo"):
        if name in by:
            other = by[name].metrics
            table.add_row(f"visits / {name} visits", f"{solver['visits'] / other['visits']:.4f}")
            table.add_row(
                f"inspector-days / {name}",
                f"{solver['inspector_days'] / max(1, other['inspector_days']):.4f}",
            )
            table.add_row(
                f"travel km / {name}", f"{solver['travel_km'] / max(1.0, other['travel_km']):.4f}"
            )
            table.add_row(
                f"scheduled − {name} scheduled", str(solver["scheduled"] - other["scheduled"])
            )
    table.add_row(
        "inspector minutes on site / LB (Σ minutes × team)",
        f"{solver['inspector_minutes_lb']}",
    )
    table.add_row("left out, by reason", str(solver.get("unscheduled_by_code", {})))
    table.add_row("rotation repeats", str(solver["rotation_repeats"]))
    table.add_row("workload cv", f"{solver['workload_cv']:.3f}")
    if "stage_seconds" in solver:
        peaks = solver.get("stage_peak_mb", {})
        stages = ", ".join(
            f"{k} {v:.1f}s" + (f" ({peaks[k]} MB)" if k in peaks else "")
            for k, v in solver["stage_seconds"].items()
        )
        table.add_row("solver stages (peak RSS after each)", stages)
        table.add_row("largest worker process, peak MB", str(solver.get("worker_peak_mb", "")))
        table.add_row("stage counts", str(solver.get("stage_counts", {})))
        table.add_row("exact CP-SAT pieces", str(solver.get("exact_pieces", "")))
        table.add_row("day groups re-routed", str(solver.get("routed_crew_days", "")))
    return table


class StagePrinter:
    """Prints each solver stage as it starts and ends (seconds, peak RSS), and every
    PROGRESS_EVERY seconds in between, so a long run shows where its time goes."""

    PROGRESS_EVERY = 30.0

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stage_started = self.started
        self.last = self.started

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.perf_counter()
        stamp = f"    [{now - self.started:7.1f}s, {peak_mb()} MB peak]"
        if fraction == 0.0:
            self.stage_started = self.last = now
            console.print(f"{stamp} {stage} …", highlight=False)
        elif fraction >= 1.0 and stage != "done":
            took = now - self.stage_started
            console.print(f"{stamp} {stage} done in {took:.1f}s", highlight=False)
        elif now - self.last >= self.PROGRESS_EVERY:
            self.last = now
            console.print(f"{stamp} {stage} {fraction:.0%}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=["T", "S", "M", "L", "XL"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--methods", default="solver,greedy,status_quo")
    parser.add_argument(
        "--slack",
        default="",
        help="also run the solver allowed these percents of visits above LB_visits, e.g. 1,3",
    )
    parser.add_argument("--exact", action="store_true", help="also solve the exact CP-SAT model")
    parser.add_argument("--exact-time", type=float, default=120.0)
    args = parser.parse_args(argv)

    instance, path, generated, loaded = load_or_generate(args.size, args.seed)
    console.print(
        f"{instance.name}: {len(instance.tasks)} tasks, {len(instance.enterprises)} enterprises, "
        f"{len(instance.departments)} departments, {len(instance.inspectors)} inspectors, "
        f"{len(instance.workdays)} workdays — {path.name}"
        + (f" (generated in {generated:.1f}s)" if generated else "")
        + f", parsed in {loaded:.1f}s"
    )
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    methods += tuple(f"solver_slack{p.strip()}" for p in args.slack.split(",") if p.strip())
    rows = []
    for name in methods:
        row = bench.run_method(
            instance,
            name,
            seed=instance.seed,
            time_limit=args.time_limit,
            workers=args.workers,
            keep_schedule=args.exact and name == "solver",
            progress=StagePrinter() if name == "solver" else None,
        )
        rows.append(row)
        console.print(f"  {name}: {row.seconds:.1f}s wall, {row.peak_mb:.0f} MB peak")
    console.print(bench_table(rows, f"{instance.name}（{len(instance.tasks)} 项任务）"))
    if "solver" in methods:
        console.print(ratios_table(rows, instance))
    result = {
        "instance": instance.name,
        "size": args.size,
        "seed": args.seed,
        "workers": args.workers,
        "rows": [
            {
                "method": r.method,
                "seconds": round(r.seconds, 2),
                "cpu_seconds": round(r.cpu_seconds, 2),
                "peak_mb": round(r.peak_mb),
                "violations": r.violations,
                "metrics": r.metrics,
            }
            for r in rows
        ],
    }
    if args.exact:
        sys.path.insert(0, str(HERE))
        from exact import solve_exact

        solver_row = next(r for r in rows if r.method == "solver")
        hint = Schedule.from_json(solver_row.schedule) if solver_row.schedule else None
        exact = solve_exact(instance, time_limit=args.exact_time, workers=args.workers, hint=hint)
        m = solver_row.metrics
        # Dropping one task lowers a stabbing bound by at most one visit.
        combinatorial = lb_visits(instance) - (len(instance.tasks) - (exact.tasks_bound or 0))
        best_bound = max(exact.visits_bound or 0, combinatorial)
        table = Table(title="精确 CP-SAT 模型（时间线放宽为每日人力容量）")
        table.add_column("量")
        table.add_column("值", justify="right")
        table.add_row("status (phase 2)", exact.status)
        table.add_row(
            "most tasks (proven upper bound)", f"{exact.scheduled} (≤ {exact.tasks_bound})"
        )
        table.add_row("solver scheduled", str(m["scheduled"]))
        table.add_row("exact best visits at that count", str(exact.visits))
        table.add_row(
            "visits lower bound (CP-SAT / stabbing − left-out)",
            f"{exact.visits_bound} / {combinatorial}",
        )
        table.add_row("solver visits", str(m["visits"]))
        table.add_row("solver gap to exact best", f"{m['visits'] / max(1, exact.visits) - 1:.4%}")
        table.add_row("solver gap to proven bound", f"{m['visits'] / max(1, best_bound) - 1:.4%}")
        table.add_row("exact seconds", f"{exact.seconds:.1f}")
        console.print(table)
        result["exact"] = exact.__dict__ | {"combinatorial_bound": combinatorial}
    out = HERE / "results" / f"{args.size}-seed{args.seed}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
    console.print(f"results → {out}")
    return 1 if any(r.violations for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
