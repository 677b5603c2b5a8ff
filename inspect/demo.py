"""The Xi'an demo, end to end: registry → bureau plans → validation → double-random draws →
merged "check once" schedule → verifier. Everything a run writes goes to one output folder;
the summary says where to look. Same seed, same demo."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.audit.actor import Actor, Channel
from checkonce.calendar import WorkCalendar
from checkonce.errors import CheckOnceError
from checkonce.plans.models import Plan, PlanTask
from checkonce.plans.service import PlanNotSubmittable, approve_plan, create_plan, submit_plan
from checkonce.policy import Policy
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import Enterprise
from checkonce.sampling.service import commit_draw, publish_draw, reveal_draw, run_draw
from checkonce.sampling.verify import verify_published

PERIOD = "2027Q1"
WINDOW = ("2027-01-04", "2027-03-31")
# Printed by the demo; demo accounts exist only in a demo database.
DEMO_PASSWORD = "checkonce-demo-2027"


@dataclass
class DemoRun:
    """What the demo did, for the summary and the tests."""

    plans: list[int] = field(default_factory=list)
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)
    draws: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    violations: int = 0
    calendar_note: str = ""
    schedule_id: int | None = None
    accounts: list[tuple[str, str]] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    actors: DemoActors | None = None


@dataclass
class DemoActors:
    """The demo's accounts as the actors of what it does: an administrator who opens the
    other accounts, a coordinator (approvals, draws, schedule) and a bureau account per
    department (its plans). Every action is recorded as one of them, channel CLI."""

    admin: Actor
    coordinator: Actor
    bureaus: dict[str, Actor]

    def bureau(self, department: str) -> Actor:
        return self.bureaus[department]


def _actor(user) -> Actor:
    from checkonce.auth.service import Principal

    return Actor.from_principal(Principal.of(user), channel=Channel.CLI)


def create_accounts(session: Session, run: DemoRun) -> DemoActors:
    """The demo's accounts, made first: the administrator by CheckOnce's own set-up, every
    other account by that administrator."""
    from checkonce.auth.service import create_user
    from checkonce.registry.models import Department

    setup = Actor.system("demo", channel=Channel.SYSTEM)
    admin = _actor(
        create_user(
            db_session=session, actor=setup, username="admin", password=DEMO_PASSWORD, role="admin"
        )
    )
    coordinator = _actor(
        create_user(
            db_session=session,
            actor=admin,
            username="coordinator",
            password=DEMO_PASSWORD,
            role="coordinator",
            display_name="市司法局行政执法协调监督科",
        )
    )
    bureaus = {}
    for dept in session.scalars(select(Department).order_by(Department.code)):
        bureaus[dept.code] = _actor(
            create_user(
                db_session=session,
                actor=admin,
                username=f"bureau-{dept.code.lower()}",
                password=DEMO_PASSWORD,
                role="bureau",
                display_name=f"{dept.short_name}计划科",
                department=dept.code,
            )
        )
    run.accounts += [("admin", "admin"), ("coordinator", "coordinator")]
    run.actors = DemoActors(admin=admin, coordinator=coordinator, bureaus=bureaus)
    return run.actors


def scene_random_tasks(juris: Jurisdiction) -> dict[str, list[tuple[str, dict]]]:
    """Per department, its random (双随机) specs: one per "check once" scene it takes part in,
    with its first item of that scene and the scene as scope, so every scene becomes one joint
    draw (部门联合双随机). One item per department keeps each draw at one routine inspection
    per department and enterprise."""
    out: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for scene in juris.scenes:
        taken = set()
        for code in scene["items"]:
            dept = juris.items[code]["department"]
            if dept in taken:
                continue
            taken.add(dept)
            out[dept].append(
                (
                    scene["code"],
                    {
                        "kind": "random",
                        "items": [code],
                        "window": list(WINDOW),
                        "scope": {"scenes": [scene["code"]]},
                        "note": f"{scene['name']}（联合抽查）",
                    },
                )
            )
    return out


def extra_tasks(session: Session) -> dict[str, list[dict]]:
    """Special campaigns, key supervision and complaints, as the bureaus file them."""
    d_class = list(
        session.scalars(
            select(Enterprise.credit_code)
            .where(Enterprise.risk_class == "D", Enterprise.industry_code == "manufacturing")
            .order_by(Enterprise.id)
            .limit(15)
        )
    )
    restaurants = list(
        session.scalars(
            select(Enterprise.credit_code)
            .where(Enterprise.industry_code == "restaurant", Enterprise.whitelisted.is_(False))
            .order_by(Enterprise.id)
            .limit(3)
        )
    )
    tasks: dict[str, list[dict]] = defaultdict(list)
    tasks["EMB"].append(
        {
            "kind": "special",
            "items": ["EMB-002"],
            "window": ["2027-01-04", "2027-02-03"],
            "scope": {"industries": ["hazardous_chemicals"]},
            "campaign_name": "2027年春节前后危险化学品安全专项检查",
            "approver": "市应急管理局局长办公会",
            "approval_date": "2026-12-16",
            "approval_document": "市应急发〔2026〕88号",
        }
    )
    tasks["FIRE"].append(
        {
            "kind": "special",
            "items": ["FIRE-001"],
            "window": ["2027-01-04", "2027-03-31"],
            "scope": {"industries": ["entertainment", "internet_cafe"]},
            "campaign_name": "2027年冬春火灾防控人员密集场所专项检查",
            "approver": "市消防救援支队党委会",
            "approval_date": "2026-12-20",
            "approval_document": "市消发〔2026〕41号",
        }
    )
    if d_class:
        tasks["SEE"].append(
            {
                "kind": "key",
                "items": ["SEE-001"],
                "window": list(WINDOW),
                "enterprises": d_class,
                "note": "重点排污单位（D类）",
            }
        )
    for i, code in enumerate(restaurants):
        tasks["SAMR"].append(
            {
                "kind": "triggered",
                "items": ["SAMR-SP-001"],
                "enterprises": [code],
                "reason": "complaint",
                "received_on": f"2027-01-{11 + i:02d}",
                "note": "12315 投诉：就餐后身体不适",
            }
        )
    return tasks


def flawed_culture_plan() -> dict:
    """A plan as first filed by 文旅局: its campaign lacks the approval record, so validation
    refuses it; the corrected version follows."""
    return {
        "department": "CULTURE",
        "period": PERIOD,
        "title": "2027年一季度文旅执法检查计划",
        "tasks": [
            {
                "kind": "special",
                "items": ["CULTURE-001"],
                "window": ["2027-01-04", "2027-02-26"],
                "scope": {"industries": ["entertainment"]},
                "campaign_name": "春节期间娱乐场所专项检查",
            }
        ],
    }


def file_plans(
    session: Session, juris: Jurisdiction, policy: Policy, calendar: WorkCalendar, run: DemoRun
) -> dict[str, list[int]]:
    """Every bureau files its plan; the coordinator approves the valid ones. Returns the
    random-spec plan task ids per scene (for the joint draws)."""
    randoms = scene_random_tasks(juris)
    extras = extra_tasks(session)
    actors = run.actors
    assert actors is not None

    flawed = create_plan(
        db_session=session,
        data=flawed_culture_plan(),
        actor=actors.bureau("CULTURE"),
        policy=policy,
        calendar=calendar,
    )
    try:
        submit_plan(
            db_session=session,
            plan_id=flawed.id,
            actor=actors.bureau("CULTURE"),
            policy=policy,
            calendar=calendar,
        )
    except PlanNotSubmittable as exc:
        run.rejected.append(("CULTURE", [f"[{x.rule}] {x.message}" for x in exc.findings]))
    corrected_extra = dict(
        flawed_culture_plan()["tasks"][0],
        approver="市文化和旅游局党组会",
        approval_date="2026-12-10",
        approval_document="市文旅发〔2026〕57号",
    )
    extras["CULTURE"].append(corrected_extra)

    specs_by_scene: dict[str, list[int]] = defaultdict(list)
    for dept in sorted(set(randoms) | set(extras)):
        tasks = [spec for _, spec in randoms.get(dept, [])] + extras.get(dept, [])
        plan = create_plan(
            db_session=session,
            actor=actors.bureau(dept),
            policy=policy,
            calendar=calendar,
            data={
                "department": dept,
                "period": PERIOD,
                "title": f"2027年一季度{dept}行政检查计划",
                "tasks": tasks,
            },
        )
        submit_plan(
            db_session=session,
            plan_id=plan.id,
            actor=actors.bureau(dept),
            policy=policy,
            calendar=calendar,
        )
        approve_plan(
            db_session=session,
            plan_id=plan.id,
            actor=actors.coordinator,
            policy=policy,
            calendar=calendar,
        )
        run.plans.append(plan.id)
        ordered = sorted(plan.tasks, key=lambda t: t.position)
        for (scene, _), task in zip(randoms.get(dept, []), ordered, strict=False):
            specs_by_scene[scene].append(task.id)
    return specs_by_scene


def run_draws(
    session: Session, specs_by_scene: dict[str, list[int]], policy: Policy, out: Path, run: DemoRun
) -> None:
    """One joint draw per scene: commitment published first, then run, reveal, publish and
    an independent re-check of the published JSON."""
    folder = out / "draws"
    folder.mkdir(parents=True, exist_ok=True)
    assert run.actors is not None
    coordinator = run.actors.coordinator
    for scene, task_ids in sorted(specs_by_scene.items()):
        titles = session.scalars(select(PlanTask.note).where(PlanTask.id == task_ids[0])).one()
        draw = commit_draw(
            db_session=session,
            plan_task_ids=task_ids,
            actor=coordinator,
            title=titles,
            policy=policy,
        )
        commitment = publish_draw(db_session=session, draw_id=draw.id, actor=coordinator)
        (folder / f"draw-{draw.id}-commitment.json").write_text(
            json.dumps(commitment, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        run_draw(db_session=session, draw_id=draw.id, actor=coordinator, policy=policy)
        reveal_draw(db_session=session, draw_id=draw.id, actor=coordinator)
        published = publish_draw(db_session=session, draw_id=draw.id, actor=coordinator)
        path = folder / f"draw-{draw.id}.json"
        path.write_text(json.dumps(published, ensure_ascii=False, indent=2), encoding="utf-8")
        check = verify_published(json.loads(path.read_text(encoding="utf-8")))
        if not check.ok:
            raise CheckOnceError(f"抽取 {draw.id} 公开数据复核不一致：{check.problems}")
        run.draws.append(
            {
                "id": draw.id,
                "scene": scene,
                "departments": len(task_ids),
                "file": path,
                "verified": check.ok,
            }
        )


def schedule(
    session: Session,
    policy: Policy,
    calendar: WorkCalendar,
    out: Path,
    run: DemoRun,
    *,
    seed: str,
    time_limit: float,
    workers: int,
) -> None:
    """Generate the period's schedule from the approved tasks as a coordinator would (stored
    as a version, verified), publish it, write the instance and schedule files, and compare
    with the status quo on the same instance."""
    from checkonce.scheduler import baselines
    from checkonce.scheduler.verify import verify
    from checkonce.visits.service import (
        prepare_generation,
        publish_schedule,
        solve_prepared,
        store_generation,
    )

    assert run.actors is not None
    coordinator = run.actors.coordinator
    prep = prepare_generation(
        db_session=session,
        period=PERIOD,
        actor=coordinator,
        seed=seed,
        policy=policy,
        calendar=calendar,
    )
    outcome = solve_prepared(prep, time_limit=time_limit, workers=workers)
    version = store_generation(db_session=session, prep=prep, outcome=outcome)
    if not outcome.violations:
        publish_schedule(db_session=session, schedule_id=version.id, actor=coordinator)
    instance_path = out / f"instance-{PERIOD}.json"
    instance_path.write_text(
        json.dumps(outcome.instance.to_json(), ensure_ascii=False), encoding="utf-8"
    )
    schedule_path = out / f"schedule-{PERIOD}.json"
    schedule_path.write_text(
        json.dumps(outcome.schedule.to_json(), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    run.files.update(instance=instance_path, schedule=schedule_path)
    run.schedule_id = version.id
    run.metrics = dict(outcome.metrics)
    run.violations = outcome.violations
    # The status quo (each department alone) is the comparison a coordinator asks for; the
    # greedy-merge baseline belongs to the benchmarks (`checkonce bench run`), where its
    # minutes of routing on a city-sized instance are worth spending.
    run.baselines["status_quo"] = dict(
        verify(outcome.instance, baselines.status_quo(outcome.instance)).metrics
    )


def demo_accounts(
    session: Session, run: DemoRun, out: Path, *, secret_key: str, base_url: str
) -> None:
    """The inspector's and the enterprise's accounts for trying the pages (opened by the
    demo's administrator): the team lead and the enterprise of the largest joint visit on
    the first day; that enterprise's QR poster is written next to the other outputs."""
    from checkonce.auth.service import create_user
    from checkonce.registry.models import Department, Inspector
    from checkonce.visits.codes import current_key, enterprise_token, enterprise_url
    from checkonce.visits.models import Visit
    from checkonce.visits.posters import PosterContent, render_poster

    if run.schedule_id is None:
        return
    visits = list(session.scalars(select(Visit).where(Visit.schedule_id == run.schedule_id)))
    if not visits:
        return
    first_day = min(v.day for v in visits)
    visit = max((v for v in visits if v.day == first_day), key=lambda v: (len(v.tasks), -v.id))
    inspector = session.get(Inspector, visit.team[0].inspector_id)
    firm = visit.enterprise
    dept = session.get(Department, inspector.department_id)
    assert run.actors is not None
    run.accounts.append((f"bureau-{dept.code.lower()}", "bureau"))
    accounts = [
        (f"inspector-{inspector.code.lower()}", "inspector", {"inspector": inspector.code}),
        (f"firm-{firm.credit_code[-6:].lower()}", "enterprise", {"credit_code": firm.credit_code}),
    ]
    for username, role, binding in accounts:
        create_user(
            db_session=session,
            actor=run.actors.admin,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            **binding,
        )
        run.accounts.append((username, role))
    current_key(db_session=session, actor=run.actors.admin)  # the admin opens the first key
    token = enterprise_token(
        db_session=session, secret_key=secret_key, credit_code=firm.credit_code
    )
    url = enterprise_url(base_url, token)
    poster = out / f"poster-{firm.credit_code}.png"
    poster.write_bytes(
        render_poster(PosterContent(url=url, name=firm.name, credit_code=firm.credit_code), "png")
    )
    run.files["poster"] = poster
    run.links["enterprise_page"] = url
    run.links["route_day"] = first_day.isoformat()
    run.links["route_inspector"] = inspector.code
    run.links["first_visit"] = (
        f"{visit.code}：{visit.day} {firm.name}，{len(visit.tasks)} 项检查、"
        f"{len(visit.team)} 名执法人员，带队 {inspector.name}"
    )


def write_maps(session: Session, juris: Jurisdiction, run: DemoRun, folder: Path) -> None:
    """The coverage map of the demo period and, when there are demo accounts, the route of the
    demo inspector's first day: single HTML files that open without a network."""
    from checkonce.maps.assets import AssetMode
    from checkonce.maps.base import render_html
    from checkonce.maps.coverage import CoverageFilter, coverage_data, coverage_map
    from checkonce.maps.routes import RouteFilter, route_data, route_map

    if run.schedule_id is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    coverage = coverage_data(
        db_session=session, jurisdiction=juris, filters=CoverageFilter(PERIOD, None, None)
    )
    path = folder / "coverage.html"
    path.write_text(render_html(coverage_map(coverage, juris), AssetMode.INLINE), encoding="utf-8")
    run.files["coverage_map"] = path
    run.metrics["enterprises_visited"] = coverage.visited
    run.metrics["enterprises"] = coverage.enterprises
    if "route_inspector" in run.links:
        day = dt.date.fromisoformat(run.links["route_day"])
        route = route_data(
            db_session=session, filters=RouteFilter(day, run.links["route_inspector"], None)
        )
        path = folder / "route.html"
        path.write_text(render_html(route_map(route, juris), AssetMode.INLINE), encoding="utf-8")
        run.files["route_map"] = path


def run_demo(
    *,
    session: Session,
    data_dir: Path,
    policy: Policy,
    calendar: WorkCalendar,
    out: Path,
    seed: str,
    time_limit: float = 60.0,
    workers: int = 2,
    secret_key: str = "",
    base_url: str = "http://127.0.0.1:8000",
) -> DemoRun:
    """Plans, draws and schedule on a database that already holds the demo registry."""
    out.mkdir(parents=True, exist_ok=True)
    run = DemoRun()
    year = int(PERIOD[:4])
    if calendar.is_provisional(year):
        run.calendar_note = (
            f"{year} 年节假日安排为临时版本（仅法定节假日，未含调休），"
            f"国务院通知发布后请更新 calendar/{year}.toml"
        )
    juris = Jurisdiction(data_dir)
    create_accounts(session, run)
    specs = file_plans(session, juris, policy, calendar, run)
    session.flush()
    run_draws(session, specs, policy, out, run)
    session.flush()
    schedule(session, policy, calendar, out, run, seed=seed, time_limit=time_limit, workers=workers)
    if secret_key:
        demo_accounts(session, run, out, secret_key=secret_key, base_url=base_url)
    write_maps(session, juris, run, out / "maps")
    run.metrics["plans"] = len(run.plans)
    run.metrics["approved_plans"] = session.query(Plan).filter(Plan.state == "approved").count()
    return run


def as_of_day() -> dt.date:
    """The demo's reference day: the first workday of the planned quarter."""
    return dt.date(2027, 1, 4)
