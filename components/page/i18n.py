"""UI strings in Korean and English, kept in assets/strings/<panel>/*.json.

Each file holds {"en": {key: text}, "ko": {key: text}}; files are merged, so a
panel keeps its own strings in its own file. Missing Korean falls back to English.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

STRINGS_DIR = Path(__file__).resolve().parents[2] / "assets" / "strings"
LANGUAGES = ("en", "ko")
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, str]]:
    """All strings: {"en": {...}, "ko": {...}}."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for path in sorted(STRINGS_DIR.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for lang in LANGUAGES:
            merged[lang].update(data.get(lang, {}))
    return merged


def t(key: str, lang: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The string `key` in `lang` (falling back to English, then the key itself)."""
    strings = catalog()
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = strings[lang].get(key) or strings[DEFAULT_LANGUAGE].get(key) or key
    try:
        return text.format(**params) if params else text
    except (KeyError, IndexError):
        return text
