"""Nothing private reaches the public. A name, a mobile number, an 18-digit ID number and the
text of a complaint are planted into every free-text field an authority or an enterprise can
fill (task notes, the approver, results, corrections, checklist notes, fee findings, refunds,
ratings, reports, back-fill reasons, recusal reasons, addresses …); then every public route of
the app — enumerated from the app's own routes, so a new public route is crawled without
anyone adding it here — and every export is fetched, and none may contain them.

A second crawl fetches every GET route of the app as an inspector, a bureau and a coordinator:
none may hand out an enterprise code (the poster's token or its URL), in a body or a header.

Free-text columns are classified below: planted, or public by design, or written by the
system. A new free-text column fails `test_every_free_text_column_is_classified` until it is
put in one of the lists."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from itertools import product
from urllib.parse import quote, urlencode

from sqlalchemy import JSON, String, Text, insert, select, update

import checkonce.models  # noqa: F401  (every table)
from checkonce.api.cookies import SESSION_COOKIE
from checkonce.auth.service import issue_token
from checkonce.db import Base, utcnow
from checkonce.findings.models import TaskResult
from checkonce.findings.service import ResultInput, publish_results, record_result
from checkonce.visits import codes
from checkonce.visits.checkin_models import CheckIn
from checkonce.visits.inspection_codes import inspection_token
from tests import factories as f
from tests.api.conftest import SECRET
from tests.api.pages.test_access import page_routes
from tests.api.pages.test_public import draw
from tests.api.test_authorization import api_routes, declared_roles
from tests.findings.conftest import answers, tasks_of
from tests.visits.test_checkin import visit as visit_today

NAME = "诸葛秀兰"
MOBILE = "13912345678"


def id_number(first17: str) -> str:
    """An 18-character resident ID number with its GB 11643 check character."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


ID_NUMBER = id_number("61011319850712443")
COMPLAINT = "投诉：在店内吃烤肉后腹泻三天住院"
PLANTED = (NAME, MOBILE, ID_NUMBER, COMPLAINT)

# Free-text columns an authority or an enterprise fills, that the public must never see.
PLANT = {
    "plan": ["source"],
    "plan_event": ["note"],
    "plan_task": ["note", "approver"],
    "enterprise": ["address"],
    "conflict": ["reason"],
    "inspector_unavailability": ["reason"],
    "inspector_certification": ["basis"],
    "enterprise_report": ["department_said", "people", "description", "contact"],
    "visit_rating": ["comment"],
    "checkin": ["backfill_reason"],
    "fee_finding": ["unit_text", "item_charged", "receipt_no", "review_note"],
    "fee_refund": ["note"],
    "task_result": ["legal_basis", "notes", "correction_reason", "checklist"],
    "result_photo": ["filename"],
    "code_signing_key": ["revoke_reason"],
    "app_user": ["display_name"],
}
# Free text that is public by design (what a published plan, draw or result says of itself,
# and the reference data every page shows), or written by the system, not by people.
PUBLIC_BY_DESIGN = {
    "plan": ["title"],  # the plan's published title
    "plan_task": ["campaign_name", "approval_document", "scope", "strata"],
    "enterprise": ["name"],  # results are published under the enterprise's name
    "inspector": ["name"],  # the inspection-code page names the inspector to the enterprise
    "department": ["name"],
    "district": ["name"],
    "industry": ["name"],
    "scene": ["name"],
    "check_item": ["name", "legal_basis"],
    "checklist_entry": ["key", "text"],
    "charging_unit": ["name"],
    "fee_catalog_entry": ["item", "aliases", "unit", "legal_basis"],
    # the draw ceremony publishes its beacon, its end and every redraw with its reasons
    "draw": [
        "title",
        "redraw_reason",
        "strata",
        "scope",
        "whitelist_rule",
        "beacon_name",
        "beacon_source",
        "beacon_value",
        "end_reason",
    ],
    "redraw_request": ["reason", "decision_note", "requested_by", "decided_by"],
}
# Written by people, private, on no public route, and not planted by `build_world` yet
# (the documents' rows need a signed visit): the next test to extend the world plants them.
NOT_YET_PLANTED = {
    "document_signature": ["name", "role", "refusal_reason"],
    "reschedule_request": ["reason", "note"],
}
SYSTEM_WRITTEN = {
    "apscheduler_jobs": ["id"],
    "audit_checkpoint": ["hash"],
    "audit_head": ["hash"],
    "audit_record": [
        "actor_username",
        "action",
        "object_id",
        "request_id",
        "body",
        "prev_hash",
        "hash",
    ],
    "code_signing_key": ["salt", "created_by", "revoked_by"],
    "draw": [
        "audit_hash",
        "final_seed",
        "seed_sealed",
        "beacon_recorded_by",
        "ended_by",
        "seed",
        "seed_sha256",
        "population_sha256",
        "commitment_sha256",
        "committed_by",
        "drawn_by",
        "revealed_by",
        "published_by",
    ],
    "draw_member": ["excluded_reason"],
    "job_run": ["name", "reason", "error", "counts", "host"],
    "schedule_version": [
        "calendar",
        "seed",
        "seed_draws",
        "instance_name",
        "metrics",
        "verifier_report",
        "created_by",
        "published_by",
    ],
    "plan": ["created_by"],
    "plan_event": ["actor"],
    "publicity_alert": ["items"],
    "schedule_job": ["stage", "message", "requested_by", "owner", "request"],
    "app_user": ["username", "password_hash"],
    "day_route": ["stops"],
    "enterprise_report": ["reported_by"],
    "notification": ["title", "body", "payload", "error"],
    "fee_finding": ["reported_by", "rule", "matched_name", "explanation", "reviewed_by"],
    "checkin": ["idempotency_key", "request_hash", "confirmed_by"],
    "fee_refund": ["confirmed_by", "refunded_by"],
    "unscheduled_task": ["reason"],
    "task_result": ["recorded_by", "published_by"],
    "result_photo": ["sha256", "uploaded_by"],
    "inspection_document": ["doc_no", "generated_by", "sha256", "signed_sha256"],
    "document_signature": ["image_sha256", "recorded_by"],
    "login_attempt": ["username", "client", "device"],
    "outbox_message": ["subject", "body", "link"],
    "reschedule_request": ["requested_by", "decided_by"],
}


