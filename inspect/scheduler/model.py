"""Plain dataclasses for the scheduling interchange format (INTERCHANGE.md, version 2).

An `Instance` is what the optimizer reads, a `Schedule` is what it writes. Both convert
to and from the JSON dicts of the contract with `from_json` / `to_json`. Constructors
check their input and raise `ValueError` with a message for people (Chinese, with the ids
concerned), so a bad file is refused before any solving starts.

Inside the dataclasses dates stay ISO strings (as in the contract) and clock times are
minutes after midnight (ints); `to_json` writes them back as "HH:MM".

Version 1 files are read as version 2 with the new fields at their defaults
(`policy.joint_team_per_department` absent, every inspector's `also_for` empty); files are
always written as version 2.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

INSTANCE_SCHEMA = "checkonce.instance/2"
SCHEDULE_SCHEMA = "checkonce.schedule/2"
# Earlier versions still read (their meaning is the version 2 one with defaults).
INSTANCE_SCHEMAS = ("checkonce.instance/1", INSTANCE_SCHEMA)
SCHEDULE_SCHEMAS = ("checkonce.schedule/1", SCHEDULE_SCHEMA)
TASK_KINDS = ("random", "special", "key", "triggered")
RISK_CLASSES = ("A", "B", "C", "D")


def parse_clock(text: Any, what: str) -> int:
    """'HH:MM' → minutes after midnight; ValueError naming `what` otherwise."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ValueError(f"{what}：时间「{text}」应为 HH:MM 格式")
    try:
        hours, minutes = int(text[:2]), int(text[3:])
    except ValueError:
        raise ValueError(f"{what}：时间「{text}」应为 HH:MM 格式") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > 24 * 60:
        raise ValueError(f"{what}：时间「{text}」超出 00:00–24:00")
    return hours * 60 + minutes


def format_clock(minutes: int) -> str:
    """Minutes after midnight → 'HH:MM'."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# Dates already found valid: a million tasks share a few hundred window dates.
_VALID_DATES: set[str] = set()


def check_date(text: Any, what: str) -> str:
    """Return `text` if it is an ISO date (YYYY-MM-DD), else raise ValueError naming `what`."""
    if type(text) is str and text in _VALID_DATES:
        return text
    if not isinstance(text, str):
        raise ValueError(f"{what}：日期「{text}」应为 YYYY-MM-DD 字符串")
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what}：日期「{text}」不是有效的 YYYY-MM-DD 日期") from None
    if parsed.isoformat() != text:
        raise ValueError(f"{what}：日期「{text}」应写作 {parsed.isoformat()}")
    if len(_VALID_DATES) < 100_000:
        _VALID_DATES.add(text)
    return text


def _intern(value: Any) -> Any:
    """The shared copy of a string (other values unchanged, for the checks to refuse)."""
    return sys.intern(value) if type(value) is str else value


def _require(data: Mapping[str, Any], key: str, what: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"{what}：应为 JSON 对象")
    if key not in data:
        raise ValueError(f"{what}：缺少字段「{key}」")
    return data[key]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what}：应为数字，实际为「{value}」")
    return float(value)


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what}：应为整数，实际为「{value}」")
    return value


def _pair(value: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"{what}：应为两个元素的数组")
    return value[0], value[1]


def _str_list(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what}：应为字符串数组")
    return tuple(value)


@dataclass(frozen=True)
class Policy:
    """Frequency caps and team rule (DESIGN.md "Rules"); every number is a policy setting."""

    min_team: int = 2
    max_visits_per_enterprise_year: int = 4
    max_routine_per_department_year: int = 2
    max_visits_per_enterprise_week: int = 2
    max_visits_per_enterprise_month: int = 3
    # Version 2: inspectors each department sends to a joint visit (None: the task's team).
    joint_team_per_department: int | None = None

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "joint_team_per_department" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"policy.{name}：应为非负整数，实际为「{value}」")
        if self.min_team < 1:
            raise ValueError("policy.min_team：至少为 1")
        if self.joint_team_per_department is not None and self.joint_team_per_department < 1:
            raise ValueError("policy.joint_team_per_department：至少为 1")

    def need(self, team: int, joint: bool) -> int:
        """Inspectors serving a task's department that the task needs on its visit (rule 3):
        its `team` alone, min(team, joint_team_per_department) in a joint visit."""
        if joint and self.joint_team_per_department is not None:
            return min(team, self.joint_team_per_department)
        return team

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        """Missing keys take the published defaults."""
        if not isinstance(data, Mapping):
            raise ValueError("policy：应为 JSON 对象")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def to_json(self) -> dict[str, int]:
        """The contract's `policy` object (an absent joint rule stays absent)."""
        return {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if getattr(self, name) is not None
        }


