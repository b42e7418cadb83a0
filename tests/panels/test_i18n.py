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
    missing = sorted(k for k in set(english) - set(korean) if not k.endswith(".one"))
    assert not missing, f"{path.name}: no Korean for {missing}"
    for key, text in english.items():
        if key.endswith(".one"):  # the English singular; Korean has no plural
            continue
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


def test_counts_pick_the_singular_only_for_one():
    english = {n: t("nt.gen_count", "en", n=n) for n in (0, 1, 2, "1", "1,000")}
    assert english[1].startswith("1 token generated") and english["1"] == english[1]
    assert english[0].startswith("0 tokens") and english[2].startswith("2 tokens")
    assert english["1,000"].startswith("1,000 tokens")
    assert t("nt.gen_count", "ko", n=1) == catalog()["ko"]["nt.gen_count"].format(n=1)


def test_every_singular_has_its_plural_and_no_other_placeholders():
    strings = catalog()["en"]
    for key, text in strings.items():
        if key.endswith(".one"):
            base = key.removesuffix(".one")
            assert base in strings, key
            assert placeholders(text) <= placeholders(strings[base]), key


COUNTED = {  # key -> its parameters with the count at 1 (the others at 2)
    "attention.mean_heads": {"n": 1},
    "attention.caption_hidden": {"n": 1},
    "bertviz.shows": {"tokens": 1, "n": 1, "first": 0, "last": 2},
    "walk.s_scores": {"count": 1, "n": 1},
    "walk.s_mask": {"hidden": 1, "n": 1},
    "nt.gen_count": {"n": 1},
    "nt.summary_kept": {"kept": 1, "n": 1},
    "nt.summary_mass": {"shown": 1, "n": 1, "mass": "90%", "rest": "10%", "others": 2},
    "app.status_ready": {"model": "m", "family": "f", "layers": 2, "heads": 2, "tokens": 1, "n": 1},
    "tok.compare_row": {"tokens": 1, "n": 1, "vocab": 2, "oov": 2},
    "tok.split.some": {"n": 1},
}


@pytest.mark.parametrize("key", COUNTED)
def test_a_count_of_one_reads_in_the_singular(key):
    text = t(key, "en", **COUNTED[key])
    assert not re.search(r"\b1\*{0,2} (\w+ )?(tokens|heads|times|characters)\b", text), text
    assert "(s)" not in text
