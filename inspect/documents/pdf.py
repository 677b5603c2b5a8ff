"""Render a document (plain data in, PDF bytes out) with reportlab on A4.

Every page carries the document number, the visit's inspection code (检查码) and the page
number; the first page carries a QR code (drawn as vector squares, so it prints sharp) to the
document's verification page. Text is set in the embedded CJK subset (checkonce.documents.fonts).
Output is reproducible: reportlab's invariant mode leaves out the creation time and random ids,
so the same content gives the same bytes and the same SHA-256.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import segno
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from checkonce.documents.fonts import cjk_font


@dataclass(frozen=True)
class ChecklistRow:
    text: str
    answer: str = ""
    note: str = ""


@dataclass(frozen=True)
class ChecklistPart:
    """One department's part of a merged checklist (一表通查), marked with its name."""

    title: str
    rows: list[ChecklistRow]


@dataclass(frozen=True)
class SignatureLine:
    """A signature box: who (role and name), the drawn image (PNG bytes) or the refusal."""

    role: str
    name: str
    image: bytes | None = None
    refused_reason: str | None = None
    signed_at: str = ""


@dataclass(frozen=True)
class DocumentContent:
    title: str
    issuer: str  # the issuing department(s), printed above the title
    doc_no: str
    visit_code: str
    verify_url: str
    fields: list[tuple[str, str]]
    paragraphs: list[str] = field(default_factory=list)
    checklist: list[ChecklistPart] = field(default_factory=list)
    table_title: str = ""
    table: list[list[str]] = field(default_factory=list)  # first row = header
    signatures: list[SignatureLine] = field(default_factory=list)
    closing: list[str] = field(default_factory=list)  # issuer line and date, right-aligned


QR_SIZE = 24 * mm


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=10.5, leading=15, wordWrap="CJK")
    return {
        "base": base,
        # Indented on both sides by the QR's width, so a long issuer never runs under it.
        "issuer": ParagraphStyle(
            "issuer",
            parent=base,
            fontSize=13,
            leading=18,
            alignment=1,
            leftIndent=QR_SIZE + 4 * mm,
            rightIndent=QR_SIZE + 4 * mm,
        ),
        "title": ParagraphStyle("title", parent=base, fontSize=19, leading=26, alignment=1),
        "no": ParagraphStyle("no", parent=base, fontSize=10.5, alignment=1),
        "h": ParagraphStyle("h", parent=base, fontSize=11.5, leading=17, spaceBefore=6),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9.5, leading=13),
        "right": ParagraphStyle("right", parent=base, alignment=2),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _grid(font: str) -> TableStyle:
    return TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), font),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ]
    )


def _draw_qr(canvas, url: str, x: float, y: float, size: float) -> None:
    qr = segno.make(url, error="m")
    matrix = list(qr.matrix)
    cell = size / len(matrix)
    canvas.setFillColor(colors.black)
    for row, bits in enumerate(matrix):
        for col, bit in enumerate(bits):
            if bit:
                canvas.rect(x + col * cell, y + size - (row + 1) * cell, cell, cell, 0, 1)


