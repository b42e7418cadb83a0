"""One forward pass -> Analysis, a frozen record every panel reads from.

Like TransformerLens' ActivationCache: run the model once with attentions and
hidden states, keep everything as numpy on the CPU, and let every view re-slice
it. Shapes use T for tokens, L for layers, H for heads, D for the model width,
V for the vocabulary, K for the stored top candidates. Whatever device the model
runs on, every array in an Analysis is float32 (or int64) numpy on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from models.device import to_numpy
from models.errors import AnatomyError
from models.lenses.attribution_capture import LogitParts, PartsCapture
from models.lenses.residual import StreamRecorder
from models.loading.catalog import DECODER, ENCODER, ENCODER_DECODER
from models.loading.load import LoadedModel
from models.settings import settings
from models.tokens import TokenInfo, build_tokens

TOP_K_STORED = 100
LM_ROWS_AT_ONCE = 32  # logits rows summarised together (see _lm_summary)


@dataclass(frozen=True)
class Analysis:
    """Everything one forward pass tells about one input.

    For encoder-decoders, `tokens`, `hidden_states` and `attentions` belong to
    the encoder, and the `decoder_*` / `cross_attentions` fields are filled.
    """

    model_id: str
    family: str
    text: str
    text_pair: str | None
    tokens: tuple[TokenInfo, ...]  # T
    input_ids: np.ndarray  # [T] int64
    attention_mask: np.ndarray  # [T] int64
    token_type_ids: np.ndarray | None  # [T] int64, sentence A/B (BERT)
    token_embeddings: np.ndarray  # [T, D] output of the input-embedding lookup
    position_embeddings: np.ndarray | None  # [T, D] learned absolute positions, if any
    hidden_states: np.ndarray  # [L+1, T, D]; [0] is the embedding output
    attentions: np.ndarray  # [L, H, T, T]; rows = queries, columns = keys
    has_lm_head: bool
    logits_last: np.ndarray | None  # [V] logits predicting the token after the last one
    top_ids: np.ndarray | None  # [T_out, K] highest-logit ids at each output position
    top_logits: np.ndarray | None  # [T_out, K] their logits, descending
    logsumexp: np.ndarray | None  # [T_out] log of the softmax denominator per position
    decoder_tokens: tuple[TokenInfo, ...] | None = None  # T_dec
    decoder_input_ids: np.ndarray | None = None  # [T_dec]
    decoder_hidden_states: np.ndarray | None = None  # [L_dec+1, T_dec, D]
    decoder_attentions: np.ndarray | None = None  # [L_dec, H, T_dec, T_dec]
    cross_attentions: np.ndarray | None = None  # [L_dec, H, T_dec, T]
    # causal outputs only (decoder, or the decoder side of an encoder-decoder):
    target_logprobs: np.ndarray | None = None  # [T_out] log-prob given to the token that came
    target_ranks: np.ndarray | None = None  # [T_out] its rank (1 = top choice); the last: NaN / 0
    # the residual stream (models.lenses.residual); None where the block layout is unknown:
    contribution_norms: np.ndarray | None = None  # [L, S, T] |what attention, (cross,) FFN add|
    last_block_output: np.ndarray | None = None  # [T, D] the last block's output, pre final norm
    decoder_contribution_norms: np.ndarray | None = None  # [L_dec, 3, T_dec]
    decoder_last_block_output: np.ndarray | None = None  # [T_dec, D]
    # the last output position's residual stream split into parts (lenses/attribution_capture.py)
    logit_parts: LogitParts | None = None

    def __post_init__(self) -> None:
        t = len(self.tokens)
        n_layers, n_heads = self.attentions.shape[:2]
        _expect(self.input_ids, (t,), "input_ids")
        _expect(self.attention_mask, (t,), "attention_mask")
        _expect(self.attentions, (n_layers, n_heads, t, t), "attentions")
        _expect(self.hidden_states, (n_layers + 1, t, self.hidden_states.shape[2]), "hidden_states")
        _expect(self.token_embeddings, (t, self.token_embeddings.shape[1]), "token_embeddings")
        if self.position_embeddings is not None:
            _expect(self.position_embeddings, self.token_embeddings.shape, "position_embeddings")
        if self.contribution_norms is not None:
            kinds = self.contribution_norms.shape[1]
            _expect(self.contribution_norms, (n_layers, kinds, t), "contribution_norms")
            _expect(self.last_block_output, self.token_embeddings.shape, "last_block_output")
        if self.family == ENCODER_DECODER:
            t_dec = len(self.decoder_tokens or ())
            dec_layers = self.decoder_attentions.shape[0]
            _expect(
                self.decoder_attentions, (dec_layers, n_heads, t_dec, t_dec), "decoder_attentions"
            )
            _expect(self.cross_attentions, (dec_layers, n_heads, t_dec, t), "cross_attentions")

    @property
    def n_layers(self) -> int:
        return int(self.attentions.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.attentions.shape[1])

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (what the result cache counts)."""
        arrays = (getattr(self, f.name) for f in fields(self))
        return sum(a.nbytes for a in arrays if isinstance(a, (np.ndarray, LogitParts)))


