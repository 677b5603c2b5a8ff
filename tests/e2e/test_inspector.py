"""The inspector's flows in a real browser: scan the enterprise's QR poster, log in, check in
with one tap, record a finding and a fee finding; and a check-in tapped offline, queued on the
phone and sent exactly once when the phone is back online; and one sent only after midnight,
kept on the phone for its back-fill (补录)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
from zoneinfo import ZoneInfo

import zxingcpp
from PIL import Image
from sqlalchemy import select

from checkonce.auth.service import create_user
from checkonce.findings.fees.models import FeeFinding
from checkonce.findings.models import TaskResult
from checkonce.visits import codes
from checkonce.visits.checkin_models import CheckIn
from checkonce.visits.models import ScheduleVersion, Visit
from tests import factories as f
from tests.e2e.conftest import SECRET, XIAN, log_in

_serial = itertools.count(1)
FOOD_CHECKS = (
    "license.display",
    "staff.health_cert",
    "food.purchase_ledger",
    "food.storage",
    "food.tableware_disinfection",
    "food.additive",
)


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def quarter_version(session) -> ScheduleVersion:
    """The published version of this quarter (the route map reads schedules by period)."""
    period = f"{today().year}Q{(today().month - 1) // 3 + 1}"
    version = session.scalars(
        select(ScheduleVersion).where(
            ScheduleVersion.period == period, ScheduleVersion.state == "published"
        )
    ).first()
    if version is None:
        version = ScheduleVersion(
            period=period, version=1, state="published", seed="0" * 64, created_by="e2e"
        )
        session.add(version)
        session.flush()
    return version


def scene(live_session, name: str) -> dict:
    """A restaurant by the Bell Tower with a login, an inspector with a login, a colleague of
    the fire brigade, and their joint visit today (food and fire tasks), committed."""
    n = next(_serial)
    firm = f.enterprise(
        live_session, name=name, lat=XIAN["latitude"] + 0.0003, lon=XIAN["longitude"] + 0.0004
    )
    officer = f.inspector(live_session, "SAMR", name=f"张执法{n}")
    colleague = f.inspector(live_session, "FIRE", name=f"李消防{n}")
    visit = f.visit_with_tasks(
        live_session,
        firm,
        [officer, colleague],
        day=today(),
        items=("SAMR-SP-001", "FIRE-001"),
        state="scheduled",
    )
    visit.schedule_id = quarter_version(live_session).id
    username = f"e2e-insp-{n}-{firm.id}"
    create_user(
        db_session=live_session,
        actor=f.SETUP,
        username=username,
        password="correct horse battery",
        role="inspector",
        inspector=officer.code,
    )
    firm_user = f"e2e-firm-{n}-{firm.id}"
    create_user(
        db_session=live_session,
        actor=f.SETUP,
        username=firm_user,
        password="correct horse battery",
        role="enterprise",
        credit_code=firm.credit_code,
    )
    live_session.commit()
    return {
        "firm": firm,
        "officer": officer,
        "visit": visit,
        "username": username,
        "firm_user": firm_user,
        "food_task": next(t.task.id for t in visit.tasks if t.task.item.code == "SAMR-SP-001"),
    }


def checkins(live_session, officer) -> list[CheckIn]:
    """The officer's check-ins in the database, read the moment the page has its answer: the
    server commits before it answers, so a check-in the page reports is already stored."""
    live_session.commit()  # a fresh read: an open SQLite transaction sees an older snapshot
    rows = list(live_session.scalars(select(CheckIn).where(CheckIn.inspector_id == officer.id)))
    live_session.commit()  # end the read: SQLite must not keep the server from writing
    return rows


def scan_poster(desktop, live_server, s) -> str:
    """The enterprise downloads its poster; a real decoder reads the URL off the PNG."""
    log_in(desktop, live_server, s["firm_user"])
    poster = desktop.request.get(
        f"{live_server}/api/v1/enterprises/{s['firm'].credit_code}/poster.png"
    )
    assert poster.ok and poster.headers["content-type"] == "image/png"
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(poster.body())))
    assert len(found) == 1
    url = found[0].text
    assert url.startswith(f"{live_server}/e/"), url
    desktop.context.clear_cookies()
    return url


def test_inspector_scans_checks_in_and_records_findings(
    phone, desktop, live_server, live_session, screenshot, outside_requests
):
    s = scene(live_session, "钟楼小吃有限公司")
    url = scan_poster(desktop, live_server, s)

    # The phone's camera opens the poster's URL: not logged in yet.
    phone.goto(url)
    assert "钟楼小吃有限公司" in phone.locator("h1").inner_text()
    assert phone.locator("#checkin").count() == 0
    screenshot(phone, "enterprise-code-anonymous-phone")
    phone.click("text=执法人员登录")
    phone.fill("input[name=username]", s["username"])
    phone.fill("input[name=password]", "correct horse battery")
    phone.click("form[action='/login'] button[type=submit]")
    phone.wait_for_url(url)
    assert s["visit"].code in phone.locator(".planned").inner_text()
    screenshot(phone, "enterprise-code-phone")

    phone.click("#checkin")
    status = phone.locator("#checkin-status")
    status.filter(has_text="签到已送达").wait_for()
    assert "已匹配计划检查" in status.inner_text()
    assert phone.locator("#checkin").is_disabled()
    screenshot(phone, "checked-in-phone")

    rows = checkins(live_session, s["officer"])
    assert len(rows) == 1
    row = rows[0]
    assert (row.outcome, row.visit_id, row.backfill) == ("planned", s["visit"].id, False)
    assert row.lat == XIAN["latitude"] and row.lon == XIAN["longitude"]
    assert row.distance_m is not None and 30 < row.distance_m < 80
    assert not row.outside_geofence

    # Open the visit from the queue panel's link and record the food task's result.
    phone.click("#checkin-queue a:has-text('打开检查')")
    phone.wait_for_url(f"**/inspector/visits/{s['visit'].id}")
    assert "已签到" in phone.locator("h1 + dl").inner_text()
    assert phone.locator("#code svg").count() == 1
    screenshot(phone, "visit-phone")
    form = phone.locator(f"#task-{s['food_task']} form")
    for key in FOOD_CHECKS:
        answer = "problem" if key == "food.storage" else "ok"
        form.locator(f"input[name='answer.{key}'][value={answer}]").check()
    form.locator("input[name='note.food.storage']").fill("冷库内有超过保质期的肉制品")
    form.locator("input[name=result][value=rectify]").check()
    form.locator("textarea[name=legal_basis]").fill("《中华人民共和国食品安全法》第五十四条")
    deadline = today() + dt.timedelta(days=10)
    form.locator("input[name=rectify_by]").fill(deadline.isoformat())
    form.locator("button[type=submit]").click()
    phone.wait_for_load_state("networkidle")
    assert "已保存" in phone.locator(".flash").inner_text()
    assert "责令整改" in phone.locator(f"#task-{s['food_task']} .result-now").inner_text()

    # A fee the enterprise was charged: the engine's verdict shows at once.
    phone.click("#fees summary")
    fee = phone.locator("form.fee-form")
    fee.locator("input[name=unit]").fill("SEII")
    fee.locator("input[name=item]").fill("特种设备检验检测费")
    fee.locator("input[name=amount]").fill("500")
    fee.locator("input[name=charged_on]").fill(today().isoformat())
    fee.locator("input[name=receipt_no]").fill(f"E2E-{s['firm'].id}")
    fee.locator("button[type=submit]").click()
    phone.wait_for_load_state("networkidle")
    assert "超标准收费" in phone.locator(".flash").inner_text()
    assert "应退 100.00 元" in phone.locator("ul.fee-list").inner_text()
    screenshot(phone, "visit-recorded-phone")

    live_session.commit()
    result = live_session.scalars(
        select(TaskResult).where(TaskResult.inspection_task_id == s["food_task"])
    ).one()
    assert (result.result, result.revision, result.rectify_by) == ("rectify", 1, deadline)
    assert result.checklist["food.storage"] == {
        "answer": "problem",
        "note": "冷库内有超过保质期的肉制品",
    }
    assert result.legal_basis == "《中华人民共和国食品安全法》第五十四条"
    finding = live_session.scalars(
        select(FeeFinding).where(FeeFinding.visit_id == s["visit"].id)
    ).one()
    assert (finding.verdict, finding.refund_due, finding.source) == (
        "over_standard",
        100,
        "visit",
    )
    assert live_session.scalar(select(Visit.state).where(Visit.id == s["visit"].id)) == (
        "checked_in"  # the fire task is still to be recorded by the fire officer
    )
    live_session.commit()
    assert len(checkins(live_session, s["officer"])) == 1

    # Every page on a phone and a desktop.
    log_in(desktop, live_server, s["username"])
    for page, size in ((phone, "phone"), (desktop, "desktop")):
        page.goto(f"{live_server}/inspector")
        assert "钟楼小吃有限公司" in page.locator("ol.stops").inner_text()
        frame = page.frame_locator("iframe.route-map")
        frame.locator(".leaflet-container").first.wait_for()
        assert "1 站" in (frame.locator(".leaflet-control-layers").first.text_content() or "")
        screenshot(page, f"route-{size}")
        page.goto(f"{live_server}/inspector/visits")
        assert "钟楼小吃有限公司" in page.locator("ul.visit-list").inner_text()
        screenshot(page, f"visits-{size}")
        page.goto(f"{live_server}/inspector/visits/{s['visit'].id}")
        screenshot(page, f"visit-{size}")
        page.goto(url)
        assert "您今天已于" in page.locator(".done").inner_text()
        screenshot(page, f"enterprise-code-done-{size}")
    desktop.goto(f"{live_server}/e/not-a-real-code-at-all")
    assert "此企业码无效" in desktop.locator(".refuse").inner_text()
    screenshot(desktop, "enterprise-code-invalid-desktop")
    desktop.goto(f"{live_server}/inspector?lang=en")
    assert "Today's route" in desktop.locator("h1").inner_text()
    screenshot(desktop, "route-english-desktop")
    assert not outside_requests, outside_requests


def test_offline_check_in_is_queued_and_sent_exactly_once(
    phone, live_server, live_session, screenshot, outside_requests
):
    s = scene(live_session, "南门茶社有限公司")
    url = scan_poster(phone, live_server, s)
    log_in(phone, live_server, s["username"], next_path=url.split(live_server, 1)[1])
    phone.wait_for_url(url)

    phone.context.set_offline(True)
    phone.click("#checkin")
    status = phone.locator("#checkin-status")
    status.filter(has_text="未联网").wait_for()
    queue = json.loads(phone.evaluate("localStorage.getItem('checkonce.checkin-queue')"))
    assert len(queue) == 1 and queue[0]["body"]["lat"] == XIAN["latitude"]
    assert "南门茶社有限公司" in phone.locator("#checkin-queue .queued").inner_text()
    screenshot(phone, "queued-phone")
    # Tapping again while offline resends the queued one; it never makes a second.
    phone.click("#checkin")
    status.filter(has_text="未联网").wait_for()
    assert len(json.loads(phone.evaluate("localStorage.getItem('checkonce.checkin-queue')"))) == 1
    assert checkins(live_session, s["officer"]) == []

    phone.context.set_offline(False)  # the `online` event sends the queue
    status.filter(has_text="签到已送达").wait_for()
    assert phone.evaluate("localStorage.getItem('checkonce.checkin-queue')") == "[]"
    screenshot(phone, "sent-phone")
    rows = checkins(live_session, s["officer"])
    assert len(rows) == 1 and rows[0].idempotency_key == queue[0]["body"]["idempotency_key"]
    assert rows[0].outcome == "planned" and rows[0].visit_id == s["visit"].id

    # Reloading offers no second check-in, and a copy of the request sent again (a retry that
    # crossed the answer) is stored once: the same idempotency key is answered from the store.
    phone.reload()
    assert phone.locator("#checkin").count() == 0
    assert "您今天已于" in phone.locator(".done").inner_text()
    phone.evaluate("q => localStorage.setItem('checkonce.checkin-queue', JSON.stringify(q))", queue)
    phone.goto(f"{live_server}/inspector")
    phone.locator("#checkin-queue .sent").wait_for()
    assert phone.evaluate("localStorage.getItem('checkonce.checkin-queue')") == "[]"
    assert len(checkins(live_session, s["officer"])) == 1
    screenshot(phone, "route-after-replay-phone")
    assert not outside_requests, outside_requests


def test_queued_check_in_waits_for_a_new_login_when_the_session_expired(
    phone, live_server, live_session, screenshot, outside_requests
):
    s = scene(live_session, "西大街面馆有限公司")
    url = scan_poster(phone, live_server, s)
    log_in(phone, live_server, s["username"], next_path=url.split(live_server, 1)[1])
    phone.wait_for_url(url)
    phone.context.set_offline(True)
    phone.click("#checkin")
    phone.locator("#checkin-status").filter(has_text="未联网").wait_for()

    phone.context.clear_cookies()  # the session ended while the phone was offline
    phone.context.set_offline(False)
    panel = phone.locator("#checkin-queue")
    panel.locator(".queue-status").filter(has_text="登录已过期").wait_for()
    assert "西大街面馆有限公司" in panel.locator(".queued").inner_text()
    screenshot(phone, "session-expired-phone")
    assert checkins(live_session, s["officer"]) == []

    panel.locator("a:has-text('重新登录')").click()
    phone.fill("input[name=username]", s["username"])
    phone.fill("input[name=password]", "correct horse battery")
    phone.click("form[action='/login'] button[type=submit]")
    phone.wait_for_url(url)
    phone.locator("#checkin-queue .sent").wait_for()
    assert len(checkins(live_session, s["officer"])) == 1
    assert phone.evaluate("localStorage.getItem('checkonce.checkin-queue')") == "[]"
    assert not outside_requests, outside_requests


def test_check_in_sent_after_midnight_is_kept_and_back_filled_once(
    phone, live_server, live_session, screenshot, outside_requests
):
    """Tapped offline at 23:50 yesterday and sent today: too late to count as a check-in at
    the door, so the phone keeps the tap (time and place) and links to the visit's back-fill
    form with that time filled in; the back-fill records one flagged check-in."""
    s = scene(live_session, "北院门烧烤有限公司")
    day = today() - dt.timedelta(days=1)
    visit = f.visit_with_tasks(live_session, s["firm"], [s["officer"]], day=day, state="missed")
    token = codes.enterprise_token(
        db_session=live_session, secret_key=SECRET, credit_code=s["firm"].credit_code
    )
    live_session.commit()
    log_in(phone, live_server, s["username"], next_path="/inspector")

    # What a tap at the enterprise's door left in the queue last night (as inspector.js does).
    tapped = dt.datetime.combine(day, dt.time(23, 50), tzinfo=ZoneInfo("Asia/Shanghai"))
    item = {
        "user": s["username"],
        "enterprise": s["firm"].name,
        "visitId": str(visit.id),
        "body": {
            "token": token,
            "credit_code": s["firm"].credit_code,
            "idempotency_key": f"e2e-late-{visit.id}",
            "client_time": tapped.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "lat": XIAN["latitude"],
            "lon": XIAN["longitude"],
        },
    }
    phone.context.set_offline(True)
    phone.evaluate(
        "q => localStorage.setItem('checkonce.checkin-queue', JSON.stringify(q))", [item]
    )
    phone.context.set_offline(False)  # the `online` event sends the queue: refused, kept

    kept = phone.locator("#checkin-queue li.backfill")
    kept.locator("a:has-text('补录此次入企')").wait_for()
    text = kept.inner_text()
    assert f"{day.isoformat()} 23:50" in text and "未保存" in text
    assert f"{XIAN['latitude']:.5f}, {XIAN['longitude']:.5f}" in text
    assert "北院门烧烤有限公司" in phone.locator("#checkin-queue .queue-status").inner_text()
    assert phone.evaluate("localStorage.getItem('checkonce.checkin-queue')") == "[]"
    stored = json.loads(phone.evaluate("localStorage.getItem('checkonce.checkin-backfill')"))
    assert [k["body"]["idempotency_key"] for k in stored] == [item["body"]["idempotency_key"]]
    assert checkins(live_session, s["officer"]) == []
    screenshot(phone, "backfill-needed-phone")
    # Loading another page sends nothing more and still shows the kept tap.
    phone.reload()
    kept.locator("a:has-text('补录此次入企')").wait_for()
    assert checkins(live_session, s["officer"]) == []

    kept.locator("a:has-text('补录此次入企')").click()
    phone.wait_for_url(f"**/inspector/visits/{visit.id}?backfill_at=*")
    form = phone.locator("form.backfill-form")
    assert form.is_visible()
    assert form.locator("input[name=time]").input_value() == "23:50"
    assert "点击签到时的定位" in form.inner_text()
    screenshot(phone, "backfill-form-phone")
    form.locator("textarea[name=reason]").fill("企业内无信号，签到在手机上排队到次日才送达")
    form.locator("button[type=submit]").click()
    phone.locator(".flash").filter(has_text="补录，已标记").wait_for()
    screenshot(phone, "backfilled-phone")

    rows = checkins(live_session, s["officer"])
    assert len(rows) == 1
    row = rows[0]
    assert (row.backfill, row.outcome, row.visit_id) == (True, "planned", visit.id)
    assert row.backfill_reason == "企业内无信号，签到在手机上排队到次日才送达"
    assert row.checked_in_at.replace(tzinfo=dt.UTC) == tapped.astimezone(dt.UTC)
    assert (row.lat, row.lon) == (XIAN["latitude"], XIAN["longitude"])
    # The visit now shows my check-in: the phone forgets the kept tap.
    assert phone.evaluate("localStorage.getItem('checkonce.checkin-backfill')") == "[]"
    assert phone.locator("#checkin-queue li.backfill").count() == 0
    assert phone.locator("form.backfill-form").count() == 0
    assert len(checkins(live_session, s["officer"])) == 1
    assert not outside_requests, outside_requests
