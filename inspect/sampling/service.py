"""Double-random draws (双随机抽取), commit → run → reveal → publish.

1. commit: snapshot the population of the spec's scope (after the exclusions the policy asks
   for), fix the strata and their sizes n, make a fresh 256-bit seed and record SHA-256 of it.
   The commitment (and its digest) can be published now, before anyone knows the outcome.
2. run: rank each stratum by HMAC-SHA256(seed, credit code), take the first n, and turn each
   selected enterprise into one concrete task per department spec (joint draws share one
   selection across departments).
3. reveal: the seed is disclosed; anyone can recompute the selection (verify.py).
4. publish: the JSON (checkonce.draw/1) is frozen and handed out.

A draw is never re-run or changed: a re-draw is a new draw naming the one it supersedes and
the reason; the superseded draw's tasks are kept, marked inactive.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.auth import access
from checkonce.db import utcnow
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.plans.models import RISK_STRATA, InspectionTask, PlanTask
from checkonce.plans.scope import describe_scope, enterprises_in_scope, normalize_scope
from checkonce.plans.service import MAX_ID
from checkonce.policy import Policy, jurisdiction_policy
from checkonce.registry.models import Enterprise
from checkonce.sampling import selection
from checkonce.sampling.models import Draw, DrawMember, DrawSpec
from checkonce.sampling.verify import SCHEMA, VerifyResult, verify_published

ALGORITHM = {
    "seed_sha256": "SHA-256 of the 32 seed bytes (seed = 64 hex digits)",
    "population_sha256": "SHA-256 of the sorted credit codes joined by '\\n', UTF-8",
    "n": "count (at most the stratum size) when given, else ratio × size in exact decimals "
    "rounded as the stratum's 'rounding' says (ceil or floor)",
    "rank": "ascending HMAC-SHA256(key = seed bytes, message = credit code UTF-8) hex; "
    "ties by credit code; the first n of each stratum are selected",
    "commitment_sha256": "SHA-256 of the commitment as JSON with sorted keys, separators "
    "(',', ':'), UTF-8 without escaping",
}


def get_draw(*, db_session: Session, draw_id: int) -> Draw:
    """The draw with its specs and members, or NotFound."""
    if not 0 < draw_id <= MAX_ID:
        raise NotFound(f"抽取 {draw_id} 不存在")
    draw = db_session.scalar(
        select(Draw)
        .where(Draw.id == draw_id)
        .options(selectinload(Draw.specs), selectinload(Draw.members))
    )
    if draw is None:
        raise NotFound(f"抽取 {draw_id} 不存在")
    return draw


def list_draws(*, db_session: Session, year: int | None = None) -> list[Draw]:
    stmt = select(Draw).order_by(Draw.id.desc())
    if year is not None:
        stmt = stmt.where(Draw.year == year)
    return list(db_session.scalars(stmt))


def _strata_spec(task: PlanTask, policy: Policy) -> dict[str, dict[str, Any]]:
    """The spec's strata, or the policy's ratios; a class not listed is not sampled."""
    if task.strata:
        return {c: dict(task.strata[c]) for c in RISK_STRATA if c in task.strata}
    return {c: {"ratio": str(selection.parse_ratio(r))} for c, r in policy.sampling.ratios.items()}


def _superseded_ids(db_session: Session) -> set[int]:
    return set(
        db_session.scalars(select(Draw.supersedes_id).where(Draw.supersedes_id.is_not(None)))
    )


def _chain(db_session: Session, draw_id: int | None) -> set[int]:
    """`draw_id` and every draw it (transitively) supersedes."""
    out: set[int] = set()
    while draw_id is not None and draw_id not in out:
        out.add(draw_id)
        draw_id = db_session.scalar(select(Draw.supersedes_id).where(Draw.id == draw_id))
    return out


def _load_specs(db_session: Session, plan_task_ids: list[int]) -> list[PlanTask]:
    if not plan_task_ids:
        raise CheckOnceError("请指定至少一条双随机抽查任务")
    if len(set(plan_task_ids)) != len(plan_task_ids):
        raise CheckOnceError("抽查任务重复")
    tasks = []
    for task_id in plan_task_ids:
        task = db_session.get(PlanTask, task_id) if 0 < task_id <= MAX_ID else None
        if task is None:
            raise NotFound(f"计划任务 {task_id} 不存在")
        if task.kind != "random":
            raise CheckOnceError(
                f"计划任务 {task_id} 是{task.kind_name}，只有双随机抽查任务才能抽取"
            )
        if task.plan.state not in ("approved", "published"):
            raise Conflict(
                f"计划任务 {task_id} 所属计划 {task.plan.id} 当前为“{task.plan.state_name}”，须审核通过后才能抽取"
            )
        tasks.append(task)
    departments = [t.plan.department_id for t in tasks]
    if len(set(departments)) != len(departments):
        raise CheckOnceError("联合抽取中每个部门只能有一条抽查任务")
    years = {t.plan.year for t in tasks}
    if len(years) != 1:
        raise CheckOnceError("联合抽取的各任务须属于同一年度")
    return tasks


def commit_draw(
    *,
    db_session: Session,
    plan_task_ids: list[int],
    actor: Actor,
    title: str = "",
    exclude_drawn_same_item_year: bool | None = None,
    supersedes_id: int | None = None,
    redraw_reason: str | None = None,
    policy: Policy | None = None,
) -> Draw:
    """Record a draw's commitment (seed hash, population hash, strata) before it runs.

    Several specs of different departments make a joint draw (部门联合双随机): they must share
    the same scope and strata, and one selection serves them all.
    """
    access.require(actor, AuditAction.DRAW_COMMIT)
    by = actor.label
    policy = policy or jurisdiction_policy()
    specs = _load_specs(db_session, plan_task_ids)
    first = specs[0]
    scope = normalize_scope(first.scope)
    strata_spec = _strata_spec(first, policy)
    for other in specs[1:]:
        if normalize_scope(other.scope) != scope:
            raise CheckOnceError(
                f"联合抽取的抽查范围不一致：任务 {first.id} 为“{describe_scope(first.scope)}”，"
                f"任务 {other.id} 为“{describe_scope(other.scope)}”"
            )
        if _strata_spec(other, policy) != strata_spec:
            raise CheckOnceError(
                f"联合抽取的抽查比例/数量不一致：任务 {first.id} 与任务 {other.id}"
            )

    superseded = _superseded_ids(db_session)
    previous: Draw | None = None
    if supersedes_id is not None:
        previous = get_draw(db_session=db_session, draw_id=supersedes_id)
        if previous.id in superseded:
            raise Conflict(f"抽取 {previous.id} 已被重新抽取取代，不能再次取代")
        if not redraw_reason or not redraw_reason.strip():
            raise CheckOnceError("重新抽取须写明理由")
    # A spec may be served by one live draw only: repeating a draw is a recorded re-draw.
    live = db_session.scalars(
        select(DrawSpec).where(DrawSpec.plan_task_id.in_([s.id for s in specs]))
    ).all()
    for link in live:
        if link.draw_id not in superseded and link.draw_id != supersedes_id:
            raise Conflict(
                f"计划任务 {link.plan_task_id} 已由抽取 {link.draw_id} 抽取过；如需重抽，请使用重新抽取并写明理由"
            )

    year = first.plan.year
    exclude = (
        policy.sampling.exclude_drawn_same_item_year
        if exclude_drawn_same_item_year is None
        else exclude_drawn_same_item_year
    )
    items = [link.item for spec in specs for link in spec.items]
    item_ids = [item.id for item in items]
    allowed = set(policy.whitelist.allowed_categories)
    whitelist_items_ok = all(item.category in allowed for item in items)
    include_whitelisted = whitelist_items_ok and policy.sampling.include_whitelisted
    whitelist_rule = (
        "白名单企业纳入抽取（事项均属允许类别且政策允许）"
        if include_whitelisted
        else "白名单企业不纳入抽取"
    )

    # Selections of the draws this one replaces do not count as "already drawn".
    replaced = _chain(db_session, supersedes_id)
    drawn_already: dict[int, set[str]] = defaultdict(set)
    if exclude:
        rows = db_session.execute(
            select(
                InspectionTask.enterprise_id, InspectionTask.item_id, InspectionTask.draw_id
            ).where(
                InspectionTask.kind == "random",
                InspectionTask.active.is_(True),
                InspectionTask.year == year,
                InspectionTask.item_id.in_(item_ids),
            )
        )
        code_of = {item.id: item.code for item in items}
        for enterprise_id, item_id, draw_id in rows:
            if draw_id not in replaced:
                drawn_already[enterprise_id].add(code_of[item_id])

    members: list[DrawMember] = []
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for enterprise in enterprises_in_scope(db_session, scope):
        reason = _exclusion(
            enterprise, policy, include_whitelisted, strata_spec, drawn_already, year
        )
        members.append(
            DrawMember(
                enterprise_id=enterprise.id,
                credit_code=enterprise.credit_code,
                stratum=enterprise.risk_class,
                excluded_reason=reason,
            )
        )
        if reason is None:
            by_stratum[enterprise.risk_class].append(enterprise.credit_code)

    rounding = "ceil" if policy.sampling.round_up else "floor"
    strata = []
    for cls in RISK_STRATA:
        spec = strata_spec.get(cls, {"ratio": "0"})
        codes = by_stratum.get(cls, [])
        ratio = spec.get("ratio")
        count = spec.get("count")
        strata.append(
            {
                "name": cls,
                "ratio": None if ratio is None else str(selection.parse_ratio(ratio)),
                "count": None if count is None else int(count),
                "rounding": rounding,
                "size": len(codes),
                "n": selection.sample_size(len(codes), ratio=ratio, count=count, rounding=rounding),
                "population_sha256": selection.population_sha256(codes),
            }
        )
    population = [code for codes in by_stratum.values() for code in codes]
    seed = selection.new_seed()
    draw = Draw(
        year=year,
        state="committed",
        title=title
        or "、".join(f"{s.plan.department.short_name}{s.item_list[0].code}" for s in specs),
        seed=seed,
        seed_sha256=selection.seed_sha256(seed),
        population_sha256=selection.population_sha256(population),
        population_size=len(population),
        strata=strata,
        scope=scope,
        exclude_drawn_same_item_year=exclude,
        whitelist_rule=whitelist_rule,
        commitment_sha256="0" * 64,  # set below, once the id and time are known
        supersedes_id=supersedes_id,
        redraw_reason=redraw_reason.strip() if redraw_reason else None,
        committed_by=by,
        committed_at=utcnow().replace(microsecond=0),
    )
    draw.specs = [DrawSpec(plan_task_id=s.id, position=i) for i, s in enumerate(specs)]
    draw.members = members
    db_session.add(draw)
    db_session.flush()
    draw.commitment_sha256 = selection.commitment_sha256(commitment(draw))
    db_session.flush()
    return draw


def _exclusion(
    enterprise: Enterprise,
    policy: Policy,
    include_whitelisted: bool,
    strata_spec: dict[str, dict[str, Any]],
    drawn_already: dict[int, set[str]],
    year: int,
) -> str | None:
    if enterprise.whitelisted and not include_whitelisted:
        return "监管白名单企业"
    if enterprise.risk_class == "A" and policy.sampling.class_a_handling == "exempt":
        return "A 类（低风险）企业按政策不纳入主动抽查"
    if enterprise.id in drawn_already:
        return f"{year} 年已被抽中检查同一事项（{'、'.join(sorted(drawn_already[enterprise.id]))}）"
    return None


def _iso_utc(moment: dt.datetime | None) -> str | None:
    """UTC, second precision, "Z": the same text whatever the database returns (SQLite gives
    naive UTC, PostgreSQL an aware time in the session's zone)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def commitment(draw: Draw) -> dict[str, Any]:
    """What is fixed before the draw runs; publishable at once (no seed in it)."""
    specs = []
    for link in draw.specs:
        task = link.plan_task
        specs.append(
            {
                "plan": task.plan_id,
                "plan_task": task.id,
                "department": task.plan.department.code,
                "items": [i.code for i in task.item_list],
                "window": [task.window_start.isoformat(), task.window_end.isoformat()],
            }
        )
    return {
        "draw": draw.id,
        "year": draw.year,
        "committed_at": _iso_utc(draw.committed_at),
        "committed_by": draw.committed_by,
        "supersedes": draw.supersedes_id,
        "redraw_reason": draw.redraw_reason,
        "scope": draw.scope,
        "specs": specs,
        "exclusions": {
            "drawn_same_item_year": draw.exclude_drawn_same_item_year,
            "whitelist": draw.whitelist_rule,
            "excluded_count": sum(1 for m in draw.members if m.excluded_reason),
        },
        "seed_sha256": draw.seed_sha256,
        "population_sha256": draw.population_sha256,
        "population_size": draw.population_size,
        "strata": draw.strata,
    }


def publish_commitment(draw: Draw) -> dict[str, Any]:
    """The pre-draw publication: the commitment and its digest, no seed."""
    return {
        "schema": SCHEMA,
        "draw": draw.id,
        "state": draw.state,
        "algorithm": ALGORITHM,
        "commitment": commitment(draw),
        "commitment_sha256": draw.commitment_sha256,
    }


def _population_by_stratum(draw: Draw) -> dict[str, list[DrawMember]]:
    out: dict[str, list[DrawMember]] = defaultdict(list)
    for member in draw.members:
        if member.excluded_reason is None:
            out[member.stratum].append(member)
    return out


def run_draw(
    *, db_session: Session, draw_id: int, actor: Actor, policy: Policy | None = None
) -> Draw:
    """Select per stratum and create the concrete tasks (one per department spec per
    selected enterprise). Only a committed draw runs, and only once."""
    access.require(actor, AuditAction.DRAW_RUN)
    by = actor.label
    draw = get_draw(db_session=db_session, draw_id=draw_id)
    if draw.state != "committed":
        raise Conflict(f"抽取 {draw.id} 当前为“{draw.state_name}”，每次抽取只能执行一次")
    if draw.id in _superseded_ids(db_session):
        raise Conflict(f"抽取 {draw.id} 已被重新抽取取代，不能再执行")
    groups = _population_by_stratum(draw)
    selected: list[DrawMember] = []
    for stratum in draw.strata:
        members = {m.credit_code: m for m in groups.get(stratum["name"], [])}
        order = selection.rank(draw.seed, members)
        for position, code in enumerate(order, start=1):
            members[code].rank = position
            if position <= stratum["n"]:
                members[code].selected = True
                selected.append(members[code])

    if draw.supersedes_id is not None:
        # Keep the superseded draw's tasks for the record, but take them out of the schedule.
        for task in db_session.scalars(
            select(InspectionTask).where(
                InspectionTask.draw_id.in_(_chain(db_session, draw.supersedes_id))
            )
        ):
            task.active = False

    policy_team = (policy or jurisdiction_policy()).team.min_team
    for link in draw.specs:
        spec = link.plan_task
        item = spec.item_list[0]
        for member in selected:
            db_session.add(
                InspectionTask(
                    plan_id=spec.plan_id,
                    plan_task_id=spec.id,
                    draw_id=draw.id,
                    enterprise_id=member.enterprise_id,
                    department_id=spec.plan.department_id,
                    item_id=item.id,
                    kind="random",
                    year=draw.year,
                    window_start=spec.window_start,
                    window_end=spec.window_end,
                    minutes=item.default_minutes,
                    team=max(item.default_team, policy_team),
                    mergeable=True,
                    announced=False,  # random checks are unannounced
                )
            )
    draw.state = "drawn"
    draw.drawn_by = by
    draw.drawn_at = utcnow()
    db_session.flush()
    return draw


def reveal_draw(*, db_session: Session, draw_id: int, actor: Actor) -> Draw:
    """Disclose the seed of a draw that has run."""
    access.require(actor, AuditAction.DRAW_REVEAL)
    by = actor.label
    draw = get_draw(db_session=db_session, draw_id=draw_id)
    if draw.state != "drawn":
        raise Conflict(f"抽取 {draw.id} 当前为“{draw.state_name}”，只有已抽取的才能公开种子")
    draw.state = "revealed"
    draw.revealed_by = by
    draw.revealed_at = utcnow()
    db_session.flush()
    return draw


def published_json(draw: Draw) -> dict[str, Any]:
    """The full publication (checkonce.draw/1) of a revealed draw; the verifier needs only this."""
    if draw.state not in ("revealed", "published"):
        raise Conflict(f"抽取 {draw.id} 当前为“{draw.state_name}”，种子公开后才能公示结果")
    groups = _population_by_stratum(draw)
    strata = []
    for stratum in draw.strata:
        members = groups.get(stratum["name"], [])
        chosen = sorted((m for m in members if m.selected), key=lambda m: m.rank)
        strata.append(
            {
                "name": stratum["name"],
                "population": sorted(m.credit_code for m in members),
                "selected": [m.credit_code for m in chosen],
            }
        )
    out = publish_commitment(draw)
    out["state"] = draw.state
    out["seed"] = draw.seed
    out["strata"] = strata
    out["excluded"] = [
        {"credit_code": m.credit_code, "stratum": m.stratum, "reason": m.excluded_reason}
        for m in sorted(draw.members, key=lambda m: m.credit_code)
        if m.excluded_reason
    ]
    out["drawn"] = {"by": draw.drawn_by, "at": _iso_utc(draw.drawn_at)}
    out["revealed"] = {"by": draw.revealed_by, "at": _iso_utc(draw.revealed_at)}
    return out


def publish_draw(*, db_session: Session, draw_id: int, actor: Actor) -> dict[str, Any]:
    """Before the run: the commitment. After reveal: mark published and return the full JSON."""
    access.require(actor, AuditAction.DRAW_PUBLISH)
    by = actor.label
    draw = get_draw(db_session=db_session, draw_id=draw_id)
    if draw.state in ("committed", "drawn"):
        return publish_commitment(draw)
    if draw.state == "revealed":
        draw.state = "published"
        draw.published_by = by
        draw.published_at = utcnow()
        db_session.flush()
    return published_json(draw)


def redraw(
    *,
    db_session: Session,
    draw_id: int,
    reason: str,
    actor: Actor,
    policy: Policy | None = None,
) -> Draw:
    """A new draw of the same specs, superseding `draw_id`, with the reason recorded."""
    old = get_draw(db_session=db_session, draw_id=draw_id)
    return commit_draw(
        db_session=db_session,
        plan_task_ids=[link.plan_task_id for link in old.specs],
        actor=actor,
        title=old.title,
        exclude_drawn_same_item_year=old.exclude_drawn_same_item_year,
        supersedes_id=old.id,
        redraw_reason=reason,
        policy=policy,
    )


def verify_draw(*, db_session: Session, draw_id: int) -> VerifyResult:
    """Verify a revealed draw from its publication, and that the database's selection and
    concrete tasks are the published ones."""
    draw = get_draw(db_session=db_session, draw_id=draw_id)
    result = verify_published(published_json(draw))
    expected = {code for s in result.strata for code in s.selected}
    stored = {m.credit_code for m in draw.members if m.selected}
    if stored != expected:
        result.problems.append("数据库中记录的抽中企业与按种子重算的结果不符")
    tasks = db_session.execute(
        select(Enterprise.credit_code, InspectionTask.plan_task_id)
        .join(Enterprise, Enterprise.id == InspectionTask.enterprise_id)
        .where(InspectionTask.draw_id == draw.id)
    ).all()
    for link in draw.specs:
        codes = {code for code, task_id in tasks if task_id == link.plan_task_id}
        if codes != expected:
            result.problems.append(f"计划任务 {link.plan_task_id} 生成的检查任务与抽中名单不符")
    result.ok = not result.problems
    return result
