"""Direct logit attribution: how much each part of the model wrote toward one token.

The forward pass kept the last position's residual stream as a sum of parts
(`Analysis.logit_parts`, see attribution_capture.py). With the final norm's
scale frozen at its value for this input, the chosen token's logit is linear
in that sum, so it splits exactly:

    logit(t) = Σ_parts part · r_t + constant_t,   r_t = readout ⊙ W_U[t]

(`constant_t` is what no layer wrote: the final LayerNorm's bias and the
unembedding's bias, 0 for RMSNorm models). Choosing another token re-slices the
stored vectors: one row of W_U, a few dot products, no forward pass.
Comparing two tokens splits the difference of their logits the same way.
Gemma's final soft-capping, cap · tanh(z / cap), is not linear: the split is
of z, the logit before the cap, and says so.
Shapes: L layers, H heads, D model width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models.analysis import Analysis
from models.errors import AnatomyError
from models.lenses.attribution_capture import LogitParts
from models.lenses.generation import readable_token
from models.loading.catalog import ENCODER
from models.loading.load import LoadedModel, load_model

CHECK_TOLERANCE = 1e-3  # relative, as the tests hold it


@dataclass(frozen=True)
class Target:
    """One vocabulary entry as explained: its id, readable text and the model's logit."""

    id: int
    token: str
    logit: float  # the model's logit (after soft-capping, where the model caps)
    raw_logit: float  # our reconstruction before any cap: the parts' sum + constant

    def as_json(self) -> dict:
        return {"id": self.id, "token": self.token, "logit": self.logit}


@dataclass(frozen=True)
class Part:
    """One term of the split (a row of the API's `parts`)."""

    kind: str  # embeddings | attention | head | ffn | cross_attention | cross_head
    layer: int | None
    head: int | None
    contribution: float

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "layer": self.layer,
            "head": self.head,
            "contribution": self.contribution,
        }


@dataclass(frozen=True)
class LogitSplit:
    """The chosen token's logit (or the difference of two) split over the model's parts."""

    target: Target
    other: Target | None  # compare mode: the split is of target.logit - other.logit
    embeddings: float
    attention: np.ndarray  # [L]
    heads: np.ndarray  # [L, H]; sums over H to `attention`
    ffn: np.ndarray  # [L]
    cross_attention: np.ndarray | None  # [L] (encoder-decoder)
    cross_heads: np.ndarray | None  # [L, H]
    constant: float  # what no layer wrote (final-norm bias, unembedding bias)
    softcap: float | None  # the final logit soft-cap, where the config sets one
    post_norm_parts: bool  # Gemma 2/3: the parts are post-norm outputs
    head_bias_shared: bool  # the output projection's bias is shared equally among heads

    @property
    def n_layers(self) -> int:
        return int(self.attention.shape[0])

    @property
    def total(self) -> float:
        """Σ of the embeddings, attention (self and cross) and ffn parts."""
        cross = 0.0 if self.cross_attention is None else float(self.cross_attention.sum())
        return self.embeddings + float(self.attention.sum() + self.ffn.sum()) + cross

    @property
    def reconstructed(self) -> float:
        """The logit (difference) the parts give: total + constant, before any cap."""
        return self.total + self.constant

    @property
    def model_value(self) -> float:
        """What the model itself says: its logit, or the difference of the two."""
        return self.target.logit - (self.other.logit if self.other else 0.0)

    @property
    def capped(self) -> float:
        """The reconstruction passed through the model's soft-cap (if any), to compare."""
        return _cap(self.target.raw_logit, self.softcap) - (
            _cap(self.other.raw_logit, self.softcap) if self.other else 0.0
        )

    @property
    def adds_up(self) -> bool:
        scale = max(1.0, abs(self.model_value))
        return abs(self.capped - self.model_value) <= CHECK_TOLERANCE * scale

    def parts(self) -> list[Part]:
        """One embeddings part, per layer attention, ffn (and cross-attention), per head."""
        rows = [Part("embeddings", None, None, self.embeddings)]
        for layer in range(self.n_layers):
            rows.append(Part("attention", layer, None, float(self.attention[layer])))
            if self.cross_attention is not None:
                cross = float(self.cross_attention[layer])
                rows.append(Part("cross_attention", layer, None, cross))
            rows.append(Part("ffn", layer, None, float(self.ffn[layer])))
        for kind, heads in (("head", self.heads), ("cross_head", self.cross_heads)):
            if heads is None:
                continue
            for layer, row in enumerate(heads):
                rows += [Part(kind, layer, h, float(v)) for h, v in enumerate(row)]
        return rows

    def largest(self, n: int = 10) -> list[Part]:
        """The `n` layer-level parts (embeddings, attention, ffn) with the largest |push|."""
        coarse = [p for p in self.parts() if p.kind not in ("head", "cross_head")]
        return sorted(coarse, key=lambda p: -abs(p.contribution))[:n]

    def strongest_layer(self) -> int:
        """The layer whose attention pushed hardest (either way): the default head view."""
        return int(np.argmax(np.abs(self.attention)))