def _expect(array: np.ndarray, shape: tuple, name: str) -> None:
    if array.shape != tuple(shape):
        raise ValueError(f"{name} has shape {array.shape}, expected {tuple(shape)}")


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return to_numpy(tensor.to(torch.float32))


def position_embedding_module(model: torch.nn.Module) -> torch.nn.Module | None:
    """The learned absolute position table (BERT, GPT-2, BART ...), if the model has one."""
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("wpe", "position_embeddings", "embed_positions") and hasattr(module, "weight"):
            return module
    return None


def _check_text(text: str) -> str:
    if text is None or not str(text).strip():
        raise AnatomyError("Type a sentence first: the text is empty.", key="error.empty_text")
    text = str(text)
    _refuse_lone_surrogates(text)
    # NUL and other control characters stay: tokenizers read them, and token offsets
    # must index the text exactly as it was sent.
    return text


def _refuse_lone_surrogates(text: str) -> None:
    """A lone UTF-16 surrogate (possible in JSON, e.g. "\\ud800") is not Unicode text:
    tokenizers reject it with a TypeError, so refuse it with a clear message."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AnatomyError(
            f"The text has a broken character at position {exc.start} (a lone UTF-16 "
            "surrogate, not valid Unicode). Delete it and try again.",
            key="error.invalid_text",
            position=exc.start,
        ) from None


def encode(loaded: LoadedModel, text: str, text_pair: str | None = None):
    """Tokenize like the model's own tokenizer, with offsets; enforce the token cap."""
    text = _check_text(text)
    if text_pair and str(text_pair).strip():
        _refuse_lone_surrogates(str(text_pair))
    pair = (
        text_pair if text_pair and text_pair.strip() and loaded.family != ENCODER_DECODER else None
    )
    encoding = loaded.tokenizer(
        text,
        pair,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        truncation=False,
    )
    if not encoding["input_ids"]:
        raise AnatomyError(
            f"The tokenizer of '{loaded.model_id}' found nothing to read in this text.",
            key="error.no_tokens",
            model=loaded.model_id,
        )
    limit = settings().max_tokens
    if len(encoding["input_ids"]) > limit:
        raise AnatomyError(
            f"The text is {len(encoding['input_ids'])} tokens long; the limit is {limit}. "
            "Shorten it.",
            key="error.too_many_tokens",
            count=len(encoding["input_ids"]),
            limit=limit,
        )
    return encoding, (text,) if pair is None else (text, pair)


def _decoder_inputs(loaded: LoadedModel, target: str | None):
    """Decoder input for an encoder-decoder: start token, then the target so far."""
    start = loaded.config.decoder_start_token_id
    ids = [start]
    if target and target.strip():
        target_ids = loaded.tokenizer(text_target=target, add_special_tokens=False)["input_ids"]
        ids += target_ids
    pieces = loaded.tokenizer.convert_ids_to_tokens(ids)
    tokens = tuple(
        TokenInfo(int(i), p, p, 0, 0, n == 0, None, 0, ())
        for n, (i, p) in enumerate(zip(ids, pieces, strict=False))
    )
    return torch.tensor([ids]), tokens


