"""Registry services: building the demo jurisdiction and counting what is there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkonce.db import Base
from checkonce.errors import Conflict
from checkonce.registry.demo import (
    DemoSizes,
    generate_conflicts,
    generate_enterprises,
    generate_inspectors,
)
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import (
    Conflict as ConflictRow,
)
from checkonce.registry.models import (
    Department,
    Enterprise,
    Inspector,
    InspectorCertification,
    InspectorUnavailability,
)
from checkonce.registry.reference import load_reference

CHUNK = 2000
Progress = Callable[[str, int, int], None]


def table_counts(*, db_session: Session) -> dict[str, int]:
    """Rows per table, for every table in the schema."""
    return {
        name: db_session.scalar(select(func.count()).select_from(table)) or 0
        for name, table in sorted(Base.metadata.tables.items())
    }


def build_demo(
    *,
    db_session: Session,
    data_dir: Path,
    sizes: DemoSizes,
    seed: int,
    as_of: dt.date,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Load the reference data and a generated registry of `sizes` into an empty database.

    Refuses a database that already has enterprises (run with a fresh database instead).
    `progress(stage, done, total)` is called as rows are written.
    """
    if db_session.scalar(select(func.count()).select_from(Enterprise)):
        raise Conflict("数据库中已有企业数据；演示数据只能建在空库上（可使用 --reset 重建）")
    report = progress or (lambda *_: None)
    juris = Jurisdiction(data_dir)
    counts = load_reference(db_session, data_dir)

    enterprise_codes = []
    batch = []
    for i, row in enumerate(generate_enterprises(juris, sizes.enterprises, seed=seed), start=1):
        batch.append(Enterprise(**row))
        enterprise_codes.append(row["credit_code"])
        if len(batch) == CHUNK or i == sizes.enterprises:
            db_session.add_all(batch)
            db_session.flush()
            batch = []
            report("enterprises", i, sizes.enterprises)
    counts["enterprise"] = len(enterprise_codes)

    departments = {d.code: d.id for d in db_session.scalars(select(Department))}
    total = sizes.inspector_count()
    inspectors: dict[str, Inspector] = {}
    for i, row in enumerate(generate_inspectors(juris, total, seed=seed, reference_day=as_of), 1):
        unavailable = row.pop("unavailable")
        also_for = row.pop("also_for", [])
        row["department_id"] = departments[row.pop("department")]
        inspector = Inspector(**row)
        inspector.unavailable_days = [
            InspectorUnavailability(day=day, reason="休假") for day in unavailable
        ]
        inspector.extra_certifications = [
            InspectorCertification(
                department_id=departments[code], basis="综合行政执法授权（演示）"
            )
            for code in also_for
        ]
        inspectors[inspector.code] = inspector
        db_session.add(inspector)
        if i % CHUNK == 0 or i == total:
            db_session.flush()
            report("inspectors", i, total)
    counts["inspector"] = len(inspectors)

    enterprise_ids = dict(db_session.execute(select(Enterprise.credit_code, Enterprise.id)).all())
    officers = [c for c, ins in inspectors.items() if ins.role == "enforcement"]
    pairs = generate_conflicts(enterprise_codes, officers, seed=seed)
    for inspector_code, credit_code in pairs:
        db_session.add(
            ConflictRow(
                inspector_id=inspectors[inspector_code].id,
                enterprise_id=enterprise_ids[credit_code],
                reason="亲属关系（申报回避）",
                declared_on=as_of,
            )
        )
    db_session.flush()
    report("conflicts", len(pairs), len(pairs))
    return table_counts(db_session=db_session)
