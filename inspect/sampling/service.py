"""Double-random draws (双随机抽取): the public ceremony commit → beacon → run → publish.

1. commit: snapshot the population of the spec's scope with every exclusion and its reason
   (white list, drawn this year for the same item, class A exempt, inactive), fix the strata
   and their sizes n, make a fresh 256-bit secret seed, seal it (sealing.py) and record
   SHA-256 of it, name the beacon (source and day: by default the Shanghai Composite close of
   the first trading day after the commit) and the audit trail's head. The commitment and its
   digest are public at once (public list, public API, audit record DRAW_COMMIT).
2. beacon: on or after its day, a coordinator enters the beacon's value (once; DRAW_BEACON).
3. run: final seed = SHA-256(secret ‖ beacon); rank each stratum by HMAC-SHA256(final seed,
   credit code), take the first n, create the concrete tasks (one per department spec), and
   reveal the secret with the result. Nobody could choose the outcome: the beacon was unknown
   at commit, the secret was sealed, and the population was fixed by its hash.
4. publish: the coordinator's formal 公示 of a run draw (the JSON was public from the run on).

A draw is never re-run or changed. To draw again, a coordinator requests it with a reason and
a legal reviewer (法制审核, another person of another role) approves it with a reason; the
approval ends the old draw (abandoned if it never ran, superseded if it did), reveals its
seed, and commits a new draw with a new secret and a new beacon day. Every draw stays on the
public list; at most `sampling.max_redraws_per_task` redraws per plan task.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import head as audit_head
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.auth.access import PermissionDenied
from checkonce.calendar import WorkCalendar
from checkonce.db import utcnow
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.plans.models import RISK_STRATA, InspectionTask, PlanTask
from checkonce.plans.scope import describe_scope, enterprises_in_scope, normalize_scope
from checkonce.plans.service import MAX_ID
from checkonce.policy import BeaconPolicy, Policy, jurisdiction_policy
from checkonce.registry.models import Enterprise
from checkonce.sampling import sealing, selection
from checkonce.sampling.models import Draw, DrawMember, DrawSpec, RedrawRequest
from checkonce.sampling.verify import LEGACY_SCHEMA, SCHEMA, VerifyResult, verify_published

ALGORITHM = {
    "seed_sha256": "SHA-256 of the 32 secret-seed bytes S (seed = 64 hex digits)",
    "beacon": "B = UTF-8 of '<source>|<YYYY-MM-DD>|<value>', the value with exactly the "
    "source's decimal places",
    "final_seed": "F = SHA-256(S ‖ B), 32 bytes, hex",
    "population_sha256": "SHA-256 of canonical JSON {'excluded': [[credit code, reason], …] "
    "sorted, 'included': sorted credit codes}; each stratum: SHA-256 of its sorted credit "
    "codes joined by '\\n', UTF-8",
    "n": "count (at most the stratum size) when given, else ratio × size in exact decimals "
    "rounded as the stratum's 'rounding' says (ceil or floor)",
    "rank": "ascending HMAC-SHA256(key = F, message = credit code UTF-8) hex; ties by credit "
    "code; the first n of each stratum are selected",
    "commitment_sha256": "SHA-256 of the commitment as JSON with sorted keys, separators "
    "(',', ':'), UTF-8 without escaping",
}

LIVE_STATES = ("committed", "drawn", "revealed", "published")
RUN_STATES = ("drawn", "revealed", "published")


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


# --- the beacon ------------------------------------------------------------------------


def _utc(now: dt.datetime | None) -> dt.datetime:
    """`now` (default: the clock) as aware UTC, whole seconds: stored times are UTC on every
    backend (SQLite keeps no offset), so the commitment's text never changes on reload."""
    moment = now or utcnow()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def local_now(policy: Policy, now: dt.datetime | None = None) -> dt.datetime:
    """`now` (default: the clock) in the jurisdiction's time zone."""
    zone = zoneinfo.ZoneInfo(policy.jurisdiction.timezone)
    moment = now or utcnow()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone)


def publishes_on(beacon: BeaconPolicy, calendar: WorkCalendar, day: dt.date) -> bool:
    """Whether the beacon's source publishes a value on `day` (a trading day: a workday of
    the calendar, holidays and 调休 known, that is also Monday–Friday)."""
    if beacon.days == "every_day":
        return True
    if beacon.days == "workday":
        return calendar.is_workday(day)
    return day.weekday() < 5 and calendar.is_workday(day)


