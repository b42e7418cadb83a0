"""Input saliency: which input tokens mattered for one logit, by gradients.

Two methods from captum, both on the output of the model's input-embedding layer
(Gemma's includes its √d scale; GPT-2's positions are added later, so they are
not credited to the tokens):
- gradient × input (`LayerGradientXActivation`): ∂f/∂e_i · e_i summed over the
  embedding width, for each token i; one forward and one backward pass;
- integrated gradients (`LayerIntegratedGradients`): the same product integrated
  along the straight path from a baseline to the input. The
  baseline replaces every token by a space (the pad token where a space is not
  one token) except special tokens (<bos>) and the first position: decoders use
  the first token as an attention sink, and moving it makes f jump along the
  path (SmolLM2: between 0 and 18 on 21 evenly spaced points), as does a special
  token as the baseline (see _baseline_id). With both kept out, the path is
  smoother, but still wiggly enough (df/dα swings between -64 and +73 on
  SmolLM2) that 32 Gauss-Legendre points can miss by 30 %: so the integral is
  taken with 32 points, then 64, then 128, until Σ scores is within 5 % of
  f(input) - f(baseline), as far as a budget of steps × tokens allows (a long
  input gets 32 points, and its gap is shown as it is). The first token's
  score is 0.
  Completeness: the scores sum to f(input) - f(baseline); the check is shown.
f is the chosen token's logit at the explained position (or the difference of
two tokens' logits). These need backward passes, so they run only on request,
under the model's lock, with a token cap, and are cached per
(model, text, target, method).
"""

from __future__ import annotations

import inspect
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from models.analysis import Analysis
from models.errors import AnatomyError
from models.loading.catalog import ENCODER, ENCODER_DECODER
from models.loading.load import LoadedModel, load_model

GRADIENT_X_INPUT = "gradient_x_input"
INTEGRATED_GRADIENTS = "integrated_gradients"
METHODS = (GRADIENT_X_INPUT, INTEGRATED_GRADIENTS)
IG_STEPS = (32, 64, 128)  # tried in turn until the completeness gap is at most IG_GAP
IG_GAP = 0.05
STEP_RANGE = f"{IG_STEPS[0]}–{IG_STEPS[-1]}"
IG_TOKEN_STEPS = 4096  # a finer pass runs only while steps x tokens stays within this
TOKENS_PER_BATCH = 512  # IG points run together: batch × tokens stays under this
CACHE_SIZE = 64
Progress = Callable[[float], None]


def token_cap() -> int:
    """Longest input explained by gradients (ANATOMY_SALIENCY_MAX_TOKENS, default 128)."""
    return int(os.environ.get("ANATOMY_SALIENCY_MAX_TOKENS", 128))


@dataclass(frozen=True)
class Saliency:
    """Signed scores per input token for one explained value f."""

    method: str
    target_id: int
    other_id: int | None
    position: int  # the output position whose prediction f reads
    scores: np.ndarray  # [T] per input token, summed over the embedding width
    f_input: float  # f at the input
    f_baseline: float | None  # integrated gradients: f at the baseline
    steps: int | None  # integrated gradients: points on the path
    baseline_token: str | None  # the text of the token that replaced the ordinary ones

    @property
    def completeness_gap(self) -> float | None:
        """IG: |Σ scores - (f(x) - f(baseline))| / |f(x) - f(baseline)|."""
        if self.f_baseline is None:
            return None
        change = self.f_input - self.f_baseline
        return abs(float(self.scores.sum()) - change) / max(abs(change), 1e-6)


_CACHE: OrderedDict[tuple, Saliency] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _key(analysis: Analysis, method: str, target_id: int, other_id: int | None) -> tuple:
    return (analysis.model_id, analysis.text, analysis.text_pair, method, target_id, other_id)


def peek(analysis: Analysis, method: str, target_id: int, other_id: int | None = None):
    """The cached Saliency for this choice, or None (never computes)."""
    with _CACHE_LOCK:
        return _CACHE.get(_key(analysis, method, target_id, other_id))


def _check(analysis: Analysis, method: str) -> None:
    if method not in METHODS:
        raise AnatomyError(
            f"Unknown saliency method '{method}'; use one of {', '.join(METHODS)}.",
            key="why.error.method",
            method=method,
        )
    if analysis.n_tokens > token_cap():
        raise AnatomyError(
            f"The text is {analysis.n_tokens} tokens long; input saliency runs on at most "
            f"{token_cap()} tokens (it needs backward passes). Shorten the text.",
            key="why.error.saliency_cap",
            count=analysis.n_tokens,
            limit=token_cap(),
        )


def _baseline_id(tokenizer) -> int:
    """A space where the vocabulary has one as a single token, else the pad token.

    A special token as the baseline makes f jump along the path (SmolLM2 with
    <|im_end|>: from -0.1 to 23 between two of 41 evenly spaced points), where the
    plain space gives a smooth path."""
    space = tokenizer(" ", add_special_tokens=False)["input_ids"]
    if len(space) == 1:
        return int(space[0])
    for name in ("pad_token_id", "eos_token_id", "unk_token_id"):
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    return 0


def _keeps_last_logits(model: torch.nn.Module) -> bool:
    return "logits_to_keep" in inspect.signature(model.forward).parameters


