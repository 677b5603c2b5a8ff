"""Signatures on the on-site record: each inspector of the team for itself, the enterprise's
representative with name and role, or a refusal with its reason; the signed PDF once all
are in, stored by its hash."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from PIL import Image, ImageDraw
from sqlalchemy.exc import IntegrityError

from checkonce.documents import service
from checkonce.documents.models import DocumentSignature
from checkonce.errors import CheckOnceError, Conflict
from tests import factories as f
from tests.documents.conftest import BASE_URL, inspector_actor


def ink(blank: bool = False) -> str:
    image = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    if not blank:
        ImageDraw.Draw(image).line(
            [(10, 80), (120, 20), (200, 70), (290, 30)], fill="black", width=4
        )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@pytest.fixture
def record(db_session, completed):
    return service.generate(
        db_session=db_session,
        visit_id=completed["visit"].id,
        kind="onsite_record",
        actor=inspector_actor(completed["samr"][0]),
        base_url=BASE_URL,
    )[0]


def sign(session, doc, person, **kw):
    return service.sign_record(
        db_session=session,
        document_id=doc.id,
        actor=inspector_actor(person),
        base_url=BASE_URL,
        **kw,
    )


def test_all_sign_and_the_signed_pdf_is_stored_by_hash(db_session, completed, record):
    team = completed["samr"] + completed["fire"]
    for person in team:
        sign(db_session, record, person, signer="inspector", image_data_url=ink())
        assert record.signed_sha256 is None
    assert service.missing_signers(record) == ["被检查人"]
    sign(
        db_session,
        record,
        team[1],
        signer="enterprise",
        name="陈老板",
        role="负责人",
        image_data_url=ink(),
    )
    assert record.signed_sha256 is not None and record.signed_sha256 != record.sha256
    data = service.pdf_bytes(record, signed=True)
    assert hashlib.sha256(data).hexdigest() == record.signed_sha256
    assert len(data) > len(service.pdf_bytes(record))  # five signature images embedded
    with pytest.raises(Conflict, match="已签署完毕"):
        sign(
            db_session,
            record,
            team[0],
            signer="enterprise",
            name="x",
            role="y",
            image_data_url=ink(),
        )


def test_refusal_is_recorded_with_its_reason(db_session, completed, record):
    team = completed["samr"] + completed["fire"]
    with pytest.raises(CheckOnceError, match="写明原因"):
        sign(
            db_session,
            record,
            team[0],
            signer="enterprise",
            name="陈老板",
            role="负责人",
            refused=True,
        )
    refusal = sign(
        db_session,
        record,
        team[0],
        signer="enterprise",
        name="陈老板",
        role="负责人",
        refused=True,
        refusal_reason="不认可冷藏柜问题",
    )
    assert refusal.refused and refusal.image_sha256 is None
    for person in team:
        sign(db_session, record, person, signer="inspector", image_data_url=ink())
    assert record.signed_sha256 is not None


def test_only_the_team_signs_and_each_once(db_session, completed, record):
    stranger = f.inspector(db_session, "SAMR")
    with pytest.raises(CheckOnceError, match="检查组"):
        sign(db_session, record, stranger, signer="inspector", image_data_url=ink())
    officer = completed["samr"][0]
    sign(db_session, record, officer, signer="inspector", image_data_url=ink())
    with pytest.raises(Conflict, match="已签名"):
        sign(db_session, record, officer, signer="inspector", image_data_url=ink())


def test_blank_or_bogus_signature_is_refused(db_session, completed, record):
    officer = completed["samr"][0]
    with pytest.raises(CheckOnceError, match="签名为空"):
        sign(db_session, record, officer, signer="inspector", image_data_url=ink(blank=True))
    with pytest.raises(CheckOnceError, match="签名图像无效"):
        sign(
            db_session,
            record,
            officer,
            signer="inspector",
            image_data_url="data:image/png;base64,AAAA",
        )
    with pytest.raises(CheckOnceError, match="签名图像无效"):
        sign(db_session, record, officer, signer="inspector", image_data_url="javascript:alert(1)")
    assert record.signatures == []


def test_schema_refuses_a_refusal_without_reason(db_session, record):
    db_session.add(
        DocumentSignature(
            document_id=record.id,
            signer="enterprise",
            name="陈",
            role="负责人",
            refused=True,
            refusal_reason=None,
            recorded_by="x:y",
        )
    )
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()
