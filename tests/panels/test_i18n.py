"""UI strings in both languages, and choosing the language of a first visit."""

from __future__ import annotations

import json
import re
import string

import pytest

from components.page.i18n import LANGUAGES, STRINGS_DIR, catalog, t
from components.page.share import language_from_header

HANGUL = re.compile("[가-힣]")
STRING_FILES = sorted(STRINGS_DIR.rglob("*.json"))


def is_prose(text: str) -> bool:
    """At least three plain words: a sentence or a label, not code or a symbol."""
    return sum(word.isalpha() for word in text.split()) >= 3


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("path", STRING_FILES, ids=lambda p: str(p.relative_to(STRINGS_DIR)))
def test_every_string_exists_in_korean_with_the_same_placeholders(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) <= set(LANGUAGES)
    english, korean = data["en"], data.get("ko", {})
    missing = sorted(set(english) - set(korean))
    assert not missing, f"{path.name}: no Korean for {missing}"
    for key, text in english.items():
        assert placeholders(korean[key]) == placeholders(text), key
        if is_prose(text):
            assert HANGUL.search(korean[key]), f"{path.name}: {key} is not Korean"


@pytest.mark.parametrize("path", STRING_FILES, ids=lambda p: str(p.relative_to(STRINGS_DIR)))
def test_no_korean_string_is_left_in_english(path):
    korean = json.loads(path.read_text(encoding="utf-8")).get("ko", {})
    english = json.loads(path.read_text(encoding="utf-8"))["en"]
    copied = [k for k, v in korean.items() if v == english.get(k) and is_prose(v)]
    assert not copied, f"{path.name}: copied from English: {copied}"


def test_keys_are_not_defined_twice_across_files():
    seen: dict[str, str] = {}
    for path in STRING_FILES:
        for key in json.loads(path.read_text(encoding="utf-8"))["en"]:
            assert key not in seen, f"{key} is in both {seen.get(key)} and {path.name}"
            seen[key] = path.name


def test_lookup_formats_and_falls_back():
    assert t("app.analyze", "ko") == catalog()["ko"]["app.analyze"]
    assert t("app.analyze", "fr") == catalog()["en"]["app.analyze"]
    assert t("no.such.key", "ko") == "no.such.key"
    message = t("error.too_many_tokens", "ko", count=900, limit=512)
    assert "900" in message and "512" in message and HANGUL.search(message)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"),
        ("en-US,en;q=0.9,ko;q=0.8", "en"),
        ("ja-JP,ko;q=0.5,en;q=0.4", "ko"),
        ("en;q=0.2,ko;q=0.8", "ko"),
        ("KO", "ko"),
        ("fr-FR,de;q=0.9", "en"),
        ("ko;q=0", "en"),
        ("ko;q=abc,en", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_first_visit_follows_the_browser_language(header, expected):
    assert language_from_header(header) == expected
