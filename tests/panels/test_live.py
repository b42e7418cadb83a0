"""Live views: the request a Gradio event sends, the answer the page draws, and what a
panel's new key asks of them, without a browser."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from components.attention import panel as attention
from components.embeddings import panel as embeddings
from components.next_token import panel as next_token
from components.page import live
from components.page.context import session_key
from models.loading.catalog import MINILM, SMOLLM2

ENGLISH = "The capital of France is"


def answered(server_function, request) -> dict:
    return json.loads(server_function(request).body)


def test_an_answer_carries_the_figure_as_plotly_json_and_notes_as_safe_html():
    figure = go.Figure(go.Bar(x=[0.25, 0.75], y=["a", "b"]))
    draw = live.serve(lambda request: live.answer(figure, {"note": "**bold** <img src=x>"}), "t")
    body = answered(draw, {"lang": "en"})
    assert body["figures"]["main"]["data"][0]["type"] == "bar"
    assert go.Figure(body["figures"]["main"]).data[0].y == ("a", "b")
    assert "<strong>bold</strong>" in body["notes"]["note"]
    assert "<img" not in body["notes"]["note"] and "&lt;img" in body["notes"]["note"]


def test_a_failing_request_answers_a_message_in_the_page_language():
    def draw(request):
        return attention.draw_head(request)

    served = live.serve(draw, "attention")
    korean = answered(served, {"key": ["not a valid id!!", "hi", ""], "lang": "ko"})
    english = answered(served, {"key": ["not a valid id!!", "hi", ""], "lang": "en"})
    assert set(korean) == {"error"} and korean["error"] != english["error"]
    assert "Traceback" not in english["error"] and "model id" in english["error"]
    assert set(answered(served, "not a dict")) == {"error"}


def test_the_same_request_sent_twice_still_differs():
    first, second = live.request_value(layer=1), live.request_value(layer=1)
    assert first != second
    assert json.loads(first)["layer"] == json.loads(second)["layer"] == 1


def test_the_live_heatmap_draws_what_render_head_draws():
    key = session_key(SMOLLM2, ENGLISH, "", {"layer": "3", "head": "2"})
    answer = on_new_key_request(key)
    assert (answer["layer"], answer["head"]) == (3, 2)
    drawn = attention.draw_head(answer)
    figure, caption, summary = attention.render_head(key, "self", 3, 2, False, "en")
    assert drawn["figures"]["main"].layout.title.text == figure.layout.title.text
    assert drawn["notes"] == {"summary": summary, "caption": caption}


def on_new_key_request(key) -> dict:
    """The heatmap request inside the attention panel's answer to a new key."""
    updates = attention.on_new_key(key, "self", 0, -1, False, "label", "en")
    return json.loads(updates[4])


@pytest.mark.parametrize("temperature", [0.0, 1.0, 2.0])
def test_the_live_bars_draw_what_the_panel_computes(temperature):
    key = session_key(SMOLLM2, ENGLISH, "")
    request = json.loads(
        next_token.bars_request(key, {}, 4, temperature, 5, 0.9, 8, False, 42, "ko")
    )
    assert request["ids"] == [] and request["lang"] == "ko"
    drawn = next_token.draw_bars(request)
    figure, summary = next_token.distribution_for(
        key, [], 4, temperature, 5, 0.9, 8, False, 42, "ko"
    )
    assert drawn["figures"]["main"].to_plotly_json() == figure.to_plotly_json()
    assert drawn["notes"]["summary"] == summary


def test_a_new_key_turns_off_what_an_encoder_without_a_head_cannot_do():
    names = next_token.NEW_KEY_OUTPUTS
    minilm = dict(
        zip(
            names,
            next_token.on_new_key(session_key(MINILM, ENGLISH), 1, 0, 1, 10, False, 42, "en"),
            strict=True,
        )
    )
    smol = dict(
        zip(
            names,
            next_token.on_new_key(session_key(SMOLLM2, ENGLISH), 1, 0, 1, 10, False, 42, "en"),
            strict=True,
        )
    )
    assert minilm["plot"]["visible"] is False and smol["plot"]["visible"] is True
    for name in ("temperature", "generate_button", "step_button", "seed", "position"):
        assert minilm[name]["interactive"] is False and smol[name]["interactive"] is True
    assert json.loads(smol["plot"]["value"])["position"] == smol["position"]["value"]


def test_a_table_note_escapes_every_cell():
    html = live.table_html(["#", "<b>"], [[1, "<img src=x>"], [2, None]])
    assert "<img" not in html and "&lt;img src=x&gt;" in html and "&lt;b&gt;" in html
    assert html.count("<tr>") == 3 and "<td></td>" in html and html.count('class="num"') == 2


def test_a_first_umap_fit_is_named_while_the_page_waits():
    key = session_key(SMOLLM2, ENGLISH, "", {"emb_method": "umap", "emb_layer": "2"})
    updates = embeddings.on_new_key(key, "token", "pca", "off", 0, "ko")
    request = json.loads(updates[-1])
    assert (request["method"], request["representation"]) == ("umap", "2")
    assert request["working"] != request["working_when"]["method"]["umap"]
    assert "UMAP" in request["working_when"]["method"]["umap"] and request["lang"] == "ko"


def test_the_live_space_draws_what_render_view_draws():
    key = session_key(SMOLLM2, ENGLISH, "", {"emb_layer": "3", "emb_token": "2"})
    request = json.loads(embeddings.on_new_key(key, "token", "pca", "off", 0, "en")[-1])
    drawn = embeddings.draw_view(request)
    figure, heatmap, table, caveat = embeddings.render_view(key, "3", "pca", "off", 2, "en")
    assert drawn["figures"]["space"].to_plotly_json() == figure.to_plotly_json()
    assert drawn["figures"]["similarity"].to_plotly_json() == heatmap.to_plotly_json()
    shown = drawn["notes"]["neighbours"]
    assert shown.count("<tr>") == len(table["data"]) + 1
    assert all(live.escape(row[1]) in shown for row in table["data"])
    assert drawn["notes"]["caveat"] == caveat