class _Explained:
    """f(input ids) -> [B] values of the explained logit (difference), batched."""

    def __init__(self, loaded: LoadedModel, analysis: Analysis, position: int, target, other):
        self.model = loaded.model
        self.family = analysis.family
        self.position, self.target, self.other = position, target, other
        self.kwargs: dict = {}
        if analysis.token_type_ids is not None and analysis.family == ENCODER:
            types = torch.from_numpy(analysis.token_type_ids)[None]
            self.kwargs["token_type_ids"] = types.to(self.model.device)
        if analysis.family == ENCODER_DECODER:  # fixed decoder input; the encoder is explained
            decoder_ids = torch.from_numpy(analysis.decoder_input_ids)[None].to(self.model.device)
            with torch.no_grad():
                embedded = self.model.get_decoder().get_input_embeddings()(decoder_ids)
            self.kwargs["decoder_inputs_embeds"] = embedded.detach()
        elif analysis.family != ENCODER and _keeps_last_logits(self.model):
            self.kwargs["logits_to_keep"] = 1  # only the last row of [T, V] logits
            self.position = -1

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        batch = input_ids.shape[0]
        extra = {
            k: v.expand(batch, *v.shape[1:]) if isinstance(v, torch.Tensor) else v
            for k, v in self.kwargs.items()
        }
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra)
        logits = out.logits[:, self.position].to(torch.float32)
        value = logits[:, self.target]
        return value - logits[:, self.other] if self.other is not None else value


def _counting(model: torch.nn.Module, expected: int, progress: Progress | None):
    """A forward hook reporting progress as the passes go by (captum runs them)."""
    seen = [0]

    def hook(_module, _args, _output):
        seen[0] += 1
        if progress is not None:
            progress(min(seen[0] / max(expected, 1), 0.99))

    return model.register_forward_hook(hook)


def compute(
    analysis: Analysis,
    method: str,
    target_id: int,
    other_id: int | None = None,
    position: int | None = None,
    progress: Progress | None = None,
    loaded: LoadedModel | None = None,
) -> Saliency:
    """Scores per input token for the logit of `target_id` (minus `other_id`'s), cached."""
    _check(analysis, method)
    cached = peek(analysis, method, target_id, other_id)
    if cached is not None:
        return cached
    loaded = loaded or load_model(analysis.model_id)
    position = int(analysis.top_ids.shape[0]) - 1 if position is None else int(position)
    with loaded.lock:  # backward passes share the model with every other request
        cached = peek(analysis, method, target_id, other_id)
        if cached is None:
            cached = _run(loaded, analysis, method, target_id, other_id, position, progress)
    with _CACHE_LOCK:
        _CACHE[_key(analysis, method, target_id, other_id)] = cached
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return cached


def step_plan(n_tokens: int) -> tuple[int, ...]:
    """The integrated-gradients step counts to try in turn, within the token budget."""
    return tuple(n for n in IG_STEPS if n == IG_STEPS[0] or n * n_tokens <= IG_TOKEN_STEPS)


def _run(loaded, analysis, method, target_id, other_id, position, progress) -> Saliency:
    from captum.attr import LayerGradientXActivation, LayerIntegratedGradients  # slow import

    explained = _Explained(loaded, analysis, position, target_id, other_id)
    device = next(loaded.model.parameters()).device
    input_ids = torch.from_numpy(analysis.input_ids.astype(np.int64))[None].to(device)  # fresh
    mask = torch.ones_like(input_ids)
    body = loaded.model.get_encoder() if analysis.family == ENCODER_DECODER else loaded.model
    layer = body.get_input_embeddings()
    kept = np.array([token.special for token in analysis.tokens], dtype=bool)
    kept[0] = True  # the attention sink stays (see the module docstring)
    fill = _baseline_id(loaded.tokenizer)
    baseline = input_ids.clone()
    baseline[0, torch.from_numpy(~kept).to(device)] = fill
    batch = max(1, min(IG_STEPS[-1], TOKENS_PER_BATCH // max(1, analysis.n_tokens)))
    plan = step_plan(analysis.n_tokens) if method == INTEGRATED_GRADIENTS else ()
    expected = 1 + sum(math.ceil(n / batch) for n in plan)
    hook = _counting(loaded.model, expected + 1, progress)
    steps, gap = None, None
    try:
        with torch.no_grad():
            values = explained(torch.cat([input_ids, baseline]), torch.cat([mask, mask]))
        change = float(values[0] - values[1])
        with torch.inference_mode(False), torch.enable_grad():
            if method == GRADIENT_X_INPUT:
                attributions = LayerGradientXActivation(explained, layer).attribute(
                    input_ids, additional_forward_args=(mask,)
                )
            for steps in plan:  # finer only while the completeness check fails
                attributions = LayerIntegratedGradients(explained, layer).attribute(
                    input_ids,
                    baselines=baseline,
                    additional_forward_args=(mask,),
                    n_steps=steps,
                    internal_batch_size=batch,
                )
                gap = abs(float(attributions.sum()) - change) / max(abs(change), 1e-6)
                if gap <= IG_GAP:
                    break
    finally:
        hook.remove()
    scores = attributions[0].detach().to(torch.float32).sum(-1).cpu().numpy()  # [T]
    is_ig = method == INTEGRATED_GRADIENTS
    return Saliency(
        method=method,
        target_id=target_id,
        other_id=other_id,
        position=position,
        scores=scores,
        f_input=float(values[0]),
        f_baseline=float(values[1]) if is_ig else None,
        steps=steps,
        baseline_token=loaded.tokenizer.decode([fill]) if is_ig else None,
    )


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