def beacon_day(beacon: BeaconPolicy, calendar: WorkCalendar, committed: dt.date) -> dt.date:
    """The first day after the commitment's (local) day on which the source publishes."""
    day = committed + dt.timedelta(days=1)
    while not publishes_on(beacon, calendar, day):
        day += dt.timedelta(days=1)
    return day


def normalize_beacon_value(text: str, decimals: int) -> str:
    """The value as a positive decimal written with exactly `decimals` places, or a clear
    error (a close of 3352.1 is "3352.10"; 3352.123 is refused, not rounded)."""
    raw = str(text or "").strip().replace(",", "").replace("，", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise CheckOnceError(f"随机源数值「{text}」不是数字") from None
    if not value.is_finite() or value <= 0:
        raise CheckOnceError(f"随机源数值「{text}」应为正数")
    if -value.as_tuple().exponent > decimals:  # type: ignore[operator]
        raise CheckOnceError(f"随机源数值「{text}」最多 {decimals} 位小数（按公布值原样录入）")
    if value >= Decimal(10) ** 12:
        raise CheckOnceError(f"随机源数值「{text}」过大")
    return f"{value:.{decimals}f}"


def beacon_message(draw: Draw) -> bytes:
    """The recorded beacon's bytes (selection.beacon_message)."""
    assert draw.beacon_source and draw.beacon_date and draw.beacon_value
    return selection.beacon_message(
        draw.beacon_source, draw.beacon_date.isoformat(), draw.beacon_value
    )


# --- commit ----------------------------------------------------------------------------


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
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
    now: dt.datetime | None = None,
) -> Draw:
    """Record and publish a draw's commitment (secret-seed hash, population hash with its
    exclusions, strata, beacon source and day, audit head) before anything is drawn.

    Several specs of different departments make a joint draw (部门联合双随机): they must share
    the same scope and strata, and one selection serves them all. Drawing a spec again is
    never done here: it takes an approved redraw request.
    """
    access.require(actor, AuditAction.DRAW_COMMIT)
    return _commit(
        db_session,
        plan_task_ids=plan_task_ids,
        actor=actor,
        title=title,
        exclude_drawn_same_item_year=exclude_drawn_same_item_year,
        policy=policy,
        calendar=calendar,
        now=now,
    )


def _commit(
    db_session: Session,
    *,
    plan_task_ids: list[int],
    actor: Actor,
    title: str,
    exclude_drawn_same_item_year: bool | None,
    policy: Policy | None,
    calendar: WorkCalendar | None,
    now: dt.datetime | None,
    supersedes: Draw | None = None,
    redraw_reason: str | None = None,
) -> Draw:
    policy = policy or jurisdiction_policy()
    calendar = calendar or WorkCalendar.from_settings()
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
    supersedes_id = supersedes.id if supersedes is not None else None
    # A spec may be served by one live draw only: drawing again takes an approved redraw.
    live = db_session.scalars(
        select(DrawSpec).where(DrawSpec.plan_task_id.in_([s.id for s in specs]))
    ).all()
    for link in live:
        if link.draw_id not in superseded and link.draw_id != supersedes_id:
            raise Conflict(
                f"计划任务 {link.plan_task_id} 已由抽取 {link.draw_id} 抽取过；"
                "如需重抽，请申请重新抽取并经法制审核批准"
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
    excluded: list[tuple[str, str]] = []
    for enterprise in enterprises_in_scope(db_session, scope, include_inactive=True):
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
        else:
            excluded.append((enterprise.credit_code, reason))

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
    committed_at = _utc(now)
    beacon = policy.sampling.beacon
    day = beacon_day(beacon, calendar, local_now(policy, committed_at).date())
    seq, head_hash = audit_head(db_session)
    seed = selection.new_seed()
    seed_hash = selection.seed_sha256(seed)
    draw = Draw(
        year=year,
        state="committed",
        title=title
        or "、".join(f"{s.plan.department.short_name}{s.item_list[0].code}" for s in specs),
        seed=None,
        seed_sealed=sealing.seal(seed, seed_hash),
        seed_sha256=seed_hash,
        beacon_source=beacon.source,
        beacon_name=beacon.name,
        beacon_date=day,
        population_sha256=selection.population_sha256_with_exclusions(population, excluded),
        population_size=len(population),
        strata=strata,
        scope=scope,
        exclude_drawn_same_item_year=exclude,
        whitelist_rule=whitelist_rule,
        commitment_sha256="0" * 64,  # set below, once the id is known
        supersedes_id=supersedes_id,
        redraw_reason=redraw_reason,
        committed_by=actor.label[:80],
        committed_at=committed_at,
        audit_seq=seq,
        audit_hash=head_hash,
    )
    del seed  # only the sealed copy outlives this call
    draw.specs = [DrawSpec(plan_task_id=s.id, position=i) for i, s in enumerate(specs)]
    draw.members = members
    db_session.add(draw)
    db_session.flush()
    announced = commitment(draw)
    draw.commitment_sha256 = selection.commitment_sha256(announced)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.DRAW_COMMIT,
        object_type="draw",
        object_id=draw.id,
        after={"state": draw.state, "commitment_sha256": draw.commitment_sha256},
        detail={"commitment": announced},
    )
    return draw


