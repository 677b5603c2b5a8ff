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

Every read is bounded by `UploadLimits` whatever the file claims: its size on disk, the
uncompressed size of an Excel workbook's parts, the number of rows and columns read and the
length of a cell. An Excel sheet's declared dimension (`<dimension ref="A1:XFD1048576"/>`) is
ignored (openpyxl would otherwise pad every row to it): rows are streamed in read-only mode,
at most `max_columns` cells wide, and reading stops at the first stretch of
`blank_stretch` empty rows. A file over a limit is refused with a Chinese message before any
row is parsed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from checkonce.errors import CheckOnceError, ImportRejected, RowError

MB = 1024 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """Hard caps on an uploaded table (settings `upload_*`, see checkonce.config)."""

    max_bytes: int = 20 * MB
    max_rows: int = 100_000
    max_columns: int = 64
    max_cell_chars: int = 2_000
    # An .xlsx is a zip: its parts may not unpack to more than this many bytes in all.
    max_unpacked_bytes: int = 400 * MB
    # This many empty rows in a row end the sheet (rows below them are not read).
    blank_stretch: int = 1_000

    @classmethod
    def from_settings(cls, settings: Any = None) -> UploadLimits:
        if settings is None:
            from checkonce.config import get_settings

            settings = get_settings()
        return cls(
            max_bytes=settings.upload_max_bytes,
            max_rows=settings.upload_max_rows,
            max_columns=settings.upload_max_columns,
            max_cell_chars=settings.upload_max_cell_chars,
        )


def size_text(n: int) -> str:
    """A byte count for people: "20 MB", "512 KB"."""
    if n >= MB:
        return f"{n / MB:.0f} MB" if n % MB == 0 else f"{n / MB:.1f} MB"
    return f"{max(1, n // 1024)} KB"


def check_upload_size(size: int, limit: int, name: str = "") -> None:
    """Refuse a file of `size` bytes over `limit` with a Chinese message (before parsing)."""
    if size > limit:
        head = f"{name}：" if name else ""
        raise CheckOnceError(
            f"{head}文件大小 {size_text(size)} 超过上限 {size_text(limit)}，请拆分后分别上传",
            code="file_too_large",
        )


def read_upload(stream: Any, limit: int, name: str = "") -> bytes:
    """At most `limit` bytes of an uploaded file object; over the limit is refused (the rest
    is never read into memory)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise CheckOnceError(
            f"{name + '：' if name else ''}文件超过上限 {size_text(limit)}，请拆分后分别上传",
            code="file_too_large",
        )
    return data


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


def _csv_rows(path: Path, limits: UploadLimits) -> Iterator[list[Any]]:
    text = _decode(path.read_bytes(), path.name)
    try:
        for row in csv.reader(io.StringIO(text)):
            yield row[: limits.max_columns]
    except csv.Error as exc:
        raise CheckOnceError(f"{path.name}：CSV 格式有误（{exc}）") from None


def _check_workbook_parts(path: Path, limits: UploadLimits) -> None:
    """Refuse a workbook whose parts unpack to more than the limit (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckOnceError(f"{path.name}：无法打开 Excel 文件（{exc}）") from None
    if unpacked > limits.max_unpacked_bytes:
        raise CheckOnceError(
            f"{path.name}：Excel 文件解压后达 {size_text(unpacked)}，超过上限 "
            f"{size_text(limits.max_unpacked_bytes)}，请拆分后分别上传",
            code="file_too_large",
        )


def _excel_rows(path: Path, limits: UploadLimits) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    _check_workbook_parts(path, limits)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise CheckOnceError(f"{path.name}：无法打开 Excel 文件（{exc}）") from exc
    try:
        sheet = workbook.worksheets[0]
        # The declared dimension is the file's claim, not a fact: forget it, so no row is
        # padded to it, and bound rows and columns ourselves.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(
            max_col=limits.max_columns, max_row=limits.max_rows + 2, values_only=True
        )
        try:
            for row in rows:
                yield list(row)
        except CheckOnceError:
            raise
        except Exception as exc:
            raise CheckOnceError(f"{path.name}：Excel 文件内容有误（{exc}）") from exc
    finally:
        workbook.close()


def _raw_rows(path: Path, limits: UploadLimits) -> Iterator[list[Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path, limits)
    if suffix in (".xlsx", ".xlsm"):
        return _excel_rows(path, limits)
    kind = suffix or "（无扩展名）"
    raise CheckOnceError(f"{path.name}：不支持的文件类型 {kind}，请上传 .csv 或 .xlsx")


def _blank(values: list[Any]) -> bool:
    return all(v is None or str(v).strip() == "" for v in values)


def read_table(path: Path, columns: list[Column], limits: UploadLimits | None = None) -> list[Row]:
    """Rows of `path` keyed by canonical column names; blank rows are skipped.

    Raises CheckOnceError for a file over a limit (size, rows) and ImportRejected when a
    required column is missing, a header is unknown or a cell is too long.
    """
    path = Path(path)
    limits = limits or UploadLimits.from_settings()
    if not path.exists():
        raise CheckOnceError(f"文件不存在：{path}")
    check_upload_size(path.stat().st_size, limits.max_bytes, path.name)
    raw = iter(_raw_rows(path, limits))
    first = next(raw, None)
    if first is None or _blank(first):
        raise CheckOnceError(f"{path.name}：文件为空（第 1 行应为列名）")
    lookup = {h: c.name for c in columns for h in c.headers()}
    header = [str(h).strip() if h is not None else "" for h in first]
    mapping: dict[int, str] = {}
    errors = []
    for index, title in enumerate(header):
        if not title:
            continue
        name = lookup.get(title.lower()[: limits.max_cell_chars])
        if name is None:
            errors.append(RowError(1, title[:40], "无法识别的列名"))
        elif name in mapping.values():
            errors.append(RowError(1, title, "列重复"))
        else:
            mapping[index] = name
    for column in columns:
        if column.required and column.name not in mapping.values():
            errors.append(RowError(1, column.label, "缺少必需的列"))
    if errors:
        raise ImportRejected(errors, source=path.name)
    labels = {c.name: c.label for c in columns}
    rows = []
    blank_run = 0
    for number, values in enumerate(raw, start=2):
        if _blank(values):
            blank_run += 1
            if blank_run >= limits.blank_stretch:
                break  # the first long empty stretch ends the table
            continue
        blank_run = 0
        if number > limits.max_rows + 1:
            raise CheckOnceError(
                f"{path.name}：数据超过 {limits.max_rows:,} 行上限，请拆分后分别上传",
                code="too_many_rows",
            )
        cells = {name: values[i] if i < len(values) else None for i, name in mapping.items()}
        for name, value in cells.items():
            if isinstance(value, str) and len(value) > limits.max_cell_chars:
                errors.append(
                    RowError(number, labels[name], f"内容超过 {limits.max_cell_chars} 个字符")
                )
                cells[name] = None
        rows.append(Row(number, cells))
    if errors:
        raise ImportRejected(errors, source=path.name)
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
