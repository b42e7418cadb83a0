"""Step-by-step generation, one token per forward pass, and readable token text.

Each step reads the prompt plus the tokens picked so far and appends one more,
like `generate` without a key/value cache. Where the longer text tokenizes back
to exactly those ids, the step's logits come from its cached `Analysis` (so the
other panels can show that text at no extra cost); otherwise (a half-written
character, an unusual split) one logits-only pass runs on the ids themselves,
so greedy decoding always equals `model.generate(do_sample=False)` id for id.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from models.analysis import Analysis
from models.device import gpu_task, to_numpy
from models.errors import AnatomyError
from models.lenses.sampling import distribution
from models.loading.catalog import ENCODER_DECODER
from models.loading.load import LoadedModel, load_model
from models.results import get_analysis
from models.settings import settings
from models.tokens import is_byte_level, piece_bytes

REPLACEMENT = "\ufffd"
MAX_NEW_TOKENS = 50  # per request
_BYTE_LEVEL: dict[int, bool] = {}


def _byte_level(tokenizer) -> bool:
    key = id(tokenizer)
    if key not in _BYTE_LEVEL:
        _BYTE_LEVEL[key] = is_byte_level(tokenizer)
    return _BYTE_LEVEL[key]


def byte_label(tokenizer, ids) -> str:
    """The bytes `ids` stand for, as <EC><95> (for pieces of a character)."""
    pieces = tokenizer.convert_ids_to_tokens([int(i) for i in ids])
    values = [b for p in pieces for b in piece_bytes(p, "", _byte_level(tokenizer))]
    return "".join(f"<{b:02X}>" for b in values) if values else "".join(pieces)


def readable_token(tokenizer, token_id: int) -> str:
    """One vocabulary entry as text; a piece of a multi-byte character shows its bytes."""
    text = tokenizer.decode([int(token_id)])
    return byte_label(tokenizer, [token_id]) if REPLACEMENT in text else text


def group_ids(tokenizer, ids) -> list[tuple[str, tuple[int, ...]]]:
    """Split `ids` into (text, ids) groups so each group decodes to whole characters.

    Under byte-level BPE a Korean syllable is ~3 ids; decoded alone each gives
    '�', decoded together they give the syllable. A group that never completes
    (at most 4 bytes make a character) is shown as its bytes.
    """
    groups: list[tuple[str, tuple[int, ...]]] = []
    pending: list[int] = []
    for token_id in ids:
        pending.append(int(token_id))
        text = tokenizer.decode(pending)
        if REPLACEMENT not in text:
            groups.append((text, tuple(pending)))
            pending = []
        elif len(pending) >= 4:
            groups.append((byte_label(tokenizer, pending), tuple(pending)))
            pending = []
    if pending:
        groups.append((byte_label(tokenizer, pending), tuple(pending)))
    return groups


@dataclass(frozen=True)
class Step:
    """One generation step: what the model read, its logits, and the id it appended."""

    context: tuple[int, ...]  # ids read (decoder side for an encoder-decoder)
    logits: np.ndarray  # [V] logits for the token after `context`
    chosen: int  # the id appended at this step
    from_analysis: bool  # True if the logits came from the cached Analysis of a text


def prompt_ids(analysis: Analysis) -> tuple[int, ...]:
    """The ids the generation continues: the input, or the decoder input of a seq2seq."""
    ids = analysis.decoder_input_ids if analysis.family == ENCODER_DECODER else analysis.input_ids
    return tuple(int(i) for i in ids)


def continuation_text(tokenizer, prompt: tuple[int, ...], generated) -> str:
    """The text the generated ids add after the prompt (whole characters only)."""
    base = tokenizer.decode(list(prompt), skip_special_tokens=True)
    full = tokenizer.decode(list(prompt) + list(generated), skip_special_tokens=True)
    return full[len(base) :] if full.startswith(base) else tokenizer.decode(list(generated))


def _retokenizes(loaded: LoadedModel, analysis: Analysis, context, extended: str) -> bool:
    tok = loaded.tokenizer
    if analysis.family == ENCODER_DECODER:
        ids = [loaded.config.decoder_start_token_id]
        ids += tok(text_target=extended, add_special_tokens=False)["input_ids"]
    elif analysis.text_pair:
        ids = tok(analysis.text, extended)["input_ids"]
    else:
        ids = tok(extended)["input_ids"]
    return list(context) == list(ids)


class _LogitsCache:
    """Logits-only passes on id sequences that no text reproduces, bounded by count."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, loaded: LoadedModel, encoder_ids, context) -> np.ndarray:
        key = (loaded.model_id, encoder_ids, tuple(context))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        logits = forward_logits(loaded.model_id, encoder_ids, tuple(context))
        with self._lock:
            self._items[key] = logits
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return logits


