"""The seeded demo generator: valid codes, points inside their district, realistic mixes,
reproducible; and the demo build in the database."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from shapely.geometry import Point
from sqlalchemy import func, select

from checkonce.config import packaged_data_dir
from checkonce.errors import Conflict
from checkonce.registry.creditcode import is_valid_credit_code
from checkonce.registry.demo import (
    DemoSizes,
    generate_conflicts,
    generate_enterprises,
    generate_inspectors,
)
from checkonce.registry.jurisdiction import URBAN_ADCODES, Jurisdiction
from checkonce.registry.models import Enterprise, Inspector

AS_OF = dt.date(2027, 1, 4)


@pytest.fixture(scope="module")
def juris() -> Jurisdiction:
    return Jurisdiction(packaged_data_dir())


@pytest.fixture(scope="module")
def firms(juris) -> list[dict]:
    return list(generate_enterprises(juris, 3000, seed=7))


def test_reference_files_are_consistent(juris):
    assert juris.problems() == []
    assert len(juris.districts) == 13
    assert len(juris.departments) >= 10
    assert all(len(d["items"]) >= 5 for d in juris.departments)
    assert len(juris.scenes) >= 10
    assert len(juris.fee_catalog) >= 30
    assert {f["kind"] for f in juris.fee_catalog} == {
        "administrative_fee",
        "government_fund",
        "deposit",
        "priced_service",
    }


def test_enterprise_codes_are_valid_and_unique(firms):
    codes = [f["credit_code"] for f in firms]
    assert all(is_valid_credit_code(c) for c in codes)
    assert len(set(codes)) == len(codes)
    assert all(c[2:8] == f["district_adcode"] for c, f in zip(codes, firms, strict=True))
    assert len({f["name"] for f in firms}) == len(firms)


def test_every_enterprise_lies_inside_its_district(juris, firms):
    for firm in firms:
        polygon = juris.districts[firm["district_adcode"]].geometry
        assert polygon.contains(Point(firm["lon"], firm["lat"])), firm["credit_code"]


def test_urban_districts_are_denser(juris, firms):
    counts = Counter(f["district_adcode"] for f in firms)
    assert set(counts) == set(juris.districts)
    urban = sum(counts[a] for a in URBAN_ADCODES)
    assert 0.45 < urban / len(firms) < 0.65

    # density per km² (rough, in degrees²) is far higher in the centre than in 周至
    def density(adcode):
        return counts[adcode] / juris.districts[adcode].geometry.area

    assert density("610103") > 50 * density("610124")


def test_risk_and_industry_mixes(juris, firms):
    risks = Counter(f["risk_class"] for f in firms)
    assert set(risks) == {"A", "B", "C", "D"}
    assert risks["D"] < risks["B"]
    industries = Counter(f["industry_code"] for f in firms)
    top = max(juris.industries, key=lambda i: i["share"])["code"]
    assert industries.most_common(1)[0][0] == top
    assert all(f["opens_at"] < f["closes_at"] for f in firms)
    assert 0 < sum(f["whitelisted"] for f in firms) < len(firms) * 0.1
    assert all(f["risk_class"] in "AB" for f in firms if f["whitelisted"])


def test_generation_is_reproducible(juris, firms):
    again = list(generate_enterprises(juris, 3000, seed=7))
    assert again == firms
    other = list(generate_enterprises(juris, 50, seed=8))
    assert [f["credit_code"] for f in other] != [f["credit_code"] for f in firms[:50]]


def test_inspectors_certificates_and_roles(juris):
    staff = list(generate_inspectors(juris, 2000, seed=3, reference_day=AS_OF))
    assert len({s["code"] for s in staff}) == 2000
    roles = Counter(s["role"] for s in staff)
    assert roles["enforcement"] > 1600 and roles["auxiliary"] and roles["grid"]
    officers = [s for s in staff if s["role"] == "enforcement"]
    assert all(s["certificate_no"] and s["certificate_valid_to"] for s in officers)
    assert all(s["certificate_no"] is None for s in staff if s["role"] != "enforcement")
    expired = [s for s in officers if s["certificate_valid_to"] < AS_OF]
    expiring = [
        s for s in officers if AS_OF <= s["certificate_valid_to"] <= AS_OF + dt.timedelta(days=30)
    ]
    assert 0 < len(expired) < 0.05 * len(officers)
    assert 0 < len(expiring) < 0.10 * len(officers)
    assert sum(bool(s["unavailable"]) for s in officers) > 0.2 * len(officers)
    assert {s["department"] for s in staff} == {d["code"] for d in juris.departments}
    for s in staff[:200]:
        polygon = juris.districts[s["home_district_adcode"]].geometry
        assert polygon.contains(Point(s["home_lon"], s["home_lat"]))


def test_conflicts_are_unique_pairs():
    pairs = generate_conflicts([f"E{i}" for i in range(100)], [f"I{i}" for i in range(500)], seed=1)
    assert len(pairs) == len(set(pairs)) == 10


def test_build_demo_writes_the_registry(db_session):
    from checkonce.registry.service import build_demo

    with pytest.raises(Conflict):  # the fixture already loaded the reference data
        build_demo(
            db_session=db_session,
            data_dir=packaged_data_dir(),
            sizes=DemoSizes(100, 30),
            seed=1,
            as_of=AS_OF,
        )
    assert db_session.scalar(select(func.count()).select_from(Enterprise)) == 0
    assert db_session.scalar(select(func.count()).select_from(Inspector)) == 0


def test_some_urban_officers_are_certified_for_other_departments(juris):
    staff = list(generate_inspectors(juris, 2000, seed=3, reference_day=AS_OF))
    certified = [s for s in staff if s["also_for"]]
    urban = [s for s in staff if s["department"] == "URBAN" and s["role"] == "enforcement"]
    assert certified and all(s in urban for s in certified)
    assert 0.1 < len(certified) / len(urban) < 0.4
    assert all(s["also_for"] == ["HOUSING", "SEE"] for s in certified)
