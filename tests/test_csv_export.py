"""CSV files CheckOnce writes neutralise formula injection: a text cell a spreadsheet would run
as a formula is written with a leading apostrophe; everything else is written as it is."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkonce.tabular import FORMULA_TRIGGERS, csv_safe, csv_text


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil.example","点我")', '\'=HYPERLINK("http://evil.example","点我")'),
        ("+86 138 0013 8000", "'+86 138 0013 8000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("＝1+1", "'＝1+1"),  # full-width, as a Chinese input method types it
        ("西安=餐饮", "西安=餐饮"),  # only the first character matters
        (" =1", " =1"),
        ("合格", "合格"),
        ("", ""),
        (None, ""),
        (-5, "-5"),  # a number is never a formula
        (Decimal("-12.50"), "-12.50"),
        (dt.date(2027, 1, 5), "2027-01-05"),
    ],
)
def test_cells(value, written):
    assert csv_safe(value) == written


@given(st.text())
def test_no_text_cell_reads_back_as_a_formula_and_none_loses_anything(text):
    document = csv_text(["名称"], [[text]], byte_order_mark=False)
    [header, [cell]] = list(csv.reader(io.StringIO(document, newline="")))
    assert header == ["名称"]
    assert not cell.startswith(FORMULA_TRIGGERS)
    assert cell == text or (cell == "'" + text and text.startswith(FORMULA_TRIGGERS))


def test_the_document_has_a_byte_order_mark_and_crlf_rows():
    document = csv_text(["a", "b"], [["=1", 2], ["x", None]])
    assert document == "\ufeffa,b\r\n'=1,2\r\nx,\r\n"
