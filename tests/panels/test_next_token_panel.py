"""The next-token panel's render functions, on tiny models and SmolLM2, without a browser."""

from __future__ import annotations

import json
import re

import gradio as gr
import numpy as np
import pytest
import torch

from components.next_token import bars as view
from components.next_token import inside, panel
from components.page.i18n import STRINGS_DIR
from models.lenses.generation import readable_token
from models.loading.catalog import MINILM, SMOLLM2
from models.loading.load import load_model
from models.results import AnalysisKey, get_analysis

ENGLISH = "The capital of France is"


def decoder_for(model_id: str):
    tokenizer = load_model(model_id).tokenizer
    return lambda i: readable_token(tokenizer, i)


def model_logits(model_id: str, text: str) -> torch.Tensor:
    loaded = load_model(model_id)
    with torch.no_grad():
        return loaded.model(**loaded.tokenizer(text, return_tensors="pt")).logits[0]


def test_api_ranks_paris_first_with_the_model_own_probabilities():
    result = panel.next_token(SMOLLM2, ENGLISH, 0.8, 0, 1.0)
    candidates = result["candidates"]
    assert candidates[0]["token"] == " Paris"
    expected = torch.softmax(model_logits(SMOLLM2, ENGLISH)[-1] / 0.8, dim=-1)
    for candidate in candidates:
        assert candidate["prob"] == pytest.approx(float(expected[candidate["id"]]), abs=1e-5)
    probs = [c["prob"] for c in candidates]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9
    assert set(candidates[0]) == {"token", "id", "prob", "logit", "kept"}


def test_api_cuts_are_marked_and_renormalised(tiny):
    result = panel.next_token(tiny["tiny-gpt2"], ENGLISH, 1.0, 5, 1.0)
    kept = [c for c in result["candidates"] if c["kept"]]
    removed = [c for c in result["candidates"] if not c["kept"]]
    assert len(kept) == 5 and removed
    assert sum(c["prob"] for c in kept) == pytest.approx(1.0, abs=1e-9)
    assert all(c["prob"] == 0 for c in removed)
    assert result["candidates"][:5] == kept


def test_api_at_temperature_zero_keeps_the_runners_up_in_the_logits_order():
    result = panel.next_token(SMOLLM2, ENGLISH, 0.0, 0, 1.0)
    candidates = result["candidates"]
    expected = torch.topk(model_logits(SMOLLM2, ENGLISH)[-1], len(candidates)).indices
    assert [c["id"] for c in candidates] == expected.tolist()
    assert candidates[0]["token"] == " Paris" and candidates[0]["prob"] == 1.0
    assert [c["kept"] for c in candidates] == [True] + [False] * (len(candidates) - 1)


@pytest.mark.parametrize(
    ("knobs", "words"), [((-1, 0, 1.0), "emperature"), ((1.0, -2, 1.0), "top-k")]
)
def test_api_bad_knobs_raise_a_readable_gr_error(knobs, words):
    with pytest.raises(gr.Error) as raised:
        panel.next_token(SMOLLM2, ENGLISH, *knobs)
    assert words in str(raised.value.message).lower()


def test_encoder_without_head_says_once_what_encoders_do_and_which_model_to_pick():
    with pytest.raises(gr.Error) as raised:
        panel.next_token(MINILM, ENGLISH, 1.0, 0, 1.0)
    assert "prediction head" in raised.value.message
    analysis = get_analysis(MINILM, ENGLISH)
    assert not analysis.has_lm_head
    notice = inside.family_notice(analysis, "en")
    assert "[MASK]" in notice and "no such head" in notice
    assert "**SmolLM2** for English" in notice and "**Gemma 3** for Korean" in notice
    for absent in ("bert-base-uncased", "distilbert", "klue", "tiny"):
        assert absent not in notice.lower()
    korean = inside.family_notice(analysis, "ko")
    assert "예측 헤드" in korean and "SmolLM2" in korean and "Gemma 3" in korean
    key = list(AnalysisKey.of(MINILM, ENGLISH))
    figure, summary = panel.distribution_view(key, {}, 0, 1.0, 0, 1.0, 10, False, 42, "en")
    assert summary == "" and not figure.data  # the notice is said once, above


def _controls(model_id: str) -> dict[str, dict]:
    key = list(AnalysisKey.of(model_id, ENGLISH))
    return dict(zip(panel.PREDICTION_CONTROLS, panel.prediction_controls(key, "en"), strict=True))