def _cap(value: float, cap: float | None) -> float:
    return float(cap * np.tanh(value / cap)) if cap else float(value)


def _need_head(analysis: Analysis) -> None:
    if not analysis.has_lm_head:
        raise AnatomyError(
            f"'{analysis.model_id}' has no prediction head, so there is no token to explain.",
            key="why.error.no_head",
            model=analysis.model_id,
        )


def explained_position(analysis: Analysis, mask_id: int | None = None) -> int:
    """The output position whose prediction is explained: the last one, or for a
    masked LM the first [MASK]."""
    _need_head(analysis)
    if analysis.family == ENCODER:
        where = np.flatnonzero(analysis.input_ids == mask_id) if mask_id is not None else []
        if not len(where):
            raise AnatomyError(
                "Put a [MASK] in the text: a masked language model explains its fill-in there.",
                key="why.error.no_mask",
            )
        return int(where[0])
    return int(analysis.top_ids.shape[0]) - 1


def resolve_target(loaded: LoadedModel, analysis: Analysis, value, position: int) -> int:
    """ "" -> the top prediction; an int or a string of digits -> that id; any other
    string -> the one token it is (tried as typed, then with a leading space)."""
    _need_head(analysis)
    vocab = int(analysis.logits_last.shape[0])
    if value is None or value == "":
        return int(analysis.top_ids[position][0])
    if isinstance(value, (int, np.integer)) or str(value).strip().isdigit():
        token_id = int(str(value).strip())
        if not 0 <= token_id < vocab:
            raise AnatomyError(
                f"Token id {token_id} is outside this model's vocabulary (0 to {vocab - 1}).",
                key="why.error.bad_id",
                id=token_id,
                high=vocab - 1,
            )
        return token_id
    text = str(value)
    tokenizer = loaded.tokenizer
    for candidate in (text, " " + text) if not text.startswith(" ") else (text,):
        ids = tokenizer(candidate, add_special_tokens=False)["input_ids"]
        if len(ids) == 1:
            return int(ids[0])
    piece_id = tokenizer.convert_tokens_to_ids(text)  # a raw vocabulary piece ("ĠParis")
    if isinstance(piece_id, int) and piece_id != tokenizer.unk_token_id:
        return piece_id
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    pieces = " · ".join(readable_token(tokenizer, i) for i in ids[:8])
    raise AnatomyError(
        f"'{text}' is {len(ids)} tokens for this model ({pieces}), not one. Pick one token: "
        "a candidate from the list, a single piece, or its id.",
        key="why.error.multi_token",
        text=text,
        count=len(ids),
        pieces=pieces,
    )


def unembedding_row(loaded: LoadedModel, token_id: int) -> tuple[np.ndarray, float]:
    """(W_U[t] [D], the unembedding's bias for t) as float32 numpy."""
    head = loaded.model.get_output_embeddings()
    with torch.no_grad():
        row = head.weight[token_id].to(torch.float32).cpu().numpy()
        bias = getattr(head, "bias", None)
        extra = getattr(loaded.model, "final_logits_bias", None)  # BART keeps it aside
        value = float(bias[token_id]) if bias is not None else 0.0
        value += float(extra[0, token_id]) if extra is not None else 0.0
    return row, value


def _direction(parts: LogitParts, row: np.ndarray) -> np.ndarray:
    """r_t [D]: what a part's vector is dotted with to give its share of the logit."""
    direction = parts.readout * row
    return direction - direction.mean() if parts.centred else direction


def _project(parts: LogitParts, row: np.ndarray, bias: float) -> dict:
    r = _direction(parts, row)
    cross = parts.cross_attention
    return {
        "embeddings": float(parts.embeddings @ r),
        "attention": parts.attention @ r,
        "heads": parts.heads @ r,
        "ffn": parts.ffn @ r,
        "cross_attention": None if cross is None else cross @ r,
        "cross_heads": None if cross is None else parts.cross_heads @ r,
        "constant": float(parts.offset @ row) + bias,
    }


