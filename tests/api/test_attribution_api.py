"""/attribution through gradio_client on a launched app: the split adds up to the
model's logit, saliency comes back in input order, bad targets get a clear error."""

from __future__ import annotations

import pytest
from gradio_client.exceptions import AppError

from models.loading.catalog import GEMMA3, SMOLLM2

pytestmark = pytest.mark.api
TEXT = "The capital of France is"


def test_attribution_splits_the_top_prediction(client):
    result = client.predict(SMOLLM2, TEXT, "", api_name="/attribution")
    assert result["target"]["token"] == " Paris"
    kinds = {p["kind"] for p in result["parts"]}
    assert kinds == {"embeddings", "attention", "head", "ffn"}
    coarse = [p for p in result["parts"] if p["kind"] != "head"]
    assert result["total"] == pytest.approx(sum(p["contribution"] for p in coarse))
    assert result["total"] == pytest.approx(result["target"]["logit"], rel=1e-3)
    for layer in range(30):
        heads = [p["contribution"] for p in result["parts"] if p["kind"] == "head"]
        heads = heads[layer * 9 : (layer + 1) * 9]
        attention = next(
            p["contribution"]
            for p in result["parts"]
            if p["kind"] == "attention" and p["layer"] == layer
        )
        assert sum(heads) == pytest.approx(attention, rel=1e-3, abs=1e-4)
    assert result["saliency_method"] == "gradient_x_input"
    assert "".join(s["token"] for s in result["saliency"]) == TEXT


def test_attribution_takes_a_token_id_and_korean_text(client):
    top = client.predict(GEMMA3, "대한민국의 수도는", " 서울", api_name="/attribution")
    assert top["target"]["token"] == " 서울" and top["adds_up"]
    by_id = client.predict(
        GEMMA3, "대한민국의 수도는", str(top["target"]["id"]), api_name="/attribution"
    )
    assert by_id["target"] == top["target"]


@pytest.mark.parametrize(("target", "words"), [("Parisian capital", "tokens"), ("-5", "one")])
def test_bad_targets_get_a_clear_error_and_the_server_keeps_serving(client, target, words):
    with pytest.raises(AppError, match=words):
        client.predict(SMOLLM2, TEXT, target, api_name="/attribution")
    assert client.predict(SMOLLM2, TEXT, "", api_name="/attribution")["target"]["id"] >= 0
