"""The vocabulary side of the embedding views: the embedding matrix and a background sample.

The background is a few thousand common, word-like tokens (lowest ids first,
which in BPE / WordPiece vocabularies are the most frequent), with a share kept
for Hangul so Korean sentences land among Korean words. Gemma's vocabulary is
262k x 640: only this sample is ever projected or sent to the browser.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np
import torch

from models.device import gpu_task, model_device, to_numpy
from models.loading.catalog import ENCODER_DECODER
from models.loading.load import load_model
from models.tokens import byte_decoder, is_byte_level

BACKGROUND_WORDS = 2000  # token-embedding background (a matrix lookup, cheap)
CONTEXT_FREE_WORDS = 300  # background passed through the model for layer views
HANGUL_SHARE = 0.25
CHUNK = 64  # sequences per forward pass, so other requests can take the model lock
_STATES: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
_STATES_LOCK = threading.Lock()
_COMPUTE_LOCK = threading.Lock()  # one background run at a time
MAX_STATE_MODELS = 2
_COPIES: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()  # CPU copies of embeddings


def embedding_matrix(model_id: str) -> np.ndarray:
    """[V, D] the input-embedding weights as float32 on the CPU, before any scale.

    A view of a CPU model's own weights; for a model on CUDA (or in half precision)
    a CPU copy, kept for the last two such models.
    """
    weight = load_model(model_id).model.get_input_embeddings().weight
    if weight.device.type == "cpu" and weight.dtype == torch.float32:
        return weight.detach().numpy()
    key = (model_id, id(weight))
    with _STATES_LOCK:
        if key in _COPIES:
            _COPIES.move_to_end(key)
            return _COPIES[key]
    copy = to_numpy(weight)
    with _STATES_LOCK:
        _COPIES[key] = copy
        while len(_COPIES) > MAX_STATE_MODELS:
            _COPIES.popitem(last=False)
    return copy


def embedding_scale(model_id: str) -> float:
    """The factor the embedding layer multiplies its lookup by (Gemma: sqrt(D)), else 1."""
    module = load_model(model_id).model.get_input_embeddings()
    return float(getattr(module, "embed_scale", 1.0))


def token_vectors(model_id: str, ids: np.ndarray) -> np.ndarray:
    """[N] ids -> [N, D] exactly what the embedding layer outputs for them."""
    return embedding_matrix(model_id)[np.asarray(ids)] * np.float32(embedding_scale(model_id))


def piece_text(piece: str, byte_level: bool) -> str | None:
    """The text a vocabulary piece stands for ('Ġdog' -> ' dog'), None if not whole UTF-8."""
    if byte_level:
        table = byte_decoder()
        if not all(ch in table for ch in piece):
            return None
        try:
            return bytes(table[ch] for ch in piece).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return piece.replace("▁", " ")


def _is_hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def _is_word(text: str, marks_spaces: bool) -> bool:
    word = text.strip()
    if marks_spaces and not text.startswith(" "):
        return False  # a piece inside a word ('ing'), not a word of its own
    return word.isalpha() and (len(word) >= 2 or _is_hangul(word))


@lru_cache(maxsize=8)
def background_ids(model_id: str, n: int = BACKGROUND_WORDS) -> np.ndarray:
    """[N] ids of common word-like tokens, ascending; up to a quarter of them Hangul."""
    tokenizer = load_model(model_id).tokenizer
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    byte_level = is_byte_level(tokenizer)
    marks_spaces = any(p and p[0] in "Ġ▁" for p in pieces[:5000] if isinstance(p, str))
    special = set(tokenizer.all_special_ids)
    hangul_quota = int(n * HANGUL_SHARE)
    latin, hangul = [], []
    for token_id, piece in enumerate(pieces):
        if token_id in special or not isinstance(piece, str) or piece.startswith("##"):
            continue
        text = piece_text(piece, byte_level)
        if text is None or not _is_word(text, marks_spaces):
            continue
        bucket = hangul if _is_hangul(text) else latin
        bucket.append(token_id)
        if len(latin) >= n and len(hangul) >= hangul_quota:
            break
    chosen = hangul[:hangul_quota]
    chosen += latin[: n - len(chosen)]
    return np.array(sorted(chosen), dtype=np.int64)


def word_text(model_id: str, token_id: int) -> str:
    """Readable text of one vocabulary token (for hover labels and neighbour lists)."""
    tokenizer = load_model(model_id).tokenizer
    piece = tokenizer.convert_ids_to_tokens(int(token_id))
    byte_level = is_byte_level(tokenizer)
    text = piece_text(piece, byte_level)
    if text is None and byte_level and all(ch in byte_decoder() for ch in piece):
        return "".join(f"<0x{byte_decoder()[ch]:02X}>" for ch in piece)  # part of a character
    return piece if text is None else text


def _special_frame(tokenizer) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a text ([CLS] ... [SEP], <bos> ...)."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return full[:start], full[start + len(plain) :]
    return [], []


def _base_model(loaded) -> torch.nn.Module:
    """The stack without its output head (Gemma's 262k-way head is most of its cost)."""
    if loaded.family == ENCODER_DECODER:
        return loaded.model.get_encoder()
    return getattr(loaded.model, "base_model", loaded.model)


@gpu_task
def run_context_free(model_id: str, ids: np.ndarray) -> np.ndarray:
    """[L+1, N, D] hidden states of each id read alone (see context_free_states); under
    spaces.GPU on ZeroGPU."""
    loaded = load_model(model_id)
    prefix, suffix = _special_frame(loaded.tokenizer)
    bos = loaded.tokenizer.bos_token_id
    if not prefix and bos is not None:
        prefix = [bos]  # keep sample words off position 0, where decoders park attention
    where = len(prefix)
    base = _base_model(loaded)
    chunks = []
    for start in range(0, len(ids), CHUNK):
        batch = [prefix + [int(i)] + suffix for i in ids[start : start + CHUNK]]
        input_ids = torch.tensor(batch, device=model_device(base))
        with loaded.lock, torch.inference_mode():
            out = base(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                output_hidden_states=True,
            )
        states = torch.stack(out.hidden_states)[:, :, where]  # [L+1, chunk, D]
        chunks.append(to_numpy(states))
    return np.concatenate(chunks, axis=1)


def states_ready(model_id: str) -> bool:
    """Whether the context-free background states of this model are computed already."""
    with _STATES_LOCK:
        return model_id in _STATES


def context_free_states(model_id: str) -> tuple[np.ndarray, np.ndarray]:
    """([L+1, N, D] hidden states, [N] ids) of sample words each read alone.

    Each word is framed like a one-word input (the tokenizer's specials, or BOS
    first), so layer l of it is comparable with layer l of a sentence's token.
    """
    with _STATES_LOCK:
        if model_id in _STATES:
            _STATES.move_to_end(model_id)
            return _STATES[model_id]
    with _COMPUTE_LOCK:
        with _STATES_LOCK:
            if model_id in _STATES:
                return _STATES[model_id]
        ids = background_ids(model_id)
        step = max(1, len(ids) // CONTEXT_FREE_WORDS)
        ids = ids[::step][:CONTEXT_FREE_WORDS]
        result = (run_context_free(model_id, ids), ids)
        with _STATES_LOCK:
            _STATES[model_id] = result
            while len(_STATES) > MAX_STATE_MODELS:
                _STATES.popitem(last=False)
        return result


def word_vectors(model_id: str, words: list[str]) -> tuple[np.ndarray, list[list[str]]]:
    """[W, D] input embeddings of words (mean over a word's pieces) and each word's pieces.

    Each word is tokenized as it appears mid-sentence (after a space).
    """
    loaded = load_model(model_id)
    tokenizer = loaded.tokenizer
    vectors, pieces = [], []
    for word in words:
        ids = tokenizer(" " + word, add_special_tokens=False)["input_ids"]
        ids = [i for i in ids if tokenizer.decode([i]).strip()] or ids
        vectors.append(token_vectors(model_id, np.array(ids)).mean(axis=0))
        pieces.append(tokenizer.convert_ids_to_tokens(ids))
    return np.stack(vectors), pieces
