"""Side-by-side measurement of the optimizer and its baselines on one instance.

Each method runs in a forked child process so that its peak memory (ru_maxrss of the child,
which includes the instance it inherited) and wall time are its own; the child verifies its
schedule and sends back the verifier's metrics. Used by `checkonce bench run` and by the
scripts in benchmarks/, which print the rows as tables.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from checkonce.scheduler.model import Instance, Schedule

Progress = Callable[[str, float], None]

METHODS = ("solver", "greedy", "status_quo")


@dataclass
class Row:
    """One method's result on one instance."""

    method: str
    seconds: float
    cpu_seconds: float
    peak_mb: float
    violations: int
    metrics: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] | None = None

    @property
    def visits_over_lb(self) -> float:
        """Visits / lb_visits, the stabbing bound over the tasks this method scheduled."""
        lb = self.metrics.get("lb_visits") or 0
        return self.metrics["visits"] / lb if lb else 0.0


def _method(
    name: str, seed: str, time_limit: float, workers: int, progress: Progress | None = None
) -> Callable[[Instance], Schedule]:
    from checkonce.scheduler import baselines
    from checkonce.scheduler.solve import solve

    if name == "solver" or name.startswith("solver_slack"):
        # "solver_slack3": the solver allowed 3 % more enterprise entries than LB_visits.
        slack = float(name[len("solver_slack") :]) if name != "solver" else 0.0
        return lambda inst: solve(
            inst,
            seed=seed,
            time_limit=time_limit,
            workers=workers,
            progress=progress,
            visit_slack_percent=slack,
        )
    if name == "greedy":
        return lambda inst: baselines.greedy_merge(inst, seed=seed)
    if name == "status_quo":
        return lambda inst: baselines.status_quo(inst, seed=seed)
    raise ValueError(f"unknown method {name!r}")


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cpu() -> float:
    """CPU seconds of this process and of its finished worker processes (a fair clock
    when the machine is shared)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _child(
    instance: Instance,
    name: str,
    seed: str,
    time_limit: float,
    workers: int,
    keep: bool,
    conn: Any,
    progress: Progress | None,
) -> None:
    from checkonce.scheduler.verify import verify

    started = time.perf_counter()
    cpu_before = _cpu()
    schedule = _method(name, seed, time_limit, workers, progress)(instance)
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu_before
    peak = _peak_mb()
    report = verify(instance, schedule)
    metrics = dict(report.metrics)
    for key in (
        "stage_seconds",
        "stage_peak_mb",
        "worker_peak_mb",
        "stage_counts",
        "exact_pieces",
        "routed_crew_days",
    ):
        if key in schedule.metrics:
            metrics[key] = schedule.metrics[key]
    conn.send(
        Row(
            method=name,
            seconds=seconds,
            cpu_seconds=cpu,
            peak_mb=peak,
            violations=len(report.violations),
            metrics=metrics,
            schedule=schedule.to_json() if keep else None,
        )
    )
    conn.close()


def run_method(
    instance: Instance,
    name: str,
    *,
    seed: str,
    time_limit: float = 60.0,
    workers: int = 1,
    keep_schedule: bool = False,
    progress: Progress | None = None,
) -> Row:
    """Run one method in a forked child; returns its row (verifier metrics, time, memory).

    `progress(stage, fraction)` is called in the child as the solver's stages advance
    (the child is forked, so any callable works).
    """
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(
        target=_child,
        args=(instance, name, seed, time_limit, workers, keep_schedule, child, progress),
    )
    process.start()
    child.close()
    row = parent.recv()
    process.join()
    return row


def run(
    instance: Instance,
    methods: tuple[str, ...] = METHODS,
    *,
    seed: str | None = None,
    time_limit: float = 60.0,
    workers: int = 1,
    on_row: Callable[[Row], None] | None = None,
) -> list[Row]:
    """Run the methods one after the other (never in parallel: honest times and memory)."""
    rows: list[Row] = []
    draw_seed = instance.seed if seed is None else seed
    for name in methods:
        row = run_method(instance, name, seed=draw_seed, time_limit=time_limit, workers=workers)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows
