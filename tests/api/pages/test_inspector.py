"""The inspector's pages: today's route, my visits, one visit (merged checklist, results, fee
findings, inspection code) and the enterprise code page `/e/<token>`. Only the visit's own
team sees it; bad input is answered with the error beside the form and nothing stored."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from checkonce.findings.fees.models import FeeFinding
from checkonce.findings.models import TaskResult
from checkonce.registry.models import Inspector
from checkonce.visits import codes
from checkonce.visits.checkin_models import CheckIn
from tests import factories as f
from tests.api.conftest import SECRET
from tests.api.pages.conftest import csrf_of

ALL_OK = {
    "license.display": "ok",
    "staff.health_cert": "ok",
    "food.purchase_ledger": "ok",
    "food.storage": "ok",
    "food.tableware_disinfection": "ok",
    "food.additive": "ok",
}


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


@pytest.fixture
def me(db_session, users) -> Inspector:
    return db_session.get(Inspector, users["inspector"].inspector_id)


@pytest.fixture
def joint(db_session, me):
    """A checked-in joint visit today: me (SAMR) and a fire officer, a food and a fire task."""
    firm = f.enterprise(db_session, name="长安饭店有限公司")
    fire = f.inspector(db_session, "FIRE", name="消防员乙")
    return f.visit_with_tasks(
        db_session, firm, [me, fire], day=today(), items=("SAMR-SP-001", "FIRE-001")
    )


def tasks_of(visit) -> dict[str, int]:
    return {link.task.item.code: link.task.id for link in visit.tasks}


def results(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(TaskResult))


def fee_findings(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(FeeFinding))


def result_form(client, **fields) -> dict:
    form = {"csrf": csrf_of(client), "result": "passed"}
    form.update({f"answer.{k}": v for k, v in ALL_OK.items()})
    form.update(fields)
    return form


# ----------------------------------------------------------------------------- the route


def test_todays_route_lists_my_visits_in_order_with_team_tasks_and_map(
    login, db_session, me, joint
):
    later = f.visit_with_tasks(db_session, f.enterprise(db_session), [me], day=today())
    later.start, later.end = dt.time(14, 0), dt.time(15, 0)
    not_mine = f.visit_with_tasks(
        db_session,
        f.enterprise(db_session, name="别组企业"),
        [f.inspector(db_session)],
        day=today(),
    )
    db_session.flush()
    page = login("inspector").get("/inspector")
    assert page.status_code == 200
    text = page.text
    assert "长安饭店有限公司" in text and joint.enterprise.address in text
    assert text.index("长安饭店有限公司") < text.index(later.enterprise.name)  # route order
    assert "09:30–11:00" in text and "14:00–15:00" in text
    assert "消防员乙" in text  # the joint team's other members
    assert "食品经营者经营活动的监督检查" in text and "公众聚集场所消防监督检查" in text
    assert f"/inspector/visits/{joint.id}" in text
    assert f'src="/api/v1/maps/route?day={today().isoformat()}&amp;inspector={me.code}"' in text
    assert not_mine.enterprise.name not in text


def test_route_of_another_day_and_a_bad_day(login, joint):
    client = login("inspector")
    other = client.get(f"/inspector?day={(today() + dt.timedelta(days=1)).isoformat()}")
    assert other.status_code == 200 and "这一天没有安排您的检查" in other.text
    assert "长安饭店有限公司" not in other.text
    bad = client.get("/inspector?day=2027-02-30")
    assert bad.status_code == 422
    assert "日期「2027-02-30」不是有效日期" in bad.text
    assert "长安饭店有限公司" in bad.text  # today's route instead


def test_route_page_in_english(login, joint):
    page = login("inspector").get("/inspector?lang=en")
    assert "Today&#39;s route" in page.text or "Today's route" in page.text
    assert "Joint team" in page.text and "联合检查组" not in page.text


# ------------------------------------------------------------------------------ my visits


def test_my_visits_upcoming_and_recent_are_paged(login, db_session, me):
    for n in range(23):
        f.visit_with_tasks(
            db_session, f.enterprise(db_session), [me], day=today() + dt.timedelta(days=n)
        )
    past = f.visit_with_tasks(
        db_session,
        f.enterprise(db_session, name="上月企业"),
        [me],
        day=today() - dt.timedelta(days=30),
        state="completed",
    )
    f.visit_with_tasks(
        db_session,
        f.enterprise(db_session, name="他人企业"),
        [f.inspector(db_session)],
        day=today(),
    )
    client = login("inspector")
    first = client.get("/inspector/visits")
    assert first.status_code == 200
    assert "共 23 次" in first.text and "第 1 / 2 页" in first.text
    assert first.text.count('<a href="/inspector/visits/') == 20
    assert "when=upcoming&amp;page=2" in first.text
    second = client.get("/inspector/visits?when=upcoming&page=2")
    assert second.text.count('<a href="/inspector/visits/') == 3
    recent = client.get("/inspector/visits?when=recent")
    assert "上月企业" in recent.text and "已完成" in recent.text
    assert f"/inspector/visits/{past.id}" in recent.text
    for page in (first, second, recent):
        assert "他人企业" not in page.text
    assert client.get("/inspector/visits?when=someday").status_code == 422


# ------------------------------------------------------------------------------ one visit


def test_visit_page_shows_checklist_checkins_and_my_inspection_code(login, joint):
    page = login("inspector").get(f"/inspector/visits/{joint.id}")
    assert page.status_code == 200
    text = page.text
    assert "一表通查" in text
    # Both items' checks are on the one sheet.
    assert "营业执照及相关许可证件是否在经营场所显著位置公示" in text
    assert "灭火器等消防器材是否按标准配置、完好有效" in text
    assert re.search(r"本次合并检查 \d+ 项", text)
    # My inspection code: the QR inline and the /v/ URL it holds.
    assert "<svg" in text and "http://testserver/v/" in text
    # I may record the food task; the fire task is the fire officer's.
    assert f"/tasks/{tasks_of(joint)['SAMR-SP-001']}/result" in text
    assert f"/tasks/{tasks_of(joint)['FIRE-001']}/result" not in text
    assert "检查人员录入（谁检查、谁录入）" in text


def test_inspection_code_on_the_page_verifies_for_the_enterprise(login, client, joint):
    page = login("inspector").get(f"/inspector/visits/{joint.id}")
    url = re.search(r"http://testserver(/v/[A-Za-z0-9._~-]+)", page.text).group(1)
    client.cookies.clear()
    verified = client.get(url)
    assert verified.status_code == 200 and "长安饭店有限公司" in verified.text


def test_another_teams_visit_is_not_found(login, db_session):
    other = f.visit_with_tasks(
        db_session,
        f.enterprise(db_session, name="别组企业"),
        [f.inspector(db_session)],
        day=today(),
    )
    page = login("inspector").get(f"/inspector/visits/{other.id}")
    assert page.status_code == 404 and "别组企业" not in page.text
    assert login("inspector").get("/inspector/visits/99999999").status_code == 404


def test_recording_a_result(login, db_session, joint):
    client = login("inspector")
    task = tasks_of(joint)["SAMR-SP-001"]
    response = client.post(
        f"/inspector/visits/{joint.id}/tasks/{task}/result",
        data=result_form(
            client,
            result="rectify",
            **{"answer.food.storage": "problem", "note.food.storage": "冷库有过期肉品"},
            legal_basis="《中华人民共和国食品安全法》第五十四条",
            rectify_by=(today() + dt.timedelta(days=10)).isoformat(),
        ),
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    row = db_session.scalars(select(TaskResult).where(TaskResult.inspection_task_id == task)).one()
    assert row.result == "rectify" and row.revision == 1
    assert row.checklist["food.storage"] == {"answer": "problem", "note": "冷库有过期肉品"}
    assert row.rectify_by == today() + dt.timedelta(days=10)
    assert row.recorded_by == "inspector:insp1"
    page = client.get(f"/inspector/visits/{joint.id}")
    assert "责令整改" in page.text and "已保存" in page.text  # the flash
    assert "更正原因（必填）" in page.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"result": ""}, "请选择检查结果"),
        ({"answer.food.storage": ""}, "检查表还有 1 项未填写：food.storage"),
        ({"result": "rectify", "legal_basis": "某法"}, "责令整改须填写整改期限"),
        ({"result": "case_filed"}, "须填写违法行为的法律依据"),
        ({"rectify_by": "2027-13-01"}, "整改期限「2027-13-01」不是有效日期"),
        ({"answer.food.storage": "problem"}, "检查项 food.storage 存在问题，请填写问题说明"),
        ({"answer.food.storage": "maybe"}, "检查项 food.storage 的答案「maybe」无法识别"),
        ({"result": "excellent"}, "检查结果「excellent」无法识别"),
    ],
)
def test_bad_result_input_shows_the_error_and_saves_nothing(
    login, db_session, joint, fields, message
):
    client = login("inspector")
    task = tasks_of(joint)["SAMR-SP-001"]
    before = results(db_session)
    response = client.post(
        f"/inspector/visits/{joint.id}/tasks/{task}/result", data=result_form(client, **fields)
    )
    assert response.status_code == 422
    assert message in response.text
    assert 'role="alert"' in response.text
    assert results(db_session) == before
    assert joint.state == "checked_in"


def test_results_only_by_the_team_of_the_task_department_and_with_csrf(
    login, db_session, joint, users
):
    client = login("inspector")
    fire_task = tasks_of(joint)["FIRE-001"]
    other_dept = client.post(
        f"/inspector/visits/{joint.id}/tasks/{fire_task}/result",
        data=result_form(client, **{"answer.fire.exits": "ok"}),
    )
    assert other_dept.status_code == 422 and "谁检查、谁录入" in other_dept.text
    food = tasks_of(joint)["SAMR-SP-001"]
    no_csrf = client.post(
        f"/inspector/visits/{joint.id}/tasks/{food}/result",
        data={**result_form(client), "csrf": "forged"},
    )
    assert no_csrf.status_code == 403
    outsider = f.visit_with_tasks(
        db_session, f.enterprise(db_session), [f.inspector(db_session)], day=today()
    )
    outsider_task = next(iter(tasks_of(outsider).values()))
    not_mine = client.post(
        f"/inspector/visits/{outsider.id}/tasks/{outsider_task}/result", data=result_form(client)
    )
    assert not_mine.status_code == 404
    assert results(db_session) == 0


def test_no_result_before_check_in(login, db_session, me):
    visit = f.visit_with_tasks(
        db_session, f.enterprise(db_session), [me], day=today(), state="scheduled"
    )
    client = login("inspector")
    page = client.get(f"/inspector/visits/{visit.id}")
    assert "签到入企后才能录入检查结果和收费发现" in page.text
    assert "/result" not in page.text and f"/inspector/visits/{visit.id}/fees" not in page.text
    task = next(iter(tasks_of(visit).values()))
    response = client.post(
        f"/inspector/visits/{visit.id}/tasks/{task}/result", data=result_form(client)
    )
    assert response.status_code == 422 and "尚未签到入企" in response.text
    assert results(db_session) == 0


def test_recording_a_fee_finding_shows_the_verdict(login, db_session, joint):
    client = login("inspector")
    response = client.post(
        f"/inspector/visits/{joint.id}/fees",
        data={
            "csrf": csrf_of(client),
            "unit": "SEII",
            "item": "特种设备检验检测费",
            "amount": "500",
            "quantity": "1",
            "charged_on": today().isoformat(),
            "receipt_no": "No.0001",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    row = db_session.scalars(select(FeeFinding)).one()
    assert (row.verdict, row.refund_due, row.visit_id) == ("over_standard", 100, joint.id)
    assert row.source == "visit" and row.enterprise_id == joint.enterprise_id
    page = client.get(f"/inspector/visits/{joint.id}")
    assert "超标准收费" in page.text and "应退 100.00 元" in page.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "12.345"}, "最多两位小数"),
        ({"amount": "abc"}, "金额「abc」不是有效的金额"),
        ({"unit": " "}, "收费单位不能为空"),
        ({"charged_on": ""}, "请填写收费日期"),
        ({"charged_on": "2099-01-01"}, "晚于今天"),
        ({"quantity": "-1"}, "计费数量「-1」应为正数"),
        ({"receipt_no": ""}, "票据号不能为空"),
    ],
)
def test_bad_fee_input_shows_the_error_and_saves_nothing(login, db_session, joint, fields, message):
    client = login("inspector")
    form = {
        "csrf": csrf_of(client),
        "unit": "SEII",
        "item": "特种设备检验检测费",
        "amount": "500",
        "charged_on": today().isoformat(),
        "receipt_no": "No.0002",
    }
    form.update(fields)
    response = client.post(f"/inspector/visits/{joint.id}/fees", data=form)
    assert response.status_code == 422
    assert message in response.text
    assert 'value="特种设备检验检测费"' in response.text  # what was typed is kept
    assert fee_findings(db_session) == 0


# ----------------------------------------------------------------------- /e/<token> page


def poster_path(db_session, firm) -> str:
    token = codes.enterprise_token(
        db_session=db_session, secret_key=SECRET, credit_code=firm.credit_code
    )
    return f"/e/{token}"


def test_enterprise_code_page_for_an_anonymous_visitor(client, db_session, joint):
    path = poster_path(db_session, joint.enterprise)
    page = client.get(path)
    assert page.status_code == 200
    assert "长安饭店有限公司" in page.text and joint.enterprise.credit_code in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert f'href="/login?next={path}"' in page.text
    assert 'id="checkin"' not in page.text


def test_enterprise_code_page_for_the_inspector_offers_one_tap_check_in(login, db_session, joint):
    path = poster_path(db_session, joint.enterprise)
    page = login("inspector").get(path)
    assert page.status_code == 200
    assert 'id="checkin"' in page.text and "一键签到" in page.text
    assert f"您今天在此企业有计划检查：{joint.code}" in page.text
    assert "/static/inspector.js" in page.text


def test_enterprise_code_page_after_checking_in_offers_no_second_check_in(login, db_session, joint):
    path = poster_path(db_session, joint.enterprise)
    client = login("inspector")
    token = csrf_of(client)
    body = {
        "token": path[3:],
        "idempotency_key": "page-test-0001",
        "client_time": dt.datetime.now(dt.UTC).isoformat(),
        "lat": joint.enterprise.lat,
        "lon": joint.enterprise.lon,
    }
    sent = client.post("/api/v1/checkins", json=body, headers={"X-CSRF-Token": token})
    assert sent.status_code == 201, sent.text
    page = client.get(path)
    assert "您今天已于" in page.text and 'id="checkin"' not in page.text
    visit_page = client.get(f"/inspector/visits/{joint.id}")
    assert "计划内" in visit_page.text and "距企业 0 米" in visit_page.text
    assert db_session.scalar(select(func.count()).select_from(CheckIn)) == 1


def test_enterprise_code_page_for_other_roles_has_no_check_in(login, db_session, joint):
    page = login("enterprise").get(poster_path(db_session, joint.enterprise))
    assert page.status_code == 200 and "签到仅限执法人员账号" in page.text
    assert 'id="checkin"' not in page.text


def test_invalid_enterprise_code(client, db_session, joint):
    path = poster_path(db_session, joint.enterprise)
    page = client.get(path[:-2] + "zz")
    assert page.status_code == 404
    assert "此企业码无效" in page.text and "原因" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "长安饭店有限公司" not in page.text


# --------------------------------------------------------------------------- back-fill (补录)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def yesterday() -> dt.date:
    return today() - dt.timedelta(days=1)


def checkin_rows(db_session) -> list[CheckIn]:
    return list(db_session.scalars(select(CheckIn)))


@pytest.fixture
def missed(db_session, me):
    """Yesterday's visit of mine that nobody checked in to: the sweep marked it missed."""
    firm = f.enterprise(db_session, name="昨日未签到饭店有限公司")
    return f.visit_with_tasks(db_session, firm, [me], day=yesterday(), state="missed")


