"""The public draw ceremony: the beacon and its day, the sealed secret, redraws decided by a
second person of the legal-review role, the population hash covering the exclusions, the
verifier against a commitment recorded at commit time, and the grinding attack replayed."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor, Channel
from checkonce.audit.models import AuditRecord
from checkonce.audit.service import head
from checkonce.auth.access import PermissionDenied
from checkonce.calendar import WorkCalendar
from checkonce.errors import CheckOnceError, Conflict
from checkonce.policy import BeaconPolicy
from checkonce.sampling import sealing, selection
from checkonce.sampling import service as draws
from checkonce.sampling.models import RedrawRequest
from checkonce.sampling.verify import verify_published
from tests import factories as f
from tests.sampling.ceremony import (
    AFTER_CLOSE,
    BOSS,
    COMMIT_AT,
    DEPUTY,
    LEGAL,
    XIAN,
    approve,
    at,
    commit,
    full_draw,
    run,
)

VERIFY_SCRIPT = Path(draws.__file__).with_name("verify.py")


def spec(session, count=2, **task):
    plan = f.plan(
        session,
        [f.random_task(strata={"B": {"count": count}}, **task)],
        state="approved",
    )
    return plan.tasks[0]


def firms(session, n=6, **extra):
    return [f.enterprise(session, risk_class="B", **extra) for _ in range(n)]


def actions_of(session, object_type, object_id):
    return list(
        session.scalars(
            select(AuditRecord.action)
            .where(AuditRecord.object_type == object_type, AuditRecord.object_id == str(object_id))
            .order_by(AuditRecord.seq)
        )
    )


# --- the beacon ------------------------------------------------------------------------


def test_beacon_day_is_the_next_trading_day():
    beacon, calendar = BeaconPolicy(), WorkCalendar()
    # Friday 9 October 2026 → Monday 12 October: Saturday the 10th is a make-up workday
    # (调休) but the exchange does not trade on it.
    assert calendar.is_workday(dt.date(2026, 10, 10))
    assert draws.beacon_day(beacon, calendar, dt.date(2026, 10, 9)) == dt.date(2026, 10, 12)
    # the National Day week: 30 September → 8 October
    assert draws.beacon_day(beacon, calendar, dt.date(2026, 9, 30)) == dt.date(2026, 10, 8)
    # an ordinary Monday → Tuesday; never the commit's own day
    assert draws.beacon_day(beacon, calendar, dt.date(2026, 11, 2)) == dt.date(2026, 11, 3)
    workdays = BeaconPolicy(days="workday")
    assert draws.beacon_day(workdays, calendar, dt.date(2026, 10, 9)) == dt.date(2026, 10, 10)


def test_beacon_value_is_written_exactly_or_refused():
    assert draws.normalize_beacon_value("3352.1", 2) == "3352.10"
    assert draws.normalize_beacon_value(" 3,352.10 ", 2) == "3352.10"
    for bad, why in (
        ("3352.123", "最多 2 位小数"),
        ("abc", "不是数字"),
        ("-1", "正数"),
        ("", "不是数字"),
    ):
        with pytest.raises(CheckOnceError, match=why):
            draws.normalize_beacon_value(bad, 2)


def test_a_draw_cannot_run_before_its_beacon_day_nor_without_the_beacon(db_session):
    firms(db_session)
    draw = commit(db_session, [spec(db_session).id])
    assert draw.beacon_date == dt.date(2027, 1, 5)
    # the same day as the commit: neither the beacon nor the run
    with pytest.raises(Conflict, match="须在随机源日 2027-01-05 当日或之后执行"):
        draws.run_draw(db_session=db_session, draw_id=draw.id, actor=BOSS, now=COMMIT_AT)
    with pytest.raises(Conflict, match="当日 15:30 之后录入"):
        draws.record_beacon(
            db_session=db_session, draw_id=draw.id, value="3352.10", actor=BOSS, now=COMMIT_AT
        )
    # the beacon day, before the close is final
    with pytest.raises(Conflict, match="15:30"):
        draws.record_beacon(
            db_session=db_session,
            draw_id=draw.id,
            value="3352.10",
            actor=BOSS,
            now=at(draw.beacon_date, 11),
        )
    # the beacon day, no beacon entered
    with pytest.raises(Conflict, match="尚未录入随机源"):
        draws.run_draw(db_session=db_session, draw_id=draw.id, actor=BOSS, now=AFTER_CLOSE)
    assert draw.state == "committed" and not any(m.selected for m in draw.members)
    draws.record_beacon(
        db_session=db_session, draw_id=draw.id, value="3352.1", actor=BOSS, now=AFTER_CLOSE
    )
    assert draw.beacon_value == "3352.10"
    with pytest.raises(Conflict, match="不能修改"):
        draws.record_beacon(
            db_session=db_session, draw_id=draw.id, value="3400.00", actor=BOSS, now=AFTER_CLOSE
        )
    draws.run_draw(db_session=db_session, draw_id=draw.id, actor=BOSS, now=AFTER_CLOSE)
    assert draw.state == "revealed" and sum(m.selected for m in draw.members) == 2


def test_the_secret_is_sealed_until_the_run(db_session):
    firms(db_session)
    draw = commit(db_session, [spec(db_session).id])
    assert draw.seed is None
    secret = sealing.unseal(draw.seed_sealed, draw.seed_sha256)
    assert selection.seed_sha256(secret) == draw.seed_sha256
    with pytest.raises(sealing.SeedUnavailable, match="服务器密钥已更换"):
        sealing.unseal(draw.seed_sealed, draw.seed_sha256, server_secret="another-server-secret")
    # bound to its commitment: it cannot be opened as another draw's seed
    with pytest.raises(sealing.SeedUnavailable):
        sealing.unseal(draw.seed_sealed, "0" * 64)
    # nothing public holds it before the run
    public = json.dumps(draws.public_json(db_session=db_session, draw=draw), ensure_ascii=False)
    assert secret not in public and draw.seed_sealed not in public and '"seed":' not in public
    run(db_session, draw)
    assert draw.seed == secret


# --- audit and population --------------------------------------------------------------


def test_every_step_is_in_the_audit_trail_with_the_commitment(db_session):
    firms(db_session)
    task = spec(db_session)
    seq_before, hash_before = head(db_session)
    draw, _ = full_draw(db_session, [task.id])
    # the draw records the chain head at its commit (the registry as it stood then)
    assert (draw.audit_seq, draw.audit_hash) == (seq_before, hash_before)
    commit_record = db_session.scalars(
        select(AuditRecord).where(
            AuditRecord.action == AuditAction.DRAW_COMMIT.value,
            AuditRecord.object_id == str(draw.id),
        )
    ).one()
    body = json.loads(commit_record.body)
    assert body["detail"]["commitment"] == draws.commitment(draw)
    assert body["after"]["commitment_sha256"] == draw.commitment_sha256
    assert draw.audit_seq == commit_record.seq - 1
    assert actions_of(db_session, "draw", draw.id) == [
        "draw.commit",
        "draw.beacon",
        "draw.run",
        "draw.reveal",
        "draw.publish",
    ]


def test_exclusions_are_inside_the_population_hash(db_session):
    kept = firms(db_session, 5)
    white = f.enterprise(db_session, risk_class="B", whitelisted=True)
    closed = f.enterprise(db_session, risk_class="B", active=False)
    draw, published = full_draw(db_session, [spec(db_session, item="SAMR-CP-001").id])
    reasons = {e["credit_code"]: e["reason"] for e in published["excluded"]}
    assert reasons == {
        white.credit_code: "监管白名单企业",
        closed.credit_code: "非在营企业（登记为注销、吊销或停业）",
    }
    assert draw.population_size == len(kept) and verify_published(published).ok
    assert published["commitment"]["population_sha256"] == (
        selection.population_sha256_with_exclusions([e.credit_code for e in kept], reasons.items())
    )

    def broken(change):
        bad = json.loads(json.dumps(published))
        change(bad)
        return verify_published(bad)

    def reword(bad):
        bad["excluded"][0]["reason"] = "企业申请豁免"

    def drop(bad):
        bad["excluded"].pop()

    def move_in(bad):  # an excluded enterprise quietly taken out of the exclusions
        gone = bad["excluded"].pop(0)
        bad["strata"][1]["population"].append(gone["credit_code"])

    def add(bad):  # a drawable enterprise quietly excluded ("white-listed" after the fact)
        code = bad["strata"][1]["population"].pop()
        bad["excluded"].append({"credit_code": code, "stratum": "B", "reason": "监管白名单企业"})

    for change in (reword, drop, move_in, add):
        result = broken(change)
        assert not result.ok and any("总体" in p for p in result.problems), change.__name__


# --- the verifier against a recorded commitment ----------------------------------------


def forge(published: dict, keep_out: str) -> dict:
    """A wholly re-forged publication: a new secret, the target out of the population, every
    hash and the selection recomputed, so the file is consistent with itself."""
    bad = json.loads(json.dumps(published))
    secret = "ab" * 32
    stratum = bad["strata"][1]
    stratum["population"] = [c for c in stratum["population"] if c != keep_out]
    bad["excluded"].append({"credit_code": keep_out, "stratum": "B", "reason": "监管白名单企业"})
    announced = bad["commitment"]
    spec_b = next(s for s in announced["strata"] if s["name"] == "B")
    spec_b["size"] = len(stratum["population"])
    spec_b["population_sha256"] = selection.population_sha256(stratum["population"])
    announced["population_size"] -= 1
    announced["exclusions"]["excluded_count"] += 1
    announced["population_sha256"] = selection.population_sha256_with_exclusions(
        [c for s in bad["strata"] for c in s["population"]],
        [(e["credit_code"], e["reason"]) for e in bad["excluded"]],
    )
    announced["seed_sha256"] = selection.seed_sha256(secret)
    b = announced["beacon"]
    final = selection.final_seed(
        secret, selection.beacon_message(b["source"], b["date"], bad["beacon"]["value"])
    )
    bad["seed"], bad["final_seed"] = secret, final
    for entry in bad["strata"]:
        n = next(s["n"] for s in announced["strata"] if s["name"] == entry["name"])
        entry["selected"] = selection.rank(final, entry["population"])[:n]
    bad["commitment_sha256"] = selection.commitment_sha256(announced)
    return bad


def test_a_reforged_file_fails_against_the_recorded_commitment(db_session, tmp_path):
    firms(db_session)
    draw = commit(db_session, [spec(db_session).id])
    recorded = draw.commitment_sha256  # what an outsider wrote down from the public list
    run(db_session, draw)
    published = draws.published_json(draw)
    target = published["strata"][1]["selected"][0]
    forged = forge(published, keep_out=target)
    assert target not in forged["strata"][1]["selected"]
    # consistent with itself: the file alone cannot tell
    assert verify_published(forged).ok
    result = verify_published(forged, commitment=recorded)
    assert not result.ok and "整体伪造" in result.summary()
    assert verify_published(published, commitment=recorded).ok
    assert not verify_published(published, commitment="xyz").ok

    # the stdlib script, run in isolated mode (no CheckOnce on the path), agrees
    genuine, fake = tmp_path / "genuine.json", tmp_path / "forged.json"
    genuine.write_text(json.dumps(published, ensure_ascii=False), encoding="utf-8")
    fake.write_text(json.dumps(forged, ensure_ascii=False), encoding="utf-8")

    def script(path, *extra):
        return subprocess.run(
            [sys.executable, "-I", str(VERIFY_SCRIPT), str(path), *extra],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )

    assert script(genuine, "--commitment", recorded).returncode == 0
    assert script(fake).returncode == 0
    refused = script(fake, "--commitment", recorded)
    assert refused.returncode == 1 and "承诺摘要不符" in refused.stdout


def test_the_few_lines_of_any_language(db_session):
    """The whole check in a few lines, from the public JSON and the recorded commitment."""
    firms(db_session, 9)
    draw = commit(db_session, [spec(db_session, count=3).id])
    recorded = draw.commitment_sha256
    run(db_session, draw)
    pub = json.loads(json.dumps(draws.published_json(draw)))
    canon = json.dumps(pub["commitment"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canon.encode()).hexdigest() == recorded
    secret = bytes.fromhex(pub["seed"])
    assert hashlib.sha256(secret).hexdigest() == pub["commitment"]["seed_sha256"]
    beacon = pub["commitment"]["beacon"]
    message = f"{beacon['source']}|{beacon['date']}|{pub['beacon']['value']}".encode()
    final = hashlib.sha256(secret + message).digest()
    population = pub["strata"][1]["population"]
    ranked = sorted(
        population, key=lambda c: (hmac.new(final, c.encode(), "sha256").hexdigest(), c)
    )
    assert ranked[:3] == pub["strata"][1]["selected"]


# --- redraws ---------------------------------------------------------------------------


def test_redraw_needs_a_second_person_of_the_legal_role(db_session):
    firms(db_session)
    draw, _ = full_draw(db_session, [spec(db_session).id])
    with pytest.raises(PermissionDenied, match="仅限协调监督人员"):
        draws.request_redraw(db_session=db_session, draw_id=draw.id, reason="系统故障", actor=LEGAL)
    request = draws.request_redraw(
        db_session=db_session, draw_id=draw.id, reason="系统故障", actor=BOSS, policy=f.policy()
    )
    with pytest.raises(Conflict, match="待审核"):
        draws.request_redraw(db_session=db_session, draw_id=draw.id, reason="再申请", actor=BOSS)
    for who in (BOSS, DEPUTY):  # the requester, or a fellow coordinator
        with pytest.raises(PermissionDenied, match="仅限法制审核人员"):
            draws.approve_redraw(
                db_session=db_session, request_id=request.id, note="同意", actor=who
            )
    # the same account can never decide its own request, whatever role it claims
    same = Actor(user_id=41, username="张三", role="legal", channel=Channel.API)
    own = draws.request_redraw
    assert own  # (the request above was made by an actor without an account id)
    request.requested_by_user_id = 41
    with pytest.raises(PermissionDenied, match="另一人审核"):
        draws.approve_redraw(db_session=db_session, request_id=request.id, note="同意", actor=same)
    with pytest.raises(CheckOnceError, match="理由"):
        draws.reject_redraw(db_session=db_session, request_id=request.id, note=" ", actor=LEGAL)
    rejected = draws.reject_redraw(
        db_session=db_session, request_id=request.id, note="未提供故障记录", actor=LEGAL
    )
    assert rejected.state == "rejected" and draw.state == "published"
    assert actions_of(db_session, "redraw_request", request.id) == [
        "draw.redraw_request",
        "draw.redraw_reject",
    ]


def test_the_database_refuses_a_self_approved_request(db_session):
    firms(db_session)
    draw, _ = full_draw(db_session, [spec(db_session).id])
    db_session.add(
        RedrawRequest(
            draw_id=draw.id,
            state="approved",
            reason="系统故障",
            requested_by="coordinator:张三",
            decided_by="coordinator:张三",
            decision_note="同意",
        )
    )
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_the_grinding_attack_replayed(db_session):
    """A coordinator wants one enterprise out of a draw and redraws with "系统故障" until it
    is out (8 redraws in 40 s did it before). Each step below is what stops it now."""
    firms(db_session, 6)
    task = spec(db_session, count=2)
    d1 = commit(db_session, [task.id])
    # Step 1: the commitment is public at once, with its time and beacon day.
    public = draws.public_json(db_session=db_session, draw=d1)
    assert public["commitment_sha256"] == d1.commitment_sha256 and public["state"] == "committed"
    assert public["commitment"]["committed_at"] == "2027-01-04T02:00:00Z"
    # Step 2: no quick run-and-look: the draw cannot run the day it is committed, and the
    # secret is sealed, so nobody can compute the outcome ahead (the beacon is unknown).
    with pytest.raises(Conflict, match="随机源日"):
        draws.run_draw(db_session=db_session, draw_id=d1.id, actor=BOSS, now=COMMIT_AT)
    assert d1.seed is None
    run(db_session, d1)
    target = sorted(m.credit_code for m in d1.members if m.selected)[0]
    # Step 3: drawing the same task again directly is refused.
    with pytest.raises(Conflict, match="请申请重新抽取并经法制审核批准"):
        commit(db_session, [task.id], now=AFTER_CLOSE)
    # Step 4: "系统故障" redraw: the coordinator cannot approve it, nor can a colleague.
    request = draws.request_redraw(
        db_session=db_session, draw_id=d1.id, reason="系统故障", actor=BOSS, policy=f.policy()
    )
    for who in (BOSS, DEPUTY):
        with pytest.raises(PermissionDenied):
            draws.approve_redraw(
                db_session=db_session, request_id=request.id, note="同意", actor=who
            )
    # Step 5: even if legal review approves, the new draw has a new sealed secret and waits
    # for the NEXT trading day's close: every attempt costs a day, a second person's
    # signature, and is published with the result it discarded.
    attempts = [d1]
    current = d1
    for round_ in range(2):
        request = (
            draws.request_redraw(
                db_session=db_session,
                draw_id=current.id,
                reason="系统故障",
                actor=BOSS,
                policy=f.policy(),
            )
            if round_
            else request
        )
        new = draws.approve_redraw(
            db_session=db_session,
            request_id=request.id,
            note="同意",
            actor=LEGAL,
            policy=f.policy(),
            calendar=f.calendar(),
            now=at(current.beacon_date, 17),
        )
        assert new.beacon_date > current.beacon_date and new.seed is None
        with pytest.raises(Conflict, match="随机源日"):
            draws.run_draw(
                db_session=db_session, draw_id=new.id, actor=BOSS, now=at(current.beacon_date, 17)
            )
        run(db_session, new, value=f"33{60 + round_}.25")
        attempts.append(new)
        current = new
    assert [d.beacon_date for d in attempts] == [
        dt.date(2027, 1, 5),
        dt.date(2027, 1, 6),
        dt.date(2027, 1, 7),
    ]
    # Step 6: the policy's cap: a third redraw of the task is refused outright.
    with pytest.raises(Conflict, match="上限 2 次"):
        draws.request_redraw(
            db_session=db_session,
            draw_id=current.id,
            reason="系统故障",
            actor=BOSS,
            policy=f.policy(),
        )
    # Step 7: all of it is public: every draw with its state and reason, the discarded ones
    # with their seeds (so anyone sees the target WAS drawn in the first), the count.
    history = draws.public_json(db_session=db_session, draw=current)["redraws"]
    assert [(d["draw"], d["state"]) for d in history["draws"]] == [
        (attempts[0].id, "superseded"),
        (attempts[1].id, "superseded"),
        (attempts[2].id, "revealed"),
    ]
    assert [d["reason"] for d in history["draws"]] == [None, "系统故障", "系统故障"]
    assert history["count_by_plan_task"] == {str(task.id): 2}
    assert [r["decided_by"] for r in history["requests"]] == ["legal:王五"] * 2
    first = draws.published_json(attempts[0])
    assert target in first["strata"][1]["selected"] and verify_published(first).ok
    assert first["ended"] == {
        "state": "superseded",
        "by": "legal:王五",
        "at": first["ended"]["at"],
        "reason": "系统故障",
    }


def test_an_abandoned_draw_shows_what_it_would_have_drawn(db_session):
    firms(db_session)
    draw = commit(db_session, [spec(db_session).id])
    draws.record_beacon(
        db_session=db_session, draw_id=draw.id, value="3352.10", actor=BOSS, now=AFTER_CLOSE
    )
    new = approve(db_session, draw, "抽查事项填错", now=at(draw.beacon_date, 17))
    assert draw.state == "abandoned" and new.supersedes_id == draw.id
    shown = draws.published_json(draw)
    would = shown["strata"][1]["would_have_selected"]
    assert len(would) == 2 and "selected" not in shown["strata"][1]
    assert verify_published(shown).ok
    shown["strata"][1]["would_have_selected"] = list(reversed(would))
    assert not verify_published(shown).ok
    assert actions_of(db_session, "draw", draw.id)[-1] == "draw.abandon"
    assert XIAN  # (times above are Xi'an local)


# --- the inspector-ranking key of a schedule -------------------------------------------


def test_team_key_comes_from_the_periods_run_draws(db_session):
    firms(db_session, 8)
    q1 = [full_draw(db_session, [spec(db_session).id])[0]]
    other = f.plan(
        db_session,
        [f.random_task(item="SAMR-SP-002", strata={"B": {"count": 2}})],
        state="approved",
    ).tasks[0]
    q1.append(full_draw(db_session, [other.id])[0])
    # a draw that was abandoned gives nothing to the key
    spare = f.plan(
        db_session,
        [f.random_task(item="SAMR-CP-001", strata={"B": {"count": 2}})],
        state="approved",
    ).tasks[0]
    dropped = commit(db_session, [spare.id])
    approve(db_session, dropped, "抽查事项填错", now=AFTER_CLOSE)
    start, end = dt.date(2027, 1, 1), dt.date(2027, 3, 31)
    key, sources = draws.team_key_for_period(
        db_session=db_session, period="2027Q1", start=start, end=end
    )
    assert [s["draw"] for s in sources] == [d.id for d in q1]
    text = "checkonce.team-key/1\n2027Q1\n" + "".join(
        f"{s}\n" for s in sorted(d.final_seed for d in q1)
    )
    assert key == hashlib.sha256(text.encode()).hexdigest()
    # reproducible, and the period is part of it
    assert draws.team_key_for_period(
        db_session=db_session, period="2027Q1", start=start, end=end
    ) == (key, sources)
    assert draws.team_key("2027Q2", [d.final_seed for d in q1]) != key
    # checked against the recorded draws: any other key, or a draw no longer in force, fails
    ids = [s["draw"] for s in sources]
    assert draws.check_team_key(db_session=db_session, period="2027Q1", key=key, draw_ids=ids) == []
    assert draws.check_team_key(
        db_session=db_session, period="2027Q1", key="ab" * 32, draw_ids=ids
    ) == ["排序密钥与按所依据抽取的最终种子重算的结果不符"]
    assert draws.check_team_key(
        db_session=db_session, period="2027Q1", key=key, draw_ids=[*ids, dropped.id]
    ) == [f"排序密钥所依据的抽取 {dropped.id} 为“已作废（未抽取）”"]
