"""Every constraint of the registry schema refuses bad rows on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from checkonce.registry.models import (
    CheckItem,
    ChecklistEntry,
    Conflict,
    Department,
    District,
    FeeCatalogEntry,
    InspectorUnavailability,
    Scene,
)
from tests import factories as f


def rejected(session, build) -> bool:
    """Whether flushing what `build` adds fails with an integrity error (rolled back)."""
    try:
        with session.begin_nested():
            build()
            session.flush()
    except IntegrityError:
        return True
    return False


def item_values(session, **overrides):
    values = {
        "code": "X-001",
        "department_id": f.department(session).id,
        "name": "测试事项",
        "legal_basis": "《测试法》第一条",
        "category": "food",
        "default_minutes": 60,
        "default_team": 2,
    }
    values.update(overrides)
    return values


def fee_values(**overrides):
    values = {
        "code": "FEE-T-1",
        "kind": "administrative_fee",
        "charging_unit": "SAMR",
        "item": "测试收费",
        "aliases": [],
        "standard_type": "fixed",
        "amount": Decimal("10.00"),
        "unit": "元/次",
        "legal_basis": "测试文件",
        "valid_from": dt.date(2020, 1, 1),
        "valid_to": None,
        "status": "active",
    }
    values.update(overrides)
    return values


def test_valid_rows_are_accepted(db_session):
    s = db_session
    assert not rejected(s, lambda: s.add(CheckItem(**item_values(s))))
    assert not rejected(s, lambda: s.add(FeeCatalogEntry(**fee_values())))
    assert not rejected(s, lambda: f.enterprise(s))
    assert not rejected(s, lambda: f.inspector(s))
    assert not rejected(
        s,
        lambda: f.inspector(
            s,
            role="grid",
            certificate_no=None,
            certificate_valid_from=None,
            certificate_valid_to=None,
        ),
    )


DEPARTMENT_CASES = {
    "district adcode length": lambda s: s.add(District(adcode="61011", name="短码区")),
    "district name unique": lambda s: s.add(District(adcode="610199", name="雁塔区")),
    "department code unique": lambda s: s.add(
        Department(code="SAMR", name="另一个局", short_name="另")
    ),
    "department code length": lambda s: s.add(Department(code="X", name="某局", short_name="某")),
}


@pytest.mark.parametrize("case", DEPARTMENT_CASES)
def test_district_and_department_constraints(db_session, case):
    assert rejected(db_session, lambda: DEPARTMENT_CASES[case](db_session))


ITEM_CASES = {
    "category": {"category": "misc"},
    "minutes zero": {"default_minutes": 0},
    "minutes too long": {"default_minutes": 600},
    "team": {"default_team": 0},
    "legal basis": {"legal_basis": ""},
    "department fk": {"department_id": 999999},
}


@pytest.mark.parametrize("case", ITEM_CASES)
def test_check_item_constraints(db_session, case):
    s = db_session
    assert rejected(s, lambda: s.add(CheckItem(**item_values(s, **ITEM_CASES[case]))))


def test_check_item_code_unique_and_checklist_keys(db_session):
    s = db_session
    existing = s.scalars(select(CheckItem)).first()
    assert rejected(s, lambda: s.add(CheckItem(**item_values(s, code=existing.code))))
    item = CheckItem(**item_values(s, code="X-002"))
    s.add(item)
    s.flush()
    entry = {"item_id": item.id, "position": 0, "key": "a", "text": "甲"}
    s.add(ChecklistEntry(**entry))
    s.flush()
    assert rejected(s, lambda: s.add(ChecklistEntry(**{**entry, "key": "b"})))
    assert rejected(s, lambda: s.add(ChecklistEntry(**{**entry, "position": 1})))
    assert rejected(s, lambda: s.add(ChecklistEntry(**{**entry, "position": -1, "key": "c"})))


def test_scene_lead_must_exist(db_session):
    s = db_session
    assert rejected(s, lambda: s.add(Scene(code="s-x", name="无牵头", lead_department_id=999999)))


ENTERPRISE_CASES = {
    "credit code length": {"credit_code": "91610113ABC"},
    "risk class": {"risk_class": "E"},
    "latitude": {"lat": 95.0},
    "longitude": {"lon": 190.0},
    "opening hours": {"opens_at": dt.time(18, 0), "closes_at": dt.time(9, 0)},
    "district fk": {"district_adcode": "999999"},
    "industry fk": {"industry_code": "no-such-industry"},
}


@pytest.mark.parametrize("case", ENTERPRISE_CASES)
def test_enterprise_constraints(db_session, case):
    assert rejected(db_session, lambda: f.enterprise(db_session, **ENTERPRISE_CASES[case]))


def test_enterprise_credit_code_unique(db_session):
    first = f.enterprise(db_session)
    assert rejected(db_session, lambda: f.enterprise(db_session, credit_code=first.credit_code))


INSPECTOR_CASES = {
    "role": {"role": "volunteer"},
    "status": {"status": "retired"},
    "enforcement needs certificate": {"certificate_no": None},
    "enforcement needs validity": {"certificate_valid_to": None},
    "certificate dates order": {"certificate_valid_from": dt.date(2030, 1, 1)},
    "minutes": {"minutes_per_day": 0},
    "department fk": {"department_id": 999999},
    "home latitude": {"home_lat": -91.0},
}


@pytest.mark.parametrize("case", INSPECTOR_CASES)
def test_inspector_constraints(db_session, case):
    assert rejected(db_session, lambda: f.inspector(db_session, **INSPECTOR_CASES[case]))


def test_inspector_unique_code_certificate_day_and_conflict(db_session):
    s = db_session
    one = f.inspector(s)
    assert rejected(s, lambda: f.inspector(s, code=one.code))
    assert rejected(s, lambda: f.inspector(s, certificate_no=one.certificate_no))
    day = dt.date(2027, 1, 5)
    s.add(InspectorUnavailability(inspector_id=one.id, day=day))
    s.flush()
    assert rejected(s, lambda: s.add(InspectorUnavailability(inspector_id=one.id, day=day)))
    firm = f.enterprise(s)
    conflict = {
        "inspector_id": one.id,
        "enterprise_id": firm.id,
        "reason": "亲属",
        "declared_on": day,
    }
    s.add(Conflict(**conflict))
    s.flush()
    assert rejected(s, lambda: s.add(Conflict(**conflict)))
    assert rejected(s, lambda: s.add(Conflict(**{**conflict, "enterprise_id": 999999})))


def test_auxiliaries_are_stored_but_never_assignable(db_session):
    grid = f.inspector(
        db_session,
        role="grid",
        certificate_no=None,
        certificate_valid_from=None,
        certificate_valid_to=None,
    )
    officer = f.inspector(db_session)
    assert not grid.assignable and officer.assignable
    assert officer.certified_on(dt.date(2027, 3, 1))
    assert not officer.certified_on(dt.date(2030, 1, 1))


FEE_CASES = {
    "kind": {"kind": "tax"},
    "standard type": {"standard_type": "range"},
    "status": {"status": "paused"},
    "amount": {"amount": Decimal("-1.00")},
    "validity order": {"valid_to": dt.date(2019, 1, 1)},
    "legal basis": {"legal_basis": ""},
    "charging unit fk": {"charging_unit": "NOBODY"},
}


@pytest.mark.parametrize("case", FEE_CASES)
def test_fee_catalog_constraints(db_session, case):
    s = db_session
    assert rejected(s, lambda: s.add(FeeCatalogEntry(**fee_values(**FEE_CASES[case]))))


def test_fee_code_unique(db_session):
    s = db_session
    s.add(FeeCatalogEntry(**fee_values()))
    s.flush()
    assert rejected(s, lambda: s.add(FeeCatalogEntry(**fee_values(item="另一项"))))
