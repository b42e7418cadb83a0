"""The hostile corpus through every API endpoint: a valid result or a clear message.

Over the launched app (gradio_client, plus raw JSON for what the client can't
send) and in-process on the tiny models (encoder with MLM head, GQA decoder,
encoder-decoder) and with a low size limit. After each bad input a normal
request must still work.
"""

from __future__ import annotations

import json
import math

import gradio as gr
import httpx
import numpy as np
import pytest
from gradio_client.exceptions import AppError

from models import results
from models.errors import AnatomyError
from models.loading import load as loading
from models.loading.catalog import MINILM, SMOLLM2
from models.settings import settings
from tests import hostile_corpus as corpus

pytestmark = pytest.mark.api
NORMAL_TEXT = "The capital of France is"
API_MODELS = (SMOLLM2, MINILM)
# What a knob gets in a normal call, by parameter name.
KNOB_DEFAULTS = {
    "layer": 0,
    "head": 0,
    "method": "pca",
    "temperature": 1.0,
    "top_k": 0,
    "top_p": 1.0,
    "text_pair": "",
    "token": -1,
    "part": "encoder",
}
UNCLEAR = ("upstream Gradio app", "unexpected problem", "Traceback", 'File "', "None")


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def local_root(tiny):
    root = settings().local_roots[0]
    corpus.make_broken_models(root, root / "tiny-gpt2")
    return root


@pytest.fixture(scope="module")
def endpoints(client) -> dict[str, list[str]]:
    """api_name -> parameter names, for every endpoint the app registers."""
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    return {name: [p["parameter_name"] for p in spec["parameters"]] for name, spec in info.items()}


def args_for(params: list[str], model: str, text: str, **knobs) -> list:
    values = {**KNOB_DEFAULTS, "model": model, "text": text}
    if "target" in params:  # /attribution: its method is a saliency method, not a projection
        values["method"] = "gradient_x_input"
    values |= knobs
    return [values.get(name, "") for name in params]


def assert_clear(message: str | None, words: str | None = None) -> None:
    """A message a student can act on: present, short, no internals."""
    assert message, "the error came without a message"
    assert len(message) < 700, message
    for bad in UNCLEAR:
        assert bad not in message, f"unclear message: {message!r}"
    if words:
        assert words.lower() in message.lower(), f"{words!r} not in {message!r}"


def check_result(api_name: str, text: str, result) -> None:
    """Invariants of a valid answer (an independent reading of DESIGN.md's API)."""
    assert isinstance(result, dict | list), result
    if api_name == "/tokenize":
        assert result["count"] == len(result["tokens"]) > 0
        for token in result["tokens"]:
            if not token["special"]:
                assert token["text"] == text[token["start"] : token["end"]], token
    elif api_name == "/attention":
        weights = np.array(result["weights"])
        assert weights.shape == (len(result["tokens"]),) * 2
        np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-3)
    elif api_name == "/embeddings":
        points = np.array(result["points"])
        assert points.shape == (len(result["tokens"]), 3) and np.isfinite(points).all()
    elif api_name == "/next_token":
        probs = [c["prob"] for c in result["candidates"]]
        assert probs and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
        assert all(math.isfinite(p) for p in probs) and math.isfinite(result["entropy"])


def call(client, api_name: str, args) -> tuple[str, object]:
    """("ok", result) or ("error", message)."""
    try:
        return "ok", client.predict(*args, api_name=api_name)
    except AppError as exc:
        return "error", str(exc)


def json_body(*raw_values: str) -> str:
    """A request body from already-encoded JSON values (some not valid JSON on purpose)."""
    return '{"data": [' + ", ".join(raw_values) + "]}"


def raw_call(app_url: str, api_name: str, body: str) -> tuple[str, object]:
    """Send JSON the client can't produce (lone surrogates, NaN); ("ok"|"error", payload)."""
    url = f"{app_url}gradio_api/call{api_name}"
    posted = httpx.post(url, content=body, headers={"content-type": "application/json"})
    assert posted.status_code == 200, posted.text
    stream = httpx.get(f"{url}/{posted.json()['event_id']}", timeout=120).text
    event, _, data = stream.strip().partition("\ndata: ")
    payload = json.loads(data)
    if event == "event: complete":
        return "ok", payload[0]
    return "error", payload.get("error") if isinstance(payload, dict) else payload


def assert_still_serving(client) -> None:
    result = client.predict(SMOLLM2, NORMAL_TEXT, api_name="/tokenize")
    assert "".join(t["text"] for t in result["tokens"]) == NORMAL_TEXT


def may_refuse(api_name: str, model: str) -> bool:
    """Encoders may refuse /next_token (no next-token head) and /attribution (it explains
    a masked model's fill-in at a [MASK] only), with a reason."""
    encoder = model == MINILM or model.endswith("tiny-bert")
    return api_name in ("/next_token", "/attribution") and encoder