def backfill_form_of(page_text: str) -> str:
    match = re.search(
        r'<form[^>]*action="/inspector/visits/\d+/backfill".*?</form>', page_text, re.S
    )
    assert match, "no back-fill form on the page"
    return match.group(0)


def backfill_fields(client, visit_id: int, **fields) -> dict:
    """The hidden fields of the visit's back-fill form as one render gives them (so a fresh
    idempotency key), with the inspector's entries."""
    form = backfill_form_of(client.get(f"/inspector/visits/{visit_id}").text)
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', form))
    return {**hidden, "time": "21:15", "reason": "企业地下室没有信号，扫码后签到未送达", **fields}


def test_backfill_form_for_my_visit_in_the_window(login, missed):
    client = login("inspector")
    page = client.get(f"/inspector/visits/{missed.id}")
    assert page.status_code == 200
    form = backfill_form_of(page.text)
    assert f'name="day" value="{yesterday().isoformat()}"' in form
    assert 'type="time" name="time"' in form
    assert re.search(r'<textarea name="reason"[^>]*maxlength="500" required', form)
    assert "入企后 10 个自然日内补录" in page.text
    keys = {backfill_fields(client, missed.id)["idempotency_key"] for _ in range(2)}
    assert len(keys) == 2  # one key per render
    english = client.get(f"/inspector/visits/{missed.id}?lang=en")
    assert "Back-fill my check-in" in english.text and "补录入企签到" not in english.text


