"""Enterprise codes (企业码) and inspection codes (检查码): signatures, tampering, key
rotation and revocation, posters that really scan (zxing-cpp), and what the enterprise sees
when it scans an inspector's code."""

from __future__ import annotations

import datetime as dt
import io
import re
import string

import pytest
import zxingcpp
from PIL import Image, ImageDraw
from sqlalchemy import update

from checkonce.visits import codes, posters
from checkonce.visits.checkin_models import CodeSigningKey
from checkonce.visits.inspection_codes import issue_inspection_code, resolve_inspection_code
from tests import factories as f
from tests.visits.test_checkin import SECRET, TODAY, schedule, statements, visit

BASE = "https://checkonce.example.gov.cn"


def token_of(session, firm) -> str:
    return codes.enterprise_token(
        db_session=session, secret_key=SECRET, credit_code=firm.credit_code
    )


def verify(session, token: str, secret: str = SECRET) -> codes.EnterpriseCode:
    return codes.verify_enterprise_token(db_session=session, secret_key=secret, token=token)


def refused_code(session, token: str, secret: str = SECRET) -> str:
    with pytest.raises(codes.InvalidCode) as caught:
        verify(session, token, secret)
    return caught.value.code


# --- enterprise codes ------------------------------------------------------------------------


def test_an_enterprise_code_names_its_enterprise_and_key(db_session):
    firm = f.enterprise(db_session)
    token = token_of(db_session, firm)
    kind, kid, credit, signature = token.split(".")
    assert (kind, credit) == ("E1", firm.credit_code)
    assert len(signature) == 22  # 128 bits, base64url
    assert verify(db_session, token) == codes.EnterpriseCode(credit_code=firm.credit_code, kid=kid)
    # Static: printing the poster again gives the same code while the key is current.
    assert token_of(db_session, firm) == token


def test_flipping_any_character_of_the_code_is_detected(db_session):
    firm = f.enterprise(db_session)
    token = token_of(db_session, firm)
    for position, char in enumerate(token):
        if char == ".":
            continue
        for replacement in ("0", "A", "z"):
            if replacement != char:
                altered = token[:position] + replacement + token[position + 1 :]
                assert refused_code(db_session, altered) in ("code_forged", "code_malformed")
                break


def test_another_enterprise_credit_code_under_a_valid_signature_is_refused(db_session):
    firm, other = f.enterprise(db_session), f.enterprise(db_session)
    kind, kid, _credit, signature = token_of(db_session, firm).split(".")
    swapped = ".".join([kind, kid, other.credit_code, signature])
    assert refused_code(db_session, swapped) == "code_forged"


def test_a_code_signed_under_another_server_secret_is_refused(db_session):
    firm = f.enterprise(db_session)
    assert refused_code(db_session, token_of(db_session, firm), secret="x" * 48) == "code_forged"


def test_a_code_moved_to_another_key_id_is_refused(db_session):
    firm = f.enterprise(db_session)
    old = token_of(db_session, firm)
    new_key = codes.create_key(db_session=db_session, actor=f.admin("test"))
    kind, _kid, credit, signature = old.split(".")
    assert (
        refused_code(db_session, ".".join([kind, new_key.kid, credit, signature])) == "code_forged"
    )
    # An unknown key id is refused the same way as a bad signature.
    assert (
        refused_code(db_session, ".".join([kind, "ffffffff", credit, signature])) == "code_forged"
    )


def test_rotation_signs_new_posters_with_the_new_key_and_revocation_kills_the_old(db_session):
    firm = f.enterprise(db_session)
    old = token_of(db_session, firm)
    old_kid = verify(db_session, old).kid
    codes.create_key(db_session=db_session, actor=f.admin("test"))
    new = token_of(db_session, firm)
    assert new != old and verify(db_session, new).kid != old_kid
    assert verify(db_session, old).kid == old_kid  # old posters work until revoked

    codes.revoke_key(db_session=db_session, kid=old_kid, actor=f.admin("test"), reason="密钥泄露")
    assert refused_code(db_session, old) == "code_revoked"
    assert verify(db_session, new).credit_code == firm.credit_code
    with pytest.raises(Exception, match="已于"):
        codes.revoke_key(db_session=db_session, kid=old_kid, actor=f.admin("test"), reason="再次")


def test_revoking_the_only_key_makes_the_next_poster_use_a_fresh_one(db_session):
    firm = f.enterprise(db_session)
    for key in codes.list_keys(db_session=db_session):
        if not key.revoked:
            codes.revoke_key(db_session=db_session, kid=key.kid, actor=f.admin("t"), reason="轮换")
    token = token_of(db_session, firm)
    assert verify(db_session, token).credit_code == firm.credit_code


