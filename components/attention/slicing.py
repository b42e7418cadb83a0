"""Re-slicing the cached Analysis for the attention views (no model, no Gradio widgets).

A "part" names one attention stack of the model:

- ``self``: the model's self-attention (the encoder's, for an encoder-decoder),
- ``decoder``: an encoder-decoder's decoder self-attention (causal),
- ``cross``: an encoder-decoder's cross-attention (decoder queries, encoder keys).

Shapes: L layers, H heads, Q query tokens (rows), K key tokens (columns).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import gradio as gr
import numpy as np

from components.page.context import escape
from components.page.i18n import t
from models.analysis import Analysis
from models.lenses.head_stats import HeadStats, head_stats
from models.loading.catalog import DECODER, ENCODER_DECODER
from models.tokens import TokenInfo

SELF, DECODER_SELF, CROSS = "self", "decoder", "cross"
PARTS = (SELF, DECODER_SELF, CROSS)
MAX_LABEL_CHARS = 12  # a token label is cut to this many characters ...
SHORT_LABEL_CHARS = 6  # ... or to this many past LONG_INPUT tokens
LONG_INPUT = 60


@dataclass(frozen=True)
class AttentionView:
    """What one heatmap shows: weights [Q, K] with one label per row and per column."""

    weights: np.ndarray  # [Q, K] float32, rows = queries; each row sums to 1
    query_labels: tuple[str, ...]  # Q, unique, HTML-escaped
    key_labels: tuple[str, ...]  # K, unique, HTML-escaped
    causal: bool  # True: weights above the diagonal are masked (future keys)
    part: str
    layer: int
    head: int  # -1 = mean over heads
    hidden_specials: int  # how many special tokens were removed (0 when shown)


def parts_of(analysis: Analysis) -> tuple[str, ...]:
    """The attention stacks this model has."""
    return PARTS if analysis.family == ENCODER_DECODER else (SELF,)


def _check_part(analysis: Analysis, part: str) -> str:
    part = part or SELF
    if part not in parts_of(analysis):
        raise gr.Error(f"'{part}' attention is only shown for encoder-decoder models.")
    return part


def layer_stack(analysis: Analysis, part: str) -> np.ndarray:
    """[L, H, Q, K] weights of one part (a view into the cached arrays, never a copy)."""
    part = _check_part(analysis, part)
    if part == DECODER_SELF:
        return analysis.decoder_attentions
    if part == CROSS:
        return analysis.cross_attentions
    return analysis.attentions


def query_tokens(analysis: Analysis, part: str) -> tuple[TokenInfo, ...]:
    """The tokens on the rows: the decoder's for decoder and cross-attention."""
    return analysis.decoder_tokens if part in (DECODER_SELF, CROSS) else analysis.tokens


def key_tokens(analysis: Analysis, part: str) -> tuple[TokenInfo, ...]:
    """The tokens on the columns: the decoder's only for decoder self-attention."""
    return analysis.decoder_tokens if part == DECODER_SELF else analysis.tokens


def is_causal(analysis: Analysis, part: str) -> bool:
    """Whether this part masks future keys (decoder self-attention)."""
    return part == DECODER_SELF or (part == SELF and analysis.family == DECODER)


def head_weights(stack: np.ndarray, layer: int, head: int, lang: str = "en") -> np.ndarray:
    """[Q, K] weights of one head of `stack` [L, H, Q, K]; head -1 = mean over heads."""
    n_layers, n_heads = stack.shape[:2]
    if not 0 <= layer < n_layers:
        raise gr.Error(t("attention.error_layer", lang, last=n_layers - 1))
    if not -1 <= head < n_heads:
        raise gr.Error(t("attention.error_head", lang, last=n_heads - 1))
    return stack[layer].mean(axis=0) if head == -1 else stack[layer, head]


def drop_special_tokens(
    weights: np.ndarray, query_special: np.ndarray, key_special: np.ndarray
) -> np.ndarray:
    """[Q', K'] weights without special rows/columns, each row renormalised to sum to 1.

    A row whose whole weight was on special tokens keeps zeros (nothing to share).
    """
    kept = weights[~query_special][:, ~key_special]
    sums = kept.sum(axis=1, keepdims=True)
    return np.divide(kept, sums, out=np.zeros_like(kept), where=sums > 0)