@gpu_task
def forward_logits(model_id: str, encoder_ids, context) -> np.ndarray:
    """[V] float32 logits after the ids `context` (decoder side, after `encoder_ids`
    for an encoder-decoder): one logits-only pass, under spaces.GPU on ZeroGPU."""
    loaded = load_model(model_id)
    device = loaded.model.device
    ids = torch.tensor([list(context)], device=device)
    with loaded.lock, torch.inference_mode():
        if encoder_ids is None:
            out = loaded.model(input_ids=ids, attention_mask=torch.ones_like(ids))
        else:
            enc = torch.tensor([list(encoder_ids)], device=device)
            out = loaded.model(
                input_ids=enc, attention_mask=torch.ones_like(enc), decoder_input_ids=ids
            )
    return to_numpy(out.logits[0, -1])


LOGITS = _LogitsCache()


def step_logits(analysis: Analysis, generated) -> tuple[np.ndarray, bool]:
    """[V] logits after the prompt plus `generated`, and whether an Analysis gave them."""
    if not generated:
        return analysis.logits_last, True
    loaded = load_model(analysis.model_id)
    prompt = prompt_ids(analysis)
    context = prompt + tuple(int(i) for i in generated)
    added = continuation_text(loaded.tokenizer, prompt, generated)
    is_seq2seq = analysis.family == ENCODER_DECODER
    last_text = analysis.text_pair if (is_seq2seq or analysis.text_pair) else analysis.text
    extended = (last_text or "") + added
    if REPLACEMENT not in added and _retokenizes(loaded, analysis, context, extended):
        if is_seq2seq or analysis.text_pair:
            return get_analysis(analysis.model_id, analysis.text, extended).logits_last, True
        return get_analysis(analysis.model_id, extended).logits_last, True
    encoder_ids = tuple(int(i) for i in analysis.input_ids) if is_seq2seq else None
    return LOGITS.get(loaded, encoder_ids, context), False


def end_ids(analysis: Analysis) -> set[int]:
    """Ids that end generation (the model's end-of-sequence tokens)."""
    loaded = load_model(analysis.model_id)
    config = getattr(loaded.model, "generation_config", None) or loaded.config
    eos = getattr(config, "eos_token_id", None)
    if eos is None:
        return set()
    return {int(e) for e in (eos if isinstance(eos, list | tuple) else [eos])}


def generate(
    analysis: Analysis,
    n_tokens: int,
    temperature: float,
    top_k: int,
    top_p: float,
    greedy: bool,
    seed: int,
    generated=(),
) -> list[Step]:
    """Append up to `n_tokens` ids after `generated`, one forward pass each.

    Greedy picks the arg-max (as `generate(do_sample=False)`); otherwise the
    pick is drawn with seed (seed, step number). Stops after an end token.
    """
    if analysis.logits_last is None:
        raise AnatomyError(
            f"'{analysis.model_id}' has no language-model head, so it can't generate.",
            key="error.no_head",
            model=analysis.model_id,
        )
    n_tokens = int(n_tokens)
    if not 1 <= n_tokens <= MAX_NEW_TOKENS:
        raise AnatomyError(
            f"Generate between 1 and {MAX_NEW_TOKENS} tokens at a time.",
            key="error.n_tokens",
            limit=MAX_NEW_TOKENS,
        )
    stops = end_ids(analysis)
    generated = [int(i) for i in generated]
    prompt = prompt_ids(analysis)
    steps: list[Step] = []
    for _ in range(n_tokens):
        if generated and generated[-1] in stops:
            break
        if len(prompt) + len(generated) >= settings().max_tokens:
            break
        logits, from_analysis = step_logits(analysis, generated)
        dist = distribution(logits, temperature, top_k, top_p)
        chosen = dist.greedy_id if greedy else dist.sample_id(seed, len(generated))
        steps.append(Step(prompt + tuple(generated), logits, chosen, from_analysis))
        generated.append(chosen)
    return steps
