"""Stable 3D spaces: shapes, determinism, exact transforms, and the vocabulary background,
checked against sklearn, numpy and direct transformers calls."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from models.lenses import projection
from models.lenses.background import (
    background_ids,
    context_free_states,
    embedding_matrix,
    token_vectors,
    word_text,
    word_vectors,
)
from models.lenses.neighbours import (
    contextual_neighbours,
    cosine_matrix,
    top_cosine,
    vocabulary_neighbours,
)
from models.loading.catalog import GEMMA3, SMOLLM2
from models.loading.load import load_model
from models.results import get_analysis


def test_pca_axes_match_sklearn_up_to_sign():
    data = np.random.default_rng(1).normal(size=(300, 20)) * np.linspace(5, 0.1, 20)
    mean, components = projection.fit_pca(data)
    reference = PCA(n_components=3, svd_solver="full").fit(data)
    np.testing.assert_allclose(mean, reference.mean_, atol=1e-10)
    for ours, theirs in zip(components, reference.components_, strict=True):
        np.testing.assert_allclose(abs(ours @ theirs), 1.0, atol=1e-8)


def test_pca_placement_is_the_exact_linear_map(tiny):
    fitted = projection.space(tiny["tiny-gpt2"], projection.TOKEN, "pca")
    vectors = token_vectors(tiny["tiny-gpt2"], fitted.background_ids)
    # the background points are the fit's own vectors placed by the transform
    np.testing.assert_allclose(fitted.place(vectors), fitted.background_points, atol=1e-5)
    unit = vectors[:5] / np.linalg.norm(vectors[:5], axis=1, keepdims=True)
    expected = (unit - fitted.mean) @ fitted.components.T
    np.testing.assert_allclose(fitted.place(vectors[:5]), expected, atol=1e-6)


@pytest.mark.parametrize("representation", [projection.TOKEN, projection.INPUT, "2"])
def test_projections_are_t_by_3_finite_and_deterministic(tiny, representation):
    model = tiny["tiny-bert"]
    analysis = get_analysis(model, "the cat sat on the mat")
    layer = 0 if representation in (projection.TOKEN, projection.INPUT) else 2
    vectors = (
        analysis.token_embeddings
        if representation == projection.TOKEN
        else analysis.hidden_states[layer]
    )
    _, background, first = projection.project(model, representation, "pca", vectors)
    assert first.shape == (analysis.n_tokens, 3)
    assert np.isfinite(first).all() and np.isfinite(background).all()
    projection.SPACES.clear()  # a fresh fit must give the very same space
    _, background_again, second = projection.project(model, representation, "pca", vectors)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(background, background_again)


@pytest.mark.parametrize("model_key", ["tiny-gpt2", SMOLLM2])
def test_same_token_id_lands_on_the_same_point_in_two_sentences(tiny, model_key):
    model = tiny.get(model_key, model_key)
    first = get_analysis(model, "My cat sleeps all day.")
    second = get_analysis(model, "Yesterday the neighbour's cat ran after a very fast mouse.")
    _, _, points_a = projection.project(model, "token", "pca", first.token_embeddings)
    _, _, points_b = projection.project(model, "token", "pca", second.token_embeddings)
    shared = set(first.input_ids.tolist()) & set(second.input_ids.tolist())
    assert shared, "the two sentences must share a token"
    for token_id in shared:
        a = points_a[list(first.input_ids).index(token_id)]
        b = points_b[list(second.input_ids).index(token_id)]
        np.testing.assert_allclose(a, b, atol=1e-5)
    # and different tokens do not collapse onto one point
    assert len({tuple(np.round(p, 4)) for p in points_b}) > len(points_b) // 2


def test_tsne_is_seeded_and_keeps_background_and_tokens_apart(tiny, monkeypatch):
    monkeypatch.setattr(projection, "TSNE_BACKGROUND", 60)
    model = tiny["tiny-gpt2"]
    vectors = get_analysis(model, "a small test of t-SNE").token_embeddings
    ids, background, points = projection.tsne_with_background(model, "token", vectors)
    projection._TSNE_CACHE.clear()
    _, background_again, points_again = projection.tsne_with_background(model, "token", vectors)
    assert background.shape == (len(ids), 3) and len(ids) == 60
    assert points.shape == (len(vectors), 3)
    np.testing.assert_allclose(points, points_again, atol=1e-6)
    np.testing.assert_allclose(background, background_again, atol=1e-6)


def test_token_vectors_equal_what_the_embedding_layer_outputs():
    # Gemma scales its lookup by sqrt(D); the background must live in the same space
    analysis = get_analysis(GEMMA3, "강아지와 고양이")
    module = load_model(GEMMA3).model.get_input_embeddings()
    with torch.inference_mode():
        direct = module(torch.from_numpy(analysis.input_ids[None])).numpy()[0]
    np.testing.assert_allclose(token_vectors(GEMMA3, analysis.input_ids), direct, rtol=1e-5)
    np.testing.assert_allclose(analysis.token_embeddings, direct, rtol=1e-5)


def test_background_is_word_like_sorted_and_includes_hangul_where_the_vocab_has_it():
    ids = background_ids(GEMMA3)
    tokenizer = load_model(GEMMA3).tokenizer
    assert len(ids) == 2000 and np.all(np.diff(ids) > 0)
    assert not set(ids.tolist()) & set(tokenizer.all_special_ids)
    words = [word_text(GEMMA3, i).strip() for i in ids]
    assert all(word.isalpha() for word in words)
    hangul = [w for w in words if any("가" <= ch <= "힣" for ch in w)]
    assert 100 <= len(hangul) <= 500
    assert "the" in words


@pytest.mark.parametrize("model_key", ["tiny-gpt2", "tiny-bert"])
def test_context_free_states_equal_a_direct_model_call(tiny, model_key):
    model = tiny[model_key]
    loaded = load_model(model)
    states, ids = context_free_states(model)
    assert states.shape[:2] == (loaded.config.num_hidden_layers + 1, len(ids))
    tokenizer = loaded.tokenizer
    for row in (0, len(ids) // 2):
        if model_key == "tiny-bert":
            sequence, where = [tokenizer.cls_token_id, int(ids[row]), tokenizer.sep_token_id], 1
        else:
            sequence, where = [tokenizer.bos_token_id, int(ids[row])], 1
        with torch.inference_mode():
            out = loaded.model(input_ids=torch.tensor([sequence]), output_hidden_states=True)
        for layer in range(len(states)):
            direct = out.hidden_states[layer][0, where].numpy()
            np.testing.assert_allclose(states[layer, row], direct, rtol=1e-4, atol=1e-5)


def test_nearest_neighbour_of_a_tokens_own_embedding_is_itself():
    tokenizer = load_model(SMOLLM2).tokenizer
    for word in (" dog", " river", " money"):
        (token_id,) = tokenizer(word, add_special_tokens=False)["input_ids"]
        near = vocabulary_neighbours(SMOLLM2, embedding_matrix(SMOLLM2)[token_id], k=5)
        assert near[0]["id"] == token_id
        assert near[0]["cosine"] == pytest.approx(1.0, abs=1e-5)
        cosines = [n["cosine"] for n in near]
        assert cosines == sorted(cosines, reverse=True)


def test_contextual_neighbour_of_a_sample_words_own_state_is_itself(tiny):
    model = tiny["tiny-llama-gqa"]
    states, ids = context_free_states(model)
    for layer in (1, len(states) - 1):
        near = contextual_neighbours(model, layer, states[layer, 7], k=3)
        assert near[0]["id"] == int(ids[7])


def test_cosine_helpers_agree_with_a_direct_formula():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 10))
    expected = np.array(
        [[a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for b in vectors] for a in vectors]
    )
    np.testing.assert_allclose(cosine_matrix(vectors), expected, atol=1e-12)
    rows, scores = top_cosine(vectors[2], vectors, 3)
    assert rows[0] == 2 and scores[0] == pytest.approx(1.0)
    np.testing.assert_allclose(scores, np.sort(expected[2])[::-1][:3])


def test_word_vectors_are_the_mean_of_the_words_pieces():
    vectors, pieces = word_vectors(GEMMA3, ["dog", "강아지"])
    tokenizer = load_model(GEMMA3).tokenizer
    ids = tokenizer.convert_tokens_to_ids(pieces[1])
    assert len(pieces[1]) >= 1 and "".join(pieces[1]).replace("▁", "") == "강아지"
    expected = token_vectors(GEMMA3, np.array(ids)).mean(axis=0)
    np.testing.assert_allclose(vectors[1], expected, rtol=1e-6)


def test_umap_fit_and_transform_are_seeded():
    data = np.random.default_rng(3).normal(size=(150, 12)).astype(np.float32)
    first, second = projection.fit_umap(data), projection.fit_umap(data)
    np.testing.assert_array_equal(first.embedding_, second.embedding_)
    assert first.embedding_.shape == (150, 3) and np.isfinite(first.embedding_).all()
    placed = first.transform(data[:5])
    np.testing.assert_array_equal(placed, first.transform(data[:5]))
    assert placed.shape == (5, 3)


def test_path_space_places_a_sample_words_own_states_on_its_background_points(tiny):
    model = tiny["tiny-llama-gqa"]
    fitted = projection.space(model, projection.PATHS, "pca")
    states, ids = context_free_states(model)
    n_words = min(projection.PATH_WORDS, len(ids))
    assert fitted.background_points.shape == (len(states) * n_words, 3)
    path = fitted.place_path(states[:, 4])  # word 4 at every layer
    np.testing.assert_allclose(path, fitted.background_points[4::n_words], atol=1e-5)
    assert np.all(fitted.background_ids[4::n_words] == ids[4])