def render_pdf(content: DocumentContent) -> bytes:
    """The document as PDF bytes (A4, embedded CJK subset, QR on the first page)."""
    font = cjk_font()
    st = _styles(font)
    out = io.BytesIO()
    width, height = A4
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=f"{content.title} {content.doc_no}",
        author=content.issuer,
        subject=f"检查码 {content.visit_code}",
        creator="CheckOnce 综合查一次",
        invariant=1,
        initialFontName=font,
    )

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(font, 8.5)
        canvas.drawString(20 * mm, 11 * mm, f"文号 {content.doc_no} · 检查码 {content.visit_code}")
        canvas.drawRightString(width - 20 * mm, 11 * mm, f"第 {document.page} 页")
        canvas.restoreState()

    def first_page(canvas, document) -> None:
        footer(canvas, document)
        canvas.saveState()
        x, y = width - 20 * mm - QR_SIZE, height - 12 * mm - QR_SIZE
        _draw_qr(canvas, content.verify_url, x, y, QR_SIZE)
        canvas.setFont(font, 7)
        canvas.drawCentredString(x + QR_SIZE / 2, y - 3.2 * mm, "扫码核验文书")
        canvas.restoreState()

    story: list = [
        Spacer(1, 4 * mm),
        _p(content.issuer, st["issuer"]),
        Spacer(1, 2 * mm),
        _p(content.title, st["title"]),
        _p(content.doc_no, st["no"]),
        Spacer(1, 6 * mm),
    ]
    usable = width - 40 * mm
    if content.fields:
        rows = [[_p(k, st["cell"]), _p(v, st["cell"])] for k, v in content.fields]
        table = Table(rows, colWidths=[32 * mm, usable - 32 * mm])
        table.setStyle(_grid(font))
        table.setStyle(TableStyle([("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2"))]))
        story += [table, Spacer(1, 4 * mm)]
    for text in content.paragraphs:
        story.append(_p(text, st["base"]))
        story.append(Spacer(1, 2 * mm))
    if content.checklist:
        story.append(_p("检查内容（一表通查）", st["h"]))
        header = [_p(h, st["cell"]) for h in ("序号", "检查内容", "情况", "说明")]
        rows, spans, shaded = [header], [], []
        n = 0
        for part in content.checklist:
            spans.append(len(rows))
            rows.append([_p(part.title, st["cell"]), "", "", ""])
            for row in part.rows:
                n += 1
                rows.append(
                    [
                        _p(str(n), st["cell"]),
                        _p(row.text, st["cell"]),
                        _p(row.answer, st["cell"]),
                        _p(row.note, st["cell"]),
                    ]
                )
        table = Table(rows, colWidths=[12 * mm, usable - 72 * mm, 20 * mm, 40 * mm], repeatRows=1)
        table.setStyle(_grid(font))
        for index in spans:
            shaded.append(("SPAN", (0, index), (-1, index)))
            shaded.append(("BACKGROUND", (0, index), (-1, index), colors.HexColor("#e6eef7")))
        shaded.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f2f2")))
        table.setStyle(TableStyle(shaded))
        story += [table, Spacer(1, 4 * mm)]
    if content.table:
        if content.table_title:
            story.append(_p(content.table_title, st["h"]))
        columns = len(content.table[0])
        rows = [[_p(cell, st["cell"]) for cell in row] for row in content.table]
        table = Table(rows, colWidths=[usable / columns] * columns, repeatRows=1)
        table.setStyle(_grid(font))
        table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f2f2"))]))
        story += [table, Spacer(1, 4 * mm)]
    if content.signatures:
        rows = [[_p(h, st["cell"]) for h in ("签名人", "姓名", "签名", "时间")]]
        for line in content.signatures:
            if line.image:
                mark = Image(io.BytesIO(line.image), width=38 * mm, height=13 * mm, kind="bound")
            elif line.refused_reason:
                mark = _p(f"拒绝签字。理由：{line.refused_reason}", st["cell"])
            else:
                mark = _p("", st["cell"])
            rows.append(
                [
                    _p(line.role, st["cell"]),
                    _p(line.name, st["cell"]),
                    mark,
                    _p(line.signed_at, st["cell"]),
                ]
            )
        table = Table(
            rows,
            colWidths=[34 * mm, 30 * mm, usable - 104 * mm, 40 * mm],
            rowHeights=[None] + [17 * mm] * len(content.signatures),
        )
        table.setStyle(_grid(font))
        story += [KeepTogether([_p("签名", st["h"]), table]), Spacer(1, 4 * mm)]
    for line in content.closing:
        story.append(_p(line, st["right"]))
    doc.build(story, onFirstPage=first_page, onLaterPages=footer)
    return out.getvalue()