def _exclusion(
    enterprise: Enterprise,
    policy: Policy,
    include_whitelisted: bool,
    strata_spec: dict[str, dict[str, Any]],
    drawn_already: dict[int, set[str]],
    year: int,
) -> str | None:
    if not enterprise.active:
        return "非在营企业（登记为注销、吊销或停业）"
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
    """What is fixed before the draw runs; public at once (no seed in it)."""
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
    out: dict[str, Any] = {
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
    if draw.ceremony:
        assert draw.beacon_date is not None
        out["beacon"] = {
            "source": draw.beacon_source,
            "name": draw.beacon_name,
            "date": draw.beacon_date.isoformat(),
        }
        out["audit"] = {"seq": draw.audit_seq, "hash": draw.audit_hash}
    return out


def _schema(draw: Draw) -> str:
    return SCHEMA if draw.ceremony else LEGACY_SCHEMA


def publish_commitment(draw: Draw) -> dict[str, Any]:
    """The pre-draw publication: the commitment and its digest, no seed."""
    return {
        "schema": _schema(draw),
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


# --- beacon, run, reveal, publish ------------------------------------------------------


def record_beacon(
    *,
    db_session: Session,
    draw_id: int,
    value: str,
    actor: Actor,
    policy: Policy | None = None,
    now: dt.datetime | None = None,
) -> Draw:
    """Enter the beacon's published value, once, on or after its day (from the time the
    source's value is final)."""
    access.require(actor, AuditAction.DRAW_BEACON)
    policy = policy or jurisdiction_policy()
    draw = get_draw(db_session=db_session, draw_id=draw_id)
    if not draw.ceremony:
        raise Conflict(f"抽取 {draw.id} 是随机源制度实施前的抽取，没有随机源")
    if draw.state != "committed":
        raise Conflict(f"抽取 {draw.id} 当前为“{draw.state_name}”，不能再录入随机源")
    if draw.beacon_value is not None:
        raise Conflict(
            f"抽取 {draw.id} 的随机源已录入（{draw.beacon_value}），不能修改；"
            "如录入有误，须申请重新抽取"
        )
    assert draw.beacon_date is not None
    beacon = policy.sampling.beacon
    opens = dt.datetime.combine(draw.beacon_date, dt.time.fromisoformat(beacon.available_after))
    here = local_now(policy, now)
    if here.replace(tzinfo=None) < opens:
        raise Conflict(
            f"抽取 {draw.id} 的随机源是 {draw.beacon_date:%Y-%m-%d} 的{draw.beacon_name}，"
            f"须在当日 {beacon.available_after} 之后录入（承诺时谁都不知道这个数）"
        )
    draw.beacon_value = normalize_beacon_value(value, beacon.decimals)
    draw.beacon_recorded_by = actor.label[:80]
    draw.beacon_recorded_at = _utc(now)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.DRAW_BEACON,
        object_type="draw",
        object_id=draw.id,
        after={
            "beacon": {
                "source": draw.beacon_source,
                "name": draw.beacon_name,
                "date": draw.beacon_date.isoformat(),
                "value": draw.beacon_value,
            }
        },
    )
    return draw


def _secret(draw: Draw) -> str:
    if draw.seed is not None:
        return draw.seed
    assert draw.seed_sealed is not None
    return sealing.unseal(draw.seed_sealed, draw.seed_sha256)


def _ranking_key(draw: Draw, secret: str) -> str:
    """The HMAC key of the ranking: the final seed (ceremony) or the secret (older draws)."""
    if not draw.ceremony:
        return secret
    return selection.final_seed(secret, beacon_message(draw))


def run_draw(
    *,
    db_session: Session,
    draw_id: int,
    actor: Actor,
    policy: Policy | None = None,
    now: dt.datetime | None = None,
) -> Draw:
    """Select per stratum with the final seed, create the concrete tasks (one per department
    spec per selected enterprise) and reveal the secret seed with the result. Only a
    committed draw runs, only once, and only with its beacon entered on its day."""
    access.require(actor, AuditAction.DRAW_RUN)
    policy = policy or jurisdiction_policy()
    draw = get_draw(db_session=db_session, draw_id=draw_id)
    if draw.state != "committed":
        raise Conflict(f"抽取 {draw.id} 当前为“{draw.state_name}”，每次抽取只能执行一次")
    if draw.id in _superseded_ids(db_session):
        raise Conflict(f"抽取 {draw.id} 已被重新抽取取代，不能再执行")
    if draw.ceremony:
        assert draw.beacon_date is not None
        today = local_now(policy, now).date()
        if today < draw.beacon_date:
            raise Conflict(
                f"抽取 {draw.id} 须在随机源日 {draw.beacon_date:%Y-%m-%d} 当日或之后执行"
                f"（今天是 {today:%Y-%m-%d}）"
            )
        if draw.beacon_value is None:
            raise Conflict(
                f"抽取 {draw.id} 尚未录入随机源（{draw.beacon_date:%Y-%m-%d} 的{draw.beacon_name}），"
                "不能执行"
            )
    secret = _secret(draw)
    key = _ranking_key(draw, secret)
    groups = _population_by_stratum(draw)
    selected: list[DrawMember] = []
    for stratum in draw.strata:
        members = {m.credit_code: m for m in groups.get(stratum["name"], [])}
        order = selection.rank(key, members)
        for position, code in enumerate(order, start=1):
            members[code].rank = position
            if position <= stratum["n"]:
                members[code].selected = True
                selected.append(members[code])

    if draw.supersedes_id is not None:
        _deactivate_tasks(db_session, _chain(db_session, draw.supersedes_id))

    policy_team = policy.team.min_team
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
    moment = _utc(now)
    draw.drawn_by = actor.label[:80]
    draw.drawn_at = moment
    if draw.ceremony:
        # The secret is revealed with the result: nothing is left to hide once it is drawn.
        draw.final_seed = key
        draw.seed = secret
        draw.state = "revealed"
        draw.revealed_by = actor.label[:80]
        draw.revealed_at = moment
    else:
        draw.state = "drawn"
    db_session.flush()
    picked = sorted(m.credit_code for m in selected)
    record(
        db_session,
        actor=actor,
        action=AuditAction.DRAW_RUN,
        object_type="draw",
        object_id=draw.id,
        before={"state": "committed"},
        after={"state": draw.state, "selected": picked, "final_seed": draw.final_seed},
    )
    if draw.ceremony:
        record(
            db_session,
            actor=actor,
            action=AuditAction.DRAW_REVEAL,
            object_type="draw",
            object_id=draw.id,
            after={"seed": draw.seed},
        )
    return draw


def _deactivate_tasks(db_session: Session, draw_ids: set[int]) -> None:
    """Keep the tasks of replaced draws for the record, but take them out of the schedule."""
    for task in db_session.scalars(
        select(InspectionTask).where(InspectionTask.draw_id.in_(draw_ids))
    ):
        task.active = False


def reveal_draw(*, db_session: Session, draw_id: int, actor: Actor) -> Draw:
    """Disclose the seed of a draw of before the ceremony that has run (a ceremony draw
    reveals its seed when it runs)."""
    access.require(actor, AuditAction.DRAW_REVEAL)
    draw = get_draw(db_session=db_session, draw_id=draw_id)
    if draw.state != "drawn":
        if draw.seed_public:
            raise Conflict(f"抽取 {draw.id} 的种子已公开")
        raise Conflict(f"抽取 {draw.id} 当前为“{draw.state_name}”，只有已抽取的才能公开种子")
    draw.state = "revealed"
    draw.revealed_by = actor.label[:80]
    draw.revealed_at = utcnow()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.DRAW_REVEAL,
        object_type="draw",
        object_id=draw.id,
        before={"state": "drawn"},
        after={"state": "revealed", "seed": draw.seed},
    )
    return draw


