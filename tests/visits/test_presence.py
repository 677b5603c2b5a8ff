"""Presence (到场确认): a check-in is the inspector's claim until the visit's enterprise confirms
it from its own account; the visit's presence status; the schema keeps a confirmation complete
and never on an unplanned check-in; confirmations and code verifications are audited."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor, Channel
from checkonce.audit.models import AuditRecord
from checkonce.errors import NotFound
from checkonce.visits import presence
from checkonce.visits.checkin_models import CheckIn
from checkonce.visits.codes import inspection_token, inspection_url
from checkonce.visits.presence import Presence, PresenceRefused
from tests import factories as f
from tests.visits.test_checkin import NOW, SECRET, TODAY, do_check_in, request, visit

# In UTC, as the service stores times (SQLite keeps the wall clock of what it is given).
LATER = (NOW + dt.timedelta(minutes=20)).astimezone(dt.UTC)


def firm_actor(firm, user_id: int = 1, username: str = "firm1") -> Actor:
    return Actor(
        user_id=user_id,
        username=username,
        role="enterprise",
        channel=Channel.WEB,
        enterprise_id=firm.id,
    )


@pytest.fixture
def account(db_session):
    """An enterprise account (the confirmation names it by id)."""
    from checkonce.auth.service import create_user

    firm = f.enterprise(db_session)
    user = create_user(
        db_session=db_session,
        actor=f.SETUP,
        username=f"firm-{firm.id}",
        password="correct horse battery",
        role="enterprise",
        credit_code=firm.credit_code,
    )
    return firm, firm_actor(firm, user.id, user.username)


def audit(db_session, action: AuditAction) -> list[dict]:
    rows = db_session.scalars(
        select(AuditRecord).where(AuditRecord.action == action.value).order_by(AuditRecord.seq)
    )
    return [json.loads(r.body) for r in rows]


def test_a_check_in_is_unconfirmed_until_the_enterprise_confirms_it(db_session, account):
    firm, actor = account
    a, b = f.inspector(db_session), f.inspector(db_session)
    planned = visit(db_session, firm, [a, b])
    assert presence.presence_status(db_session, planned.id) is Presence.NO_CHECKIN

    mine = do_check_in(db_session, a, request(db_session, firm)).checkin
    do_check_in(db_session, b, request(db_session, firm))
    assert not mine.confirmed
    assert presence.presence_status(db_session, planned.id) is Presence.UNCONFIRMED

    done = presence.confirm_checkin(
        db_session, checkin_id=mine.id, actor=actor, method="visit_page", now=LATER
    )
    assert not done.already and mine.confirmed
    assert (mine.confirmed_by, mine.confirm_method) == (actor.label, "visit_page")
    assert mine.confirmed_by_user_id == actor.user_id
    assert presence.presence_status(db_session, planned.id) is Presence.CONFIRMED

    [record] = audit(db_session, AuditAction.CHECKIN_CONFIRM)
    assert record["object"] == {"type": "checkin", "id": str(mine.id)}
    assert record["after"]["method"] == "visit_page" and record["before"] == {"confirmed": False}
    assert record["enterprise_id"] == firm.id and record["actor"]["role"] == "enterprise"

    # Confirming again keeps the first confirmation and writes nothing.
    again = presence.confirm_checkin(
        db_session, checkin_id=mine.id, actor=actor, method="inspection_code"
    )
    assert again.already and mine.confirm_method == "visit_page"
    assert len(audit(db_session, AuditAction.CHECKIN_CONFIRM)) == 1


def test_only_the_visits_own_enterprise_account_confirms(db_session, account):
    firm, _actor = account
    a = f.inspector(db_session)
    visit(db_session, firm, [a, f.inspector(db_session)])
    mine = do_check_in(db_session, a, request(db_session, firm)).checkin

    stranger = f.enterprise(db_session)
    with pytest.raises(NotFound):
        presence.confirm_checkin(
            db_session, checkin_id=mine.id, actor=firm_actor(stranger), method="visit_page"
        )
    # Staff accounts (the inspector above all) cannot confirm anyone's presence.
    for role in ("inspector", "coordinator", "admin", "bureau"):
        staff = Actor(user_id=9, username="x", role=role, channel=Channel.API, inspector_id=a.id)
        with pytest.raises(PresenceRefused):
            presence.confirm_checkin(
                db_session, checkin_id=mine.id, actor=staff, method="visit_page"
            )
    assert not mine.confirmed and audit(db_session, AuditAction.CHECKIN_CONFIRM) == []


def test_an_unplanned_entry_is_not_confirmed_it_stays_an_alert(db_session, account):
    firm, actor = account
    a = f.inspector(db_session)
    unplanned = do_check_in(db_session, a, request(db_session, firm)).checkin
    assert unplanned.outcome == "unplanned"
    with pytest.raises(PresenceRefused) as refused:
        presence.confirm_checkin(
            db_session, checkin_id=unplanned.id, actor=actor, method="visit_page"
        )
    assert refused.value.code == "unplanned_entry"


def test_the_schema_keeps_a_confirmation_complete_and_planned(db_session, account):
    firm, actor = account
    a = f.inspector(db_session)
    visit(db_session, firm, [a, f.inspector(db_session)])
    planned = do_check_in(db_session, a, request(db_session, firm)).checkin
    unplanned = do_check_in(db_session, a, request(db_session, f.enterprise(db_session))).checkin
    complete = {
        "confirmed_at": LATER,
        "confirm_method": "visit_page",
        "confirmed_by": actor.label,
        "confirmed_by_user_id": actor.user_id,
    }
    refused = [
        (planned.id, {k: v for k, v in complete.items() if k != "confirmed_by_user_id"}),
        (planned.id, {**complete, "confirm_method": "phone"}),
        (planned.id, {**complete, "confirmed_at": LATER - dt.timedelta(hours=2)}),  # before it
        (unplanned.id, complete),
    ]
    for checkin_id, values in refused:
        with pytest.raises(IntegrityError), db_session.begin_nested():
            db_session.execute(update(CheckIn).where(CheckIn.id == checkin_id).values(**values))
    with db_session.begin_nested():  # the complete one on the planned check-in is accepted
        db_session.execute(update(CheckIn).where(CheckIn.id == planned.id).values(**complete))


def test_scanning_the_inspection_code_confirms_the_inspector_who_shows_it(db_session, account):
    firm, actor = account
    a, b = f.inspector(db_session), f.inspector(db_session)
    planned = visit(db_session, firm, [a, b])
    token = inspection_token(
        db_session=db_session, secret_key=SECRET, visit_id=planned.id, inspector_id=b.id, day=TODAY
    )
    url = inspection_url("https://checkonce.example.gov.cn", token)

    # b has not checked in yet: nothing to confirm.
    with pytest.raises(PresenceRefused) as early:
        presence.confirm_by_code(
            db_session, secret_key=SECRET, scanned=url, today=TODAY, actor=actor
        )
    assert early.value.code == "not_checked_in" and b.name in early.value.message

    do_check_in(db_session, a, request(db_session, firm))
    theirs = do_check_in(db_session, b, request(db_session, firm)).checkin
    done = presence.confirm_by_code(
        db_session, secret_key=SECRET, scanned=url, today=TODAY, actor=actor, now=LATER
    )
    assert done.checkin.id == theirs.id and theirs.confirm_method == "inspection_code"
    assert presence.presence_status(db_session, planned.id) is Presence.CONFIRMED

    # Another enterprise scanning the same code confirms nothing.
    other = f.enterprise(db_session)
    with pytest.raises(PresenceRefused) as refused:
        presence.confirm_by_code(
            db_session, secret_key=SECRET, scanned=url, today=TODAY, actor=firm_actor(other)
        )
    assert "不是针对贵企业" in refused.value.message


def test_verifying_a_code_tells_another_enterprise_and_is_recorded(db_session, account):
    firm, actor = account
    a = f.inspector(db_session)
    planned = visit(db_session, firm, [a, f.inspector(db_session)])
    token = inspection_token(
        db_session=db_session, secret_key=SECRET, visit_id=planned.id, inspector_id=a.id, day=TODAY
    )
    other = f.enterprise(db_session)

    own = presence.verify_code(
        db_session, secret_key=SECRET, scanned=token, today=TODAY, actor=actor
    )
    wrong = presence.verify_code(
        db_session, secret_key=SECRET, scanned=token, today=TODAY, actor=firm_actor(other, 2, "o")
    )
    anonymous = presence.verify_code(
        db_session, secret_key=SECRET, scanned=token, today=TODAY, actor=None
    )
    assert own.valid and anonymous.valid
    assert not wrong.valid and wrong.other_enterprise and "不是针对贵企业" in wrong.reason
    assert wrong.inspector == "" and wrong.tasks == []  # nothing of the other visit is shown

    records = audit(db_session, AuditAction.INSPECTION_CODE_VERIFY)
    assert [(r["enterprise_id"], r["detail"]["outcome"]) for r in records] == [
        (firm.id, "registered"),
        (other.id, "other_enterprise"),
    ]  # the anonymous scan is not recorded
    assert records[1]["detail"]["visit_enterprise_id"] == firm.id


def test_unconfirmed_visits_are_listed_with_their_flags(db_session, account):
    firm, actor = account
    a, b = f.inspector(db_session), f.inspector(db_session)
    first = visit(db_session, firm, [a])
    second_firm = f.enterprise(db_session)
    visit(db_session, second_firm, [b])
    mine = do_check_in(db_session, a, request(db_session, firm)).checkin
    far = request(db_session, second_firm, lat=second_firm.lat + 0.05, lon=second_firm.lon)
    do_check_in(db_session, b, far)

    before = presence.count_unconfirmed(db_session, start=TODAY, end=TODAY)
    listed = presence.unconfirmed_visits(db_session, start=TODAY, end=TODAY)
    codes = {u.visit_code for u in listed}
    assert first.code in codes and before >= 2
    [flagged] = [u for u in listed if u.credit_code == second_firm.credit_code]
    assert flagged.outside_geofence and "定位距企业" in flagged.flags

    presence.confirm_checkin(db_session, checkin_id=mine.id, actor=actor, method="visit_page")
    assert presence.count_unconfirmed(db_session, start=TODAY, end=TODAY) == before - 1
    assert first.code not in {
        u.visit_code for u in presence.unconfirmed_visits(db_session, start=TODAY, end=TODAY)
    }
