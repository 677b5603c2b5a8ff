"""`checkonce schedule …` as a coordinator runs it (SQLite file, real subprocess)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from checkonce.audit.models import AuditRecord
from checkonce.config import packaged_data_dir
from checkonce.db import make_engine, session_scope
from checkonce.migrations import upgrade
from checkonce.registry.reference import load_reference
from checkonce.visits.models import ScheduleVersion
from tests.cli_accounts import cli_env, make_account
from tests.visits.scenario import SEED, build


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A migrated SQLite database with the test scenario's approved plans."""
    path = tmp_path_factory.mktemp("schedule_cli")
    url = f"sqlite:///{path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        load_reference(session, packaged_data_dir())
        build(session)
    engine.dispose()
    make_account(url, "coord", "coordinator")
    make_account(url, "samr", "bureau", department="SAMR")
    return path


def run(workdir: Path, *args: str, user: str | None = "coord") -> subprocess.CompletedProcess:
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


def versions(workdir: Path) -> list[tuple[int, str]]:
    engine = make_engine(f"sqlite:///{workdir / 'cli.db'}")
    with session_scope(engine) as session:
        rows = session.execute(
            select(ScheduleVersion.version, ScheduleVersion.state).order_by(ScheduleVersion.version)
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_generate_publish_list_show(workdir):
    done = run(
        workdir, "schedule", "generate", "--period", "2027Q1", "--seed", SEED, "--time-limit", "5"
    )
    assert done.returncode == 0, done.stderr
    assert "独立校验通过" in done.stdout and "入企次数" in done.stdout
    assert SEED in done.stdout
    version_id = int(re.search(r"版本编号 (\d+)", done.stdout).group(1))
    assert versions(workdir) == [(1, "draft")]

    refused = run(workdir, "schedule", "publish", str(version_id), user="samr")
    assert refused.returncode == 1 and "无权发布排程" in refused.stderr
    assert run(workdir, "schedule", "list", user="samr").returncode == 1
    published = run(workdir, "schedule", "publish", str(version_id))
    assert published.returncode == 0, published.stderr
    assert "已发布" in published.stdout
    assert versions(workdir) == [(1, "published")]

    listing = run(workdir, "schedule", "list")
    assert listing.returncode == 0 and "已发布" in listing.stdout and "2027Q1" in listing.stdout

    shown = run(workdir, "schedule", "show", str(version_id))
    assert shown.returncode == 0, shown.stderr
    assert "V000001" in shown.stdout and "独立校验通过" in shown.stdout

    replan = run(workdir, "schedule", "generate", "--period", "2027Q1", "--replan")
    assert replan.returncode == 0, replan.stderr
    assert versions(workdir) == [(1, "published"), (2, "draft")]
    engine = make_engine(f"sqlite:///{workdir / 'cli.db'}")
    with session_scope(engine) as session:
        trail = session.execute(
            select(AuditRecord.action, AuditRecord.actor_username, AuditRecord.channel)
            .where(AuditRecord.object_type == "schedule")
            .order_by(AuditRecord.seq)
        ).all()
    engine.dispose()
    assert [tuple(r) for r in trail] == [
        ("schedule.generate", "coord", "cli"),
        ("schedule.publish", "coord", "cli"),
        ("schedule.generate", "coord", "cli"),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "--period", "2027Q9"], "无法识别的期间"),
        (["generate", "--period", "2027Q1", "--seed", "zz"], "种子"),
        (["publish", "999"], "排程版本 999 不存在"),
    ],
)
def test_bad_input_is_a_clear_error(workdir, args, message):
    done = run(workdir, "schedule", *args)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
