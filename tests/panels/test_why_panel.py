""" "Why this token?" without a browser: the API answer, the drawn figures and table,
the check line, the saliency chips, the export block and the strings."""

from __future__ import annotations

import json
import re

import gradio as gr
import numpy as np
import pytest
import torch

from components.next_token import why, why_views
from components.page import export
from components.page.i18n import STRINGS_DIR
from models.lenses import saliency
from models.lenses.attribution import split_logit
from models.loading.catalog import GEMMA3, MINILM, SMOLLM2
from models.loading.load import load_model
from models.results import AnalysisKey, get_analysis

TEXT = "The capital of France is"
KEY = list(AnalysisKey.of(SMOLLM2, TEXT))


def model_logits(model_id: str, text: str) -> torch.Tensor:
    loaded = load_model(model_id)
    with torch.no_grad():
        return loaded.model(**loaded.tokenizer(text, return_tensors="pt")).logits[0, -1]


def test_api_answers_with_every_documented_field():
    answer = why.attribution(SMOLLM2, TEXT, "")
    logits = model_logits(SMOLLM2, TEXT)
    assert answer["target"] == {
        "id": int(logits.argmax()),
        "token": " Paris",
        "logit": pytest.approx(float(logits.max()), abs=1e-4),
    }
    parts = answer["parts"]
    n_layers, n_heads = 30, 9
    kinds = [p["kind"] for p in parts]
    assert kinds.count("embeddings") == 1 and kinds.count("head") == n_layers * n_heads
    assert kinds.count("attention") == kinds.count("ffn") == n_layers
    coarse = sum(
        p["contribution"] for p in parts if p["kind"] in ("embeddings", "attention", "ffn")
    )
    assert answer["total"] == pytest.approx(coarse)
    assert answer["total"] == pytest.approx(float(logits.max()), rel=1e-3)
    assert answer["saliency_method"] == "gradient_x_input"
    assert [s["token"] for s in answer["saliency"]] == ["The", " capital", " of", " France", " is"]
    assert all(isinstance(s["score"], float) for s in answer["saliency"])


def test_api_explains_a_typed_token_and_a_comparison():
    answer = why.attribution(SMOLLM2, TEXT, " the", compare=" Paris")
    logits = model_logits(SMOLLM2, TEXT)
    assert answer["target"]["token"] == " the" and answer["compare"]["token"] == " Paris"
    difference = float(logits[answer["target"]["id"]] - logits[answer["compare"]["id"]])
    assert answer["model_logit"] == pytest.approx(difference, abs=1e-4)
    assert answer["reconstructed"] == pytest.approx(difference, rel=1e-3, abs=1e-3)


@pytest.mark.parametrize(
    ("model", "target", "words"),
    [
        (SMOLLM2, "Parisian capital", "3 tokens"),
        (SMOLLM2, "99999999", "outside this model's vocabulary"),
        (MINILM, "", "no prediction head"),
        (SMOLLM2, "", "Unknown saliency method"),
    ],
)
def test_api_bad_targets_raise_a_readable_gr_error(model, target, words):
    method = "occlusion" if "method" in words else saliency.GRADIENT_X_INPUT
    with pytest.raises(gr.Error) as raised:
        why.attribution(model, TEXT, target, method)
    assert words in raised.value.message


def test_post_norm_models_answer_with_saliency_only(tiny):
    answer = why.attribution(tiny["tiny-bart"], TEXT, "")
    assert answer["parts"] == [] and answer["total"] is None
    assert "post-norm" in answer["note"]
    assert len(answer["saliency"]) == len(get_analysis(tiny["tiny-bart"], TEXT).tokens)


