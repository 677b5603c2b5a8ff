"""Seeded generator of a demo registry: enterprises and inspectors at any size.

Enterprises get valid credit codes, a location inside their district's polygon (denser in the
central urban districts and around each district seat), an industry and a risk class drawn from
that industry's mix. Inspectors get enforcement certificates (some expiring soon, a few
expired), some auxiliaries and grid workers (stored, never assignable) and unavailable days.
Same seed and sizes → the same registry.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from shapely.geometry import Point

from checkonce.registry.creditcode import ALPHABET, make_credit_code
from checkonce.registry.jurisdiction import Jurisdiction

# Share of the city's enterprises per district (roughly following the registered market
# entities in the Xi'an statistical yearbook: the centre and the south-west dominate).
DISTRICT_WEIGHTS = {
    "610113": 0.18,  # 雁塔 (incl. 高新区, 曲江)
    "610112": 0.14,  # 未央 (incl. 经开区)
    "610104": 0.09,  # 莲湖
    "610103": 0.07,  # 碑林
    "610102": 0.07,  # 新城
    "610116": 0.12,  # 长安
    "610111": 0.08,  # 灞桥
    "610115": 0.05,  # 临潼
    "610117": 0.04,  # 高陵
    "610118": 0.04,  # 鄠邑
    "610114": 0.03,  # 阎良
    "610122": 0.03,  # 蓝田
    "610124": 0.03,  # 周至
}
# Seats of the district governments: enterprises cluster around them.
DISTRICT_SEATS = {
    "610102": (34.2665, 108.9607),
    "610103": (34.2560, 108.9340),
    "610104": (34.2650, 108.9330),
    "610111": (34.2727, 109.0645),
    "610112": (34.2930, 108.9468),
    "610113": (34.2135, 108.9266),
    "610114": (34.6622, 109.2260),
    "610115": (34.3672, 109.2140),
    "610116": (34.1581, 108.9070),
    "610117": (34.5347, 109.0883),
    "610118": (34.1086, 108.6050),
    "610122": (34.1512, 109.3232),
    "610124": (34.1635, 108.2220),
}
TRADE_NAMES = [
    "长安",
    "秦川",
    "大唐",
    "古城",
    "丝路",
    "汉风",
    "曲江",
    "雁塔",
    "终南",
    "骊山",
    "渭水",
    "灞柳",
    "华清",
    "未央",
    "兴庆",
    "广仁",
    "永宁",
    "安远",
    "德福",
    "鑫源",
    "恒通",
    "瑞祥",
    "宏达",
    "顺鑫",
    "金鼎",
    "盛世",
    "佳和",
    "福瑞",
    "天宝",
    "润泽",
    "嘉禾",
    "博远",
    "锦程",
    "和盛",
    "聚丰",
    "乐源",
    "康宁",
    "同济",
    "华远",
    "新城",
    "西京",
    "秦岭",
    "白鹿",
    "沣河",
    "浐河",
    "潏河",
    "昆明",
    "含光",
    "朱雀",
    "明德",
]
ROADS = [
    "长安路",
    "朱雀大街",
    "含光路",
    "太白路",
    "友谊路",
    "南二环",
    "北二环",
    "东二环",
    "西二环",
    "小寨东路",
    "科技路",
    "高新路",
    "唐延路",
    "锦业路",
    "丈八北路",
    "凤城二路",
    "未央路",
    "文景路",
    "北关正街",
    "解放路",
    "东大街",
    "西大街",
    "南大街",
    "北大街",
    "环城南路",
    "建设路",
    "长乐路",
    "咸宁路",
    "纺织城正街",
    "韦曲南街",
    "西长安街",
    "航天大道",
]
SURNAMES = [
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "赵",
    "黄",
    "周",
    "吴",
    "徐",
    "孙",
    "马",
    "胡",
    "朱",
    "郭",
    "何",
    "罗",
    "高",
    "林",
    "郑",
    "梁",
    "谢",
    "宋",
    "唐",
    "许",
    "韩",
    "冯",
    "邓",
    "曹",
]
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "强",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀",
    "霞",
    "平",
    "刚",
    "桂",
    "鹏",
    "辉",
    "华",
    "飞",
    "婷",
    "宁",
    "博",
    "浩",
    "鑫",
]
SUFFIX_BY_INDUSTRY_WORD = (
    ("餐饮", "餐饮管理有限公司"),
    ("酒店", "酒店管理有限公司"),
    ("宾馆", "宾馆"),
    ("娱乐", "娱乐有限公司"),
    ("加油", "加油站"),
    ("建筑", "建筑工程有限公司"),
    ("药", "大药房有限公司"),
    ("食堂", "学校食堂"),
    ("化", "化工有限公司"),
    ("电动", "电动车行"),
    ("网", "网络会所"),
    ("美", "美容美发店"),
    ("汽", "汽车维修服务有限公司"),
)


@dataclass(frozen=True)
class DemoSizes:
    enterprises: int
    inspectors: int | None = None  # default: about 1 enforcement officer per 12 enterprises

    def inspector_count(self) -> int:
        return self.inspectors if self.inspectors is not None else max(40, self.enterprises // 12)


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _point_in_district(rng: random.Random, juris: Jurisdiction, adcode: str) -> tuple[float, float]:
    """A point inside the district: Gaussian around the seat, rejected until inside."""
    district = juris.districts[adcode]
    seat_lat, seat_lon = DISTRICT_SEATS.get(
        adcode, (district.geometry.centroid.y, district.geometry.centroid.x)
    )
    sigma = 0.02 if district.urban else 0.06
    for _ in range(200):
        lat = rng.gauss(seat_lat, sigma)
        lon = rng.gauss(seat_lon, sigma * 1.2)
        if district.prepared.contains(Point(lon, lat)):
            return round(lat, 6), round(lon, 6)
    min_lon, min_lat, max_lon, max_lat = district.geometry.bounds
    while True:
        lat, lon = rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon)
        if district.prepared.contains(Point(lon, lat)):
            return round(lat, 6), round(lon, 6)


def _suffix(industry_name: str) -> str:
    for word, suffix in SUFFIX_BY_INDUSTRY_WORD:
        if word in industry_name:
            return suffix
    return "商贸有限公司"


def generate_enterprises(juris: Jurisdiction, count: int, *, seed: int) -> Iterator[dict]:
    """`count` enterprise rows (dicts with the Enterprise columns), reproducible from `seed`."""
    rng = random.Random(f"enterprises:{seed}")
    industries = juris.industries
    industry_weights = {i["code"]: float(i["share"]) for i in industries}
    by_code = {i["code"]: i for i in industries}
    weights = {a: w for a, w in DISTRICT_WEIGHTS.items() if a in juris.districts}
    seen_codes: set[str] = set()
    seen_names: set[str] = set()
    for serial in range(count):
        adcode = _weighted(rng, weights)
        industry = by_code[_weighted(rng, industry_weights)]
        while True:
            body = "".join(rng.choice(ALPHABET) for _ in range(8))
            # 92 = individual business (个体工商户), 91 = company; small shops are mostly 92.
            prefix = "92" if rng.random() < 0.35 else "91"
            code = make_credit_code(prefix, adcode, body)
            if code not in seen_codes:
                seen_codes.add(code)
                break
        district_name = juris.districts[adcode].name
        name = f"西安{rng.choice(TRADE_NAMES)}{rng.choice(TRADE_NAMES)}{_suffix(industry['name'])}"
        if name in seen_names:
            name = name.replace("西安", f"西安{district_name[:-1]}", 1)
            if name in seen_names:
                name = (
                    f"{name[:-4]}第{serial}分公司"
                    if name.endswith("有限公司")
                    else f"{name}{serial}号店"
                )
        seen_names.add(name)
        lat, lon = _point_in_district(rng, juris, adcode)
        mix = industry["risk_mix"]
        risk = _weighted(rng, mix)
        opens, closes = industry.get("open", ["09:00", "17:30"])
        yield {
            "credit_code": code,
            "name": name,
            "address": f"陕西省西安市{district_name}{rng.choice(ROADS)}{rng.randint(1, 999)}号",
            "district_adcode": adcode,
            "lat": lat,
            "lon": lon,
            "industry_code": industry["code"],
            "risk_class": risk,
            # 监管白名单: a small share of the well-rated (A/B) enterprises
            "whitelisted": risk in ("A", "B") and rng.random() < 0.08,
            "opens_at": dt.time.fromisoformat(opens),
            "closes_at": dt.time.fromisoformat(closes),
        }


def department_weights(juris: Jurisdiction) -> dict[str, float]:
    """How inspectors are spread over departments: by the size of their item lists."""
    return {d["code"]: float(len(d["items"])) for d in juris.departments}


# Departments whose items a certified urban-management officer (综合执法) may carry out.
URBAN_ALSO_FOR = ("HOUSING", "SEE")


def generate_inspectors(
    juris: Jurisdiction, count: int, *, seed: int, reference_day: dt.date
) -> Iterator[dict]:
    """`count` staff rows; about 90% enforcement officers, the rest auxiliaries, grid workers and
    coordination staff. Certificates: ~4% expire within 30 days of `reference_day`, ~2%
    already expired. ~30% of officers have 1–10 unavailable workdays in the next 90 days.
    A quarter of the urban-management officers are also certified for housing and
    environment items (`also_for`, 综合执法)."""
    rng = random.Random(f"inspectors:{seed}")
    # 综合执法: a quarter of the urban-management officers also certified for housing and
    # environment items (`also_for`); a generator of its own keeps the rest unchanged.
    certify = random.Random(f"certifications:{seed}")
    departments = [d["code"] for d in juris.departments]
    also_for = [code for code in URBAN_ALSO_FOR if code in departments]
    per_dept = department_weights(juris)
    dept_numbers = {code: i + 1 for i, code in enumerate(departments)}
    weights = {a: w for a, w in DISTRICT_WEIGHTS.items() if a in juris.districts}
    for serial in range(1, count + 1):
        dept = (
            departments[(serial - 1) % len(departments)]
            if serial <= len(departments) * 2
            else _weighted(rng, per_dept)
        )
        roll = rng.random()
        role = (
            "enforcement"
            if roll < 0.90
            else "auxiliary"
            if roll < 0.95
            else "grid"
            if roll < 0.98
            else "coordination"
        )
        home = _weighted(rng, weights)
        lat, lon = _point_in_district(rng, juris, home)
        row = {
            "code": f"I{serial:05d}",
            "name": rng.choice(SURNAMES)
            + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))),
            "department": dept,
            "role": role,
            "status": "suspended" if rng.random() < 0.01 else "active",
            "certificate_no": None,
            "certificate_valid_from": None,
            "certificate_valid_to": None,
            "home_district_adcode": home,
            "home_lat": lat,
            "home_lon": lon,
            "minutes_per_day": 480,
            "unavailable": [],
            "also_for": [],
        }
        if role == "enforcement" and dept == "URBAN" and certify.random() < 0.25:
            row["also_for"] = list(also_for)
        if role == "enforcement":
            cert_roll = rng.random()
            if cert_roll < 0.02:
                valid_to = reference_day - dt.timedelta(days=rng.randint(1, 200))
            elif cert_roll < 0.06:
                valid_to = reference_day + dt.timedelta(days=rng.randint(0, 30))
            else:
                valid_to = reference_day + dt.timedelta(days=rng.randint(60, 5 * 365))
            row["certificate_no"] = f"陕执{61:02d}{dept_numbers[dept]:02d}{serial:06d}"
            row["certificate_valid_from"] = valid_to - dt.timedelta(days=6 * 365)
            row["certificate_valid_to"] = valid_to
            if rng.random() < 0.30:
                days = {
                    reference_day + dt.timedelta(days=rng.randint(0, 90))
                    for _ in range(rng.randint(1, 10))
                }
                row["unavailable"] = sorted(d for d in days if d.weekday() < 5)
        yield row


def generate_conflicts(
    enterprise_codes: list[str], inspector_codes: list[str], *, seed: int, rate: float = 0.002
) -> list[tuple[str, str]]:
    """Declared conflicts (回避): about `rate` × inspectors × 10 random pairs, unique."""
    rng = random.Random(f"conflicts:{seed}")
    wanted = math.ceil(len(inspector_codes) * 10 * rate)
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < min(wanted, len(enterprise_codes) * len(inspector_codes)):
        pairs.add((rng.choice(inspector_codes), rng.choice(enterprise_codes)))
    return sorted(pairs)
