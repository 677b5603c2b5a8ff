"""`checkonce plans …` and `checkonce draw …` as a coordinator runs them (SQLite file)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from checkonce.audit.models import AuditRecord
from checkonce.config import packaged_data_dir
from checkonce.db import make_engine, session_scope
from checkonce.migrations import upgrade
from checkonce.plans.models import Plan, PlanTask
from checkonce.registry.reference import load_reference
from tests import factories as f
from tests.cli_accounts import cli_env, make_account


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A migrated SQLite database with the reference data and 40 restaurants."""
    path = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        load_reference(session, packaged_data_dir())
        for i in range(40):
            f.enterprise(session, risk_class="ABCD"[i % 4])
    engine.dispose()
    make_account(url, "zhangsan", "coordinator")
    make_account(url, "lisi", "bureau", department="SAMR")
    return path


def run(workdir: Path, *args: str, user: str | None = None) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k != "CHECKONCE_TOKEN"},
        **cli_env(workdir, f"sqlite:///{workdir / 'cli.db'}", user),
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


def plan_count(workdir: Path) -> tuple[int, int]:
    engine = make_engine(f"sqlite:///{workdir / 'cli.db'}")
    with session_scope(engine) as session:
        counts = (
            session.scalar(select(func.count()).select_from(Plan)),
            session.scalar(select(func.count()).select_from(PlanTask)),
        )
    engine.dispose()
    return counts


def write_plan(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["任务类型", "检查事项", "开始日期", "结束日期", "行业", "B类比例", "D类数量"]
        )
        writer.writerows(rows)
    return path


def test_plan_and_draw_end_to_end(workdir):
    good = write_plan(
        workdir / "plan.csv",
        [["双随机", "SAMR-SP-001", "2027-01-04", "2027-03-31", "restaurant", "0.2", "3"]],
    )
    bad = write_plan(
        workdir / "bad.csv",
        [
            ["双随机", "SAMR-SP-001", "2027-01-04", "2027-03-31", "restaurant", "0.2", ""],
            ["双随机", "NOPE-9", "2027-01-04", "2027-03-31", "restaurant", "2", ""],
        ],
    )
    before = plan_count(workdir)
    refused = run(
        workdir,
        "plans",
        "import",
        str(bad),
        "--department",
        "SAMR",
        "--period",
        "2027Q1",
        user="lisi",
    )
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert (
        "第 3 行" in refused.stderr and "NOPE-9" in refused.stderr and "B类比例" in refused.stderr
    )
    assert plan_count(workdir) == before

    imported = run(
        workdir,
        "plans",
        "import",
        str(good),
        "--department",
        "SAMR",
        "--period",
        "2027Q1",
        user="lisi",
    )
    assert imported.returncode == 0, imported.stderr
    assert "已导入计划" in imported.stdout and "1 条任务" in imported.stdout
    plan_id = imported.stdout.split("已导入计划 ")[1].split("（")[0]
    assert "校验通过" in run(workdir, "plans", "validate", plan_id, user="lisi").stdout
    denied = run(workdir, "plans", "approve", plan_id, user="zhangsan")
    assert denied.returncode == 1 and "只有“已提交”" in denied.stderr
    wrong_role = run(workdir, "plans", "submit", plan_id, user="zhangsan")
    assert wrong_role.returncode == 0, wrong_role.stderr  # coordinators may submit too
    run(workdir, "plans", "return", plan_id, "--note", "退回重交", user="zhangsan")
    not_theirs = run(workdir, "plans", "approve", plan_id, user="lisi")
    assert not_theirs.returncode == 1 and "无权审核通过计划" in not_theirs.stderr
    for action, who in (("submit", "lisi"), ("approve", "zhangsan"), ("publish", "zhangsan")):
        moved = run(workdir, "plans", action, plan_id, user=who)
        assert moved.returncode == 0, moved.stderr
    shown = run(workdir, "plans", "show", plan_id, user="zhangsan")
    assert "已公开" in shown.stdout and "coordinator:zhangsan" in shown.stdout
    assert "SAMR" not in run(workdir, "plans", "list", "--department", "EMB", user="lisi").stdout

    engine = make_engine(f"sqlite:///{workdir / 'cli.db'}")
    with session_scope(engine) as session:
        task_id = str(
            session.scalars(select(PlanTask.id).where(PlanTask.plan_id == int(plan_id))).one()
        )
        trail = session.execute(
            select(AuditRecord.action, AuditRecord.actor_username, AuditRecord.channel)
            .where(AuditRecord.object_type == "plan", AuditRecord.object_id == plan_id)
            .order_by(AuditRecord.seq)
        ).all()
    engine.dispose()
    # Every step is recorded as the account that ran it, through the command line; the
    # refused import and the refused approvals left nothing.
    assert [tuple(row) for row in trail] == [
        ("plan.import", "lisi", "cli"),
        ("plan.validate", "lisi", "cli"),
        ("plan.submit", "zhangsan", "cli"),
        ("plan.return", "zhangsan", "cli"),
        ("plan.submit", "lisi", "cli"),
        ("plan.approve", "zhangsan", "cli"),
        ("plan.publish", "zhangsan", "cli"),
    ]

    committed = run(
        workdir,
        "draw",
        "commit",
        "--task",
        task_id,
        "--out",
        "commitment.json",
        user="zhangsan",
    )
    assert committed.returncode == 0, committed.stderr
    commitment = json.loads((workdir / "commitment.json").read_text(encoding="utf-8"))
    assert "seed" not in commitment
    draw_id = str(commitment["draw"])
    ran = run(workdir, "draw", "run", draw_id, user="zhangsan")
    assert ran.returncode == 0 and "B 类 2/10" in ran.stdout and "D 类 3/10" in ran.stdout
    assert run(workdir, "draw", "reveal", draw_id, user="zhangsan").returncode == 0
    published = run(
        workdir,
        "draw",
        "publish",
        draw_id,
        "--out",
        "published.json",
        user="zhangsan",
    )
    assert published.returncode == 0, published.stderr
    data = json.loads((workdir / "published.json").read_text(encoding="utf-8"))
    assert data["commitment_sha256"] == commitment["commitment_sha256"]

    verified = run(workdir, "draw", "verify", draw_id)
    assert verified.returncode == 0 and "验证通过" in verified.stdout
    from_file = run(workdir, "draw", "verify", "--file", "published.json")
    assert from_file.returncode == 0 and "验证通过" in from_file.stdout

    data["strata"][1]["selected"].reverse()
    (workdir / "tampered.json").write_text(json.dumps(data), encoding="utf-8")
    tampered = run(workdir, "draw", "verify", "--file", "tampered.json")
    assert tampered.returncode == 1 and "验证失败" in tampered.stdout

    again = run(workdir, "draw", "run", draw_id, user="zhangsan")
    assert (
        again.returncode == 1 and "只能执行一次" in again.stderr and "Traceback" not in again.stderr
    )
    assert "draw" not in run(workdir, "draw", "list").stderr


