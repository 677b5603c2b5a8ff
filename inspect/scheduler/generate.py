"""Seeded instance generator with Xi'an geography, for tests and benchmarks.

Enterprises are placed inside the 13 district polygons (data/xian_districts.geojson),
denser in the urban districts and clustered around each district's seat; each has an
industry scene that decides which departments inspect it, so several departments' tasks
land on the same enterprise with overlapping windows — the situation "check once" merges.
Tasks come in the four kinds (random quarter/half-year windows, key monthly windows,
special campaigns of a few weeks, triggered tasks due within 5 workdays). Inspectors sit at
their department's district office, with days off, a few conflicts of interest and a few
certificates that expire during (or before) the year.

Same size and seed → the same instance (numpy and `random` are both seeded explicitly).
Workdays come from `chinese_calendar` (holidays and 调休 make-up days) for the year 2026.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from checkonce.config import packaged_data_dir
from checkonce.scheduler.model import (
    Conflict,
    Department,
    Enterprise,
    Inspector,
    Instance,
    Policy,
    Task,
)


@dataclass(frozen=True)
class Size:
    """Shape of a generated instance."""

    tasks: int
    enterprises: int
    departments: int
    inspectors: int
    months: int  # planning horizon from 1 January


SIZES: dict[str, Size] = {
    "T": Size(tasks=60, enterprises=35, departments=5, inspectors=80, months=1),
    "S": Size(tasks=1_000, enterprises=600, departments=12, inspectors=300, months=3),
    "M": Size(tasks=20_000, enterprises=12_000, departments=30, inspectors=1_000, months=12),
    "L": Size(tasks=100_000, enterprises=60_000, departments=30, inspectors=3_000, months=12),
    "XL": Size(tasks=1_000_000, enterprises=600_000, departments=30, inspectors=30_000, months=12),
}

DEPARTMENTS: list[tuple[str, str]] = [
    ("SAMR", "市场监督管理局"),
    ("FIRE", "消防救援支队"),
    ("EMB", "应急管理局"),
    ("SEE", "生态环境局"),
    ("HEALTH", "卫生健康委员会"),
    ("HOUSING", "住房和城乡建设局"),
    ("HRSS", "人力资源和社会保障局"),
    ("URBAN", "城市管理和综合执法局"),
    ("CULTURE", "文化和旅游局"),
    ("TRANSPORT", "交通运输局"),
    ("NMPA", "药品监督管理局"),
    ("TAX", "税务局"),
    ("EDU", "教育局"),
    ("AGRI", "农业农村局"),
    ("WATER", "水务局"),
    ("NATRES", "自然资源和规划局"),
    ("COMMERCE", "商务局"),
    ("CIVIL", "民政局"),
    ("TOBACCO", "烟草专卖局"),
    ("METEO", "气象局"),
    ("FOREST", "林业局"),
    ("STATS", "统计局"),
    ("GRAIN", "粮食和物资储备局"),
    ("CIVDEF", "人民防空办公室"),
    ("ETHNIC", "民族宗教事务委员会"),
    ("SPORT", "体育局"),
    ("POST", "邮政管理局"),
    ("COMM", "通信管理局"),
    ("MEDINS", "医疗保障局"),
    ("RADIO", "广播电视局"),
]

# Industry scene → (weight, departments that inspect it, opening hours).
SCENES: dict[str, tuple[float, list[str], tuple[str, str]]] = {
    "restaurant": (0.22, ["SAMR", "FIRE", "HEALTH", "URBAN", "SEE"], ("10:00", "22:00")),
    "retail": (0.20, ["SAMR", "FIRE", "TAX", "URBAN", "TOBACCO", "COMMERCE"], ("08:30", "21:00")),
    "factory": (0.12, ["EMB", "SEE", "FIRE", "HRSS", "SAMR", "WATER"], ("08:00", "17:30")),
    "construction": (
        0.08,
        ["HOUSING", "EMB", "HRSS", "NATRES", "URBAN", "SEE"],
        ("07:30", "18:00"),
    ),
    "hotel": (0.07, ["CULTURE", "FIRE", "HEALTH", "SAMR", "CIVDEF"], ("00:00", "24:00")),
    "pharmacy": (0.06, ["NMPA", "SAMR", "MEDINS", "FIRE"], ("08:30", "21:00")),
    "logistics": (0.06, ["TRANSPORT", "POST", "EMB", "FIRE", "SAMR"], ("08:00", "18:00")),
    "school": (0.05, ["EDU", "FIRE", "HEALTH", "SPORT", "CIVIL"], ("08:00", "17:30")),
    "farm": (0.05, ["AGRI", "SEE", "FOREST", "WATER", "GRAIN"], ("08:00", "17:00")),
    "entertainment": (0.04, ["CULTURE", "FIRE", "RADIO", "SPORT", "HRSS"], ("10:00", "23:00")),
    "office": (0.05, ["COMM", "STATS", "TAX", "HRSS", "METEO", "ETHNIC"], ("09:00", "17:30")),
}

# District → (share of enterprises, seat (lat, lon), spread of enterprises around the seat).
DISTRICTS: dict[str, tuple[float, tuple[float, float], float]] = {
    "610102": (0.10, (34.267, 108.960), 0.015),
    "610103": (0.10, (34.256, 108.934), 0.012),
    "610104": (0.11, (34.265, 108.930), 0.015),
    "610111": (0.07, (34.273, 109.064), 0.04),
    "610112": (0.12, (34.310, 108.950), 0.03),
    "610113": (0.16, (34.214, 108.949), 0.025),
    "610114": (0.03, (34.662, 109.226), 0.03),
    "610115": (0.05, (34.367, 109.214), 0.05),
    "610116": (0.10, (34.158, 108.907), 0.05),
    "610117": (0.04, (34.535, 109.088), 0.03),
    "610118": (0.04, (34.108, 108.605), 0.04),
    "610122": (0.04, (34.151, 109.323), 0.04),
    "610124": (0.04, (34.163, 108.222), 0.04),
}

# Departments whose items a certified urban-management officer (综合执法) may also carry out.
URBAN_ALSO_FOR = ("HOUSING", "SEE")
RISK_SHARE = {"A": 0.30, "B": 0.45, "C": 0.20, "D": 0.05}
RISK_WEIGHT = {"A": 0.6, "B": 1.0, "C": 1.8, "D": 3.5}
GB32100 = "0123456789ABCDEFGHJKLMNPQRTUWXY"
GB32100_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code(district: str, body: str) -> str:
    """Unified social credit code '91' + district + 9-char body + GB 32100 check character."""
    head = "91" + district + body
    total = sum(GB32100.index(c) * w for c, w in zip(head, GB32100_WEIGHTS, strict=True))
    return head + GB32100[(31 - total % 31) % 31]


def workdays_2026(months: int) -> list[str]:
    """Workdays of 2026 from 1 January for `months` months (chinese_calendar)."""
    import chinese_calendar

    end = date(2026, months + 1, 1) if months < 12 else date(2027, 1, 1)
    day, out = date(2026, 1, 1), []
    while day < end:
        if chinese_calendar.is_workday(day):
            out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def _district_shapes() -> dict[str, object]:
    from shapely.geometry import shape

    data = json.loads((packaged_data_dir() / "xian_districts.geojson").read_text("utf-8"))
    return {f["properties"]["adcode"]: shape(f["geometry"]) for f in data["features"]}


def _points(
    rng: np.random.Generator, polygon: object, seat: tuple[float, float], spread: float, count: int
) -> list[tuple[float, float]]:
    """`count` points inside `polygon`, Gaussian around the seat (rejection sampling)."""
    import shapely

    out: list[tuple[float, float]] = []
    sigma = spread
    while len(out) < count:
        need = (count - len(out)) * 2 + 16
        lat = rng.normal(seat[0], sigma, need)
        lon = rng.normal(seat[1], sigma * 1.2, need)
        inside = shapely.contains_xy(polygon, lon, lat)
        out.extend(zip(lat[inside].round(6).tolist(), lon[inside].round(6).tolist(), strict=True))
        if not inside.any():
            sigma *= 0.7  # seat near a thin part of the polygon: tighten
    return out[:count]


def generate(size: str | Size, seed: int, *, workdays: Sequence[str] | None = None) -> Instance:
    """A reproducible instance of the given size ("T", "S", "M", "L", "XL" or a Size).

    `workdays` replaces the 2026 calendar (for another year, or a jurisdiction's own
    calendar); by default the first `months` months of 2026 per chinese_calendar.
    """
    shape = SIZES[size] if isinstance(size, str) else size
    name = f"xian-2026-{size if isinstance(size, str) else 'custom'}-seed{seed}"
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    if workdays is not None:
        workdays = sorted(set(workdays))
        if len(workdays) < 5:
            raise ValueError("workdays：至少需要 5 个工作日")
        name = f"xian-{workdays[0][:4]}-{size if isinstance(size, str) else 'custom'}-seed{seed}"
    else:
        workdays = workdays_2026(shape.months)
    n_days = len(workdays)
    departments = DEPARTMENTS[: shape.departments]
    dept_ids = [d for d, _ in departments]
    scenes = {
        s: (w, [d for d in deps if d in dept_ids] or dept_ids[:3], hours)
        for s, (w, deps, hours) in SCENES.items()
    }
    shapes = _district_shapes()
    districts = sorted(DISTRICTS)
    shares = np.array([DISTRICTS[d][0] for d in districts])
    counts = rng.multinomial(shape.enterprises, shares / shares.sum())

    # Enterprises.
    scene_names = sorted(scenes)
    scene_p = np.array([scenes[s][0] for s in scene_names])
    scene_p /= scene_p.sum()
    risk_names = sorted(RISK_SHARE)
    risk_p = np.array([RISK_SHARE[r] for r in risk_names])
    ent_rows: list[dict] = []
    used_codes: set[str] = set()
    for district, count in zip(districts, counts, strict=True):
        _share, seat, spread = DISTRICTS[district]
        for lat, lon in _points(rng, shapes[district], seat, spread, int(count)):
            while True:
                body = "".join(rnd.choice(GB32100) for _ in range(9))
                code = credit_code(district, body)
                if code not in used_codes:
                    used_codes.add(code)
                    break
            scene = scene_names[int(rng.choice(len(scene_names), p=scene_p))]
            risk = risk_names[int(rng.choice(len(risk_names), p=risk_p))]
            ent_rows.append(
                {
                    "id": code,
                    "district": district,
                    "lat": lat,
                    "lon": lon,
                    "scene": scene,
                    "risk": risk,
                }
            )
    rnd.shuffle(ent_rows)

    # Tasks: enterprises drawn by risk weight, departments from the scene.
    weights = np.array([RISK_WEIGHT[e["risk"]] for e in ent_rows])
    picks = rng.choice(len(ent_rows), size=shape.tasks, p=weights / weights.sum())
    campaigns = {
        d: [
            (s, min(n_days - 1, s + int(rng.integers(15, 30))))
            for s in sorted(rng.integers(0, max(1, n_days - 20), 3).tolist())
        ]
        for d in dept_ids
    }
    routine_count: dict[tuple[str, str], int] = {}
    tasks: list[Task] = []
    dept_load: dict[str, int] = dict.fromkeys(dept_ids, 0)
    quarter = max(1, n_days // 4)
    for number, pick in enumerate(picks.tolist(), start=1):
        ent = ent_rows[pick]
        _w, deps, _hours = scenes[ent["scene"]]
        department = deps[int(rng.integers(len(deps)))]
        roll = rng.random()
        kind = (
            "random"
            if roll < 0.55
            else "key"
            if roll < 0.75
            else "special"
            if roll < 0.9
            else "triggered"
        )
        key = (ent["id"], department)
        # Real plans respect the per-department cap; 0.5 % do not, to exercise the caps.
        if kind != "triggered" and routine_count.get(key, 0) >= 2 and rng.random() > 0.005:
            kind = "triggered"
        if kind == "random":
            if shape.months >= 6 and rng.random() < 0.3:
                half = int(rng.integers(2))
                lo, hi = half * n_days // 2, (half + 1) * n_days // 2 - 1
            else:
                q = int(rng.integers(max(1, min(4, n_days // quarter))))
                lo, hi = q * quarter, min(n_days - 1, (q + 1) * quarter - 1)
        elif kind == "key":
            lo = int(rng.integers(max(1, n_days - 20)))
            hi = min(n_days - 1, lo + 20)
        elif kind == "special":
            lo, hi = campaigns[department][int(rng.integers(3))]
        else:
            lo = int(rng.integers(n_days))
            hi = min(n_days - 1, lo + 4)
        if kind != "triggered":
            routine_count[key] = routine_count.get(key, 0) + 1
        dept_load[department] += 1
        tasks.append(
            Task(
                id=f"T{number:07d}",
                enterprise=ent["id"],
                department=department,
                item=f"{department}-{kind[:2].upper()}-{int(rng.integers(1, 40)):03d}",
                kind=kind,
                window=(workdays[lo], workdays[hi]),
                minutes=int(rng.choice([30, 45, 60, 60, 90, 120])),
                team=3 if rng.random() < 0.12 else 2,
                mergeable=bool(rng.random() > 0.002),
            )
        )

    # Inspectors: per department in proportion to its tasks, offices near district seats.
    total_load = sum(dept_load.values()) or 1
    # Enforcement needs two officers, so each department keeps two in every district branch
    # (属地) when the headcount allows, else one; the rest follows the department's load.
    n_branches = len(districts)
    if shape.inspectors >= 2 * n_branches * len(dept_ids):
        base = 2 * n_branches
    elif shape.inspectors >= n_branches * len(dept_ids):
        base = n_branches
    else:
        base = 0
    extra = shape.inspectors - base * len(dept_ids)
    per_dept = {d: max(4, base + round(extra * dept_load[d] / total_load)) for d in dept_ids}
    # Rounding: the busiest department absorbs the difference so the headcount is exact.
    busiest = max(dept_ids, key=lambda d: dept_load[d])
    per_dept[busiest] += shape.inspectors - sum(per_dept.values())
    inspectors: list[Inspector] = []
    local: dict[tuple[str, str], list[str]] = {}
    number = 0
    for department in dept_ids:
        homes = rng.choice(len(districts), size=per_dept[department], p=shares / shares.sum())
        for k, h in enumerate(homes.tolist()):
            # The first `base` inspectors staff the district branches, the rest by share.
            district = districts[k % n_branches] if k < base else districts[h]
            number += 1
            iid = f"I{number:05d}"
            _share, seat, _spread = DISTRICTS[district]
            lat, lon = _points(rng, shapes[district], seat, 0.006, 1)[0]
            roll = rng.random()
            if roll < 0.02:
                valid = ("2021-01-01", "2025-12-31")  # expired before the year
            elif roll < 0.05:
                valid = ("2023-01-01", workdays[int(rng.integers(n_days))])
            else:
                valid = ("2024-01-01", "2028-12-31")
            off = {workdays[int(x)] for x in rng.integers(0, n_days, int(rng.integers(0, 12)))}
            inspectors.append(
                Inspector(
                    id=iid,
                    department=department,
                    lat=lat,
                    lon=lon,
                    minutes_per_day=480,
                    unavailable=frozenset(off),
                    certificate_valid=valid,
                    district=district,
                )
            )
            local.setdefault((department, district), []).append(iid)

    # 综合执法: a quarter of the urban-management officers are also certified for housing
    # and environment items (`also_for`, interchange version 2). A generator of its own,
    # so the rest of the instance is the same as before version 2.
    certify = np.random.default_rng([seed, 2])
    also_for = tuple(d for d in URBAN_ALSO_FOR if d in dept_ids)
    inspectors = [
        replace(person, also_for=also_for)
        if person.department == "URBAN" and certify.random() < 0.25
        else person
        for person in inspectors
    ]
    # Xi'an's rule (data/policy.toml): one officer per department in a joint visit.
    policy = Policy(joint_team_per_department=1)
    enterprises: list[Enterprise] = []
    for ent in ent_rows:
        _w, deps, hours = scenes[ent["scene"]]
        visits = 0
        routine: dict[str, int] = {}
        if rng.random() < 0.03:
            visits = int(rng.integers(1, 4))
            routine = {deps[0]: min(visits, 2)}
        last: tuple[str, ...] = ()
        if rng.random() < 0.3:
            pool = local.get((deps[0], ent["district"]), [])
            if len(pool) >= 2:
                last = tuple(sorted(rnd.sample(pool, 2)))
        open_hours = (
            int(hours[0][:2]) * 60 + int(hours[0][3:]),
            int(hours[1][:2]) * 60 + int(hours[1][3:]),
        )
        enterprises.append(
            Enterprise(
                id=ent["id"],
                name=f"{ent['scene']}-{ent['id'][-6:]}",
                district=ent["district"],
                lat=ent["lat"],
                lon=ent["lon"],
                risk=ent["risk"],
                open=open_hours,
                visits_this_year=visits,
                routine_this_year=routine,
                last_inspectors=last,
            )
        )
    by_district: dict[str, list[str]] = {}
    for e in enterprises:
        by_district.setdefault(e.district, []).append(e.id)
    conflicts: list[Conflict] = []
    seen_conflicts: set[tuple[str, str]] = set()
    for person in inspectors:
        if rng.random() < 0.2:
            pool = by_district.get(person.district or "", [])
            for _ in range(int(rng.integers(1, 4))):
                if pool:
                    pair = (person.id, pool[int(rng.integers(len(pool)))])
                    if pair not in seen_conflicts:
                        seen_conflicts.add(pair)
                        conflicts.append(Conflict(*pair))
    return Instance(
        name=name,
        workdays=tuple(workdays),
        departments=tuple(Department(id=d, name=n) for d, n in departments),
        enterprises=tuple(enterprises),
        inspectors=tuple(inspectors),
        tasks=tuple(tasks),
        conflicts=tuple(conflicts),
        policy=policy,
        seed=f"{seed:016x}",
        adjacent_districts=_adjacency(shapes),
    )


def _adjacency(shapes: dict[str, object]) -> dict[str, tuple[str, ...]]:
    """District → districts whose (simplified) boundaries touch it, within about 100 m."""
    grown = {code: shape.buffer(0.001) for code, shape in shapes.items()}  # type: ignore[attr-defined]
    return {
        code: tuple(sorted(o for o in shapes if o != code and grown[code].intersects(shapes[o])))
        for code in sorted(shapes)
    }


def write_instance(instance: Instance, path: Path) -> None:
    """Write an instance as contract JSON (UTF-8, compact)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(instance.to_json(), ensure_ascii=False, separators=(",", ":")), "utf-8"
    )
