"""Fee findings in the database against the Xi'an fee catalog: recording and verdicts,
the review queue, refunds due → confirmed → refunded, and totals per unit and district."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.findings.fees import service
from checkonce.findings.fees.models import FeeFinding, FeeRefund
from checkonce.findings.fees.service import ChargeInput
from tests import factories as f

TODAY = dt.date(2026, 11, 18)
D = dt.date


def report(session, firm, unit, item, amount, day=D(2026, 5, 6), receipt=None, qty="1"):
    return service.record_fee_finding(
        db_session=session,
        data=ChargeInput(
            unit=unit,
            item=item,
            amount=amount,
            charged_on=day,
            receipt_no=receipt or f"R{item}{amount}{day}",
            quantity=qty,
        ),
        enterprise_id=firm.id,
        source="enterprise",
        actor=f.actor("enterprise", enterprise_id=firm.id),
        today=TODAY,
    )


# Charged names against the real catalog, including the near misses of 特种设备检验检测费.
REAL_CASES = [
    ("SEII", "特种设备检验费", "380", "compliant", "0.00"),
    ("陕西省特种设备检验检测研究院", "电梯定期检验费", "520", "over_standard", "120.00"),
    ("SEII", "特种设备检测费", "380", "needs_review", "0.00"),
    ("SEII", "设备检验服务费", "380", "off_catalog", "380.00"),
    ("SAMR", "特种设备检验费", "380", "unauthorized_unit", "380.00"),
    ("某检测技术有限公司", "特种设备检验费", "380", "unauthorized_unit", "380.00"),
    ("WATER", "供水开户费", "100", "abolished_or_expired", "100.00"),
    ("SAMR", "个体工商户管理费", "50", "abolished_or_expired", "50.00"),
]


@pytest.mark.parametrize(("unit", "item", "amount", "verdict", "refund"), REAL_CASES)
def test_verdicts_against_the_catalog(db_session, unit, item, amount, verdict, refund):
    firm = f.enterprise(db_session)
    finding = report(db_session, firm, unit, item, amount)
    assert finding.verdict == verdict, finding.explanation
    assert finding.refund_due == Decimal(refund)
    assert (finding.refund is not None) == (Decimal(refund) > 0)
    if finding.refund is not None:
        assert (finding.refund.state, finding.refund.amount) == ("due", Decimal(refund))


def test_same_per_unit_charge_twice_on_one_day_goes_to_review(db_session):
    # 非居民气价 is per cubic metre: a second equal charge on the same day may be a second
    # delivery or a repeated bill; a coordinator decides, nothing is refunded meanwhile.
    firm = f.enterprise(db_session)
    first = report(db_session, firm, "GAS", "非居民气价", "350", day=D(2026, 3, 1), qty="100")
    again = report(
        db_session, firm, "GAS", "非居民气价", "350", day=D(2026, 3, 1), qty="100", receipt="R2"
    )
    assert first.verdict == "compliant"
    assert (again.verdict, again.duplicate_of_id, again.refund_due, again.refund) == (
        "needs_review",
        first.id,
        Decimal("0"),
        None,
    )
    decided = service.resolve_review(
        db_session=db_session,
        finding_id=again.id,
        entry_code=again.entry.code,
        actor=f.coordinator(),
        note="同一张气费账单重复开票",
        today=TODAY,
    )
    assert (decided.verdict, decided.refund_due) == ("duplicate", Decimal("350.00"))


def test_the_same_receipt_is_recorded_once(db_session):
    firm = f.enterprise(db_session)
    report(db_session, firm, "SEII", "特种设备检验费", "380", receipt="NO.1")
    with pytest.raises(Conflict, match="已登记"):
        report(db_session, firm, "SEII", "特种设备检验费", "380", receipt="NO.1")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "-1", "金额"),
        ("amount", "0", "大于 0"),
        ("amount", "12.345", "两位小数"),
        ("amount", "abc", "不是有效"),
        ("item", "  ", "收费项目不能为空"),
        ("receipt_no", "", "票据号"),
        ("charged_on", D(2027, 1, 1), "晚于今天"),
        ("quantity", "0", "正数"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(db_session, field, value, message):
    firm = f.enterprise(db_session)
    values = {
        "unit": "SEII",
        "item": "特种设备检验费",
        "amount": "1",
        "charged_on": D(2026, 5, 6),
        "receipt_no": "X1",
        "quantity": "1",
    }
    values[field] = value
    with pytest.raises(CheckOnceError, match=message):
        service.record_fee_finding(
            db_session=db_session,
            data=ChargeInput(**values),
            enterprise_id=firm.id,
            source="enterprise",
            actor=f.as_enterprise(firm),
            today=TODAY,
        )
    assert db_session.scalar(select(func.count()).select_from(FeeFinding)) == 0


def test_review_queue_and_resolution(db_session):
    firm = f.enterprise(db_session)
    near = report(db_session, firm, "SEII", "特种设备检测费", "520")
    other = report(db_session, firm, "SEII", "特种设备检测费", "300", receipt="R-other")
    assert [x.id for x in service.review_queue(db_session)] == [near.id, other.id]
    assert near.match_score == pytest.approx(87.5) and near.matched_name == "特种设备检验检测费"
    decided = service.resolve_review(
        db_session=db_session,
        finding_id=near.id,
        entry_code="FEE-AF-001",
        actor=f.coordinator("c"),
        note="与检验机构核实即定期检验",
        today=TODAY,
    )
    assert (decided.verdict, decided.refund_due, decided.reviewed_by) == (
        "over_standard",
        Decimal("120.00"),
        "coordinator:c",
    )
    off = service.resolve_review(
        db_session=db_session,
        finding_id=other.id,
        entry_code=None,
        actor=f.coordinator("c"),
        note="自立名目",
        today=TODAY,
    )
    assert (off.verdict, off.refund_due) == ("off_catalog", Decimal("300.00"))
    assert service.review_queue(db_session) == []
    with pytest.raises(Conflict, match="不在复核队列"):
        service.resolve_review(
            db_session=db_session,
            finding_id=near.id,
            entry_code=None,
            actor=f.coordinator("c"),
            note="x",
            today=TODAY,
        )
    with pytest.raises(NotFound):
        service.resolve_review(
            db_session=db_session,
            finding_id=10**9,
            entry_code=None,
            actor=f.coordinator("c"),
            note="x",
            today=TODAY,
        )


def test_refund_steps_and_totals_per_unit_and_district(db_session):
    yanta = f.enterprise(db_session)
    beilin = f.enterprise(
        db_session, district_adcode="610103", credit_code=f.credit_code(division="610103")
    )
    a = report(db_session, yanta, "SEII", "电梯定期检验费", "520")  # 120 over
    b = report(db_session, yanta, "WATER", "供水开户费", "100")  # 100 abolished
    c = report(db_session, beilin, "SEII", "特种设备检验费", "1000", qty="2")  # 200 over
    service.confirm_refund(
        db_session=db_session, refund_id=a.refund.id, actor=f.coordinator("c"), on=TODAY
    )
    service.mark_refunded(
        db_session=db_session,
        refund_id=a.refund.id,
        actor=f.coordinator("c"),
        on=TODAY + dt.timedelta(days=3),
    )
    service.confirm_refund(
        db_session=db_session, refund_id=c.refund.id, actor=f.coordinator("c"), on=TODAY
    )
    with pytest.raises(Conflict, match="须先确认"):
        service.mark_refunded(
            db_session=db_session, refund_id=b.refund.id, actor=f.coordinator("c"), on=TODAY
        )
    with pytest.raises(Conflict, match="只有应退"):
        service.confirm_refund(
            db_session=db_session, refund_id=a.refund.id, actor=f.coordinator("c"), on=TODAY
        )
    with pytest.raises(CheckOnceError, match="早于"):
        service.confirm_refund(
            db_session=db_session,
            refund_id=b.refund.id,
            actor=f.coordinator("c"),
            on=TODAY - dt.timedelta(days=1),
        )
    totals = service.refund_totals(db_session)
    by_unit = {t.key: (t.count, t.due, t.confirmed, t.refunded) for t in totals["by_unit"]}
    assert by_unit == {
        "SEII": (2, Decimal("0"), Decimal("200.00"), Decimal("120.00")),
        "WATER": (1, Decimal("100.00"), Decimal("0"), Decimal("0")),
    }
    by_district = {t.key: (t.count, t.total) for t in totals["by_district"]}
    assert by_district == {"610113": (2, Decimal("220.00")), "610103": (1, Decimal("200.00"))}
    assert [t.name for t in totals["by_district"]] == ["雁塔区", "碑林区"]
    refunded = service.list_refunds(db_session, state="refunded")
    assert [(r.finding_id, r.refunded_by) for r in refunded] == [(a.id, "coordinator:c")]
    assert db_session.scalar(select(func.count()).select_from(FeeRefund)) == 3


def test_check_without_recording(db_session):
    verdict = service.check_charge(
        db_session,
        ChargeInput(
            unit="SEII",
            item="特种设备检测费",
            amount="300",
            charged_on=D(2026, 5, 6),
            receipt_no="-",
        ),
        today=TODAY,
    )
    assert verdict.verdict == "needs_review"
    assert db_session.scalar(select(func.count()).select_from(FeeFinding)) == 0