def _target(loaded: LoadedModel, analysis: Analysis, token_id: int, split: dict) -> Target:
    raw = split["constant"] + split["embeddings"] + float(split["attention"].sum())
    raw += float(split["ffn"].sum())
    raw += 0.0 if split["cross_attention"] is None else float(split["cross_attention"].sum())
    return Target(
        id=token_id,
        token=readable_token(loaded.tokenizer, token_id),
        logit=float(analysis.logits_last[token_id]),
        raw_logit=raw,
    )


def unavailable_reason(analysis: Analysis) -> str | None:
    """None when the logit splits; else a strings key saying why it does not."""
    parts = analysis.logit_parts
    if parts is not None and parts.ok:
        return None
    if analysis.family == ENCODER or (parts is not None and parts.status == "post_norm"):
        return "why.post_norm"
    return "why.unsupported"


def split_logit(
    analysis: Analysis, target="", other=None, loaded: LoadedModel | None = None
) -> LogitSplit:
    """The split of `target`'s logit (minus `other`'s when given) over the model's parts.

    `target` / `other`: "" (the top prediction; for `other`, None or "" = no comparison),
    a token id, or the text of one token. Raises AnatomyError for a model whose
    residual does not decompose, or for a target that is not one token.
    """
    loaded = loaded or load_model(analysis.model_id)
    reason = unavailable_reason(analysis)
    if reason is not None:
        raise AnatomyError(
            "This model's residual stream does not split into a sum of parts.", key=reason
        )
    parts = analysis.logit_parts
    position = parts.position
    token_id = resolve_target(loaded, analysis, target, position)
    chosen = _project(parts, *unembedding_row(loaded, token_id))
    first = _target(loaded, analysis, token_id, chosen)
    second = None
    if other not in (None, ""):
        other_id = resolve_target(loaded, analysis, other, position)
        against = _project(parts, *unembedding_row(loaded, other_id))
        second = _target(loaded, analysis, other_id, against)
        chosen = {k: None if v is None else v - against[k] for k, v in chosen.items()}
    softcap = getattr(loaded.config, "final_logit_softcapping", None)
    return LogitSplit(
        target=first,
        other=second,
        embeddings=chosen["embeddings"],
        attention=chosen["attention"],
        heads=chosen["heads"],
        ffn=chosen["ffn"],
        cross_attention=chosen["cross_attention"],
        cross_heads=chosen["cross_heads"],
        constant=chosen["constant"],
        softcap=float(softcap) if softcap else None,
        post_norm_parts=parts.post_norm_parts,
        head_bias_shared=parts.head_bias_shared,
    )


@dataclass(frozen=True)
class Candidate:
    """A token the user may pick to explain: `value` is what `resolve_target` reads back
    (its text when that text is exactly this one token, else its id as a string)."""

    id: int
    token: str
    value: str
    prob: float


def candidates(analysis: Analysis, loaded: LoadedModel, n: int = 20) -> list[Candidate]:
    """The `n` most likely tokens at the explained (last) position, most likely first."""
    if not analysis.has_lm_head or analysis.top_ids is None:
        return []
    position = int(analysis.top_ids.shape[0]) - 1
    ids = analysis.top_ids[position][:n]
    probs = np.exp(analysis.top_logits[position][:n] - analysis.logsumexp[position])
    rows = []
    for token_id, prob in zip(ids, probs, strict=True):
        text = readable_token(loaded.tokenizer, int(token_id))
        encoded = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
        plain = encoded == [int(token_id)] and text and not text.strip().isdigit()
        rows.append(Candidate(int(token_id), text, text if plain else str(int(token_id)), prob))
    return rows


def split_json(split: LogitSplit) -> dict:
    """The split as the API and the export give it (plain JSON types)."""
    return {
        "target": split.target.as_json(),
        "compare": split.other.as_json() if split.other else None,
        "parts": [part.as_json() for part in split.parts()],
        "total": split.total,
        "constant": split.constant,
        "reconstructed": split.reconstructed,
        "model_logit": split.model_value,
        "adds_up": split.adds_up,
        "softcap": split.softcap,
    }


def export_block(analysis: Analysis, target="", other=None) -> dict:
    """The split for the JSON export: never raises (a bad choice becomes a note)."""
    reason = unavailable_reason(analysis) if analysis.has_lm_head else "why.no_head"
    if reason is not None:
        return {"decomposes": False, "note_key": reason}
    try:
        return {"decomposes": True, **split_json(split_logit(analysis, target, other))}
    except AnatomyError as exc:
        return {"decomposes": True, "error": str(exc)}
