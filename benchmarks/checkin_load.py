"""Check-in throughput on PostgreSQL: POST /api/v1/checkins against a real uvicorn server.

Builds a private schema in a PostgreSQL database (default: checkonce_bench on localhost),
fills it with enterprises, inspectors with accounts, and a published schedule with today's
joint visits, starts the API with uvicorn on 127.0.0.1 only, and fires a bounded number of
check-ins from client threads: planned check-ins, unplanned entries, and phone retries that
repeat an earlier idempotency key. Prints throughput and latency percentiles, then checks the
database holds exactly one check-in per key.

    .venv/bin/python benchmarks/checkin_load.py                      # defaults below
    .venv/bin/python benchmarks/checkin_load.py --requests 4000 --concurrency 32

The server and the schema are removed afterwards (--keep leaves the schema for inspection).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select, text

from checkonce.auth.models import User
from checkonce.auth.service import issue_token
from checkonce.config import packaged_data_dir
from checkonce.db import make_engine, normalize_url, session_scope
from checkonce.migrations import upgrade
from checkonce.plans.models import InspectionTask, Plan, PlanTask
from checkonce.registry.creditcode import make_credit_code
from checkonce.registry.models import CheckItem, Department, Enterprise, Inspector
from checkonce.registry.reference import load_reference
from checkonce.visits import codes
from checkonce.visits.checkin_models import CheckIn
from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector, VisitTask

SECRET = "benchmark-secret-" + "b" * 40
ZONE = ZoneInfo("Asia/Shanghai")
YANTA = (34.2197, 108.9640)


def schema_url(url: str, schema: str) -> str:
    url = normalize_url(url)
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(url: str, schema: str, firms: int, inspectors: int) -> tuple[list[dict], list[dict]]:
    """Schema, reference data, enterprises, inspectors with tokens, today's joint visits.

    Returns the enterprises (id, poster token, location, planned team) and the inspectors
    (id, bearer token)."""
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    target = schema_url(url, schema)
    upgrade(target)
    engine = make_engine(target)
    today = dt.datetime.now(ZONE).date()
    rng = random.Random(7)
    with session_scope(engine) as s:
        load_reference(s, packaged_data_dir())
        samr = s.scalars(select(Department).where(Department.code == "SAMR")).one()
        item = s.scalars(select(CheckItem).where(CheckItem.department_id == samr.id)).first()
        people = []
        for n in range(inspectors):
            person = Inspector(
                code=f"B{n:05d}",
                name=f"压测{n}",
                department_id=samr.id,
                certificate_no=f"陕执BENCH{n:06d}",
                certificate_valid_from=dt.date(2024, 1, 1),
                certificate_valid_to=dt.date(2030, 12, 31),
                home_district_adcode="610113",
                home_lat=YANTA[0],
                home_lon=YANTA[1],
            )
            s.add(person)
            people.append(person)
        s.flush()
        users = []
        for person in people:
            # Bearer tokens are issued directly: the benchmark measures check-in, not argon2.
            user = User(
                username=f"bench{person.id}",
                password_hash="!",
                role="inspector",
                inspector_id=person.id,
            )
            s.add(user)
            users.append(user)
        version = ScheduleVersion(
            period="BENCH", version=1, state="published", seed="0" * 64, created_by="bench"
        )
        plan = Plan(
            department_id=samr.id,
            period=str(today.year),
            year=today.year,
            version=999,
            state="approved",
            created_by="department:bench",
        )
        s.add_all([version, plan])
        s.flush()
        plan_task = PlanTask(
            plan_id=plan.id, position=0, kind="key", window_start=today, window_end=today
        )
        s.add(plan_task)
        s.flush()
        out_firms = []
        for n in range(firms):
            lat = YANTA[0] + rng.uniform(-0.02, 0.02)
            lon = YANTA[1] + rng.uniform(-0.02, 0.02)
            firm = Enterprise(
                credit_code=make_credit_code("91", "610113", f"{70_000_000 + n:08d}"),
                name=f"压测企业{n}有限公司",
                address=f"雁塔区压测路{n}号",
                district_adcode="610113",
                lat=lat,
                lon=lon,
                industry_code="restaurant",
                risk_class="B",
                opens_at=dt.time(9, 0),
                closes_at=dt.time(21, 0),
            )
            s.add(firm)
            s.flush()
            team: list[int] = []
            if n % 2 == 0:  # half the enterprises have a joint visit today
                task = InspectionTask(
                    plan_id=plan.id,
                    plan_task_id=plan_task.id,
                    enterprise_id=firm.id,
                    department_id=samr.id,
                    item_id=item.id,
                    kind="key",
                    year=today.year,
                    window_start=today,
                    window_end=today,
                    minutes=60,
                    team=2,
                )
                s.add(task)
                s.flush()
                visit = Visit(
                    schedule_id=version.id,
                    code=f"V{n:05d}",
                    enterprise_id=firm.id,
                    day=today,
                    start=dt.time(9, 30),
                    end=dt.time(11, 0),
                    lead_department_id=samr.id,
                )
                s.add(visit)
                s.flush()
                s.add(VisitTask(visit_id=visit.id, inspection_task_id=task.id))
                team = [p.id for p in rng.sample(people, 2)]
                for position, pid in enumerate(team):
                    s.add(VisitInspector(visit_id=visit.id, inspector_id=pid, position=position))
            token = codes.enterprise_token(
                db_session=s, secret_key=SECRET, credit_code=firm.credit_code
            )
            out_firms.append({"id": firm.id, "token": token, "lat": lat, "lon": lon, "team": team})
        s.flush()
        out_people = [
            {"id": u.inspector_id, "bearer": issue_token(u, secret=SECRET)} for u in users
        ]
    engine.dispose()
    return out_firms, out_people


def start_server(url: str, schema: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "CHECKONCE_DATABASE_URL": schema_url(url, schema),
        "CHECKONCE_SECRET_KEY": SECRET,
        "CHECKONCE_ENV": "test",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "checkonce.api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
        if server.poll() is not None:
            raise SystemExit("uvicorn exited before serving")
    server.terminate()
    raise SystemExit("uvicorn did not start within 60 s")


def plan_requests(firms, people, total: int, replay_share: float, seed: int) -> list[tuple]:
    """(bearer, body) pairs: team members checking in to their visit, others entering
    unplanned, and a share of retries that resend an earlier request unchanged."""
    rng = random.Random(seed)
    by_id = {p["id"]: p for p in people}
    sent: list[tuple] = []
    now = dt.datetime.now(dt.UTC)
    while len(sent) < total:
        if sent and rng.random() < replay_share:
            sent.append(rng.choice(sent))
            continue
        firm = rng.choice(firms)
        if firm["team"] and rng.random() < 0.7:
            person = by_id[rng.choice(firm["team"])]
        else:
            person = rng.choice(people)
        body = {
            "token": f"http://127.0.0.1/e/{firm['token']}",
            "idempotency_key": str(uuid.UUID(int=rng.getrandbits(128))),
            "client_time": (now - dt.timedelta(seconds=rng.randint(0, 30))).isoformat(),
            "lat": firm["lat"] + rng.uniform(-0.001, 0.001),
            "lon": firm["lon"] + rng.uniform(-0.001, 0.001),
        }
        sent.append((person["bearer"], body))
    return sent


def run_load(port: int, work: list[tuple], concurrency: int, max_seconds: float):
    """Send `work` from `concurrency` threads until done or `max_seconds` pass."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    replays = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + max_seconds
    queue = iter(work)

    def worker() -> None:
        nonlocal replays
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            while time.monotonic() < stop_at:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                bearer, body = item
                began = time.perf_counter()
                response = client.post(
                    "/api/v1/checkins", json=body, headers={"Authorization": f"Bearer {bearer}"}
                )
                elapsed = time.perf_counter() - began
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    replays += response.headers.get("idempotent-replay") == "true"

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    return time.perf_counter() - began, latencies, statuses, replays


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/checkonce_bench"
    )
    parser.add_argument("--schema", default="bench_checkin")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=90.0)
    parser.add_argument("--enterprises", type=int, default=400)
    parser.add_argument("--inspectors", type=int, default=120)
    parser.add_argument("--replay-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgresql", "postgres")):
        raise SystemExit("this benchmark measures PostgreSQL: give a postgresql:// URL")

    setup_began = time.perf_counter()
    firms, people = build(args.database_url, args.schema, args.enterprises, args.inspectors)
    work = plan_requests(firms, people, args.requests, args.replay_share, args.seed)
    port = free_port()
    server = start_server(args.database_url, args.schema, port)
    try:
        print(f"set-up {time.perf_counter() - setup_began:.1f} s; server on 127.0.0.1:{port}")
        run_load(port, work[:50], 4, 30)  # warm-up: connections, imports, caches
        elapsed, latencies, statuses, replays = run_load(
            port, work[50:], args.concurrency, args.max_seconds
        )
    finally:
        server.terminate()
        server.wait(timeout=30)

    engine = make_engine(schema_url(args.database_url, args.schema))
    with session_scope(engine) as s:
        stored = s.scalar(select(func.count()).select_from(CheckIn)) or 0
        keys = s.scalar(select(func.count(func.distinct(CheckIn.idempotency_key)))) or 0
        planned = s.scalar(select(func.count()).where(CheckIn.outcome == "planned")) or 0
    engine.dispose()
    sent_keys = len({body["idempotency_key"] for _bearer, body in work[: 50 + len(latencies)]})
    if not args.keep:
        admin = make_engine(args.database_url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE'))
        admin.dispose()

    done = len(latencies)
    rows = [
        ("requests sent (measured)", f"{done}"),
        ("client threads", f"{args.concurrency}"),
        ("HTTP statuses", ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))),
        ("replayed (same key)", f"{replays}"),
        ("wall time", f"{elapsed:.2f} s"),
        ("throughput", f"{done / elapsed:.1f} req/s"),
        ("latency p50", f"{percentile(latencies, 0.50) * 1000:.1f} ms"),
        ("latency p90", f"{percentile(latencies, 0.90) * 1000:.1f} ms"),
        ("latency p99", f"{percentile(latencies, 0.99) * 1000:.1f} ms"),
        ("latency max", f"{max(latencies) * 1000:.1f} ms"),
        ("latency mean", f"{statistics.fmean(latencies) * 1000:.1f} ms"),
        ("check-ins stored / keys sent", f"{stored} / {sent_keys} (planned {planned})"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\nCheck-in load, PostgreSQL, uvicorn 1 worker, {os.cpu_count()} CPUs")
    print("-" * (width + 32))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print("-" * (width + 32))
    if stored != keys or stored != sent_keys:
        raise SystemExit("FAILED: check-ins stored do not match the idempotency keys sent")


if __name__ == "__main__":
    main()
