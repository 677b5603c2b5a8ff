"""The enterprise's QR poster (扫码入企 poster at the door): a QR code of its `/e/<token>` URL
with the enterprise's name and credit code, as SVG (any printer, any size) or PNG.

The QR uses error correction level M and a 4-module quiet zone so phone cameras read it
from a printed A4 sheet at arm's length. The PNG draws Chinese text with a CJK font found on
the machine (WenQuanYi, Noto CJK, Droid Sans Fallback …); without one it still carries the
QR and the credit code and logs which font package to install.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from html import escape
from pathlib import Path

import segno

log = logging.getLogger("checkonce.visits.posters")

TITLE = "扫码入企 · 亮码检查"
FOOTER = "执法人员入企检查须扫描此码登记；未登记的检查，企业有权拒绝。"
BORDER = 4
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


@dataclass(frozen=True)
class PosterContent:
    """What a poster shows."""

    url: str
    name: str
    credit_code: str


def qr_code(url: str) -> segno.QRCode:
    """The QR symbol of `url` (level M, never boosted so the symbol stays the same size)."""
    return segno.make_qr(url, error="m", boost_error=False)


def poster_svg(content: PosterContent, *, module_px: int = 8) -> str:
    """The poster as a standalone SVG document; the QR is drawn as one path of modules."""
    qr = qr_code(content.url)
    size = (qr.symbol_size(scale=1, border=BORDER)[0]) * module_px
    width = size + 2 * 40
    top = 110
    height = top + size + 150
    path = []
    for y, row in enumerate(qr.matrix):
        for x, dark in enumerate(row):
            if dark:
                path.append(f"M{x + BORDER},{y + BORDER}h1v1h-1z")
    font = "font-family=\"'WenQuanYi Micro Hei','Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif\""
    name = escape(content.name)
    # A CJK glyph is about one em wide: squeeze names that would overrun the sheet.
    fit = (
        f' textLength="{width - 40}" lengthAdjust="spacingAndGlyphs"'
        if len(content.name) * 24 > width - 40
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">\n'
        f"<title>{name} 企业码</title>\n"
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>\n'
        f'<text x="{width / 2}" y="50" text-anchor="middle" font-size="30" font-weight="bold" '
        f'fill="#b71c1c" {font}>{escape(TITLE)}</text>\n'
        f'<text x="{width / 2}" y="92" text-anchor="middle" font-size="24" fill="#000000" '
        f"{font}{fit}>{name}</text>\n"
        f'<g transform="translate(40,{top}) scale({module_px})">'
        f'<path fill="#000000" d="{"".join(path)}"/></g>\n'
        f'<text x="{width / 2}" y="{top + size + 40}" text-anchor="middle" font-size="20" '
        f'fill="#000000" {font}>统一社会信用代码：{escape(content.credit_code)}</text>\n'
        f'<text x="{width / 2}" y="{top + size + 80}" text-anchor="middle" font-size="14" '
        f'fill="#444444" {font}>{escape(FOOTER)}</text>\n'
        "</svg>\n"
    )


def find_cjk_font(candidates: tuple[str, ...] = CJK_FONT_CANDIDATES) -> Path | None:
    """The first CJK-capable font file on this machine, or None."""
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    for folder in (Path("/usr/share/fonts"), Path("/usr/local/share/fonts")):
        if folder.is_dir():
            for found in sorted(folder.rglob("*")):
                lowered = found.name.lower()
                if found.suffix.lower() in (".ttc", ".otf", ".ttf") and any(
                    mark in lowered for mark in ("cjk", "wqy", "droidsansfallback", "sourcehan")
                ):
                    return found
    return None


def poster_png(
    content: PosterContent, *, module_px: int = 10, font_path: Path | None = None
) -> bytes:
    """The poster as PNG bytes (Pillow draws the text around segno's QR image)."""
    from PIL import Image, ImageDraw, ImageFont

    qr = qr_code(content.url)
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=module_px, border=BORDER)
    buffer.seek(0)
    symbol = Image.open(buffer).convert("RGB")
    margin, top, bottom = 40, 130, 170
    width = symbol.width + 2 * margin
    canvas = Image.new("RGB", (width, top + symbol.height + bottom), "white")
    canvas.paste(symbol, (margin, top))
    draw = ImageDraw.Draw(canvas)

    font_file = font_path or find_cjk_font()
    if font_file is None:
        log.warning(
            "no CJK font found: the PNG poster omits Chinese text "
            "(install fonts-wqy-microhei or fonts-noto-cjk)"
        )

    def font(size: int):
        if font_file is not None:
            return ImageFont.truetype(str(font_file), size)
        return ImageFont.load_default(size)

    def centred(y: int, text: str, size: int, fill: str) -> None:
        face = font(size)
        left, _, right, _ = draw.textbbox((0, 0), text, font=face)
        # Long enterprise names shrink to fit the sheet rather than run off its edges.
        while size > 10 and right - left > width - 20:
            size -= 1
            face = font(size)
            left, _, right, _ = draw.textbbox((0, 0), text, font=face)
        draw.text(((width - (right - left)) / 2, y), text, font=face, fill=fill)

    if font_file is not None:
        centred(30, TITLE, 34, "#b71c1c")
        centred(82, content.name, 26, "black")
        centred(top + symbol.height + 20, f"统一社会信用代码：{content.credit_code}", 22, "black")
        centred(top + symbol.height + 70, FOOTER, 15, "#444444")
    else:
        centred(top + symbol.height + 20, content.credit_code, 24, "black")
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def render_poster(content: PosterContent, fmt: str) -> bytes:
    """The poster in `fmt` ("png" or "svg")."""
    if fmt == "svg":
        return poster_svg(content).encode()
    if fmt == "png":
        return poster_png(content)
    raise ValueError(f"unknown poster format {fmt!r}")
