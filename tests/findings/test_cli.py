"""`checkonce results ...` and `checkonce fees ...` as a user runs them: Chinese output,
the disclosure CSV, overdue results per department, a fee verdict with its explanation,
refund totals; bad input is a clear error and changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from checkonce.config import packaged_data_dir
from checkonce.db import make_engine, session_scope
from checkonce.errors import CheckOnceError
from checkonce.findings import service
from checkonce.findings.fees import service as fees
from checkonce.migrations import upgrade
from checkonce.registry.reference import load_reference
from tests import factories as f
from tests.cli_accounts import cli_env, make_account
from tests.findings.conftest import passed, tasks_of


class Ran:
    """What a command printed and how it ended (in-process, like the console script)."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(workdir: Path, *args: str, user: str | None = None) -> Ran:
    """Run a command in-process on the workdir's database; a CheckOnceError ends it with
    code 1 and its message on stderr, as `checkonce.cli.main` does."""
    from typer.testing import CliRunner

    from checkonce.cli import build_app
    from checkonce.config import get_settings

    old = os.environ.get("CHECKONCE_DATABASE_URL")
    os.environ["CHECKONCE_DATABASE_URL"] = f"sqlite:///{workdir / 'cli.db'}"
    get_settings.cache_clear()
    try:
        env = {
            "COLUMNS": "200",
            "CHECKONCE_TOKEN": None,
            **cli_env(workdir, f"sqlite:///{workdir / 'cli.db'}", user),
        }
        result = CliRunner().invoke(build_app(), list(args), env=env)
    finally:
        if old is None:
            os.environ.pop("CHECKONCE_DATABASE_URL", None)
        else:
            os.environ["CHECKONCE_DATABASE_URL"] = old
        get_settings.cache_clear()
    if isinstance(result.exception, CheckOnceError):
        return Ran(1, result.stdout, result.exception.message)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, "")


def run_process(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CHECKONCE_DATABASE_URL": f"sqlite:///{workdir / 'cli.db'}",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "checkonce", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A database with one recorded result (visit 2026-02-13, due 2026-03-19) and two
    refunds."""
    folder = tmp_path_factory.mktemp("findings_cli")
    url = f"sqlite:///{folder / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        load_reference(s, packaged_data_dir())
        firm = f.enterprise(s)
        team = [f.inspector(s, "SAMR"), f.inspector(s, "SAMR")]
        visit = f.visit_with_tasks(s, firm, team, day=dt.date(2026, 2, 13))
        (task,) = tasks_of(s, visit)
        service.record_result(
            db_session=s,
            visit_id=visit.id,
            inspection_task_id=task.id,
            inspector_id=team[0].id,
            actor=f.actor("inspector", inspector_id=team[0].id),
            data=passed(s, task),
            policy=f.policy(),
            calendar=f.calendar(),
        )
        for item, amount in (("电梯定期检验费", "520"), ("供水开户费", "100")):
            fees.record_fee_finding(
                db_session=s,
                data=fees.ChargeInput(
                    unit="SEII" if "电梯" in item else "WATER",
                    item=item,
                    amount=amount,
                    charged_on=dt.date(2026, 5, 6),
                    receipt_no=item,
                ),
                enterprise_id=firm.id,
                source="enterprise",
                actor=f.actor("enterprise", enterprise_id=firm.id),
                today=dt.date(2026, 11, 18),
            )
        (folder / "firm.txt").write_text(firm.credit_code)
    engine.dispose()
    make_account(url, "coord", "coordinator")
    make_account(url, "samr", "bureau", department="SAMR")
    return folder


def test_overdue_then_publish_then_export(workdir):
    late = run(workdir, "results", "overdue", "--today", "2026-03-20", user="coord")
    assert late.returncode == 0, late.stderr
    assert "市场监督管理局" in late.stdout and "已录入未公开" in late.stdout
    overdue = run(workdir, "results", "overdue", "--today", "2026-03-19", user="coord")
    assert "没有逾期" in overdue.stdout

    refused = run(workdir, "results", "publish", user="coord")
    assert (
        refused.returncode == 1 and "请给出" in refused.stderr and "Traceback" not in refused.stderr
    )
    bureau = run(workdir, "results", "publish", "--period", "2026Q1", user="samr")
    assert bureau.returncode == 1 and "无权公开检查结果" in bureau.stderr
    anonymous = run(workdir, "results", "publish", "--period", "2026Q1")
    assert anonymous.returncode == 1 and "checkonce login" in anonymous.stderr
    done = run(workdir, "results", "publish", "--period", "2026Q1", user="coord")
    assert done.returncode == 0 and "已公开 1 条" in done.stdout, done.stderr

    out = workdir / "q1.csv"
    exported = run(workdir, "results", "export", "--period", "2026Q1", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows[0] == [
        "统一社会信用代码",
        "企业名称",
        "检查事项",
        "检查部门",
        "检查日期",
        "检查结果",
    ]
    assert rows[1][0] == (workdir / "firm.txt").read_text() and rows[1][4:] == [
        "2026-02-13",
        "合格",
    ]
    bad = run(workdir, "results", "export", "--period", "2026Q9", "--out", str(workdir / "x.csv"))
    assert bad.returncode == 1 and "无法识别" in bad.stderr and not (workdir / "x.csv").exists()


def test_fee_check_prints_verdict_and_explanation(workdir):
    near = run(
        workdir,
        "fees",
        "check",
        "--unit",
        "SEII",
        "--item",
        "特种设备检测费",
        "--amount",
        "300",
        "--date",
        "2026-05-06",
    )
    assert near.returncode == 0, near.stderr
    assert (
        "待人工复核" in near.stdout
        and "87.5" in near.stdout
        and "特种设备检验检测费" in near.stdout
    )
    over = run(
        workdir,
        "fees",
        "check",
        "--unit",
        "SEII",
        "--item",
        "电梯定期检验费",
        "--amount",
        "650",
        "--date",
        "2026-05-06",
    )
    assert "超标准收费" in over.stdout and "250.00" in over.stdout
    bad = run(
        workdir,
        "fees",
        "check",
        "--unit",
        "SEII",
        "--item",
        "x",
        "--amount",
        "-5",
        "--date",
        "2026-05-06",
    )
    assert bad.returncode == 1 and "金额" in bad.stderr and "Traceback" not in bad.stderr


def test_fee_check_refuses_future_dates_and_empty_amounts_and_reviews_early_charges(workdir):
    def check(amount: str, day: str):
        return run(
            workdir,
            "fees",
            "check",
            "--unit",
            "SEII",
            "--item",
            "特种设备检验检测费",
            "--amount",
            amount,
            "--date",
            day,
        )

    future = check("400", "2031-01-01")
    assert future.returncode == 1 and "晚于今天" in future.stderr
    for amount in ("0", "-400"):
        refused = check(amount, "2026-05-06")
        assert refused.returncode == 1 and "大于 0" in refused.stderr, amount
    # Before the catalog entry took effect: no entry was in force, a person decides.
    early = check("400", "2019-06-01")
    assert early.returncode == 0, early.stderr
    assert "待人工复核" in early.stdout and "应退金额：0.00 元" in early.stdout
    assert "check_not_yet_in_force" in early.stdout


def test_refunds_with_totals(workdir):
    result = run(workdir, "fees", "refunds", user="coord")
    assert result.returncode == 0, result.stderr
    assert "退费记录：2 条" in result.stdout
    assert "120.00" in result.stdout and "100.00" in result.stdout and "220.00" in result.stdout
    assert "雁塔区" in result.stdout
