"""Attention panel: heatmaps, mask, cross-attention, special tokens, overview, API.

Every number is checked against a direct transformers call or an independent
reference written here; the panel's functions are called without a browser.
"""

from __future__ import annotations

import re

import gradio as gr
import numpy as np
import pytest
import torch

from components.attention import compare as attention_compare
from components.attention import panel as attention
from components.attention.heatmap import (
    PATTERN_COLOURS,
    causal_mask_path,
    small_maps_figure,
    text_colour,
)
from components.attention.slicing import CROSS, DECODER_SELF, SELF, stats_for, token_labels
from components.page.context import analysis_for
from components.page.theme import MAX_TICKS
from models.lenses.head_stats import PREVIOUS_TOKEN
from models.loading.catalog import SMOLLM2
from models.loading.load import load_model
from models.results import AnalysisKey
from models.tokens import TokenInfo

SENTENCE = "The quick brown fox jumps over the lazy dog."


def key_of(model: str, text: str = SENTENCE, pair: str = "") -> list:
    return list(AnalysisKey.of(model, text, pair))


def direct_attentions(model: str, text: str = SENTENCE) -> np.ndarray:
    """[L, H, T, T] straight from transformers (the independent reference)."""
    loaded = load_model(model)
    encoding = loaded.tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        out = loaded.model(**encoding, output_attentions=True)
    return torch.stack([a[0] for a in out.attentions]).numpy()


def heatmap(model: str, layer: int, head: int, hide=False, part=SELF, text=SENTENCE, pair=""):
    figure, note, summary = attention.render_head(
        key_of(model, text, pair), part, layer, head, hide, "en"
    )
    return figure, note, summary


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama-gqa", "tiny-bert"])
def test_heatmap_shows_the_models_own_weights_with_queries_on_rows(tiny, name):
    reference = direct_attentions(tiny[name])
    figure, _, _ = heatmap(tiny[name], 1, 2)
    z = np.asarray(figure.data[0].z, dtype=float)
    visible = ~np.isnan(z)
    np.testing.assert_allclose(z[visible], reference[1, 2][visible], atol=1e-6)
    np.testing.assert_allclose(np.nansum(z, axis=1), 1.0, atol=1e-4)
    assert len(figure.data[0].y) == z.shape[0] == reference.shape[2]
    assert figure.layout.yaxis.autorange == "reversed"  # first query at the top


def test_mean_over_heads_is_the_mean_of_the_heads(tiny):
    reference = direct_attentions(tiny["tiny-bert"])
    figure, _, _ = heatmap(tiny["tiny-bert"], 0, -1)
    np.testing.assert_allclose(figure.data[0].z, reference[0].mean(0), atol=1e-6)
    assert "mean of 4 heads" in figure.layout.title.text


def test_decoder_future_is_masked_not_zero_and_captioned(tiny):
    figure, note, _ = heatmap(tiny["tiny-gpt2"], 0, 0)
    z = np.asarray(figure.data[0].z, dtype=float)
    t = z.shape[0]
    upper = np.triu(np.ones((t, t), dtype=bool), k=1)
    assert np.isnan(z[upper]).all() and not np.isnan(z[~upper]).any()
    assert [shape.fillcolor for shape in figure.layout.shapes] == ["#BBBBBB"]
    colours = figure.to_plotly_json()["data"][0]["colorscale"]
    assert len(colours) > 2 and colours[0][0] == 0.0  # explicit stops: the colour bar draws
    assert "Causal mask" in note


def test_encoder_attention_is_bidirectional_without_a_mask(tiny):
    figure, note, _ = heatmap(tiny["tiny-bert"], 0, 0)
    z = np.asarray(figure.data[0].z, dtype=float)
    assert not np.isnan(z).any() and np.triu(z, k=1).sum() > 0
    assert len(figure.layout.shapes) == 0
    assert "No mask" in note