@dataclass(frozen=True, slots=True)
class Department:
    """A law-enforcement bureau (执法部门)."""

    id: str
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("部门：id 不能为空")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Department:
        return cls(id=_require(data, "id", "部门"), name=str(data.get("name", "")))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True, slots=True)
class Enterprise:
    """An enterprise (统一社会信用代码 holder) with its location, opening hours and history."""

    id: str
    district: str
    lat: float
    lon: float
    open: tuple[int, int] = (0, 24 * 60)
    name: str = ""
    risk: str = "B"
    visits_this_year: int = 0
    routine_this_year: Mapping[str, int] = field(default_factory=dict)
    last_inspectors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        what = f"企业 {self.id}"
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("企业：id 不能为空")
        if not -90 <= self.lat <= 90 or not -180 <= self.lon <= 180:
            raise ValueError(f"{what}：经纬度 ({self.lat}, {self.lon}) 超出范围")
        if self.open[0] >= self.open[1]:
            raise ValueError(f"{what}：营业时间开始须早于结束")
        if self.risk not in RISK_CLASSES:
            raise ValueError(f"{what}：信用风险分类「{self.risk}」应为 A/B/C/D 之一")
        if self.visits_this_year < 0 or any(v < 0 for v in self.routine_this_year.values()):
            raise ValueError(f"{what}：本年已检查次数不能为负")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Enterprise:
        eid = _require(data, "id", "企业")
        what = f"企业 {eid}"
        open_pair = _pair(data.get("open", ["00:00", "24:00"]), f"{what} open")
        routine = data.get("routine_this_year", {}) or {}
        if not isinstance(routine, Mapping):
            raise ValueError(f"{what}：routine_this_year 应为对象")
        return cls(
            id=_intern(eid),
            name=str(data.get("name", "")),
            district=_intern(str(_require(data, "district", what))),
            lat=_number(_require(data, "lat", what), f"{what} lat"),
            lon=_number(_require(data, "lon", what), f"{what} lon"),
            risk=data.get("risk", "B"),
            open=(
                parse_clock(open_pair[0], f"{what} open"),
                parse_clock(open_pair[1], f"{what} open"),
            ),
            visits_this_year=_integer(data.get("visits_this_year", 0), f"{what} visits_this_year"),
            routine_this_year={
                str(k): _integer(v, f"{what} routine_this_year") for k, v in routine.items()
            },
            last_inspectors=_str_list(data.get("last_inspectors", []), f"{what} last_inspectors"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "district": self.district,
            "lat": self.lat,
            "lon": self.lon,
            "risk": self.risk,
            "open": [format_clock(self.open[0]), format_clock(self.open[1])],
            "visits_this_year": self.visits_this_year,
            "routine_this_year": dict(self.routine_this_year),
            "last_inspectors": list(self.last_inspectors),
        }


@dataclass(frozen=True, slots=True)
class Inspector:
    """An inspector (执法人员) holding an enforcement certificate of one department.

    `district` (home district of the inspector's office, 属地) is an optional extension of
    the contract; the team draw looks there first. `also_for` (version 2) lists the other
    departments whose tasks the inspector is certified to carry out (综合执法).
    """

    id: str
    department: str
    lat: float
    lon: float
    certificate_valid: tuple[str, str]
    minutes_per_day: int = 480
    unavailable: frozenset[str] = frozenset()
    district: str | None = None
    also_for: tuple[str, ...] = ()

    def serves(self, department: str) -> bool:
        """Counts for `department`: its own, or one it is also certified for."""
        return department == self.department or department in self.also_for

    def __post_init__(self) -> None:
        what = f"检查人员 {self.id}"
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("检查人员：id 不能为空")
        if not -90 <= self.lat <= 90 or not -180 <= self.lon <= 180:
            raise ValueError(f"{what}：经纬度 ({self.lat}, {self.lon}) 超出范围")
        if self.minutes_per_day <= 0:
            raise ValueError(f"{what}：minutes_per_day 须为正数")
        check_date(self.certificate_valid[0], f"{what} certificate_valid")
        check_date(self.certificate_valid[1], f"{what} certificate_valid")
        if self.certificate_valid[0] > self.certificate_valid[1]:
            raise ValueError(f"{what}：执法证有效期开始晚于结束")

    def works_on(self, day: str) -> bool:
        """Available that day and holding a certificate valid that day."""
        return (
            day not in self.unavailable
            and self.certificate_valid[0] <= day <= self.certificate_valid[1]
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Inspector:
        iid = _require(data, "id", "检查人员")
        what = f"检查人员 {iid}"
        unavailable = _str_list(data.get("unavailable", []), f"{what} unavailable")
        for day in unavailable:
            check_date(day, f"{what} unavailable")
        district = data.get("district")
        return cls(
            id=iid,
            department=_intern(str(_require(data, "department", what))),
            lat=_number(_require(data, "lat", what), f"{what} lat"),
            lon=_number(_require(data, "lon", what), f"{what} lon"),
            minutes_per_day=_integer(data.get("minutes_per_day", 480), f"{what} minutes_per_day"),
            unavailable=frozenset(unavailable),
            certificate_valid=tuple(  # type: ignore[arg-type]
                str(x) for x in _pair(_require(data, "certificate_valid", what), what)
            ),
            district=None if district is None else str(district),
            also_for=tuple(
                _intern(d) for d in _str_list(data.get("also_for", []), f"{what} also_for")
            ),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "department": self.department,
            "also_for": list(self.also_for),
            "lat": self.lat,
            "lon": self.lon,
            "minutes_per_day": self.minutes_per_day,
            "unavailable": sorted(self.unavailable),
            "certificate_valid": list(self.certificate_valid),
        }
        if self.district is not None:
            out["district"] = self.district
        return out


@dataclass(frozen=True, slots=True)
class Conflict:
    """A declared inspector–enterprise conflict of interest (回避): a hard exclusion."""

    inspector: str
    enterprise: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Conflict:
        return cls(
            inspector=str(_require(data, "inspector", "回避关系")),
            enterprise=str(_require(data, "enterprise", "回避关系")),
        )

    def to_json(self) -> dict[str, str]:
        return {"inspector": self.inspector, "enterprise": self.enterprise}


@dataclass(frozen=True, slots=True)
class Task:
    """One planned inspection of one enterprise by one department (检查任务)."""

    id: str
    enterprise: str
    department: str
    window: tuple[str, str]
    minutes: int
    item: str = ""
    kind: str = "random"
    team: int = 2
    mergeable: bool = True

    def __post_init__(self) -> None:
        what = f"任务 {self.id}"
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("任务：id 不能为空")
        if self.kind not in TASK_KINDS:
            raise ValueError(f"{what}：kind「{self.kind}」应为 {'/'.join(TASK_KINDS)} 之一")
        if self.minutes <= 0:
            raise ValueError(f"{what}：minutes 须为正数")
        if self.team < 1:
            raise ValueError(f"{what}：team 至少为 1")
        check_date(self.window[0], f"{what} window")
        check_date(self.window[1], f"{what} window")
        if self.window[0] > self.window[1]:
            raise ValueError(f"{what}：时间窗开始 {self.window[0]} 晚于结束 {self.window[1]}")

    @property
    def routine(self) -> bool:
        """Routine tasks count against the yearly caps; triggered ones do not."""
        return self.kind != "triggered"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Task:
        tid = _require(data, "id", "任务")
        what = f"任务 {tid}"
        window = _pair(_require(data, "window", what), f"{what} window")
        mergeable = data.get("mergeable", True)
        if not isinstance(mergeable, bool):
            raise ValueError(f"{what}：mergeable 应为 true/false")
        # Interned: a province has a million tasks over a few hundred thousand enterprises,
        # 30 departments and 250 days; one shared string each keeps the instance small.
        return cls(
            id=tid,
            enterprise=_intern(_require(data, "enterprise", what)),
            department=_intern(_require(data, "department", what)),
            item=_intern(data.get("item", "")),
            kind=_intern(data.get("kind", "random")),
            window=(_intern(window[0]), _intern(window[1])),
            minutes=_integer(_require(data, "minutes", what), f"{what} minutes"),
            team=_integer(data.get("team", 2), f"{what} team"),
            mergeable=mergeable,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "enterprise": self.enterprise,
            "department": self.department,
            "item": self.item,
            "kind": self.kind,
            "window": list(self.window),
            "minutes": self.minutes,
            "team": self.team,
            "mergeable": self.mergeable,
        }


def _unique(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"{what} id「{i}」重复")
        seen.add(i)


@dataclass(frozen=True)
class Instance:
    """A scheduling problem: workdays, people, enterprises, tasks, policy and the draw seed."""

    name: str
    workdays: tuple[str, ...]
    departments: tuple[Department, ...]
    enterprises: tuple[Enterprise, ...]
    inspectors: tuple[Inspector, ...]
    tasks: tuple[Task, ...]
    conflicts: tuple[Conflict, ...] = ()
    policy: Policy = field(default_factory=Policy)
    day_start: int = 9 * 60
    day_end: int = 17 * 60 + 30
    speed_kmh: float = 25.0
    detour: float = 1.3
    seed: str = ""
    # Optional extension: district → the districts sharing a border with it; the team draw
    # looks there after the enterprise's own district (属地), before the rest.
    adjacent_districts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for day in self.workdays:
            check_date(day, "workdays")
        if list(self.workdays) != sorted(set(self.workdays)):
            raise ValueError("workdays：日期须按升序排列且不重复")
        if self.day_start >= self.day_end:
            raise ValueError("day：工作日开始时间须早于结束时间")
        if self.speed_kmh <= 0 or self.detour < 1:
            raise ValueError("travel：speed_kmh 须为正数，detour 不小于 1")
        _unique([d.id for d in self.departments], "部门")
        _unique([e.id for e in self.enterprises], "企业")
        _unique([i.id for i in self.inspectors], "检查人员")
        _unique([t.id for t in self.tasks], "任务")
        departments = {d.id for d in self.departments}
        enterprises = {e.id for e in self.enterprises}
        inspectors = {i.id for i in self.inspectors}
        for inspector in self.inspectors:
            if inspector.department not in departments:
                raise ValueError(f"检查人员 {inspector.id}：部门「{inspector.department}」不存在")
            for other in inspector.also_for:
                if other not in departments:
                    raise ValueError(f"检查人员 {inspector.id}：also_for 中的部门「{other}」不存在")
        for task in self.tasks:
            if task.enterprise not in enterprises:
                raise ValueError(f"任务 {task.id}：企业「{task.enterprise}」不存在")
            if task.department not in departments:
                raise ValueError(f"任务 {task.id}：部门「{task.department}」不存在")
        for conflict in self.conflicts:
            if conflict.inspector not in inspectors or conflict.enterprise not in enterprises:
                raise ValueError(
                    f"回避关系 ({conflict.inspector}, {conflict.enterprise})：人员或企业不存在"
                )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Instance:
        """Build from the contract's dict; ValueError (Chinese, with ids) on bad input."""
        return cls._from_json(data, consume=False)

    @classmethod
    def _from_json(cls, data: Mapping[str, Any], *, consume: bool) -> Instance:
        """`from_json`; with `consume`, each raw JSON object is dropped once converted."""
        if not isinstance(data, Mapping):
            raise ValueError("实例：顶层应为 JSON 对象")
        schema = data.get("schema")
        if schema not in INSTANCE_SCHEMAS:
            raise ValueError(
                f"实例：schema 应为「{'」或「'.join(INSTANCE_SCHEMAS)}」，实际为「{schema}」"
            )
        day = data.get("day", {"start": "09:00", "end": "17:30"})
        travel = data.get("travel", {})
        if not isinstance(day, Mapping) or not isinstance(travel, Mapping):
            raise ValueError("实例：day 与 travel 应为 JSON 对象")

        def items(key: str) -> list[Any]:
            value = data.get(key, [])
            if not isinstance(value, list):
                raise ValueError(f"实例：{key} 应为数组")
            return value

        def convert(key: str, build: Any) -> tuple[Any, ...]:
            raw = items(key)
            out = []
            for k, entry in enumerate(raw):
                out.append(build(entry))
                if consume:
                    raw[k] = None
            return tuple(out)

        return cls(
            name=str(data.get("name", "")),
            workdays=_str_list(_require(data, "workdays", "实例"), "workdays"),
            day_start=parse_clock(day.get("start", "09:00"), "day.start"),
            day_end=parse_clock(day.get("end", "17:30"), "day.end"),
            speed_kmh=_number(travel.get("speed_kmh", 25.0), "travel.speed_kmh"),
            detour=_number(travel.get("detour", 1.3), "travel.detour"),
            policy=Policy.from_json(data.get("policy", {})),
            departments=convert("departments", Department.from_json),
            enterprises=convert("enterprises", Enterprise.from_json),
            inspectors=convert("inspectors", Inspector.from_json),
            conflicts=convert("conflicts", Conflict.from_json),
            tasks=convert("tasks", Task.from_json),
            seed=str(data.get("seed", "")),
            adjacent_districts=_adjacency(data.get("adjacent_districts", {})),
        )

    def to_json(self) -> dict[str, Any]:
        """The contract's instance dict."""
        return {
            "schema": INSTANCE_SCHEMA,
            "name": self.name,
            "workdays": list(self.workdays),
            "day": {"start": format_clock(self.day_start), "end": format_clock(self.day_end)},
            "travel": {"speed_kmh": self.speed_kmh, "detour": self.detour},
            "policy": self.policy.to_json(),
            "departments": [d.to_json() for d in self.departments],
            "enterprises": [e.to_json() for e in self.enterprises],
            "inspectors": [i.to_json() for i in self.inspectors],
            "conflicts": [c.to_json() for c in self.conflicts],
            "tasks": [t.to_json() for t in self.tasks],
            "seed": self.seed,
            **(
                {"adjacent_districts": {k: list(v) for k, v in self.adjacent_districts.items()}}
                if self.adjacent_districts
                else {}
            ),
        }


def _adjacency(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise ValueError("实例：adjacent_districts 应为对象（区县 → 相邻区县数组）")
    return {str(k): _str_list(v, f"adjacent_districts.{k}") for k, v in sorted(value.items())}


def read_instance(path: str | Path) -> Instance:
    """Load an instance file (INTERCHANGE.md); ValueError (Chinese) on bad input.

    The raw JSON objects are let go one by one as they are converted, so a province-sized
    file (a million tasks) needs little more than the memory of the instance itself.
    """
    data = json.loads(Path(path).read_bytes())
    return Instance._from_json(data, consume=True)


@dataclass(frozen=True, slots=True)
class Visit:
    """One entry into one enterprise on one day by a (possibly joint) team (联合检查)."""

    id: str
    enterprise: str
    day: str
    start: int
    end: int
    lead: str
    tasks: tuple[str, ...]
    inspectors: tuple[str, ...]

    def __post_init__(self) -> None:
        check_date(self.day, f"检查 {self.id} day")
        if self.start >= self.end:
            raise ValueError(f"检查 {self.id}：开始时间须早于结束时间")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Visit:
        vid = _require(data, "id", "检查")
        what = f"检查 {vid}"
        return cls(
            id=vid,
            enterprise=str(_require(data, "enterprise", what)),
            day=_require(data, "day", what),
            start=parse_clock(_require(data, "start", what), f"{what} start"),
            end=parse_clock(_require(data, "end", what), f"{what} end"),
            lead=str(data.get("lead", "")),
            tasks=_str_list(_require(data, "tasks", what), f"{what} tasks"),
            inspectors=_str_list(_require(data, "inspectors", what), f"{what} inspectors"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "enterprise": self.enterprise,
            "day": self.day,
            "start": format_clock(self.start),
            "end": format_clock(self.end),
            "lead": self.lead,
            "tasks": list(self.tasks),
            "inspectors": list(self.inspectors),
        }


@dataclass(frozen=True, slots=True)
class Unscheduled:
    """A task left out, with the reason a coordinator reads and a machine `code`."""

    task: str
    reason: str
    code: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Unscheduled:
        return cls(
            task=str(_require(data, "task", "未排任务")),
            reason=str(data.get("reason", "")),
            code=str(data.get("code", "")),
        )

    def to_json(self) -> dict[str, str]:
        out = {"task": self.task, "reason": self.reason}
        if self.code:
            out["code"] = self.code
        return out


@dataclass(frozen=True)
class Schedule:
    """The optimizer's answer: visits, tasks left out with reasons, and metrics."""

    instance: str
    visits: tuple[Visit, ...]
    unscheduled: tuple[Unscheduled, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Schedule:
        """Build from the contract's dict; ValueError (Chinese) on bad input."""
        if not isinstance(data, Mapping):
            raise ValueError("排程：顶层应为 JSON 对象")
        schema = data.get("schema")
        if schema not in SCHEDULE_SCHEMAS:
            raise ValueError(
                f"排程：schema 应为「{'」或「'.join(SCHEDULE_SCHEMAS)}」，实际为「{schema}」"
            )
        visits = data.get("visits", [])
        unscheduled = data.get("unscheduled", [])
        if not isinstance(visits, list) or not isinstance(unscheduled, list):
            raise ValueError("排程：visits 与 unscheduled 应为数组")
        metrics = data.get("metrics", {})
        return cls(
            instance=str(data.get("instance", "")),
            visits=tuple(Visit.from_json(v) for v in visits),
            unscheduled=tuple(Unscheduled.from_json(u) for u in unscheduled),
            metrics=dict(metrics) if isinstance(metrics, Mapping) else {},
        )

    def to_json(self) -> dict[str, Any]:
        """The contract's schedule dict."""
        return {
            "schema": SCHEDULE_SCHEMA,
            "instance": self.instance,
            "visits": [v.to_json() for v in self.visits],
            "unscheduled": [u.to_json() for u in self.unscheduled],
            "metrics": dict(self.metrics),
        }