def _stratum_lists(draw: Draw, key: str | None) -> list[dict[str, Any]]:
    groups = _population_by_stratum(draw)
    ran = draw.state in RUN_STATES or draw.state == "superseded"
    strata = []
    for stratum in draw.strata:
        members = groups.get(stratum["name"], [])
        entry: dict[str, Any] = {
            "name": stratum["name"],
            "population": sorted(m.credit_code for m in members),
        }
        if ran:
            chosen = sorted((m for m in members if m.selected), key=lambda m: m.rank or 0)
            entry["selected"] = [m.credit_code for m in chosen]
        elif key is not None:
            # Abandoned after its beacon: what it would have drawn, for all to see.
            entry["would_have_selected"] = selection.rank(key, entry["population"])[: stratum["n"]]
        strata.append(entry)
    return strata


def published_json(draw: Draw) -> dict[str, Any]:
    """The full publication of a draw whose seed is public (run, abandoned or superseded):
    the verifier needs only this."""
    if not draw.seed_public:
        raise Conflict(f"抽取 {draw.id} 当前为“{draw.state_name}”，种子公开后才能公示结果")
    out = publish_commitment(draw)
    out["seed"] = draw.seed
    key: str | None = None
    if draw.ceremony:
        out["beacon"] = {
            "source": draw.beacon_source,
            "date": draw.beacon_date.isoformat() if draw.beacon_date else None,
            "value": draw.beacon_value,
            "recorded_by": draw.beacon_recorded_by,
            "recorded_at": _iso_utc(draw.beacon_recorded_at),
        }
        if draw.beacon_value is not None:
            assert draw.seed is not None
            key = selection.final_seed(draw.seed, beacon_message(draw))
        out["final_seed"] = key
    out["strata"] = _stratum_lists(draw, key)
    out["excluded"] = [
        {"credit_code": m.credit_code, "stratum": m.stratum, "reason": m.excluded_reason}
        for m in sorted(draw.members, key=lambda m: m.credit_code)
        if m.excluded_reason
    ]
    out["drawn"] = {"by": draw.drawn_by, "at": _iso_utc(draw.drawn_at)}
    out["revealed"] = {"by": draw.revealed_by, "at": _iso_utc(draw.revealed_at)}
    if draw.ended_at is not None:
        out["ended"] = {
            "state": draw.state,
            "by": draw.ended_by,
            "at": _iso_utc(draw.ended_at),
            "reason": draw.end_reason,
        }
    return out


