"""The embedding panel's render functions and API, on tiny models (no browser)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from components.embeddings import panel as embeddings
from components.embeddings import positions as embeddings_positions
from components.embeddings import words as embeddings_words
from components.embeddings.plots import (
    LABEL_CHARS,
    MAX_LABELLED,
    representation_choices,
    sentence_vectors,
    similarity_figure,
)
from components.page.i18n import t
from components.page.theme import CATEGORICAL, MAX_TICKS
from models.lenses.background import token_vectors, word_text
from models.lenses.projection import space
from models.loading.catalog import GEMMA3, MINILM, SMOLLM2
from models.loading.load import load_model
from models.results import AnalysisKey, get_analysis

KOREAN = "배를 타고 배를 먹었다 <b>"


def _key(model: str, text: str) -> list:
    return list(AnalysisKey.of(model, text))


def test_api_layer_zero_is_the_lookup_placed_into_the_fitted_space(tiny):
    model = tiny["tiny-gpt2"]
    result = embeddings.embeddings(model, "a cat and a dog", 0, "pca")
    analysis = get_analysis(model, "a cat and a dog")
    expected = space(model, "token", "pca").place(token_vectors(model, analysis.input_ids))
    np.testing.assert_allclose(result["points"], expected, atol=1e-5)
    assert result["tokens"] == [tok.text for tok in analysis.tokens]
    assert (result["method"], result["layer"]) == ("pca", 0)


def test_api_last_layer_alias_and_bad_arguments(tiny):
    model = tiny["tiny-llama-gqa"]
    last = embeddings.embeddings(model, "hello there", -1, "pca")
    explicit = embeddings.embeddings(model, "hello there", 2, "pca")
    assert last["points"] == explicit["points"]
    assert last["points"] != embeddings.embeddings(model, "hello there", 1, "pca")["points"]
    with pytest.raises(gr.Error):
        embeddings.embeddings(model, "hello there", 3, "pca")
    with pytest.raises(gr.Error):
        embeddings.embeddings(model, "hello there", 0, "svd")


def test_view_draws_background_and_every_token_with_escaped_korean_labels(tiny):
    model = tiny["tiny-gpt2"]
    figure, heatmap, table, note = embeddings.render_view(
        _key(model, KOREAN), "1", "pca", "off", 0, "ko"
    )
    background, tokens = figure.data
    analysis = get_analysis(model, KOREAN)
    assert len(background.x) == len(space(model, "1", "pca").background_ids)
    assert len(tokens.x) == analysis.n_tokens
    assert "0:배" in tokens.text  # WebGL text is drawn raw, never parsed as HTML
    assert any(label.endswith("<") for label in tokens.text)
    hover = "".join(tokens.hovertext)  # hover text is HTML: escaped
    assert "&lt;" in hover and "<b>" not in hover
    assert "&lt;" in "".join(heatmap.data[0].x)  # axis ticks are SVG text: escaped
    similarity = np.array(heatmap.data[0].z, dtype=float)
    np.testing.assert_allclose(np.diag(similarity), 1.0, atol=1e-3)
    np.testing.assert_allclose(similarity, similarity.T, atol=1e-3)
    own = word_text(model, int(analysis.input_ids[0]))
    assert own == "<0xEB>"  # the first of 배's three bytes (EB B0 B0), not a Latin 'ë'
    assert table["data"][0][1] == repr(own)  # a token's own embedding is its nearest
    assert "PCA" in note


def test_same_byte_token_in_two_places_shares_its_point_at_layer_zero_only(tiny):
    model = tiny["tiny-gpt2"]
    analysis = get_analysis(model, KOREAN)
    ids = list(analysis.input_ids)
    first = ids.index(ids[0])
    again = ids.index(ids[0], first + 1)  # '배' appears twice: same ids, different context
    layer0, *_ = embeddings.render_view(_key(model, KOREAN), "token", "pca", "off", 0, "en")
    points = np.column_stack([layer0.data[1].x, layer0.data[1].y, layer0.data[1].z])
    np.testing.assert_allclose(points[first], points[again], atol=1e-6)
    layer2 = embeddings.embeddings(model, KOREAN, 2, "pca")["points"]
    assert not np.allclose(layer2[first], layer2[again], atol=1e-4)


def test_paths_have_one_point_per_layer_for_every_token(tiny):
    model = tiny["tiny-llama-gqa"]
    text = "the river bank"
    figure, *_ = embeddings.render_view(_key(model, text), "1", "pca", "all", 0, "en")
    analysis = get_analysis(model, text)
    lines = [trace for trace in figure.data if trace.mode == "lines+markers"]
    assert len(lines) == analysis.n_tokens
    assert all(len(line.x) == analysis.n_layers + 1 for line in lines)
    single, *_ = embeddings.render_view(_key(model, text), "1", "pca", "one", 2, "en")
    (line,) = [trace for trace in single.data if trace.mode == "lines+markers"]
    assert line.name.startswith("2:")


def test_representations_slice_the_cached_analysis(tiny):
    analysis = get_analysis(tiny["tiny-bert"], "hello world")
    assert [value for _, value in representation_choices(2, "en")] == ["token", "input", "1", "2"]
    np.testing.assert_array_equal(sentence_vectors(analysis, "token"), analysis.token_embeddings)
    np.testing.assert_array_equal(sentence_vectors(analysis, "input"), analysis.hidden_states[0])
    np.testing.assert_array_equal(sentence_vectors(analysis, "2"), analysis.hidden_states[2])


def test_word_list_distances_and_parsing(tiny):
    assert embeddings_words.parse_words("강아지, 고양이，사자\n자동차; 비행기, 사자") == [
        "강아지",
        "고양이",
        "사자",
        "자동차",
        "비행기",
    ]
    figure, distance, _ = embeddings_words.render_words(
        tiny["tiny-gpt2"], "dog, cat, lion, car", "en"
    )
    matrix = np.array(distance.data[0].z, dtype=float)
    assert matrix.shape == (4, 4)
    np.testing.assert_allclose(np.diag(matrix), 0.0, atol=1e-3)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-3)
    assert list(figure.data[1].text) == ["dog", "cat", "lion", "car"]
    with pytest.raises(gr.Error):
        embeddings_words.render_words(tiny["tiny-gpt2"], "dog", "en")


def test_positions_show_a_table_for_learned_and_frequencies_for_rotary(tiny):
    learned = embeddings_positions.render_positions(_key(tiny["tiny-bert"], "hi there"), "en")
    assert np.array(learned[0].data[0].z).shape == (embeddings_positions.POSITIONS_SHOWN, 32)
    assert learned[1]["visible"] is True
    rotary = embeddings_positions.render_positions(_key(tiny["tiny-llama-gqa"], "hi"), "ko")
    assert rotary[1]["visible"] is False
    assert [trace.name.startswith("RoPE") for trace in rotary[0].data] == [True, False]
    assert "RoPE" in rotary[3]


def test_every_string_has_natural_korean():
    strings = json.loads(
        (Path(__file__).parents[2] / "assets/strings/embeddings/panel.json").read_text("utf-8")
    )
    assert {k for k in strings["en"] if not k.endswith(".one")} == set(strings["ko"])
    for key, text in strings["ko"].items():
        english_words = re.sub(r"\{[^}]*\}", "", strings["en"][key])
        if any(ch.isalpha() for ch in english_words):
            assert any("가" <= ch <= "힣" for ch in text), key


BOATS = "배가 아파서 배를 먹고 배를 타러 갔다"


@pytest.mark.parametrize(("model", "text"), [(MINILM, "The river bank"), (GEMMA3, BOATS)])
def test_the_selected_token_starts_on_the_first_real_word(model, text):
    tokenizer = load_model(model).tokenizer
    special = tokenizer(text, return_special_tokens_mask=True)["special_tokens_mask"]
    assert special[0] == 1  # [CLS] / <bos> comes first
    first_word = special.index(0)
    *_, token = embeddings.controls_for_new_key(_key(model, text), "token", "pca", "off", "en")
    assert token["value"] == first_word
    asking = [model, text, "", 1, {"emb_token": str(first_word + 1)}]  # a shared link's token
    *_, kept = embeddings.controls_for_new_key(asking, "token", "pca", "off", "en")
    assert kept["value"] == first_word + 1
    *_, table, _ = embeddings.render_view(_key(model, text), "token", "pca", "off", None, "en")
    query = get_analysis(model, text).tokens[first_word].text
    assert table["data"][0][1] in (repr(query), repr(query.lower()))  # itself is nearest


def test_all_token_paths_get_a_colour_each_so_the_three_boats_differ():
    figure, *_ = embeddings.render_view(_key(GEMMA3, BOATS), "1", "pca", "all", 0, "en")
    analysis = get_analysis(GEMMA3, BOATS)
    words = [i for i, tok in enumerate(analysis.tokens) if not tok.special]
    assert len(words) > len(CATEGORICAL)
    lines = [trace for trace in figure.data if trace.mode == "lines+markers"]
    assert [line.name.split(":")[0] for line in lines] == [str(i) for i in words]  # no <bos>
    colours = {int(line.name.split(":")[0]): line.line.color for line in lines}
    assert len(set(colours.values())) == len(words)
    boats = [i for i in words if analysis.tokens[i].text.strip() == "배"]
    assert len(boats) == 3 and len({colours[i] for i in boats}) == 3


def test_3d_labels_are_short_spread_out_and_dropped_when_crowded(tiny):
    text = "internationalization supercalifragilistic ok"
    figure, *_ = embeddings.render_view(
        _key(tiny["tiny-gpt2"], text), "token", "pca", "off", 0, "en"
    )
    tokens = figure.data[1]
    assert all(len(label.partition(":")[2]) <= LABEL_CHARS + 1 for label in tokens.text)
    assert len(set(tokens.textposition)) > 1
    many = " ".join(["word"] * (MAX_LABELLED + 5))
    crowded, *_ = embeddings.render_view(
        _key(tiny["tiny-gpt2"], many), "token", "pca", "off", 0, "en"
    )
    assert crowded.data[1].mode == "markers"


def test_a_rotary_model_says_nothing_is_added_before_block_1(tiny):
    rotary = embeddings.update_choices(_key(SMOLLM2, "The cat"), "en")
    learned = embeddings.update_choices(_key(tiny["tiny-bert"], "the cat"), "en")
    assert dict((v, k) for k, v in rotary["choices"])["input"] == (
        "input to block 1 (no position added: rotary)"
    )
    assert (
        dict((v, k) for k, v in learned["choices"])["input"] == "token + position (enters block 1)"
    )
    korean = embeddings.update_choices(_key(SMOLLM2, "The cat"), "ko")
    assert "회전" in dict((v, k) for k, v in korean["choices"])["input"]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_long_titles_wrap_and_the_top_margin_holds_them(tiny, lang):
    figure, distance, _ = embeddings_words.render_words(tiny["tiny-gpt2"], "dog, cat", lang)
    title = figure.layout.title.text
    lines = title.split("<br>")
    assert "".join(lines).replace(" ", "") == t("emb.words_title", lang).replace(" ", "")
    assert all(sum(2 if "가" <= ch <= "힣" else 1 for ch in line) <= 52 for line in lines)
    assert figure.layout.margin.t >= 24 * len(lines) + 20


def test_repeated_tokens_share_one_label_where_their_points_coincide():
    figure, *_ = embeddings.render_view(_key(GEMMA3, BOATS), "token", "pca", "off", 1, "en")
    analysis = get_analysis(GEMMA3, BOATS)
    labels = list(figure.data[1].text)
    by_id: dict[int, list[int]] = {}
    for i, tok in enumerate(analysis.tokens):
        by_id.setdefault(tok.id, []).append(i)
    repeated = [members for members in by_id.values() if len(members) > 1]
    assert repeated  # "배" and "를" come back with the same id
    for members in repeated:
        written = [labels[i] for i in members if labels[i]]
        assert written == [
            ",".join(map(str, members)) + ":" + analysis.tokens[members[0]].text.strip()
        ]


def test_the_similarity_map_writes_a_fixed_thinned_set_of_token_labels():
    labels = [f"{i}:w{i}" for i in range(140)]
    figure = similarity_figure(np.eye(140), labels, "en")
    for axis in (figure.layout.xaxis, figure.layout.yaxis):
        assert axis.tickmode == "array" and 0 < len(axis.tickvals) <= MAX_TICKS
        assert set(axis.tickvals) <= set(labels) and axis.tickvals[0] == labels[0]
