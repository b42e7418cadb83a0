"""Block panel: the map, tables, step view and stream view, called without a browser."""

from __future__ import annotations

import json

import gradio as gr
import numpy as np
import pytest

from components.block import memory
from components.block import panel as block
from components.block import steps as step_view
from components.page import live
from components.page.context import analysis_for
from models.lenses.architecture import architecture, kv_bytes
from models.lenses.block import steps_for
from models.loading.catalog import GEMMA3, MINILM, SMOLLM2
from models.loading.load import load_model
from models.results import AnalysisKey

SENTENCE = "The quick brown fox jumps over the lazy dog."


def key_of(model: str, text: str = SENTENCE, pair: str = "") -> list:
    return list(AnalysisKey.of(model, text, pair))


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-bert", "tiny-gemma3", "tiny-t5"])
def test_map_draws_the_block_in_the_records_order(tiny, name):
    key = key_of(tiny[name], pair="Der" if name == "tiny-t5" else "")
    figure, params, memory, kv, keys, config = block.render_architecture(key, "en")
    record = architecture(load_model(tiny[name]))
    drawn = figure.layout.meta["boxes"]
    inner = [item["kind"] for item in record["block"]]
    assert drawn[0] == "embedding" and drawn[1 : 1 + len(inner)] == inner
    if name == "tiny-t5":  # the decoder column, with its cross-attention
        assert "cross_attention" in drawn
        assert drawn.count("embedding") == 2
    else:
        assert drawn[-1] == "head"
    assert len(figure.layout.annotations) >= len(drawn) - drawn.count("add")
    rows = params["value"]
    assert rows[-1][1] == f"{record['total_params']:,}"
    assert json.loads(config) == record["config"]
    assert "`vocab_size`" in keys


def test_the_post_norm_encoder_and_the_sandwich_differ_on_the_map():
    minilm = block.render_architecture(key_of(MINILM), "en")[0].layout.meta["block"]
    gemma = block.render_architecture(key_of(GEMMA3), "en")[0].layout.meta["block"]
    assert minilm[:3] == ["attention", "add", "norm"]
    assert gemma.count("norm") == 4


def test_memory_plot_marks_this_text_and_bends_at_gemmas_window():
    key = key_of(GEMMA3)
    analysis = analysis_for(key)
    kv_plot = block.render_architecture(key, "en")[3]
    record = architecture(load_model(GEMMA3))
    lengths = np.asarray(kv_plot.data[0].x)
    kv = np.asarray(kv_plot.data[0].y)
    marker = kv_plot.data[3]
    assert list(marker.x) == [analysis.n_tokens] * 2
    assert marker.y[0] == kv_bytes(record, analysis.n_tokens)
    slope_short = kv[lengths == 256][0] / kv[lengths == 128][0]
    slope_long = kv[lengths == 4096][0] / kv[lengths == 2048][0]
    assert slope_short == pytest.approx(2.0) and 1.0 < slope_long < 2.0  # local layers stop at 512


def test_step_view_shows_the_real_numbers_and_the_check(tiny):
    key = key_of(tiny["tiny-llama-gqa"])
    text, figure, histogram, neurons = block.render_steps(key, "encoder", 1, 3, "en")
    steps = steps_for(analysis_for(key), 1, 3)
    assert f"largest difference {steps.max_difference:.1e}" in text
    strips = figure.data[0]
    names = step_view.strip_steps(steps)
    np.testing.assert_allclose(
        np.asarray(strips.customdata), np.stack([steps.vectors[n] for n in names])
    )
    assert np.abs(np.asarray(strips.z)).max() <= 1.0
    norms = [float(np.linalg.norm(steps.vectors[n])) for n in names]
    np.testing.assert_allclose(figure.data[1].y, norms, rtol=1e-6)
    np.testing.assert_allclose(histogram.data[0].x, steps.norms[0].before)
    np.testing.assert_allclose(neurons.data[0].y, steps.vectors["ffn_hidden"])


def test_step_text_follows_the_language_and_escapes_the_token(tiny):
    key = key_of(tiny["tiny-gpt2"], "x<img src=y>")
    position = next(i for i, tok in enumerate(analysis_for(key).tokens) if "<" in tok.text)
    english = block.render_steps(key, "encoder", 0, position, "en")[0]
    korean = block.render_steps(key, "encoder", 0, position, "ko")[0]
    shown = live.markdown_html(english.split("\n")[0])
    assert "<img" not in shown and "&lt;</code>" in shown
    assert any("\uac00" <= ch <= "\ud7a3" for ch in korean)
    assert english != korean


def test_stale_pickers_are_clamped_not_refused(tiny):
    key = key_of(tiny["tiny-bert"])
    text, figure, *_ = block.render_steps(key, "encoder", 7, 999, "en")
    assert figure is not None and "Layer 1" in text


