"""The merged schedule beside "departments alone" (各部门各自安排): what "check once" saves.

A generation also solves the status quo on the same instance (`scheduler.baselines`:
each task its own visit, departments planning alone, the same draw and the same rules) and
keeps its measures in the version's metrics under `departments_alone`. The coordinator's
schedule page and `checkonce demo` show the two side by side with `comparison_rows`, each
measure explained in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checkonce.scheduler.model import Instance
from checkonce.scheduler.verify import verify

# Key in the schedule version's metrics.
ALONE_KEY = "departments_alone"
# The measures compared, in display order: (metrics key, label, one-line explanation).
MEASURES: tuple[tuple[str, str, str], ...] = (
    (
        "visits",
        "入企次数",
        "企业被执法人员进入的次数：合并后一次入企完成多个部门的检查，企业少受打扰。",
    ),
    (
        "inspector_days",
        "检查人日",
        "执法人员出勤的人·日数（一人一天计 1）：联合检查每个部门只派规定人数，同一天的检查集中给同一批人。",
    ),
    (
        "inspector_minutes_on_site",
        "在场人·分钟",
        "执法人员在企业现场的总分钟数：每人完成本部门事项即可离开，不必陪同等待。",
    ),
    (
        "travel_km",
        "路程（公里）",
        "执法人员从单位出发、往返各企业的总路程（直线距离 × 绕行系数）。",
    ),
    (
        "scheduled",
        "已排任务",
        "排入检查的任务数：各部门单独安排时，同一企业的入企频次上限会挤掉更多任务。",
    ),
)


@dataclass(frozen=True)
class ComparisonRow:
    """One measure of the merged schedule against departments alone."""

    key: str
    label: str
    merged: float
    alone: float
    explanation: str

    @property
    def change(self) -> float | None:
        """Merged relative to alone (−0.25 = a quarter less); None when alone is 0."""
        return self.merged / self.alone - 1.0 if self.alone else None


def departments_alone(instance: Instance, *, seed: str) -> dict[str, Any]:
    """Solve and measure the status quo on `instance` (the verifier's metrics)."""
    from checkonce.scheduler.baselines import status_quo

    report = verify(instance, status_quo(instance, seed=seed))
    keys = (
        "tasks",
        "lb_visits",
        "violations",
        "cross_district_inspector_visits",
        *(key for key, _label, _text in MEASURES),
    )
    metrics = {**report.metrics, "violations": len(report.violations)}
    return {key: metrics[key] for key in keys if key in metrics}


def comparison_rows(metrics: Mapping[str, Any]) -> list[ComparisonRow]:
    """The rows to show for a version's metrics; empty when no comparison was stored."""
    alone = metrics.get(ALONE_KEY)
    if not isinstance(alone, Mapping):
        return []
    rows = []
    for key, label, text in MEASURES:
        if key in metrics and key in alone:
            rows.append(ComparisonRow(key, label, metrics[key], alone[key], text))
    return rows
