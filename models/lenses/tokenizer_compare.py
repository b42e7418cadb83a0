"""Tokenizers without their models: load one cheaply, tokenize, compare several.

The Tokenization panel's comparison runs tokenizers only (no forward pass).
A tokenizer already held by a loaded model is reused; otherwise only the
tokenizer files are read (SmolLM2's in ~2 s, Gemma's 262k vocabulary in ~6 s),
into a small bounded cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from transformers import AutoConfig, AutoTokenizer

from models.analysis import _refuse_lone_surrogates
from models.errors import AnatomyError
from models.lenses import baselines
from models.lenses.baselines import Piece, Segmentation
from models.loading import bundled
from models.loading.catalog import BUNDLED
from models.loading.load import MODELS, family_of
from models.loading.source import hub_refusal, resolve
from models.tokens import TokenInfo, TokenizerKind, build_tokens, tokenizer_kind

MAX_TEXT_CHARS = 20_000
MAX_TOKENIZERS = 6


@dataclass(frozen=True)
class LoadedTokenizer:
    model_id: str
    tokenizer: object
    family: str


@dataclass(frozen=True)
class TokenizedText:
    """A text (and optional second sentence) as a tokenizer encodes it. T = tokens."""

    model_id: str
    family: str
    texts: tuple[str, ...]
    tokens: tuple[TokenInfo, ...]  # T
    input_ids: np.ndarray  # [T] int64
    attention_mask: np.ndarray  # [T] int64
    token_type_ids: np.ndarray | None  # [T] sentence A/B, where the tokenizer makes them


@dataclass(frozen=True)
class TokenizerFacts:
    """What the statistics need to know about a tokenizer besides one text."""

    vocab_size: int
    kind: TokenizerKind
    unk_id: int | None


class TokenizerCache:
    """Tokenizers by model id, bounded, least recently used out; one load per id."""

    def __init__(self, limit: int = MAX_TOKENIZERS) -> None:
        self.limit = limit
        self._items: OrderedDict[str, LoadedTokenizer] = OrderedDict()
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}
        self.loads = 0  # tokenizer-only loads that actually ran (tests read it)

    def get(self, model_id: str) -> LoadedTokenizer:
        model_id = (model_id or "").strip()
        if model_id in MODELS.loaded_ids():
            loaded = MODELS.get(model_id)
            return LoadedTokenizer(model_id, loaded.tokenizer, loaded.family)
        with self._lock:
            if model_id in self._items:
                self._items.move_to_end(model_id)
                return self._items[model_id]
            load_lock = self._load_locks.setdefault(model_id, threading.Lock())
        with load_lock:
            with self._lock:
                if model_id in self._items:
                    return self._items[model_id]
            result = _load_tokenizer(model_id)
            with self._lock:
                self.loads += 1
                self._items[model_id] = result
                while len(self._items) > self.limit:
                    self._items.popitem(last=False)
            return result

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _load_tokenizer(model_id: str) -> LoadedTokenizer:
    source = resolve(model_id)
    if source.bundled and not bundled.is_prepared(model_id):
        bundled.prepare(model_id)
    common = {"local_files_only": source.local_files_only, "trust_remote_code": False}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path, **common)
        family = family_of(AutoConfig.from_pretrained(source.path, **common))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        refusal = hub_refusal(exc, model_id)
        if refusal is not None:
            raise refusal from exc
        raise AnatomyError(
            f"'{model_id}' could not be loaded: {str(exc).splitlines()[0][:200]}",
            key="error.load_failed",
            model=model_id,
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise AnatomyError(
            f"'{model_id}' has no fast tokenizer, so its character offsets can't be shown.",
            key="tok.error.slow",
            model=model_id,
        )
    return LoadedTokenizer(model_id, tokenizer, family)


TOKENIZERS = TokenizerCache()


def load_tokenizer(model_id: str) -> LoadedTokenizer:
    """The tokenizer of `model_id` (a loaded model's own, or loaded alone and cached)."""
    return TOKENIZERS.get(model_id)


def _check_text(text: str | None) -> str:
    if text is None or not str(text).strip():
        raise AnatomyError("Type a sentence first: the text is empty.", key="error.empty_text")
    text = str(text)
    _refuse_lone_surrogates(text)
    if len(text) > MAX_TEXT_CHARS:
        raise AnatomyError(
            f"The text is {len(text)} characters long; the limit here is {MAX_TEXT_CHARS}.",
            key="tok.error.too_long",
            count=len(text),
            limit=MAX_TEXT_CHARS,
        )
    return text


def tokenize_text(
    model_id: str, text: str, text_pair: str | None = None, add_special_tokens: bool = True
) -> TokenizedText:
    """Encode like the model's own tokenizer does (offsets, specials, sentence ids)."""
    text = _check_text(text)
    loaded = load_tokenizer(model_id)
    pair = text_pair if text_pair and text_pair.strip() else None
    encoding = loaded.tokenizer(
        text,
        pair,
        add_special_tokens=add_special_tokens,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        truncation=False,
    )
    texts = (text,) if pair is None else (text, pair)
    type_ids = encoding.get("token_type_ids")
    return TokenizedText(
        model_id=loaded.model_id,
        family=loaded.family,
        texts=texts,
        tokens=build_tokens(loaded.tokenizer, encoding, texts),
        input_ids=np.asarray(encoding["input_ids"], dtype=np.int64),
        attention_mask=np.asarray(encoding["attention_mask"], dtype=np.int64),
        token_type_ids=None if type_ids is None else np.asarray(type_ids, dtype=np.int64),
    )


def tokenizer_facts(model_id: str) -> TokenizerFacts:
    tokenizer = load_tokenizer(model_id).tokenizer
    return TokenizerFacts(len(tokenizer), tokenizer_kind(tokenizer), tokenizer.unk_token_id)


def decode_round_trip(model_id: str, ids: list[int]) -> tuple[str, str]:
    """The ids decoded back to text: (with special tokens, skip_special_tokens=True)."""
    tokenizer = load_tokenizer(model_id).tokenizer
    ids = [int(i) for i in ids]
    return tokenizer.decode(ids), tokenizer.decode(ids, skip_special_tokens=True)


def segment_with_tokenizer(model_id: str, text: str) -> Segmentation:
    """A model tokenizer's pieces of `text`, without special tokens, as a Segmentation."""
    encoded = tokenize_text(model_id, text, add_special_tokens=False)
    facts = tokenizer_facts(model_id)
    pieces = tuple(
        Piece(
            tok.text,
            tok.piece,
            tok.start,
            tok.end,
            oov=facts.unk_id is not None and tok.id == facts.unk_id,
            special=tok.special,
            id=tok.id,
            byte_values=tok.byte_values,
        )
        for tok in encoded.tokens
    )
    return Segmentation(encoded.model_id, "model", facts.kind.label, pieces, facts.vocab_size)


def default_comparison() -> list[str]:
    """Bundled and currently loaded models' tokenizers, then the three baselines."""
    ids = [entry.id for entry in BUNDLED] + MODELS.loaded_ids()
    return list(dict.fromkeys(ids)) + list(baselines.BASELINES)


def compare_tokenizers(text: str, names: list[str] | None = None) -> list[Segmentation]:
    """`text` through each named tokenizer (model ids or baseline names), in order."""
    text = _check_text(text)
    names = [n.strip() for n in (names or default_comparison()) if n and n.strip()]
    return [
        baselines.segment(name, text)
        if name in baselines.BASELINES
        else segment_with_tokenizer(name, text)
        for name in dict.fromkeys(names)
    ]
