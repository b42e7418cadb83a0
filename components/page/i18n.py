"""UI strings in Korean and English, kept in assets/strings/<panel>/*.json.

Each file holds {"en": {key: text}, "ko": {key: text}}; files are merged, so a
panel keeps its own strings in its own file. Missing Korean falls back to English.

Counts: a string that prints a count takes it as the parameter `n`; where the
singular reads differently, the same key with ".one" holds it (English only:
Korean has no plural), and `t` picks it when n is 1 ("1 token", not "1 tokens").
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
    source = strings[lang] if strings[lang].get(key) else strings[DEFAULT_LANGUAGE]
    if _is_one(params.get("n")) and source.get(key + ".one"):
        key += ".one"
    text = source.get(key) or key
    try:
        return text.format(**params) if params else text
    except (KeyError, IndexError):
        return text


def _is_one(count: object) -> bool:
    """Is `count` (a number or its printed form, "1" or "1.0") exactly one?"""
    try:
        return float(str(count).replace(",", "")) == 1
    except ValueError:
        return False
