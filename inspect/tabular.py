"""Reading uploaded tables (CSV or Excel) into numbered rows with canonical field names, and
writing the CSV files CheckOnce hands out.

Shared by every upload path (registry, plans). Headers may be Chinese or English; each
upload defines its columns as `Column`s. Row numbers are as a person sees them in the
spreadsheet: the header is row 1, the first data row is row 2.

Every CSV CheckOnce writes goes through `csv_text`, which neutralises formula injection: a
text cell that a spreadsheet would run as a formula (it begins with = + - @, a tab or a
carriage return, or their full-width forms ＝ ＋ － ＠ that Chinese input methods type) is
written with a leading apostrophe, so Excel and WPS show it as text. An enterprise name or a
note such as `=HYPERLINK("http://…")` stays a string on the reader's screen.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from checkonce.errors import CheckOnceError, ImportRejected, RowError


@dataclass(frozen=True)
class Column:
    """One column of an upload: canonical name, Chinese label, other accepted headers."""

    name: str
    label: str
    required: bool = True
    aliases: tuple[str, ...] = ()

    def headers(self) -> set[str]:
        return {self.name.lower(), self.label.lower(), *(a.lower() for a in self.aliases)}


@dataclass(frozen=True)
class Row:
    number: int
    values: dict[str, Any]

    def text(self, name: str) -> str:
        value = self.values.get(name)
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()


def _decode(data: bytes, source: str) -> str:
    # Excel on Chinese Windows saves CSV as GB18030 (GBK); everything else is UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CheckOnceError(f"{source}：无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV")


def _raw_rows(path: Path) -> list[list[Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = _decode(path.read_bytes(), path.name)
        return [row for row in csv.reader(io.StringIO(text))]
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise CheckOnceError(f"{path.name}：无法打开 Excel 文件（{exc}）") from exc
        try:
            sheet = workbook.worksheets[0]
            return [list(row) for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
    kind = suffix or "（无扩展名）"
    raise CheckOnceError(f"{path.name}：不支持的文件类型 {kind}，请上传 .csv 或 .xlsx")


def read_table(path: Path, columns: list[Column]) -> list[Row]:
    """Rows of `path` keyed by canonical column names; blank rows are skipped.

    Raises ImportRejected when a required column is missing or a header is unknown.
    """
    path = Path(path)
    if not path.exists():
        raise CheckOnceError(f"文件不存在：{path}")
    raw = _raw_rows(path)
    if not raw:
        raise CheckOnceError(f"{path.name}：文件为空")
    lookup = {h: c.name for c in columns for h in c.headers()}
    header = [str(h).strip() if h is not None else "" for h in raw[0]]
    mapping: dict[int, str] = {}
    errors = []
    for index, title in enumerate(header):
        if not title:
            continue
        name = lookup.get(title.lower())
        if name is None:
            errors.append(RowError(1, title, "无法识别的列名"))
        elif name in mapping.values():
            errors.append(RowError(1, title, "列重复"))
        else:
            mapping[index] = name
    for column in columns:
        if column.required and column.name not in mapping.values():
            errors.append(RowError(1, column.label, "缺少必需的列"))
    if errors:
        raise ImportRejected(errors, source=path.name)
    rows = []
    for number, values in enumerate(raw[1:], start=2):
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        cells = {name: values[i] if i < len(values) else None for i, name in mapping.items()}
        rows.append(Row(number, cells))
    return rows


def parse_date(value: Any) -> dt.date:
    """A date cell: a real Excel date or text 2027-01-04 / 2027/1/4 / 20270104."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        year, month, day = (int(part) for part in text.split("-"))
        return dt.date(year, month, day)
    except (ValueError, TypeError):
        raise ValueError(f"日期格式无法识别：{value!r}（应为 2027-01-04）") from None


def parse_time(value: Any) -> dt.time:
    """A time cell: a real Excel time or text 09:00."""
    if isinstance(value, dt.datetime):
        return value.time()
    if isinstance(value, dt.time):
        return value
    try:
        hour, minute = (int(part) for part in str(value).strip().split(":")[:2])
        return dt.time(hour, minute)
    except (ValueError, TypeError):
        raise ValueError(f"时间格式无法识别：{value!r}（应为 09:00）") from None


def parse_bool(value: Any) -> bool:
    text = str(value).strip().lower() if value is not None else ""
    if text in ("", "0", "否", "false", "no", "n"):
        return False
    if text in ("1", "是", "true", "yes", "y"):
        return True
    raise ValueError(f"应为“是”或“否”，实际 {value!r}")


# --- writing ---------------------------------------------------------------------------------

# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"), with the
# full-width forms a Chinese input method types.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def csv_safe(value: Any) -> str:
    """One CSV cell as text no spreadsheet runs as a formula. Numbers are written as they are
    (a number is never a formula); text beginning with a formula trigger gets a leading
    apostrophe; dates are ISO 8601; None is empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def csv_text(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], *, byte_order_mark: bool = True
) -> str:
    """A CSV document (CRLF line ends) of `header` and `rows`, every cell through `csv_safe`.
    With a byte-order mark by default, so spreadsheet programs read the Chinese as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_safe(cell) for cell in header])
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
    return ("\ufeff" if byte_order_mark else "") + out.getvalue()