# --- the signing keys each process caches ------------------------------------------------------


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """The key cache's clock, moved by hand."""
    now = [1_000_000.0]
    monkeypatch.setattr(codes.KEY_CACHE, "clock", lambda: now[0])
    return now


def key_reads(ran: list[str]) -> int:
    return sum("FROM code_signing_key" in statement for statement in ran)


def test_scans_read_a_signing_key_once_per_cache_lifetime(db_session, clock):
    token = token_of(db_session, f.enterprise(db_session))
    with statements(db_session) as ran:
        for _ in range(3):
            verify(db_session, token)
        assert key_reads(ran) == 1
        clock[0] += codes.KEY_CACHE_SECONDS
        verify(db_session, token)
        assert key_reads(ran) == 2


def test_a_key_revoked_by_another_process_is_refused_once_the_cache_expires(db_session, clock):
    token = token_of(db_session, f.enterprise(db_session))
    kid = verify(db_session, token).kid
    # Another process (a server worker, the CLI) revokes it straight in the database.
    db_session.execute(
        update(CodeSigningKey)
        .where(CodeSigningKey.kid == kid)
        .values(revoked_at=dt.datetime.now(dt.UTC), revoked_by="admin:b", revoke_reason="外泄")
    )
    clock[0] += codes.KEY_CACHE_SECONDS - 1
    assert verify(db_session, token).kid == kid  # still trusted here, within the lifetime
    clock[0] += 1
    assert refused_code(db_session, token) == "code_revoked"


def test_a_revocation_here_is_immediate_even_with_the_key_cached(db_session, clock):
    token = token_of(db_session, f.enterprise(db_session))
    kid = verify(db_session, token).kid
    codes.revoke_key(db_session=db_session, kid=kid, actor=f.admin("t"), reason="外泄")
    assert refused_code(db_session, token) == "code_revoked"


def test_a_local_revocation_outlives_a_stale_read_until_the_cache_expires(clock):
    cache = codes.KeyCache(30, clock=lambda: clock[0])
    key = codes.KnownKey(kid="abcd1234", salt="s" * 32, revoked=False)
    cache.revoke("db", codes.KnownKey(kid=key.kid, salt=key.salt, revoked=True))
    cache.put("db", key)  # a scan that read the key before the revocation committed
    assert cache.get("db", key.kid).revoked
    assert cache.get("other db", key.kid) is None
    clock[0] += 30
    assert cache.get("db", key.kid) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "hello",
        "E1.abcd.91610113000000013X",
        "V1.abcd1234.1.2.20261118.AAAA",
        "E1..x.y",
        "E1.ABCD!.x.y",
    ],
)
def test_malformed_codes_are_refused(db_session, garbage):
    assert refused_code(db_session, garbage) in ("code_malformed", "code_forged")


def test_scans_may_be_a_bare_token_or_our_url(db_session):
    firm = f.enterprise(db_session)
    token = token_of(db_session, firm)
    for scanned in (
        token,
        f"{BASE}/e/{token}",
        f"{BASE}/e/{token}?from=poster#top",
        f"  {BASE}/e/{token}/ ",
        f"/e/{token}",
    ):
        found, code = codes.enterprise_of_code(
            db_session=db_session, secret_key=SECRET, scanned=scanned
        )
        assert found.id == firm.id and code.credit_code == firm.credit_code
    with pytest.raises(codes.InvalidCode) as caught:
        codes.enterprise_of_code(
            db_session=db_session, secret_key=SECRET, scanned="https://evil.example/x/" + token
        )
    assert caught.value.code == "code_not_ours"


def test_a_valid_code_of_another_enterprise_is_refused(db_session):
    firm, other = f.enterprise(db_session), f.enterprise(db_session)
    with pytest.raises(codes.InvalidCode, match="另一家企业") as caught:
        codes.enterprise_of_code(
            db_session=db_session,
            secret_key=SECRET,
            scanned=token_of(db_session, other),
            expected_credit_code=firm.credit_code,
        )
    assert caught.value.code == "code_other_enterprise"


def test_a_code_for_an_enterprise_not_in_the_registry_is_refused(db_session):
    token = codes.enterprise_token(
        db_session=db_session, secret_key=SECRET, credit_code=f.credit_code(99_999_999)
    )
    with pytest.raises(codes.InvalidCode) as caught:
        codes.enterprise_of_code(db_session=db_session, secret_key=SECRET, scanned=token)
    assert caught.value.code == "code_unknown_enterprise"


def test_revoking_needs_a_reason_and_an_existing_key(db_session):
    from checkonce.errors import CheckOnceError, NotFound

    with pytest.raises(CheckOnceError, match="原因"):
        codes.revoke_key(db_session=db_session, kid="abcd1234", actor=f.admin("t"), reason=" ")
    with pytest.raises(NotFound):
        codes.revoke_key(db_session=db_session, kid="nokey000", actor=f.admin("t"), reason="x")


