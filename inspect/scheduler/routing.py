"""Inspectors' days as timelines with travel, and day routes ordered by OR-Tools routing.

Travel between two places is the great-circle distance × detour at the instance's speed,
rounded *up* to whole minutes here so that a timeline built with these numbers always
passes the verifier (which uses the exact real-valued time).

`DayTimeline` is one inspector's day: visits with fixed start/end at fixed places. Joint
teams meet at the enterprise because every member of a visit gets the same start/end; the
team draw asks each drawn inspector's timeline for the start times that still fit
(`feasible_starts`) and intersects them. `order_route` orders a set of stops for one team
with OR-Tools routing under time windows (opening hours ∩ working day); the status-quo
baseline uses it for departmental day tours.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

EARTH_RADIUS_KM = 6371.0088

Point = tuple[float, float]


def haversine_km(a: Point, b: Point) -> float:
    """Great-circle distance between (lat, lon) points in kilometres."""
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Travel:
    """Road model of the contract: km = great-circle × detour; minutes = km / speed."""

    speed_kmh: float = 25.0
    detour: float = 1.3
    # Timelines ask for the same legs again and again (home → enterprise for every
    # candidate of the draw); remembering them halves the draw's time at scale.
    _memo: dict[tuple[Point, Point], int] = field(default_factory=dict, compare=False, repr=False)

    def km(self, a: Point, b: Point) -> float:
        """Road kilometres between two points."""
        return haversine_km(a, b) * self.detour

    def minutes(self, a: Point, b: Point) -> int:
        """Travel minutes, rounded up so planned gaps are never short."""
        key = (a, b)
        found = self._memo.get(key)
        if found is None:
            found = 0 if a == b else math.ceil(self.km(a, b) / self.speed_kmh * 60.0 - 1e-9)
            if len(self._memo) < 4_000_000:
                self._memo[key] = found
        return found


@dataclass
class DayTimeline:
    """One inspector's working day: home, working-day bounds, budget and the visits so far."""

    home: Point
    day_start: int
    day_end: int
    budget: int
    travel: Travel
    stops: list[tuple[int, int, Point]] = field(default_factory=list)
    used: int = 0  # minutes on site + every travel leg, home legs included

    def feasible_starts(self, place: Point, duration: int) -> list[tuple[int, int]]:
        """Start-time intervals [lo, hi] where a visit at `place` still fits this day.

        Each gap between existing visits (or home) gives at most one interval; a gap is
        dropped when the extra travel would push the day's total beyond the budget.
        """
        t = self.travel.minutes
        out: list[tuple[int, int]] = []
        prev_end, prev_place = self.day_start, self.home
        for k in range(len(self.stops) + 1):
            if k < len(self.stops):
                next_start, _next_end, next_place = self.stops[k]
                limit = next_start
            else:
                next_place, limit = self.home, self.day_end
            leg_in, leg_out = t(prev_place, place), t(place, next_place)
            # The new visit replaces the leg prev→next (home legs included) by
            # prev→place→next; an empty day has no leg to replace.
            replaced = t(prev_place, next_place) if self.stops else 0
            extra = duration + leg_in + leg_out - replaced
            lo, hi = prev_end + leg_in, limit - leg_out - duration
            if lo <= hi and self.used + extra <= self.budget:
                out.append((lo, hi))
            if k < len(self.stops):
                prev_end, prev_place = self.stops[k][1], self.stops[k][2]
        return out

    def insert(self, start: int, end: int, place: Point) -> None:
        """Add a visit at a start time `feasible_starts` allowed."""
        stops = [*self.stops, (start, end, place)]
        stops.sort(key=lambda s: (s[0], s[1]))
        self.stops = stops
        self.used = self._total()

    def _total(self) -> int:
        t = self.travel.minutes
        if not self.stops:
            return 0
        places = [self.home, *(s[2] for s in self.stops), self.home]
        return sum(s[1] - s[0] for s in self.stops) + sum(
            t(a, b) for a, b in itertools.pairwise(places)
        )

    def travel_km(self) -> float:
        """Kilometres driven this day, home to home."""
        if not self.stops:
            return 0.0
        places = [self.home, *(s[2] for s in self.stops), self.home]
        return sum(self.travel.km(a, b) for a, b in itertools.pairwise(places))


def intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intersection of two sorted lists of closed integer intervals."""
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def order_route(
    home: Point,
    stops: list[tuple[Point, int, int, int]],
    *,
    day_start: int,
    day_end: int,
    travel: Travel,
    time_limit_ms: int = 200,
) -> list[tuple[int, int]] | None:
    """Order one team's stops into a day tour with OR-Tools routing under time windows.

    `stops` are (place, duration, earliest start, latest start). Returns, per stop in the
    tour's order, (stop index, start minute); None when no tour fits the working day.
    Waiting is allowed; the objective is travel time.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    if not stops:
        return []
    places = [home, *(s[0] for s in stops)]
    durations = [0, *(s[1] for s in stops)]
    n = len(places)
    matrix = [[travel.minutes(places[i], places[j]) for j in range(n)] for i in range(n)]
    manager = pywrapcp.RoutingIndexManager(n, 1, 0)
    routing = pywrapcp.RoutingModel(manager)

    def transit(i: int, j: int) -> int:
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        return matrix[a][b] + durations[a]

    def travel_only(i: int, j: int) -> int:
        return matrix[manager.IndexToNode(i)][manager.IndexToNode(j)]

    time_cb = routing.RegisterTransitCallback(transit)
    cost_cb = routing.RegisterTransitCallback(travel_only)
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    routing.AddDimension(time_cb, day_end - day_start, day_end, False, "time")
    time = routing.GetDimensionOrDie("time")
    for k, (_place, _duration, earliest, latest) in enumerate(stops, start=1):
        time.CumulVar(manager.NodeToIndex(k)).SetRange(earliest, latest)
    time.CumulVar(routing.Start(0)).SetRange(day_start, day_end)
    time.CumulVar(routing.End(0)).SetRange(day_start, day_end)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.time_limit.FromMilliseconds(time_limit_ms)
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return None
    out: list[tuple[int, int]] = []
    index = routing.Start(0)
    while not routing.IsEnd(index):
        node = manager.IndexToNode(index)
        if node:
            out.append((node - 1, solution.Min(time.CumulVar(index))))
        index = solution.Value(routing.NextVar(index))
    return out