def public_json(*, db_session: Session, draw: Draw) -> dict[str, Any]:
    """What anyone may see of a draw, in every state: the commitment from the moment of
    commit, the beacon once entered, everything once the seed is public; with the redraw
    history of its plan tasks."""
    if draw.seed_public:
        out = published_json(draw)
    else:
        out = publish_commitment(draw)
        if draw.ceremony:
            out["beacon"] = {
                "source": draw.beacon_source,
                "date": draw.beacon_date.isoformat() if draw.beacon_date else None,
                "value": draw.beacon_value,
                "recorded_by": draw.beacon_recorded_by,
                "recorded_at": _iso_utc(draw.beacon_recorded_at),
            }
    out["state_name"] = draw.state_name
    out["redraws"] = redraw_history(db_session=db_session, draw=draw)
    return out


def publish_draw(*, db_session: Session, draw_id: int, actor: Actor) -> dict[str, Any]:
    """Before the run: the commitment. After the run: mark published (公示) and return the
    full JSON."""
    access.require(actor, AuditAction.DRAW_PUBLISH)
    draw = get_draw(db_session=db_session, draw_id=draw_id)
    if draw.state in ("committed", "drawn"):
        return publish_commitment(draw)
    if draw.state == "revealed":
        draw.state = "published"
        draw.published_by = actor.label[:80]
        draw.published_at = utcnow()
        db_session.flush()
        record(
            db_session,
            actor=actor,
            action=AuditAction.DRAW_PUBLISH,
            object_type="draw",
            object_id=draw.id,
            before={"state": "revealed"},
            after={"state": "published"},
        )
    return published_json(draw)


