"""Travel, timelines and OR-Tools day tours."""

from __future__ import annotations

import itertools

from checkonce.scheduler.routing import DayTimeline, Travel, intersect, order_route
from checkonce.scheduler.verify import great_circle_km

TRAVEL = Travel(speed_kmh=25.0, detour=1.3)
HOME = (34.26, 108.94)
# Three stops on a line east of home, listed out of order.
EAST = [(34.26, 109.00), (34.26, 108.96), (34.26, 108.98)]


def test_travel_rounds_up_and_matches_the_contract():
    km = great_circle_km(*HOME, *EAST[0]) * 1.3
    assert abs(TRAVEL.km(HOME, EAST[0]) - km) < 1e-9
    assert TRAVEL.minutes(HOME, EAST[0]) >= km / 25.0 * 60.0
    assert TRAVEL.minutes(HOME, EAST[0]) - km / 25.0 * 60.0 < 1
    assert TRAVEL.minutes(HOME, HOME) == 0


def test_timeline_gaps_respect_travel_and_budget():
    day = DayTimeline(HOME, 540, 1050, 480, TRAVEL)
    leg = TRAVEL.minutes(HOME, EAST[0])
    assert day.feasible_starts(EAST[0], 60) == [(540 + leg, 1050 - leg - 60)]
    day.insert(600, 660, EAST[0])
    gaps = day.feasible_starts(EAST[1], 60)
    back = TRAVEL.minutes(EAST[0], EAST[1])
    assert gaps[-1][0] == 660 + back  # after the first visit, with the drive between
    assert DayTimeline(HOME, 540, 1050, 100, TRAVEL).feasible_starts(EAST[0], 90) == []


def test_intersect():
    assert intersect([(0, 10), (20, 30)], [(5, 25)]) == [(5, 10), (20, 25)]
    assert intersect([(0, 1)], [(2, 3)]) == []


def test_order_route_finds_the_line_order_within_windows():
    stops = [(p, 30, 540, 1000) for p in EAST]
    tour = order_route(HOME, stops, day_start=540, day_end=1050, travel=TRAVEL)
    assert tour is not None
    assert [j for j, _start in tour] == [1, 2, 0]  # west to east, no zig-zag
    starts = [start for _j, start in tour]
    assert starts == sorted(starts)
    for (a, sa), (b, sb) in itertools.pairwise(tour):
        assert sb >= sa + 30 + TRAVEL.minutes(EAST[a], EAST[b])


def test_order_route_obeys_time_windows():
    # The near stop opens late and the others close early: it must come last, although
    # driving east and back west is longer than the straight line.
    stops = [(EAST[0], 30, 540, 700), (EAST[1], 30, 900, 1000), (EAST[2], 30, 540, 700)]
    tour = order_route(HOME, stops, day_start=540, day_end=1050, travel=TRAVEL)
    assert tour is not None and tour[-1][0] == 1 and tour[-1][1] >= 900
    assert (
        order_route(HOME, [(EAST[0], 600, 540, 1000)], day_start=540, day_end=1050, travel=TRAVEL)
        is None
    )
