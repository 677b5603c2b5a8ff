"""Locks that make one process the job runner and keep a job from running twice at once.

PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) held on a connection of
its own; the server drops it when that connection or the process dies, so a crashed runner
never blocks the next one. SQLite: an OS file lock (`filelock`) beside the database file,
released by the operating system when the process dies. Both are non-blocking: a process
that does not get the lock simply is not the one to run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, text

log = logging.getLogger("checkonce.jobs.locks")


class Lock(Protocol):
    """A non-blocking, process-wide lock."""

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...

    def is_held(self) -> bool: ...


def advisory_key(name: str, namespace: str) -> int:
    """A signed 64-bit key for `name`, distinct per schema (`namespace`) so that separate
    deployments sharing one PostgreSQL database never block each other."""
    digest = hashlib.sha256(f"checkonce:{namespace}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """`pg_try_advisory_lock` on a dedicated connection, held until `release()`."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self._connection: Connection | None = None
        self._key: int | None = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return True
        connection = self.engine.connect()
        try:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            key = advisory_key(self.name, schema)
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
            ).scalar_one()
            # The lock belongs to the session, not to a transaction: end the transaction the
            # queries opened so the connection does not sit "idle in transaction".
            connection.commit()
        except BaseException:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._connection, self._key = connection, key
        return True

    def is_held(self) -> bool:
        """Whether the lock is still ours: the connection holding it is alive."""
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except Exception:
            log.warning("lost the connection holding advisory lock %s", self.name)
            self._drop()
            return False

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            self._connection.commit()
        except Exception:
            log.warning("could not unlock %s cleanly; closing its connection", self.name)
        self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                log.debug("closing lock connection failed", exc_info=True)


class FileLockLock:
    """An OS file lock; `filelock` re-enters within one FileLock object, so each lock here is
    its own object and a second holder (thread or process) is refused."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Not thread-local: the scheduler thread may release what the start-up thread took.
        self._lock = FileLock(str(path), is_singleton=False, thread_local=False)

    def try_acquire(self) -> bool:
        if self._lock.is_locked:
            return True
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        return True

    def is_held(self) -> bool:
        return self._lock.is_locked

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)


def lock_path(engine: Engine, name: str) -> Path:
    """Where the SQLite lock file of `name` lives: beside the database file, so every
    process using that file finds the same lock (an in-memory database uses the temp dir)."""
    database = engine.url.database
    safe = name.replace("/", "_").replace(":", "_")
    if database and database != ":memory:":
        db = Path(database).resolve()
        return db.with_name(f"{db.name}.{safe}.lock")
    return Path(tempfile.gettempdir()) / f"checkonce-memory-{id(engine)}.{safe}.lock"


_memory_guard = threading.Lock()


def make_lock(engine: Engine, name: str) -> Lock:
    """The lock of `name` for the database behind `engine`."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, name)
    with _memory_guard:
        return FileLockLock(lock_path(engine, name))


def process_gone(owner: str) -> bool:
    """Whether the process named by `owner` ("host:pid") is known to be gone: it ran on this
    host and no such process exists. A process of another host is never presumed dead."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