def test_an_unknown_layout_is_a_message_in_the_panel(tiny):
    key = key_of(tiny["tiny-phi"])
    text, figure, histogram, neurons = block.render_steps(key, "encoder", 0, 0, "en")
    assert figure is None and "does not know how the blocks" in text
    plot, note = block.render_stream(key, "encoder", "attention", "ko")
    assert plot is None and "tiny-phi" in note
    assert block.render_architecture(key, "en")[0] is None


def test_controls_follow_the_model_and_keep_values_in_range(tiny):
    key = key_of(tiny["tiny-t5"], pair="Der schnelle")
    part, layer, token = block.controls_for(key, "decoder", 5, 1, "ko")
    analysis = analysis_for(key)
    assert part["visible"] is True and part["value"] == "decoder"
    assert layer["value"] == 1 and layer["maximum"] == 1
    assert token["value"] == 1 and len(token["choices"]) == len(analysis.decoder_tokens)
    _, _, token = block.controls_for(key_of(tiny["tiny-gpt2"]), "decoder", 0, -1, "en")
    assert token["value"] == len(token["choices"]) - 1  # -1 is the last token


@pytest.mark.parametrize("measure", ["attention", "ffn", "share", "lines"])
def test_stream_views_have_one_row_per_layer(tiny, measure):
    key = key_of(tiny["tiny-gpt2"])
    analysis = analysis_for(key)
    figure, note = block.render_stream(key, "encoder", measure, "en")
    assert note
    if measure == "lines":
        assert len(figure.data[0].x) == analysis.n_layers
        return
    z = np.asarray(figure.data[0].z)
    assert z.shape == (analysis.n_layers, analysis.n_tokens)
    if measure == "share":
        assert (z >= 0).all() and (z <= 1).all()


def test_stream_token_labels_are_escaped(tiny):
    key = key_of(tiny["tiny-gpt2"], "<img src=x> hi")
    figure, _ = block.render_stream(key, "encoder", "attention", "en")
    assert not any("<img" in text for text in figure.layout.xaxis.ticktext)


def test_config_keys_are_explained_in_both_languages():
    config = {"hidden_size": 576, "num_attention_heads": 9, "odd_key": 1, "<x>": 2}
    english = memory.config_markdown(config, "en")
    korean = memory.config_markdown(config, "ko")
    assert "`hidden_size`" in english and "odd_key" not in english and "<x>" not in english
    assert "hidden_size" in korean and any("\uac00" <= ch <= "\ud7a3" for ch in korean)


def test_api_block_rejects_bad_knobs_with_a_clear_error(tiny):
    with pytest.raises(gr.Error, match="layer must be between 0 and 1"):
        block.block(tiny["tiny-gpt2"], SENTENCE, 5, 0)
    with pytest.raises(gr.Error, match="token must be a whole number"):
        block.block(tiny["tiny-gpt2"], SENTENCE, 0, "x")
    record = block.block(tiny["tiny-gpt2"], SENTENCE, 1, -1)
    assert record["token"] == len(record["tokens"]) - 1
    assert len(record["vectors"]["ffn_hidden"]) == 128 and len(record["vectors"]["output"]) == 32


def test_architecture_of_bundled_smollm2_names_its_design():
    record = block.architecture(SMOLLM2)
    assert (record["n_heads"], record["n_kv_heads"], record["positions"]) == (9, 3, "rotary")
    assert record["tied_embeddings"] is True and record["gated_ffn"] is True


def test_a_new_key_applies_the_link_or_lesson_settings_and_draws_with_them(tiny):
    from components.page.context import session_key

    wanted = {"block_layer": "1", "block_token": "2", "block_view": "lines"}
    key = session_key(tiny["tiny-gpt2"], SENTENCE, "", wanted)
    part, layer, token, view, *shown = block.on_new_key(key, "encoder", 0, -1, "attention", "en")
    assert (layer["value"], token["value"], view["value"]) == (1, 2, "lines")
    request, stream_note = json.loads(shown[6]), shown[-1]
    assert (request["layer"], request["token"]) == (1, 2)
    summary = block.draw_steps(request)["notes"]["summary"]
    labels = block.token_labels(analysis_for(key))
    assert "Layer 1, token" in summary and labels[2] in summary
    assert stream_note == block.render_stream(key, "encoder", "lines", "en")[1]
    plain = session_key(tiny["tiny-gpt2"], SENTENCE, "")  # asks nothing: the values stay
    _, layer, token, view, *_ = block.on_new_key(plain, "encoder", 1, 0, "share", "en")
    assert (layer["value"], token["value"], view["value"]) == (1, 0, "share")
