"""The fee compliance engine on a tiny hand-made catalog: one case per verdict, near-miss
names, low-confidence matches going to review, and the refund each verdict makes due."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkonce.findings.fees import engine
from checkonce.findings.fees.engine import CatalogEntry, Charge, PriorCharge, assess

D = dt.date

ELEVATOR = CatalogEntry(
    id=1,
    code="FEE-AF-001",
    charging_unit="SEII",
    item="特种设备检验检测费",
    aliases=("特种设备检验费", "电梯定期检验费"),
    standard_type="cap",
    amount=Decimal("400.00"),
    unit="元/台次",
    legal_basis="《特种设备安全法》第四十条",
    valid_from=D(2020, 1, 1),
    valid_to=None,
    status="active",
)
SEWAGE = CatalogEntry(
    id=2,
    code="FEE-AF-009",
    charging_unit="SEE",
    item="排污费",
    aliases=("排污收费",),
    standard_type="fixed",
    amount=Decimal("1.20"),
    unit="元/污染当量",
    legal_basis="《排污费征收使用管理条例》（已改征环境保护税）",
    valid_from=D(2003, 7, 1),
    valid_to=D(2017, 12, 31),
    status="abolished",
)
HEATING = CatalogEntry(
    id=3,
    code="FEE-PS-007",
    charging_unit="HEAT",
    item="集中供热价格（非居民）",
    aliases=("非居民采暖费",),
    standard_type="cap",
    amount=Decimal("8.80"),
    unit="元/平方米·月",
    legal_basis="《价格法》第十八条",
    valid_from=D(2019, 11, 15),
    valid_to=None,
    status="active",
)
REGISTRY_A = CatalogEntry(
    id=4,
    code="FEE-AF-002",
    charging_unit="NRB",
    item="不动产登记费（非住宅）",
    aliases=(),
    standard_type="fixed",
    amount=Decimal("550.00"),
    unit="元/件",
    legal_basis="发改价格规〔2016〕2559号",
    valid_from=D(2017, 1, 1),
    valid_to=None,
    status="active",
)
REGISTRY_B = CatalogEntry(
    id=5,
    code="FEE-AF-003",
    charging_unit="NRB",
    item="不动产登记费（住宅）",
    aliases=(),
    standard_type="fixed",
    amount=Decimal("80.00"),
    unit="元/件",
    legal_basis="发改价格规〔2016〕2559号",
    valid_from=D(2017, 1, 1),
    valid_to=None,
    status="active",
)
EDUCATION = CatalogEntry(
    id=6,
    code="FEE-GF-001",
    charging_unit="TAX",
    item="教育费附加",
    aliases=(),
    standard_type="fixed",
    amount=Decimal("3.00"),
    unit="%（实际缴纳的增值税、消费税税额）",
    legal_basis="《征收教育费附加的暂行规定》",
    valid_from=D(2005, 10, 1),
    valid_to=None,
    status="active",
)
CATALOG = [ELEVATOR, SEWAGE, HEATING, REGISTRY_A, REGISTRY_B, EDUCATION]


def charge(item: str, amount: str, unit: str | None = "SEII", day=D(2026, 5, 6), qty="1"):
    return Charge(
        unit_text=unit or "某物业公司",
        unit_code=unit,
        item=item,
        amount=Decimal(amount),
        charged_on=day,
        quantity=Decimal(qty),
    )


# (case, charge, verdict, refund due)
CASES = [
    ("exact item, within the cap", charge("特种设备检验检测费", "380"), "compliant", "0"),
    ("alias, full width space", charge("特种设备 检验费", "400.00"), "compliant", "0"),
    ("alias, above the cap", charge("电梯定期检验费", "650"), "over_standard", "250.00"),
    ("cap × quantity", charge("特种设备检验费", "1000", qty="3"), "compliant", "0"),
    ("near miss 检验→检测", charge("特种设备检测费", "300"), "needs_review", "0"),
    ("near miss, other wording", charge("设备检验服务费", "300"), "off_catalog", "300"),
    ("nothing like it", charge("企业年度会员费", "1200", unit=None), "off_catalog", "1200"),
    (
        "wrong unit for the item",
        charge("特种设备检验费", "300", unit="SAMR"),
        "unauthorized_unit",
        "300",
    ),
    ("unregistered unit", charge("特种设备检验费", "300", unit=None), "unauthorized_unit", "300"),
    ("abolished item", charge("排污费", "960", unit="SEE"), "abolished_or_expired", "960"),
    (
        # No entry in force that day is no proof the fee was abolished: a person decides.
        "before valid_from",
        charge("非居民采暖费", "80", unit="HEAT", day=D(2019, 11, 1)),
        "needs_review",
        "0",
    ),
    (
        "qualifier dropped, two entries fit",
        charge("不动产登记费", "550", unit="NRB"),
        "needs_review",
        "0",
    ),
    (
        "percentage standard",
        charge("教育费附加", "31.00", unit="TAX", qty="1000"),
        "over_standard",
        "1.00",
    ),
]


@pytest.mark.parametrize(("case", "given", "verdict", "refund"), CASES, ids=[c[0] for c in CASES])
def test_hand_made_case_per_verdict(case, given, verdict, refund):
    result = assess(given, CATALOG)
    assert result.verdict == verdict, result.explanation
    assert result.refund_due == Decimal(refund)
    assert result.explanation


def test_every_verdict_has_a_case():
    covered = {c[2] for c in CASES} | {"duplicate"}
    from checkonce.findings.fees.models import FEE_VERDICTS

    assert covered == set(FEE_VERDICTS)


def test_duplicate_same_unit_item_and_period():
    first = PriorCharge(
        id=7, unit_code="HEAT", entry_id=3, charged_on=D(2026, 1, 5), amount=Decimal("88")
    )
    again = charge("非居民采暖费", "88", unit="HEAT", day=D(2026, 1, 20), qty="10")
    result = assess(again, CATALOG, [first])
    assert (result.verdict, result.refund_due, result.duplicate_of) == (
        "duplicate",
        Decimal("88"),
        7,
    )
    assert "2026-01" in result.explanation
    # Next month is a new billing period: not a duplicate.
    later = charge("非居民采暖费", "88", unit="HEAT", day=D(2026, 2, 3), qty="10")
    assert assess(later, CATALOG, [first]).verdict == "compliant"


def test_per_unit_fee_twice_on_one_day_goes_to_review_not_straight_to_duplicate():
    prior = [
        PriorCharge(
            id=1, unit_code="SEII", entry_id=1, charged_on=D(2026, 5, 6), amount=Decimal("380")
        )
    ]
    again = assess(charge("特种设备检验费", "380"), CATALOG, prior)
    assert (again.verdict, again.rule, again.refund_due, again.duplicate_of) == (
        "needs_review",
        "check_duplicate",
        Decimal("0"),
        1,
    )
    assert "人工复核" in again.explanation
    # A coordinator who looked and named the entry: now the duplicate rule decides.
    decided = assess(charge("特种设备检验费", "380"), CATALOG, prior, reviewed_entry=ELEVATOR)
    assert (decided.verdict, decided.refund_due) == ("duplicate", Decimal("380"))
    assert assess(charge("特种设备检验费", "300"), CATALOG, prior).verdict == "compliant"
    other_day = charge("特种设备检验费", "380", day=D(2026, 5, 7))
    assert assess(other_day, CATALOG, prior).verdict == "compliant"


def test_charge_before_the_entry_took_effect_is_reviewed_not_refunded():
    # The attack: 特种设备检验检测费 charged 2019-06-01, before the entry's 2020-01-01.
    early = assess(charge("特种设备检验检测费", "400", day=D(2019, 6, 1)), CATALOG)
    assert (early.verdict, early.rule, early.refund_due) == (
        "needs_review",
        "check_not_yet_in_force",
        Decimal("0"),
    )
    assert "2020-01-01" in early.explanation
    # Decided by a coordinator: the entry applies and the standard is checked.
    decided = assess(
        charge("特种设备检验检测费", "400", day=D(2019, 6, 1)), CATALOG, reviewed_entry=ELEVATOR
    )
    assert decided.verdict == "compliant"
    # After an entry ended it is still abolished/expired with a full refund.
    assert assess(charge("排污费", "960", unit="SEE"), CATALOG).verdict == "abolished_or_expired"


@pytest.mark.parametrize("amount", ["0", "-1"])
def test_zero_or_negative_amount_is_not_a_charge(amount):
    with pytest.raises(ValueError):
        assess(charge("特种设备检验费", amount), CATALOG)


def test_fuzzy_match_explains_score_and_name():
    result = assess(charge("特种设备检测费", "300"), CATALOG)
    assert result.match is not None
    assert result.match.entry.code == "FEE-AF-001"
    assert result.match.score == pytest.approx(87.5)
    assert result.match.name == "特种设备检验检测费"
    assert "87.5" in result.explanation and "特种设备检验检测费" in result.explanation


def test_exact_alias_is_reported_as_alias():
    result = assess(charge("电梯定期检验费", "100"), CATALOG)
    assert (result.match.how, result.match.score, result.match.name) == (
        "alias",
        100.0,
        "电梯定期检验费",
    )


def test_reviewer_decision_applies_the_remaining_rules():
    near = charge("特种设备检测费", "650")
    decided = assess(near, CATALOG, reviewed_entry=ELEVATOR)
    assert (decided.verdict, decided.refund_due) == ("over_standard", Decimal("250.00"))
    assert "复核" in decided.explanation
    off = engine.off_catalog_by_review(near, "检测费非目录项目")
    assert (off.verdict, off.refund_due) == ("off_catalog", Decimal("650"))


def test_one_function_per_rule():
    for name in (
        "check_off_catalog",
        "check_needs_review",
        "check_unauthorized_unit",
        "check_not_yet_in_force",
        "check_abolished_or_expired",
        "check_duplicate",
        "check_over_standard",
        "compliant",
    ):
        assert callable(getattr(engine, name))
    assert assess(charge("电梯定期检验费", "650"), CATALOG).rule == "check_over_standard"


NAMES = st.text(alphabet="特种设备检验测费服务排污电梯定期年会员", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(name=NAMES, amount=st.decimals(min_value="0.01", max_value=10000, places=2))
def test_a_fuzzy_match_never_clears_a_charge(name, amount):
    """Whatever the name: a compliant verdict only ever comes from an exact catalog name or
    alias, and the refund never exceeds the amount."""
    result = assess(charge(name, str(amount)), CATALOG)
    assert Decimal(0) <= result.refund_due <= Decimal(str(amount))
    if result.verdict in ("compliant", "over_standard", "duplicate"):
        assert result.match.score >= engine.HIGH_CONFIDENCE
        assert engine.normalize_name(name) in {
            engine.normalize_name(n) for e in CATALOG for n in (e.item, *e.aliases)
        } or result.match.how.endswith("without_qualifier")