def test_backfill_is_recorded_flagged_with_reason_at_the_given_time(login, db_session, missed):
    client = login("inspector")
    response = client.post(
        f"/inspector/visits/{missed.id}/backfill",
        data=backfill_fields(client, missed.id),
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:800]
    row = db_session.scalars(select(CheckIn)).one()
    entered = dt.datetime.combine(yesterday(), dt.time(21, 15), tzinfo=SHANGHAI)
    assert (row.backfill, row.backfill_reason) == (True, "企业地下室没有信号，扫码后签到未送达")
    assert (row.outcome, row.visit_id, row.day) == ("planned", missed.id, yesterday())
    assert row.checked_in_at.replace(tzinfo=dt.UTC) == entered.astimezone(dt.UTC)
    assert row.lat is None and row.distance_m is None
    db_session.refresh(missed)
    assert missed.state == "checked_in"
    page = client.get(f"/inspector/visits/{missed.id}")
    assert "签到成功：已匹配计划检查" in page.text and "补录，已标记" in page.text  # the flash
    assert "21:15" in page.text and "/backfill" not in page.text  # no second form


def test_submitting_one_backfill_form_twice_records_once(login, db_session, missed):
    client = login("inspector")
    fields = backfill_fields(client, missed.id)
    first = client.post(f"/inspector/visits/{missed.id}/backfill", data=fields)
    again = client.post(f"/inspector/visits/{missed.id}/backfill", data=fields)
    assert first.status_code == again.status_code == 200  # both followed to the visit page
    assert "补录，已标记" in again.text
    row = db_session.scalars(select(CheckIn)).one()
    assert row.idempotency_key == fields["idempotency_key"]
    # Another form with a new key once I am checked in: refused, nothing more stored.
    other = {**fields, "idempotency_key": "bf-" + "0" * 32, "time": "22:00"}
    refused = client.post(f"/inspector/visits/{missed.id}/backfill", data=other)
    assert refused.status_code == 422 and "在此企业签到，无需补录" in refused.text
    assert len(checkin_rows(db_session)) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reason": "  "}, "请填写补录原因"),
        ({"reason": "无信号" * 200}, "补录原因最多 500 字，现为 600 字"),
        ({"time": ""}, "请填写入企时间"),
        ({"time": "25:10"}, "入企时间「25:10」不是有效时间"),
        ({"time": "2020-01-01T09:00"}, "不是有效时间"),
        ({"day": "today"}, "补录的入企时间须在本次检查当日"),
        ({"lat": "34.2", "lon": ""}, "签到时的定位无效"),
        ({"idempotency_key": "short"}, "幂等键应为 8–64 位"),
    ],
)
def test_bad_backfill_input_shows_the_error_and_stores_nothing(
    login, db_session, missed, fields, message
):
    client = login("inspector")
    data = backfill_fields(client, missed.id, **fields)
    if "day" in fields:  # another day than the visit's: the day before it
        data["day"] = (missed.day - dt.timedelta(days=1)).isoformat()
    response = client.post(f"/inspector/visits/{missed.id}/backfill", data=data)
    assert response.status_code == 422
    assert message in response.text and 'role="alert"' in response.text
    assert checkin_rows(db_session) == []
    assert backfill_form_of(response.text)  # the form is back, what was typed kept
    if data["reason"].strip():
        assert data["reason"][:20] in response.text
    db_session.refresh(missed)
    assert missed.state == "missed"


