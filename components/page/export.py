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
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np

from components.page.context import PanelContext, analysis_for, analysis_key, user_error
from components.page.i18n import t
from models.analysis import Analysis
from models.lenses.attribution import export_block
from models.lenses.sampling import distribution
from models.loading.load import load_model

ASSETS = Path(__file__).resolve().parents[2] / "assets"
TOP_CANDIDATES = 20
FORMAT_VERSION = 1
DEFAULT_KNOBS = {"temperature": 1.0, "top_k": 0, "top_p": 1.0}  # no cut


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


def export_files(request: dict) -> dict:
    """The export button's server function: the JSON and CSV of the analysis behind
    `request["key"]`, with the attention map, sampling knobs and why-this-token choices
    of `request["view"]` (the page's shared settings when the button was pressed).

    Returns {"json": {"name", "text"}, "csv": {"name", "text"}} or {"error": message}.
    Built on demand, so no control change writes anything."""
    request = request if isinstance(request, dict) else {}
    view = request.get("view") if isinstance(request.get("view"), dict) else {}
    lang = view.get("lang") if view.get("lang") in ("en", "ko") else "en"
    try:
        analysis = analysis_for(request.get("key"), lang)
        tokenizer = load_model(analysis.model_id).tokenizer  # cached: the analysis loaded it
        knobs = {name: _number(view.get(name)) for name in DEFAULT_KNOBS}
        why = {"target": view.get("why_target") or "", "other": view.get("why_vs") or None}
        payload = export_payload(
            analysis,
            _number(view.get("layer"), int),
            _number(view.get("head"), int),
            lambda i: tokenizer.decode([i]),
            knobs,
            why,
        )
    except gr.Error as exc:
        return {"error": str(exc.message)}
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        return {"error": str(user_error(exc, lang).message)}
    stem = file_stem(analysis)
    return {
        "json": {"name": f"{stem}.json", "text": json.dumps(payload, ensure_ascii=False, indent=1)},
        "csv": {"name": f"{stem}-tokens.csv", "text": tokens_csv(analysis)},
    }


def _number(value, kind=float):
    """A shared setting from the URL as a number, or None when absent or not a number."""
    try:
        return kind(float(value)) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        return None


def export_request(key) -> str:
    """The export buttons' value: the analysis on screen (its key), as JSON."""
    return json.dumps({"key": list(analysis_key(key)) if key else []}, ensure_ascii=False)


def build(ctx: PanelContext) -> None:
    """Two download buttons for the analysis on screen. The files are built when a
    button is pressed, from the page's current settings (the URL holds them)."""
    template = (
        '<div class="export-buttons">'
        '<button id="export-json" class="export-button" disabled>${json_label}</button>'
        '<button id="export-csv" class="export-button" disabled>${csv_label}</button>'
        '<span class="export-message" role="status"></span></div>'
    )
    with gr.Row(elem_id="export"):
        buttons = gr.HTML(
            "",
            html_template=template,
            js_on_load=(ASSETS / "export.js").read_text(encoding="utf-8"),
            server_functions=[export_files],
            json_label=t("export.json"),
            csv_label=t("export.csv"),
            elem_id="export-buttons",
        )
        note = gr.Markdown(t("export.png_hint"), elem_classes="export-note")
    ctx.tr(note, "export.png_hint")
    ctx.key.change(export_request, ctx.key, buttons, api_visibility="private", queue=False)
    ctx.lang.change(
        lambda lang: gr.HTML(json_label=t("export.json", lang), csv_label=t("export.csv", lang)),
        ctx.lang,
        buttons,
        api_visibility="private",
        queue=False,
    )
