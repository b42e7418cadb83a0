"""Word / character / jamo baselines, checked against Unicode itself and the corpus files."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from models.lenses import baselines
from models.lenses.baselines import (
    CHAR,
    JAMO,
    WORD,
    compatibility_jamo,
    decompose,
    decompose_syllable,
    recompose,
    segment,
)

SYLLABLES = [chr(0xAC00 + i) for i in range(11172)]
ASSETS = Path(__file__).resolve().parents[2] / "assets"
SENTENCE = "나는 최근 파리 여행을 다녀왔다"


def test_every_syllable_decomposes_like_unicode_nfd_and_recomposes():
    for syllable in SYLLABLES:
        jamo = decompose_syllable(syllable)
        assert jamo == unicodedata.normalize("NFD", syllable)
        assert recompose(jamo) == syllable
    assert len(set(SYLLABLES)) == 11172


def test_mixed_text_round_trips_and_matches_nfc():
    text = "Hello, 한국어 텍스트! 값 ㄱ 😀 café"
    assert recompose(decompose(text)) == text
    assert recompose(decompose(text)) == unicodedata.normalize("NFC", decompose(text))


def test_lone_jamo_are_left_alone_by_recompose():
    lone = (
        "\u1100\u11a8\u1161"  # initial, final, vowel: no syllable can be formed from the first two
    )
    assert recompose(lone) == unicodedata.normalize("NFC", lone)


@pytest.mark.parametrize(
    "jamo",
    [chr(c) for c in range(0x1100, 0x1113)]
    + [chr(c) for c in range(0x1161, 0x1176)]
    + [chr(c) for c in range(0x11A8, 0x11C3)],
)
def test_display_letters_name_the_same_jamo(jamo):
    shown = compatibility_jamo(jamo)
    assert shown != jamo
    # "HANGUL CHOSEONG KIYEOK" / "HANGUL JONGSEONG KIYEOK" <-> "HANGUL LETTER KIYEOK"
    assert unicodedata.name(shown).split("LETTER ")[1] == unicodedata.name(jamo).split(" ", 2)[2]


def _corpus_words() -> set[str]:
    text = "\n".join(p.read_text("utf-8") for p in sorted(ASSETS.glob("reference_corpus_*.txt")))
    return {w.lower() for w in re.findall(r"\w+", text)}


def test_word_level_marks_exactly_the_words_missing_from_the_reference_text():
    words = _corpus_words()
    result = segment(WORD, SENTENCE)
    expected_oov = [w for w in SENTENCE.split() if w.lower() not in words]
    assert [p.text for p in result.pieces if p.oov] == expected_oov
    assert result.oov_count > 0
    assert all(p.piece == baselines.UNK for p in result.pieces if p.oov)
    assert all(SENTENCE[p.start : p.end] == p.text for p in result.pieces)
    assert result.vocab_size >= len(words)


def test_character_level_has_one_token_per_character_and_no_korean_oov():
    result = segment(CHAR, SENTENCE)
    assert result.count == len(SENTENCE)
    assert "".join(p.text for p in result.pieces) == SENTENCE
    assert result.oov_count == 0
    assert result.vocab_size > 11172  # every Hangul syllable is an entry


def test_character_level_vocabulary_is_finite_so_unseen_symbols_are_oov():
    result = segment(CHAR, "a 😀 b")
    assert [p.text for p in result.pieces if p.oov] == ["😀"]


def test_jamo_level_splits_each_syllable_into_its_nfd_letters():
    result = segment(JAMO, SENTENCE)
    assert result.count == len(unicodedata.normalize("NFD", SENTENCE))
    assert "".join(p.piece for p in result.pieces) == unicodedata.normalize("NFD", SENTENCE)
    assert result.oov_count == 0
    assert all(SENTENCE[p.start : p.end] == p.text for p in result.pieces)


def test_the_trade_off_smaller_units_longer_sequences_no_oov():
    word, char, jamo = (segment(name, SENTENCE) for name in (WORD, CHAR, JAMO))
    assert word.count < char.count < jamo.count
    assert word.oov_count > 0 and char.oov_count == 0 and jamo.oov_count == 0
    assert jamo.vocab_size < char.vocab_size
