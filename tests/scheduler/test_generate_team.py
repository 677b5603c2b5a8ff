"""Generator (reproducible Xi'an geography) and the inspector draw (HMAC ranking)."""

from __future__ import annotations

import hashlib
import hmac
import json

from shapely.geometry import Point, shape

from checkonce.config import packaged_data_dir
from checkonce.scheduler import team as team_module
from checkonce.scheduler.generate import credit_code, generate
from checkonce.scheduler.model import Instance, read_instance
from checkonce.scheduler.solve import solve
from checkonce.scheduler.team import LARGE_POOL, Staffer, keyed_order, rank_inspectors


def test_same_seed_same_instance_other_seed_other_instance(tiny_instance):
    assert generate("T", seed=7) == tiny_instance
    assert generate("T", seed=8) != tiny_instance


def test_enterprises_lie_in_their_district(tiny_instance):
    data = json.loads((packaged_data_dir() / "xian_districts.geojson").read_text("utf-8"))
    polygons = {f["properties"]["adcode"]: shape(f["geometry"]) for f in data["features"]}
    for ent in tiny_instance.enterprises:
        assert polygons[ent.district].contains(Point(ent.lon, ent.lat))


def test_generated_instance_has_the_realistic_ingredients():
    instance = generate("S", seed=2)
    assert len(instance.tasks) == 1000 and len(instance.departments) == 12
    assert "2026-01-01" not in instance.workdays  # New Year's Day
    assert "2026-01-04" in instance.workdays  # a Sunday made a workday (调休)
    kinds = {t.kind for t in instance.tasks}
    assert kinds == {"random", "special", "key", "triggered"}
    per_enterprise: dict[str, set[str]] = {}
    for task in instance.tasks:
        per_enterprise.setdefault(task.enterprise, set()).add(task.department)
    assert sum(len(d) > 1 for d in per_enterprise.values()) > 50  # joint visits to merge
    assert instance.conflicts
    assert any(i.certificate_valid[1] < instance.workdays[-1] for i in instance.inspectors)
    assert any(i.unavailable for i in instance.inspectors)
    assert Instance.from_json(instance.to_json()) == instance


def test_credit_codes_carry_a_valid_check_character():
    # 91350100M000100Y43 is the published GB 32100 example.
    assert credit_code("350100", "M000100Y4") == "91350100M000100Y43"


def test_rank_is_the_published_hmac_order():
    ids = ["I1", "I2", "I3", "I4"]
    expected = sorted(
        ids, key=lambda i: hmac.new(b"seed", f"V000001|{i}".encode(), hashlib.sha256).digest()
    )
    assert rank_inspectors("seed", "V000001", ids) == expected


def test_draw_skips_conflicts_and_avoids_rotation(instance_json):
    # Three SAMR inspectors; I1 declared a conflict with E2, I2 inspected E1 last time.
    instance_json["inspectors"].append({**instance_json["inspectors"][0], "id": "I5"})
    instance_json["conflicts"] = [{"inspector": "I1", "enterprise": "E2"}]
    instance_json["enterprises"][0]["last_inspectors"] = ["I2"]
    instance = Instance.from_json(instance_json)
    schedule = solve(instance, seed="r")
    by_enterprise = {v.enterprise: v for v in schedule.visits}
    assert "I1" not in by_enterprise["E2"].inspectors
    samr_e1 = [i for i in by_enterprise["E1"].inspectors if i in ("I1", "I2", "I5")]
    assert "I2" not in samr_e1  # I1 and I5 are eligible, so I2 is not sent again


def test_explicit_workdays_replace_the_2026_calendar():
    days = [f"2027-03-{d:02d}" for d in (1, 2, 3, 4, 5, 8, 9, 10)]
    instance = generate("T", seed=1, workdays=days)
    assert instance.workdays == tuple(days)
    assert all(days[0] <= t.window[0] <= t.window[1] <= days[-1] for t in instance.tasks)


def test_keyed_order_is_a_reproducible_permutation_computed_lazily(monkeypatch):
    pool = [f"I{k:03d}" for k in range(300)]
    first = list(keyed_order("seed", "V000001", pool))
    assert sorted(first) == pool and first != pool
    assert list(keyed_order("seed", "V000001", pool)) == first
    assert list(keyed_order("seed", "V000002", pool)) != first
    assert list(keyed_order("other", "V000001", pool)) != first
    # The j-th place is fixed by HMAC(seed, "<visit>#<j>") alone: recomputable by hand.
    import hashlib
    import hmac as std_hmac

    digest = std_hmac.new(b"seed", b"V000001#0", hashlib.sha256).digest()
    assert first[0] == pool[int.from_bytes(digest, "big") % 300]
    calls = []
    real = team_module.hmac.digest
    monkeypatch.setattr(team_module.hmac, "digest", lambda *a: calls.append(a) or real(*a))
    taken = keyed_order("seed", "V000001", pool)
    assert [next(taken) for _ in range(3)] == first[:3] and len(calls) == 3


