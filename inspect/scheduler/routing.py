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
# Legs remembered by `Travel.minutes` (about 130 bytes each).
MEMO_LEGS = 1_000_000


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
            if len(self._memo) >= MEMO_LEGS:
                # Forget everything rather than stop learning: the draw moves through the
                # year day by day, so recent legs are the ones asked again.
                self._memo.clear()
            self._memo[key] = found
        return found


@dataclass(slots=True)
class DayTimeline:
    """One inspector's working day: home, working-day bounds, budget and the visits so far."""

    home: Point
    day_start: int
    day_end: int
    budget: int
    travel: Travel
    stops: list[tuple[int, int, Point]] = field(default_factory=list)
    used: int = 0  # minutes on site + every travel leg, home legs included
    # Travel minutes home → first stop → … → last stop → home, kept by `insert`.
    legs: list[int] = field(default_factory=list)

    def feasible_starts(
        self, place: Point, duration: int, window: list[tuple[int, int]] | None = None
    ) -> list[tuple[int, int]]:
        """Start-time intervals [lo, hi] where a visit at `place` still fits this day.

        Each gap between existing visits (or home) gives at most one interval; a gap is
        dropped when the extra travel would push the day's total beyond the budget.
        With `window` (sorted start intervals the caller will intersect with), gaps that
        cannot meet it are skipped before any travel time is looked up.
        """
        if self.used + duration > self.budget:
            return []  # the travel added by a visit is never negative
        t = self.travel.minutes
        stops = self.stops
        legs = self.legs if len(self.legs) == len(stops) + 1 else None
        first, last = (window[0][0], window[-1][1]) if window else (-(10**9), 10**9)
        out: list[tuple[int, int]] = []
        prev_end, prev_place = self.day_start, self.home
        for k in range(len(stops) + 1):
            if k < len(stops):
                next_start, _next_end, next_place = stops[k]
                limit = next_start
            else:
                next_place, limit = self.home, self.day_end
            # Without travel the gap allows starts in [prev_end, limit - duration].
            if prev_end <= limit - duration and prev_end <= last and limit - duration >= first:
                leg_in, leg_out = t(prev_place, place), t(place, next_place)
                # The new visit replaces the leg prev→next (home legs included) by
                # prev→place→next; an empty day has no leg to replace.
                if not stops:
                    replaced = 0
                elif legs is not None:
                    replaced = legs[k]
                else:
                    replaced = t(prev_place, next_place)
                extra = duration + leg_in + leg_out - replaced
                lo, hi = prev_end + leg_in, limit - leg_out - duration
                if lo <= hi and self.used + extra <= self.budget:
                    out.append((lo, hi))
            if k < len(stops):
                prev_end, prev_place = stops[k][1], stops[k][2]
        return out

    def insert(self, start: int, end: int, place: Point) -> None:
        """Add a visit at a start time `feasible_starts` allowed."""
        stops = [*self.stops, (start, end, place)]
        stops.sort(key=lambda s: (s[0], s[1]))
        self.stops = stops
        t = self.travel.minutes
        places = [self.home, *(s[2] for s in stops), self.home]
        self.legs = [t(a, b) for a, b in itertools.pairwise(places)]
        self.used = sum(s[1] - s[0] for s in stops) + sum(self.legs)

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
    homes: Point | list[Point],
    stops: list[tuple[Point, int, int, int]],
    *,
    day_start: int,
    day_end: int,
    travel: Travel,
    time_limit_ms: int = 200,
    solution_limit: int = 1,
) -> list[tuple[int, int]] | None:
    """Order one team's stops into a day tour with OR-Tools routing under time windows.

    `homes` is the team members' starting point(s): a leg from or to home takes the
    longest of the members' legs, so everyone is on site at each start. `stops` are
    (place, duration, earliest start, latest start). Returns, per stop in the tour's order,
    (stop index, start minute); None when no tour fits the working day. Waiting is
    allowed; the objective is travel time.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    if not stops:
        return []
    home_list = [homes] if isinstance(homes, tuple) else list(homes)
    places = [home_list[0], *(s[0] for s in stops)]
    durations = [0, *(s[1] for s in stops)]
    n = len(places)
    matrix = [[travel.minutes(places[i], places[j]) for j in range(n)] for i in range(n)]
    for j in range(1, n):
        matrix[0][j] = max(travel.minutes(h, places[j]) for h in home_list)
        matrix[j][0] = max(travel.minutes(places[j], h) for h in home_list)
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
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    # A solution count, not the clock, ends the search: same input, same tour. The time
    # limit only guards against pathological cases.
    params.solution_limit = solution_limit
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


def _components(visits: list) -> list[tuple[str, list[int]]]:
    """Per day, the groups of visits linked by shared inspectors (union-find)."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(x: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for v in visits:
        first = ("v", v.id)
        for iid in v.inspectors:
            a, b = find(first), find((iid, v.day))
            if a != b:
                parent[b] = a
    groups: dict[tuple[str, str], list[int]] = {}
    for k, v in enumerate(visits):
        groups.setdefault(find(("v", v.id)), []).append(k)
    return sorted((visits[ks[0]].day, ks) for ks in groups.values())


# Up to this many linked visits every order is tried (6! = 720, pruned as soon as a
# start falls outside its window); beyond, OR-Tools routing.
BRUTE_FORCE_STOPS = 6