def free_text_columns() -> set[tuple[str, str]]:
    """Text, JSON and longer string columns of every table: where people can write."""
    found = set()
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            kind = column.type
            long_string = isinstance(kind, String) and (kind.length or 0) >= 40
            if isinstance(kind, Text | JSON) or long_string:
                found.add((table.name, column.name))
    return found


def test_every_free_text_column_is_classified():
    listed = {
        (table, column)
        for group in (PLANT, PUBLIC_BY_DESIGN, SYSTEM_WRITTEN, NOT_YET_PLANTED)
        for table, columns in group.items()
        for column in columns
    }
    unknown = free_text_columns() - listed
    assert not unknown, f"classify these free-text columns in this test: {sorted(unknown)}"


def planted(limit: int | None) -> str:
    """As many planted strings as fit in `limit` characters (all when unlimited)."""
    text = ""
    for piece in PLANTED:
        joined = f"{text} {piece}".strip()
        if limit is not None and len(joined) > limit:
            break
        text = joined
    return text


def _table(name: str):
    return Base.metadata.tables[name]


def build_world(db_session) -> dict:
    """Everything published that the public may see, and the private rows around it."""
    s = db_session
    firms = [f.enterprise(s) for _ in range(3)]
    plan = f.plan(
        s,
        [
            f.random_task(),
            {
                "kind": "key",
                "items": ["SAMR-SP-002"],
                "enterprises": [firms[0].credit_code],
                "window": ["2027-01-04", "2027-03-31"],
            },
            {
                "kind": "triggered",
                "item": "SAMR-SP-002",
                "enterprise": firms[1].credit_code,
                "reason": "complaint",
                "received_on": "2027-01-06",
            },
        ],
        state="published",
    )
    published_draw = draw(s, "published", "公开的抽取")
    committed_draw = draw(s, "committed", "只公布了承诺的抽取")

    # A visit with a corrected, published result; a rating; a fee finding with a refund.
    team = [f.inspector(s, "SAMR"), f.inspector(s, "SAMR")]
    done = f.visit_with_tasks(s, firms[2], team, day=dt.date(2026, 11, 18))
    (task,) = tasks_of(s, done)
    common = {
        "db_session": s,
        "visit_id": done.id,
        "inspection_task_id": task.id,
        "inspector_id": team[0].id,
        "actor": f.as_inspector(team[0]),
        "policy": f.policy(),
        "calendar": f.calendar(),
    }
    record_result(**common, data=ResultInput(result="passed", checklist=answers(s, task)))
    latest = record_result(
        **common,
        data=ResultInput(
            result="rectify",
            checklist=answers(s, task, "problem"),
            legal_basis="《食品安全法》第五十四条",
            rectify_by=dt.date(2026, 12, 20),
            correction_reason="更正",
        ),
    )
    publish_results(db_session=s, result_ids=[latest.id], actor=f.coordinator("c"))
    s.execute(
        insert(_table("visit_rating")).values(
            visit_id=done.id, enterprise_id=firms[2].id, score=2, comment="x"
        )
    )
    finding_id = s.execute(
        insert(_table("fee_finding"))
        .values(
            source="visit",
            enterprise_id=firms[2].id,
            visit_id=done.id,
            unit_text="x",
            item_charged="x",
            amount=100,
            charged_on=dt.date(2026, 11, 1),
            receipt_no="x",
            reported_by="inspector:x",
            verdict="off_catalog",
            rule="x",
            explanation="x",
            refund_due=100,
        )
        .returning(_table("fee_finding").c.id)
    ).scalar_one()
    s.execute(
        insert(_table("fee_refund")).values(
            finding_id=finding_id, amount=100, due_on=dt.date(2026, 12, 1)
        )
    )
    s.execute(
        insert(_table("result_photo")).values(
            result_id=latest.id,
            sha256="a" * 64,
            content_type="image/png",
            size_bytes=1,
            uploaded_by="inspector:x",
            filename="x.png",
        )
    )
    s.execute(
        insert(_table("conflict")).values(
            inspector_id=team[0].id,
            enterprise_id=firms[0].id,
            reason="x",
            declared_on=dt.date(2026, 1, 1),
        )
    )
    s.execute(
        insert(_table("inspector_certification")).values(
            inspector_id=team[0].id, department_id=team[0].department_id, basis="x"
        )
    )
    s.execute(
        insert(_table("inspector_unavailability")).values(
            inspector_id=team[1].id, day=dt.date(2027, 1, 5), reason="x"
        )
    )
    s.execute(
        insert(_table("enterprise_report")).values(
            enterprise_id=firms[1].id,
            kind="unregistered_inspection",
            happened_on=dt.date(2026, 11, 20),
            description="x",
            reported_by="enterprise:x",
        )
    )

    # Today's visit: its inspection code opens /v/, the enterprise's poster opens /e/.
    officer, colleague = f.inspector(s, "SAMR"), f.inspector(s, "FIRE")
    today_visit = visit_today(
        s, firms[1], [officer, colleague], day=dt.date.today(), items=("SAMR-SP-001",)
    )
    entry_id = s.execute(
        insert(_table("entry"))
        .values(
            enterprise_id=firms[1].id,
            day=today_visit.day,
            visit_id=today_visit.id,
            department_id=today_visit.lead_department_id,
            started_at=utcnow(),
        )
        .returning(_table("entry").c.id)
    ).scalar_one()
    s.execute(
        insert(_table("checkin")).values(
            inspector_id=officer.id,
            idempotency_key="pii-crawl-0001",
            request_hash="0" * 64,
            enterprise_id=firms[1].id,
            entry_id=entry_id,
            visit_id=today_visit.id,
            outcome="planned",
            code_kid="x" * 8,
            day=today_visit.day,
            checked_in_at=utcnow(),
            client_time=utcnow(),
            backfill=True,
            backfill_reason="x",
        )
    )
    tokens = [
        inspection_token(
            db_session=s,
            secret_key=SECRET,
            visit_id=today_visit.id,
            inspector_id=officer.id,
            day=today_visit.day,
        ),
        codes.enterprise_token(db_session=s, secret_key=SECRET, credit_code=firms[1].credit_code),
    ]
    s.flush()
    return {
        "plan_id": [plan.id],
        "draw_id": [published_draw.id, committed_draw.id],
        "token": tokens,
        "result_id": [latest.id],
        "firms": firms,
        "plan": plan,
    }


