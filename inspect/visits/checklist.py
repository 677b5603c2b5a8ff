"""The merged checklist of a joint visit (一表通查): one sheet for the enterprise and the team.

The union of the checklist entries of every item the visit's tasks inspect. Entries with
the same key are the same check (ChecklistEntry's docstring) and appear once, with every
department and item that asks for it. Grouping: checks asked by more than one department
come first (the point of checking once), then one group per department, the lead
department first, each in item and checklist order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from checkonce.plans.models import InspectionTask


@dataclass
class MergedEntry:
    """One check of the merged sheet and who asks for it."""

    key: str
    text: str
    departments: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


@dataclass
class ChecklistGroup:
    """A block of the sheet: the shared checks, or one department's own."""

    title: str
    department: str | None
    entries: list[MergedEntry]


def merged_checklist(
    tasks: Iterable[InspectionTask], *, lead_department: str | None = None
) -> list[ChecklistGroup]:
    """Merge the checklists of `tasks` (with their item, checklist and department loaded).

    Department codes are listed in `departments`; the first text seen for a key is kept
    (departments share the key precisely because the wording is the same check)."""
    ordered = sorted(
        tasks,
        key=lambda t: (t.department.code != lead_department, t.department.code, t.item.code),
    )
    entries: dict[str, MergedEntry] = {}
    names: dict[str, str] = {}
    seen_items: set[str] = set()
    for task in ordered:
        dept = task.department.code
        names[dept] = task.department.name
        item = task.item
        if item.code in seen_items:
            continue  # the same item twice (two plans) is one set of checks
        seen_items.add(item.code)
        for line in item.checklist:
            entry = entries.setdefault(line.key, MergedEntry(key=line.key, text=line.text))
            if dept not in entry.departments:
                entry.departments.append(dept)
            entry.items.append(item.code)

    shared = [e for e in entries.values() if len(e.departments) > 1]
    groups: list[ChecklistGroup] = []
    if shared:
        groups.append(
            ChecklistGroup(title="共同检查内容（多部门一次查）", department=None, entries=shared)
        )
    for dept in dict.fromkeys(t.department.code for t in ordered):
        own = [e for e in entries.values() if e.departments == [dept]]
        if own:
            groups.append(
                ChecklistGroup(title=f"{names[dept]}检查内容", department=dept, entries=own)
            )
    return groups


def checklist_counts(groups: list[ChecklistGroup]) -> tuple[int, int]:
    """(entries on the merged sheet, entries the departments asked for in total): the
    difference is the checks the enterprise is spared by checking once."""
    merged = sum(len(g.entries) for g in groups)
    asked = sum(len(e.items) for g in groups for e in g.entries)
    return merged, asked
