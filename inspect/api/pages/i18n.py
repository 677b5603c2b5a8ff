"""Page translations. The pages are written in Chinese (the message ids are the Chinese text);
English comes from gettext catalogs in `inspect/api/locale/<lang>/*.po`, one file per group of
pages, read with Babel when the process starts. A message with no translation shows in Chinese.

`tests/api/pages/test_i18n.py` extracts every message from the templates and page modules
with Babel and fails on one that has no English translation.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = {"zh": "中文", "en": "English"}


@cache
def catalog(lang: str) -> dict[str, str]:
    """msgid → translation for `lang`, merged from every catalog file of that language."""
    messages: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / lang).glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=lang):
                if message.id and isinstance(message.id, str) and message.string:
                    messages[message.id] = message.string
    return messages


def translate(lang: str, message: str) -> str:
    """`message` (Chinese) in `lang`; Chinese itself when there is no translation."""
    if lang == "zh":
        return message
    return catalog(lang).get(message, message)