def run_everywhere(client, endpoints, text: str, words: str | None, expect_ok: bool | None):
    """Send `text` to every endpoint that takes text: SmolLM2 everywhere, MiniLM
    (WordPiece encoder) where its path differs."""
    problems = []
    for api_name, params in endpoints.items():
        if "text" not in params:
            continue
        models = API_MODELS if api_name in ("/tokenize", "/attention") else (SMOLLM2,)
        for model in models:
            outcome, payload = call(client, api_name, args_for(params, model, text))
            try:
                if outcome == "ok":
                    assert expect_ok is not False, f"accepted: {str(payload)[:200]}"
                    check_result(api_name, text, payload)
                else:
                    assert_clear(payload, None if expect_ok is not False else words)
                    assert not expect_ok or may_refuse(api_name, model), f"refused: {payload}"
            except AssertionError as exc:
                problems.append(f"{api_name} {model}: {exc}")
    return problems


# ---------------------------------------------------------------- over the API


def test_every_endpoint_is_probed(endpoints):
    """The corpus reaches every endpoint the app registers (new ones included)."""
    assert {"/models", "/tokenize", "/attention", "/embeddings", "/next_token"} <= set(endpoints)
    takes_text = [name for name, params in endpoints.items() if "text" in params]
    assert len(takes_text) >= 4, endpoints


@pytest.mark.parametrize(("name", "text"), corpus.READABLE_TEXTS, ids=lambda v: str(v)[:30])
def test_odd_texts_get_valid_results(client, endpoints, name, text):
    problems = run_everywhere(client, endpoints, text, None, expect_ok=True)
    assert not problems, "\n".join(problems)
    assert_still_serving(client)


@pytest.mark.parametrize(
    ("name", "text"), corpus.EITHER_TEXTS, ids=[c[0] for c in corpus.EITHER_TEXTS]
)
def test_nearly_empty_texts_get_a_result_or_a_clear_refusal(client, endpoints, name, text):
    problems = run_everywhere(client, endpoints, text, None, expect_ok=None)
    assert not problems, "\n".join(problems)
    assert_still_serving(client)


@pytest.mark.parametrize(
    ("name", "text", "words"), corpus.REFUSED_TEXTS, ids=[c[0] for c in corpus.REFUSED_TEXTS]
)
def test_unreadable_texts_get_a_clear_refusal(client, endpoints, name, text, words):
    problems = run_everywhere(client, endpoints, text, words, expect_ok=False)
    assert not problems, "\n".join(problems)
    assert_still_serving(client)


@pytest.mark.parametrize(("name", "raw_text"), corpus.SURROGATE_TEXTS)
def test_lone_surrogates_sent_as_json_escapes_are_refused(app_url, client, name, raw_text):
    outcome, message = raw_call(app_url, "/tokenize", json_body(json.dumps(SMOLLM2), raw_text))
    assert outcome == "error"
    assert_clear(message, "broken character")
    body = json_body(json.dumps(SMOLLM2), raw_text, "0", "0")
    outcome, message = raw_call(app_url, "/attention", body)
    assert outcome == "error"
    assert_clear(message, "broken character")
    assert_still_serving(client)


def test_model_endpoint_ignores_nothing_and_lists_models(client):
    models = client.predict(api_name="/models")
    assert models and all(isinstance(m["id"], str) for m in models)


def test_hostile_model_ids_are_refused_everywhere(client, endpoints, local_root):
    problems = []
    for name, model_id, words in corpus.model_ids(local_root):
        for api_name, params in endpoints.items():
            if "model" not in params:
                continue
            outcome, payload = call(client, api_name, args_for(params, model_id, NORMAL_TEXT))
            try:
                if outcome == "ok" and "weights" in name and "tokeniz" in api_name:
                    continue  # tokenizing needs no weights: a valid result
                assert outcome == "error", f"accepted: {str(payload)[:200]}"
                assert_clear(payload, words)
            except AssertionError as exc:
                problems.append(f"{name} {api_name}: {exc}")
    assert not problems, "\n".join(problems)
    assert_still_serving(client)


def test_surrogate_in_the_model_field_is_refused(app_url, client):
    outcome, message = raw_call(app_url, "/tokenize", '{"data": ["/\\ud800", "hi"]}')
    assert outcome == "error"
    assert_clear(message, "not a valid model id")
    assert_still_serving(client)


@pytest.mark.parametrize(
    ("api_name", "knobs", "words"),
    corpus.BAD_KNOBS,
    ids=[f"{e}{k}" for e, k, _ in corpus.BAD_KNOBS],
)
def test_out_of_range_knobs_get_a_clear_message(client, api_name, knobs, words):
    outcome, payload = call(client, api_name, (SMOLLM2, NORMAL_TEXT, *knobs))
    assert outcome == "error", f"accepted: {str(payload)[:200]}"
    assert_clear(payload, words)
    assert_still_serving(client)


