"""Embedding panel: the tokens as points in a stable 3D space, their paths through
the layers, cosine neighbours, a word-list mode and positional encodings.

The space is fitted once per (model, representation, method) on a background
sample of the vocabulary (models.lenses.projection); every control only re-slices the
cached Analysis and places its vectors into a cached fit.
"""

from __future__ import annotations

import gradio as gr
import numpy as np
import plotly.graph_objects as go

from components.embeddings import positions as embeddings_positions
from components.embeddings import words as embeddings_words
from components.embeddings.plots import (
    INPUT,
    TOKEN,
    chosen_token,
    default_token,
    layer_of,
    neighbour_rows,
    paths_figure,
    representation_choices,
    scatter_figure,
    sentence_vectors,
    similarity_figure,
    token_hover,
    token_labels,
)
from components.page import live
from components.page.context import (
    PanelContext,
    analysis_for,
    analysis_of,
    asked,
    user_error,
    whole_number,
)
from components.page.i18n import t
from models.lenses.background import states_ready, word_text
from models.lenses.neighbours import contextual_neighbours, cosine_matrix, vocabulary_neighbours
from models.lenses.projection import METHODS, PATHS, SPACES, project, space

PATHS_OFF, PATHS_ONE, PATHS_ALL = "off", "one", "all"
N_NEIGHBOURS = 10


def api_representation(layer: int, n_layers: int) -> str:
    """API layer -> representation: 0 token lookup, 1..L after block l, -1 the last."""
    if layer == -1:
        layer = n_layers
    if not 0 <= layer <= n_layers:
        raise gr.Error(f"layer must be between 0 and {n_layers}, or -1 for the last.")
    return TOKEN if layer == 0 else str(layer)


