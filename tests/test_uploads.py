"""Upload bombs: a spreadsheet's declared size means nothing, every upload path has a size
cap answered in Chinese before parsing, and a file with countless bad rows gets an answer
of a readable size."""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from checkonce.errors import CheckOnceError, ImportRejected
from checkonce.plans.intake import PLAN_COLUMNS
from checkonce.plans.models import Plan
from checkonce.registry.models import Enterprise
from checkonce.tabular import Column, UploadLimits, read_table
from tests import factories as f

COLUMNS = [Column("a", "甲"), Column("b", "乙", required=False)]
# The attack: a sheet declaring the whole grid, with one empty cell in its last corner, so
# a reader that trusts the file fills a million rows of 16,384 cells.
BOMB_DIMENSION = '<dimension ref="A1:XFD1048576"/>'
BOMB_CORNER = 1_048_576


def xlsx_bytes(rows: list[list], dimension: str | None = None, corner: int | None = None) -> bytes:
    """A workbook with `rows`; `dimension` replaces the sheet's declared dimension and
    `corner` adds an empty cell in column XFD of that row."""
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    if dimension is None:
        return buffer.getvalue()
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<dimension ref=\"[^\"]+\"\s*/>", dimension.encode(), data)
                assert dimension.encode() in data
                if corner is not None:
                    far = f'<row r="{corner}"><c r="XFD{corner}"/></row></sheetData>'
                    data = data.replace(b"</sheetData>", far.encode())
            target.writestr(info, data)
    return out.getvalue()


def peak_bytes(function) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_declared_dimension_means_nothing(tmp_path):
    # 3,000 declared rows × 16,384 declared columns, one empty cell at XFD3000: padding
    # every missing row to the declared width (what openpyxl does when it trusts the
    # dimension) takes hundreds of MB for two real rows.
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(
        xlsx_bytes([["甲", "乙"], ["x", "y"]], '<dimension ref="A1:XFD3000"/>', corner=3000)
    )
    rows, peak = peak_bytes(lambda: read_table(path, COLUMNS))
    assert [(r.number, r.values) for r in rows] == [(2, {"a": "x", "b": "y"})]
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


def test_the_full_sheet_bomb_reads_in_small_memory(tmp_path):
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(xlsx_bytes([["甲", "乙"], ["x", "y"]], BOMB_DIMENSION, BOMB_CORNER))
    assert path.stat().st_size < 8 * 1024
    rows, peak = peak_bytes(lambda: read_table(path, COLUMNS))
    assert len(rows) == 1
    assert peak < 20 * 1024 * 1024


def test_reading_stops_at_the_first_long_empty_stretch(tmp_path):
    rows = [["甲"], ["1"], *([[None]] * 12), ["lost"]]
    path = tmp_path / "gap.xlsx"
    path.write_bytes(xlsx_bytes(rows))
    limits = UploadLimits(blank_stretch=10)
    assert [r.text("a") for r in read_table(path, COLUMNS, limits)] == ["1"]
    # A short gap is just blank rows.
    assert [r.text("a") for r in read_table(path, COLUMNS, UploadLimits(blank_stretch=20))] == [
        "1",
        "lost",
    ]