def test_json_plan_file(workdir):
    tasks = [
        {
            "kind": "random",
            "item": "SAMR-SP-002",
            "window": ["2027-04-06", "2027-06-30"],
            "scope": {"industries": ["restaurant"]},
        }
    ]
    (workdir / "plan.json").write_text(
        json.dumps({"period": "2027Q2", "tasks": tasks}), encoding="utf-8"
    )
    done = run(
        workdir,
        "plans",
        "import",
        "plan.json",
        "-d",
        "SAMR",
        "-p",
        "2027Q2",
        user="lisi",
    )
    assert done.returncode == 0 and "2027Q2" in done.stdout, done.stderr
    clash = run(workdir, "plans", "import", "plan.json", "-d", "SAMR", "-p", "2027Q3", user="lisi")
    assert clash.returncode == 1 and "不一致" in clash.stderr
    other = run(workdir, "plans", "import", "plan.json", "-d", "EMB", "-p", "2027Q2", user="lisi")
    assert other.returncode == 1 and "本部门" in other.stderr
    assert clash.returncode == 1 and "不一致" in clash.stderr


def test_bad_input_is_a_clear_error(workdir):
    missing = run(workdir, "plans", "show", "99999", user="zhangsan")
    assert missing.returncode == 1 and "计划 99999 不存在" in missing.stderr
    actor = run(workdir, "plans", "submit", "1", "--actor", "coordinator:nobody", user="lisi")
    assert actor.returncode == 2 and "--actor" in actor.stderr  # no such option any more
    logged_out = run(workdir, "plans", "submit", "1")
    assert logged_out.returncode == 1 and "checkonce login" in logged_out.stderr
    neither = run(workdir, "draw", "verify")
    assert neither.returncode == 1 and "二选一" in neither.stderr
    nofile = run(workdir, "draw", "verify", "--file", "nope.json")
    assert nofile.returncode == 1 and "文件不存在" in nofile.stderr
    period = run(
        workdir, "plans", "import", "x.csv", "--department", "SAMR", "--period", "27Q1", user="lisi"
    )
    assert period.returncode == 1 and "计划期间" in period.stderr
    for result in (missing, actor, logged_out, neither, nofile, period):
        assert "Traceback" not in result.stderr
