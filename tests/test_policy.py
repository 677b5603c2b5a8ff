"""policy.toml: the shipped file gives DESIGN.md's numbers; a misspelt or bad setting is refused."""

import pytest

from checkonce.config import packaged_data_dir
from checkonce.errors import CheckOnceError
from checkonce.policy import load_policy


def test_shipped_policy_has_the_design_defaults():
    policy = load_policy(packaged_data_dir() / "policy.toml")
    assert policy.team.min_team == 2
    assert policy.caps.max_routine_per_department_year == 2
    assert policy.caps.max_visits_per_enterprise_year == 4
    assert (
        policy.caps.alert_entries_per_day,
        policy.caps.alert_entries_per_week,
        policy.caps.alert_entries_per_month,
    ) == (1, 2, 3)
    assert policy.sampling.ratios == {"A": 0.03, "B": 0.10, "C": 0.30, "D": 0.70}
    assert policy.publicity.publish_within_workdays == 20
    assert policy.notice.announce_workdays_ahead == 3
    assert policy.checkin.backfill_calendar_days == 10
    assert set(policy.whitelist.allowed_categories) == {"safety", "environment", "food", "health"}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[caps]\nmax_visits_per_enterprise_yr = 4\n", "caps.max_visits_per_enterprise_yr"),
        ("[sampling.ratios]\nA = 0.03\nB = 0.1\nC = 0.3\n", "A, B, C and D"),
        ("[sampling.ratios]\nA = 1.5\nB = 0.1\nC = 0.3\nD = 0.7\n", "between 0 and 1"),
        ("[team]\nmin_team = 0\n", "team.min_team"),
        ("[team\n", "格式错误"),
    ],
)
def test_bad_policy_is_refused_naming_the_setting(tmp_path, text, fragment):
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CheckOnceError) as err:
        load_policy(path)
    assert fragment in err.value.message


def test_campaign_quota_and_triggered_due_days_fall_back_to_defaults(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(
        "[campaigns]\ndefault_quota_per_department_year = 2\n"
        "[campaigns.quota_overrides]\nFIRE = 4\n",
        encoding="utf-8",
    )
    policy = load_policy(path)
    assert policy.campaigns.quota_for("FIRE") == 4 and policy.campaigns.quota_for("SEE") == 2
    assert policy.triggered.due_for("complaint") == 5
