"""What the public sees (一公开), by allow-list: every public output — the public JSON API, the
/public pages, the CSV exports and the draw JSON — is built from the models and field lists
here, field by field, never by taking an internal object and removing what must not show.

A field is public only when it is named here. A new column on a plan, a task or a draw stays
private until someone adds it to these lists, and `tests/api/test_public_pii.py` plants a
name, a mobile number, an ID number and complaint text into every free-text field an authority
or enterprise can fill and crawls every public route for them.

What is public and why:
- plans: department, period, version, title and, per task, its kind, items, window, scope (the
  filters), strata (ratios), the number of named enterprises (never which), a special
  campaign's name and approval document number, a triggered task's due days. Never a task's
  note, a trigger's reason, the enterprises named, the approver, the plan's history or who
  filed it: a complaint may identify who made it, a named target told in advance is warned.
- results: the credit-disclosure columns (enterprise, item, department, day, result, deadline)
  and nothing an inspector wrote (notes, checklist answers, legal-basis text).
- draws: the publication the verifier recomputes (`DRAW_JSON_KEYS`), and per draw in the list
  `PublicDrawRow`. Keep draw fields in these two places only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from checkonce.plans.models import TASK_KIND_NAMES, Plan, PlanTask

# --- plans -----------------------------------------------------------------------------------


class PublicPlanOut(BaseModel):
    """A published plan in the public list."""

    model_config = ConfigDict(frozen=True)

    id: int
    department: str  # code
    department_name: str
    period: str
    version: int
    title: str
    state: str
    tasks: int


class PublicItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    legal_basis: str


class PublicPlanTaskOut(BaseModel):
    """A task of a published plan: what will be checked, when and over which population."""

    model_config = ConfigDict(frozen=True)

    id: int
    position: int
    kind: str
    kind_name: str
    items: list[str]  # item codes
    item_list: list[PublicItem]
    window: tuple[dt.date, dt.date]
    scope: dict[str, Any]
    strata: dict[str, Any] | None
    enterprise_count: int  # how many enterprises the task names, never which
    campaign_name: str | None
    approval_document: str | None
    due_workdays: int | None


class PublicPlanDetail(PublicPlanOut):
    task_list: list[PublicPlanTaskOut]


def public_plan_out(plan: Plan, tasks: int) -> PublicPlanOut:
    return PublicPlanOut(
        id=plan.id,
        department=plan.department.code,
        department_name=plan.department.name,
        period=plan.period,
        version=plan.version,
        title=plan.title,
        state=plan.state,
        tasks=tasks,
    )


def public_task(task: PlanTask) -> PublicPlanTaskOut:
    return PublicPlanTaskOut(
        id=task.id,
        position=task.position,
        kind=task.kind,
        kind_name=TASK_KIND_NAMES.get(task.kind, task.kind),
        items=[link.item.code for link in task.items],
        item_list=[
            PublicItem(code=link.item.code, name=link.item.name, legal_basis=link.item.legal_basis)
            for link in task.items
        ],
        window=(task.window_start, task.window_end),
        scope=task.scope or {},
        strata=task.strata,
        enterprise_count=len(task.enterprises),
        campaign_name=task.campaign_name,
        approval_document=task.approval_document,
        due_workdays=task.due_workdays,
    )


def public_plan_detail(plan: Plan) -> PublicPlanDetail:
    tasks = [public_task(t) for t in plan.tasks]
    return PublicPlanDetail(
        **public_plan_out(plan, len(tasks)).model_dump(exclude={"tasks"}),
        tasks=len(tasks),
        task_list=tasks,
    )


# --- results ---------------------------------------------------------------------------------


class PublicResultOut(BaseModel):
    """One published result (the latest published revision of a task's result)."""

    model_config = ConfigDict(frozen=True)

    result_id: int
    credit_code: str
    enterprise: str
    item: str
    department: str
    department_code: str
    visit_day: dt.date
    result: str
    result_name: str
    rectify_by: dt.date | None
    published_at: dt.datetime
    revision: int

    @classmethod
    def of(cls, row: Any) -> PublicResultOut:
        """From a `findings.service.PublicResult`, field by field."""
        return cls(**{name: getattr(row, name) for name in cls.model_fields})


# --- draws -----------------------------------------------------------------------------------

# The top-level keys of a draw's public JSON (checkonce.draw/1). Each value is built field by
# field by checkonce.sampling.service (commitment, strata, exclusions); a key missing here does
# not reach the public: a new key of the draw ceremony (beacon, final seed …) is added here.
DRAW_JSON_KEYS = (
    "schema",
    "draw",
    "state",
    "algorithm",
    "commitment",
    "commitment_sha256",
    "state_name",
    "beacon",
    "seed",
    "final_seed",
    "strata",
    "excluded",
    "drawn",
    "revealed",
    "ended",
    "redraws",
)


def public_draw_json(data: dict[str, Any]) -> dict[str, Any]:
    """A draw's publication restricted to the allowed keys, in their order."""
    return {key: data[key] for key in DRAW_JSON_KEYS if key in data}


class PublicDrawRow(BaseModel):
    """A draw in the public list."""

    model_config = ConfigDict(frozen=True)

    id: int
    year: int
    state: str
    state_name: str
    title: str
    population_size: int
    committed_at: dt.datetime | None
    commitment_sha256: str | None
    beacon_date: dt.date | None
    beacon_name: str | None
    beacon_value: str | None
    seed_public: bool
    supersedes_id: int | None
    redraw_reason: str | None
    end_reason: str | None
    published_at: dt.datetime | None
    redraws: int  # approved redraws so far of its plan tasks (the most of any of them)

    @classmethod
    def of(cls, draw: Any, redraws: int = 0) -> PublicDrawRow:
        fields = {name: getattr(draw, name, None) for name in cls.model_fields}
        return cls(**{**fields, "redraws": redraws})