def _lm_summary(logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """logits [T_out, V] -> (last [V], top ids [T_out, K], top logits [T_out, K], lse [T_out]).

    A few rows at a time: the softmax denominator exp(x - max) needs a scratch copy,
    and a [32, V] block stays in the CPU cache where a whole [512, 262144] one
    (Gemma's vocabulary) would not. The row maximum is the first top-k value.
    """
    logits = logits.to(torch.float32)
    rows, k = logits.shape[0], min(TOP_K_STORED, logits.shape[-1])
    top_ids = torch.empty(rows, k, dtype=torch.int64)
    top_logits = torch.empty(rows, k)
    lse = torch.empty(rows)
    for start in range(0, rows, LM_ROWS_AT_ONCE):
        block = slice(start, start + LM_ROWS_AT_ONCE)
        top = torch.topk(logits[block], k, dim=-1)
        top_ids[block], top_logits[block] = top.indices, top.values
        peak = top.values[:, :1]
        lse[block] = (logits[block] - peak).exp_().sum(dim=-1).log_() + peak[:, 0]
    return _numpy(logits[-1]), top_ids.numpy(), _numpy(top_logits), _numpy(lse)


def _target_summary(
    logits: torch.Tensor, ids: torch.Tensor, top_logits: np.ndarray, lse: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """logits [T_out, V], ids [T_out] fed in, with _lm_summary's top logits [T_out, K]
    and lse [T_out] -> log-prob and rank of each next id [T_out].

    Position i predicts ids[i + 1]; the last position has no next token (NaN, rank 0).
    A rank is counted among the stored top-K when the token is one of them (every
    larger logit is there too); only the rare token outside them needs its whole row.
    """
    logits = logits.to(torch.float32)
    logprobs = torch.full((logits.shape[0],), float("nan"))
    ranks = torch.zeros(logits.shape[0], dtype=torch.int64)
    if logits.shape[0] > 1:
        chosen = logits[:-1].gather(1, ids[1:].reshape(-1, 1))[:, 0]
        logprobs[:-1] = chosen - torch.from_numpy(lse[:-1])
        top = torch.from_numpy(top_logits[:-1])
        ranks[:-1] = (top > chosen[:, None]).sum(dim=-1) + 1
        outside = torch.nonzero(chosen < top[:, -1])[:, 0]
        if len(outside):
            ranks[outside] = (logits[outside] > chosen[outside, None]).sum(dim=-1) + 1
    return _numpy(logprobs), ranks.numpy()


def _stack(per_layer: tuple[torch.Tensor, ...] | None, what: str, model_id: str) -> np.ndarray:
    if not per_layer or any(a is None for a in per_layer):
        raise AnatomyError(
            f"'{model_id}' did not return its {what}; this model's attention can't be shown.",
            key="error.no_attention",
            model=model_id,
        )
    return _numpy(torch.stack([a[0] for a in per_layer]))


def analyze(loaded: LoadedModel, text: str, text_pair: str | None = None) -> Analysis:
    """Run ONE forward pass of `loaded` on the text and keep what every panel needs."""
    encoding, texts = encode(loaded, text, text_pair)
    tokens = build_tokens(loaded.tokenizer, encoding, texts)
    input_ids = torch.tensor([encoding["input_ids"]])
    attention_mask = torch.ones_like(input_ids)
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    type_ids = encoding.get("token_type_ids")
    if type_ids is not None and "token_type_ids" in loaded.tokenizer.model_input_names:
        inputs["token_type_ids"] = torch.tensor([type_ids])
    decoder_tokens = None
    if loaded.family == ENCODER_DECODER:
        inputs["decoder_input_ids"], decoder_tokens = _decoder_inputs(loaded, text_pair)

    device = loaded.model.device
    on_device = {name: value.to(device) for name, value in inputs.items()}
    captured: dict[str, torch.Tensor] = {}
    embedder = loaded.model.get_encoder() if loaded.family == ENCODER_DECODER else loaded.model
    # Hooks go on the shared model only while this pass holds its lock: registered
    # outside it, a concurrent pass would fire them and hand us another text's embeddings.
    with loaded.lock:
        hooks = [_capture(embedder.get_input_embeddings(), "token", captured)]
        position_module = position_embedding_module(loaded.model)
        if position_module is not None:
            hooks.append(_capture(position_module, "position", captured))
        stream = StreamRecorder(loaded)
        parts = PartsCapture(loaded)
        try:
            with torch.inference_mode():
                out = loaded.model(**on_device, output_attentions=True, output_hidden_states=True)
                captured["logit_parts"] = _logit_parts(parts, loaded, out)
        finally:
            for hook in hooks:
                hook.remove()
            stream.remove()
            parts.remove()
    captured["stream"] = stream.fields()
    return _assemble(loaded, text, text_pair, tokens, inputs, out, captured, decoder_tokens)


def _logit_parts(parts: PartsCapture, loaded: LoadedModel, out) -> LogitParts:
    """The last output position's residual split (embedding output from hidden_states[0])."""
    hidden = out.decoder_hidden_states if loaded.family == ENCODER_DECODER else out.hidden_states
    position = int(hidden[0].shape[1]) - 1
    return parts.finish(out, hidden[0][0, -1], position)


def _capture(module: torch.nn.Module, name: str, into: dict):
    """Keep the FIRST output of `module` in this pass (the encoder's, for seq2seq)."""

    def hook(_module, _inputs, output):
        into.setdefault(name, output)

    return module.register_forward_hook(hook)


def _assemble(loaded, text, text_pair, tokens, inputs, out, captured, decoder_tokens) -> Analysis:
    is_seq2seq = loaded.family == ENCODER_DECODER
    attentions = out.encoder_attentions if is_seq2seq else out.attentions
    hidden = out.encoder_hidden_states if is_seq2seq else out.hidden_states
    t = len(tokens)
    position = captured.get("position")
    if position is not None:
        position = _numpy(position.reshape(-1, position.shape[-1])[-t:])
        if position.shape[0] != t:
            position = None
    logits = getattr(out, "logits", None) if loaded.has_lm_head else None
    if logits is not None:  # summarised on the CPU in float32 (a no-op for CPU models)
        logits = logits.to(device="cpu", dtype=torch.float32)
    last, top_ids, top_logits, lse = _lm_summary(logits[0]) if logits is not None else (None,) * 4
    extra = {}
    if logits is not None and loaded.family in (DECODER, ENCODER_DECODER):
        fed = inputs["decoder_input_ids" if is_seq2seq else "input_ids"][0]
        extra["target_logprobs"], extra["target_ranks"] = _target_summary(
            logits[0], fed, top_logits, lse
        )
    if is_seq2seq:
        extra = dict(
            decoder_tokens=decoder_tokens,
            decoder_input_ids=inputs["decoder_input_ids"][0].numpy(),
            decoder_hidden_states=_stack(
                out.decoder_hidden_states, "decoder states", loaded.model_id
            ),
            decoder_attentions=_stack(out.decoder_attentions, "decoder attention", loaded.model_id),
            cross_attentions=_stack(out.cross_attentions, "cross-attention", loaded.model_id),
            **extra,
        )
    type_ids = inputs.get("token_type_ids")
    return Analysis(
        model_id=loaded.model_id,
        family=loaded.family,
        text=text,
        text_pair=text_pair or None,
        tokens=tokens,
        input_ids=inputs["input_ids"][0].numpy(),
        attention_mask=inputs["attention_mask"][0].numpy(),
        token_type_ids=None if type_ids is None else type_ids[0].numpy(),
        token_embeddings=_numpy(captured["token"][0]),
        position_embeddings=position,
        hidden_states=_stack(hidden, "hidden states", loaded.model_id),
        attentions=_stack(attentions, "attention weights", loaded.model_id),
        has_lm_head=logits is not None,
        logits_last=last,
        top_ids=top_ids,
        top_logits=top_logits,
        logsumexp=lse,
        logit_parts=captured.get("logit_parts"),
        **extra,
        **captured.get("stream", {}),
    )


__all__ = ["Analysis", "analyze", "encode", "position_embedding_module", "DECODER", "ENCODER"]
