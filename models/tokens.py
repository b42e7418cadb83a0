"""Token bookkeeping: display text from offsets, raw vocabulary pieces, byte values.

Display text always comes from the input (`text[start:end]`), never from
decoding a single token: under byte-level BPE one Korean syllable is ~3 tokens
and decoding one of them alone gives '�'. Tokens that share one user-perceived
character (a Hangul syllable, an emoji with ZWJ, a letter with a combining
accent) are grouped under it by `group_by_character`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

import regex

_SP_BYTE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
_GRAPHEME = regex.compile(r"\X")


@dataclass(frozen=True)
class TokenInfo:
    """One token of the analysed input."""

    id: int
    text: str  # what it covers in the input (text[start:end]); the piece for specials
    piece: str  # the raw vocabulary string (Ġ, ▁, ##, <0xEC> ...)
    start: int  # character offsets into its sentence; (0, 0) for special tokens
    end: int
    special: bool
    word_id: int | None  # which word of its sentence it belongs to (None for specials)
    sentence: int  # 0 for the text, 1 for the second sentence
    byte_values: tuple[int, ...]  # the bytes this token stands for

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "special": self.special,
        }


@dataclass(frozen=True)
class TokenizerKind:
    """What kind of tokenizer this is, read from its backend (no tokenizing needed)."""

    algorithm: str  # "BPE", "WordPiece", "Unigram", "WordLevel" or the class name
    byte_level: bool  # GPT-2 style: every byte is a printable vocabulary character
    byte_fallback: bool  # SentencePiece style <0xNN> pieces for unseen characters
    subword_prefix: str | None  # "##" for WordPiece continuations
    space_marker: str | None  # "▁" where spaces become a visible marker
    normalization: tuple[str, ...]  # e.g. ("lowercase", "strip_accents", "nfkc")

    @property
    def label(self) -> str:
        return "byte-level BPE" if self.byte_level else self.algorithm


@lru_cache(maxsize=1)
def byte_decoder() -> dict[str, int]:
    """GPT-2's printable-character -> byte table, inverted (Ġ -> 0x20)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, codes, strict=False)}


def _state(component) -> dict:
    """A backend component (normalizer, decoder ...) as JSON, without the vocabulary.

    `backend.to_str()` serialises the whole vocabulary (1.4 s for Gemma's 262k);
    each component's own state is tiny.
    """
    if component is None:
        return {}
    return json.loads(component.__getstate__())


def _types(state: dict, nested: str) -> list[dict]:
    """A component and, for a Sequence, its members."""
    return [state, *state.get(nested, [])] if state else []


def _normalization(state: dict) -> tuple[str, ...]:
    notes: list[str] = []
    for part in _types(state, "normalizers"):
        kind = part.get("type", "")
        if kind == "BertNormalizer":
            lowercase = bool(part.get("lowercase"))
            strip = part.get("strip_accents")
            notes += ["lowercase"] if lowercase else []
            notes += ["strip_accents"] if strip or (strip is None and lowercase) else []
        elif kind in ("Lowercase", "StripAccents", "NFD", "NFC", "NFKC", "NFKD"):
            notes.append(
                {"Lowercase": "lowercase", "StripAccents": "strip_accents"}.get(kind, kind.lower())
            )
        elif kind == "Replace" and part.get("pattern", {}).get("String") == " ":
            notes.append("space_marker")
    return tuple(dict.fromkeys(notes))


