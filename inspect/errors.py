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
    """An upload with bad rows: nothing was written. The first MAX_REPORTED_ERRORS problems
    are kept (`errors`) with the count of all of them (`total`): a file with a million bad
    rows gets an answer of a readable size, not a million lines."""

    code = "import_rejected"
    status = 422
    MAX_REPORTED_ERRORS = 200

    def __init__(self, errors: list[RowError], *, source: str = "") -> None:
        self.total = len(errors)
        self.errors = list(errors[: self.MAX_REPORTED_ERRORS])
        head = f"{source}：" if source else ""
        lines = "\n".join(f"  {e}" for e in self.errors)
        more = (
            f"\n  …… 另有 {self.total - len(self.errors)} 处错误未列出"
            if self.total > len(self.errors)
            else ""
        )
        super().__init__(
            f"{head}导入被拒绝，共 {self.total} 处错误，数据库未做任何修改：\n{lines}{more}"
        )