def embeddings(model: str, text: str, layer: int, method: str) -> dict:
    """API: the sentence's tokens placed into the model's fitted 3D space at a layer.

    Layer 0 is the token-embedding lookup without position, so a token id lands
    on the same point in any sentence (PCA and UMAP; t-SNE refits every time).
    """
    if method not in METHODS:
        raise gr.Error(f"method must be one of {', '.join(METHODS)}.")
    layer = whole_number(layer, "layer")
    analysis = analysis_of(model, text)
    representation = api_representation(layer, analysis.n_layers)
    try:
        _, _, points = project(
            analysis.model_id, representation, method, sentence_vectors(analysis, representation)
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise user_error(exc) from exc
    return {
        "tokens": [tok.text for tok in analysis.tokens],
        "points": np.round(points, 6).tolist(),
        "method": method,
        "layer": int(layer),
    }


def _names(model_id: str, ids: np.ndarray) -> list[str]:
    return [word_text(model_id, int(i)) for i in ids]


def space_figure(analysis, representation: str, method: str, lang: str) -> go.Figure:
    """The tokens [T, 3] in the fitted space of `representation`, background drawn faintly."""
    vectors = sentence_vectors(analysis, representation)
    ids, background, points = project(analysis.model_id, representation, method, vectors)
    title = t("emb.plot_title", lang, rep=_rep_name(representation, lang), method=method.upper())
    return scatter_figure(
        points,
        token_labels(analysis, escaped=False),
        token_hover(analysis),
        background,
        _names(analysis.model_id, ids),
        lang,
        title,
    )


def trajectories_figure(analysis, representation: str, which: list[int], lang: str) -> go.Figure:
    """Paths [K, L+1, 3] of tokens `which` through every layer, in the pooled PCA space."""
    fitted = space(analysis.model_id, PATHS, "pca")
    paths = np.stack([fitted.place_path(analysis.hidden_states[:, i]) for i in which])
    n_words = len(fitted.background_points) // (analysis.n_layers + 1)
    layer = layer_of(representation, analysis.n_layers)
    rows = slice(layer * n_words, (layer + 1) * n_words)
    labels = token_labels(analysis, escaped=False)
    return paths_figure(
        paths,
        [labels[i] for i in which],
        fitted.background_points[rows],
        _names(analysis.model_id, fitted.background_ids[rows]),
        lang,
        t("emb.paths_title", lang, layers=analysis.n_layers),
    )


def path_tokens(analysis) -> list[int]:
    """The tokens "all tokens" draws: the words, without <bos> / [CLS] / [SEP], whose
    vectors sit far from every word's and would squeeze the words' paths together."""
    words = [i for i, tok in enumerate(analysis.tokens) if not tok.special]
    return words or list(range(analysis.n_tokens))


def neighbours_table(analysis, representation: str, index: int, lang: str) -> dict:
    """Nearest vocabulary tokens of one token: input embedding and in context."""
    model_id = analysis.model_id
    layer = layer_of(representation, analysis.n_layers) or analysis.n_layers
    near_input = vocabulary_neighbours(model_id, analysis.token_embeddings[index], N_NEIGHBOURS)
    context_header = t("emb.nb_context", lang, layer=layer)
    near_context = None
    if representation not in (TOKEN, INPUT) or states_ready(model_id):
        vector = analysis.hidden_states[layer, index]
        near_context = contextual_neighbours(model_id, layer, vector, N_NEIGHBOURS)
    else:  # the sample words' layer states are still being computed in the background
        context_header = t("emb.nb_context_pending", lang)
    headers = ["#", t("emb.nb_input", lang), "cos", context_header, "cos "]
    return {"headers": headers, "data": neighbour_rows(near_input, near_context)}


def _rep_name(representation: str, lang: str) -> str:
    if representation == TOKEN:
        return t("emb.rep_token", lang)
    if representation == INPUT:
        return t("emb.rep_input", lang)
    return t("emb.rep_layer", lang, layer=representation)


def caveat(method: str, paths: str, lang: str) -> str:
    """What the chosen view can and can't be trusted for."""
    note = t(f"emb.caveat_{method}", lang)
    if paths != PATHS_OFF:
        note += " " + t("emb.caveat_paths", lang)
    return note


def render_view(key: list, representation: str, method: str, paths: str, index, lang: str):
    """(3D figure, similarity heatmap, neighbours table, caveat) for the current controls."""
    if not key:
        return gr.update(), gr.update(), gr.update(), gr.update()
    analysis = analysis_for(key, lang)
    index = chosen_token(analysis, index)
    representation = representation or TOKEN
    method = method if method in METHODS else "pca"
    try:
        if paths in (PATHS_ONE, PATHS_ALL):
            which = [index] if paths == PATHS_ONE else path_tokens(analysis)
            figure = trajectories_figure(analysis, representation, which, lang)
        else:
            figure = space_figure(analysis, representation, method, lang)
        similarity = cosine_matrix(sentence_vectors(analysis, representation))
        heatmap = similarity_figure(similarity, token_labels(analysis), lang)
        table = neighbours_table(analysis, representation, index, lang)
    except gr.Error:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise user_error(exc, lang) from exc
    _prefetch(analysis)
    return figure, heatmap, table, caveat(method, paths, lang)


def view_request(key: list, representation: str, method: str, paths: str, index, lang: str):
    """The live view's request: the analysis and the four controls. A first UMAP or
    t-SNE fit takes tens of seconds: the page says so while it waits."""
    if not key:
        return gr.skip()
    fitting = t("emb.fitting", lang, method="UMAP / t-SNE")
    return live.request_value(
        key=list(key),
        representation=representation,
        method=method,
        paths=paths,
        token=index,
        lang=lang,
        working_when={"method": {"umap": fitting, "tsne": fitting}},
    )


def draw_view(request: dict) -> dict:
    """The live view's answer to a request (see view_request)."""
    figure, heatmap, table, note = render_view(
        request.get("key"),
        request.get("representation"),
        request.get("method"),
        request.get("paths"),
        request.get("token"),
        request.get("lang", "en"),
    )
    neighbours = live.table_html(table["headers"], table["data"])
    figures = {"space": figure, "similarity": heatmap}
    return live.answer(figures, {"neighbours": neighbours, "caveat": note})


def _prefetch(analysis) -> None:
    """Fit the other PCA spaces of this model in the background worker."""
    wanted = [INPUT, PATHS] + [str(layer) for layer in range(1, analysis.n_layers + 1)]
    missing = [rep for rep in wanted if not SPACES.ready(analysis.model_id, rep, "pca")]
    if missing:
        SPACES.prefetch(analysis.model_id, missing, "pca")


def path_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"emb.paths_{value}", lang), value) for value in (PATHS_OFF, PATHS_ONE, PATHS_ALL)]


def relabel_paths(lang: str):
    return gr.update(choices=path_choices(lang))


def update_choices(key: list, lang: str):
    """The representation choices in `lang`. Values are not written: the language
    switch must not race the new-key handler that owns them."""
    if not key:
        return gr.update()
    analysis = analysis_for(key, lang)
    adds_position = analysis.position_embeddings is not None
    return gr.update(choices=representation_choices(analysis.n_layers, lang, adds_position))


