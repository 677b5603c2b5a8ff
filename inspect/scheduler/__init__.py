"""The "check once" optimizer — a pure library: dataclasses in, a schedule out.

No database or web import lives here; services translate between the database and it.

- `model`     Instance / Schedule dataclasses of the interchange format (INTERCHANGE.md, v2)
- `verify`    independent verifier: every contract rule by name, plus the metrics
- `bounds`    lb_visits (exact interval stabbing), inspector-minutes bound, status-quo count
- `solve`     the decomposed solver: merge → calendar (min-cost flow) → draw → repair → route
- `pieces`    small exact CP-SAT models for enterprises where a frequency cap binds
- `team`      inspectors by draw: HMAC-SHA256(seed, visit|inspector) ranking
- `routing`   travel model, day timelines, OR-Tools day tours
- `baselines` status quo (departments alone) and greedy merge
- `generate`  seeded Xi'an instance generator (sizes T, S, M, L, XL)
- `bench`     side-by-side measurement used by the CLI and benchmarks/
"""
