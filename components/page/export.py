"""Export: the current analysis as JSON (tokens, next-token probabilities, the
selected attention map) and its tokens as CSV, built from the cached Analysis.

Plots download as PNG through plotly's own modebar (camera button), which draws
in the browser and needs no server or network.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np

from components.page.context import PanelContext, analysis_for, user_error
from components.page.i18n import t
from models.analysis import Analysis
from models.lenses.attribution import export_block
from models.lenses.sampling import distribution
from models.loading.load import load_model

TOP_CANDIDATES = 20
FORMAT_VERSION = 1
DEFAULT_KNOBS = {"temperature": 1.0, "top_k": 0, "top_p": 1.0}  # no cut
# Controls the panels share (ctx.share) that choose what the export holds.
SELECTORS = ("layer", "head", *DEFAULT_KNOBS, "why_target", "why_vs")


def selected_attention(analysis: Analysis, layer, head) -> tuple[int, int, np.ndarray]:
    """(layer, head, [T, T] weights): one head, or the mean over heads when head is -1.

    Missing or out-of-range choices fall back to the last layer and the mean.
    """
    layer = int(layer) if layer is not None else -1
    layer = layer if 0 <= layer < analysis.n_layers else analysis.n_layers - 1
    head = int(head) if head is not None else -1
    head = head if 0 <= head < analysis.n_heads else -1
    weights = analysis.attentions[layer]  # [H, T, T]
    return layer, head, weights.mean(axis=0) if head == -1 else weights[head]


def next_token_block(analysis: Analysis, decode: Callable[[int], str], knobs: dict) -> dict:
    """The most likely next tokens: `prob` is the plain softmax (temperature 1),
    `sampled_prob` the probability after temperature, top-k and top-p (as `generate`
    applies them), `kept` whether the cuts keep the token."""
    settings = {**DEFAULT_KNOBS, **{k: v for k, v in knobs.items() if v is not None}}
    if analysis.logits_last is None:
        return {**settings, "candidates": []}
    try:
        sampled = distribution(analysis.logits_last, **settings)
    except Exception as exc:  # noqa: BLE001 - a bad knob becomes a readable message
        raise user_error(exc) from exc
    logits = analysis.logits_last.astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")[:TOP_CANDIDATES]
    candidates = [
        {
            "id": int(i),
            "token": decode(int(i)),
            "prob": float(probs[i]),
            "logit": float(logits[i]),
            "sampled_prob": float(sampled.final[i]),
            "kept": bool(sampled.kept[i]),
        }
        for i in order
    ]
    return {**settings, "candidates": candidates}


def export_payload(
    analysis: Analysis,
    layer,
    head,
    decode: Callable[[int], str],
    knobs: dict | None = None,
    why: dict | None = None,
) -> dict:
    """Everything the JSON export holds; plain JSON types only."""
    layer, head, weights = selected_attention(analysis, layer, head)
    return {
        "format": "transformer-anatomy/analysis",
        "version": FORMAT_VERSION,
        "model": analysis.model_id,
        "family": analysis.family,
        "text": analysis.text,
        "text_pair": analysis.text_pair,
        "n_layers": analysis.n_layers,
        "n_heads": analysis.n_heads,
        "tokens": [
            {**tok.as_json(), "piece": tok.piece, "sentence": tok.sentence}
            for tok in analysis.tokens
        ],
        "next_token": next_token_block(analysis, decode, knobs or {}),
        "attention": {"layer": layer, "head": head, "weights": weights.round(6).tolist()},
        "attribution": export_block(analysis, **(why or {})),
    }


def tokens_csv(analysis: Analysis) -> str:
    """position,id,text,piece,start,end,special,sentence — one row per token."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["position", "id", "text", "piece", "start", "end", "special", "sentence"])
    for position, tok in enumerate(analysis.tokens):
        writer.writerow(
            [position, tok.id, tok.text, tok.piece, tok.start, tok.end, tok.special, tok.sentence]
        )
    return out.getvalue()


def file_stem(analysis: Analysis) -> str:
    return "anatomy-" + re.sub(r"[^A-Za-z0-9._-]+", "-", analysis.model_id).strip("-")


def write_exports(
    key, lang: str, layer=None, head=None, knobs: dict | None = None, why: dict | None = None
) -> tuple[str | None, str | None]:
    """Write the JSON and CSV exports of the analysis behind `key`; their paths."""
    if not key:
        return None, None
    analysis = analysis_for(key, lang)
    tokenizer = load_model(analysis.model_id).tokenizer  # cached: the analysis loaded it
    payload = export_payload(analysis, layer, head, lambda i: tokenizer.decode([i]), knobs, why)
    folder = Path(tempfile.mkdtemp(prefix="anatomy-export-"))
    json_path = folder / f"{file_stem(analysis)}.json"
    json_path.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    csv_path = folder / f"{file_stem(analysis)}-tokens.csv"
    csv_path.write_text(tokens_csv(analysis), encoding="utf-8-sig")  # BOM: Excel reads Korean
    return str(json_path), str(csv_path)


def build(ctx: PanelContext) -> None:
    """Two download buttons kept up to date with the analysis and the selected head."""
    with gr.Row(elem_id="export"):
        json_button = gr.DownloadButton(
            t("export.json"), size="sm", elem_id="export-json", interactive=False
        )
        csv_button = gr.DownloadButton(
            t("export.csv"), size="sm", elem_id="export-csv", interactive=False
        )
        note = gr.Markdown(t("export.png_hint"), elem_classes="export-note")
    ctx.tr(json_button, "export.json", "label")
    ctx.tr(csv_button, "export.csv", "label")
    ctx.tr(note, "export.png_hint")
    names = [name for name in SELECTORS if name in ctx.shared]
    selectors = [ctx.shared[name] for name in names]

    def refresh(key, lang, *values):
        chosen = dict(zip(names, values, strict=True))
        knobs = {name: chosen.get(name) for name in DEFAULT_KNOBS}
        why = {"target": chosen.get("why_target") or "", "other": chosen.get("why_vs") or None}
        json_path, csv_path = write_exports(
            key, lang, chosen.get("layer"), chosen.get("head"), knobs, why
        )
        ready = json_path is not None
        return (
            gr.DownloadButton(value=json_path, interactive=ready),
            gr.DownloadButton(value=csv_path, interactive=ready),
        )

    for trigger in [ctx.key, *selectors]:
        trigger.change(
            refresh,
            [ctx.key, ctx.lang, *selectors],
            [json_button, csv_button],
            api_visibility="private",
        )