# --- posters ---------------------------------------------------------------------------------


def decode(image: Image.Image) -> list[str]:
    return [
        r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]


def poster_content(session, firm) -> posters.PosterContent:
    return posters.PosterContent(
        url=codes.enterprise_url(BASE, token_of(session, firm)),
        name=firm.name,
        credit_code=firm.credit_code,
    )


def test_the_png_poster_scans_to_the_enterprise_url(db_session):
    firm = f.enterprise(db_session)
    content = poster_content(db_session, firm)
    image = Image.open(io.BytesIO(posters.poster_png(content)))
    assert image.format == "PNG" and image.height > image.width
    assert decode(image) == [content.url]
    scanned = codes.token_from_scan(decode(image)[0], "e")
    assert verify(db_session, scanned).credit_code == firm.credit_code


def rasterize_svg_qr(svg: str) -> Image.Image:
    """Draw the SVG's QR modules (`M x,y h1v1h-1z` at its translate/scale) onto a bitmap."""
    group = re.search(r"translate\((\d+),(\d+)\) scale\((\d+)\)", svg)
    assert group, "the QR group is missing"
    dx, dy, scale = (int(v) for v in group.groups())
    width = int(re.search(r'width="(\d+)"', svg).group(1))
    height = int(re.search(r'height="(\d+)"', svg).group(1))
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for x, y in re.findall(r"M(\d+),(\d+)h1v1h-1z", svg):
        left, top = dx + int(x) * scale, dy + int(y) * scale
        draw.rectangle([left, top, left + scale - 1, top + scale - 1], fill=0)
    return image


def test_the_svg_poster_carries_name_and_credit_code_and_scans(db_session):
    firm = f.enterprise(db_session, name="西安市雁塔区<老字号>&羊肉泡馍馆")
    content = poster_content(db_session, firm)
    svg = posters.poster_svg(content)
    assert svg.startswith("<?xml") and "</svg>" in svg
    assert "西安市雁塔区&lt;老字号&gt;&amp;羊肉泡馍馆" in svg  # escaped, never raw markup
    assert f"统一社会信用代码：{firm.credit_code}" in svg
    assert decode(rasterize_svg_qr(svg)) == [content.url]


def test_a_long_name_is_fitted_to_the_poster(db_session):
    firm = f.enterprise(db_session, name="陕西" + "长" * 40 + "有限责任公司")
    content = poster_content(db_session, firm)
    assert 'lengthAdjust="spacingAndGlyphs"' in posters.poster_svg(content)
    image = Image.open(io.BytesIO(posters.poster_png(content)))
    assert decode(image) == [content.url]


@pytest.mark.skipif(posters.find_cjk_font() is None, reason="no CJK font on this machine")
def test_the_png_poster_draws_chinese_text_with_a_cjk_font(db_session):
    firm = f.enterprise(db_session)
    content = poster_content(db_session, firm)
    with_text = Image.open(io.BytesIO(posters.poster_png(content))).convert("L")
    # The band above the QR holds the title and the name: it has dark pixels.
    band = with_text.crop((0, 0, with_text.width, 120))
    assert band.getextrema()[0] < 100


def test_the_png_poster_without_a_cjk_font_still_scans(db_session, monkeypatch):
    monkeypatch.setattr(posters, "find_cjk_font", lambda *args, **kwargs: None)
    firm = f.enterprise(db_session)
    content = poster_content(db_session, firm)
    assert decode(Image.open(io.BytesIO(posters.poster_png(content)))) == [content.url]


# --- inspection codes ------------------------------------------------------------------------


def resolve(session, token: str, today: dt.date = TODAY):
    return resolve_inspection_code(
        db_session=session, secret_key=SECRET, scanned=token, today=today
    )


def test_an_inspection_code_shows_who_is_coming_and_what_they_check(db_session):
    s = db_session
    firm = f.enterprise(s)
    a, b = f.inspector(s), f.inspector(s, "FIRE")
    planned = visit(s, firm, [a, b], items=("SAMR-SP-001", "FIRE-001"))
    token, _ = issue_inspection_code(
        db_session=s, secret_key=SECRET, visit_id=planned.id, inspector_id=a.id
    )
    view = resolve(s, f"{BASE}/v/{token}")
    assert view.valid, view.reason
    assert (view.inspector, view.certificate_no) == (a.name, a.certificate_no)
    assert view.department == a.department.name
    assert view.certificate_valid_to == a.certificate_valid_to
    assert view.enterprise == firm.name and view.day == TODAY
    assert {t.item for t in view.tasks} == {link.task.item.name for link in planned.tasks}
    assert all(t.legal_basis for t in view.tasks)
    assert view.team == [a.name, b.name]


