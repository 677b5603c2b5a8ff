"""Alert and fee-compliance maps: layers per alert kind and per verdict with the data layer's
counts, violation rate per district, and refunds that agree with the findings' own totals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from checkonce.auth.service import Forbidden
from checkonce.config import packaged_data_dir
from checkonce.findings.fees.models import FeeFinding, FeeRefund
from checkonce.findings.fees.service import refund_totals
from checkonce.maps.alerts import alert_data, alert_map
from checkonce.maps.assets import AssetMode
from checkonce.maps.base import render_html
from checkonce.maps.fees import fee_data, fee_map
from checkonce.maps.scope import Viewer, department_id
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.visits.checkin_models import Entry, EntryAlert
from tests.maps import htmlmap
from tests.maps.conftest import XINCHENG, YANTA

JURISDICTION = Jurisdiction(packaged_data_dir())
NOW = dt.datetime(2027, 1, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def alerts(db_session, world):
    firm1, firm3 = world.firms["firm1"], world.firms["firm3"]
    samr = department_id(db_session, "SAMR")
    for firm, day in ((firm1, dt.date(2027, 1, 5)), (firm3, dt.date(2027, 1, 6))):
        db_session.add(Entry(enterprise_id=firm.id, day=day, department_id=samr, started_at=NOW))
    db_session.add(  # an unplanned entry in April: outside 2027Q1
        Entry(enterprise_id=firm1.id, day=dt.date(2027, 4, 1), department_id=samr, started_at=NOW)
    )
    db_session.add_all(
        [
            EntryAlert(
                kind="entries_per_day",
                enterprise_id=firm1.id,
                window_key="2027-01-05",
                window_start=dt.date(2027, 1, 5),
                window_end=dt.date(2027, 1, 5),
                count=2,
                threshold=1,
            ),
            EntryAlert(
                kind="entries_per_week",
                enterprise_id=firm1.id,
                window_key="2027-W01",
                window_start=dt.date(2027, 1, 4),
                window_end=dt.date(2027, 1, 10),
                count=3,
                threshold=2,
            ),
        ]
    )
    db_session.flush()


def test_alert_layers(db_session, world, alerts):
    data = alert_data(db_session=db_session, period="2027Q1")
    assert [data.count(k) for k in ("unplanned", "entries_per_day", "entries_per_week")] == [
        2,
        1,
        1,
    ]
    assert data.per_district() == {YANTA: 3, XINCHENG: 1}
    assert alert_data(db_session=db_session).count("unplanned") == 3  # no period: all
    html = render_html(alert_map(data, JURISDICTION), AssetMode.SERVED)
    assert htmlmap.layer_counts(html) == {
        "计划外入企（2 条）": 2,
        "单日入企次数超限（1 条）": 1,
        "单周入企次数超限（1 条）": 1,
        "单月入企次数超限（0 条）": 0,
        "签到未经企业确认（0 条）": 0,
    }
    with pytest.raises(Forbidden):
        alert_data(db_session=db_session, viewer=Viewer("bureau", 1))


def test_unconfirmed_check_ins_are_a_layer_until_the_enterprise_confirms(db_session):
    from checkonce.audit.actor import Actor, Channel
    from checkonce.auth.service import create_user
    from checkonce.visits.presence import confirm_checkin
    from tests import factories as f
    from tests.visits.test_checkin import do_check_in, request, visit

    firm = f.enterprise(db_session)
    officer = f.inspector(db_session)
    planned = visit(db_session, firm, [officer, f.inspector(db_session)])
    checkin = do_check_in(db_session, officer, request(db_session, firm)).checkin
    data = alert_data(db_session=db_session, period="2026Q4")
    [point] = [p for p in data.points if p.kind == "unconfirmed"]
    assert (point.enterprise, point.start) == (firm.name, planned.day)
    assert planned.code in point.text and officer.name in point.text
    html = render_html(alert_map(data, JURISDICTION), AssetMode.SERVED)
    assert htmlmap.layer_counts(html)["签到未经企业确认（1 条）"] == 1

    account = create_user(
        db_session=db_session,
        actor=f.SETUP,
        username="map-firm",
        password="correct horse battery",
        role="enterprise",
        credit_code=firm.credit_code,
    )
    actor = Actor(
        user_id=account.id,
        username=account.username,
        role="enterprise",
        channel=Channel.WEB,
        enterprise_id=firm.id,
    )
    confirm_checkin(db_session, checkin_id=checkin.id, actor=actor, method="visit_page")
    assert alert_data(db_session=db_session, period="2026Q4").count("unconfirmed") == 0


def _finding(db_session, firm, unit, verdict, amount, refund=None, n=[0]):  # noqa: B006
    n[0] += 1
    row = FeeFinding(
        source="enterprise",
        enterprise_id=firm.id,
        unit_text=unit,
        charging_unit=unit,
        item_charged="测试收费",
        amount=Decimal(amount),
        charged_on=dt.date(2027, 2, 1),
        receipt_no=f"R{n[0]}",
        reported_by="test",
        verdict=verdict,
        rule=verdict,
        refund_due=Decimal(refund[0]) if refund else Decimal(0),
        explanation="测试",
    )
    if refund:
        extra = {}
        if refund[1] != "due":
            extra = {"confirmed_on": dt.date(2027, 2, 3), "confirmed_by": "c"}
        if refund[1] == "refunded":
            extra |= {"refunded_on": dt.date(2027, 2, 5), "refunded_by": "c"}
        row.refund = FeeRefund(
            amount=Decimal(refund[0]), state=refund[1], due_on=dt.date(2027, 2, 2), **extra
        )
    db_session.add(row)
    db_session.flush()


@pytest.fixture
def fees(db_session, world):
    f1, f2, f3 = world.firms["firm1"], world.firms["firm2"], world.firms["firm3"]
    _finding(db_session, f1, "SAMR", "compliant", "100")
    _finding(db_session, f1, "SAMR", "over_standard", "300", ("120", "due"))
    _finding(db_session, f2, "SAMR", "needs_review", "50")
    _finding(db_session, f2, "FIRE", "off_catalog", "80", ("80", "confirmed"))
    _finding(db_session, f3, "FIRE", "duplicate", "60", ("60", "refunded"))
    _finding(db_session, f3, "FIRE", "compliant", "60")


def test_fee_rates_and_refunds(db_session, world, fees):
    data = fee_data(db_session=db_session, jurisdiction=JURISDICTION, period="2027")
    by = {d.adcode: d for d in data.districts}
    # 雁塔: 4 findings, one in review, 2 violations of 3 decided.
    assert (by[YANTA].findings, by[YANTA].in_review, by[YANTA].violations) == (4, 1, 2)
    assert by[YANTA].violation_rate == pytest.approx(2 / 3)
    assert by[XINCHENG].violation_rate == 0.5
    assert by["610124"].violation_rate is None
    totals = {t.key: t for t in refund_totals(db_session)["by_district"]}
    for adcode in (YANTA, XINCHENG):
        t = totals[adcode]
        assert by[adcode].refunds == {
            "due": t.due,
            "confirmed": t.confirmed,
            "refunded": t.refunded,
        }
    html = render_html(fee_map(data, JURISDICTION), AssetMode.SERVED)
    counts = htmlmap.layer_counts(html)
    assert counts["合规收费（2 笔）"] == 2 and counts["超标准收费（1 笔）"] == 1
    assert counts["待人工复核（1 笔）"] == 1 and counts["退费（3 笔）"] == 3
    assert sum(counts.values()) == 6 + 3
    overlays = htmlmap.overlays(html)
    # The refunds layer is in the control but starts hidden; the verdict layers start shown.
    assert f"{overlays['退费（3 笔）']}.addTo(" not in html
    assert f"{overlays['合规收费（2 笔）']}.addTo(" in html
    features = htmlmap.geojson_features(html, overlays["违规率（按区县）"])
    shown = {f["properties"]["adcode"]: f["properties"]["rate_text"] for f in features}
    assert shown[YANTA] == "66.7%" and shown[XINCHENG] == "50.0%" and shown["610124"] == "—"


def test_bureau_sees_its_own_charges(db_session, world, fees):
    fire = department_id(db_session, "FIRE")
    data = fee_data(db_session=db_session, jurisdiction=JURISDICTION, viewer=Viewer("bureau", fire))
    assert data.charging_unit == "FIRE" and len(data.points) == 3
    assert fee_data(db_session=db_session, jurisdiction=JURISDICTION, period="2026").points == []