def _inside(path: str, x: float, y: float) -> bool:
    """Even-odd ray casting on the polygon of an SVG path made of M/H/V commands."""
    tokens = re.findall(r"[MHVZ]|-?\d+(?:\.\d+)?(?:,-?\d+(?:\.\d+)?)?", path)
    points, current = [], (0.0, 0.0)
    for i, tok in enumerate(tokens):
        if tok == "M":
            current = tuple(float(v) for v in tokens[i + 1].split(","))
        elif tok == "H":
            current = (float(tokens[i + 1]), current[1])
        elif tok == "V":
            current = (current[0], float(tokens[i + 1]))
        else:
            continue
        points.append(current)
    inside = False
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


@pytest.mark.parametrize("n", [2, 3, 7])
def test_mask_path_covers_exactly_the_future_cells(n):
    path = causal_mask_path(n)
    for row in range(n):
        for column in range(n):
            assert _inside(path, column, row) == (column > row), (row, column)


def test_cross_attention_has_decoder_rows_and_encoder_columns(tiny):
    model = tiny["tiny-bart"]
    loaded = load_model(model)
    source, target = "Hello there, world", "Hallo Welt"
    analysis = analysis_for(key_of(model, source, target))
    enc = loaded.tokenizer(source, return_tensors="pt")
    with torch.inference_mode():
        out = loaded.model(
            **enc,
            decoder_input_ids=torch.from_numpy(analysis.decoder_input_ids)[None],
            output_attentions=True,
        )
    cross, _, summary = heatmap(model, 1, 3, part=CROSS, text=source, pair=target)
    z = np.asarray(cross.data[0].z, dtype=float)
    assert z.shape == (len(analysis.decoder_tokens), len(analysis.tokens))
    np.testing.assert_allclose(z, out.cross_attentions[1][0, 3].numpy(), atol=1e-6)
    assert not np.isnan(z).any()  # the whole input is visible to the decoder
    assert "Hall" in cross.data[0].y[1] and "Hello" in cross.data[0].x[0]
    decoder, note, _ = heatmap(model, 0, 1, part=DECODER_SELF, text=source, pair=target)
    zd = np.asarray(decoder.data[0].z, dtype=float)
    assert np.isnan(zd[np.triu_indices(zd.shape[0], 1)]).all()
    assert "Causal" in note


def test_part_radio_appears_only_for_encoder_decoders(tiny):
    seq2seq = attention.controls_for(key_of(tiny["tiny-bart"], "Hi", "Hallo"), "cross", 9, 3, "en")
    plain = attention.controls_for(key_of(tiny["tiny-gpt2"]), "cross", 9, 7, "en")
    assert seq2seq[0]["visible"] and [c[1] for c in seq2seq[0]["choices"]] == [
        SELF,
        DECODER_SELF,
        CROSS,
    ]
    assert not plain[0]["visible"] and plain[0]["value"] == SELF
    assert plain[1]["value"] == 1 and plain[1]["maximum"] == 1  # layer clipped to the model
    assert plain[2]["value"] == -1  # head 7 does not exist in a 4-head model


def test_hiding_special_tokens_drops_them_and_renormalises_rows(tiny):
    model = tiny["tiny-bert"]
    reference = direct_attentions(model)[1, 0]
    analysis = analysis_for(key_of(model))
    special = np.array([tok.special for tok in analysis.tokens])
    assert special.sum() == 2  # [CLS] and [SEP]
    figure, note, _ = heatmap(model, 1, 0, hide=True)
    z = np.asarray(figure.data[0].z, dtype=float)
    kept = reference[~special][:, ~special]
    np.testing.assert_allclose(z, kept / kept.sum(1, keepdims=True), atol=1e-6)
    assert not any("[CLS]" in label or "[SEP]" in label for label in figure.data[0].x)
    assert figure.data[0].x[0].startswith("1 ")  # positions stay those of the input
    assert "2 special token" in note and "sinks" in note.lower()


def test_token_labels_are_escaped_for_plotly(tiny):
    text = '<b>bold</b> & "<script>'
    figure, _, _ = heatmap(tiny["tiny-gpt2"], 0, 0, text=text)
    labels = list(figure.data[0].x)
    assert not any("<" in label or '"' in label for label in labels)
    assert any("&lt;" in label for label in labels) and any("&amp;" in label for label in labels)