# --- redraws ---------------------------------------------------------------------------


def redraw_counts(*, db_session: Session, plan_task_ids: list[int]) -> dict[int, int]:
    """Approved redraws so far per plan task (draws that supersede another)."""
    if not plan_task_ids:
        return {}
    rows = db_session.execute(
        select(DrawSpec.plan_task_id, func.count())
        .join(Draw, Draw.id == DrawSpec.draw_id)
        .where(Draw.supersedes_id.is_not(None), DrawSpec.plan_task_id.in_(plan_task_ids))
        .group_by(DrawSpec.plan_task_id)
    ).all()
    counts = {task_id: 0 for task_id in plan_task_ids}
    counts.update({task_id: n for task_id, n in rows})
    return counts


def redraw_history(*, db_session: Session, draw: Draw) -> dict[str, Any]:
    """The draws of the same plan tasks, in order, with their states, and every redraw
    request (approved, rejected, pending) with both reasons."""
    task_ids = [link.plan_task_id for link in draw.specs]
    draw_ids = sorted(
        set(db_session.scalars(select(DrawSpec.draw_id).where(DrawSpec.plan_task_id.in_(task_ids))))
    )
    draws = db_session.scalars(select(Draw).where(Draw.id.in_(draw_ids)).order_by(Draw.id)).all()
    requests = db_session.scalars(
        select(RedrawRequest).where(RedrawRequest.draw_id.in_(draw_ids)).order_by(RedrawRequest.id)
    ).all()
    return {
        "count_by_plan_task": {
            str(k): v
            for k, v in redraw_counts(db_session=db_session, plan_task_ids=task_ids).items()
        },
        "draws": [
            {
                "draw": d.id,
                "state": d.state,
                "state_name": d.state_name,
                "supersedes": d.supersedes_id,
                "reason": d.redraw_reason,
                "commitment_sha256": d.commitment_sha256,
                "committed_at": _iso_utc(d.committed_at),
            }
            for d in draws
        ],
        "requests": [
            {
                "id": r.id,
                "draw": r.draw_id,
                "state": r.state,
                "reason": r.reason,
                "requested_by": r.requested_by,
                "requested_at": _iso_utc(r.requested_at),
                "decided_by": r.decided_by,
                "decided_at": _iso_utc(r.decided_at),
                "decision_note": r.decision_note,
                "new_draw": r.new_draw_id,
            }
            for r in requests
        ],
    }


def get_request(*, db_session: Session, request_id: int) -> RedrawRequest:
    request = db_session.get(RedrawRequest, request_id) if 0 < request_id <= MAX_ID else None
    if request is None:
        raise NotFound(f"重新抽取申请 {request_id} 不存在")
    return request


def list_requests(*, db_session: Session, state: str | None = None) -> list[RedrawRequest]:
    stmt = select(RedrawRequest).order_by(RedrawRequest.id.desc())
    if state is not None:
        stmt = stmt.where(RedrawRequest.state == state)
    return list(db_session.scalars(stmt))


def _reason(text: str | None, what: str) -> str:
    value = (text or "").strip()
    if len(value) < 2:
        raise CheckOnceError(f"{what}须写明理由（至少 2 个字）")
    if len(value) > 500:
        raise CheckOnceError(f"{what}的理由过长（最多 500 字）")
    return value


def _check_redraw_quota(db_session: Session, draw: Draw, policy: Policy) -> None:
    limit = policy.sampling.max_redraws_per_task
    counts = redraw_counts(
        db_session=db_session, plan_task_ids=[link.plan_task_id for link in draw.specs]
    )
    for task_id, n in counts.items():
        if n >= limit:
            raise Conflict(
                f"计划任务 {task_id} 已重新抽取 {n} 次，达到政策规定的上限 {limit} 次，"
                "不能再重新抽取"
            )


