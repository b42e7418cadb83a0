"""Faults leave the caches clean: a failed load or forward pass can be retried, and
other models keep working. Also the model layer's answers to broken input."""

from __future__ import annotations

import json
import shutil
import threading
from types import SimpleNamespace

import gradio as gr
import pytest

from components.page.context import analysis_for
from models import analysis, results
from models.errors import AnatomyError
from models.loading import load as loading
from models.loading import source
from models.results import AnalysisKey
from models.settings import settings

TEXT = "Faults must not stick"


@pytest.fixture
def fresh_caches(monkeypatch):
    monkeypatch.setattr(loading, "MODELS", loading.ModelCache())
    monkeypatch.setattr(results, "RESULTS", results.AnalysisCache())


@pytest.fixture
def broken_copy(tiny):
    """Make a copy of tiny-gpt2 under the allowed root and break it with `mutate`."""
    made = []

    def make(name: str, mutate) -> str:
        folder = settings().local_roots[0] / f"faulty-{name}"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(tiny["tiny-gpt2"], folder)
        mutate(folder)
        made.append(folder)
        return str(folder)

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


def key_of(model_id: str, text: str = TEXT) -> list:
    return list(AnalysisKey.of(model_id, text))


def test_failed_load_leaves_nothing_and_retry_works(tiny, fresh_caches, monkeypatch):
    real = loading._load_uncached
    calls = []

    def flaky(model_id, progress):
        calls.append(model_id)
        if len(calls) == 1:
            raise RuntimeError("disk hiccup")
        return real(model_id, progress)

    monkeypatch.setattr(loading, "_load_uncached", flaky)
    with pytest.raises(gr.Error) as info:
        analysis_for(key_of(tiny["tiny-gpt2"]))
    assert "unexpected problem" in info.value.message and "Traceback" not in info.value.message
    assert loading.MODELS.loaded_ids() == []
    assert loading.MODELS._load_locks == {}
    assert results.RESULTS.peek(AnalysisKey(*key_of(tiny["tiny-gpt2"]))) is None
    assert analysis_for(key_of(tiny["tiny-bert"])).family == "encoder"  # others unaffected
    retried = analysis_for(key_of(tiny["tiny-gpt2"]))
    assert retried.n_tokens > 0 and loading.MODELS.loads == 2


def test_concurrent_waiters_on_a_failing_load_all_get_the_error(tiny, fresh_caches, monkeypatch):
    gate = threading.Event()

    def slow_failure(model_id, progress):
        gate.wait(5)
        raise AnatomyError("weights are broken", key="error.load_failed", model=model_id)

    monkeypatch.setattr(loading, "_load_uncached", slow_failure)
    errors = []

    def worker():
        try:
            loading.load_model(tiny["tiny-gpt2"])
        except AnatomyError as exc:
            errors.append(exc.key)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(10)
    assert errors == ["error.load_failed"] * 6
    assert loading.MODELS.loaded_ids() == [] and loading.MODELS._load_locks == {}


def test_forward_pass_that_raises_leaves_no_result_no_hook_no_lock(tiny, fresh_caches):
    loaded = loading.load_model(tiny["tiny-gpt2"])
    embedding = loaded.model.get_input_embeddings()
    hooks_before = len(embedding._forward_hooks)
    original = loaded.model.forward

    def exploding(*args, **kwargs):
        raise RuntimeError("out of memory in the middle of a pass")

    loaded.model.forward = exploding
    try:
        with pytest.raises(gr.Error) as info:
            analysis_for(key_of(tiny["tiny-gpt2"]))
    finally:
        loaded.model.forward = original
    assert "RuntimeError" in info.value.message
    assert len(embedding._forward_hooks) == hooks_before
    assert not loaded.lock.locked()
    assert results.RESULTS.peek(AnalysisKey(*key_of(tiny["tiny-gpt2"]))) is None
    assert results.RESULTS._key_locks == {}
    retried = analysis_for(key_of(tiny["tiny-gpt2"]))
    direct = analysis.analyze(loaded, TEXT)
    assert (retried.input_ids == direct.input_ids).all()
    assert abs(retried.attentions - direct.attentions).max() < 1e-6
    assert results.RESULTS.forward_passes == 1


def test_analysis_that_raises_once_is_retried_cleanly(tiny, fresh_caches, monkeypatch):
    real = results.analyze
    failures = iter([True])

    def once_broken(loaded, text, pair=None):
        if next(failures, False):
            raise ValueError("numerical trouble")
        return real(loaded, text, pair)

    monkeypatch.setattr(results, "analyze", once_broken)
    with pytest.raises(gr.Error):
        analysis_for(key_of(tiny["tiny-llama-gqa"]))
    assert analysis_for(key_of(tiny["tiny-llama-gqa"])).n_layers == 2
    assert loading.MODELS.loads == 1  # the model stayed loaded; only the pass re-ran