def test_keyed_order_puts_every_inspector_first_equally_often():
    # 100 inspectors, 20,000 visits: the first place's counts fit a uniform distribution.
    from scipy.stats import chisquare

    pool = [f"I{k:03d}" for k in range(100)]
    counts = dict.fromkeys(pool, 0)
    for v in range(20_000):
        counts[next(keyed_order("uniform", f"V{v:06d}", pool))] += 1
    assert chisquare(list(counts.values())).pvalue > 0.001


def test_a_large_tier_is_staffed_in_keyed_order(instance_json):
    # 70 SAMR inspectors (more than LARGE_POOL) at the same office; I3 is off on 3 March.
    samr = instance_json["inspectors"][0]
    instance_json["inspectors"] = [
        i for i in instance_json["inspectors"] if i["department"] != samr["department"]
    ]
    for k in range(LARGE_POOL + 6):
        instance_json["inspectors"].append({**samr, "id": f"S{k:03d}"})
    instance_json["inspectors"][-1]["unavailable"] = ["2026-03-03"]
    instance = Instance.from_json(instance_json)
    staffer = Staffer(instance)
    staffer.reseed("draw")
    found = staffer.staff("V000009", "E2", "2026-03-03", {samr["department"]: 2}, 30)
    assert not isinstance(found, str)
    branch = sorted(i.id for i in instance.inspectors if i.department == samr["department"])
    order = [i for i in keyed_order("draw", "V000009", branch) if i != branch[-1]]
    assert found[1] == order[:2]


def test_the_team_is_the_first_eligible_in_hmac_order(instance_json):
    # Six SAMR inspectors at the office; on 3 March I6 is off and I7 has a conflict with
    # E2. Only the eligible are hashed now: the team must still be the first two of the
    # whole branch in HMAC order once the excluded are passed over.
    samr = instance_json["inspectors"][0]
    for k in (5, 6, 7, 8):
        instance_json["inspectors"].append({**samr, "id": f"I{k}"})
    instance_json["inspectors"][5]["unavailable"] = ["2026-03-03"]  # I6
    instance_json["conflicts"] = [{"inspector": "I7", "enterprise": "E2"}]
    instance = Instance.from_json(instance_json)
    staffer = Staffer(instance)
    staffer.reseed("draw")
    found = staffer.staff("V000009", "E2", "2026-03-03", {"SAMR": 2}, 30)
    assert not isinstance(found, str)
    branch = ["I1", "I2", "I5", "I6", "I7", "I8"]
    whole = rank_inspectors("draw", "V000009", branch)
    assert whole[0] in ("I6", "I7")  # the exclusion matters for this seed
    assert found[1] == [i for i in whole if i not in ("I6", "I7")][:2]


def test_read_instance_matches_from_json(instance_json, tmp_path):
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(instance_json, ensure_ascii=False), "utf-8")
    assert read_instance(path) == Instance.from_json(instance_json)


def _spread_samr(instance_json, adjacent):
    """E2 lies in 610104; SAMR has no inspector there: two in a bordering district (610103),
    four in a far one (610124)."""
    samr = instance_json["inspectors"][0]
    instance_json["inspectors"] = [i for i in instance_json["inspectors"] if i is not samr][1:]
    for k, district in enumerate(["610103"] * 2 + ["610124"] * 4):
        instance_json["inspectors"].append({**samr, "id": f"S{k}", "district": district})
    if adjacent:
        instance_json["adjacent_districts"] = {"610104": ["610103"], "610103": ["610104"]}
    return Instance.from_json(instance_json)


def test_the_draw_prefers_bordering_districts(instance_json):
    instance = _spread_samr(instance_json, adjacent=True)
    assert instance.adjacent_districts["610104"] == ("610103",)
    for seed in ("a", "b", "c"):
        staffer = Staffer(instance)
        staffer.reseed(seed)
        found = staffer.staff("V000009", "E2", "2026-03-03", {"SAMR": 2}, 30)
        assert not isinstance(found, str)
        assert sorted(found[1]) == ["S0", "S1"]


def test_without_adjacency_the_whole_department_is_drawn(instance_json):
    instance = _spread_samr(instance_json, adjacent=False)
    teams = set()
    for seed in "abcdefgh":
        staffer = Staffer(instance)
        staffer.reseed(seed)
        found = staffer.staff("V000009", "E2", "2026-03-03", {"SAMR": 2}, 30)
        assert not isinstance(found, str)
        teams.update(found[1])
    assert teams & {"S2", "S3", "S4", "S5"}


def test_generated_instances_carry_district_adjacency():
    instance = generate("T", 1)
    adjacent = instance.adjacent_districts
    assert set(adjacent) == {e.district for e in instance.enterprises} | set(adjacent)
    assert all(a in adjacent[b] for a, ns in adjacent.items() for b in ns)  # symmetric
    assert "610103" in adjacent["610104"]  # 碑林区 borders 莲湖区
    assert "610124" not in adjacent["610104"]  # 周至县 is far away