def token_label(token: TokenInfo, decoder_side: bool = False) -> str:
    """What a student reads for one token: its text, spaces and line breaks made visible."""
    text = token.text
    if decoder_side and not token.special:
        text = text.replace("Ġ", " ").replace("▁", " ")
    shown = text.strip().replace("\n", "⏎").replace("\t", "⇥")
    return shown or ("␣" if text else "∅")


def token_labels(
    tokens: tuple[TokenInfo, ...],
    decoder_side: bool = False,
    positions: tuple[int, ...] | None = None,
) -> tuple[str, ...]:
    """Unique, escaped axis labels "position text"; text cut short past LONG_INPUT tokens.

    `positions` are the tokens' places in the input (they differ from 0, 1, 2 ...
    once special tokens are hidden). Tokens that share one character (byte
    pieces of a Korean syllable) get "(2/3)".
    """
    limit = SHORT_LABEL_CHARS if len(tokens) > LONG_INPUT else MAX_LABEL_CHARS
    positions = positions or tuple(range(len(tokens)))
    labels = []
    for i, token in enumerate(tokens):
        text = token_label(token, decoder_side)
        text = text if len(text) <= limit else text[: limit - 1] + "…"
        piece, pieces = _piece_of_character(tokens, i)
        if pieces > 1:
            text = f"{text} ({piece}/{pieces})"
        labels.append(escape(f"{positions[i]} {text}"))
    return tuple(labels)


def _piece_of_character(tokens: tuple[TokenInfo, ...], i: int) -> tuple[int, int]:
    """(n, of) when token i is the n-th of `of` tokens covering the same characters."""
    token = tokens[i]
    if token.special or token.start == token.end:
        return 1, 1

    def same(j: int) -> bool:
        other = tokens[j]
        return not other.special and (other.start, other.end, other.sentence) == (
            token.start,
            token.end,
            token.sentence,
        )

    first = i
    while first > 0 and same(first - 1):
        first -= 1
    last = i
    while last + 1 < len(tokens) and same(last + 1):
        last += 1
    return i - first + 1, last - first + 1


def attention_view(
    analysis: Analysis, part: str, layer: int, head: int, hide_special: bool, lang: str = "en"
) -> AttentionView:
    """One heatmap's data, re-sliced from the cached arrays (no forward pass)."""
    part = _check_part(analysis, part)
    weights = head_weights(layer_stack(analysis, part), int(layer), int(head), lang)
    queries, keys = query_tokens(analysis, part), key_tokens(analysis, part)
    query_at, key_at = tuple(range(len(queries))), tuple(range(len(keys)))
    hidden = 0
    if hide_special:
        query_special = np.array([q.special for q in queries], dtype=bool)
        key_special = np.array([k.special for k in keys], dtype=bool)
        if query_special.all() or key_special.all():
            raise gr.Error(t("attention.error_only_special", lang))
        weights = drop_special_tokens(weights, query_special, key_special)
        query_at = tuple(int(i) for i in np.flatnonzero(~query_special))
        key_at = tuple(int(i) for i in np.flatnonzero(~key_special))
        queries = tuple(queries[i] for i in query_at)
        keys = tuple(keys[i] for i in key_at)
        same_tokens = part != CROSS  # rows and columns are the same tokens
        hidden = int(key_special.sum() + (0 if same_tokens else query_special.sum()))
    decoder_rows = part in (DECODER_SELF, CROSS)
    return AttentionView(
        weights=np.asarray(weights, dtype=np.float32),
        query_labels=token_labels(queries, decoder_rows, query_at),
        key_labels=token_labels(keys, part == DECODER_SELF, key_at),
        causal=is_causal(analysis, part),
        part=part,
        layer=int(layer),
        head=int(head),
        hidden_specials=hidden,
    )


class _StatsCache:
    """Head statistics per (analysis, part), computed once; bounded like the results."""

    def __init__(self, size: int = 8) -> None:
        self._items: OrderedDict[tuple, HeadStats] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, analysis: Analysis, part: str) -> HeadStats:
        stack = layer_stack(analysis, part)
        key = (analysis.model_id, analysis.text, analysis.text_pair, part, id(stack))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        stats = head_stats(stack)
        with self._lock:
            self._items[key] = stats
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return stats


_STATS = _StatsCache()


def stats_for(analysis: Analysis, part: str) -> HeadStats:
    """[L, H] head statistics of one part (cached: measured once per analysis).

    Only self-attention is measured: in cross-attention a key's position has no
    "previous" or "self" relation to the query's.
    """
    if part == CROSS:
        raise gr.Error("Head patterns are measured on self-attention only.")
    return _STATS.get(analysis, part)
