"""Lesson steps, reading a shared URL, and the exports, without a browser."""

from __future__ import annotations

import csv
import io
import json
import re

import gradio as gr
import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from components.page import export, lesson
from components.page.layout import restore_view
from components.page.share import TAB_NAMES, control_value, restore_controls, writer_js
from models.loading.catalog import GEMMA3
from models.results import get_analysis

HANGUL = re.compile("[가-힣]")
COURSE = [
    "tokenization",
    "token_embeddings",
    "positional_encoding",
    "self_attention",
    "multi_head",
    "decoder_mask",
    "inside_block",
    "softmax_sampling",
    "architectures",
]


def test_lessons_walk_the_course_in_order_in_both_languages():
    steps = lesson.steps()
    assert [s.id for s in steps] == COURSE
    for step in steps:
        assert step.tab in TAB_NAMES
        assert HANGUL.search(step.title["ko"]) and HANGUL.search(step.body["ko"])
        assert not HANGUL.search(step.body["en"])
        for example in step.examples.values():
            if HANGUL.search(example.text):
                assert example.model == GEMMA3, f"{step.id}: Korean text needs Gemma-3"


def test_lessons_include_the_classic_examples():
    texts = [ex.text for s in lesson.steps() for ex in s.examples.values()]
    assert any(" bank" in t and t.count("bank") >= 2 for t in texts)
    assert any(t.count("배") >= 2 for t in texts)
    assert "The teacher taught the student with the book." in texts
    assert "나는 최근 파리 여행을 다녀왔다" in texts


def test_a_lesson_example_sets_model_text_and_tab():
    index = COURSE.index("softmax_sampling")
    model, text, pair, tabs, tab = lesson.example_updates(index, "ko")
    step = lesson.steps()[index]
    assert (model, text, pair) == (GEMMA3, step.examples["ko"].text, "")
    assert tab == "next_token" and tabs.selected == "tab.next_token"
    assert lesson.step_at(99) is lesson.steps()[-1] and lesson.step_at("x") is lesson.steps()[0]
    assert step.title["ko"] in lesson.step_markdown(index, "ko")


def test_url_values_fit_their_controls():
    layer = gr.Slider(0, 11, step=1)
    head = gr.Dropdown([("mean", -1), ("0", 0), ("1", 1)], value=-1)
    temperature = gr.Slider(0.0, 2.0, step=0.05)
    assert control_value(layer, "3") == 3 and isinstance(control_value(layer, "3"), int)
    assert control_value(layer, "40") == 11 and control_value(layer, "-5") == 0
    assert control_value(layer, "abc") is None
    assert control_value(head, "-1") == -1 and control_value(head, "7") == 7
    assert control_value(temperature, "0.7") == pytest.approx(0.7)
    assert control_value(gr.Checkbox(), "1") is True and control_value(gr.Checkbox(), "0") is False
    assert control_value(gr.CheckboxGroup(["a", "b"]), '["a"]') == ["a"]
    updates = restore_controls({"layer": "2"}, {"layer": layer, "head": head})
    assert updates[0]["value"] == 2 and "value" not in updates[1]


def test_restoring_a_view_from_a_link():
    params = {"model": "gpt2", "text": "hi", "lang": "ko", "tab": "attention", "present": "1"}
    model, text, pair, lang, tabs, tab, present, lesson_on, step = restore_view(params, "en")
    assert (model["value"], text["value"], lang) == ("gpt2", "hi", "ko")
    assert tabs.selected == "tab.attention" and tab["value"] == "attention"
    assert present is True and lesson_on is False and "value" not in pair
    # a Korean browser with no link starts on a Korean sentence that Gemma reads
    model, text, *_ = restore_view({}, "ko-KR,ko;q=0.9")
    assert model["value"] == GEMMA3 and HANGUL.search(text["value"])
    assert restore_view({"tab": "nope", "lang": "xx"}, "en")[3:6:2] == (
        "en",
        {"__type__": "update"},
    )


def test_the_url_writer_names_every_parameter():
    js = writer_js(["model", "layer"])
    assert '["model", "layer"]' in js and "history.replaceState" in js


@pytest.fixture(scope="module")
def gpt2_analysis(tiny):
    return tiny["tiny-gpt2"], get_analysis(tiny["tiny-gpt2"], "Hello world, 안녕 세계", "")


def test_json_export_equals_a_direct_transformers_call(gpt2_analysis):
    folder, analysis = gpt2_analysis
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager")
    encoded = tokenizer("Hello world, 안녕 세계", return_tensors="pt")
    with torch.inference_mode():
        out = model(**encoded, output_attentions=True)
    payload = export.export_payload(analysis, 1, 0, lambda i: tokenizer.decode([i]), {"top_k": 3})
    json.dumps(payload)  # plain JSON types only
    assert [t["id"] for t in payload["tokens"]] == encoded["input_ids"][0].tolist()
    np.testing.assert_allclose(
        payload["attention"]["weights"], out.attentions[1][0, 0].numpy(), atol=1e-5
    )
    probs = torch.softmax(out.logits[0, -1].double(), -1).numpy()
    candidates = payload["next_token"]["candidates"]
    assert [c["id"] for c in candidates] == list(np.argsort(-probs, kind="stable")[:20])
    np.testing.assert_allclose(
        [c["prob"] for c in candidates], np.sort(probs)[::-1][:20], atol=1e-5
    )
    kept = [c for c in candidates if c["kept"]]
    assert len(kept) == 3 and sum(c["sampled_prob"] for c in kept) == pytest.approx(1.0)
    layer, head, _ = export.selected_attention(analysis, 99, 99)
    assert (layer, head) == (analysis.n_layers - 1, -1)


def test_csv_export_reads_back_with_korean(gpt2_analysis):
    _, analysis = gpt2_analysis
    rows = list(csv.DictReader(io.StringIO(export.tokens_csv(analysis))))
    assert len(rows) == analysis.n_tokens
    assert [int(r["id"]) for r in rows] == analysis.input_ids.tolist()
    text = analysis.text
    for row in rows:
        if row["special"] == "False":
            assert row["text"] == text[int(row["start"]) : int(row["end"])]
    assert any(HANGUL.search(r["text"]) for r in rows)


def test_a_lesson_sets_only_the_panel_controls_it_names():
    shared = {
        "emb_layer": gr.Dropdown([("token", "token")], value="token"),
        "layer": gr.Slider(0, 5),
    }
    index = COURSE.index("positional_encoding")
    updates = lesson.control_updates(index, list(shared), shared)
    assert updates[0]["value"] == "input" and "value" not in updates[1]
