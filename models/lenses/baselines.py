"""The three baseline tokenizers the course compares real tokenizers with.

- word level: split into words and punctuation; the vocabulary is every word
  of a small reference text shipped in assets/, so unseen words become [UNK];
- character level: one token per character; the vocabulary is printable ASCII,
  all 11,172 Hangul syllables and the characters of the reference text;
- jamo level: Hangul syllables decomposed into their consonants and vowels
  (19 initials, 21 vowels, 27 finals), other characters as in character level.

Pure Python: the jamo arithmetic is the Unicode algorithm (Unicode 15, §3.12).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "assets"
CORPUS_FILES = ("reference_corpus_en.txt", "reference_corpus_ko.txt")
UNK = "[UNK]"
WORD, CHAR, JAMO = "baseline:word", "baseline:char", "baseline:jamo"
BASELINES = (WORD, CHAR, JAMO)

SYLLABLE_BASE, SYLLABLE_COUNT = 0xAC00, 11172
LEAD_BASE, VOWEL_BASE, TAIL_BASE = 0x1100, 0x1161, 0x11A7
N_LEADS, N_VOWELS, N_TAILS = 19, 21, 28  # N_TAILS counts "no final consonant"
COMPAT_LEADS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
COMPAT_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
COMPAT_TAILS = "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
_WORD = re.compile(r"\w+|[^\w\s]")
WHITESPACE = (" ", "\t", "\n")


@dataclass(frozen=True)
class Piece:
    """One token of a segmentation, with where it came from in the input."""

    text: str  # what it covers in the input (text[start:end])
    piece: str  # the vocabulary entry ([UNK] when out of vocabulary)
    start: int
    end: int
    oov: bool = False  # the tokenizer had no entry for it ([UNK])
    special: bool = False
    id: int | None = None  # the vocabulary id, for model tokenizers
    shown: str = ""  # how to draw the piece when it differs from `text` (jamo)
    byte_values: tuple[int, ...] = ()  # the bytes it stands for, for model tokenizers

    def as_json(self) -> dict:
        return {
            "text": self.text,
            "piece": self.piece,
            "id": self.id,
            "start": self.start,
            "end": self.end,
            "oov": self.oov,
            "special": self.special,
        }


@dataclass(frozen=True)
class Segmentation:
    """One tokenizer's view of a text: its pieces and its vocabulary size."""

    name: str  # a model id or one of BASELINES
    kind: str  # "model" or "baseline"
    unit: str  # "byte-level BPE", "WordPiece", "word", "character", "jamo" ...
    pieces: tuple[Piece, ...]
    vocab_size: int

    @property
    def count(self) -> int:
        return sum(1 for p in self.pieces if not p.special)

    @property
    def oov_count(self) -> int:
        return sum(1 for p in self.pieces if p.oov)

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "unit": self.unit,
            "count": self.count,
            "vocab_size": self.vocab_size,
            "oov": self.oov_count,
            "tokens": [p.as_json() for p in self.pieces],
        }


def is_syllable(ch: str) -> bool:
    return SYLLABLE_BASE <= ord(ch) < SYLLABLE_BASE + SYLLABLE_COUNT


def decompose_syllable(ch: str) -> str:
    """A Hangul syllable -> its 2 or 3 conjoining jamo (U+1100 block); others unchanged."""
    if not is_syllable(ch):
        return ch
    index = ord(ch) - SYLLABLE_BASE
    lead, rest = divmod(index, N_VOWELS * N_TAILS)
    vowel, tail = divmod(rest, N_TAILS)
    jamo = chr(LEAD_BASE + lead) + chr(VOWEL_BASE + vowel)
    return jamo + (chr(TAIL_BASE + tail) if tail else "")


def decompose(text: str) -> str:
    """Every Hangul syllable of `text` decomposed into conjoining jamo."""
    return "".join(decompose_syllable(ch) for ch in text)


def _index(ch: str, base: int, count: int) -> int | None:
    offset = ord(ch) - base if ch else -1
    return offset if 0 <= offset < count else None


