"""Recording results: who may record, the checks on what is recorded, corrections as
revisions, visit completion, and photos stored by their hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.findings import photos
from checkonce.findings.models import ResultPhoto, TaskResult
from checkonce.findings.service import ResultInput, record_result, result_history
from tests import factories as f
from tests.findings.conftest import VISIT_DAY, answers, passed

POLICY = f.policy()
CALENDAR = f.calendar()


def picture(fmt: str = "PNG", size=(40, 30), **save) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt, **save)
    return out.getvalue()


PNG = picture()


def record(session, joint, task, who, data, actor=None):
    return record_result(
        db_session=session,
        visit_id=joint["visit"].id,
        inspection_task_id=task.id,
        inspector_id=who.id,
        actor=actor or f.as_inspector(who),
        data=data,
        policy=POLICY,
        calendar=CALENDAR,
    )


def test_team_member_of_the_department_records_and_the_date_is_set(db_session, joint):
    row = record(
        db_session, joint, joint["food"], joint["samr"][0], passed(db_session, joint["food"])
    )
    assert (row.revision, row.latest, row.result) == (1, True, "passed")
    assert row.visit_day == VISIT_DAY
    assert row.publish_by == CALENDAR.add_workdays(VISIT_DAY, 20)
    assert joint["visit"].state == "checked_in"  # FIRE still to record


def test_visit_completes_when_every_task_has_a_result(db_session, joint):
    record(db_session, joint, joint["food"], joint["samr"][1], passed(db_session, joint["food"]))
    record(
        db_session,
        joint,
        joint["fire_task"],
        joint["fire"][0],
        ResultInput(
            result="rectify",
            checklist=answers(db_session, joint["fire_task"], "problem"),
            legal_basis="《中华人民共和国消防法》第十六条",
            rectify_by=VISIT_DAY + dt.timedelta(days=15),
        ),
    )
    assert joint["visit"].state == "completed"


def test_outsider_and_other_department_may_not_record(db_session, joint):
    stranger = f.inspector(db_session, "SAMR")
    with pytest.raises(NotFound):
        record(db_session, joint, joint["food"], stranger, passed(db_session, joint["food"]))
    with pytest.raises(CheckOnceError, match="谁检查、谁录入"):
        record(
            db_session, joint, joint["food"], joint["fire"][0], passed(db_session, joint["food"])
        )
    assert db_session.scalar(select(func.count()).select_from(TaskResult)) == 0


@pytest.mark.parametrize("state", ["scheduled", "missed", "cancelled"])
def test_recording_needs_a_check_in(db_session, state):
    firm = f.enterprise(db_session)
    team = [f.inspector(db_session, "SAMR") for _ in range(2)]
    visit = f.visit_with_tasks(db_session, firm, team, day=VISIT_DAY, state=state)
    from tests.findings.conftest import tasks_of

    (task,) = tasks_of(db_session, visit)
    with pytest.raises(Conflict, match="签到"):
        record(db_session, {"visit": visit}, task, team[0], passed(db_session, task))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"result": "closed"}, "无法识别"),
        ({"result": "rectify", "legal_basis": "《食品安全法》第五十四条"}, "整改期限"),
        ({"result": "case_filed"}, "法律依据"),
        ({"result": "rectify", "legal_basis": "x", "rectify_by": VISIT_DAY}, "应晚于"),
        ({"rectify_by": VISIT_DAY + dt.timedelta(days=3)}, "只有「责令整改」"),
        ({"checklist": {"no-such-key": "ok"}}, "没有这些检查项"),
        ({"checklist": {}}, "未填写"),
    ],
)
def test_bad_results_are_refused_and_nothing_is_stored(db_session, joint, overrides, message):
    with pytest.raises(CheckOnceError, match=message):
        record(
            db_session,
            joint,
            joint["food"],
            joint["samr"][0],
            passed(db_session, joint["food"], **overrides),
        )
    assert db_session.scalar(select(func.count()).select_from(TaskResult)) == 0


def test_passed_with_a_problem_answer_is_refused(db_session, joint):
    data = passed(
        db_session, joint["food"], checklist=answers(db_session, joint["food"], "problem")
    )
    with pytest.raises(CheckOnceError, match="不能为「合格」"):
        record(db_session, joint, joint["food"], joint["samr"][0], data)


def test_refused_inspection_needs_no_checklist(db_session, joint):
    data = ResultInput(result="refused", checklist={}, legal_basis="《行政处罚法》第五十五条")
    row = record(db_session, joint, joint["food"], joint["samr"][0], data)
    assert row.result_name == "拒绝检查"


def test_correction_is_a_new_revision_with_a_reason(db_session, joint):
    first = record(
        db_session, joint, joint["food"], joint["samr"][0], passed(db_session, joint["food"])
    )
    with pytest.raises(Conflict, match="更正原因"):
        record(
            db_session, joint, joint["food"], joint["samr"][0], passed(db_session, joint["food"])
        )
    fixed = record(
        db_session,
        joint,
        joint["food"],
        joint["samr"][1],
        ResultInput(
            result="case_filed",
            checklist=answers(db_session, joint["food"], "problem"),
            legal_basis="《食品安全法》第一百二十四条",
            correction_reason="复核样品检测不合格",
        ),
    )
    history = result_history(db_session, joint["food"].id)
    assert [(r.revision, r.latest, r.result) for r in history] == [
        (1, False, "passed"),
        (2, True, "case_filed"),
    ]
    assert first.result == "passed"  # the original stays as recorded
    assert fixed.correction_reason == "复核样品检测不合格"


def test_schema_keeps_one_latest_revision_per_task(db_session, joint):
    record(db_session, joint, joint["food"], joint["samr"][0], passed(db_session, joint["food"]))
    first = db_session.scalars(select(TaskResult)).one()
    twin = TaskResult(
        visit_id=first.visit_id,
        inspection_task_id=first.inspection_task_id,
        revision=2,
        latest=True,
        result="passed",
        checklist={},
        correction_reason="x",
        visit_day=first.visit_day,
        publish_by=first.publish_by,
        inspector_id=first.inspector_id,
        recorded_by="x",
    )
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(twin)
        db_session.flush()


def test_schema_refuses_a_violation_without_legal_basis(db_session, joint):
    record(db_session, joint, joint["food"], joint["samr"][0], passed(db_session, joint["food"]))
    row = db_session.scalars(select(TaskResult)).one()
    with pytest.raises(IntegrityError), db_session.begin_nested():
        row.result = "case_filed"
        db_session.flush()


def test_photo_is_stored_by_hash_and_verified(db_session, joint, tmp_path):
    row = record(
        db_session, joint, joint["food"], joint["samr"][0], passed(db_session, joint["food"])
    )
    photo = photos.add_photo(
        db_session=db_session,
        result=row,
        data=PNG,
        filename="现场.png",
        actor=f.as_inspector(row.inspector),
        folder=tmp_path,
    )
    clean, _ = photos.clean_photo(PNG)
    digest = hashlib.sha256(clean).hexdigest()
    assert (photo.sha256, photo.content_type, photo.size_bytes) == (
        digest,
        "image/png",
        len(clean),
    )
    stored = tmp_path / digest[:2] / f"{digest}.png"
    assert stored.read_bytes() == clean
    assert photos.read_photo(photo, tmp_path) == clean
    with pytest.raises(Conflict):
        photos.add_photo(
            db_session=db_session,
            result=row,
            data=PNG,
            filename="again.png",
            actor=f.as_inspector(row.inspector),
            folder=tmp_path,
        )
    stored.write_bytes(clean + b"tampered")
    with pytest.raises(CheckOnceError, match="哈希不符"):
        photos.read_photo(photo, tmp_path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "为空"),
        (b"GIF89a" + b"\x00" * 10, "JPEG"),
        (b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024), "上限"),
        # The attack: only the first bytes were checked. A picture cut short, or just a
        # PNG signature, is now decoded and refused.
        (PNG[: len(PNG) // 2], "损坏或不完整"),
        (picture("JPEG")[:-200], "损坏或不完整"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "损坏或不完整"),
        (picture(size=(3000, 2000)), "百万像素上限"),
    ],
)
def test_bad_photos_are_refused_and_nothing_is_written(db_session, joint, tmp_path, data, message):
    row = record(
        db_session, joint, joint["food"], joint["samr"][0], passed(db_session, joint["food"])
    )
    with pytest.raises(CheckOnceError, match=message):
        photos.add_photo(
            db_session=db_session,
            result=row,
            data=data,
            filename="x",
            actor=f.as_inspector(row.inspector),
            folder=tmp_path,
            max_pixels=1_000_000,
        )
    assert not any(tmp_path.iterdir())
    assert db_session.scalar(select(func.count()).select_from(ResultPhoto)) == 0


def test_photos_dir_default_and_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("CHECKONCE_PHOTOS_DIR", raising=False)
    assert photos.photos_dir() == photos.DEFAULT_PHOTOS_DIR
    monkeypatch.setenv("CHECKONCE_PHOTOS_DIR", str(tmp_path))
    assert photos.photos_dir() == tmp_path
    assert photos.photos_dir(tmp_path / "x") == tmp_path / "x"


def test_trailing_bytes_and_metadata_are_not_stored(db_session, joint, tmp_path):
    from PIL import Image

    row = record(
        db_session, joint, joint["food"], joint["samr"][0], passed(db_session, joint["food"])
    )
    html = b"<html><script>alert(document.cookie)</script></html>"
    photo = photos.add_photo(
        db_session=db_session,
        result=row,
        data=PNG + html,
        filename="p.png",
        actor=f.as_inspector(row.inspector),
        folder=tmp_path,
    )
    stored = photos.read_photo(photo, tmp_path)
    assert b"<script>" not in stored and stored.endswith(b"IEND\xaeB`\x82")
    exif = Image.Exif()
    exif[0x8827] = 400  # ISO
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = 6  # taken sideways: stored upright
    jpeg = picture("JPEG", size=(40, 30), exif=exif.tobytes())
    assert b"PhoneMaker" in jpeg
    photo = photos.add_photo(
        db_session=db_session,
        result=row,
        data=jpeg,
        filename="j.jpg",
        actor=f.as_inspector(row.inspector),
        folder=tmp_path,
    )
    stored = photos.read_photo(photo, tmp_path)
    assert b"PhoneMaker" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as clean:
        assert clean.size == (30, 40) and not clean.getexif()
