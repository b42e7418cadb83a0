"""Token bookkeeping: display text from offsets, raw vocabulary pieces, byte values.

Display text always comes from the input (`text[start:end]`), never from
decoding a single token: under byte-level BPE one Korean syllable is ~3 tokens
and decoding one of them alone gives '�'.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

_SP_BYTE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


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


def is_byte_level(tokenizer) -> bool:
    """True for byte-level BPE tokenizers (GPT-2, SmolLM2, Llama 3 ...)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    decoder = json.loads(backend.to_str()).get("decoder") or {}
    kinds = [decoder.get("type")] + [d.get("type") for d in decoder.get("decoders", [])]
    return "ByteLevel" in kinds


def piece_bytes(piece: str, text: str, byte_level: bool) -> tuple[int, ...]:
    """The bytes a vocabulary piece stands for."""
    match = _SP_BYTE.match(piece)
    if match:
        return (int(match.group(1), 16),)
    table = byte_decoder()
    if byte_level and all(ch in table for ch in piece):
        return tuple(table[ch] for ch in piece)
    return tuple(text.encode("utf-8"))


def build_tokens(tokenizer, encoding, texts: tuple[str, ...]) -> tuple[TokenInfo, ...]:
    """TokenInfo for every position of a fast-tokenizer `encoding` of `texts`."""
    ids = encoding["input_ids"]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    special_mask = encoding.get("special_tokens_mask") or [0] * len(ids)
    offsets = encoding.get("offset_mapping") or [(0, 0)] * len(ids)
    sequence_ids = encoding.sequence_ids() if encoding.is_fast else [0] * len(ids)
    word_ids = encoding.word_ids() if encoding.is_fast else [None] * len(ids)
    type_ids = encoding.get("token_type_ids") or [0] * len(ids)
    byte_level = is_byte_level(tokenizer)
    tokens = []
    for i, token_id in enumerate(ids):
        special = bool(special_mask[i])
        sentence = sequence_ids[i] if sequence_ids[i] is not None else type_ids[i]
        start, end = (0, 0) if special else offsets[i]
        shown = pieces[i] if special else texts[sentence][start:end]
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
                byte_values=() if special else piece_bytes(pieces[i], shown, byte_level),
            )
        )
    return tuple(tokens)
