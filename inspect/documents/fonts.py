"""The CJK font embedded in every document.

A PDF that names a font without embedding it (reportlab's CID fonts such as STSong-Light) is
drawn with whatever the viewer's machine has, and shows boxes or nothing where no Chinese font
is installed. CheckOnce embeds a TrueType subset instead (only the glyphs used), so a document
reads the same on any machine. reportlab reads TrueType outlines (glyf), including a member of
a TrueType collection (.ttc, by `subfontIndex`); it cannot embed CFF-flavoured OpenType (the
Noto/Source Han .otf/.ttc files), so those are not candidates.

The font is `CHECKONCE_PDF_FONT` when set ("path" or "path#index" for a .ttc member), else the
first of FONT_CANDIDATES present (Debian's fonts-wqy-microhei / fonts-wqy-zenhei / fonts-arphic).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from checkonce.errors import CheckOnceError

FONT_NAME = "CheckOnceCJK"
FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
)


class FontMissing(CheckOnceError):
    code = "pdf_font_missing"
    status = 503


def _configured() -> list[tuple[str, int]]:
    spec = os.environ.get("CHECKONCE_PDF_FONT", "").strip()
    if not spec:
        return list(FONT_CANDIDATES)
    path, _, index = spec.partition("#")
    try:
        return [(path, int(index or 0))]
    except ValueError:
        raise FontMissing(
            f"CHECKONCE_PDF_FONT「{spec}」格式有误：应为字体文件路径，TTC 可加 #序号"
        ) from None


@lru_cache(maxsize=4)
def _register(path: str, index: int) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    try:
        font = TTFont(FONT_NAME, path, subfontIndex=index)
    except (TTFError, OSError) as exc:
        raise FontMissing(
            f"字体 {path} 无法嵌入 PDF（需要 TrueType 轮廓的中文字体）：{exc}"
        ) from exc
    pdfmetrics.registerFont(font)
    return FONT_NAME


def cjk_font() -> str:
    """Register the embeddable CJK font with reportlab and return its name; a clear error
    naming what to install when there is none."""
    tried = []
    for path, index in _configured():
        if Path(path).is_file():
            return _register(path, index)
        tried.append(path)
    raise FontMissing(
        "找不到可嵌入 PDF 的中文字体，无法生成检查文书。请安装 fonts-wqy-microhei"
        "（apt-get install fonts-wqy-microhei），或用 CHECKONCE_PDF_FONT 指定 TrueType 中文字体；"
        f"已查找：{'、'.join(tried)}"
    )