def test_controls_follow_what_the_model_can_predict(tiny):
    without_head = _controls(MINILM)
    assert without_head.pop("plot")["visible"] is False
    assert all(update["interactive"] is False for update in without_head.values())
    decoder = _controls(tiny["tiny-gpt2"])
    assert decoder.pop("plot")["visible"] is True
    assert all(update["interactive"] is True for update in decoder.values())
    masked = _controls(tiny["tiny-bert"])
    assert masked.pop("plot")["visible"] is True
    assert masked.pop("position")["interactive"] and masked.pop("shown")["interactive"]
    assert not any(update["interactive"] for update in masked.values())
    assert all(update == gr.skip() for update in panel.prediction_controls([], "en"))


def test_earlier_positions_show_exact_probabilities_and_what_came(tiny):
    model_id = tiny["tiny-llama-gqa"]
    analysis = get_analysis(model_id, ENGLISH)
    probs = torch.softmax(model_logits(model_id, ENGLISH), dim=-1)
    candidates = view.from_stored(analysis, 1, 10, decoder_for(model_id))
    np.testing.assert_allclose(candidates.probs, probs[1, candidates.ids].numpy(), atol=1e-6)
    came = int(analysis.input_ids[2])
    assert candidates.actual_id == came
    assert candidates.actual_prob == pytest.approx(float(probs[1, came]), abs=1e-6)
    assert candidates.actual_rank == int((probs[1] > probs[1, came]).sum()) + 1


def test_bar_figure_marks_kept_and_removed_tokens_differently(tiny):
    model_id = tiny["tiny-gpt2"]
    logits = get_analysis(model_id, ENGLISH).logits_last
    candidates = view.from_logits(logits, 1.0, 4, 1.0, 10, decoder_for(model_id))
    figure = view.bar_figure(candidates, "en", "title")
    bars = [trace for trace in figure.data if trace.type == "bar"]
    kept, removed = bars
    assert len(kept.y) == 4 and len(removed.y) == 6
    assert kept.marker.color != removed.marker.color
    assert removed.marker.pattern.shape == "/" and not kept.marker.pattern.shape
    assert len(set(kept.y) | set(removed.y)) == 10  # unique labels, nothing merged


def test_temperature_changes_the_bars_without_a_forward_pass(tiny):
    from models.results import RESULTS

    key = list(AnalysisKey.of(tiny["tiny-gpt2"], ENGLISH))
    state = {"key": key, "ids": []}

    def bars(temperature):
        return panel.distribution_view(key, state, 100, temperature, 0, 1.0, 10, False, 42, "en")

    bars(1.0)
    passes = RESULTS.forward_passes
    cold, _ = bars(0.5)
    hot, text = bars(2.5)
    assert RESULTS.forward_passes == passes
    assert max(cold.data[0].x) > max(hot.data[0].x)
    assert "Entropy" in text and "seed 42" in text


def test_generation_extends_the_state_and_the_slider(tiny):
    key = list(AnalysisKey.of(tiny["tiny-gpt2"], ENGLISH))
    state, slider, html = panel.reset(key, "en")
    assert "Nothing generated" in html
    assert state["ids"] == [] and slider["value"] == len(get_analysis(*key).tokens) - 1
    state, slider, html = panel.extend(key, state, 3, 1.0, 0, 1.0, False, 42, "en")
    assert len(state["ids"]) == 3
    assert slider["value"] == len(get_analysis(*key).tokens) - 1 + 3
    assert html.count("<sup>") >= 1 and ENGLISH in html
    state, _, _ = panel.extend_one(key, state, 1.0, 0, 1.0, False, 42, "en")
    assert len(state["ids"]) == 4


def test_surprise_groups_byte_pieces_and_escapes_text(tiny):
    text = "<b>파리</b> & 'x'"
    analysis = get_analysis(tiny["tiny-gpt2"], text)
    html = inside.surprise_html(analysis, "en")
    assert "<b>" not in html and "</b>" not in html
    assert "&lt;" in html and "&amp;" in html and "&#x27;" in html
    groups = inside.surprise_groups(analysis)
    assert [g["text"] for g in groups if g["text"] in "파리"] == ["파", "리"]
    assert all(len(g["ranks"]) == 3 for g in groups if g["text"] in ("파", "리"))
    members = [i for i, tok in enumerate(analysis.tokens) if tok.text == "파"]
    group = next(g for g in groups if g["text"] == "파")
    expected = sum(float(analysis.target_logprobs[i - 1]) for i in members)
    assert group["logprob"] == pytest.approx(expected, abs=1e-5)