def request_redraw(
    *,
    db_session: Session,
    draw_id: int,
    reason: str,
    actor: Actor,
    policy: Policy | None = None,
) -> RedrawRequest:
    """A coordinator asks to draw again, with a reason; nothing changes until a legal
    reviewer approves."""
    access.require(actor, AuditAction.REDRAW_REQUEST)
    policy = policy or jurisdiction_policy()
    reason = _reason(reason, "申请重新抽取")
    draw = get_draw(db_session=db_session, draw_id=draw_id)
    if draw.state not in LIVE_STATES or draw.id in _superseded_ids(db_session):
        raise Conflict(f"抽取 {draw.id} 当前为“{draw.state_name}”，不能再申请重新抽取")
    pending = db_session.scalar(
        select(RedrawRequest.id).where(
            RedrawRequest.draw_id == draw.id, RedrawRequest.state == "pending"
        )
    )
    if pending is not None:
        raise Conflict(f"抽取 {draw.id} 已有待审核的重新抽取申请（{pending} 号）")
    _check_redraw_quota(db_session, draw, policy)
    request = RedrawRequest(
        draw_id=draw.id,
        state="pending",
        reason=reason,
        requested_by=actor.label[:80],
        requested_by_user_id=actor.user_id,
        requested_at=utcnow(),
    )
    db_session.add(request)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.REDRAW_REQUEST,
        object_type="redraw_request",
        object_id=request.id,
        after={"draw": draw.id, "draw_state": draw.state, "reason": reason},
    )
    return request


def _decide(db_session: Session, request_id: int, actor: Actor, action: AuditAction):
    access.require(actor, action)
    request = get_request(db_session=db_session, request_id=request_id)
    if request.state != "pending":
        raise Conflict(f"重新抽取申请 {request.id} 已{request.state_name}，不能再审核")
    same_account = actor.user_id is not None and actor.user_id == request.requested_by_user_id
    if same_account or actor.label == request.requested_by:
        raise PermissionDenied("申请人不能审核自己的重新抽取申请：须由另一人审核")
    return request


def approve_redraw(
    *,
    db_session: Session,
    request_id: int,
    note: str,
    actor: Actor,
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
    now: dt.datetime | None = None,
) -> Draw:
    """A legal reviewer approves a redraw: the old draw ends (abandoned, or superseded if it
    ran), its seed is revealed, and a new draw is committed at once with a new secret and a
    new beacon day. Returns the new draw."""
    request = _decide(db_session, request_id, actor, AuditAction.REDRAW_APPROVE)
    note = _reason(note, "批准重新抽取")
    policy = policy or jurisdiction_policy()
    old = get_draw(db_session=db_session, draw_id=request.draw_id)
    if old.state not in LIVE_STATES:
        raise Conflict(f"抽取 {old.id} 当前为“{old.state_name}”，不能再重新抽取")
    _check_redraw_quota(db_session, old, policy)
    moment = _utc(now)
    before = old.state
    old.seed = _secret(old)
    old.state = "superseded" if before in RUN_STATES else "abandoned"
    old.ended_by = actor.label[:80]
    old.ended_at = moment
    old.end_reason = request.reason
    if old.state == "superseded":
        _deactivate_tasks(db_session, {old.id})
    request.state = "approved"
    request.decided_by = actor.label[:80]
    request.decided_by_user_id = actor.user_id
    request.decided_at = moment
    request.decision_note = note
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.REDRAW_APPROVE,
        object_type="redraw_request",
        object_id=request.id,
        before={"state": "pending"},
        after={"state": "approved", "note": note},
        detail={"draw": old.id, "reason": request.reason, "requested_by": request.requested_by},
    )
    record(
        db_session,
        actor=actor,
        action=AuditAction.DRAW_ABANDON,
        object_type="draw",
        object_id=old.id,
        before={"state": before},
        after={"state": old.state, "seed": old.seed},
        detail={"reason": request.reason, "redraw_request": request.id},
    )
    new = _commit(
        db_session,
        plan_task_ids=[link.plan_task_id for link in old.specs],
        actor=actor,
        title=old.title,
        exclude_drawn_same_item_year=old.exclude_drawn_same_item_year,
        policy=policy,
        calendar=calendar,
        now=moment,
        supersedes=old,
        redraw_reason=request.reason,
    )
    request.new_draw_id = new.id
    db_session.flush()
    return new