def test_views_draw_what_the_split_says():
    saliency.clear_cache()
    check, layers, heads, table, chips, note = why.render(KEY, "", "", -1, "gradient_x_input", "en")
    split = split_logit(get_analysis(SMOLLM2, TEXT), "")
    logit = f"{float(model_logits(SMOLLM2, TEXT).max()):.2f}"
    assert f"the parts sum to **{split.total:.2f}**" in check
    assert f"the model's logit is **{logit}**" in check
    by_name = {trace.name: trace for trace in layers.data}
    np.testing.assert_allclose(by_name["attention"].y, split.attention, rtol=1e-6)
    np.testing.assert_allclose(by_name["feed-forward"].y, split.ffn, rtol=1e-6)
    drawn = sum(sum(trace.y) for trace in layers.data)
    assert drawn == pytest.approx(split.total, rel=1e-6)
    strongest = split.strongest_layer()
    assert f"Layer {strongest}" in heads.layout.title.text
    np.testing.assert_allclose(heads.data[0].y, split.heads[strongest], rtol=1e-6)
    rows = table["data"]
    assert rows[0][0] == "layer 29 feed-forward"  # the largest push on " Paris"
    assert [abs(r[1]) for r in rows] == sorted((abs(r[1]) for r in rows), reverse=True)
    assert chips == "" and "Compute saliency" in note  # saliency only on request


def test_the_heads_of_a_chosen_layer_and_korean_labels():
    check, layers, heads, table, _, _ = why.render(KEY, " Paris", " the", 3, "x", "ko")
    assert "검산" in check and "빼기" in check
    assert heads.layout.title.text.startswith("3층")
    assert table["headers"] == why_views.table_headers("ko")
    assert "어텐션" in {trace.name for trace in layers.data}


def test_a_typed_multi_token_text_gets_a_message_not_a_crash():
    check, layers, *_ = why.render(KEY, "Parisian capital", "", -1, "gradient_x_input", "en")
    assert "3 tokens" in check and layers is None


def test_saliency_button_draws_chips_and_the_completeness_check():
    saliency.clear_cache()
    chips, note = why.run_saliency(KEY, "", "", saliency.INTEGRATED_GRADIENTS, "en", _progress)
    assert chips.count('class="why-chip"') == 5
    assert "f(input) − f(baseline)" in note and "gap" in note
    gap = float(re.search(r"gap (\d+\.\d)%", note).group(1))
    assert gap < 5
    # drawn again from the cache, with no backward pass, when the view re-renders
    *_, chips_again, note_again = why.render(KEY, "", "", -1, saliency.INTEGRATED_GRADIENTS, "en")
    assert chips_again == chips and note_again == note


def _progress(*_args, **_kwargs):
    return None


def test_saliency_chips_escape_text_and_group_byte_pieces(tiny):
    text = "<b>파리</b> & 'x'"
    analysis = get_analysis(tiny["tiny-gpt2"], text)
    scores = np.arange(analysis.n_tokens, dtype=np.float32) - 3
    result = saliency.Saliency("gradient_x_input", 0, None, 0, scores, 1.0, None, None, None)
    html = why_views.saliency_html(analysis, result, "en")
    assert "<b>" not in html and "&lt;" in html and "&amp;" in html and "&#x27;" in html
    groups = why_views.saliency_groups(analysis, scores)
    pa = next(g for g in groups if g["text"] == "파")
    members = [i for i, tok in enumerate(analysis.tokens) if tok.text == "파"]
    assert pa["pieces"] == len(members) == 3
    assert pa["score"] == pytest.approx(float(scores[members].sum()))


def test_controls_offer_the_candidates_and_leave_the_values_alone():
    target, other, layer, method = why.controls(KEY, "en")
    assert target["choices"][0] == ("top prediction: ␣Paris", "")
    assert target["choices"][1][1] == " Paris"  # a token's own text, where it is one token
    assert other["choices"][0][1] == "" and len(layer["choices"]) == 31
    assert all("value" not in update for update in (target, other, layer, method))
    assert why.controls([], "en") == (gr.skip(),) * 4


def test_gemma_korean_explains_a_typed_korean_token():
    key = list(AnalysisKey.of(GEMMA3, "대한민국의 수도는"))
    check, *_ = why.render(key, " 서울", "", -1, "gradient_x_input", "ko")
    assert "서울" in check and "검산" in check
    assert "Gemma" in check  # the post-norm parts are explained


