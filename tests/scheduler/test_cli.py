"""`checkonce plan`, `verify` and `bench` through the real Typer app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from checkonce.cli import build_app
from checkonce.errors import CheckOnceError

runner = CliRunner()


def invoke(args: list[str]):
    """Run the app like main() does: a CheckOnceError becomes exit 1 with its message."""
    result = runner.invoke(build_app(), args)
    if isinstance(result.exception, CheckOnceError):
        return 1, result.exception.message
    return result.exit_code, result.output


def test_generate_plan_verify_round_trip(tmp_path):
    instance = tmp_path / "instance.json"
    schedule = tmp_path / "schedule.json"
    code, out = invoke(["bench", "generate", "--size", "T", "--seed", "3", "--out", str(instance)])
    assert code == 0, out
    assert json.loads(instance.read_text("utf-8"))["schema"] == "checkonce.instance/2"
    code, out = invoke(
        ["plan", "--instance", str(instance), "--out", str(schedule), "--seed", "ab"]
    )
    assert code == 0, out
    assert "校验通过" in out
    data = json.loads(schedule.read_text("utf-8"))
    assert data["schema"] == "checkonce.schedule/2" and data["visits"]
    code, out = invoke(["verify", str(instance), str(schedule)])
    assert code == 0, out
    assert "校验通过" in out
    assert "在场人·分钟" in out and "跨区执法人次" in out  # the version 2 measures


def test_verify_lists_violations_and_exits_1(tmp_path, instance_json, schedule_json):
    instance = tmp_path / "i.json"
    schedule = tmp_path / "s.json"
    schedule_json["visits"][0]["day"] = "2026-03-09"
    instance.write_text(json.dumps(instance_json, ensure_ascii=False), "utf-8")
    schedule.write_text(json.dumps(schedule_json, ensure_ascii=False), "utf-8")
    code, out = invoke(["verify", str(instance), str(schedule)])
    assert code == 1
    assert "visit_windows" in out and "T2" in out


def test_bad_input_gives_chinese_errors_not_tracebacks(tmp_path, instance_json):
    missing = tmp_path / "nope.json"
    code, message = invoke(["plan", "--instance", str(missing), "--out", str(tmp_path / "o.json")])
    assert code == 1 and "找不到实例文件" in message
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": ', "utf-8")
    code, message = invoke(["verify", str(broken), str(broken)])
    assert code == 1 and "不是有效的 JSON" in message and "第 1 行" in message
    wrong = tmp_path / "wrong.json"
    instance_json["tasks"][0]["kind"] = "surprise"
    wrong.write_text(json.dumps(instance_json, ensure_ascii=False), "utf-8")
    code, message = invoke(["plan", "--instance", str(wrong), "--out", str(tmp_path / "o.json")])
    assert code == 1 and "实例文件内容无效" in message and "T1" in message
    code, message = invoke(["bench", "generate", "--size", "Z", "--out", str(tmp_path / "z.json")])
    assert code == 1 and "未知规模" in message


def test_bench_run_prints_the_comparison_table(tmp_path, monkeypatch):
    # The whole table, not a folded one: the shared console read its width at import,
    # possibly before this test, so set it rather than the COLUMNS variable.
    from checkonce.cli import console

    monkeypatch.setattr(console, "width", 200)
    instance = tmp_path / "instance.json"
    assert (
        invoke(["bench", "generate", "--size", "T", "--seed", "5", "--out", str(instance)])[0] == 0
    )
    code, out = invoke(["bench", "run", "--instance", str(instance)])
    assert code == 0, out
    for label in ("求解器", "贪心合并", "现状", "入企/下界", "峰值 MB"):
        assert label in out
