"""Model resolution and loading: families, eager attention, caching, clear refusals."""

from __future__ import annotations

import threading
import time

import pytest

from models.errors import AnatomyError
from models.loading import load as loading
from models.loading import source
from models.loading.catalog import DECODER, ENCODER, ENCODER_DECODER, GEMMA3, MINILM, SMOLLM2
from models.loading.load import family_of, load_model
from tests.conftest import BUNDLED_IDS


@pytest.mark.parametrize(
    ("name", "family", "has_head"),
    [
        ("tiny-bert", ENCODER, True),
        ("tiny-gpt2", DECODER, True),
        ("tiny-llama-gqa", DECODER, True),
        ("tiny-bart", ENCODER_DECODER, True),
    ],
)
def test_tiny_models_load_with_family_from_config(tiny, name, family, has_head):
    loaded = load_model(tiny[name])
    assert loaded.family == family
    assert loaded.has_lm_head is has_head
    assert loaded.model.config._attn_implementation == "eager"
    assert next(loaded.model.parameters()).dtype.is_floating_point
    assert str(next(loaded.model.parameters()).dtype) == "torch.float32"


@pytest.mark.parametrize(
    ("model_id", "family", "has_head"),
    [(SMOLLM2, DECODER, True), (GEMMA3, DECODER, True), (MINILM, ENCODER, False)],
)
def test_bundled_models_load_offline(model_id, family, has_head):
    loaded = load_model(model_id)
    assert (loaded.family, loaded.has_lm_head, loaded.bundled) == (family, has_head, True)
    assert loaded.model.config._attn_implementation == "eager"


def test_family_never_comes_from_trial_loading(tiny):
    """A BERT config stays an encoder even though AutoModelForCausalLM would load it."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny["tiny-bert"])
    config.architectures = None
    assert family_of(config) == ENCODER
    config = AutoConfig.from_pretrained(tiny["tiny-gpt2"])
    config.architectures = None
    assert family_of(config) == DECODER


def test_concurrent_requests_load_once(tiny, monkeypatch):
    cache = loading.ModelCache()
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get(tiny["tiny-gpt2"])))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.loads == 1
    assert len({id(r) for r in results}) == 1


def test_cache_evicts_least_recently_used_by_count(tiny, monkeypatch):
    monkeypatch.setenv("ANATOMY_MAX_MODELS", "2")
    cache = loading.ModelCache()
    cache.get(tiny["tiny-gpt2"])
    cache.get(tiny["tiny-bert"])
    cache.get(tiny["tiny-gpt2"])  # touch: tiny-bert is now the oldest
    cache.get(tiny["tiny-bart"])
    assert cache.loaded_ids() == [tiny["tiny-gpt2"], tiny["tiny-bart"]]


def test_cache_is_bounded_by_bytes(tiny, monkeypatch):
    first = load_model(tiny["tiny-gpt2"])
    monkeypatch.setenv("ANATOMY_MAX_MODEL_BYTES", str(first.weight_bytes + 1))
    cache = loading.ModelCache()
    cache.get(tiny["tiny-gpt2"])
    cache.get(tiny["tiny-bert"])
    assert len(cache.loaded_ids()) == 1


def test_unreachable_hub_id_fails_fast_and_names_the_bundled_models():
    started = time.monotonic()
    with pytest.raises(AnatomyError) as info:
        load_model("someone/not-downloaded-model")
    assert time.monotonic() - started < 1.0
    assert info.value.key == "error.offline"
    for model_id in BUNDLED_IDS:
        assert model_id in str(info.value)


@pytest.mark.parametrize(
    ("model_id", "key"),
    [
        ("", "error.no_model"),
        ("   ", "error.no_model"),
        ("/etc", "error.path_outside"),
        ("../../etc/passwd", "error.path_outside"),
        ("bad id with spaces", "error.bad_id"),
        ("<script>alert(1)</script>", "error.bad_id"),
        ("owner/../name", "error.path_outside"),
    ],
)
def test_bad_model_ids_are_refused_with_a_reason(model_id, key):
    with pytest.raises(AnatomyError) as info:
        source.resolve(model_id)
    assert info.value.key == key


def test_folder_that_is_not_a_model_is_refused(tiny):
    from models.settings import settings

    empty = settings().local_roots[0] / "not-a-model"
    empty.mkdir(exist_ok=True)
    with pytest.raises(AnatomyError) as info:
        load_model(str(empty))
    assert info.value.key == "error.not_a_model"


def test_broken_config_is_refused_and_retry_works(tiny):
    from models.settings import settings

    broken = settings().local_roots[0] / "broken-config"
    broken.mkdir(exist_ok=True)
    (broken / "config.json").write_text("{ not json")
    with pytest.raises(AnatomyError) as info:
        load_model(str(broken))
    assert info.value.key == "error.bad_config"
    assert str(broken) not in loading.MODELS.loaded_ids()
    assert load_model(tiny["tiny-gpt2"]).family == DECODER


def test_size_limit_is_checked_before_weights_load(tiny, monkeypatch):
    monkeypatch.setenv("ANATOMY_MAX_PARAMS", "1000")
    cache = loading.ModelCache()
    with pytest.raises(AnatomyError) as info:
        cache.get(tiny["tiny-bert"])
    assert info.value.key == "error.too_large"
    assert cache.loaded_ids() == []