def test_fill_mask_lists_the_fillers_of_each_mask(tiny):
    model_id = tiny["tiny-bert"]
    analysis = get_analysis(model_id, "The capital of [MASK] is [MASK].")
    mask_id = load_model(model_id).tokenizer.mask_token_id
    positions = inside.mask_positions(analysis, mask_id)
    assert len(positions) == 2
    text = inside.fill_mask_markdown(analysis, mask_id, decoder_for(model_id), "en")
    assert text.count("Mask ") == 2
    probs = torch.softmax(model_logits(model_id, "The capital of [MASK] is [MASK]."), dim=-1)
    best = int(probs[positions[0]].argmax())
    assert f"{float(probs[positions[0], best]):.1%}" in text


def test_logit_lens_figure_has_a_row_per_layer():
    analysis = get_analysis(SMOLLM2, ENGLISH)
    _, _, lens, _ = panel.inside_views(list(AnalysisKey.of(SMOLLM2, ENGLISH)), {}, "ko")
    heatmap = lens.data[0]
    assert len(heatmap.y) == analysis.n_layers + 1
    assert heatmap.text[-1][0] == "␣Paris"
    assert heatmap.y[0] == "임베딩"


def test_every_string_exists_in_both_languages_and_korean_is_korean():
    data = json.loads((STRINGS_DIR / "next_token" / "panel.json").read_text("utf-8"))
    assert {k for k in data["en"] if not k.endswith(".one")} == set(data["ko"])
    for key, text in data["ko"].items():
        placeholders = set(re.findall(r"{(\w+)}", data["en"][key]))
        assert placeholders == set(re.findall(r"{(\w+)}", text)), key
        assert re.search("[가-힣]", text) or key in ("nt.top_k",), key


def test_encoder_decoder_predicts_the_decoder_next_token(tiny):
    model_id = tiny["tiny-bart"]
    loaded = load_model(model_id)
    result = panel.next_token(model_id, ENGLISH, 1.0, 0, 1.0)
    enc = loaded.tokenizer(ENGLISH, return_tensors="pt")
    start = torch.tensor([[loaded.config.decoder_start_token_id]])
    with torch.no_grad():
        logits = loaded.model(**enc, decoder_input_ids=start).logits[0, -1]
    probs = torch.softmax(logits, dim=-1)
    assert result["candidates"][0]["id"] == int(probs.argmax())
    for candidate in result["candidates"]:
        assert candidate["prob"] == pytest.approx(float(probs[candidate["id"]]), abs=1e-6)


def test_views_wait_quietly_until_something_is_analysed():
    skipped = panel.distribution_view([], {}, 0, 1.0, 0, 1.0, 10, False, 42, "en")
    assert skipped == (gr.skip(), gr.skip())
    assert panel.inside_views([], {}, "ko") == (gr.skip(),) * 4


def _nice_step(span: float, ticks: int = 10) -> float:
    """The 1-2-5 step plotly picks for about `ticks` ticks over `span`."""
    raw = span / ticks
    power = 10 ** np.floor(np.log10(raw))
    return float(min(m * power for m in (1, 2, 5, 10) if m * power >= raw))


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5, 3.0])
def test_probability_ticks_stay_distinct_and_the_legend_sits_under_the_chart(temperature):
    key = list(AnalysisKey.of(SMOLLM2, ENGLISH))
    figure, _ = panel.distribution_view(
        key, {"key": key, "ids": []}, 100, temperature, 5, 0.9, 10, False, 42, "en"
    )
    axis = figure.layout.xaxis
    decimals = int(re.fullmatch(r"\.(\d)%", axis.tickformat).group(1))
    span = axis.range[1]
    for ticks in (5, 10):
        step = _nice_step(span, ticks)
        labels = [f"{v:.{decimals}%}" for v in np.arange(0, span, step)]
        assert len(set(labels)) == len(labels), labels
    legend = figure.layout.legend
    assert (legend.yref, legend.y, legend.yanchor) == ("container", 0, "bottom")
    assert figure.layout.margin.b >= 100
    assert all(text.endswith("%") and text != "0.0%" for text in figure.data[0].text)