@lru_cache(maxsize=32)
def tokenizer_kind(tokenizer) -> TokenizerKind:
    """Algorithm, byte handling and normalization of a fast tokenizer."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return TokenizerKind(type(tokenizer).__name__, False, False, None, None, ())
    model = backend.model
    decoders = _types(_state(backend.decoder), "decoders")
    pre = _types(_state(backend.pre_tokenizer), "pretokenizers")
    normalization = _normalization(_state(backend.normalizer))
    kinds = {d.get("type") for d in decoders + pre}
    marker = "▁" if "Metaspace" in kinds or "space_marker" in normalization else None
    prefix = getattr(model, "continuing_subword_prefix", None) or None
    return TokenizerKind(
        algorithm=type(model).__name__,
        byte_level="ByteLevel" in {d.get("type") for d in decoders},
        byte_fallback=bool(getattr(model, "byte_fallback", False)),
        subword_prefix=prefix if type(model).__name__ == "WordPiece" else None,
        space_marker=marker,
        normalization=normalization,
    )


def is_byte_level(tokenizer) -> bool:
    """True for byte-level BPE tokenizers (GPT-2, SmolLM2, Llama 3 ...)."""
    return tokenizer_kind(tokenizer).byte_level


def piece_bytes(
    piece: str, text: str, kind: TokenizerKind | bool, unknown: bool = False
) -> tuple[int, ...]:
    """The bytes a vocabulary piece stands for.

    Byte-level pieces map back through GPT-2's table, `<0xNN>` pieces are one
    byte, WordPiece continuations lose their `##`, `▁` is a space. An unknown
    token stands for the input it replaced (`text`). For WordPiece these are
    the bytes of the *normalized* text the model saw (lowercased, accents off).
    """
    if isinstance(kind, bool):  # older call style: byte_level flag only
        kind = TokenizerKind("", kind, False, None, None, ())
    match = _SP_BYTE.match(piece)
    if match:
        return (int(match.group(1), 16),)
    table = byte_decoder()
    if kind.byte_level and piece and all(ch in table for ch in piece):
        return tuple(table[ch] for ch in piece)
    if unknown or not kind.algorithm:
        return tuple(text.encode("utf-8"))
    if kind.subword_prefix and piece.startswith(kind.subword_prefix):
        piece = piece[len(kind.subword_prefix) :]
    if kind.space_marker:
        piece = piece.replace(kind.space_marker, " ")
    return tuple(piece.encode("utf-8"))


def build_tokens(tokenizer, encoding, texts: tuple[str, ...]) -> tuple[TokenInfo, ...]:
    """TokenInfo for every position of a fast-tokenizer `encoding` of `texts`."""
    ids = encoding["input_ids"]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    special_mask = encoding.get("special_tokens_mask") or [0] * len(ids)
    offsets = encoding.get("offset_mapping") or [(0, 0)] * len(ids)
    sequence_ids = encoding.sequence_ids() if encoding.is_fast else [0] * len(ids)
    word_ids = encoding.word_ids() if encoding.is_fast else [None] * len(ids)
    type_ids = encoding.get("token_type_ids") or [0] * len(ids)
    kind = tokenizer_kind(tokenizer)
    unk_id = getattr(tokenizer, "unk_token_id", None)
    tokens = []
    for i, token_id in enumerate(ids):
        special = bool(special_mask[i])
        sentence = sequence_ids[i] if sequence_ids[i] is not None else type_ids[i]
        start, end = (0, 0) if special else offsets[i]
        shown = pieces[i] if special else texts[sentence][start:end]
        unknown = unk_id is not None and token_id == unk_id
        tokens.append(
            TokenInfo(
                id=int(token_id),
                text=shown,
                piece=pieces[i],
                start=int(start),
                end=int(end),
                special=special,
                word_id=None if special else word_ids[i],
                sentence=int(sentence),
                byte_values=() if special else piece_bytes(pieces[i], shown, kind, unknown),
            )
        )
    return tuple(tokens)


@dataclass(frozen=True)
class CharacterGroup:
    """Consecutive tokens that share user-perceived characters of one sentence.

    `indices` are positions in the token sequence; `start`/`end` the character
    span they cover together, widened to whole grapheme clusters, so a Hangul
    syllable split into 3 byte tokens, or an emoji with ZWJ split into 13,
    is drawn once with its tokens under it.
    """

    indices: tuple[int, ...]
    start: int
    end: int
    sentence: int
    special: bool


def grapheme_bounds(text: str) -> list[int]:
    """Character offsets where grapheme clusters start, plus len(text)."""
    return [m.start() for m in _GRAPHEME.finditer(text)] + [len(text)]


def _widen(start: int, end: int, bounds: list[int]) -> tuple[int, int]:
    """[start, end) widened to whole grapheme clusters."""
    import bisect

    if start == end:
        return start, end
    left = bounds[bisect.bisect_right(bounds, start) - 1]
    right = bounds[bisect.bisect_left(bounds, end)] if end <= bounds[-1] else end
    return left, right


def group_by_character(
    tokens: tuple[TokenInfo, ...], texts: tuple[str, ...]
) -> list[CharacterGroup]:
    """Tokens in order, grouped where their (grapheme-widened) spans overlap.

    Special tokens and tokens with an empty span stay alone.
    """
    bounds = [grapheme_bounds(text) for text in texts]
    groups: list[CharacterGroup] = []
    for i, tok in enumerate(tokens):
        if tok.special or tok.start == tok.end:
            groups.append(CharacterGroup((i,), tok.start, tok.end, tok.sentence, tok.special))
            continue
        start, end = _widen(tok.start, tok.end, bounds[tok.sentence])
        last = groups[-1] if groups else None
        if (
            last is not None
            and not last.special
            and last.sentence == tok.sentence
            and last.start < last.end
            and start < last.end
        ):
            groups[-1] = CharacterGroup(
                (*last.indices, i), last.start, max(end, last.end), tok.sentence, False
            )
        else:
            groups.append(CharacterGroup((i,), start, end, tok.sentence, False))
    return groups


def covered_text(tokens: tuple[TokenInfo, ...], text: str, sentence: int = 0) -> str:
    """The input as the tokens' offsets cover it, each character once, in order.

    Byte-level BPE gives several tokens the same span; this counts it once.
    Characters no token covers (spaces WordPiece drops) are left out, so for a
    lossless tokenizer the result equals `text`.
    """
    cursor = 0
    pieces = []
    for tok in tokens:
        if tok.special or tok.sentence != sentence:
            continue
        start = max(tok.start, cursor)
        if tok.end > start:
            pieces.append(text[start : tok.end])
            cursor = tok.end
    return "".join(pieces)