@pytest.mark.parametrize("shift, words", [(1, "当日有效"), (-1, "当日有效")])
def test_an_inspection_code_is_valid_on_the_visit_day_only(db_session, shift, words):
    s = db_session
    firm = f.enterprise(s)
    a, b = f.inspector(s), f.inspector(s)
    planned = visit(s, firm, [a, b])
    token, _ = issue_inspection_code(
        db_session=s, secret_key=SECRET, visit_id=planned.id, inspector_id=a.id
    )
    view = resolve(s, token, today=TODAY + dt.timedelta(days=shift))
    assert not view.valid and words in view.reason


def test_a_code_follows_its_visit_through_a_re_plan(db_session):
    from tests.visits.test_checkin import republish

    s = db_session
    firm = f.enterprise(s)
    a, b = f.inspector(s), f.inspector(s)
    planned = visit(s, firm, [a, b])
    token, _ = issue_inspection_code(
        db_session=s, secret_key=SECRET, visit_id=planned.id, inspector_id=a.id
    )
    copy = republish(s, planned, [a, b], state="scheduled")
    view = resolve(s, token)
    assert view.valid and view.visit_code == copy.code == planned.code
    # Dropped from the team by the re-plan: the old code no longer vouches for them.
    s.delete(copy.team[0])
    s.flush()
    s.expire_all()
    view = resolve(s, token)
    assert not view.valid and "检查组" in view.reason


def test_a_moved_visit_voids_the_old_code(db_session):
    s = db_session
    firm = f.enterprise(s)
    a, b = f.inspector(s), f.inspector(s)
    planned = visit(s, firm, [a, b])
    token, _ = issue_inspection_code(
        db_session=s, secret_key=SECRET, visit_id=planned.id, inspector_id=a.id
    )
    planned.day = TODAY + dt.timedelta(days=2)
    s.flush()
    view = resolve(s, token)
    assert not view.valid and "改期" in view.reason


def test_codes_for_visits_not_in_force_or_not_mine_are_not_issued(db_session):
    from checkonce.errors import NotFound

    s = db_session
    firm = f.enterprise(s)
    a, b, stranger = f.inspector(s), f.inspector(s), f.inspector(s)
    planned = visit(s, firm, [a, b])
    draft = visit(s, firm, [a, b], version=schedule(s, state="draft"))
    with pytest.raises(NotFound):
        issue_inspection_code(
            db_session=s, secret_key=SECRET, visit_id=planned.id, inspector_id=stranger.id
        )
    with pytest.raises(NotFound):
        issue_inspection_code(db_session=s, secret_key=SECRET, visit_id=draft.id, inspector_id=a.id)


@pytest.mark.parametrize(
    "how", ["cancelled", "unpublished", "not_on_team", "expired_certificate", "revoked", "tampered"]
)
def test_invalid_inspection_codes_say_why(db_session, how):
    s = db_session
    firm = f.enterprise(s)
    a, b = f.inspector(s), f.inspector(s)
    planned = visit(s, firm, [a, b])
    token, _ = issue_inspection_code(
        db_session=s, secret_key=SECRET, visit_id=planned.id, inspector_id=a.id
    )
    expected = {
        "cancelled": "未登记或已取消",
        "unpublished": "未登记或已取消",
        "not_on_team": "不在本次检查的检查组中",
        "expired_certificate": "执法证今天不在有效期内",
        "revoked": "已作废",
        "tampered": "篡改或伪造",
    }[how]
    if how == "cancelled":
        planned.state = "cancelled"
    elif how == "unpublished":
        planned.schedule.state = "superseded"
    elif how == "not_on_team":
        planned.team[0].inspector_id = f.inspector(s).id
    elif how == "expired_certificate":
        a.certificate_valid_to = TODAY - dt.timedelta(days=1)
        a.certificate_valid_from = TODAY - dt.timedelta(days=400)
    elif how == "revoked":
        kid = token.split(".")[1]
        codes.revoke_key(db_session=s, kid=kid, actor=f.admin("t"), reason="测试")
    else:
        visit_id = token.split(".")[2]
        token = token.replace(f".{visit_id}.", f".{int(visit_id) + 1}.", 1)
    s.flush()
    s.expire_all()
    view = resolve(s, token)
    assert not view.valid and expected in view.reason


def test_garbage_never_raises_on_the_inspection_page(db_session):
    for garbage in ("", "V1", "https://x/v/", "V1.abcd1234.x.y.z.sig", string.printable):
        view = resolve(db_session, garbage)
        assert not view.valid and view.reason
