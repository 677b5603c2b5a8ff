"""The merged schedule beside departments alone: measured on the same instance, each
measure with its one-line explanation (in Chinese, with English for the pages)."""

from __future__ import annotations

import pytest

from checkonce.api.pages.i18n import catalog
from checkonce.scheduler.generate import generate
from checkonce.scheduler.solve import solve
from checkonce.scheduler.verify import verify
from checkonce.visits.comparison import (
    ALONE_KEY,
    MEASURES,
    comparison_rows,
    departments_alone,
)


@pytest.fixture(scope="module")
def tiny_instance():
    return generate("T", seed=7)


def test_departments_alone_enter_once_per_task(tiny_instance):
    alone = departments_alone(tiny_instance, seed="s")
    assert alone["violations"] == 0
    assert alone["visits"] == alone["scheduled"]  # nobody merges: one entry per task
    merged = verify(tiny_instance, solve(tiny_instance, seed="s")).metrics
    assert merged["visits"] < alone["visits"]


def test_rows_in_order_with_change_and_explanation():
    metrics = {
        "visits": 75,
        "inspector_days": 90,
        "inspector_minutes_on_site": 1000,
        "travel_km": 50.0,
        "scheduled": 100,
        ALONE_KEY: {
            "visits": 100,
            "inspector_days": 100,
            "inspector_minutes_on_site": 1000,
            "travel_km": 0.0,
            "scheduled": 95,
        },
    }
    rows = comparison_rows(metrics)
    assert [r.key for r in rows] == [key for key, _label, _text in MEASURES]
    assert rows[0].change == -0.25 and rows[2].change == 0.0 and rows[3].change is None
    assert all(r.explanation and "\n" not in r.explanation for r in rows)
    assert comparison_rows({"visits": 3}) == []  # a version made before the comparison


def test_every_label_and_explanation_has_english():
    english = catalog("en")
    for _key, label, text in MEASURES:
        assert label in english and text in english
