"""Domain errors: typed, each with a message for people (Chinese) and a machine code.

The API maps them to 4xx responses with the same message; the CLI prints them without a
traceback and exits non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass


class CheckOnceError(Exception):
    """Base of every error a user can cause. `message` is shown to people as is."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(CheckOnceError):
    code = "not_found"
    status = 404


class Conflict(CheckOnceError):
    code = "conflict"
    status = 409


class CalendarUnknownYear(CheckOnceError):
    """Neither chinesecalendar nor an override file knows the year: never guess."""

    code = "calendar_unknown_year"


@dataclass(frozen=True)
class RowError:
    """One problem in one row of an upload: row number (1 = header), field, reason (Chinese)."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"第 {self.row} 行，字段「{self.field}」：{self.reason}"


class ImportRejected(CheckOnceError):
    """An upload with bad rows: nothing was written, every problem is listed."""

    code = "import_rejected"
    status = 422

    def __init__(self, errors: list[RowError], *, source: str = "") -> None:
        self.errors = errors
        head = f"{source}：" if source else ""
        lines = "\n".join(f"  {e}" for e in errors[:200])
        more = f"\n  …… 另有 {len(errors) - 200} 处错误" if len(errors) > 200 else ""
        super().__init__(
            f"{head}导入被拒绝，共 {len(errors)} 处错误，数据库未做任何修改：\n{lines}{more}"
        )