def test_row_column_and_cell_caps(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("甲\n" + "x\n" * 30, encoding="utf-8")
    with pytest.raises(CheckOnceError, match="超过 20 行上限"):
        read_table(path, COLUMNS, UploadLimits(max_rows=20))
    long = tmp_path / "long.csv"
    long.write_text("甲,乙\n" + "x" * 150 + ",ok\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as refused:
        read_table(long, COLUMNS, UploadLimits(max_cell_chars=100))
    assert str(refused.value.errors[0]) == "第 2 行，字段「甲」：内容超过 100 个字符"
    wide = tmp_path / "wide.csv"
    wide.write_text("甲" + ",z" * 5000 + "\nx" + ",1" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as refused:
        read_table(wide, COLUMNS, UploadLimits(max_columns=8))
    assert refused.value.total == 7  # 8 columns read: 甲 and seven unknown "z", not 5,000


def test_a_file_over_the_size_cap_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"\xff" * 3000)  # not even decodable: the size is checked first
    with pytest.raises(CheckOnceError, match="超过上限 2 KB") as refused:
        read_table(path, COLUMNS, UploadLimits(max_bytes=2048))
    assert refused.value.code == "file_too_large"


def test_a_workbook_that_unpacks_too_large_is_refused(tmp_path):
    path = tmp_path / "zipbomb.xlsx"
    path.write_bytes(xlsx_bytes([["甲"], ["x" * 5000]]))
    with pytest.raises(CheckOnceError, match="解压后"):
        read_table(path, COLUMNS, UploadLimits(max_unpacked_bytes=4096))


def test_errors_are_capped_with_their_count():
    from checkonce.errors import RowError

    refused = ImportRejected([RowError(n, "甲", "坏") for n in range(2, 1002)], source="f.csv")
    assert refused.total == 1000 and len(refused.errors) == ImportRejected.MAX_REPORTED_ERRORS
    assert "共 1000 处错误" in refused.message and "另有 800 处错误未列出" in refused.message
    assert refused.message.count("\n") < 210


# ------------------------------------------------------------------ through the API and CLI


@pytest.fixture
def small_app(engine, db_session):
    from sqlalchemy.orm import Session

    from checkonce.api.app import create_app
    from checkonce.config import Settings
    from tests.api.conftest import SECRET

    application = create_app(
        Settings(env="test", secret_key=SECRET, upload_max_bytes=64 * 1024), engine=engine
    )
    connection = db_session.connection()
    application.state.sessions = lambda: Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return application


@pytest.fixture
def small_client(small_app):
    from fastapi.testclient import TestClient

    with TestClient(small_app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def bureau_headers(db_session):
    from checkonce.auth.service import create_user, issue_token
    from tests.api.conftest import PASSWORD, SECRET

    user = create_user(
        db_session=db_session,
        actor=f.SETUP,
        username="samr9",
        password=PASSWORD,
        role="bureau",
        department="SAMR",
    )
    return {"Authorization": f"Bearer {issue_token(user, secret=SECRET)}"}


def upload(client, headers, name: str, data: bytes):
    return client.post(
        "/api/v1/plans/upload",
        headers=headers,
        data={"department": "SAMR", "period": "2027Q1"},
        files={"file": (name, data, "application/octet-stream")},
    )


def test_api_upload_of_the_xlsx_bomb_is_a_clear_error(small_client, bureau_headers):
    header = [c.label for c in PLAN_COLUMNS[:3]]
    bomb = xlsx_bytes([header], BOMB_DIMENSION, BOMB_CORNER)
    response, peak = peak_bytes(lambda: upload(small_client, bureau_headers, "plan.xlsx", bomb))
    assert response.status_code == 422, response.text
    assert "没有任何任务行" in response.json()["error"]["message"]
    assert peak < 50 * 1024 * 1024


def test_api_upload_over_the_cap_is_refused_in_chinese(small_client, bureau_headers, db_session):
    before = db_session.scalar(select(func.count()).select_from(Plan))
    response = upload(small_client, bureau_headers, "plan.csv", b"a," * 40_000)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "file_too_large",
        "message": "plan.csv：文件超过上限 64 KB，请拆分后分别上传",
    }
    assert db_session.scalar(select(func.count()).select_from(Plan)) == before


def test_a_body_over_the_request_cap_is_413_before_it_is_read(small_client, bureau_headers):
    limit = 10 * 1024 * 1024 + 1024 * 1024  # photos' 10 MB + framing
    response = small_client.post(
        "/api/v1/plans/upload",
        headers={**bureau_headers, "Content-Length": str(limit + 1)},
        content=b"x" * 10,
    )
    assert response.status_code == 413
    assert "请求内容超过上限" in response.json()["error"]["message"]


def test_api_error_list_is_capped_with_the_total(small_client, bureau_headers):
    header = ",".join(c.label for c in PLAN_COLUMNS[:4])
    bad = "\n".join(["双随机,NO-SUCH-ITEM,2027-01-04,2027-03-31"] * 600)
    response = upload(small_client, bureau_headers, "plan.csv", f"{header}\n{bad}\n".encode())
    body = response.json()["error"]
    assert response.status_code == 422
    assert len(body["details"]) == ImportRejected.MAX_REPORTED_ERRORS
    assert body["total_errors"] >= 600
    assert len(response.content) < 100_000


def test_page_upload_over_the_cap_is_refused_on_the_page(small_client, db_session):
    from checkonce.api.cookies import SESSION_COOKIE
    from checkonce.auth.service import create_user, issue_token
    from tests.api.conftest import PASSWORD, SECRET
    from tests.api.pages.conftest import csrf_of

    user = create_user(
        db_session=db_session,
        actor=f.SETUP,
        username="samr8",
        password=PASSWORD,
        role="bureau",
        department="SAMR",
    )
    small_client.cookies.set(SESSION_COOKIE, issue_token(user, secret=SECRET))
    response = small_client.post(
        "/bureau/upload",
        data={"period": "2027Q1", "csrf": csrf_of(small_client)},
        files={"file": ("plan.csv", b"a," * 40_000, "text/csv")},
    )
    assert response.status_code == 400
    assert "文件超过上限 64 KB" in response.text


def test_cli_imports_obey_the_configured_cap(db_session, tmp_path, monkeypatch):
    from checkonce.config import get_settings, packaged_data_dir
    from checkonce.plans.service import import_plan_file
    from checkonce.registry.imports import import_enterprises

    monkeypatch.setenv("CHECKONCE_UPLOAD_MAX_BYTES", "2048")
    get_settings.cache_clear()
    try:
        big = tmp_path / "plan.csv"
        big.write_bytes(b"x" * 4096)
        with pytest.raises(CheckOnceError, match="超过上限 2 KB"):
            import_plan_file(
                db_session=db_session,
                path=big,
                department="SAMR",
                period="2027Q1",
                actor=f.bureau(db_session),
            )
        firms = Path(tmp_path / "firms.csv")
        firms.write_bytes(b"x" * 4096)
        before = db_session.scalar(select(func.count()).select_from(Enterprise))
        with pytest.raises(CheckOnceError, match="超过上限 2 KB"):
            import_enterprises(
                db_session=db_session, path=firms, data_dir=packaged_data_dir(), actor=f.admin()
            )
        assert db_session.scalar(select(func.count()).select_from(Enterprise)) == before
    finally:
        get_settings.cache_clear()
