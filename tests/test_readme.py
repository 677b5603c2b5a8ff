"""README opens with the two set-up commands, and CI runs the README's test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _opening_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    assert text.index("```sh") < 200, "the commands must open the README"
    return [line.strip() for line in block.strip().splitlines()]


def test_readme_opens_with_demo_and_test_commands():
    demo, tests = _opening_commands()
    assert demo.endswith("checkonce demo")
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _opening_commands()[1].replace(" -q", "") in ci.replace(" -q", "")
    assert "CHECKONCE_TEST_DATABASE_URL" in ci