def test_the_json_export_holds_the_split_of_the_chosen_token():
    analysis = get_analysis(SMOLLM2, TEXT)
    tokenizer = load_model(SMOLLM2).tokenizer
    payload = export.export_payload(
        analysis, 1, 0, lambda i: tokenizer.decode([i]), {}, {"target": " the", "other": None}
    )
    block = json.loads(json.dumps(payload))["attribution"]
    assert block["decomposes"] and block["target"]["token"] == " the"
    assert block["adds_up"] and len(block["parts"]) == 1 + 2 * 30 + 30 * 9
    bad = export.export_payload(analysis, 1, 0, str, {}, {"target": "Parisian capital"})
    assert "3 tokens" in bad["attribution"]["error"]


def test_every_string_exists_in_both_languages_and_korean_is_korean():
    data = json.loads((STRINGS_DIR / "next_token" / "why.json").read_text("utf-8"))
    assert set(data["en"]) == set(data["ko"])
    for key, text in data["ko"].items():
        placeholders = set(re.findall(r"{(\w+)}", data["en"][key]))
        assert placeholders == set(re.findall(r"{(\w+)}", text)), key
        assert re.search("[가-힣]", text) or key == "why.hover", key


def test_an_encoder_decoder_draws_its_cross_attention_too():
    from models.analysis import analyze
    from tests.models.test_attribution import _tiny_t5

    loaded = _tiny_t5()
    split = split_logit(analyze(loaded, TEXT, "La capitale"), "", loaded=loaded)
    layers = why_views.layers_figure(split, "en")
    names = [trace.name for trace in layers.data]
    assert names == ["embeddings", "attention", "cross-attention", "feed-forward"]
    assert sum(sum(trace.y) for trace in layers.data) == pytest.approx(split.total, rel=1e-5)
    heads = why_views.heads_figure(split, 1, "en")
    np.testing.assert_allclose(heads.data[1].y, split.cross_heads[1], rtol=1e-6)
    labels = [row[0] for row in why_views.table_rows(split, "en", n=50)]
    assert "layer 0 cross-attention" in labels


def test_a_new_key_applies_what_a_link_or_a_lesson_asks_for():
    from components.page.context import session_key

    wanted = {"why_target": " the", "why_vs": " Paris", "why_layer": "7", "why": "1"}
    key = session_key(SMOLLM2, TEXT, "", wanted | {"why_method": "integrated_gradients"})
    target, other, layer, method, opened, section = why.controls_for_new_key(
        key, "", "", -1, "gradient_x_input", False, "en"
    )
    assert (target["value"], other["value"], layer["value"]) == (" the", " Paris", 7)
    assert method["value"] == "integrated_gradients" and opened is True
    assert section["open"] is True
    assert target["choices"][0][1] == ""
    plain = session_key(SMOLLM2, TEXT, "", {})
    kept = why.controls_for_new_key(plain, " of", "", 3, "gradient_x_input", False, "en")
    assert (kept[0]["value"], kept[2]["value"], kept[4]) == (" of", 3, False)
    lesson = session_key(SMOLLM2, TEXT, "", {"open": ["why"]})
    assert why.controls_for_new_key(lesson, "", "", -1, "gradient_x_input", False, "en")[4]


def test_another_method_shows_its_cached_result_or_the_prompt():
    saliency.clear_cache()
    why.run_saliency(KEY, "", "", saliency.GRADIENT_X_INPUT, "en", _progress)
    chips, note = why.saliency_view(KEY, "", "", saliency.GRADIENT_X_INPUT, "en")
    assert 'class="why-chip"' in chips and "Gradient × input" in note
    chips, note = why.saliency_view(KEY, "", "", saliency.INTEGRATED_GRADIENTS, "en")
    assert chips == "" and "Compute saliency" in note


def test_a_new_key_is_answered_in_one_event_with_its_views():
    from components.page.context import session_key

    key = session_key(SMOLLM2, TEXT, "", {"why_target": " the", "why_layer": "5"})
    answer = why.on_new_key(key, "", "", -1, "gradient_x_input", False, "en")
    assert len(answer) == 12
    target, _, layer, *_ = answer
    check, _, heads = answer[6:9]
    assert target["value"] == " the" and layer["value"] == 5
    assert "␣the" in check and heads.layout.title.text.startswith("Layer 5")
    assert why.on_new_key([], "", "", -1, "gradient_x_input", False, "en") == (gr.skip(),) * 12