def controls_for_new_key(key: list, representation: str, method: str, paths: str, lang: str):
    """(representation, method, paths, token) for a new analysis: the choices follow
    the model, the token starts on the first word, and the values a shared link or a
    lesson step asks for are applied (this handler is their one writer)."""
    if not key:
        return gr.update(), gr.update(), gr.update(), gr.update()
    analysis = analysis_for(key, lang)
    choices = representation_choices(
        analysis.n_layers, lang, adds_position=analysis.position_embeddings is not None
    )
    values = [value for _, value in choices]
    representation = asked(key, "emb_layer", representation, choices=values)
    method = asked(key, "emb_method", method, choices=list(METHODS))
    paths = asked(key, "emb_paths", paths, choices=[PATHS_OFF, PATHS_ONE, PATHS_ALL])
    token = asked(key, "emb_token", default_token(analysis), choices=range(analysis.n_tokens))
    return (
        gr.update(choices=choices, value=representation if representation in values else TOKEN),
        gr.update(value=method),
        gr.update(value=paths),
        gr.update(choices=_token_choices(analysis), value=token),
    )


def on_new_key(key, representation, method, paths, index, lang):
    """The controls for a new key (wanted values applied) and the live view's request
    with them, in one answer: with keys coming quickly, the last key's answer lands last."""
    controls = controls_for_new_key(key, representation, method, paths, lang)
    if not key:
        return (*controls, gr.skip())
    representation, method, paths, index = (update.get("value") for update in controls)
    return (*controls, view_request(key, representation, method, paths, index, lang))


def _token_choices(analysis) -> list[tuple[str, int]]:
    # a dropdown shows plain text (no HTML), so its labels are not escaped
    return [(f"{i}:{tok.text}", i) for i, tok in enumerate(analysis.tokens)]


def _controls(ctx: PanelContext):
    with gr.Row():
        representation = gr.Dropdown(
            [(t("emb.rep_token"), TOKEN)], value=TOKEN, label=t("emb.rep"), elem_id="emb-rep"
        )
        method = gr.Radio(list(METHODS), value="pca", label=t("emb.method"), elem_id="emb-method")
        paths = gr.Radio(
            path_choices("en"),
            value=PATHS_OFF,
            label=t("emb.paths"),
        )
        token = gr.Dropdown([("0", 0)], value=0, label=t("emb.token"), elem_id="emb-token")
    ctx.tr(representation, "emb.rep", "label")
    ctx.tr(method, "emb.method", "label")
    ctx.tr(paths, "emb.paths", "label")
    ctx.tr(token, "emb.token", "label")
    ctx.share(representation, "emb_layer")
    ctx.share(method, "emb_method")
    ctx.share(paths, "emb_paths")
    ctx.share(token, "emb_token")
    return representation, method, paths, token


def build(ctx: PanelContext) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            representation, method, paths, token = _controls(ctx)
            slots = (
                live.plot("space", "emb-plot"),
                live.note("caveat", "emb-caveat"),
                live.row(
                    live.plot("similarity", "emb-similarity"),
                    live.note("neighbours", "emb-neighbours"),
                ),
            )
            view = live.live_view("embeddings", draw_view, slots, elem_id="emb-view")
        with gr.Column(scale=1):
            ctx.tr(gr.Markdown(t("emb.explain")), "emb.explain")
    inputs = [ctx.key, representation, method, paths, token, ctx.lang]
    private = {"api_visibility": "private"}
    ctx.key.change(
        on_new_key,
        inputs,
        [representation, method, paths, token, view],
        concurrency_limit=2,
        **private,
    )
    ctx.lang.change(update_choices, [ctx.key, ctx.lang], representation, **private).then(
        view_request, inputs, view, **private
    )
    ctx.lang.change(relabel_paths, ctx.lang, paths, api_visibility="private", queue=False)
    live.wire_controls(
        "embeddings",
        {"representation": representation, "method": method, "paths": paths, "token": token},
    )
    with gr.Accordion(t("emb.words_section"), open=False) as words_box:
        embeddings_words.build(ctx)
    with gr.Accordion(
        t("emb.positions_section"), open=False, elem_id="emb-positions"
    ) as positions_box:
        embeddings_positions.build(ctx)
    ctx.section(words_box, "emb_words")
    ctx.section(positions_box, "emb_positions")
    ctx.tr(words_box, "emb.words_section", "label")
    ctx.tr(positions_box, "emb.positions_section", "label")
    gr.api(embeddings, api_name="embeddings")
