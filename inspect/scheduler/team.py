"""Inspectors by draw: who goes on a visit is ranked by a keyed hash, never chosen.

The optimizer decides the day and how many inspectors of each department a visit needs;
`rank_inspectors` orders the eligible inspectors by HMAC-SHA256(seed, "<visit id>|<inspector
id>") and `Staffer.staff` takes them in that order, skipping only those a hard rule excludes
(certificate not valid that day, unavailable, declared conflict 回避, no room left in the
day's timeline). Anyone can recompute the order from the published seed.

Order of the tiers, each ranked by the hash: inspectors of the enterprise's district (属地)
who were not on the enterprise's last visit, then those of the districts bordering it (when
the instance gives `adjacent_districts`), then the rest of the department not on the last
visit, then the last visit's inspectors (rotation: only when nobody else is eligible).
An inspector certified for other departments' items (`also_for`) is in their tiers too. A
tier of more than LARGE_POOL inspectors (a province's city branch holds hundreds) is taken in
the order of `keyed_order`, a shuffle keyed the same way that is computed only as far as the
draw looks: every inspector of the tier is still equally likely at every place, and a visit
no longer hashes the whole branch.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

from checkonce.scheduler.model import Enterprise, Inspector, Instance
from checkonce.scheduler.routing import DayTimeline, Point, Travel, intersect


def draw_key(seed: str, visit_id: str, inspector_id: str) -> bytes:
    """HMAC-SHA256 keyed by the draw seed (UTF-8) over "<visit id>|<inspector id>"."""
    return hmac.digest(seed.encode("utf-8"), f"{visit_id}|{inspector_id}".encode(), "sha256")


def rank_inspectors(seed: str, visit_id: str, inspector_ids: Iterable[str]) -> list[str]:
    """Inspector ids in draw order for one visit (smallest hash first)."""
    return _Ranker(seed).rank(visit_id, inspector_ids)


class _Ranker:
    """`rank_inspectors` made cheap enough for millions of keys.

    HMAC(k, m) = H((k ⊕ opad) ‖ H((k ⊕ ipad) ‖ m)); the inner hash state after the
    "<visit id>|" prefix is computed once per visit and copied per inspector.
    """

    def __init__(self, seed: str) -> None:
        key = seed.encode("utf-8")
        block = hashlib.sha256().block_size
        if len(key) > block:
            key = hashlib.sha256(key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
        self._encoded: dict[str, bytes] = {}

    def rank(self, visit_id: str, inspector_ids: Iterable[str]) -> list[str]:
        prefix = self._inner.copy()
        prefix.update(f"{visit_id}|".encode())
        outer = self._outer
        encoded = self._encoded
        keyed: list[tuple[bytes, str]] = []
        # One loop with no call per inspector: at a province's scale the draw hashes
        # hundreds of millions of pairs and the per-call overhead was most of its cost.
        for iid in inspector_ids:
            raw = encoded.get(iid)
            if raw is None:
                raw = encoded[iid] = iid.encode()
            inner = prefix.copy()
            inner.update(raw)
            mac = outer.copy()
            mac.update(inner.digest())
            keyed.append((mac.digest(), iid))
        keyed.sort()
        return [iid for _mac, iid in keyed]


# A tier of more inspectors than this is taken in `keyed_order` instead of hashing each one.
LARGE_POOL = 64


def keyed_order(seed: str, visit_id: str, pool: list[str]) -> Iterator[str]:
    """`pool` (sorted by inspector id) in the random order the seed fixes for this visit,
    produced lazily: a Fisher–Yates shuffle whose step j swaps place j with place
    j + HMAC-SHA256(seed, "<visit id>#<j>") mod (n − j), the digest read as a big-endian
    integer. Every inspector is equally likely at every place (the modulo bias is below
    2^-240), anyone can recompute the order from the published seed, and a visit hashes only
    the places it looks at."""
    items = list(pool)
    key = seed.encode("utf-8")
    n = len(items)
    for j in range(n):
        digest = hmac.digest(key, f"{visit_id}#{j}".encode(), "sha256")
        k = j + int.from_bytes(digest, "big") % (n - j)
        items[j], items[k] = items[k], items[j]
        yield items[j]


def nearest_district(point: Point, centres: dict[str, Point]) -> str | None:
    """District whose centre is closest (planar is enough for picking a home district)."""
    best, best_d = None, float("inf")
    for district, (lat, lon) in centres.items():
        d = (lat - point[0]) ** 2 + (lon - point[1]) ** 2
        if d < best_d:
            best, best_d = district, d
    return best


class Staffer:
    """Holds every inspector's day timeline and staffs visits by the draw."""

    def __init__(self, instance: Instance, travel: Travel | None = None) -> None:
        self.instance = instance
        self.travel = travel or Travel(instance.speed_kmh, instance.detour)
        self.seed = instance.seed
        self.ranker = _Ranker(instance.seed)
        self.enterprises: dict[str, Enterprise] = {e.id: e for e in instance.enterprises}
        self.inspectors: dict[str, Inspector] = {i.id: i for i in instance.inspectors}
        self.conflicts = {(c.inspector, c.enterprise) for c in instance.conflicts}
        # One tuple per place, so the travel memo hashes the same objects again and again.
        self.places: dict[str, Point] = {e.id: (e.lat, e.lon) for e in instance.enterprises}
        self.homes: dict[str, Point] = {i.id: (i.lat, i.lon) for i in instance.inspectors}
        centres: dict[str, list[Point]] = defaultdict(list)
        for ent in instance.enterprises:
            centres[ent.district].append((ent.lat, ent.lon))
        centre = {
            d: (sum(p[0] for p in ps) / len(ps), sum(p[1] for p in ps) / len(ps))
            for d, ps in centres.items()
        }
        self.home_district: dict[str, str | None] = {}
        self.by_department: dict[str, list[str]] = defaultdict(list)
        self.local: dict[tuple[str, str | None], list[str]] = defaultdict(list)
        for person in instance.inspectors:
            district = person.district or nearest_district((person.lat, person.lon), centre)
            self.home_district[person.id] = district
            # An inspector certified for other departments' items (综合执法, `also_for`) is
            # in each of their pools too.
            for department in (person.department, *person.also_for):
                self.by_department[department].append(person.id)
                self.local[(department, district)].append(person.id)
        self.timelines: dict[tuple[str, str], DayTimeline] = {}
        self.pending: dict[tuple[str, str], list[tuple[int, int, Point]]] = defaultdict(list)
        self._remote_of: dict[tuple[str, str | None], list[str]] = {}
        self._adjacent_of: dict[tuple[str, str | None], list[str]] = {}
        self._sorted_pools: dict[str, list[str]] = {}
        self._working_on: dict[str, tuple[str, list[str]]] = {}
        self.conflicted = {c.enterprise for c in instance.conflicts}
        self.last: dict[str, set[str]] = {
            e.id: set(e.last_inspectors) for e in instance.enterprises
        }

    def _eligible(
        self, inspector_ids: list[str], enterprise_id: str, day: str, duration: int
    ) -> list[str]:
        """The inspectors a hard rule does not already exclude: certified and available
        that day, no conflict with the enterprise, and not so busy that the visit alone
        would exceed their day. Only these are ranked: at a province's scale hashing a
        whole branch for every visit was most of the solve, and the ones left out here
        would be skipped after ranking anyway, so the team drawn is the same.
        """
        out: list[str] = []
        inspectors, timelines, conflicts = self.inspectors, self.timelines, self.conflicts
        for iid in inspector_ids:
            person = inspectors[iid]
            if day in person.unavailable or not (
                person.certificate_valid[0] <= day <= person.certificate_valid[1]
            ):
                continue
            if (iid, enterprise_id) in conflicts:
                continue
            timeline = timelines.get((iid, day))
            if timeline is not None and timeline.used + duration > timeline.budget:
                continue
            out.append(iid)
        return out

    def _candidates(
        self,
        visit_id: str,
        department: str,
        enterprise: Enterprise,
        day: str,
        duration: int,
        local_only: bool = False,
    ) -> Iterable[str]:
        district = enterprise.district
        last = self.last.get(enterprise.id, set())

        def drawn(pool: list[str], name: str) -> Iterable[str]:
            if len(pool) <= LARGE_POOL:
                working = self._working(name, pool, day)
                eligible = self._not_excluded(working, enterprise.id, day, duration)
                yield from (i for i in self.ranker.rank(visit_id, eligible) if i not in last)
                return
            # A large tier: its keyed order, passing over whoever a hard rule excludes.
            inspectors = self.inspectors
            for iid in keyed_order(self.seed, visit_id, self._sorted_pool(name, pool)):
                if iid in last or not inspectors[iid].works_on(day):
                    continue
                if self._not_excluded([iid], enterprise.id, day, duration):
                    yield iid

        local = self.local.get((department, district), [])
        yield from drawn(local, f"{department}|{district}|local")
        if local_only:
            return
        near = self._adjacent(department, district)
        yield from drawn(near, f"{department}|{district}|adjacent")
        remote = self._remote(department, district)
        yield from drawn(remote, f"{department}|{district}|remote")
        # Rotation: the last visit's inspectors only when nobody else could go.
        for pool in (local, near, remote):
            again = [i for i in pool if i in last]
            yield from self.ranker.rank(
                visit_id, self._eligible(again, enterprise.id, day, duration)
            )

    def _sorted_pool(self, name: str, pool: list[str]) -> list[str]:
        """A large tier sorted by inspector id, the order `keyed_order` starts from."""
        found = self._sorted_pools.get(name)
        if found is None:
            found = self._sorted_pools[name] = sorted(pool)
        return found

    def _working(self, name: str, pool: list[str], day: str) -> list[str]:
        """The tier's members certified and available that day (remembered for the day
        being drawn: a district's visits come day by day)."""
        found = self._working_on.get(name)
        if found is not None and found[0] == day:
            return found[1]
        working = [iid for iid in pool if self.inspectors[iid].works_on(day)]
        self._working_on[name] = (day, working)
        return working

    def _not_excluded(
        self, working: list[str], enterprise_id: str, day: str, duration: int
    ) -> list[str]:
        """`_eligible` for inspectors already known to work that day."""
        timelines = self.timelines
        check_conflicts = enterprise_id in self.conflicted
        out: list[str] = []
        for iid in working:
            if check_conflicts and (iid, enterprise_id) in self.conflicts:
                continue
            timeline = timelines.get((iid, day))
            if timeline is not None and timeline.used + duration > timeline.budget:
                continue
            out.append(iid)
        return out

    def _adjacent(self, department: str, district: str | None) -> list[str]:
        """The department's inspectors of the districts bordering `district`."""
        key = (department, district)
        found = self._adjacent_of.get(key)
        if found is None:
            neighbours = self.instance.adjacent_districts.get(district or "", ())
            found = [i for d in neighbours for i in self.local.get((department, d), [])]
            self._adjacent_of[key] = found
        return found

    def _remote(self, department: str, district: str | None) -> list[str]:
        """The department's inspectors of other, non-adjacent districts (computed once per
        branch)."""
        key = (department, district)
        found = self._remote_of.get(key)
        if found is None:
            near = set(self.local.get(key, [])) | set(self._adjacent(department, district))
            found = [i for i in self.by_department.get(department, []) if i not in near]
            self._remote_of[key] = found
        return found

    def add_pending(self, stops: Iterable[tuple[str, str, int, int, Point]]) -> None:
        """Visits (inspector, day, start, end, place) booked elsewhere, e.g. by a worker
        process; each day's timeline is rebuilt from them when first needed."""
        for iid, day, start, end, place in stops:
            self.pending[(iid, day)].append((start, end, place))

    def _timeline(self, key: tuple[str, str]) -> DayTimeline | None:
        timeline = self.timelines.get(key)
        if timeline is None and key in self.pending:
            person = self.inspectors[key[0]]
            timeline = self.timelines[key] = DayTimeline(
                home=self.homes[key[0]],
                day_start=self.instance.day_start,
                day_end=self.instance.day_end,
                budget=person.minutes_per_day,
                travel=self.travel,
            )
            for start, end, place in self.pending.pop(key):
                timeline.insert(start, end, place)
        return timeline

    def _starts(
        self,
        iid: str,
        day: str,
        place: Point,
        duration: int,
        window: list[tuple[int, int]] | None = None,
    ) -> list[tuple[int, int]]:
        timeline = self._timeline((iid, day))
        if timeline is not None:
            return timeline.feasible_starts(place, duration, window)
        # An empty day (the common case): out from home and back, nothing else to fit.
        person = self.inspectors[iid]
        leg = self.travel.minutes(self.homes[iid], place)
        lo, hi = self.instance.day_start + leg, self.instance.day_end - leg - duration
        if lo <= hi and duration + 2 * leg <= person.minutes_per_day:
            return [(lo, hi)]
        return []

    def stay(self, iid: str, shares: Mapping[str, int]) -> int:
        """Minutes an inspector is on site (rule 5): until the departments it serves in the
        visit are done — the largest of their shares — or the whole visit if it serves none."""
        person = self.inspectors[iid]
        own = shares.get(person.department, 0)
        for department in person.also_for:
            own = max(own, shares.get(department, 0))
        return own or max(shares.values())

    def staff(
        self,
        visit_id: str,
        enterprise_id: str,
        day: str,
        needs: dict[str, int],
        duration: int | Mapping[str, int],
        *,
        local_only: bool = False,
    ) -> tuple[int, list[str]] | str:
        """Draw a team for a visit and book it; returns (start, inspector ids) or a reason.

        `needs` maps department → inspectors required; `duration` is the visit's length, or
        each department's minutes (`dept_minutes`): the team arrives together and each
        member stays until the departments it serves are done. An inspector drawn for one
        department also counts for the others it serves (`also_for`). Nothing is booked on
        failure. `local_only` draws from the first tier alone: the district's inspectors
        who were not on the enterprise's last visit.
        """
        shares = dict.fromkeys(needs, duration) if isinstance(duration, int) else dict(duration)
        length = max(shares.values())
        ent = self.enterprises[enterprise_id]
        place = self.places[enterprise_id]
        lo = max(self.instance.day_start, ent.open[0])
        hi = min(self.instance.day_end, ent.open[1]) - length
        if lo > hi:
            return f"检查需 {length} 分钟，超过企业营业时间与工作时间的交集"
        window = [(lo, hi)]
        chosen: list[str] = []
        stays: dict[str, int] = {}

        def take(department: str, wanted: int) -> int:
            """Draw up to `wanted` more inspectors serving `department`; how many came."""
            nonlocal window
            got = 0
            own = shares.get(department, length)
            for iid in self._candidates(visit_id, department, ent, day, own, local_only):
                if iid in stays or (iid, enterprise_id) in self.conflicts:
                    continue
                if not self.inspectors[iid].works_on(day):
                    continue
                stay = self.stay(iid, shares)
                narrowed = intersect(window, self._starts(iid, day, place, stay, window))
                if narrowed:
                    window = narrowed
                    chosen.append(iid)
                    stays[iid] = stay
                    got += 1
                    if got == wanted:
                        break  # before the generator ranks the next tier
            return got

        for department in sorted(needs):
            wanted = needs[department]
            # An inspector already drawn who also serves this department counts for it.
            have = sum(1 for iid in chosen if self.inspectors[iid].serves(department))
            if have >= wanted:
                continue
            got = have + take(department, wanted - have)
            if got < wanted:
                return (
                    f"{day} {department} 无足够可用的持证执法人员（需 {wanted} 人，可派 {got} 人）"
                )
        # Inspectors counted for several departments can leave the team short of min_team:
        # the department with the most minutes draws the rest.
        short = self.instance.policy.min_team - len(chosen)
        if short > 0:
            lead = min(shares, key=lambda d: (-shares[d], d))
            if take(lead, short) < short:
                return f"{day} {lead} 无足够可用的持证执法人员凑足最少 {self.instance.policy.min_team} 人"
        start = window[0][0]
        for iid in chosen:
            key = (iid, day)
            if self._timeline(key) is None:
                person = self.inspectors[iid]
                self.timelines[key] = DayTimeline(
                    home=self.homes[iid],
                    day_start=self.instance.day_start,
                    day_end=self.instance.day_end,
                    budget=person.minutes_per_day,
                    travel=self.travel,
                )
            self.timelines[key].insert(start, start + stays[iid], place)
        self.last[enterprise_id] = set(chosen)
        return start, chosen

    def reseed(self, seed: str) -> None:
        """Use another draw seed (the instance's recorded one is the default)."""
        self.seed = seed
        self.ranker = _Ranker(seed)

    def travel_km(self) -> float:
        """Kilometres driven by all inspectors over all days so far."""
        for key in list(self.pending):
            self._timeline(key)
        return sum(t.travel_km() for t in self.timelines.values())
