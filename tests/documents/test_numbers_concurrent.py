"""Document numbers under concurrent writers: each of several transactions takes numbers
from the same department's sequence at once; every number is given exactly once (on
PostgreSQL the row lock of the UPDATE serializes them; on SQLite the database lock does)."""

from __future__ import annotations

import threading

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from checkonce.documents.models import DocumentSequence
from checkonce.documents.service import allocate_number
from checkonce.registry.models import Department

YEAR = 2099  # no other test numbers documents of this year


def test_concurrent_allocation_never_repeats(engine):
    with Session(engine) as session:
        dept = session.scalars(select(Department.id).where(Department.code == "SAMR")).one()
    got: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker() -> None:
        try:
            start.wait()
            for _ in range(5):
                with Session(engine) as session, session.begin():
                    number = allocate_number(session, department_id=dept, year=YEAR)
                with lock:
                    got.append(number)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert sorted(got) == list(range(1, 21))
    finally:
        with Session(engine) as session, session.begin():
            session.execute(
                delete(DocumentSequence).where(
                    DocumentSequence.department_id == dept, DocumentSequence.year == YEAR
                )
            )