def _token(text: str, start: int, end: int, special: bool = False) -> TokenInfo:
    return TokenInfo(0, text, text, start, end, special, None, 0, ())


def test_labels_are_unique_and_byte_pieces_of_one_character_are_numbered():
    tokens = (
        _token("<bos>", 0, 0, True),
        _token("나", 0, 1),
        _token("나", 0, 1),
        _token("나", 0, 1),
        _token(" the", 1, 5),
        _token(" the", 5, 9),
    )
    labels = token_labels(tokens)
    assert len(set(labels)) == len(labels)
    assert labels[1:4] == ("1 나 (1/3)", "2 나 (2/3)", "3 나 (3/3)")
    assert labels[4] == "4 the" and labels[0] == "0 &lt;bos&gt;"


def test_long_inputs_get_short_labels_and_at_most_sixty_ticks(tiny):
    text = " ".join(["extraordinarily"] * 120)
    figure, _, _ = heatmap(tiny["tiny-gpt2"], 0, 0, text=text)
    labels = figure.data[0].x
    assert len(labels) > 120 and len(set(labels)) == len(labels)
    assert all(len(label.split(" ", 1)[1]) <= 6 for label in labels)
    assert len(figure.layout.xaxis.tickvals) <= MAX_TICKS
    assert set(figure.layout.xaxis.tickvals) <= set(labels)


def test_overview_table_is_layers_by_heads_and_a_click_picks_that_head(tiny):
    key = key_of(tiny["tiny-llama-gqa"])
    maps, table, note = attention.render_overview(key, SELF, "previous_share", "en")
    frame = table.data
    assert frame.shape == (2, 1 + 4)
    analysis = analysis_for(key)
    reference = direct_attentions(tiny["tiny-llama-gqa"])
    rows = np.arange(1, reference.shape[-1])
    expected = reference[1, 3][rows, rows - 1].mean()
    assert float(frame.iloc[1, 4]) == pytest.approx(expected, abs=0.005)
    assert maps["visible"] and maps["value"] is not None  # short input: small maps drawn
    assert "Click a cell" in note and analysis.n_heads == 4
    layer, head = attention.pick_head(gr.SelectData(None, {"index": [1, 4], "value": "x"}))
    assert layer["value"] == 1 and head["value"] == 3


def test_small_maps_tile_every_head_and_give_way_to_the_table_when_long():
    rng = np.random.default_rng(0)
    stack = rng.random((3, 2, 4, 4)).astype(np.float32)
    stack /= stack.sum(-1, keepdims=True)
    figure = small_maps_figure(stack, causal=False, lang="en")
    grid = np.asarray(figure.data[0].z, dtype=float)
    assert grid.shape == (3 * 5 - 1, 2 * 5 - 1)
    np.testing.assert_allclose(grid[10:14, 5:9], stack[2, 1], atol=1e-6)  # layer 2, head 1
    assert np.isnan(grid[4]).all()  # the gap between layers
    assert small_maps_figure(np.ones((2, 2, 40, 40)) / 40, causal=False, lang="en") is None


def test_previous_token_labels_hold_on_smollm2_own_weights():
    text = "One two three four five six seven eight nine ten eleven twelve"
    stats = stats_for(analysis_for(key_of(SMOLLM2, text)), SELF)
    reference = direct_attentions(SMOLLM2, text)
    rows = np.arange(1, reference.shape[-1])
    previous = reference[:, :, rows, rows - 1].mean(-1)
    labelled = stats.labels == PREVIOUS_TOKEN
    assert labelled.any()  # small decoders have previous-token heads
    assert (previous[labelled] >= 0.5).all()
    np.testing.assert_allclose(stats.previous_share, previous, atol=1e-5)