def _best_permutation(
    homes: list[Point],
    stops: list[tuple[Point, int, int, int]],
    day_start: int,
    day_end: int,
    travel: Travel,
) -> list[tuple[int, int]] | None:
    """Shortest feasible order of a few stops (home legs included), each started early."""
    n = len(stops)
    leg = [[travel.minutes(a[0], b[0]) for b in stops] for a in stops]
    out_leg = [max(travel.minutes(h, s[0]) for h in homes) for s in stops]
    in_leg = [max(travel.minutes(s[0], h) for h in homes) for s in stops]
    best_cost, best = None, None
    for order in itertools.permutations(range(n)):
        j = order[0]
        clock = max(stops[j][2], day_start + out_leg[j])
        cost = out_leg[j]
        timed = []
        for step, j in enumerate(order):
            if step:
                prev = order[step - 1]
                cost += leg[prev][j]
                clock = max(stops[j][2], clock + leg[prev][j])
            if clock > stops[j][3] or (best_cost is not None and cost >= best_cost):
                break
            timed.append((j, clock))
            clock += stops[j][1]
        else:
            last = order[-1]
            cost += in_leg[last]
            if clock + in_leg[last] <= day_end and (best_cost is None or cost < best_cost):
                best_cost, best = cost, timed
    return best


def resequence_crews(
    visits: list,
    *,
    homes: dict[str, Point],
    places: dict[str, Point],
    windows: dict[str, tuple[int, int]],
    budgets: dict[str, int],
    day_start: int,
    day_end: int,
    travel: Travel,
    max_stops: int = 12,
) -> tuple[list, int]:
    """Re-order linked visits of a day with OR-Tools routing; returns (visits, groups improved).

    Visits of one day linked by shared inspectors (joint teams) form a group nobody
    outside it depends on, so it can be re-ordered and re-timed as one tour: every member
    keeps the tour's order, and every visit keeps one start and end for its whole team.
    A new tour is kept only when every member's day still fits (travel between their own
    consecutive visits, home legs, working day, budget) and the members drive fewer
    kilometres in total. `windows` gives each enterprise's opening hours.
    """
    from dataclasses import replace

    out = list(visits)
    improved = 0
    for _day, ks in _components(visits):
        if not 2 <= len(ks) <= max_stops:
            continue
        members = sorted({i for k in ks for i in visits[k].inspectors})
        stops = []
        for k in ks:
            v = visits[k]
            opening = windows[v.enterprise]
            duration = v.end - v.start
            lo, hi = max(day_start, opening[0]), min(day_end, opening[1]) - duration
            stops.append((places[v.enterprise], duration, lo, hi))
        if sum(stop[1] for stop in stops) > day_end - day_start:
            continue  # members work in parallel here: no single tour exists
        member_homes = [homes[i] for i in members]
        if len(ks) <= BRUTE_FORCE_STOPS:
            tour = _best_permutation(member_homes, stops, day_start, day_end, travel)
        elif any(set(visits[k].inspectors) != set(members) for k in ks):
            # Big groups where members attend different visits work in parallel: one
            # tour is the wrong model. A crew that stays together all day is one tour.
            continue
        else:
            tour = order_route(
                member_homes,
                stops,
                day_start=day_start,
                day_end=day_end,
                travel=travel,
            )
        if tour is None:
            continue
        new_start = dict(tour)
        before = after = 0.0
        fits = True
        for iid in members:
            mine = [j for j, k in enumerate(ks) if iid in visits[k].inspectors]
            old_plan = sorted((visits[ks[j]].start, visits[ks[j]].end, stops[j][0]) for j in mine)
            new_plan = sorted((new_start[j], new_start[j] + stops[j][1], stops[j][0]) for j in mine)
            before += DayTimeline(homes[iid], day_start, day_end, 0, travel, old_plan).travel_km()
            line = DayTimeline(homes[iid], day_start, day_end, budgets[iid], travel, new_plan)
            after += line.travel_km()
            first, last = new_plan[0], new_plan[-1]
            if (
                line._total() > budgets[iid]
                or first[0] - travel.minutes(homes[iid], first[2]) < day_start
                or last[1] + travel.minutes(last[2], homes[iid]) > day_end
                or any(
                    b[0] < a[1] + travel.minutes(a[2], b[2])
                    for a, b in itertools.pairwise(new_plan)
                )
            ):
                fits = False
                break
        if fits and after < before - 1e-6:
            for j, start in tour:
                k = ks[j]
                out[k] = replace(visits[k], start=start, end=start + stops[j][1])
            improved += 1
    return out, improved


def schedule_travel_km(
    visits: list, *, homes: dict[str, Point], places: dict[str, Point], travel: Travel
) -> float:
    """Kilometres all inspectors drive, each day home → visits by start time → home."""
    days: dict[tuple[str, str], list[tuple[int, Point]]] = {}
    for v in visits:
        for iid in v.inspectors:
            days.setdefault((iid, v.day), []).append((v.start, places[v.enterprise]))
    total = 0.0
    for (iid, _day), stops in days.items():
        stops.sort(key=lambda s: s[0])
        route = [homes[iid], *(p for _s, p in stops), homes[iid]]
        total += sum(travel.km(a, b) for a, b in itertools.pairwise(route))
    return total