def test_backfill_of_a_time_still_to_come_is_refused(login, db_session, me):
    later = dt.datetime.now(SHANGHAI) + dt.timedelta(minutes=30)
    if later.date() != today():
        pytest.skip("too close to midnight for a later time today")
    visit = f.visit_with_tasks(
        db_session, f.enterprise(db_session), [me], day=today(), state="scheduled"
    )
    client = login("inspector")
    page = client.get(f"/inspector/visits/{visit.id}")
    assert "到达企业后，用手机相机扫描企业门口张贴的企业码" in page.text
    response = client.post(
        f"/inspector/visits/{visit.id}/backfill",
        data=backfill_fields(client, visit.id, time=f"{later:%H:%M}"),
    )
    assert response.status_code == 422 and "还没到" in response.text
    assert checkin_rows(db_session) == []


@pytest.mark.parametrize(
    ("days_ago", "state", "why"),
    [
        (11, "missed", "距今已 11 天，超过 10 个自然日的补录期限"),
        (-1, "scheduled", "不能补录未来的入企"),
        (1, "cancelled", "本次检查已取消，不能补录签到"),
    ],
)
def test_no_backfill_outside_the_window_says_why(login, db_session, me, days_ago, state, why):
    day = today() - dt.timedelta(days=days_ago)
    visit = f.visit_with_tasks(db_session, f.enterprise(db_session), [me], day=day, state=state)
    client = login("inspector")
    page = client.get(f"/inspector/visits/{visit.id}")
    assert page.status_code == 200
    assert "本次检查不能补录签到" in page.text and why in page.text
    assert "/backfill" not in page.text
    forged = {
        "csrf": csrf_of(client),
        "idempotency_key": "bf-" + "1" * 32,
        "day": day.isoformat(),
        "time": "10:00",
        "reason": "手机没电",
    }
    response = client.post(f"/inspector/visits/{visit.id}/backfill", data=forged)
    assert response.status_code == 422 and why in response.text
    assert checkin_rows(db_session) == []