def test_compare_puts_the_encoder_left_and_the_masked_decoder_right(tiny):
    left, right, note = attention_compare.compare(
        key_of(tiny["tiny-gpt2"]), tiny["tiny-bert"], 1, "en"
    )
    assert not np.isnan(np.asarray(left.data[0].z, dtype=float)).any()
    assert np.isnan(np.asarray(right.data[0].z, dtype=float)).any()
    assert left.layout.title.text.startswith("Encoder") and "Decoder" in right.layout.title.text
    assert (
        attention_compare.same_depth(29, 30, 6) == 5 and attention_compare.same_depth(0, 30, 6) == 0
    )


def test_api_matches_transformers_and_refuses_a_bad_head(tiny):
    model = tiny["tiny-gpt2"]
    reference = direct_attentions(model)
    result = attention.attention(model, SENTENCE, 1, -1)
    assert set(result) == {"tokens", "n_layers", "n_heads", "layer", "head", "weights"}
    assert (result["n_layers"], result["n_heads"]) == reference.shape[:2]
    np.testing.assert_allclose(result["weights"], reference[1].mean(0), atol=1e-5)
    with pytest.raises(gr.Error, match="head"):
        attention.attention(model, SENTENCE, 0, 4)


def test_korean_labels_and_captions_follow_the_language(tiny):
    figure, note, summary = attention.render_head(
        key_of(tiny["tiny-gpt2"]), SELF, 0, 0, False, "ko"
    )
    assert figure.layout.xaxis.title.text.startswith("키 토큰")
    assert "인과적 마스크" in note and "엔트로피" in summary


def test_compare_titles_get_room_and_narrow_key_labels_slant():
    left, right, _ = attention_compare.compare(
        key_of(SMOLLM2, "The capital of France is"), "", 3, "en"
    )
    for figure in (left, right):
        lines = figure.layout.title.text.count("<br>") + 1
        assert lines == 2 and figure.layout.margin.t >= 24 * lines + 20
        assert figure.layout.xaxis.tickangle == -45 and figure.layout.xaxis.automargin
    wide = attention.render_head(key_of(SMOLLM2, "The capital"), SELF, 0, -1, False, "en")[0]
    assert wide.layout.xaxis.tickangle == 0


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance, from the definition (sRGB channels linearised)."""
    if colour.startswith("#"):
        rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    else:
        rgb = [float(c) / 255 for c in re.findall(r"[\d.]+", colour)[:3]]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(text: str, background: str) -> float:
    """WCAG 2 contrast ratio between two colours."""
    high, low = sorted((_luminance(text), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_overview_text_is_the_more_readable_of_black_and_white_on_every_cell(tiny):
    stats = stats_for(analysis_for(key_of(tiny["tiny-gpt2"]), "en"), SELF)
    seen = set()
    for metric in ("label", "entropy", "previous_share"):
        styled = attention.overview_table(stats, metric, "en")
        styled._compute()
        for props in styled.ctx.values():
            colours = dict(props)
            if "background-color" not in colours:
                continue
            background, text = colours["background-color"], colours["color"]
            other = "#FFFFFF" if text == "#000000" else "#000000"
            assert _contrast(text, background) >= _contrast(other, background), background
            seen.add(text)
    assert seen == {"#000000", "#FFFFFF"}
    assert text_colour(PATTERN_COLOURS[PREVIOUS_TOKEN]) == "#FFFFFF"  # the dark blue "prev"


def test_hiding_special_tokens_says_so_when_the_model_adds_none(tiny):
    plain = key_of(SMOLLM2, "The cat sat.")
    assert not any(tok.special for tok in analysis_for(plain, "en").tokens)
    _, note, _ = attention.render_head(plain, SELF, 0, -1, True, "en")
    assert "adds no special tokens" in note
    _, shown, _ = attention.render_head(plain, SELF, 0, -1, False, "en")
    assert "adds no special tokens" not in shown
    _, bert, _ = attention.render_head(key_of(tiny["tiny-bert"]), SELF, 0, -1, True, "en")
    assert "special tokens hidden" in bert and "adds no special tokens" not in bert