def plant(db_session) -> None:
    """Write the planted strings into every PLANT column of every row."""
    for name, columns in PLANT.items():
        table = _table(name)
        count = db_session.execute(select(table.c[columns[0]])).all()
        assert count, f"no {name} row: the plant would prove nothing"
        values = {}
        for column in columns:
            if column == "checklist":
                continue
            length = getattr(table.c[column].type, "length", None)
            values[column] = planted(length)
        if values:
            db_session.execute(update(table).values(**values))
    for row in db_session.scalars(select(TaskResult)):
        row.checklist = {
            key: {**answer, "note": planted(None)} for key, answer in row.checklist.items()
        }
    db_session.flush()
    db_session.expire_all()


def leaks(text: str) -> list[str]:
    """The planted strings found in `text`, raw, HTML-escaped or JSON-escaped."""
    found = []
    for piece in PLANTED:
        forms = {piece, html.escape(piece), json.dumps(piece)[1:-1], quote(piece)}
        if any(form in text for form in forms):
            found.append(piece)
    return found


QUERIES = {
    "period": ["2027Q1", "2026Q4", "2026"],
    "year": ["2027"],
    "department": ["SAMR"],
    "page": ["1"],
    "limit": ["200"],
    "offset": ["0"],
}


def _query_params(route) -> list[tuple[str, bool]]:
    original = getattr(route, "original_route", route)
    params = []
    for param in original.dependant.query_params:
        required = getattr(param, "required", None)
        if required is None:
            required = param.field_info.is_required()
        params.append((getattr(param, "alias", None) or param.name, bool(required)))
    return params