def recompose(jamo: str) -> str:
    """Conjoining jamo -> Hangul syllables (lead + vowel [+ tail]); others unchanged."""
    out: list[str] = []
    i = 0
    while i < len(jamo):
        lead = _index(jamo[i], LEAD_BASE, N_LEADS)
        vowel = _index(jamo[i + 1], VOWEL_BASE, N_VOWELS) if i + 1 < len(jamo) else None
        if lead is None or vowel is None:
            out.append(jamo[i])
            i += 1
            continue
        tail = _index(jamo[i + 2], TAIL_BASE, N_TAILS) if i + 2 < len(jamo) else None
        tail = tail if tail else 0
        out.append(chr(SYLLABLE_BASE + (lead * N_VOWELS + vowel) * N_TAILS + tail))
        i += 3 if tail else 2
    return "".join(out)


def compatibility_jamo(ch: str) -> str:
    """A conjoining jamo drawn as its standalone letter (ᄂ -> ㄴ), for display."""
    for base, count, letters in (
        (LEAD_BASE, N_LEADS, COMPAT_LEADS),
        (VOWEL_BASE, N_VOWELS, COMPAT_VOWELS),
        (TAIL_BASE + 1, N_TAILS - 1, COMPAT_TAILS),
    ):
        index = _index(ch, base, count)
        if index is not None:
            return letters[index]
    return ch


@lru_cache(maxsize=1)
def reference_text() -> str:
    return "\n".join((ASSETS / name).read_text(encoding="utf-8") for name in CORPUS_FILES)


@lru_cache(maxsize=1)
def word_vocabulary() -> frozenset[str]:
    """Every (lowercased) word and punctuation mark of the reference text."""
    return frozenset(w.lower() for w in _WORD.findall(reference_text()))


def _ascii() -> set[str]:
    return {chr(c) for c in range(0x20, 0x7F)} | set(WHITESPACE)


@lru_cache(maxsize=1)
def char_vocabulary() -> frozenset[str]:
    syllables = {chr(SYLLABLE_BASE + i) for i in range(SYLLABLE_COUNT)}
    corpus = {ch for ch in reference_text() if not ch.isspace()}
    return frozenset(_ascii() | syllables | corpus)


@lru_cache(maxsize=1)
def jamo_vocabulary() -> frozenset[str]:
    jamo = (
        {chr(LEAD_BASE + i) for i in range(N_LEADS)}
        | {chr(VOWEL_BASE + i) for i in range(N_VOWELS)}
        | {chr(TAIL_BASE + i) for i in range(1, N_TAILS)}
    )
    corpus = {ch for ch in reference_text() if not ch.isspace() and not is_syllable(ch)}
    return frozenset(_ascii() | jamo | corpus)


def word_level(text: str) -> Segmentation:
    """Words and punctuation marks; a word not in the reference text is [UNK]."""
    vocab = word_vocabulary()
    pieces = []
    for match in _WORD.finditer(text):
        word = match.group()
        known = word.lower() in vocab
        pieces.append(
            Piece(word, word.lower() if known else UNK, match.start(), match.end(), not known)
        )
    return Segmentation(WORD, "baseline", "word", tuple(pieces), len(vocab) + 1)


def character_level(text: str) -> Segmentation:
    """One token per character (spaces included); unseen characters are [UNK]."""
    vocab = char_vocabulary()
    pieces = tuple(
        Piece(ch, ch if ch in vocab else UNK, i, i + 1, ch not in vocab)
        for i, ch in enumerate(text)
    )
    return Segmentation(CHAR, "baseline", "character", pieces, len(vocab) + 1)


def jamo_level(text: str) -> Segmentation:
    """Hangul syllables as 2-3 jamo tokens sharing the syllable's span; the rest per character."""
    vocab = jamo_vocabulary()
    pieces: list[Piece] = []
    for i, ch in enumerate(text):
        for jamo in decompose_syllable(ch):
            known = jamo in vocab
            shown = compatibility_jamo(jamo)
            pieces.append(Piece(ch, jamo if known else UNK, i, i + 1, not known, shown=shown))
    return Segmentation(JAMO, "baseline", "jamo", tuple(pieces), len(vocab) + 1)


SEGMENTERS = {WORD: word_level, CHAR: character_level, JAMO: jamo_level}


def segment(name: str, text: str) -> Segmentation:
    """The baseline `name` (one of BASELINES) applied to `text`."""
    return SEGMENTERS[name](text)
