"""Word-list mode: the course's first example (dog, cat, lion, car, airplane) on a real model.

Each typed word is looked up in the model's input-embedding table (a word the
tokenizer splits is the mean of its pieces), placed into the same fitted
token-embedding space as the sentence view, and compared pair by pair.
"""

from __future__ import annotations

import re

import gradio as gr
import numpy as np
import plotly.graph_objects as go

from components.embeddings.plots import TOKEN, distance_figure, scatter_figure
from components.page.context import PanelContext, analysis_key, escape, user_error, wanted_values
from components.page.i18n import t
from models.lenses.background import word_text, word_vectors
from models.lenses.neighbours import cosine_matrix
from models.lenses.projection import space

DEFAULT_WORDS = {
    "en": "dog, cat, lion, car, airplane",
    "ko": "강아지, 고양이, 사자, 자동차, 비행기",
}
MAX_WORDS = 30


def parse_words(text: str) -> list[str]:
    """'dog, cat；lion' -> ['dog', 'cat', 'lion']: commas, semicolons or new lines, no repeats."""
    words = [w.strip() for w in re.split(r"[,，、;；\n]+", text or "")]
    return list(dict.fromkeys(w for w in words if w))


def word_distances(vectors: np.ndarray) -> np.ndarray:
    """[W, D] -> [W, W] cosine distance 1 - cos (0 on the diagonal)."""
    return np.clip(1.0 - cosine_matrix(vectors), 0.0, 2.0)


def render_words(model: str, text: str, lang: str) -> tuple[go.Figure, go.Figure, str]:
    """(3D figure of the words in the model's token space, distance heatmap, piece note)."""
    words = parse_words(text)
    if len(words) < 2:
        raise gr.Error(t("emb.words_too_few", lang))
    if len(words) > MAX_WORDS:
        raise gr.Error(t("emb.words_too_many", lang, limit=MAX_WORDS))
    try:
        vectors, pieces = word_vectors(model, words)
        fitted = space(model, TOKEN, "pca")
        points = fitted.place(vectors)
        names = [word_text(model, int(i)) for i in fitted.background_ids]
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise user_error(exc, lang) from exc
    hover = [f"{escape(w)}<br>{escape(' '.join(p))}" for w, p in zip(words, pieces, strict=True)]
    figure = scatter_figure(
        points, words, hover, fitted.background_points, names, lang, t("emb.words_title", lang)
    )
    split = [
        f"{escape(w)} → {escape(' + '.join(p))}"
        for w, p in zip(words, pieces, strict=True)
        if len(p) > 1
    ]
    note = t("emb.words_split", lang, words="; ".join(split)) if split else ""
    return figure, distance_figure(word_distances(vectors), words, lang), note


def swap_default(text: str, lang: str) -> str:
    """Follow the language switch while the box still holds the other language's example."""
    return DEFAULT_WORDS.get(lang, text) if text in DEFAULT_WORDS.values() else text


def words_for_new_key(key: list, text: str, lang: str) -> tuple:
    """(words, plot, distances, note): the words a shared link asks for, drawn; else unchanged."""
    wanted = wanted_values(key).get("emb_words")
    if not wanted:
        return gr.update(), gr.update(), gr.update(), gr.update()
    return (wanted, *render_words(analysis_key(key).model_id, wanted, lang))


def build(ctx: PanelContext) -> None:
    ctx.tr(gr.Markdown(t("emb.words_explain")), "emb.words_explain")
    with gr.Row():
        words = gr.Textbox(DEFAULT_WORDS["en"], label=t("emb.words"), scale=4, elem_id="emb-words")
        show = gr.Button(t("emb.words_show"), scale=1, elem_id="emb-words-show")
    note = gr.Markdown()
    with gr.Row():
        plot = gr.Plot(show_label=False, elem_id="emb-words-plot")
        distances = gr.Plot(show_label=False, elem_id="emb-words-distance")
    ctx.tr(words, "emb.words", "label")
    ctx.tr(show, "emb.words_show")
    ctx.share(words, "emb_words")
    outputs = [plot, distances, note]
    show.click(render_words, [ctx.model, words, ctx.lang], outputs, api_visibility="private")
    words.submit(render_words, [ctx.model, words, ctx.lang], outputs, api_visibility="private")
    ctx.lang.change(swap_default, [words, ctx.lang], words, api_visibility="private")
    ctx.key.change(
        words_for_new_key, [ctx.key, words, ctx.lang], [words, *outputs], api_visibility="private"
    )
