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
from components.page.context import analysis_key, asked, session_key, wanted_values
from components.page.layout import view_from_url
from components.page.share import TAB_NAMES, control_value, writer_js
from models.loading.catalog import GEMMA3, SMOLLM2
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
    "why_token",
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


def test_a_lesson_step_opens_its_example_tab_and_settings_in_one_answer():
    index = COURSE.index("multi_head")
    step = lesson.steps()[index]
    number, body, model, text, pair, tabs, tab, key, status = lesson.open_step(index, "en", [])
    assert number == index and step.title["en"] in body
    assert (model, text, pair) == (SMOLLM2, step.examples["en"].text, "")
    assert tab == "attention" and tabs.selected == "tab.attention"
    assert analysis_key(key) == (SMOLLM2, step.examples["en"].text, "")
    assert wanted_values(key) == step.controls and step.controls  # the panels apply these
    assert "forward pass" in status
    assert lesson.step_at(99) is lesson.steps()[-1] and lesson.step_at("x") is lesson.steps()[0]


def test_a_failed_analysis_keeps_the_shown_one_and_says_so():
    from components.page.input_row import analyse, plain

    shown, _ = analyse(SMOLLM2, "The capital of France is", "", "en", [])
    key, status = analyse("not a valid id!!", "hi", "", "en", shown)
    assert key == {"__type__": "update"}  # the panels keep the analysis they show
    assert "could not be analysed" in status and "**5** tokens" in status
    assert plain(SMOLLM2) in status  # the id as typed, once Markdown renders it


def test_every_new_analysis_gets_a_new_key_that_carries_its_wanted_settings():
    first = session_key("gpt2", "hi", "", {"layer": "3"})
    second = session_key("gpt2", "hi", "")
    assert first != second and analysis_key(first) == analysis_key(second)
    assert wanted_values(first) == {"layer": "3"} and wanted_values(second) == {}
    assert asked(first, "layer", 0, int) == 3 and asked(second, "layer", 0, int) == 0
    assert asked(session_key("gpt2", "hi", "", {"layer": "x"}), "layer", 1, int) == 1
    assert asked(first, "layer", "token", choices=["token", "3"]) == "3"
    assert (
        asked(
            session_key("m", "t", "", {"emb_layer": "99"}), "emb_layer", "token", choices=["token"]
        )
        == "token"
    )
    assert asked(session_key("m", "t", "", {"hide": "1"}), "hide", False, bool) is True


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


def test_reading_a_view_from_a_link():
    params = {"model": "gpt2", "text": "hi", "lang": "ko", "tab": "attention", "present": "1"}
    params |= {"layer": "3", "unknown": "x", "step": "4"}
    view = view_from_url(params, "en", ["layer", "head"])
    assert (view["model"], view["text"], view["pair"], view["lang"]) == ("gpt2", "hi", "", "ko")
    assert view["tab"] == "attention" and view["present"] is True and view["lesson"] is False
    assert view["wanted"] == {"layer": "3"} and view["step"] == 4
    # a Korean browser with no link starts on a Korean sentence that Gemma reads
    view = view_from_url({}, "ko-KR,ko;q=0.9", [])
    assert view["model"] == GEMMA3 and HANGUL.search(view["text"])
    view = view_from_url({"tab": "nope", "lang": "xx"}, "en", [])
    assert (view["lang"], view["tab"], view["model"]) == ("en", None, SMOLLM2)


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


def test_a_lesson_asks_for_its_controls_and_sections():
    positional = lesson.steps()[COURSE.index("positional_encoding")]
    assert lesson.wanted_settings(positional) == {"emb_layer": "input", "open": ["emb_positions"]}
    attention = lesson.steps()[COURSE.index("self_attention")]
    assert lesson.wanted_settings(attention) == {"open": ["walkthrough"]}
    assert lesson.wanted_settings(lesson.steps()[0]) == {}


def test_export_files_follow_the_settings_the_page_sends(gpt2_analysis):
    folder, analysis = gpt2_analysis
    key = [folder, analysis.text, ""]
    view = {"layer": "1", "head": "0", "top_k": "3", "lang": "ko", "temperature": "x"}
    files = export.export_files({"key": key, "view": view})
    data = json.loads(files["json"]["text"])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    direct = export.export_payload(analysis, 1, 0, lambda i: tokenizer.decode([i]), {"top_k": 3})
    assert data == json.loads(json.dumps(direct))  # a knob that is not a number is left out
    assert files["json"]["name"].endswith(".json") and files["csv"]["name"].endswith(".csv")
    assert files["csv"]["text"] == export.tokens_csv(analysis)
    refused = export.export_files({"key": ["not a valid id!!", "hi", ""], "view": {"lang": "ko"}})
    assert set(refused) == {"error"} and "Traceback" not in refused["error"]
    assert HANGUL.search(refused["error"])  # in the page language
