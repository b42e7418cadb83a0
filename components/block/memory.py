"""Parameters and memory of the model, and its config.json: tables, a plot, Markdown.

Pure functions of the /architecture record (models.lenses.architecture).
"""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go

from components.page.context import escape
from components.page.i18n import t
from components.page.theme import style


def human_bytes(value: float) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if value >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value:.0f} B"


def parameter_rows(record: dict, lang: str) -> list[list[str]]:
    """[part, parameters, share] per part, then the total."""
    total = record["total_params"]
    rows = []
    for part in record["parts"]:
        name = t(f"block.part.{part['name']}", lang)
        if part["name"] == "lm_head" and record["tied_embeddings"]:
            name += " " + t("block.part.tied", lang)
        rows.append([name, f"{part['params']:,}", f"{100 * part['params'] / total:.1f} %"])
    rows.append([t("block.part.total", lang), f"{total:,}", "100 %"])
    return rows


def memory_rows(record: dict, n_tokens: int, kv_now: int, attention_now: int, lang: str):
    """[what, size] rows: the weights in four number formats, the KV cache, attention."""
    rows = [
        [t(f"block.mem_{dtype}", lang), human_bytes(size)]
        for dtype, size in record["weight_bytes"].items()
    ]
    for dtype, size in record["kv_cache_bytes_per_token"].items():
        rows.append([t("block.mem_kv_token", lang, dtype=dtype), human_bytes(size)])
    rows.append([t("block.mem_kv_text", lang, n=n_tokens), human_bytes(kv_now)])
    rows.append([t("block.mem_attention_text", lang, n=n_tokens), human_bytes(attention_now)])
    return rows


def context_lengths(record: dict, n_tokens: int) -> np.ndarray:
    """Context lengths to plot: powers of two up to the model's maximum (≤ 128k)."""
    top = int(min(max(record.get("max_positions") or 8192, 1024), 131072))
    lengths = sorted({2**k for k in range(0, int(np.log2(top)) + 1)} | {top, n_tokens})
    return np.array(lengths)


def memory_figure(record: dict, lengths, kv, attention, n_tokens: int, lang: str) -> go.Figure:
    """Bytes against context length (log-log): the KV cache, the attention weights of every
    layer, and the weights themselves; the current text marked."""
    figure = go.Figure()
    kv_name = t("block.kv_line" if record["kv_cache_used"] else "block.kv_line_encoder", lang)
    figure.add_scatter(x=lengths, y=kv, name=kv_name, mode="lines", line=dict(color="#0072B2"))
    figure.add_scatter(
        x=lengths,
        y=attention,
        name=t("block.attention_line", lang),
        mode="lines",
        line=dict(color="#D55E00"),
    )
    weights = record["weight_bytes"]["bfloat16"]
    figure.add_scatter(
        x=[lengths[0], lengths[-1]],
        y=[weights, weights],
        mode="lines",
        name=t("block.weights_line", lang),
        line=dict(color="#555555", dash="dash"),
    )
    index = int(np.searchsorted(lengths, n_tokens))
    figure.add_scatter(
        x=[n_tokens, n_tokens],
        y=[kv[index], attention[index]],
        mode="markers",
        name=t("block.now_marker", lang, n=n_tokens),
        marker=dict(size=10, color="#000000"),
    )
    figure.update_xaxes(type="log", title=t("block.kv_x", lang))
    figure.update_yaxes(type="log", title=t("block.kv_y", lang))
    style(figure, t("block.kv_title", lang), height=380)
    figure.update_layout(legend=dict(orientation="h", y=-0.25))
    return figure


def config_markdown(config: dict, lang: str) -> str:
    """A table of the config keys this app explains (value, meaning), in config order."""
    rows = []
    for key, value in config.items():
        meaning = t(f"config.{key}", lang)
        if meaning == f"config.{key}":
            continue
        shown = json.dumps(value, ensure_ascii=False)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        rows.append(f"| `{escape(key)}` | `{escape(shown)}` | {meaning} |")
    head = (
        f"| {t('block.config_key', lang)} | {t('block.config_value', lang)} | "
        f"{t('block.config_meaning', lang)} |\n|---|---|---|"
    )
    return head + "\n" + "\n".join(rows)
