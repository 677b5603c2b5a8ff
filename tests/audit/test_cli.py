"""`checkonce audit ...` as an auditor runs it: verify passes on an intact trail; after one
record is changed, deleted or inserted directly in SQL (the triggers dropped first, as an
attacker holding the database file or the owner's account would), verify names that record
and exits 1. Export is checked by the standalone script; checkpoint publishes the head."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from checkonce.audit import chain
from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor, Channel
from checkonce.audit.models import AuditCheckpoint, AuditRecord
from checkonce.audit.service import head, publish_checkpoint, record
from checkonce.db import session_scope
from checkonce.errors import CheckOnceError

CLERK = Actor(user_id=7, username="clerk", role="coordinator", channel=Channel.WEB)


class Ran:
    def __init__(self, code: int, out: str) -> None:
        self.code, self.out = code, out


def run(engine: Engine, *args: str, as_user: str | None = None) -> Ran:
    """The command in-process on `engine`'s database, as `checkonce.cli.main` runs it:
    logged out, or logged in as `as_user` (a coordinator made for the test)."""
    from typer.testing import CliRunner

    from checkonce.cli import build_app
    from checkonce.config import get_settings
    from tests.cli_accounts import cli_token, make_account

    url = engine.url.render_as_string(hide_password=False)
    old = os.environ.get("CHECKONCE_DATABASE_URL")
    os.environ["CHECKONCE_DATABASE_URL"] = url
    get_settings.cache_clear()
    env = {"COLUMNS": "200", "CHECKONCE_TOKEN": None, "XDG_CONFIG_HOME": "/nonexistent"}
    if as_user is not None:
        make_account(url, as_user, "coordinator")
        env["CHECKONCE_TOKEN"] = cli_token(url, as_user)
    try:
        result = CliRunner().invoke(build_app(), ["audit", *args], env=env)
    finally:
        if old is None:
            os.environ.pop("CHECKONCE_DATABASE_URL", None)
        else:
            os.environ["CHECKONCE_DATABASE_URL"] = old
        get_settings.cache_clear()
    if isinstance(result.exception, CheckOnceError):
        return Ran(1, result.output + result.exception.message)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.output)


def _trail(engine: Engine, n: int = 6) -> None:
    with session_scope(engine) as s:
        for i in range(1, n + 1):
            record(
                s,
                actor=CLERK,
                action=AuditAction.RESULT_PUBLISH,
                object_type="task_result",
                object_id=i,
                before={"result": "立案"},
                after={"result": "立案", "published": True},
            )


def _drop_triggers(s, backend: str) -> None:
    if backend == "postgresql":
        s.execute(text("ALTER TABLE audit_record DISABLE TRIGGER USER"))
    else:
        for event in ("update", "delete"):
            s.execute(text(f"DROP TRIGGER IF EXISTS audit_record_no_{event}"))


@pytest.mark.parametrize("attack", ["change", "delete", "insert"])
def test_verify_names_the_record_changed_deleted_or_inserted_in_sql(fresh_engine, attack):
    backend = fresh_engine.dialect.name
    _trail(fresh_engine)
    ok = run(fresh_engine, "verify")
    assert ok.code == 0, ok.out
    assert "审计链验证通过：6 条记录" in ok.out

    with session_scope(fresh_engine) as s:
        _drop_triggers(s, backend)
        if attack == "change":
            # 立案 → 合格 in the record of result 3, as in the issue
            body = s.get(AuditRecord, 3).body.replace("立案", "合格")
            s.execute(text("UPDATE audit_record SET body = :b WHERE seq = 3"), {"b": body})
            named, why = 3, "内容被改动"
        elif attack == "delete":
            s.execute(text("DELETE FROM audit_record WHERE seq = 4"))
            named, why = 4, "记录缺失"
        else:
            # a record slipped in after the head, linked to it with a well-made hash
            last = s.get(AuditRecord, 6)
            forged = dict(json.loads(last.body), seq=7, object={"type": "task_result", "id": "9"})
            body = chain.canonical_json(forged)
            s.execute(
                text(
                    "INSERT INTO audit_record (seq, at, actor_user_id, actor_username, "
                    "actor_role, channel, action, object_type, object_id, body, alg, "
                    "prev_hash, hash) VALUES (7, :at, 7, 'clerk', 'coordinator', 'web', "
                    "'finding.result_publish', 'task_result', '9', :body, 'sha256', :prev, :hash)"
                ),
                {
                    "at": last.at,
                    "body": body,
                    "prev": last.hash,
                    "hash": chain.chain_hash("sha256", last.hash, body),
                },
            )
            named, why = 7, "链头之后多出的记录"
    broken = run(fresh_engine, "verify")
    assert broken.code == 1, broken.out
    assert f"第 {named} 条记录" in broken.out and why in broken.out, broken.out
    assert AuditAction.RESULT_PUBLISH.label in broken.out  # the action is named
    assert f"在此之前的 {named - 1} 条记录完好" in broken.out


def test_an_insert_inside_the_trail_is_named(fresh_engine):
    """Squeezing a record in between two others (renumbering the rest) breaks the link of
    the record after it."""
    backend = fresh_engine.dialect.name
    _trail(fresh_engine, 4)
    with session_scope(fresh_engine) as s:
        _drop_triggers(s, backend)
        s.execute(text("UPDATE audit_record SET seq = seq + 100 WHERE seq >= 3"))
        s.execute(text("UPDATE audit_record SET seq = seq - 99 WHERE seq >= 103"))
        prev = s.get(AuditRecord, 2)
        body = chain.canonical_json(dict(json.loads(prev.body), seq=3))
        s.execute(
            text(
                "INSERT INTO audit_record (seq, at, actor_user_id, actor_username, actor_role, "
                "channel, action, object_type, object_id, body, alg, prev_hash, hash) VALUES "
                "(3, :at, 7, 'clerk', 'coordinator', 'web', 'finding.result_publish', "
                "'task_result', '2', :body, 'sha256', :prev, :hash)"
            ),
            {
                "at": prev.at,
                "body": body,
                "prev": prev.hash,
                "hash": chain.chain_hash("sha256", prev.hash, body),
            },
        )
        s.execute(text("UPDATE audit_head SET seq = 5"))
    broken = run(fresh_engine, "verify")
    assert broken.code == 1 and "第 4 条记录" in broken.out, broken.out


def test_a_kept_checkpoint_catches_a_rewritten_history(fresh_engine):
    _trail(fresh_engine, 3)
    with session_scope(fresh_engine) as s:
        seq, kept = head(s)
    assert run(fresh_engine, "verify", "--checkpoint", f"{seq}:{kept}").code == 0
    bad = run(fresh_engine, "verify", "--checkpoint", f"{seq}:{'0' * 64}")
    assert bad.code == 1 and f"第 {seq} 条记录" in bad.out and "检查点" in bad.out
    wrong = run(fresh_engine, "verify", "--checkpoint", "3:xyz")
    assert wrong.code == 1 and "格式有误" in wrong.out


def test_checkpoint_export_and_the_standalone_script(fresh_engine, tmp_path):
    logged_out = run(fresh_engine, "checkpoint")
    assert logged_out.code == 1 and "登录" in logged_out.out, logged_out.out
    _trail(fresh_engine, 4)  # with the account's creation below: 5 records
    published = run(fresh_engine, "checkpoint", as_user="coord-cli")
    assert published.code == 0 and "已公布检查点：5:" in published.out, published.out
    with session_scope(fresh_engine) as s:
        (cp,) = s.query(AuditCheckpoint).all()
        rec = s.get(AuditRecord, 6)
        assert (cp.seq, rec.action) == (5, AuditAction.AUDIT_CHECKPOINT)
        assert (rec.actor_username, rec.channel) == ("coord-cli", "cli")
    out = tmp_path / "trail.jsonl"
    exported = run(
        fresh_engine, "export", "--from", "2000-01-01", "--to", "2100-12-31", "--out", str(out)
    )
    assert exported.code == 0 and "已导出 6 条审计记录" in exported.out, exported.out
    header = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert header["checkpoints"][0]["seq"] == 5
    script = subprocess.run(
        [sys.executable, "-I", str(Path(chain.__file__)), str(out)], capture_output=True, text=True
    )
    assert script.returncode == 0 and "OK: 6 records" in script.stdout, script.stdout
    (tmp_path / "not-an-export.jsonl").write_text('{"rows": []}\n', encoding="utf-8")
    unreadable = subprocess.run(
        [sys.executable, "-I", str(Path(chain.__file__)), str(tmp_path / "not-an-export.jsonl")],
        capture_output=True,
        text=True,
    )
    assert unreadable.returncode == 2 and "not a checkonce.audit/1 export" in unreadable.stderr
    nothing = run(
        fresh_engine, "export", "--from", "2000-01-01", "--to", "2000-01-02", "--out", str(out)
    )
    assert nothing.code == 0 and "已导出 0 条" in nothing.out
    backwards = run(
        fresh_engine, "export", "--from", "2027-02-01", "--to", "2027-01-01", "--out", str(out)
    )
    assert backwards.code == 1 and "不能早于" in backwards.out
    bad_day = run(fresh_engine, "export", "--from", "2027-02-30", "--out", str(out))
    assert bad_day.code == 1 and "不是有效日期" in bad_day.out


def test_verify_and_export_only_read(fresh_engine, tmp_path):
    """An auditor with read access only: nothing is written by verify or export."""
    _trail(fresh_engine, 2)
    with session_scope(fresh_engine) as s:
        before = head(s)
    run(fresh_engine, "verify")
    run(fresh_engine, "export", "--out", str(tmp_path / "all.jsonl"))
    with session_scope(fresh_engine) as s:
        assert head(s) == before


def test_publish_checkpoint_refuses_an_empty_trail(fresh_engine):
    with session_scope(fresh_engine) as s, pytest.raises(CheckOnceError):
        publish_checkpoint(s, actor=Actor.system("t"))