def reject_redraw(
    *, db_session: Session, request_id: int, note: str, actor: Actor
) -> RedrawRequest:
    """A legal reviewer rejects a redraw request, with a reason; the draw stands."""
    request = _decide(db_session, request_id, actor, AuditAction.REDRAW_REJECT)
    note = _reason(note, "驳回重新抽取")
    request.state = "rejected"
    request.decided_by = actor.label[:80]
    request.decided_by_user_id = actor.user_id
    request.decided_at = utcnow()
    request.decision_note = note
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.REDRAW_REJECT,
        object_type="redraw_request",
        object_id=request.id,
        before={"state": "pending"},
        after={"state": "rejected", "note": note},
        detail={"draw": request.draw_id, "reason": request.reason},
    )
    return request


# --- verification ----------------------------------------------------------------------


def verify_draw(
    *, db_session: Session, draw_id: int, commitment: str | None = None
) -> VerifyResult:
    """Verify a draw whose seed is public from its publication (against `commitment`, the
    digest recorded at commit time, when given), and that the database's selection and
    concrete tasks are the published ones."""
    draw = get_draw(db_session=db_session, draw_id=draw_id)
    result = verify_published(published_json(draw), commitment=commitment)
    if draw.state == "abandoned":
        result.ok = not result.problems
        return result
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


# --- the inspector-ranking key of a schedule -------------------------------------------

TEAM_KEY_SCHEMA = "checkonce.team-key/1"


def team_key(period: str, final_seeds: list[str]) -> str:
    """The inspector-ranking key of `period`'s schedule (执法人员随机选派的密钥):
    SHA-256 of UTF-8 "checkonce.team-key/1\\n<period>\\n" followed by the period's published
    draws' final seeds, sorted, each on its own line. Nobody chooses it: it follows from draws
    whose seeds were fixed by their beacons."""
    text = f"{TEAM_KEY_SCHEMA}\n{period}\n" + "".join(f"{s}\n" for s in sorted(final_seeds))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def period_draws(*, db_session: Session, start: dt.date, end: dt.date) -> list[Draw]:
    """The run draws with a public seed (revealed or published; never abandoned or
    superseded) whose plan tasks' windows overlap `start`–`end`."""
    rows = db_session.scalars(
        select(Draw)
        .join(DrawSpec, DrawSpec.draw_id == Draw.id)
        .join(PlanTask, PlanTask.id == DrawSpec.plan_task_id)
        .where(
            Draw.state.in_(("revealed", "published")),
            PlanTask.window_start <= end,
            PlanTask.window_end >= start,
        )
        .order_by(Draw.id)
    )
    return list(dict.fromkeys(rows))


def _ranking_seed(draw: Draw) -> str:
    seed = draw.final_seed or draw.seed
    assert seed is not None
    return seed


def team_key_for_period(
    *, db_session: Session, period: str, start: dt.date, end: dt.date
) -> tuple[str, list[dict[str, Any]]]:
    """The period's key and the draws it comes from ([{"draw", "final_seed"}], by id)."""
    sources = [
        {"draw": d.id, "final_seed": _ranking_seed(d)}
        for d in period_draws(db_session=db_session, start=start, end=end)
    ]
    return team_key(period, [s["final_seed"] for s in sources]), sources


def check_team_key(*, db_session: Session, period: str, key: str, draw_ids: list[int]) -> list[str]:
    """Problems (Chinese) with a schedule's recorded key: recomputed from the recorded draws'
    current public seeds, each of which must still be a run draw with its seed public."""
    problems = []
    seeds = []
    for draw_id in draw_ids:
        draw = db_session.get(Draw, draw_id)
        if draw is None or draw.state not in ("revealed", "published"):
            state = "不存在" if draw is None else f"为“{draw.state_name}”"
            problems.append(f"排序密钥所依据的抽取 {draw_id} {state}")
            continue
        seeds.append(_ranking_seed(draw))
    if not problems and team_key(period, seeds) != key:
        problems.append("排序密钥与按所依据抽取的最终种子重算的结果不符")
    return problems