def urls(route, values: dict) -> list[str]:
    """Every URL of `route` with each known value of its path parameters: with its required
    query parameters only, then with each known query parameter at each of its values."""
    names = re.findall(r"\{([^}:]+)(?::[^}]*)?\}", route.path)
    missing = [n for n in names if n not in values]
    assert not missing, f"{route.path}: give the crawl values for {missing}"
    query = _query_params(route)
    unknown = [n for n, required in query if required and n not in QUERIES]
    assert not unknown, f"{route.path}: give the crawl values for {unknown}"
    base = {n: QUERIES[n][0] for n, required in query if required}
    variants = [base] + [
        {**base, n: value} for n, _required in query if n in QUERIES for value in QUERIES[n]
    ]
    out = []
    for combo in product(*(values[n] for n in names)):
        path = route.path
        for name, value in zip(names, combo, strict=True):
            path = re.sub(r"\{" + name + r"(?::[^}]*)?\}", quote(str(value), safe=""), path)
        for params in variants:
            out.append(f"{path}?{urlencode(params)}" if params else path)
    if not route.path.startswith("/api/"):  # pages in English too
        out += [f"{u}{'&' if '?' in u else '?'}lang=en" for u in out[: len(out)]]
    return list(dict.fromkeys(out))


def public_get_routes(app) -> list:
    seen, out = set(), []
    for route in [*api_routes(app), *page_routes(app)]:
        roles = declared_roles(route)
        if roles is None or "anonymous" not in roles or "GET" not in route.methods:
            continue
        if route.path not in seen:
            seen.add(route.path)
            out.append(route)
    return out


def test_no_planted_string_reaches_any_public_route_or_export(app, client, headers, db_session):
    world = build_world(db_session)
    plant(db_session)

    # Control: the strings are really there for staff, so the crawl can see them.
    staff = client.get(f"/api/v1/plans/{world['plan'].id}", headers=headers["coordinator"])
    assert leaks(staff.text), "the planted note is not where staff read it"

    routes = public_get_routes(app)
    fetched = 0
    for route in routes:
        for url in urls(route, world):
            client.cookies.clear()
            answer = client.get(url)
            assert answer.status_code < 500, (url, answer.text[:300])
            found = leaks(answer.text) + leaks(json.dumps(dict(answer.headers)))
            assert not found, f"{url} shows planted {found}"
            fetched += 1
    covered = sorted(r.path for r in routes)
    # Every public output the issue names is among them (a route walk that broke would not be).
    for path in (
        "/api/v1/public/plans/{plan_id}",
        "/api/v1/public/results.csv",
        "/api/v1/public/draws/{draw_id}",
        "/public/results",
        "/v/{token}",
    ):
        assert path in covered, path
    assert len(covered) >= 14

    # The export the CLI writes is the same function as the CSV route; the check-in's
    # planted back-fill reason never left the staff side either.
    from checkonce.findings.service import export_csv

    for period in ("2026Q4", "2027Q1"):
        assert not leaks(export_csv(db_session, period=period))
    assert db_session.scalar(select(CheckIn.backfill_reason)) == planted(None)


def test_no_staff_route_hands_out_an_enterprise_code(app, client, headers, users, db_session):
    world = build_world(db_session)
    firm = world["firms"][1]
    values = {
        **world,
        "credit_code": [firm.credit_code],
        "fmt": ["png", "svg"],
        "kid": ["x" * 8],
    }
    kid_pattern = re.compile(r"E1\.[0-9a-z]{4,16}\.[0-9A-Z]{18}\.")
    routes = [r for r in [*api_routes(app), *page_routes(app)] if "GET" in r.methods]
    checked = 0
    for role in ("inspector", "bureau", "coordinator"):
        # The API with the role's bearer token, the pages with its session cookie.
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, issue_token(users[role], secret=SECRET))
        for route in routes:
            if route.path.startswith("/e/"):
                continue  # the page a scanned poster opens shows the code it was opened with
            for name in re.findall(r"\{([^}:]+)(?::[^}]*)?\}", route.path):
                values.setdefault(name, ["1"])
            for url in urls(route, values):
                answer = client.get(url, headers=headers[role])
                assert "x-code-url" not in answer.headers, (url, role)
                # A code the page got in its own URL (echoed in links) is not handed out.
                handed = {m for m in kid_pattern.findall(answer.text) if m not in url}
                assert not handed, (url, role, handed)
                checked += 1
    assert checked > 100
    # The poster route itself is among those crawled and refused every staff role.
    for role in ("inspector", "bureau", "coordinator"):
        assert (
            client.get(
                f"/api/v1/enterprises/{firm.credit_code}/poster.svg", headers=headers[role]
            ).status_code
            == 403
        )