@pytest.mark.parametrize(
    ("name", "mutate", "key"),
    [
        ("no-weights", lambda f: (f / "model.safetensors").unlink(), "error.load_failed"),
        (
            "garbage-weights",
            lambda f: (f / "model.safetensors").write_bytes(b"\x00garbage" * 50),
            "error.load_failed",
        ),
        (
            "truncated-weights",
            lambda f: (f / "model.safetensors").write_bytes(
                (f / "model.safetensors").read_bytes()[:5000]
            ),
            "error.load_failed",
        ),
        ("corrupt-config", lambda f: (f / "config.json").write_text("{ nope"), "error.bad_config"),
        (
            "unknown-type",
            lambda f: (f / "config.json").write_text('{"model_type": "no-such-model"}'),
            "error.bad_config",
        ),
        (
            "impossible-shapes",
            lambda f: (f / "config.json").write_text(
                json.dumps(
                    {
                        "model_type": "gpt2",
                        "n_embd": 50,
                        "n_head": 4,
                        "architectures": ["GPT2LMHeadModel"],
                    }
                )
            ),
            "error.bad_config",
        ),
        (
            "corrupt-tokenizer",
            lambda f: (f / "tokenizer.json").write_text("{"),
            "error.load_failed",
        ),
    ],
)
def test_broken_model_folders_fail_clearly_and_others_keep_working(
    tiny, fresh_caches, broken_copy, name, mutate, key
):
    folder = broken_copy(name, mutate)
    with pytest.raises(AnatomyError) as info:
        loading.load_model(folder)
    assert info.value.key == key
    with pytest.raises(gr.Error) as shown:
        analysis_for(key_of(folder))
    assert "unexpected problem" not in shown.value.message
    assert folder in shown.value.message
    assert loading.MODELS.loaded_ids() == [] and loading.MODELS._load_locks == {}
    assert analysis_for(key_of(tiny["tiny-gpt2"])).n_tokens > 0


def test_a_fixed_folder_loads_after_a_failure(tiny, fresh_caches, broken_copy):
    folder = broken_copy("fixed-later", lambda f: (f / "config.json").write_text("{"))
    with pytest.raises(AnatomyError):
        loading.load_model(folder)
    shutil.copy(f"{tiny['tiny-gpt2']}/config.json", f"{folder}/config.json")
    assert loading.load_model(folder).family == "decoder"


# ---------------------------------------------------------------- model-layer answers


def test_nul_stays_in_the_text_so_offsets_index_the_input(tiny):
    loaded = loading.load_model(tiny["tiny-gpt2"])
    text = "before\x00after"
    result = analysis.analyze(loaded, text)
    assert result.text == text
    for token in result.tokens:
        assert token.text == text[token.start : token.end]
    assert "".join(t.text for t in result.tokens) == text


@pytest.mark.parametrize("text", ["\ud800", "ok \udfff then", "\udc00\ud800"])
def test_lone_surrogates_are_refused_with_their_position(tiny, text):
    loaded = loading.load_model(tiny["tiny-bert"])
    with pytest.raises(AnatomyError) as info:
        analysis.encode(loaded, text)
    assert info.value.key == "error.invalid_text"
    first_bad = next(i for i, ch in enumerate(text) if 0xD800 <= ord(ch) <= 0xDFFF)
    assert info.value.params["position"] == first_bad
    with pytest.raises(AnatomyError):
        analysis.encode(loaded, "fine", "pair with \ud800")


def test_a_text_with_no_tokens_is_refused_not_crashed():
    def empty_tokenizer(*args, **kwargs):
        return {"input_ids": [], "offset_mapping": [], "special_tokens_mask": []}

    stub = SimpleNamespace(model_id="stub", family="decoder", tokenizer=empty_tokenizer)
    with pytest.raises(AnatomyError) as info:
        analysis.encode(stub, "\u200b")
    assert info.value.key == "error.no_tokens"


@pytest.mark.parametrize(
    ("model_id", "key"),
    [
        ("/tmp/\x00x", "error.bad_id"),
        ("/\ud800", "error.bad_id"),
        ("gpt\x1b2", "error.bad_id"),
        ("~no-such-user-here/x", "error.path_outside"),
        ("/" + "a" * 5000, "error.path_outside"),
    ],
)
def test_odd_model_ids_get_a_reason_not_an_exception(model_id, key):
    with pytest.raises(AnatomyError) as info:
        source.resolve(model_id)
    assert info.value.key == key


def test_concurrent_passes_on_one_model_keep_their_own_embeddings(tiny):
    """Each pass's captured embeddings are its own tokens' rows of the embedding table."""
    loaded = loading.load_model(tiny["tiny-gpt2"])
    texts = [f"text number {i} " + "word " * (i * 3) for i in range(8)]
    found: dict[str, analysis.Analysis] = {}
    errors = []

    def run(text: str) -> None:
        try:
            found[text] = analysis.analyze(loaded, text)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(t,)) for t in texts * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    table = loaded.model.get_input_embeddings().weight.detach().numpy()
    for text, result in found.items():
        assert "".join(t.text for t in result.tokens) == text
        assert abs(result.token_embeddings - table[result.input_ids]).max() < 1e-6


def test_user_typed_values_reach_the_toast_escaped():
    """gr.Error messages are shown as HTML: a typed model id must arrive as text."""
    from components.page.context import user_error

    payload = "/<img src=https://evil.example/p.png onerror=alert(1)>"
    with pytest.raises(AnatomyError) as info:
        source.resolve(payload)
    for lang in ("en", "ko"):
        message = user_error(info.value, lang).message
        assert "<img" not in message
        assert "&lt;img src=https://evil.example/p.png onerror=alert(1)&gt;" in message
    untranslated = AnatomyError("raw <b>text</b>", key="no.such.key")
    assert user_error(untranslated).message == "raw &lt;b&gt;text&lt;/b&gt;"
