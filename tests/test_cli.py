"""The command line as a user runs it: a fresh SQLite database, Chinese output, errors without
tracebacks and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(
    tmp_path: Path, *args: str, user: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    from tests.cli_accounts import cli_env

    env = {
        **{k: v for k, v in os.environ.items() if k != "CHECKONCE_TOKEN"},
        **cli_env(tmp_path, f"sqlite:///{tmp_path / 'cli.db'}", user),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "checkonce", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        input=stdin,
    )


@pytest.mark.slow
def test_demo_init_builds_and_reports_counts(tmp_path):
    result = run(
        tmp_path,
        "demo",
        "init",
        "--enterprises",
        "400",
        "--inspectors",
        "50",
        "--as-of",
        "2027-01-04",
    )
    assert result.returncode == 0, result.stderr
    assert "西安演示库已建成" in result.stdout
    lines = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.stdout.splitlines()
        if line.count("│") >= 3
    }
    assert lines["enterprise"] == "400" and lines["inspector"] == "50"
    assert lines["district"] == "13"
    # building again into a non-empty database is refused, not doubled
    again = run(tmp_path, "demo", "init", "--enterprises", "10")
    assert again.returncode == 1 and "已有企业数据" in again.stderr
    assert "Traceback" not in again.stderr
    counts = run(tmp_path, "registry", "counts")
    assert "400" in counts.stdout


def test_bad_flag_is_a_clear_error(tmp_path):
    result = run(tmp_path, "demo", "init", "--enterprises", "10", "--as-of", "2027-13-01")
    assert result.returncode != 0
    assert "日期格式应为" in result.stderr and "Traceback" not in result.stderr


def test_bad_upload_names_row_and_field_and_changes_nothing(tmp_path):
    bad = tmp_path / "firms.csv"
    bad.write_text(
        "统一社会信用代码,企业名称,地址,区县代码,纬度,经度,行业,风险等级\n"
        "91610113MA6U1234XX,某公司,某路1号,610113,34.21,108.95,restaurant,B\n",
        encoding="utf-8",
    )
    # The first administrator needs no login (there is nobody to log in as yet) …
    first = run(
        tmp_path,
        "users",
        "create",
        "--username",
        "root-admin",
        "--role",
        "admin",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert first.returncode == 0, first.stderr
    # … but every later account needs an administrator's.
    second = run(
        tmp_path,
        "users",
        "create",
        "--username",
        "other",
        "--role",
        "coordinator",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert second.returncode == 1 and "checkonce login" in second.stderr
    result = run(tmp_path, "import", "enterprises", str(bad), user="root-admin")
    assert result.returncode == 1 and "load-reference" in result.stderr
    loaded = run(tmp_path, "registry", "load-reference")
    assert loaded.returncode == 0 and "department 13" in loaded.stdout
    result = run(tmp_path, "import", "enterprises", str(bad), user="root-admin")
    assert result.returncode == 1
    assert "第 2 行" in result.stderr and "统一社会信用代码" in result.stderr
    assert "Traceback" not in result.stderr
    counts = run(tmp_path, "registry", "counts")
    assert "│ enterprise" in counts.stdout and "│ 0 " in counts.stdout.split("enterprise")[1][:40]
