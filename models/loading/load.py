"""Model id -> LoadedModel: eager attention, the device's dtype, one load per id, bounded cache.

Every path (bundled, local folder, Hub) goes through `load_model`, so every
model the app shows was loaded the same way:
- the family comes from the config, never from trying loaders;
- the size is checked from the config (on the meta device) before weights load;
- attention is "eager", because sdpa silently returns no attention weights;
- float32 on the CPU; on CUDA the dtype models.device picks, then moved there;
- `trust_remote_code` is never enabled.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import transformers
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PretrainedConfig,
)
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    MODEL_FOR_MASKED_LM_MAPPING_NAMES,
)

from models.device import device_plan, dtype_for
from models.errors import AnatomyError
from models.loading import bundled
from models.loading.catalog import DECODER, ENCODER, ENCODER_DECODER
from models.loading.source import ModelSource, hub_refusal, resolve
from models.settings import settings

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
Progress = Callable[[str], None]


@dataclass(eq=False)
class LoadedModel:
    """A model ready to analyse. `lock` serialises forward passes on it."""

    model_id: str
    family: str  # encoder | decoder | encoder-decoder
    model: torch.nn.Module
    tokenizer: object
    has_lm_head: bool  # next-token / fill-mask / decoder logits available
    n_params: int
    bundled: bool  # loaded from the bundled copy (not the Hub original)
    source: str = "local"  # "bundled, 4-bit GGUF dequantized", "Hub original" or "local"
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def config(self) -> PretrainedConfig:
        return self.model.config

    @property
    def weight_bytes(self) -> int:
        return sum(p.numel() * p.element_size() for p in self.model.parameters())


def import_model_code() -> None:
    """Import transformers' model-building code now rather than on the first load.

    The first `from_pretrained` pulls in about 1,600 modules (generation, distributed,
    torch.fx, sympy, scipy ...): 1-2 s and about 100 MB that belong to the process,
    not to any model. Called once at start-up, so the first analysis in a classroom
    does not wait for it and the resident size at rest already holds it.
    """
    import transformers.generation.utils  # noqa: F401
    import transformers.modeling_utils  # noqa: F401


def family_of(config: PretrainedConfig) -> str:
    """encoder, decoder or encoder-decoder, read from the config alone."""
    if getattr(config, "is_encoder_decoder", False):
        return ENCODER_DECODER
    archs = config.architectures or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return DECODER
    if any(a.endswith("ForMaskedLM") for a in archs):
        return ENCODER
    model_type = getattr(config, "model_type", "")
    is_causal_type = model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    if is_causal_type and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return DECODER
    return ENCODER


def _model_class(config: PretrainedConfig, family: str) -> type:
    if family == ENCODER_DECODER:
        return AutoModelForSeq2SeqLM
    if family == DECODER:
        return AutoModelForCausalLM
    archs = config.architectures or []
    return AutoModelForMaskedLM if any(a.endswith("ForMaskedLM") for a in archs) else AutoModel


def count_params(config: PretrainedConfig, model_class: type) -> int:
    """Parameter count from the config alone: build on the meta device, no weights."""
    with torch.device("meta"):
        skeleton = model_class.from_config(config)
    return sum(p.numel() for p in skeleton.parameters())


def _check_size(model_id: str, n_params: int) -> None:
    limit = settings().max_params
    if n_params > limit:
        raise AnatomyError(
            f"'{model_id}' has {n_params / 1e6:.0f}M parameters; this server allows at "
            f"most {limit / 1e6:.0f}M. Pick a smaller model.",
            key="error.too_large",
            model=model_id,
            params=f"{n_params / 1e6:.0f}M",
            limit=f"{limit / 1e6:.0f}M",
        )


def _head_missing(info: dict, model: torch.nn.Module) -> bool:
    base = getattr(model, "base_model_prefix", "")
    missing = info.get("missing_keys", [])
    return any(not key.startswith(base + ".") for key in missing)


def _load_config(source: ModelSource) -> PretrainedConfig:
    try:
        return AutoConfig.from_pretrained(
            source.path, local_files_only=source.local_files_only, trust_remote_code=False
        )
    except Exception as exc:  # any broken or unknown config
        refusal = hub_refusal(exc, source.model_id)
        if refusal is not None:
            raise refusal from exc
        raise AnatomyError(
            f"'{source.model_id}' could not be read as a transformers model: "
            f"{str(exc).splitlines()[0][:200]}",
            key="error.bad_config",
            model=source.model_id,
        ) from exc


def _load_uncached(model_id: str, progress: Progress) -> LoadedModel:
    source = resolve(model_id)
    if source.bundled and not bundled.is_prepared(model_id):
        progress("preparing the bundled model (one time, about a minute)")
        bundled.prepare(model_id)
    progress("reading the config")
    config = _load_config(source)
    family = family_of(config)
    model_class = _model_class(config, family)
    try:
        n_params = count_params(config, model_class)
    except Exception as exc:  # a config no model can be built from (e.g. bad shapes)
        raise AnatomyError(
            f"'{source.model_id}' could not be read as a transformers model: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}",
            key="error.bad_config",
            model=source.model_id,
        ) from exc
    _check_size(model_id, n_params)
    progress(f"loading {n_params / 1e6:.0f}M parameters")
    common = {"local_files_only": source.local_files_only, "trust_remote_code": False}
    dtype = dtype_for(getattr(config, "dtype", None) or getattr(config, "torch_dtype", None))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path, **common)
        model, info = model_class.from_pretrained(
            source.path,
            dtype=dtype,
            attn_implementation="eager",
            output_loading_info=True,
            **common,
        )
    except Exception as exc:  # missing or corrupt weights/tokenizer (SafetensorError too)
        refusal = hub_refusal(exc, model_id)
        if refusal is not None:
            raise refusal from exc
        raise AnatomyError(
            f"'{model_id}' could not be loaded: {str(exc).splitlines()[0][:200]}",
            key="error.load_failed",
            model=model_id,
        ) from exc
    if device_plan().is_cuda:
        model.to(device_plan().name)
    model.eval()
    has_head = model_class is not AutoModel and not _head_missing(info, model)
    return LoadedModel(
        model_id, family, model, tokenizer, has_head, n_params, source.bundled, source.kind
    )


class ModelCache:
    """Loaded models, bounded by count and weight bytes, least recently used out.

    One lock per model id makes concurrent requests for the same model wait for
    a single load; a failed load leaves nothing behind, so a retry starts clean.
    """

    def __init__(self) -> None:
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}
        self.loads = 0  # how many loads actually ran (tests read it)

    def get(self, model_id: str, progress: Progress | None = None) -> LoadedModel:
        model_id = (model_id or "").strip()
        with self._lock:
            if model_id in self._models:
                self._models.move_to_end(model_id)
                return self._models[model_id]
            load_lock = self._load_locks.setdefault(model_id, threading.Lock())
        try:
            with load_lock:
                with self._lock:
                    if model_id in self._models:
                        return self._models[model_id]
                loaded = _load_uncached(model_id, progress or (lambda _msg: None))
                with self._lock:
                    self.loads += 1
                    self._models[model_id] = loaded
                    self._evict()
                return loaded
        finally:
            # Waiters still hold this lock object; dropping the entry keeps the dict
            # from growing with every odd id a user types.
            with self._lock:
                if self._load_locks.get(model_id) is load_lock and not load_lock.locked():
                    del self._load_locks[model_id]

    def _evict(self) -> None:
        limits = settings()
        while len(self._models) > 1 and (
            len(self._models) > limits.max_models
            or sum(m.weight_bytes for m in self._models.values()) > limits.max_model_bytes
        ):
            self._models.popitem(last=False)

    def loaded_ids(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


MODELS = ModelCache()


def load_model(model_id: str, progress: Progress | None = None) -> LoadedModel:
    """The process-wide cached model for `model_id` (loads it on first use)."""
    return MODELS.get(model_id, progress)