def test_backfill_of_another_teams_visit_or_without_csrf_stores_nothing(login, db_session, missed):
    client = login("inspector")
    fields = backfill_fields(client, missed.id)
    no_csrf = client.post(
        f"/inspector/visits/{missed.id}/backfill", data={**fields, "csrf": "forged"}
    )
    assert no_csrf.status_code == 403
    other = f.visit_with_tasks(
        db_session,
        f.enterprise(db_session, name="别组企业"),
        [f.inspector(db_session)],
        day=yesterday(),
        state="missed",
    )
    page = client.get(f"/inspector/visits/{other.id}")
    assert page.status_code == 404
    not_mine = client.post(f"/inspector/visits/{other.id}/backfill", data=fields)
    assert not_mine.status_code == 404 and "别组企业" not in not_mine.text
    assert checkin_rows(db_session) == []


def test_tapped_time_and_place_from_the_phone_fill_in_the_backfill(login, db_session, missed):
    firm = missed.enterprise
    tapped = dt.datetime.combine(yesterday(), dt.time(23, 50, 37), tzinfo=SHANGHAI)
    query = {
        "backfill_at": tapped.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "lat": firm.lat + 0.0003,
        "lon": firm.lon,
    }
    client = login("inspector")
    page = client.get(f"/inspector/visits/{missed.id}", params=query)
    assert page.status_code == 200
    form = backfill_form_of(page.text)
    assert 'name="time" value="23:50"' in form
    assert f'name="lat" value="{firm.lat + 0.0003!r}"' in form
    assert "点击签到时的定位" in page.text
    assert re.search(r"<details\s+open>\s*<summary>补录入企签到", page.text)
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', form))
    response = client.post(
        f"/inspector/visits/{missed.id}/backfill",
        data={**fields, "time": "23:50", "reason": "离线，次日才送达"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:800]
    row = db_session.scalars(select(CheckIn)).one()
    assert row.backfill and row.lat == firm.lat + 0.0003 and row.lon == firm.lon
    assert 30 < row.distance_m < 40 and not row.outside_geofence
    local = row.checked_in_at.replace(tzinfo=dt.UTC).astimezone(SHANGHAI)
    assert (local.date(), local.hour, local.minute) == (yesterday(), 23, 50)
    # A tapped time on another day is not used: the page says so and leaves the time empty.
    other_day = tapped - dt.timedelta(days=1)
    visit = f.visit_with_tasks(
        db_session,
        f.enterprise(db_session),
        [db_session.get(Inspector, row.inspector_id)],
        day=yesterday(),
        state="missed",
    )
    page = client.get(
        f"/inspector/visits/{visit.id}", params={"backfill_at": other_day.isoformat()}
    )
    assert "不在本次检查当日" in page.text
    assert 'name="time" value=""' in backfill_form_of(page.text)
