"""The JSON endpoints of DESIGN.md, through gradio_client on a launched app."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client.exceptions import AppError

from models.loading.catalog import MINILM, SMOLLM2
from tests.conftest import BUNDLED_IDS

pytestmark = pytest.mark.api
TEXT = "The capital of France is"


DOCUMENTED = {
    "models",
    "tokenize",
    "attention",
    "embeddings",
    "next_token",
    "compare_tokenizers",
    "architecture",
    "block",
    "attribution",
}


def test_only_the_documented_endpoints_are_public(client):
    info = client.view_api(return_format="dict", print_info=False)
    assert set(info["named_endpoints"]) == {f"/{name}" for name in DOCUMENTED}
    assert info["unnamed_endpoints"] == {}


def test_models_lists_the_bundled_models_first(client):
    models = client.predict(api_name="/models")
    assert [m["id"] for m in models[:3]] == list(BUNDLED_IDS)
    assert all({"id", "family", "bundled", "languages", "licence"} <= set(m) for m in models)


def test_tokenize_offsets_reproduce_the_text(client):
    text = "나는 최근 파리 여행을 다녀왔다"
    result = client.predict(SMOLLM2, text, api_name="/tokenize")
    assert result["count"] == len(result["tokens"])
    for token in result["tokens"]:
        assert token["text"] == text[token["start"] : token["end"]]


def test_attention_rows_sum_to_one_and_mask_is_causal(client):
    result = client.predict(SMOLLM2, TEXT, 3, 2, api_name="/attention")
    weights = np.array(result["weights"])
    assert weights.shape == (len(result["tokens"]),) * 2
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-4)
    assert np.all(np.triu(weights, 1) == 0)
    mean = np.array(client.predict(SMOLLM2, TEXT, 3, -1, api_name="/attention")["weights"])
    assert not np.allclose(mean, weights)


def test_embeddings_are_three_dimensional_points(client):
    result = client.predict(MINILM, TEXT, 0, "pca", api_name="/embeddings")
    points = np.array(result["points"])
    assert points.shape == (len(result["tokens"]), 3)
    assert np.isfinite(points).all()


def test_next_token_ranks_paris_first(client):
    result = client.predict(SMOLLM2, TEXT, 1.0, 10, 1.0, api_name="/next_token")
    probs = [c["prob"] for c in result["candidates"]]
    assert result["candidates"][0]["token"] == " Paris"
    assert probs == sorted(probs, reverse=True)
    assert sum(probs) <= 1.0 + 1e-9
    assert result["entropy"] > 0


def test_next_token_at_temperature_zero_lists_the_runners_up_by_logit(client):
    result = client.predict(SMOLLM2, TEXT, 0.0, 0, 1.0, api_name="/next_token")
    candidates = result["candidates"]
    assert candidates[0]["token"] == " Paris" and candidates[0]["prob"] == 1.0
    assert all(not c["kept"] and c["prob"] == 0 for c in candidates[1:])
    logits = [c["logit"] for c in candidates]
    assert logits == sorted(logits, reverse=True)
    plain = client.predict(SMOLLM2, TEXT, 1.0, 0, 1.0, api_name="/next_token")["candidates"]
    assert [c["id"] for c in candidates] == [c["id"] for c in plain]


@pytest.mark.parametrize(
    ("args", "api_name", "words"),
    [
        ((SMOLLM2, "   "), "/tokenize", "empty"),
        (("someone/unknown-model", TEXT), "/tokenize", "can't be reached"),
        (("/etc", TEXT), "/tokenize", "outside"),
        ((SMOLLM2, TEXT, 99, 0), "/attention", "layer"),
        ((SMOLLM2, TEXT, -2.0, 0, 1.0), "/next_token", "Temperature"),
        ((SMOLLM2, TEXT, 30, -1), "/block", "layer must be between 0 and 29"),
        ((SMOLLM2, TEXT, 0, 40), "/block", "token must be between 0 and"),
        ((SMOLLM2, TEXT, 0.5, 0), "/block", "layer must be a whole number"),
        (("someone/unknown-model",), "/architecture", "can't be reached"),
    ],
)
def test_bad_input_gets_a_clear_error_and_the_server_keeps_serving(client, args, api_name, words):
    with pytest.raises(AppError, match=words):
        client.predict(*args, api_name=api_name)
    assert client.predict(SMOLLM2, TEXT, api_name="/tokenize")["count"] > 0


def test_architecture_answers_with_the_config(client):
    record = client.predict(SMOLLM2, api_name="/architecture")
    config = record["config"]
    assert record["n_layers"] == config["num_hidden_layers"] == 30
    assert (record["n_heads"], record["n_kv_heads"]) == (9, 3)
    assert (
        record["d_model"] == config["hidden_size"] and record["d_ff"] == config["intermediate_size"]
    )
    assert (record["positions"], record["norm_placement"], record["norm_kind"]) == (
        "rotary",
        "pre",
        "rmsnorm",
    )
    assert sum(p["params"] for p in record["parts"]) == record["total_params"]
    encoder = client.predict(MINILM, api_name="/architecture")
    assert encoder["norm_placement"] == "post" and encoder["positions"] == "learned"


def test_block_vectors_chain_into_each_other(client):
    """input + attention = after_attention, + ffn = output (a pre-norm block), and the
    re-run output matches the model's own state."""
    result = client.predict(SMOLLM2, TEXT, 3, -1, api_name="/block")
    v = {name: np.array(values) for name, values in result["vectors"].items()}
    assert result["token"] == len(result["tokens"]) - 1 and result["layer"] == 3
    np.testing.assert_allclose(v["input"] + v["attention"], v["after_attention"], atol=1e-4)
    np.testing.assert_allclose(v["after_attention"] + v["ffn"], v["output"], atol=1e-4)
    assert v["ffn_hidden"].shape == (1536,) and v["output"].shape == (576,)
    assert result["max_difference"] < 1e-3
    assert result["stats"]["output"]["norm"] == pytest.approx(np.linalg.norm(v["output"]), 1e-5)
