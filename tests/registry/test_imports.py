"""Registry uploads: a clean file is added whole; a file with bad rows is refused whole, every
problem reported by row, field and reason in Chinese, and the database is unchanged."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from checkonce.config import packaged_data_dir
from checkonce.errors import CheckOnceError, ImportRejected
from checkonce.registry.imports import import_enterprises, import_inspectors
from checkonce.registry.models import Enterprise, Inspector
from tests import factories as f

DATA = packaged_data_dir()
HEAD = [
    "统一社会信用代码",
    "企业名称",
    "地址",
    "区县代码",
    "纬度",
    "经度",
    "行业",
    "风险等级",
    "白名单",
]
# 碑林区 (610103): around the Bell Tower's south-east; 周至县 (610124): the county seat.
BEILIN = ("610103", "34.2560", "108.9500")
ZHOUZHI = ("610124", "34.1635", "108.2220")


def firm_row(n: int, where=BEILIN, **changes) -> list[str]:
    adcode, lat, lon = where
    row = {
        "code": f.credit_code(9000 + n, adcode),
        "name": f"上传企业{n}",
        "address": "南大街1号",
        "district": adcode,
        "lat": lat,
        "lon": lon,
        "industry": "restaurant",
        "risk": "C",
        "white": "否",
    }
    row.update(changes)
    return list(row.values())


def write_csv(path: Path, rows: list[list[str]], header=HEAD, encoding="utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list], header=HEAD) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_clean_csv_is_imported(db_session, tmp_path):
    path = write_csv(tmp_path / "firms.csv", [firm_row(1), firm_row(2, ZHOUZHI, white="是")])
    assert import_enterprises(db_session=db_session, path=path, data_dir=DATA, actor=f.admin()) == 2
    firm = db_session.scalars(select(Enterprise).where(Enterprise.name == "上传企业2")).one()
    assert firm.district_adcode == "610124" and firm.whitelisted and firm.risk_class == "C"


def test_gbk_csv_and_industry_by_name(db_session, tmp_path):
    path = write_csv(tmp_path / "gbk.csv", [firm_row(3, industry="餐饮服务")], encoding="gbk")
    assert import_enterprises(db_session=db_session, path=path, data_dir=DATA, actor=f.admin()) == 1


def test_clean_excel_is_imported(db_session, tmp_path):
    rows = [[*firm_row(4)[:4], 34.2560, 108.95, "restaurant", "A", "否"]]
    path = write_xlsx(tmp_path / "firms.xlsx", rows)
    assert import_enterprises(db_session=db_session, path=path, data_dir=DATA, actor=f.admin()) == 1


BAD_ROWS = {
    "bad check digit": (
        lambda: firm_row(10, code=f.credit_code(10)[:-1] + "0"),
        "统一社会信用代码",
        "校验位",
    ),
    "point in another district": (
        lambda: firm_row(11, where=("610103", "34.1635", "108.2220")),
        "纬度",
        "周至县",
    ),
    "point outside the city": (
        lambda: firm_row(12, lat="39.90", lon="116.40"),
        "纬度",
        "不在本市范围内",
    ),
    "unknown district": (lambda: firm_row(13, district="110101"), "区县代码", "不属于本辖区"),
    "unknown industry": (lambda: firm_row(14, industry="casino"), "行业", "未知行业"),
    "bad risk class": (lambda: firm_row(15, risk="E"), "风险等级", "A、B、C、D"),
    "latitude not a number": (lambda: firm_row(16, lat="北纬34度"), "纬度", "应为数字"),
    "empty name": (lambda: firm_row(17, name=""), "企业名称", "不能为空"),
    "bad whitelist flag": (lambda: firm_row(18, white="也许"), "白名单", "是"),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_each_bad_row_is_reported_and_nothing_written(db_session, tmp_path, case):
    build, field, fragment = BAD_ROWS[case]
    before = count(db_session, Enterprise)
    path = write_csv(tmp_path / "bad.csv", [firm_row(20), build(), firm_row(21)])
    with pytest.raises(ImportRejected) as err:
        import_enterprises(db_session=db_session, path=path, data_dir=DATA, actor=f.admin())
    errors = err.value.errors
    assert [(e.row, e.field) for e in errors] == [(3, field)], errors
    assert fragment in errors[0].reason
    assert "数据库未做任何修改" in err.value.message
    assert count(db_session, Enterprise) == before


def test_duplicates_in_file_and_against_registry(db_session, tmp_path):
    existing = f.enterprise(db_session)
    dup = firm_row(30)
    rows = [dup, firm_row(31, code=existing.credit_code), dup]
    before = count(db_session, Enterprise)
    with pytest.raises(ImportRejected) as err:
        import_enterprises(
            db_session=db_session,
            path=write_csv(tmp_path / "dup.csv", rows),
            data_dir=DATA,
            actor=f.admin(),
        )
    reasons = {e.row: e.reason for e in err.value.errors}
    assert "已在登记库中" in reasons[3] and "与第 2 行重复" in reasons[4]
    assert count(db_session, Enterprise) == before


def test_header_problems_are_reported(db_session, tmp_path):
    header = [h for h in HEAD if h != "风险等级"] + ["备注"]
    path = write_csv(tmp_path / "hdr.csv", [[*firm_row(40)[:8], "x"]], header=header)
    with pytest.raises(ImportRejected) as err:
        import_enterprises(db_session=db_session, path=path, data_dir=DATA, actor=f.admin())
    found = {(e.row, e.field, e.reason) for e in err.value.errors}
    assert (1, "备注", "无法识别的列名") in found and (1, "风险等级", "缺少必需的列") in found


def test_unsupported_and_missing_files(db_session, tmp_path):
    (tmp_path / "x.txt").write_text("a")
    with pytest.raises(CheckOnceError, match="不支持的文件类型"):
        import_enterprises(
            db_session=db_session, path=tmp_path / "x.txt", data_dir=DATA, actor=f.admin()
        )
    with pytest.raises(CheckOnceError, match="文件不存在"):
        import_enterprises(
            db_session=db_session, path=tmp_path / "none.csv", data_dir=DATA, actor=f.admin()
        )


STAFF_HEAD = [
    "工号",
    "姓名",
    "部门",
    "人员类别",
    "执法证号",
    "证件起始日期",
    "证件截止日期",
    "常驻区县代码",
    "纬度",
    "经度",
]


def staff_row(n: int, **changes) -> list:
    row = {
        "code": f"U{n:04d}",
        "name": f"员工{n}",
        "dept": "SAMR",
        "role": "执法人员",
        "cert": f"陕执UP{n:05d}",
        "from": "2024-01-01",
        "to": "2029-12-31",
        "home": BEILIN[0],
        "lat": BEILIN[1],
        "lon": BEILIN[2],
    }
    row.update(changes)
    return list(row.values())


def test_inspector_import_clean_and_with_errors(db_session, tmp_path):
    good = [staff_row(1), staff_row(2, role="网格员", cert="", **{"from": "", "to": ""})]
    path = write_csv(tmp_path / "staff.csv", good, header=STAFF_HEAD)
    assert import_inspectors(db_session=db_session, path=path, data_dir=DATA, actor=f.admin()) == 2
    grid = db_session.scalars(select(Inspector).where(Inspector.code == "U0002")).one()
    assert grid.role == "grid" and not grid.assignable

    before = count(db_session, Inspector)
    bad = [
        staff_row(3, dept="教育部"),  # unknown department
        staff_row(4, cert=""),  # officer without certificate
        staff_row(5, **{"from": "2030-01-01"}),  # validity reversed
        staff_row(6, cert="陕执UP00001"),  # certificate already registered
        staff_row(1),  # code already registered
        staff_row(7, **{"to": "2029-02-30"}),  # impossible date
    ]
    with pytest.raises(ImportRejected) as err:
        import_inspectors(
            db_session=db_session,
            path=write_csv(tmp_path / "bad.csv", bad, header=STAFF_HEAD),
            data_dir=DATA,
            actor=f.admin(),
        )
    by_row = {(e.row, e.field): e.reason for e in err.value.errors}
    assert "未知部门" in by_row[(2, "部门")]
    assert "执法证号" in by_row[(3, "执法证号")]
    assert "早于" in by_row[(4, "证件截止日期")]
    assert "已登记" in by_row[(5, "执法证号")]
    assert "已存在" in by_row[(6, "工号")]
    assert "无法识别" in by_row[(7, "证件截止日期")]
    assert count(db_session, Inspector) == before