@pytest.mark.parametrize(
    ("api_name", "raw_knobs", "words"),
    corpus.NON_FINITE_KNOBS,
    ids=[f"{e}({k})" for e, k, _ in corpus.NON_FINITE_KNOBS],
)
def test_non_finite_knobs_get_a_clear_message(app_url, client, api_name, raw_knobs, words):
    body = json_body(json.dumps(SMOLLM2), json.dumps(NORMAL_TEXT), raw_knobs)
    outcome, message = raw_call(app_url, api_name, body)
    assert outcome == "error", f"accepted: {str(message)[:200]}"
    assert_clear(message, words)
    assert_still_serving(client)


@pytest.mark.parametrize(
    ("api_name", "knobs"), corpus.EXTREME_KNOBS, ids=[f"{e}{k}" for e, k in corpus.EXTREME_KNOBS]
)
def test_extreme_but_legal_knobs_give_valid_results(client, api_name, knobs):
    result = client.predict(SMOLLM2, NORMAL_TEXT, *knobs, api_name=api_name)
    check_result(api_name, NORMAL_TEXT, result)
    if api_name == "/next_token" and knobs[0] == 0.0:
        assert result["candidates"][0]["prob"] == pytest.approx(1.0)


# ---------------------------------------------------------------- in-process


@pytest.fixture(scope="module")
def api_functions() -> dict:
    """api_name -> the Python function behind it, from the app as built."""
    from app import build_demo

    demo = build_demo()
    return {
        f"/{fn.api_name}": fn.fn
        for fn in demo.fns.values()
        if fn.api_name and fn.fn is not None and fn.api_visibility == "public"
    }


@pytest.fixture
def fresh_caches(monkeypatch):
    monkeypatch.setattr(loading, "MODELS", loading.ModelCache())
    monkeypatch.setattr(results, "RESULTS", results.AnalysisCache())


def in_process(fn, *args) -> tuple[str, object]:
    try:
        return "ok", fn(*args)
    except gr.Error as exc:
        return "error", exc.message


@pytest.mark.parametrize("model_name", ["tiny-bert", "tiny-llama-gqa", "tiny-bart"])
def test_tiny_models_of_every_family_survive_the_corpus(tiny, api_functions, model_name):
    import inspect

    model = tiny[model_name]
    problems = []
    cases = [(t, None, True) for _, t in corpus.READABLE_TEXTS]
    cases += [(t, w, False) for _, t, w in corpus.REFUSED_TEXTS]
    cases += [(t, None, None) for _, t in corpus.EITHER_TEXTS]
    cases += [("\ud800x", "broken character", False)]
    for api_name, fn in api_functions.items():
        params = list(inspect.signature(fn).parameters)
        if "text" not in params:
            continue
        for text, words, expect_ok in cases:
            outcome, payload = in_process(fn, *args_for(params, model, text))
            try:
                if outcome == "ok":
                    assert expect_ok is not False, f"accepted: {str(payload)[:120]}"
                    check_result(api_name, text, payload)
                else:
                    assert_clear(payload, words)
                    assert not expect_ok or may_refuse(api_name, model), f"refused: {payload}"
            except AssertionError as exc:
                problems.append(f"{api_name} {text[:20]!r}: {exc}")
    assert not problems, "\n".join(problems)


def test_a_model_over_the_size_limit_is_refused_by_every_endpoint(
    tiny, api_functions, fresh_caches, monkeypatch
):
    import inspect

    monkeypatch.setenv("ANATOMY_MAX_PARAMS", "1000")
    for api_name, fn in api_functions.items():
        params = list(inspect.signature(fn).parameters)
        if "model" not in params:
            continue
        outcome, message = in_process(fn, *args_for(params, tiny["tiny-gpt2"], NORMAL_TEXT))
        if "tokeniz" in api_name and outcome == "ok":
            continue  # a tokenizer alone is small: tokenizing stays allowed
        assert outcome == "error", api_name
        assert_clear(message, "at most")
    assert loading.MODELS.loaded_ids() == []
    monkeypatch.delenv("ANATOMY_MAX_PARAMS")
    outcome, result = in_process(api_functions["/tokenize"], tiny["tiny-gpt2"], NORMAL_TEXT)
    assert outcome == "ok" and result["count"] > 0


def test_model_ids_never_pile_up_load_locks(tiny, fresh_caches, local_root):
    for index in range(50):
        with pytest.raises(AnatomyError):
            loading.load_model(f"someone/odd-id-{index}")
    for _, model_id, _ in corpus.model_ids(local_root):
        with pytest.raises(AnatomyError):
            loading.load_model(model_id)
    assert loading.MODELS._load_locks == {}
